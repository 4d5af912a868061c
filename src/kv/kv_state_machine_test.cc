// KvStateMachine: commands in, results out, everything counted as applied.
#include "kv/kv_state_machine.h"

#include <gtest/gtest.h>

#include "kv/command.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::TempDir;

class KvStateMachineTest : public ::testing::Test {
 protected:
  KvStateMachineTest() : sm_(testing::open_store(dir_.path())) {}

  // Applies a request of `type`; returns the decoded result's errc and
  // parses its response into `resp` (if given and kOk).
  template <class Request>
  Errc apply(CommandType type, const Request& req, google::protobuf::Message* resp = nullptr) {
    const std::string result =
        sm_.apply(raft::Index{++index_}, encode_command(type, req.SerializeAsString()));
    const auto r = decode_result(result);
    EXPECT_TRUE(r.has_value());
    if (!r) return Errc::kCorrupt;
    if (r->errc == Errc::kOk && resp != nullptr) {
      EXPECT_TRUE(resp->ParseFromArray(r->response.data(), static_cast<int>(r->response.size())));
    }
    if (r->errc != Errc::kOk) {
      EXPECT_TRUE(r->response.empty());
    }
    return r->errc;
  }

  TempDir dir_;
  KvStateMachine sm_;
  uint64_t index_ = 0;
};

TEST_F(KvStateMachineTest, AppliesEveryCommandType) {
  etcdpb::PutResponse put;
  ASSERT_EQ(apply(CommandType::kPut, testing::put_request("a", "1"), &put), Errc::kOk);
  EXPECT_EQ(put.header().revision(), 2);
  etcdpb::TxnRequest t;
  *t.add_success() = testing::put_op("b", "2");
  *t.add_success() = testing::range_op("a", "c");
  etcdpb::TxnResponse txn;
  ASSERT_EQ(apply(CommandType::kTxn, t, &txn), Errc::kOk);
  EXPECT_EQ(txn.responses(1).response_range().count(), 2);
  etcdpb::DeleteRangeResponse del;
  ASSERT_EQ(apply(CommandType::kDeleteRange, testing::delete_request("a"), &del), Errc::kOk);
  EXPECT_EQ(del.deleted(), 1);
  etcdpb::CompactionRequest c;
  c.set_revision(3);
  etcdpb::CompactionResponse comp;
  ASSERT_EQ(apply(CommandType::kCompact, c, &comp), Errc::kOk);
  EXPECT_EQ(comp.header().revision(), 4);
  EXPECT_EQ(sm_.store().compact_revision(), 3);
  EXPECT_EQ(sm_.durable_applied_index(), raft::Index{4});
}

TEST_F(KvStateMachineTest, StoreErrorsBecomeResults) {
  etcdpb::CompactionRequest c;
  c.set_revision(50);
  EXPECT_EQ(apply(CommandType::kCompact, c), Errc::kFutureRevision);
  auto p = testing::put_request("a", "");
  p.set_ignore_value(true);
  EXPECT_EQ(apply(CommandType::kPut, p), Errc::kKeyNotFound);
  EXPECT_EQ(sm_.durable_applied_index(), raft::Index{2});
  EXPECT_EQ(sm_.store().revision(), 1);
}

TEST_F(KvStateMachineTest, GarbageIsCorruptButApplied) {
  // The type after the last one is unknown.
  const std::string unknown_type{
      '\x01', static_cast<char>(static_cast<int>(CommandType::kMemberPeerUrls) + 1)};
  for (const std::string& bad :
       {std::string(), std::string("\x02\x01", 2), unknown_type, std::string("\x01", 1)}) {
    const auto r = decode_result(sm_.apply(raft::Index{++index_}, bad));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->errc, Errc::kCorrupt);
    EXPECT_EQ(sm_.durable_applied_index(), raft::Index{index_});
  }
  // A command whose request does not parse.
  const std::string junk = encode_command(CommandType::kPut, std::string("\xff\xff\xff", 3));
  const auto r = decode_result(sm_.apply(raft::Index{++index_}, junk));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->errc, Errc::kCorrupt);
  EXPECT_EQ(sm_.durable_applied_index(), raft::Index{index_});
  EXPECT_EQ(sm_.store().revision(), 1);
}

// Membership changes keep the member records, the cluster's address book, and
// tell the observer each time they may have changed.
TEST_F(KvStateMachineTest, MembershipChangesKeepTheMemberRecordsAndTellTheObserver) {
  int told = 0;
  sm_.set_members_observer([&] { ++told; });
  etcdpb::Member added;
  added.set_id(4);
  added.add_peerurls("http://127.0.0.1:4380");
  sm_.apply_membership(raft::Index{++index_}, {raft::ConfChangeType::kAddLearner, raft::NodeId{4}},
                       added.SerializeAsString());
  EXPECT_EQ(told, 1);
  ASSERT_TRUE(sm_.store().member(4).has_value());
  EXPECT_EQ(sm_.store().member(4)->peerurls(0), "http://127.0.0.1:4380");
  // A promotion carries no record: nothing changes but the applied index.
  sm_.apply_membership(raft::Index{++index_}, {raft::ConfChangeType::kAddVoter, raft::NodeId{4}},
                       "");
  EXPECT_EQ(told, 1);
  EXPECT_EQ(sm_.durable_applied_index(), raft::Index{index_});
  etcdpb::MemberUpdateRequest update;
  update.set_id(4);
  update.add_peerurls("http://127.0.0.1:4390");
  ASSERT_EQ(apply(CommandType::kMemberPeerUrls, update), Errc::kOk);
  EXPECT_EQ(told, 2);
  EXPECT_EQ(sm_.store().member(4)->peerurls(0), "http://127.0.0.1:4390");
  sm_.apply_membership(raft::Index{++index_}, {raft::ConfChangeType::kRemoveNode, raft::NodeId{4}},
                       "");
  EXPECT_EQ(told, 3);
  EXPECT_EQ(sm_.store().member(4)->peerurls_size(), 0);
  ASSERT_TRUE(sm_.restore(sm_.snapshot()).is_ok());
  EXPECT_EQ(told, 4);
  EXPECT_EQ(sm_.durable_applied_index(), raft::Index{index_});
}

TEST_F(KvStateMachineTest, SnapshotAndRestoreDelegate) {
  ASSERT_EQ(apply(CommandType::kPut, testing::put_request("a", "1")), Errc::kOk);
  const std::string snap = sm_.snapshot();
  TempDir other;
  KvStateMachine copy(testing::open_store(other.path()));
  ASSERT_TRUE(copy.restore(snap).is_ok());
  EXPECT_EQ(copy.durable_applied_index(), raft::Index{1});
  EXPECT_EQ(copy.store().revision(), 2);
  EXPECT_FALSE(copy.restore("nonsense").is_ok());
  EXPECT_EQ(copy.store().revision(), 2);
}

}  // namespace
}  // namespace meridian::kv
