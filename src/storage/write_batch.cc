#include "storage/write_batch.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace meridian::storage {
namespace {

// Estimates of the encoded size (docs/formats/storage.md): an op header (type and
// group) and an entry header (term, type, length, checksum) are each at most about
// this many bytes; size_bytes() needs to be close, not exact.
constexpr uint64_t kOpOverheadBytes = 16;
constexpr uint64_t kEntryOverheadBytes = 16;
// A snapshot's membership lists cost a few bytes per node.
constexpr uint64_t kNodeBytes = 4;

uint64_t conf_state_bytes(const raft::ConfState& cs) {
  return kNodeBytes * (cs.voters.size() + cs.voters_outgoing.size() + cs.learners.size() +
                       cs.learners_next.size());
}

WriteBatch::Op make_op(WriteBatch::OpType type, GroupId g) {
  WriteBatch::Op op;
  op.type = type;
  op.group = g;
  return op;
}

}  // namespace

void WriteBatch::append(GroupId g, std::vector<raft::Entry> entries) {
  uint64_t bytes = kOpOverheadBytes;
  for (const raft::Entry& e : entries) bytes += kEntryOverheadBytes + e.data.size();
  Op op = make_op(OpType::kAppend, g);
  op.entries = std::move(entries);
  ops_.push_back(std::move(op));
  size_bytes_ += bytes;
}

void WriteBatch::set_hard_state(GroupId g, const raft::HardState& hs) {
  Op op = make_op(OpType::kHardState, g);
  op.hard_state = hs;
  ops_.push_back(std::move(op));
  size_bytes_ += kOpOverheadBytes;
}

void WriteBatch::install_snapshot(GroupId g, const raft::SnapshotMeta& meta) {
  Op op = make_op(OpType::kSnapshot, g);
  op.snapshot = meta;
  ops_.push_back(std::move(op));
  size_bytes_ += kOpOverheadBytes + conf_state_bytes(meta.conf_state);
}

void WriteBatch::compact(GroupId g, raft::Index index) {
  Op op = make_op(OpType::kCompact, g);
  op.index = index;
  ops_.push_back(std::move(op));
  size_bytes_ += kOpOverheadBytes;
}

void WriteBatch::remove_group(GroupId g) {
  ops_.push_back(make_op(OpType::kRemoveGroup, g));
  size_bytes_ += kOpOverheadBytes;
}

void WriteBatch::merge(WriteBatch&& other) {
  if (ops_.empty()) {
    ops_ = std::move(other.ops_);
  } else {
    // No exact reserve here: merging a round of n batches one by one would then
    // reallocate every time (quadratic); the vector's own growth is amortized.
    std::move(other.ops_.begin(), other.ops_.end(), std::back_inserter(ops_));
  }
  size_bytes_ += other.size_bytes_;
  // The merged entries were all appended by now: the latest stamp is the closest
  // to the time they reach the journal, and retention by age never drops early.
  time_ms_ = std::max(time_ms_, other.time_ms_);
  other.ops_.clear();
  other.size_bytes_ = 0;
}

}  // namespace meridian::storage
