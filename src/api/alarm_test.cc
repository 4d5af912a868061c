// Alarms over the client port: NOSPACE raised by the storage quota or by hand
// refuses writes that add data on every member, until disarmed.
#include "api/alarm.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/api_testing.h"
#include "base/strings.h"

namespace meridian::api {
namespace {

namespace pb = ::etcdserverpb;

std::unique_ptr<pb::Maintenance::Stub> maintenance(EtcdTestCluster& c, int i) {
  return pb::Maintenance::NewStub(grpc::CreateChannel(base::cat("127.0.0.1:", c.server(i).port()),
                                                      grpc::InsecureChannelCredentials()));
}

grpc::Status alarm(pb::Maintenance::Stub& stub, pb::AlarmRequest::AlarmAction action,
                   uint64_t member, pb::AlarmType type, pb::AlarmResponse* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  pb::AlarmRequest req;
  req.set_action(action);
  req.set_memberid(member);
  req.set_alarm(type);
  return stub.Alarm(&ctx, req, resp);
}

void expect_no_space(const grpc::Status& s) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(s.error_message(), "etcdserver: mvcc: database space exceeded");
}

TEST(AlarmTest, NoSpaceRefusesWritesThatAddDataOnEveryMemberUntilDisarmed) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  ASSERT_TRUE(c.put(leader, "keep", "v").ok());
  auto m = maintenance(c, follower);
  pb::AlarmResponse resp;
  ASSERT_TRUE(alarm(*m, pb::AlarmRequest::ACTIVATE, 1, pb::AlarmType::NOSPACE, &resp).ok());
  ASSERT_EQ(resp.alarms_size(), 1);
  EXPECT_EQ(resp.alarms(0).memberid(), 1u);

  for (int i = 1; i <= c.size(); ++i) {
    // Raised through the log: every member has it once it applied that far.
    for (int n = 0; n < 500 && !c.store(i).no_space(); ++n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(c.store(i).no_space()) << "member " << i;
    expect_no_space(c.put(i, "k", "v"));
    pb::TxnRequest t;
    t.add_success()->mutable_request_put()->set_key("t");
    pb::TxnResponse tr;
    expect_no_space(c.txn(i, t, &tr));
  }
  // Deletes, txns that only delete, and reads go on.
  pb::DeleteRangeRequest d;
  d.set_key("keep");
  pb::DeleteRangeResponse dr;
  EXPECT_TRUE(c.delete_range(follower, d, &dr).ok());
  EXPECT_EQ(dr.deleted(), 1);
  pb::TxnRequest del;
  del.add_success()->mutable_request_delete_range()->set_key("x");
  pb::TxnResponse tr;
  EXPECT_TRUE(c.txn(follower, del, &tr).ok());
  pb::RangeResponse rr;
  EXPECT_TRUE(c.get(leader, "keep", &rr).ok());
  // A lease grant adds data too.
  auto lease = pb::Lease::NewStub(grpc::CreateChannel(
      base::cat("127.0.0.1:", c.server(leader).port()), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    pb::LeaseGrantRequest g;
    g.set_ttl(10);
    pb::LeaseGrantResponse gr;
    expect_no_space(lease->LeaseGrant(&ctx, g, &gr));
  }

  // Listed (all, or by member and type), and in Status's errors.
  ASSERT_TRUE(alarm(*m, pb::AlarmRequest::GET, 0, pb::AlarmType::NONE, &resp).ok());
  ASSERT_EQ(resp.alarms_size(), 1);
  EXPECT_EQ(resp.alarms(0).alarm(), pb::AlarmType::NOSPACE);
  ASSERT_TRUE(alarm(*m, pb::AlarmRequest::GET, 2, pb::AlarmType::NONE, &resp).ok());
  EXPECT_EQ(resp.alarms_size(), 0);
  {
    grpc::ClientContext ctx;
    pb::StatusResponse st;
    ASSERT_TRUE(m->Status(&ctx, pb::StatusRequest(), &st).ok());
    ASSERT_EQ(st.errors_size(), 1);
    EXPECT_EQ(st.errors(0), "memberID:1 alarm:NOSPACE ");
  }

  // Disarmed: writes go on everywhere; a second disarm answers with nothing.
  ASSERT_TRUE(alarm(*m, pb::AlarmRequest::DEACTIVATE, 1, pb::AlarmType::NOSPACE, &resp).ok());
  EXPECT_EQ(resp.alarms_size(), 1);
  ASSERT_TRUE(alarm(*m, pb::AlarmRequest::DEACTIVATE, 1, pb::AlarmType::NOSPACE, &resp).ok());
  EXPECT_EQ(resp.alarms_size(), 0);
  EXPECT_TRUE(c.put(follower, "k", "v").ok());
}

TEST(AlarmTest, TheQuotaRaisesNoSpaceAndRefusesBeforeTheLog) {
  EtcdTestOptions options;
  options.limits.quota_backend_bytes = 1;  // any store is larger
  EtcdTestCluster c(options);
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int64_t revision = c.store(leader).revision();
  expect_no_space(c.put(leader, "k", "v"));
  auto m = maintenance(c, leader);
  pb::AlarmResponse resp;
  for (int n = 0; n < 500; ++n) {
    ASSERT_TRUE(alarm(*m, pb::AlarmRequest::GET, 0, pb::AlarmType::NOSPACE, &resp).ok());
    if (resp.alarms_size() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(resp.alarms_size(), 1);
  EXPECT_EQ(resp.alarms(0).memberid(), static_cast<uint64_t>(leader));
  EXPECT_EQ(c.store(leader).revision(), revision);
}

}  // namespace
}  // namespace meridian::api
