// LeaseKeeper: this member's part in keeping leases alive and ending them.
//
// Keep-alives. Every member takes keep-alives, and a renewal must reach every
// member, so that whichever leads next knows when each lease ends
// (kv/lease_table.h). Renewals therefore go through the log, in batches: one
// renew command in flight per member at a time, carrying every renewal that
// arrived while the previous one was committing (and at most kRenewBatchMax).
// With thousands of leases renewed every few seconds this is a few small
// entries per second whatever the number of clients, and a renewal is
// answered in about one commit round. etcd instead renews on the leader alone,
// in memory, forwarding keep-alives over HTTP, and its new leader gives every
// lease an extra election timeout to make up for it.
//
// Expiry. While this member leads the coordination group (as the node's
// published status says), a thread of its own ("lease-expiry") wakes every
// check_interval, finds the expired leases and proposes their conditional revokes
// (kv::LeaseExpiry): a lease renewed since the leader judged it, or judged by
// a member that no longer leads and lags, is left alone when the revoke
// applies. At most max_expiring revokes are in flight.
//
// Threads: renew() from any thread; `done` runs on the raft thread (keep it
// quick). stop() from any thread but the raft thread, before the node stops;
// renewals waiting then fail with "server stopped". Proposals in flight keep
// what they need alive, so they may complete after stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "api/etcd_server.h"
#include "base/status.h"
#include "observe/metrics.h"

namespace meridian::api {

inline constexpr size_t kRenewBatchMax = 10000;

struct LeaseKeeperOptions {
  std::chrono::milliseconds check_interval{50};
  size_t max_expiring = 64;
};

class LeaseKeeper {
 public:
  LeaseKeeper(const EtcdBackend& backend, const LeaseKeeperOptions& options,
              observe::Registry* metrics);
  ~LeaseKeeper();  // stop()
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Starts the expiry thread.
  void start();
  // Renews lease `id`: done(granted TTL), or done(0) if it does not exist, once
  // the renewal has applied here; or the node's error (no leader, timeout).
  using RenewDone = std::function<void(base::Result<int64_t>)>;
  void renew(int64_t id, RenewDone done);
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::thread expiry_thread_;
};

}  // namespace meridian::api
