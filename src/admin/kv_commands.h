// The admin endpoint's /v1/kv routes work on whichever state machine a group
// runs: the etcd store (kv::KvStateMachine, group 1 of `meridian start`) or the
// plain replicated map (node::MapStateMachine, the other groups and tests).
// These functions make each kind's commands and read its answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "node/state_machine.h"

namespace meridian::admin {

enum class MachineKind : uint8_t { kMap, kKv };

// nullopt for a machine of another kind.
std::optional<MachineKind> machine_kind(const node::StateMachine& sm);

std::string put_command(MachineKind kind, std::string_view key, std::string_view value);
std::string delete_command(MachineKind kind, std::string_view key);

struct WriteOutcome {
  bool deleted = false;  // a delete removed the key
  int64_t revision = 0;  // the etcd store's revision after the write (kKv only)
};
// The state machine's answer to a put or delete command; an error the store
// returned (etcd's message) as kFailedPrecondition.
base::Result<WriteOutcome> decode_write(MachineKind kind, bool is_put, std::string_view result);

// The key's current value in the machine's state, nullopt if absent (runs on
// the raft thread, inside a read query).
std::optional<std::string> read_value(const node::StateMachine& sm, const std::string& key);

}  // namespace meridian::admin
