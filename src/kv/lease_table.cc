#include "kv/lease_table.h"

#include <algorithm>

namespace meridian::kv {

LeaseTable::LeaseTable(Now now) : now_(std::move(now)) {}

LeaseTable::Clock::time_point LeaseTable::expiry_after(Clock::time_point from, int64_t ttl) {
  // etcd's largest TTL (9e9 s) would overflow the clock's nanoseconds; a
  // century is forever enough.
  constexpr int64_t kForever = int64_t{100} * 365 * 24 * 3600;
  return from + std::chrono::seconds(std::clamp<int64_t>(ttl, 0, kForever));
}

void LeaseTable::put(int64_t id, const LeaseRecord& record) {
  const Clock::time_point t = now();
  std::lock_guard lock(mu_);
  leases_[id] = Entry{record, expiry_after(t, record.ttl)};
}

bool LeaseTable::renew(int64_t id, uint64_t index) {
  const Clock::time_point t = now();
  std::lock_guard lock(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return false;
  it->second.record.renewed_index = index;
  it->second.expiry = expiry_after(t, it->second.record.ttl);
  return true;
}

void LeaseTable::erase(int64_t id) {
  std::lock_guard lock(mu_);
  leases_.erase(id);
}

void LeaseTable::clear() {
  std::lock_guard lock(mu_);
  leases_.clear();
}

bool LeaseTable::contains(int64_t id) const {
  std::lock_guard lock(mu_);
  return leases_.contains(id);
}

std::optional<LeaseRecord> LeaseTable::find(int64_t id) const {
  std::lock_guard lock(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  return it->second.record;
}

std::optional<LeaseTable::Remaining> LeaseTable::remaining(int64_t id) const {
  const Clock::time_point t = now();
  std::lock_guard lock(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.expiry - t);
  return Remaining{it->second.record.ttl, std::max<int64_t>(left.count(), 0)};
}

std::vector<int64_t> LeaseTable::ids() const {
  std::vector<std::pair<Clock::time_point, int64_t>> order;
  {
    std::lock_guard lock(mu_);
    order.reserve(leases_.size());
    for (const auto& [id, e] : leases_) order.emplace_back(e.expiry, id);
  }
  std::sort(order.begin(), order.end());
  std::vector<int64_t> out;
  out.reserve(order.size());
  for (const auto& [expiry, id] : order) out.push_back(id);
  return out;
}

std::vector<LeaseExpiry> LeaseTable::expired(size_t max) const {
  const Clock::time_point t = now();
  std::vector<std::pair<Clock::time_point, LeaseExpiry>> found;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : leases_) {
      if (e.expiry <= t) found.emplace_back(e.expiry, LeaseExpiry{id, e.record.renewed_index});
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (found.size() > max) found.resize(max);
  std::vector<LeaseExpiry> out;
  out.reserve(found.size());
  for (const auto& [expiry, e] : found) out.push_back(e);
  return out;
}

size_t LeaseTable::size() const {
  std::lock_guard lock(mu_);
  return leases_.size();
}

}  // namespace meridian::kv
