#include "api/range_allocator.h"

#include <string>

#include <gtest/gtest.h>

namespace meridian::api {
namespace {

void add_kv(etcdserverpb::RangeResponse* resp, const std::string& key, size_t value_bytes) {
  mvccpb::KeyValue* kv = resp->add_kvs();
  kv->set_key(key);
  kv->set_value(std::string(value_bytes, 'v'));
}

TEST(RangeAllocatorTest, ReportsOnlyAnswersOfAtLeastTheBound) {
  int reported = 0;
  RangeAllocator allocator(1000, [&reported] { ++reported; });

  auto* small = allocator.AllocateMessages();
  add_kv(small->response(), "a", 900);
  small->Release();
  EXPECT_EQ(reported, 0);

  auto* large = allocator.AllocateMessages();
  add_kv(large->response(), "a", 500);
  add_kv(large->response(), "b", 499);  // 1 + 500 + 1 + 499 = 1001 bytes
  large->Release();
  EXPECT_EQ(reported, 1);
}

TEST(RangeAllocatorTest, AnswerBytesCountKeysAndValues) {
  etcdserverpb::RangeResponse resp;
  EXPECT_EQ(answer_bytes(resp), 0u);
  add_kv(&resp, "key", 10);
  add_kv(&resp, "k2", 0);
  resp.set_count(7);  // not part of the answer's kvs
  EXPECT_EQ(answer_bytes(resp), 15u);
}

}  // namespace
}  // namespace meridian::api
