#include "base/varint.h"

#include <gtest/gtest.h>

#include <limits>

namespace meridian::base {
namespace {

TEST(VarintTest, RoundTripsAtEveryLength) {
  for (int bits = 0; bits <= 64; ++bits) {
    const uint64_t v =
        bits == 64 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << bits) - 1;
    std::string s;
    put_varint(&s, v);
    EXPECT_LE(s.size(), kVarintBytesMax);
    size_t pos = 0;
    uint64_t got = 0;
    ASSERT_TRUE(get_varint(s, &pos, &got)) << bits;
    EXPECT_EQ(got, v);
    EXPECT_EQ(pos, s.size());
  }
}

TEST(VarintTest, RejectsTruncatedOverlongAndTooWide) {
  size_t pos = 0;
  uint64_t v = 0;
  EXPECT_FALSE(get_varint("", &pos, &v));
  pos = 0;
  EXPECT_FALSE(get_varint("\x80", &pos, &v));  // ends inside
  pos = 0;
  EXPECT_FALSE(get_varint(std::string("\x80\x00", 2), &pos, &v));  // over-long zero
  pos = 0;
  EXPECT_FALSE(get_varint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", &pos, &v));  // bit 64
  pos = 0;
  EXPECT_FALSE(get_varint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x01", &pos, &v));
}

}  // namespace
}  // namespace meridian::base
