// Test support for the log engine: LogModel, a deliberately plain reference model
// of what a LogEngine holds after a sequence of WriteBatches (whole entries in
// vectors, no files, no index), written from write_batch.h independently of the
// engine's code; and helpers that read an engine's whole state for comparison.
// Single-threaded; tests only.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/ids.h"
#include "raft/types.h"
#include "storage/log_engine.h"
#include "storage/write_batch.h"

namespace meridian::storage::testing {

struct ModelGroup {
  raft::HardState hard_state;
  raft::SnapshotMeta snapshot;
  raft::Index first{1};
  raft::Term prev_term;  // term at first - 1
  std::vector<raft::Entry> entries;

  raft::Index last() const { return first + entries.size() - 1; }
  bool operator==(const ModelGroup&) const = default;
};

class LogModel {
 public:
  // Applies a batch that the engine accepted (asserts what it relies on).
  void apply(const WriteBatch& batch);
  // Everything `engine` holds, read through its public reads.
  static LogModel read(const LogEngine& engine);

  const std::map<GroupId, ModelGroup>& groups() const { return groups_; }
  const ModelGroup* find(GroupId g) const;
  bool operator==(const LogModel&) const = default;
  // A readable account of the first difference from `other`, or "" if equal.
  std::string diff(const LogModel& other) const;

 private:
  std::map<GroupId, ModelGroup> groups_;
};

// A deterministic workload of valid batches over a few groups: appends (some
// replacing a suffix), hard states, compactions, snapshots of both kinds and group
// removals, with payloads of varied sizes. Each next() is valid for the state the
// earlier ones left, which the generator tracks in its own model.
class WorkloadGenerator {
 public:
  explicit WorkloadGenerator(uint64_t seed, uint64_t groups = 4, size_t payload_bytes_max = 300);
  WriteBatch next();
  const LogModel& model() const { return model_; }

 private:
  void add_op(WriteBatch& b, LogModel& shadow);

  std::mt19937_64 rng_;
  uint64_t groups_;
  size_t payload_bytes_max_;
  uint64_t time_ms_ = 1000;
  LogModel model_;
};

// Deterministic entry data of the given size.
std::string make_data(uint64_t seed, size_t size);

}  // namespace meridian::storage::testing
