// LeaseTable: the leases that exist, in memory, with when each expires by this
// member's clock.
//
// The apply thread changes it as it applies grants, renewals and revokes (the
// store's records stay the durable truth; the table is loaded from them at open
// and after a restore). Every member keeps the same set of leases and the same
// renewed indexes; the expiry times are each member's own: the time it applied
// the grant or the last renewal (or loaded the lease), plus the TTL. A member
// applies an entry no earlier than the client sent it, so its expiry is never
// earlier than the TTL after the client's last keep-alive that was applied;
// a new leader therefore already knows when each lease ends and needs no
// grace period of its own (etcd's new leader adds an election timeout to every
// lease's full TTL because its followers do not track expiry). Only the leader
// acts on expiry (api/lease_keeper.h).
//
// Thread-safe: readers on any thread (expiry checks, TimeToLive, Leases).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kv/lease_codec.h"

namespace meridian::kv {

class LeaseTable {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // `now` is the clock (tests pass their own); empty: steady_clock::now.
  explicit LeaseTable(Now now = {});

  // --- the apply thread ---
  // Adds or replaces a lease; it expires its TTL from now.
  void put(int64_t id, const LeaseRecord& record);
  // A renewal applied at `index`: the lease expires its TTL from now. False if
  // the lease does not exist.
  bool renew(int64_t id, uint64_t index);
  void erase(int64_t id);
  void clear();

  // --- any thread ---
  bool contains(int64_t id) const;
  std::optional<LeaseRecord> find(int64_t id) const;
  struct Remaining {
    int64_t granted_ttl = 0;  // seconds
    int64_t ttl = 0;          // seconds left, truncated as etcd's; 0 once expired
  };
  std::optional<Remaining> remaining(int64_t id) const;
  // Every lease id, soonest expiry first (etcd's LeaseLeases order).
  std::vector<int64_t> ids() const;
  // Up to `max` leases expired by now, the longest expired first, with the
  // renewed index each was judged by.
  std::vector<LeaseExpiry> expired(size_t max) const;
  size_t size() const;

 private:
  struct Entry {
    LeaseRecord record;
    Clock::time_point expiry;
  };
  Clock::time_point now() const { return now_ ? now_() : Clock::now(); }
  static Clock::time_point expiry_after(Clock::time_point from, int64_t ttl);

  const Now now_;
  mutable std::mutex mu_;
  std::unordered_map<int64_t, Entry> leases_;  // guarded by mu_
};

}  // namespace meridian::kv
