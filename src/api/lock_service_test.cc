// v3lockpb.Lock over the client port of a 3-node cluster, with gRPC's own
// client: etcd's keys and answers (each checked against etcd 3.4 with the same
// calls), mutual exclusion among concurrent lockers on every member, the
// fencing token, and what becomes of a waiter's key when its lease ends or its
// client gives up.
#include "api/lock_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "api/api_testing.h"
#include "api/concurrency_testing.h"

namespace meridian::api {
namespace {

namespace lockpb = ::v3lockpb;
using std::chrono::milliseconds;

std::string key_of(const std::string& name, int64_t lease) {
  return fmt::format("{}/{:x}", name, lease);
}

// Waits up to 10 s for the key to exist (`want` true) or be gone.
bool wait_key(CoordinationClient& client, const std::string& key, bool want) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if ((client.create_revision(key) > 0) == want) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

TEST(LockServiceTest, FreeLockIsTakenAtOnceUnderAKeyNamedByTheLease) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  CoordinationClient f(c, follower);
  const int64_t lease = f.grant(30);
  ASSERT_NE(lease, 0);

  lockpb::LockResponse a;
  ASSERT_TRUE(f.lock("job", lease, &a).ok());
  EXPECT_EQ(a.key(), key_of("job", lease));
  EXPECT_EQ(a.header().member_id(), static_cast<uint64_t>(follower));
  // Taken by the put of this call: the header is that put's revision.
  EXPECT_EQ(f.create_revision(a.key()), a.header().revision());
  etcdserverpb::RangeResponse r;
  ASSERT_TRUE(c.get(follower, a.key(), &r).ok());
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).lease(), lease);
  EXPECT_EQ(r.kvs(0).value(), "");

  // The same lease asking again holds it already: the same key, not put again.
  lockpb::LockResponse again;
  ASSERT_TRUE(f.lock("job", lease, &again).ok());
  EXPECT_EQ(again.key(), a.key());
  EXPECT_EQ(again.header().revision(), a.header().revision());
  EXPECT_EQ(f.create_revision(a.key()), a.header().revision());

  // Unlock deletes the key; unlocking what is gone is no error (as etcd).
  lockpb::UnlockResponse u;
  ASSERT_TRUE(f.unlock(a.key(), &u).ok());
  EXPECT_EQ(u.header().revision(), a.header().revision() + 1);
  EXPECT_EQ(f.create_revision(a.key()), 0);
  ASSERT_TRUE(f.unlock(a.key(), &u).ok());
  EXPECT_EQ(u.header().revision(), a.header().revision() + 1);
  // etcd answers its client's errors with code UNKNOWN.
  const grpc::Status empty = f.unlock("");
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(empty.error_message(), "etcdserver: key is not provided");
}

TEST(LockServiceTest, UnknownLeaseIsRefusedAsEtcdRefusesIt) {
  EtcdTestCluster c;
  ASSERT_NE(c.start(), 0);
  CoordinationClient f(c, 1);
  lockpb::LockResponse r;
  const grpc::Status st = f.lock("x", 12345, &r);
  // etcd 3.4 and 3.5 send UNKNOWN here, not the KV service's NOT_FOUND: the
  // error passes through etcd's own client on its way out.
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(st.error_message(), "etcdserver: requested lease not found");
  EXPECT_EQ(f.create_revision(key_of("x", 12345)), 0);
}

TEST(LockServiceTest, LeaseZeroGetsASixtySecondLeaseOfItsOwn) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  CoordinationClient f(c, leader % c.size() + 1);
  lockpb::LockResponse r;
  ASSERT_TRUE(f.lock("z", 0, &r).ok());
  ASSERT_EQ(r.key().rfind("z/", 0), 0u);
  const int64_t lease = std::stoll(r.key().substr(2), nullptr, 16);
  EXPECT_EQ(r.key(), key_of("z", lease));
  etcdserverpb::RangeResponse kv;
  ASSERT_TRUE(c.get(1, r.key(), &kv).ok());
  ASSERT_EQ(kv.kvs_size(), 1);
  EXPECT_EQ(kv.kvs(0).lease(), lease);
  const auto left = c.store(leader).leases().remaining(lease);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->granted_ttl, 60);
}

// Lockers on every member, each taking the lock three times and giving it
// back by Unlock or by revoking its lease: one holder at a time, and the
// create revisions of the holders' keys (the fencing tokens) strictly increase
// in the order the lock was held.
TEST(LockServiceTest, OneHolderAtATimeAndFencingTokensIncreaseWithEveryAcquisition) {
  constexpr int kLockers = 5;
  constexpr int kRounds = 3;
  EtcdTestCluster c;
  ASSERT_NE(c.start(), 0);
  std::mutex mu;
  int holders = 0;              // guarded by mu
  int most_holders = 0;         // guarded by mu
  std::vector<int64_t> tokens;  // in the order held; guarded by mu
  std::vector<std::thread> threads;
  for (int t = 0; t < kLockers; ++t) {
    threads.emplace_back([&, t] {
      CoordinationClient client(c, t % c.size() + 1);
      for (int round = 0; round < kRounds; ++round) {
        const int64_t lease = client.grant(30);
        lockpb::LockResponse r;
        const grpc::Status st = client.lock("mutex", lease, &r);
        ASSERT_TRUE(st.ok()) << st.error_message();
        const int64_t token = client.create_revision(r.key());
        EXPECT_GT(token, 0);
        EXPECT_GE(r.header().revision(), token);
        {
          std::lock_guard lock(mu);
          most_holders = std::max(most_holders, ++holders);
          tokens.push_back(token);
        }
        std::this_thread::sleep_for(milliseconds(20));
        {
          std::lock_guard lock(mu);
          --holders;
        }
        if ((t + round) % 2 == 0) {
          EXPECT_TRUE(client.unlock(r.key()).ok());
        } else {
          EXPECT_TRUE(client.revoke(lease).ok());
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(most_holders, 1);
  ASSERT_EQ(tokens.size(), static_cast<size_t>(kLockers * kRounds));
  for (size_t i = 1; i < tokens.size(); ++i) {
    EXPECT_LT(tokens[i - 1], tokens[i]) << "acquisition " << i;
  }
}

// A waiter takes the lock once the holder's lease is revoked; a waiter whose
// own lease ends while it waits is told its session expired (etcd 3.5's check;
// etcd 3.4 answered as if it held the lock) and leaves no key behind.
TEST(LockServiceTest, WaiterTakesTheLockWhenTheHolderLeaseEndsAndFailsWhenItsOwnDoes) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int follower = leader % c.size() + 1;
  CoordinationClient a(c, leader);
  CoordinationClient b(c, follower);
  const int64_t la = a.grant(30);
  const int64_t lb = b.grant(30);
  lockpb::LockResponse ra;
  ASSERT_TRUE(a.lock("q", la, &ra).ok());

  std::atomic<bool> b_done{false};
  lockpb::LockResponse rb;
  grpc::Status sb;
  std::thread waiter([&] {
    sb = b.lock("q", lb, &rb);
    b_done = true;
  });
  ASSERT_TRUE(wait_key(b, key_of("q", lb), true));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(b_done.load()) << "the lock is held: the second locker waits";
  const int64_t b_token = b.create_revision(key_of("q", lb));
  ASSERT_TRUE(a.revoke(la).ok());
  waiter.join();
  ASSERT_TRUE(sb.ok()) << sb.error_message();
  EXPECT_EQ(rb.key(), key_of("q", lb));
  EXPECT_GT(b_token, ra.header().revision());
  // Answered after the revoke: its header is that of the read after it.
  EXPECT_GT(rb.header().revision(), b_token);

  const int64_t lc = a.grant(30);
  lockpb::LockResponse rc;
  grpc::Status sc;
  std::thread expiring([&] { sc = a.lock("q", lc, &rc); });
  ASSERT_TRUE(wait_key(a, key_of("q", lc), true));
  ASSERT_TRUE(a.revoke(lc).ok());
  std::this_thread::sleep_for(milliseconds(100));
  ASSERT_TRUE(b.unlock(rb.key()).ok());
  expiring.join();
  EXPECT_EQ(sc.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(sc.error_message(), "mutex: session is expired");
  etcdserverpb::RangeResponse left;
  ASSERT_TRUE(c.range(1, range_request("q/", "q0"), &left).ok());
  EXPECT_EQ(left.kvs_size(), 0);
}

// A waiter whose client gives up (deadline, cancel) deletes its key, as
// etcd's does, and the holder keeps the lock.
TEST(LockServiceTest, WaiterThatGivesUpDeletesItsKey) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  CoordinationClient holder(c, leader);
  CoordinationClient waiter(c, leader % c.size() + 1);
  const int64_t lh = holder.grant(30);
  lockpb::LockResponse rh;
  ASSERT_TRUE(holder.lock("g", lh, &rh).ok());

  const int64_t l1 = waiter.grant(30);
  lockpb::LockResponse r;
  const grpc::Status late = waiter.lock("g", l1, &r, milliseconds(500));
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(wait_key(waiter, key_of("g", l1), false));

  const int64_t l2 = waiter.grant(30);
  grpc::ClientContext ctx;
  set_timeout(&ctx, kCoordinationCallTimeout);
  lockpb::LockRequest req;
  req.set_name("g");
  req.set_lease(l2);
  grpc::CompletionQueue cq;
  grpc::Status st;
  auto call = waiter.lock_stub().AsyncLock(&ctx, req, &cq);
  call->Finish(&r, &st, nullptr);
  ASSERT_TRUE(wait_key(waiter, key_of("g", l2), true));
  ctx.TryCancel();
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(wait_key(waiter, key_of("g", l2), false));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  EXPECT_EQ(holder.create_revision(rh.key()), rh.header().revision()) << "still held";
}

// A waiter's watch lives on the member it asked, so it outlasts a change of
// the cluster's leader: the leader stops while a follower's waiter waits, and
// the waiter takes the lock once the holder unlocks through the new leader.
TEST(LockServiceTest, WaiterOnAFollowerTakesTheLockAfterTheLeaderStops) {
  EtcdTestCluster c;
  const int leader = c.start();
  ASSERT_NE(leader, 0);
  const int f1 = leader % c.size() + 1;
  const int f2 = f1 % c.size() + 1;
  ASSERT_NE(f2, leader);
  CoordinationClient holder(c, f1);
  CoordinationClient waiter(c, f2);
  const int64_t lh = holder.grant(60);
  const int64_t lw = waiter.grant(60);
  lockpb::LockResponse rh;
  ASSERT_TRUE(holder.lock("lc", lh, &rh).ok());
  lockpb::LockResponse rw;
  grpc::Status sw;
  std::thread waiting([&] { sw = waiter.lock("lc", lw, &rw); });
  ASSERT_TRUE(wait_key(waiter, key_of("lc", lw), true));

  c.stop(leader);
  ASSERT_NE(c.wait_leader(std::chrono::seconds(10)), 0);
  grpc::Status unlocked;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // The first tries may find no leader yet (the delete is idempotent).
  while (!(unlocked = holder.unlock(rh.key())).ok() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(unlocked.ok()) << unlocked.error_message();
  waiting.join();
  ASSERT_TRUE(sw.ok()) << sw.error_message();
  EXPECT_EQ(rw.key(), key_of("lc", lw));
  EXPECT_GT(waiter.create_revision(rw.key()), rh.header().revision());
}

}  // namespace
}  // namespace meridian::api
