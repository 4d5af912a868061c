#include "api/maintenance_service.h"

#include <gtest/gtest.h>

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

    // The rest of the service is not served yet: UNIMPLEMENTED, as for any
    // unknown method.
    grpc::ClientContext hash_ctx;
    hash_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pb::HashKVResponse hash;
    EXPECT_EQ(stub->HashKV(&hash_ctx, pb::HashKVRequest(), &hash).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
}

}  // namespace
}  // namespace meridian::api
