#include "kv/lease_table.h"

#include <gtest/gtest.h>

#include "kv/lease_codec.h"

namespace meridian::kv {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LeaseTableTest : public ::testing::Test {
 protected:
  LeaseTable::Clock::time_point now_{seconds(1000)};
  LeaseTable table_{[this] { return now_; }};
};

TEST_F(LeaseTableTest, ExpiresTheTtlAfterTheGrantOrTheLastRenewal) {
  table_.put(1, LeaseRecord{10, 3});
  table_.put(2, LeaseRecord{5, 4});
  now_ += milliseconds(4999);
  EXPECT_TRUE(table_.expired(10).empty());
  EXPECT_EQ(table_.remaining(2)->ttl, 0);  // 0.001 s left, truncated
  EXPECT_EQ(table_.remaining(1)->ttl, 5);
  EXPECT_EQ(table_.remaining(1)->granted_ttl, 10);
  now_ += milliseconds(1);
  EXPECT_EQ(table_.expired(10), (std::vector<LeaseExpiry>{{2, 4}}));

  now_ += seconds(1);  // 1006
  EXPECT_TRUE(table_.renew(2, 9));
  EXPECT_FALSE(table_.renew(3, 9));
  EXPECT_TRUE(table_.expired(10).empty());
  EXPECT_EQ(table_.find(2)->renewed_index, 9u);
  // Soonest expiry first: 1 ends at 1010, 2 at 1011.
  EXPECT_EQ(table_.ids(), (std::vector<int64_t>{1, 2}));
  now_ += seconds(10);
  EXPECT_EQ(table_.expired(1), (std::vector<LeaseExpiry>{{1, 3}}));  // the longest expired
  EXPECT_EQ(table_.expired(10).size(), 2u);
  EXPECT_EQ(table_.remaining(1)->ttl, 0);
  table_.erase(1);
  EXPECT_FALSE(table_.contains(1));
  EXPECT_FALSE(table_.remaining(1).has_value());
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(LeaseTableTest, TheLargestTtlDoesNotOverflowTheClock) {
  table_.put(1, LeaseRecord{kMaxLeaseTtl, 1});
  now_ += seconds(int64_t{50} * 365 * 24 * 3600);
  EXPECT_TRUE(table_.expired(1).empty());
  EXPECT_GT(table_.remaining(1)->ttl, 0);
}

TEST(LeaseCodec, RoundTripsAndRefusesWhatIsNotItsOwn) {
  int64_t id = 0;
  EXPECT_TRUE(decode_lease_key(lease_key(-3), &id));
  EXPECT_EQ(id, -3);
  EXPECT_FALSE(decode_lease_key("k12345678", &id));
  EXPECT_FALSE(decode_lease_key(lease_key(1) + "x", &id));

  LeaseRecord r;
  EXPECT_TRUE(decode_lease_record(encode_lease_record({kMaxLeaseTtl, 77}), &r));
  EXPECT_EQ(r, (LeaseRecord{kMaxLeaseTtl, 77}));
  const std::string rec = encode_lease_record({1, 2});
  EXPECT_FALSE(decode_lease_record(rec + "x", &r));
  EXPECT_FALSE(decode_lease_record(rec.substr(0, rec.size() - 1), &r));
  EXPECT_FALSE(decode_lease_record("", &r));

  std::string_view key;  // views the attachment key, which must outlive it
  const std::string attached = attachment_key(9, std::string("a\0b", 3));
  EXPECT_TRUE(decode_attachment_key(attached, &id, &key));
  EXPECT_EQ(id, 9);
  EXPECT_EQ(key, std::string_view("a\0b", 3));
  EXPECT_FALSE(decode_attachment_key(attachment_prefix(9), &id, &key));  // no key

  LeaseExpiry e;
  EXPECT_TRUE(decode_lease_expiry(encode_lease_expiry({-1, 5}), &e));
  EXPECT_EQ(e, (LeaseExpiry{-1, 5}));
  EXPECT_FALSE(decode_lease_expiry(encode_lease_expiry({1, 5}) + "x", &e));

  std::vector<int64_t> v;
  EXPECT_TRUE(decode_i64_list(encode_i64_list({1, -1, 0, INT64_MAX}), &v));
  EXPECT_EQ(v, (std::vector<int64_t>{1, -1, 0, INT64_MAX}));
  EXPECT_FALSE(decode_i64_list("\x80", &v));
  EXPECT_TRUE(decode_i64_list("", &v));
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace meridian::kv
