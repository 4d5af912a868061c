// v3electionpb.Election over the client port of a 3-node cluster, with gRPC's
// own client: campaign, leader, proclaim, resign and observe with etcd's keys
// and answers (each checked against etcd 3.4 with the same calls), a campaign
// waiting its turn, and one whose client gives up.
#include "api/election_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "api/api_testing.h"
#include "api/concurrency_testing.h"

namespace meridian::api {
namespace {

namespace epb = ::v3electionpb;
using std::chrono::milliseconds;

std::string key_of(const std::string& name, int64_t lease) {
  return fmt::format("{}/{:x}", name, lease);
}

bool wait_key(CoordinationClient& client, const std::string& key, bool want) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if ((client.create_revision(key) > 0) == want) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

std::string leader_value(CoordinationClient& client, const std::string& name) {
  epb::LeaderResponse r;
  const grpc::Status st = client.leader(name, &r);
  return st.ok() ? r.kv().value() : "error: " + st.error_message();
}

TEST(ElectionServiceTest, CampaignLeaderProclaimAndResignAnswerAsEtcd) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  CoordinationClient f(c, follower);
  CoordinationClient l(c, leader);

  epb::LeaderResponse lr;
  const grpc::Status none = f.leader("e", &lr);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(none.error_message(), "election: no leader");

  const int64_t l1 = f.grant(30);
  epb::CampaignResponse c1;
  ASSERT_TRUE(f.campaign("e", l1, "one", &c1).ok());
  EXPECT_EQ(c1.leader().name(), "e");
  EXPECT_EQ(c1.leader().key(), key_of("e", l1));
  EXPECT_EQ(c1.leader().rev(), c1.header().revision());
  EXPECT_EQ(c1.leader().lease(), l1);
  ASSERT_TRUE(l.leader("e", &lr).ok());
  EXPECT_EQ(lr.kv().key(), c1.leader().key());
  EXPECT_EQ(lr.kv().value(), "one");
  EXPECT_EQ(lr.kv().lease(), l1);

  // Campaigning again keeps the candidate's place and proclaims the new value;
  // the header is that of the campaign's transaction (before the proclaim).
  epb::CampaignResponse again;
  ASSERT_TRUE(f.campaign("e", l1, "uno", &again).ok());
  EXPECT_EQ(again.leader().rev(), c1.leader().rev());
  EXPECT_EQ(again.header().revision(), c1.header().revision());
  EXPECT_EQ(leader_value(l, "e"), "uno");

  epb::ProclaimResponse p;
  ASSERT_TRUE(l.proclaim(&c1.leader(), "two", &p).ok());
  EXPECT_EQ(p.header().revision(), c1.header().revision() + 2);
  EXPECT_EQ(leader_value(f, "e"), "two");

  epb::LeaderKey stale = c1.leader();
  stale.set_rev(stale.rev() + 100);
  const grpc::Status not_leader = l.proclaim(&stale, "three");
  EXPECT_EQ(not_leader.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(not_leader.error_message(), "election: not leader");
  for (const grpc::Status& st : {l.proclaim(nullptr, "three"), l.resign(nullptr)}) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNKNOWN);
    EXPECT_EQ(st.error_message(), "\"leader\" field must be provided");
  }
  // Resigning with a key that is not the leader's is no error, and no change.
  epb::ResignResponse rs;
  ASSERT_TRUE(l.resign(&stale, &rs).ok());
  EXPECT_EQ(rs.header().revision(), p.header().revision());
  EXPECT_EQ(leader_value(f, "e"), "two");

  // A second candidate waits its turn and leads once the first resigns.
  const int64_t l2 = l.grant(30);
  std::atomic<bool> done{false};
  epb::CampaignResponse c2;
  grpc::Status s2;
  std::thread second([&] {
    s2 = l.campaign("e", l2, "second", &c2);
    done = true;
  });
  ASSERT_TRUE(wait_key(f, key_of("e", l2), true));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(done.load()) << "the first candidate leads: the second waits";
  ASSERT_TRUE(f.resign(&c1.leader(), &rs).ok());
  second.join();
  ASSERT_TRUE(s2.ok()) << s2.error_message();
  EXPECT_EQ(c2.leader().key(), key_of("e", l2));
  EXPECT_EQ(c2.leader().rev(), f.create_revision(key_of("e", l2)));
  EXPECT_EQ(c2.header().revision(), c2.leader().rev());
  EXPECT_LT(c2.header().revision(), rs.header().revision());
  EXPECT_EQ(leader_value(f, "e"), "second");
  EXPECT_EQ(f.create_revision(key_of("e", l1)), 0);

  const grpc::Status unknown = f.campaign("e", 4242, "x", &c2);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(unknown.error_message(), "etcdserver: requested lease not found");
}

TEST(ElectionServiceTest, CampaignThatGivesUpResignsAndLeaseZeroGetsItsOwnLease) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  CoordinationClient a(c, leader);
  CoordinationClient b(c, leader % c.size() + 1);
  epb::CampaignResponse ca;
  ASSERT_TRUE(a.campaign("g", 0, "first", &ca).ok());
  const auto left = c.store(leader).leases().remaining(ca.leader().lease());
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->granted_ttl, 60);
  EXPECT_EQ(ca.leader().key(), key_of("g", ca.leader().lease()));

  const int64_t lb = b.grant(30);
  epb::CampaignResponse cb;
  const grpc::Status late = b.campaign("g", lb, "second", &cb, milliseconds(500));
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(wait_key(b, key_of("g", lb), false));
  EXPECT_EQ(leader_value(b, "g"), "first");
}

// Observe from before the first candidate: each leader's value and every
// proclaim, the next leader once one resigns, and a later candidate after the
// election was left without any.
TEST(ElectionServiceTest, ObserveFollowsEveryLeaderInTurn) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  CoordinationClient f(c, follower);
  CoordinationClient l(c, leader);

  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  epb::LeaderRequest req;
  req.set_name("o");
  auto stream = f.election_stub().Observe(&ctx, req);
  std::this_thread::sleep_for(milliseconds(200));  // the observer is waiting

  const int64_t l1 = l.grant(30);
  epb::CampaignResponse c1;
  ASSERT_TRUE(l.campaign("o", l1, "one", &c1).ok());
  epb::LeaderResponse seen;
  ASSERT_TRUE(stream->Read(&seen));
  EXPECT_EQ(seen.kv().key(), key_of("o", l1));
  EXPECT_EQ(seen.kv().value(), "one");
  EXPECT_EQ(seen.header().revision(), seen.kv().mod_revision());
  EXPECT_EQ(seen.header().member_id(), static_cast<uint64_t>(follower));

  ASSERT_TRUE(l.proclaim(&c1.leader(), "two").ok());
  ASSERT_TRUE(stream->Read(&seen));
  EXPECT_EQ(seen.kv().value(), "two");
  EXPECT_EQ(seen.kv().version(), 2);

  const int64_t l2 = l.grant(30);
  epb::CampaignResponse c2;
  grpc::Status s2;
  std::thread second([&] { s2 = l.campaign("o", l2, "second", &c2); });
  ASSERT_TRUE(wait_key(f, key_of("o", l2), true));
  ASSERT_TRUE(l.resign(&c1.leader()).ok());
  second.join();
  ASSERT_TRUE(s2.ok());
  ASSERT_TRUE(stream->Read(&seen));
  EXPECT_EQ(seen.kv().key(), key_of("o", l2));
  EXPECT_EQ(seen.kv().value(), "second");

  // The leader's lease ends: no candidate is left until a third campaigns.
  ASSERT_TRUE(l.revoke(l2).ok());
  const int64_t l3 = f.grant(30);
  epb::CampaignResponse c3;
  ASSERT_TRUE(f.campaign("o", l3, "third", &c3).ok());
  ASSERT_TRUE(stream->Read(&seen));
  EXPECT_EQ(seen.kv().key(), key_of("o", l3));
  EXPECT_EQ(seen.kv().value(), "third");

  ctx.TryCancel();
  while (stream->Read(&seen)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// The member serving an Observe stops: the stream ends with UNAVAILABLE.
TEST(ElectionServiceTest, ObserveEndsWhenItsServerStops) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  CoordinationClient f(c, follower);
  const int64_t lease = f.grant(30);
  epb::CampaignResponse won;
  ASSERT_TRUE(f.campaign("s", lease, "v", &won).ok());
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  epb::LeaderRequest req;
  req.set_name("s");
  auto stream = f.election_stub().Observe(&ctx, req);
  epb::LeaderResponse seen;
  ASSERT_TRUE(stream->Read(&seen));
  EXPECT_EQ(seen.kv().value(), "v");
  c.stop_server(follower);
  EXPECT_FALSE(stream->Read(&seen));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace meridian::api
