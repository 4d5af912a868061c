// MapStateMachine: a replicated string map, the state machine the node hosts
// until the etcd-compatible store (kv/) replaces it. The admin endpoint's
// /v1/kv/ routes use it to exercise the cluster end to end, and the benchmarks
// use its no-op command to measure replication alone.
//
// Commands (encode_*): put key value, delete key, no-op. apply() returns "ok",
// the previous value's presence ("deleted"/"absent"), or "noop".
// Snapshot format: u32 count, then per key u32 len, key, u32 len, value (little
// endian); keys sorted, so equal states give equal snapshots.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "node/state_machine.h"

namespace meridian::node {

std::string encode_put(std::string_view key, std::string_view value);
std::string encode_delete(std::string_view key);
// A command that changes nothing; `padding` bytes of payload (throughput tests).
std::string encode_noop(size_t padding = 0);

class MapStateMachine : public StateMachine {
 public:
  std::string apply(raft::Index index, std::string_view command) override;
  std::string snapshot() const override;
  base::Status restore(std::string_view data) override;

  std::optional<std::string> get(const std::string& key) const;
  size_t size() const { return map_.size(); }
  uint64_t applied_commands() const { return applied_commands_; }

 private:
  std::map<std::string, std::string, std::less<>> map_;
  uint64_t applied_commands_ = 0;
};

}  // namespace meridian::node
