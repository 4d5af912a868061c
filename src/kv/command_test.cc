#include "kv/command.h"

#include <gtest/gtest.h>

namespace meridian::kv {
namespace {

TEST(Command, RoundTrips) {
  const std::string data = encode_command(CommandType::kTxn, std::string("\x0a\x01k", 3));
  auto c = decode_command(data);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, CommandType::kTxn);
  EXPECT_EQ(c->request, std::string_view("\x0a\x01k", 3));
}

TEST(Command, RefusesUnknownVersionOrType) {
  EXPECT_FALSE(decode_command(""));
  EXPECT_FALSE(decode_command(std::string("\x01", 1)));
  EXPECT_FALSE(decode_command(std::string("\x02\x01", 2)));
  EXPECT_FALSE(decode_command(std::string("\x01\x00", 2)));
  EXPECT_FALSE(decode_command(std::string("\x01\x0c", 2)));
  EXPECT_TRUE(decode_command(std::string("\x01\x04", 2)));
  EXPECT_TRUE(decode_command(std::string("\x01\x0b", 2)));
}

TEST(Result, CarriesTheResponseOnlyWhenOk) {
  // The decoded views point into the encoded bytes, which must outlive them.
  const std::string ok_bytes = encode_result(Errc::kOk, "resp");
  auto ok = decode_result(ok_bytes);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->errc, Errc::kOk);
  EXPECT_EQ(ok->response, "resp");
  const std::string err_bytes = encode_result(Errc::kCompacted, "ignored");
  auto err = decode_result(err_bytes);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->errc, Errc::kCompacted);
  EXPECT_EQ(err->response, "");
  EXPECT_FALSE(decode_result(""));
  EXPECT_FALSE(decode_result(std::string("\x40", 1)));
}

TEST(Errors, CarryEtcdsMessages) {
  EXPECT_STREQ(errc_message(Errc::kCompacted),
               "etcdserver: mvcc: required revision has been compacted");
  EXPECT_STREQ(errc_message(Errc::kOk), "");
}

}  // namespace
}  // namespace meridian::kv
