#include "node/map_state_machine.h"

#include <gtest/gtest.h>

#include "node/request_codec.h"

namespace meridian::node {
namespace {

TEST(MapStateMachineTest, PutDeleteNoop) {
  MapStateMachine m;
  EXPECT_EQ(m.apply(raft::Index{1}, encode_put("a", "1")), "ok");
  EXPECT_EQ(m.apply(raft::Index{2}, encode_put("a", "2")), "ok");
  EXPECT_EQ(m.get("a"), std::optional<std::string>("2"));
  EXPECT_EQ(m.apply(raft::Index{3}, encode_delete("a")), "deleted");
  EXPECT_EQ(m.apply(raft::Index{4}, encode_delete("a")), "absent");
  EXPECT_EQ(m.apply(raft::Index{5}, encode_noop(100)), "noop");
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.applied_commands(), 5u);
}

TEST(MapStateMachineTest, BadCommandsAreResultsNotFailures) {
  MapStateMachine m;
  EXPECT_EQ(m.apply(raft::Index{1}, ""), "error: empty command");
  EXPECT_EQ(m.apply(raft::Index{2}, "P\x05"), "error: malformed put");
  EXPECT_NE(m.apply(raft::Index{3}, "Z"), "ok");
  EXPECT_EQ(m.size(), 0u);
}

TEST(MapStateMachineTest, SnapshotRoundTripAndDeterminism) {
  MapStateMachine a;
  MapStateMachine b;
  a.apply(raft::Index{1}, encode_put("x", "1"));
  a.apply(raft::Index{2}, encode_put("y", std::string("\0bin", 4)));
  b.apply(raft::Index{1}, encode_put("y", std::string("\0bin", 4)));
  b.apply(raft::Index{2}, encode_put("x", "1"));
  EXPECT_EQ(a.snapshot(), b.snapshot());
  MapStateMachine c;
  ASSERT_TRUE(c.restore(a.snapshot()).is_ok());
  EXPECT_EQ(c.get("y"), std::optional<std::string>(std::string("\0bin", 4)));
  ASSERT_TRUE(c.restore("").is_ok());
  EXPECT_EQ(c.size(), 0u);
}

TEST(MapStateMachineTest, CorruptSnapshotLeavesStateUnchanged) {
  MapStateMachine a;
  a.apply(raft::Index{1}, encode_put("x", "1"));
  std::string snap = a.snapshot();
  MapStateMachine b;
  b.apply(raft::Index{1}, encode_put("keep", "me"));
  for (size_t cut = 1; cut < snap.size(); ++cut) {
    EXPECT_FALSE(b.restore(snap.substr(0, cut)).is_ok()) << cut;
  }
  EXPECT_FALSE(b.restore(snap + "x").is_ok());
  EXPECT_EQ(b.get("keep"), std::optional<std::string>("me"));
}

TEST(RequestCodecTest, RoundTrip) {
  const std::string data = encode_request({raft::NodeId{7}, 0xdeadbeefcafeull}, "cmd");
  auto r = decode_request(data);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first.origin, raft::NodeId{7});
  EXPECT_EQ(r->first.request_id, 0xdeadbeefcafeull);
  EXPECT_EQ(r->second, "cmd");
  EXPECT_FALSE(decode_request(data.substr(0, 10)));
  EXPECT_FALSE(decode_request("\x02" + data.substr(1)));
  EXPECT_EQ(decode_read_context(encode_read_context(42)), std::optional<uint64_t>(42));
  EXPECT_FALSE(decode_read_context("short"));
}

}  // namespace
}  // namespace meridian::node
