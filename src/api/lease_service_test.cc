// etcdserverpb.Lease over the client port of a 3-node cluster, with gRPC's own
// client: what etcd answers, through followers and the leader, and expiry by
// the leader.
#include "api/lease_service.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/api_testing.h"
#include "base/strings.h"

namespace meridian::api {
namespace {

namespace pb = ::etcdserverpb;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::unique_ptr<pb::Lease::Stub> lease_stub(EtcdTestCluster& c, int i) {
  return pb::Lease::NewStub(grpc::CreateChannel(base::cat("127.0.0.1:", c.server(i).port()),
                                                grpc::InsecureChannelCredentials()));
}

void deadline(grpc::ClientContext* ctx, seconds s = seconds(5)) {
  ctx->set_deadline(std::chrono::system_clock::now() + s);
}

grpc::Status grant(pb::Lease::Stub& stub, int64_t ttl, int64_t id, pb::LeaseGrantResponse* resp) {
  grpc::ClientContext ctx;
  deadline(&ctx);
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  req.set_id(id);
  return stub.LeaseGrant(&ctx, req, resp);
}

grpc::Status time_to_live(pb::Lease::Stub& stub, int64_t id, pb::LeaseTimeToLiveResponse* resp) {
  grpc::ClientContext ctx;
  deadline(&ctx);
  pb::LeaseTimeToLiveRequest req;
  req.set_id(id);
  req.set_keys(true);
  return stub.LeaseTimeToLive(&ctx, req, resp);
}

grpc::Status revoke(pb::Lease::Stub& stub, int64_t id, pb::LeaseRevokeResponse* resp) {
  grpc::ClientContext ctx;
  deadline(&ctx);
  pb::LeaseRevokeRequest req;
  req.set_id(id);
  return stub.LeaseRevoke(&ctx, req, resp);
}

grpc::Status put_leased(EtcdTestCluster& c, int i, const std::string& key, int64_t lease,
                        pb::PutResponse* resp) {
  pb::PutRequest req = put_request(key, "v");
  req.set_lease(lease);
  return c.put(i, req, resp);
}

TEST(LeaseServiceTest, GrantKeepAliveTimeToLiveAndRevokeAsEtcd) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  auto f = lease_stub(c, follower);
  auto l = lease_stub(c, leader);

  // An id made by the follower (its member id on top); a TTL below the minimum
  // (1.5 election timeouts of 200 ms, rounded up) raised to it.
  pb::LeaseGrantResponse short_lease;
  ASSERT_TRUE(grant(*f, 0, 0, &short_lease).ok());
  EXPECT_EQ(short_lease.ttl(), 1);
  EXPECT_GT(short_lease.id(), 0);
  EXPECT_EQ(static_cast<uint64_t>(short_lease.id()) >> 48, static_cast<uint64_t>(follower));
  EXPECT_EQ(short_lease.header().member_id(), static_cast<uint64_t>(follower));

  pb::LeaseGrantResponse g;
  ASSERT_TRUE(grant(*f, 30, 0, &g).ok());
  EXPECT_EQ(g.ttl(), 30);
  EXPECT_NE(g.id(), short_lease.id());
  pb::PutResponse put;
  ASSERT_TRUE(put_leased(c, follower, "b", g.id(), &put).ok());
  ASSERT_TRUE(put_leased(c, leader, "a", g.id(), &put).ok());
  pb::RangeResponse r;
  ASSERT_TRUE(c.get(follower, "a", &r).ok());
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).lease(), g.id());

  pb::LeaseTimeToLiveResponse ttl;
  ASSERT_TRUE(time_to_live(*f, g.id(), &ttl).ok());
  EXPECT_EQ(ttl.id(), g.id());
  EXPECT_EQ(ttl.grantedttl(), 30);
  EXPECT_GE(ttl.ttl(), 25);
  EXPECT_LE(ttl.ttl(), 30);
  ASSERT_EQ(ttl.keys_size(), 2);
  EXPECT_EQ(ttl.keys(0), "a");
  EXPECT_EQ(ttl.keys(1), "b");

  {
    grpc::ClientContext ctx;
    deadline(&ctx);
    pb::LeaseLeasesResponse all;
    ASSERT_TRUE(l->LeaseLeases(&ctx, pb::LeaseLeasesRequest(), &all).ok());
    std::vector<int64_t> ids;
    for (const auto& s : all.leases()) ids.push_back(s.id());
    std::sort(ids.begin(), ids.end());
    std::vector<int64_t> want{short_lease.id(), g.id()};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(ids, want);
  }

  {
    // Keep-alives through the follower: the granted TTL, and 0 for a lease
    // that does not exist, on a stream that goes on.
    grpc::ClientContext ctx;
    deadline(&ctx);
    auto stream = f->LeaseKeepAlive(&ctx);
    pb::LeaseKeepAliveRequest req;
    for (int64_t id : {g.id(), int64_t{999}, g.id()}) {
      req.set_id(id);
      ASSERT_TRUE(stream->Write(req));
    }
    std::vector<std::pair<int64_t, int64_t>> got;
    pb::LeaseKeepAliveResponse resp;
    for (int i = 0; i < 3 && stream->Read(&resp); ++i) {
      got.emplace_back(resp.id(), resp.ttl());
      EXPECT_EQ(resp.header().member_id(), static_cast<uint64_t>(follower));
    }
    EXPECT_EQ(got,
              (std::vector<std::pair<int64_t, int64_t>>{{g.id(), 30}, {999, 0}, {g.id(), 30}}));
    ASSERT_TRUE(stream->WritesDone());
    EXPECT_FALSE(stream->Read(&resp));
    EXPECT_TRUE(stream->Finish().ok());
  }

  // Revoke: both keys in one revision; then etcd's answers for a lease gone.
  pb::LeaseRevokeResponse rv;
  ASSERT_TRUE(revoke(*l, g.id(), &rv).ok());
  EXPECT_EQ(rv.header().revision(), put.header().revision() + 1);
  ASSERT_TRUE(c.get(follower, "b", &r).ok());
  EXPECT_EQ(r.kvs_size(), 0);
  const grpc::Status again = revoke(*f, g.id(), &rv);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(again.error_message(), "etcdserver: requested lease not found");
  ASSERT_TRUE(time_to_live(*f, g.id(), &ttl).ok());
  EXPECT_EQ(ttl.ttl(), -1);
  EXPECT_EQ(ttl.grantedttl(), 0);
  const grpc::Status refused = put_leased(c, follower, "c", g.id(), &put);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND);

  pb::LeaseGrantResponse dup;
  const grpc::Status exists = grant(*l, 10, short_lease.id(), &dup);
  EXPECT_EQ(exists.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(exists.error_message(), "etcdserver: lease already exists");
  const grpc::Status large = grant(*f, 9'000'000'001, 0, &dup);
  EXPECT_EQ(large.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(large.error_message(), "etcdserver: too large lease TTL");
}

// The value of an unlabelled counter in the registry's rendering (0 if absent).
uint64_t counter_value(const observe::Registry& metrics, const std::string& name) {
  const std::string text = metrics.render();
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + name.size() + 2));
}

// Whether `key` exists on every member (serializable reads).
bool on_every_member(EtcdTestCluster& c, const std::string& key) {
  for (int i = 1; i <= c.size(); ++i) {
    pb::RangeResponse r;
    if (!c.get(i, key, &r, true).ok() || r.kvs_size() == 0) return false;
  }
  return true;
}

TEST(LeaseServiceTest, KeepAlivesHoldALeaseAndTheLeaderEndsOneLeftAlone) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  auto f = lease_stub(c, follower);
  pb::LeaseGrantResponse kept;
  pb::LeaseGrantResponse left;
  ASSERT_TRUE(grant(*f, 2, 0, &kept).ok());
  ASSERT_TRUE(grant(*f, 1, 0, &left).ok());
  pb::PutResponse put;
  ASSERT_TRUE(put_leased(c, follower, "kept", kept.id(), &put).ok());
  ASSERT_TRUE(put_leased(c, follower, "left", left.id(), &put).ok());

  // Keep-alives every 100 ms for 3 s, more than the TTL: the kept lease stays.
  {
    grpc::ClientContext ctx;
    deadline(&ctx, seconds(30));
    auto stream = f->LeaseKeepAlive(&ctx);
    pb::LeaseKeepAliveRequest req;
    req.set_id(kept.id());
    pb::LeaseKeepAliveResponse resp;
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(stream->Write(req));
      ASSERT_TRUE(stream->Read(&resp));
      EXPECT_EQ(resp.ttl(), 2);
      std::this_thread::sleep_for(milliseconds(100));
    }
    stream->WritesDone();
    while (stream->Read(&resp)) {
    }
    EXPECT_TRUE(stream->Finish().ok());
  }
  EXPECT_TRUE(on_every_member(c, "kept"));
  EXPECT_FALSE(c.store(follower).leases().contains(left.id()));
  pb::RangeResponse r;
  ASSERT_TRUE(c.get(follower, "left", &r).ok());
  EXPECT_EQ(r.kvs_size(), 0);

  // Left alone now, the kept lease ends too, on every member, revoked by the leader.
  const auto until = std::chrono::steady_clock::now() + seconds(20);
  while (std::chrono::steady_clock::now() < until &&
         (c.store(1).leases().size() + c.store(2).leases().size() + c.store(3).leases().size()) >
             0) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  for (int i = 1; i <= c.size(); ++i) {
    EXPECT_EQ(c.store(i).leases().size(), 0u) << "member " << i;
    ASSERT_TRUE(c.get(i, "kept", &r, true).ok());
    EXPECT_EQ(r.kvs_size(), 0) << "member " << i;
  }
  EXPECT_GE(counter_value(c.metrics(leader), "meridian_lease_expiries_proposed_total"), 2u);
  EXPECT_GE(counter_value(c.metrics(follower), "meridian_lease_renewals_total"), 30u);
}

}  // namespace
}  // namespace meridian::api
