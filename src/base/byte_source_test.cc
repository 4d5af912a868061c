#include "base/byte_source.h"

#include <gtest/gtest.h>

namespace meridian::base {
namespace {

TEST(StringSource, HandsOutTheBytesInPiecesThenEmptyForever) {
  StringSource src("abcdefg");
  EXPECT_EQ(src.read(3).value(), "abc");
  EXPECT_EQ(src.read(3).value(), "def");
  EXPECT_EQ(src.read(3).value(), "g");
  EXPECT_EQ(src.read(3).value(), "");
  EXPECT_EQ(src.read(1).value(), "");
}

TEST(StringSource, EmptyDataEndsAtOnce) {
  StringSource src("");
  EXPECT_EQ(src.read(10).value(), "");
}

TEST(ReadAll, JoinsThePiecesAndRefusesMoreThanItsBound) {
  StringSource a(std::string(1000, 'x'));
  EXPECT_EQ(read_all(a, 1000, 7).value(), std::string(1000, 'x'));
  StringSource b(std::string(1001, 'x'));
  EXPECT_EQ(read_all(b, 1000, 7).status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace meridian::base
