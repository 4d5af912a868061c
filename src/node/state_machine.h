// StateMachine: what a Raft group replicates. The node applies committed commands
// to it in log order, on the node's thread, and asks it for snapshots to compact
// the log and to bring lagging members up to date.
//
// Determinism: apply() must produce the same state and result on every member
// from the same sequence of commands; it may not read clocks or random sources.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "raft/types.h"

namespace meridian::node {

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies the command committed at `index`; the result goes back to the
  // proposer. A command the machine rejects still counts as applied (the log
  // has it everywhere): return the error as the result, do not fail.
  virtual std::string apply(raft::Index index, std::string_view command) = 0;
  // The whole state as bytes (taken after everything up to the applied index).
  virtual std::string snapshot() const = 0;
  // Replaces the whole state with a snapshot's; kCorruption if it does not decode
  // (the state is then unchanged).
  virtual base::Status restore(std::string_view data) = 0;
  // A machine that keeps its state durably itself (on disk, with the index of
  // the last entry applied to it) returns that index: on restart the node then
  // restores no snapshot older than it and replays only the entries after it.
  // In-memory machines return 0 and are rebuilt from snapshot and log.
  virtual raft::Index durable_applied_index() const { return raft::Index{0}; }
};

}  // namespace meridian::node
