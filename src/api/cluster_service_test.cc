// MemberList: the Raft configuration with each member's published record.
#include "api/cluster_service.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/api_testing.h"
#include "base/strings.h"

namespace meridian::api {
namespace {

namespace pb = ::etcdserverpb;
using raft::NodeId;

TEST(MemberListTest, ListsTheConfigurationWithWhatEachMemberPublished) {
  raft::ConfState conf;
  conf.voters = {NodeId{3}, NodeId{1}};
  conf.voters_outgoing = {NodeId{1}, NodeId{4}};  // leaving, still a voter
  conf.learners = {NodeId{2}};
  pb::Member one;
  one.set_id(1);
  one.set_name("node1");
  one.add_peerurls("http://p1");
  one.add_clienturls("http://c1");
  pb::Member gone;  // a record of a member no longer configured
  gone.set_id(9);
  const pb::MemberListResponse r =
      make_member_list(conf, {one, gone}, {{2, "http://p2"}, {3, "http://p3"}});
  ASSERT_EQ(r.members_size(), 4);
  EXPECT_EQ(r.members(0).id(), 1u);
  EXPECT_EQ(r.members(0).name(), "node1");
  EXPECT_EQ(r.members(0).clienturls(0), "http://c1");
  EXPECT_FALSE(r.members(0).islearner());
  // Not published yet: no name or client URLs, the configured peer URL.
  EXPECT_EQ(r.members(1).id(), 2u);
  EXPECT_TRUE(r.members(1).name().empty());
  EXPECT_EQ(r.members(1).peerurls(0), "http://p2");
  EXPECT_EQ(r.members(1).clienturls_size(), 0);
  EXPECT_TRUE(r.members(1).islearner());
  EXPECT_EQ(r.members(2).id(), 3u);
  EXPECT_EQ(r.members(3).id(), 4u);
  EXPECT_EQ(r.members(3).peerurls_size(), 0);
}

TEST(MemberListTest, EveryMemberPublishesItsClientUrlOverTheLog) {
  EtcdTestCluster c;
  ASSERT_NE(c.start(), 0);
  auto stub = pb::Cluster::NewStub(grpc::CreateChannel(base::cat("127.0.0.1:", c.server(2).port()),
                                                       grpc::InsecureChannelCredentials()));
  pb::MemberListResponse r;
  for (int attempt = 0; attempt < 500; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ASSERT_TRUE(stub->MemberList(&ctx, pb::MemberListRequest(), &r).ok());
    bool all = r.members_size() == 3;
    for (const auto& m : r.members()) all = all && m.clienturls_size() == 1;
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(r.members_size(), 3);
  for (int i = 1; i <= 3; ++i) {
    const pb::Member& m = r.members(i - 1);
    EXPECT_EQ(m.id(), static_cast<uint64_t>(i));
    ASSERT_EQ(m.clienturls_size(), 1);
    EXPECT_EQ(m.clienturls(0), base::cat("http://127.0.0.1:", c.server(i).port()));
  }
  EXPECT_EQ(r.header().member_id(), 2u);
}

}  // namespace
}  // namespace meridian::api
