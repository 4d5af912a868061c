#include "api/maintenance_service.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <set>

#include "api/api_testing.h"
#include "base/strings.h"

namespace meridian::api {
namespace {

namespace pb = etcdserverpb;

TEST(MaintenanceStatusTest, ReportsTheCoordinationGroupAndWhetherThisMemberLearns) {
  const EtcdBackend backend{nullptr, GroupId{1}, nullptr, 77, 3};
  node::NodeStatus st;
  st.id = raft::NodeId{3};
  node::GroupStatus other;  // another group's figures must not leak in
  other.group = GroupId{2};
  other.term = raft::Term{99};
  other.leader = raft::NodeId{9};
  st.groups.push_back(other);
  node::GroupStatus g;
  g.group = GroupId{1};
  g.term = raft::Term{4};
  g.leader = raft::NodeId{2};
  g.commit = raft::Index{120};
  g.applied = raft::Index{118};
  g.conf_state.voters = {raft::NodeId{1}, raft::NodeId{2}};
  g.conf_state.learners = {raft::NodeId{3}};
  st.groups.push_back(g);

  pb::StatusResponse r = make_status(backend, st, "0.1.0-dev", 55, 4096);
  EXPECT_EQ(r.header().cluster_id(), 77u);
  EXPECT_EQ(r.header().member_id(), 3u);
  EXPECT_EQ(r.header().revision(), 55);
  EXPECT_EQ(r.header().raft_term(), 4u);
  EXPECT_EQ(r.version(), "3.5.0+meridian.0.1.0-dev");
  EXPECT_EQ(r.leader(), 2u);
  EXPECT_EQ(r.raftterm(), 4u);
  EXPECT_EQ(r.raftindex(), 120u);
  EXPECT_EQ(r.raftappliedindex(), 118u);
  EXPECT_EQ(r.dbsize(), 4096);
  EXPECT_EQ(r.dbsizeinuse(), 4096);
  EXPECT_TRUE(r.islearner());
  EXPECT_EQ(r.errors_size(), 0);

  st.groups.back().conf_state.learners.clear();
  st.groups.back().conf_state.voters.push_back(raft::NodeId{3});
  r = make_status(backend, st, "", 55, 4096);
  EXPECT_FALSE(r.islearner());
  EXPECT_EQ(r.version(), "3.5.0");
}

TEST(MaintenanceStatusTest, EveryMemberNamesTheLeaderOverTheClientPort) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  pb::PutResponse put;
  ASSERT_TRUE(c.put(leader, "k", "v", &put).ok());
  for (int i = 1; i <= c.size(); ++i) {
    ASSERT_TRUE(c.wait_revision(i, put.header().revision(), std::chrono::seconds(5)));
    auto stub = pb::Maintenance::NewStub(grpc::CreateChannel(
        base::cat("127.0.0.1:", c.server(i).port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pb::StatusResponse r;
    const grpc::Status s = stub->Status(&ctx, pb::StatusRequest(), &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.header().member_id(), static_cast<uint64_t>(i));
    EXPECT_EQ(r.header().cluster_id(), c.cluster_id());
    EXPECT_EQ(r.header().revision(), c.store(i).revision());
    EXPECT_EQ(r.leader(), static_cast<uint64_t>(leader));
    EXPECT_EQ(r.raftterm(), c.node(i).term(GroupId{1}).value());
    EXPECT_GE(r.raftindex(), r.raftappliedindex());
    EXPECT_GT(r.raftappliedindex(), 0u);
    EXPECT_GT(r.dbsize(), 0);
    EXPECT_FALSE(r.islearner());
    EXPECT_EQ(r.version(), "3.5.0");  // the test cluster gives no server version

    // Defragment answers once done (the store is small: at once).
    grpc::ClientContext defrag_ctx;
    defrag_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pb::DefragmentResponse defrag;
    const grpc::Status d = stub->Defragment(&defrag_ctx, pb::DefragmentRequest(), &defrag);
    EXPECT_TRUE(d.ok()) << d.error_message();
    EXPECT_EQ(defrag.header().member_id(), static_cast<uint64_t>(i));

    // Snapshot: the store's image in pieces, which restores into a store
    // with the same revision and keys.
    grpc::ClientContext snapshot_ctx;
    snapshot_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = stub->Snapshot(&snapshot_ctx, pb::SnapshotRequest());
    pb::SnapshotResponse chunk;
    std::string image;
    uint64_t last_remaining = 1;
    while (reader->Read(&chunk)) {
      image += chunk.blob();
      last_remaining = chunk.remaining_bytes();
      EXPECT_EQ(chunk.header().member_id(), static_cast<uint64_t>(i));
    }
    const grpc::Status finished = reader->Finish();
    ASSERT_TRUE(finished.ok()) << finished.error_code() << " " << finished.error_message();
    EXPECT_EQ(last_remaining, 0u);
    // etcd's shape: 32 bytes over a multiple of 512 (the SHA-256 of the rest),
    // the image padded with zeros, then its length.
    ASSERT_EQ(image.size() % 512, 32u);
    uint64_t image_bytes = 0;
    for (int b = 7; b >= 0; --b) {
      image_bytes = (image_bytes << 8) | static_cast<unsigned char>(image[image.size() - 40 + b]);
    }
    ASSERT_LE(image_bytes, image.size() - 40);
    image.resize(image_bytes);
    const std::string dir =
        base::cat(::testing::TempDir(), "/meridian-snapshot-", getpid(), "-", i);
    kv::StoreOptions so;
    so.dir = dir;
    auto opened = kv::MvccStore::open(so);
    ASSERT_TRUE(opened.is_ok()) << opened.status();
    std::unique_ptr<kv::MvccStore> restored = std::move(opened).value();
    ASSERT_TRUE(restored->restore(image).is_ok());
    EXPECT_EQ(restored->revision(), c.store(i).revision());
    pb::RangeResponse got;
    ASSERT_EQ(restored->range(range_request("k"), &got), kv::Errc::kOk);
    ASSERT_EQ(got.kvs_size(), 1);
    EXPECT_EQ(got.kvs(0).value(), "v");
    restored.reset();
    std::filesystem::remove_all(dir);
  }
}

// HashKV over the client port: every member gives the same hash at the same
// revision; etcd's errors for a compacted or future revision.
TEST(MaintenanceHashTest, MembersAgreeAtEveryRevisionAndOldOrFutureOnesFail) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    pb::PutResponse put;
    ASSERT_TRUE(c.put(leader, "h" + std::to_string(i % 6), std::to_string(i), &put).ok());
    last = put.header().revision();
  }
  std::vector<std::unique_ptr<pb::Maintenance::Stub>> stubs;
  for (int i = 1; i <= c.size(); ++i) {
    ASSERT_TRUE(c.wait_revision(i, last, std::chrono::seconds(5)));
    stubs.push_back(pb::Maintenance::NewStub(grpc::CreateChannel(
        base::cat("127.0.0.1:", c.server(i).port()), grpc::InsecureChannelCredentials())));
  }
  auto hash_kv = [&](int i, int64_t revision, pb::HashKVResponse* r) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pb::HashKVRequest req;
    req.set_revision(revision);
    return stubs[static_cast<size_t>(i - 1)]->HashKV(&ctx, req, r);
  };
  for (int64_t rev : {last - 10, last}) {
    std::set<uint32_t> hashes;
    for (int i = 1; i <= c.size(); ++i) {
      pb::HashKVResponse r;
      const grpc::Status s = hash_kv(i, rev, &r);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(r.header().member_id(), static_cast<uint64_t>(i));
      EXPECT_EQ(r.header().revision(), last);
      hashes.insert(r.hash());
    }
    EXPECT_EQ(hashes.size(), 1u) << "revision " << rev;
  }
  pb::HashKVResponse at_last;
  pb::HashKVResponse at_earlier;
  ASSERT_TRUE(hash_kv(leader, last, &at_last).ok());
  ASSERT_TRUE(hash_kv(leader, last - 10, &at_earlier).ok());
  EXPECT_NE(at_last.hash(), at_earlier.hash());

  pb::HashKVResponse r;
  grpc::Status future = hash_kv(leader, last + 100, &r);
  EXPECT_EQ(future.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(future.error_message(), "etcdserver: mvcc: required revision is a future revision");
  pb::CompactionRequest compact;
  compact.set_revision(last - 5);
  compact.set_physical(true);
  pb::CompactionResponse compacted;
  ASSERT_TRUE(c.compact(leader, compact, &compacted).ok());
  grpc::Status old = hash_kv(leader, last - 5, &r);
  EXPECT_EQ(old.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(old.error_message(), "etcdserver: mvcc: required revision has been compacted");
  ASSERT_TRUE(hash_kv(leader, 0, &r).ok());
  EXPECT_EQ(r.compact_revision(), last - 5);

  // Hash: the current revision's HashKV.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  pb::HashResponse h;
  ASSERT_TRUE(stubs[static_cast<size_t>(leader - 1)]->Hash(&ctx, pb::HashRequest(), &h).ok());
  EXPECT_EQ(h.hash(), r.hash());
}

TEST(MaintenanceMoveLeaderTest, OnlyTheLeaderMovesItAndOnlyToAVoter) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  auto move = [&](int via, uint64_t target) {
    auto stub = pb::Maintenance::NewStub(grpc::CreateChannel(
        base::cat("127.0.0.1:", c.server(via).port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    pb::MoveLeaderRequest req;
    req.set_targetid(target);
    pb::MoveLeaderResponse resp;
    return stub->MoveLeader(&ctx, req, &resp);
  };
  grpc::Status s = move(follower, static_cast<uint64_t>(follower));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "etcdserver: not leader");
  s = move(leader, 99);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "etcdserver: bad leader transferee");
  EXPECT_EQ(c.wait_leader(std::chrono::seconds(5)), leader);  // nothing moved

  s = move(leader, static_cast<uint64_t>(follower));
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Answered once the old leader saw the new one lead; all agree soon after.
  EXPECT_EQ(c.node(leader).leader(GroupId{1}).value(), static_cast<uint64_t>(follower));
  EXPECT_EQ(c.wait_leader(std::chrono::seconds(5)), follower);
  pb::PutResponse put;
  EXPECT_TRUE(c.put(follower, "after", "move", &put).ok());
}

}  // namespace
}  // namespace meridian::api
