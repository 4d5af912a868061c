#include "storage/group_index.h"

#include <algorithm>
#include <optional>
#include <sstream>
#include <utility>

#include "base/assert.h"

namespace meridian::storage {
namespace {

using raft::Index;
using raft::Term;
using OpType = WriteBatch::OpType;

template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

Status invalid(const std::string& what) { return Status(Code::kInvalidArgument, what); }
Status inconsistent(const std::string& what) {
  return Status(Code::kCorruption, "record does not fit the log: " + what);
}

// A group as plan() sees it while walking a batch: the stored state with the
// batch's earlier operations laid over it, without copying the stored entries.
struct Shadow {
  bool exists = false;
  Index first{1};
  Index last{0};
  Term prev_term;
  Index snapshot_index;
  const GroupState* stored = nullptr;
  Index stored_end{0};  // stored entries below this index are still in the log
  Index overlay_start{1};
  std::vector<Term> overlay;  // terms of the batch's entries, overlay_start .. last

  static Shadow of(const GroupState* gs) {
    Shadow s;
    if (gs == nullptr) return s;
    s.exists = true;
    s.first = gs->first;
    s.last = gs->last();
    s.prev_term = gs->prev_term;
    s.snapshot_index = gs->snapshot.index;
    s.stored = gs;
    s.stored_end = s.last + 1;
    s.overlay_start = s.last + 1;
    return s;
  }

  std::optional<Term> term(Index i) const {
    if (i + 1 == first) return prev_term;
    if (i < first || i > last) return std::nullopt;
    if (i >= overlay_start) return overlay[i - overlay_start];
    MERIDIAN_ASSERT(stored != nullptr && i < stored_end, "shadow term at ", i, " has no source");
    return Term{stored->at(i).term};
  }

  // The log becomes empty and continues after `index`, whose term is `term`.
  void reset(Index index, Term term) {
    first = index + 1;
    last = index;
    prev_term = term;
    stored_end = Index{0};
    overlay_start = index + 1;
    overlay.clear();
  }

  void truncate_from(Index start) {
    if (start > last) return;
    if (start >= overlay_start) {
      overlay.resize(start - overlay_start);
    } else {
      stored_end = std::min(stored_end, start);
      overlay_start = start;
      overlay.clear();
    }
    last = start - 1;
  }
};

Status plan_append(const WriteBatch::Op& op, Shadow& s, OpPlan& p) {
  const std::vector<raft::Entry>& es = op.entries;
  if (es.empty()) {
    p.skip = true;
    return Status::ok();
  }
  if (es.front().index == Index{0}) return invalid(cat("group ", op.group, ": append at index 0"));
  for (size_t k = 1; k < es.size(); k++) {
    if (es[k].index != es[k - 1].index + 1) {
      return invalid(cat("group ", op.group, ": append index ", es[k].index, " does not follow ",
                         es[k - 1].index));
    }
  }
  // Entries the snapshot already covers are skipped, as raft::MemoryStorage does.
  if (es.back().index < s.first) {
    p.skip = true;
    return Status::ok();
  }
  p.covered = es.front().index < s.first ? static_cast<uint32_t>(s.first - es.front().index) : 0;
  const Index start = es[p.covered].index;
  if (start > s.last + 1) {
    return invalid(cat("group ", op.group, ": append at ", start, " leaves a gap after ", s.last));
  }
  s.truncate_from(start);
  for (size_t k = p.covered; k < es.size(); k++) s.overlay.push_back(es[k].term);
  s.last = es.back().index;
  s.exists = true;
  return Status::ok();
}

Status plan_snapshot(const WriteBatch::Op& op, Shadow& s, OpPlan& p) {
  const raft::SnapshotMeta& m = op.snapshot;
  if (m.index == Index{0}) return invalid(cat("group ", op.group, ": snapshot at index 0"));
  if (m.index < s.snapshot_index) {
    return invalid(
        cat("group ", op.group, ": snapshot at ", m.index, " is older than ", s.snapshot_index));
  }
  // Raft §7 (Figure 13, InstallSnapshot steps 6-7): a log that holds the
  // snapshot's last entry (same index and term) keeps its entries; otherwise the
  // whole log is discarded. The first case is also how a replica records a
  // snapshot of its own applied state.
  const std::optional<Term> t = s.term(m.index);
  p.keep_log = t.has_value() && *t == m.term;
  if (!p.keep_log) s.reset(m.index, m.term);
  s.snapshot_index = m.index;
  s.exists = true;
  return Status::ok();
}

Status plan_compact(const WriteBatch::Op& op, Shadow& s, OpPlan& p) {
  if (op.index > s.last + 1) {
    return invalid(cat("group ", op.group, ": compact to ", op.index, " past last index ", s.last));
  }
  if (op.index <= s.first) {
    p.skip = true;  // already compacted that far
    return Status::ok();
  }
  const std::optional<Term> t = s.term(op.index - 1);
  MERIDIAN_ASSERT(t.has_value(), "no term at ", op.index - 1, " in [", s.first, ", ", s.last, "]");
  p.compact_term = *t;
  s.first = op.index;
  s.prev_term = *t;
  s.exists = true;
  return Status::ok();
}

}  // namespace

Status GroupIndex::plan(const WriteBatch& batch, std::vector<OpPlan>& plans) const {
  plans.assign(batch.ops().size(), OpPlan{});
  std::map<GroupId, Shadow> shadows;
  for (size_t k = 0; k < batch.ops().size(); k++) {
    const WriteBatch::Op& op = batch.ops()[k];
    auto it = shadows.find(op.group);
    if (it == shadows.end()) it = shadows.emplace(op.group, Shadow::of(find(op.group))).first;
    Shadow& s = it->second;
    OpPlan& p = plans[k];
    Status st;
    switch (op.type) {
      case OpType::kAppend:
        st = plan_append(op, s, p);
        break;
      case OpType::kHardState:
        s.exists = true;
        break;
      case OpType::kSnapshot:
        st = plan_snapshot(op, s, p);
        break;
      case OpType::kCompact:
        st = plan_compact(op, s, p);
        break;
      case OpType::kRemoveGroup:
        p.skip = !s.exists;
        s = Shadow{};
        break;
      default:
        st = invalid(cat("unknown operation type ", static_cast<int>(op.type)));
    }
    if (!st.is_ok()) return st;
  }
  return Status::ok();
}

Status GroupIndex::apply(const WriteBatch::Op& op, const OpPlan& plan, uint32_t segment,
                         const std::vector<uint32_t>& data_offsets, uint64_t time_ms) {
  MERIDIAN_ASSERT(!plan.skip, "apply of an operation that is not recorded");
  switch (op.type) {
    case OpType::kAppend:
      return apply_append(op, plan, segment, data_offsets, time_ms);
    case OpType::kHardState:
      get_or_create(op.group).hard_state = op.hard_state;
      return Status::ok();
    case OpType::kSnapshot:
      return apply_snapshot(op, plan);
    case OpType::kCompact: {
      GroupState& gs = get_or_create(op.group);
      if (op.index <= gs.first || op.index > gs.last() + 1) {
        return inconsistent(cat("group ", op.group, ": compact to ", op.index, " outside (",
                                gs.first, ", ", gs.last() + 1, "]"));
      }
      while (gs.first < op.index) drop_front(gs);
      gs.prev_term = plan.compact_term;
      return Status::ok();
    }
    case OpType::kRemoveGroup: {
      auto it = groups_.find(op.group);
      if (it == groups_.end()) return inconsistent(cat("group ", op.group, ": removed twice"));
      drop_all(it->second);
      groups_.erase(it);
      return Status::ok();
    }
  }
  return inconsistent(cat("unknown operation type ", static_cast<int>(op.type)));
}

Status GroupIndex::apply_append(const WriteBatch::Op& op, const OpPlan& plan, uint32_t segment,
                                const std::vector<uint32_t>& data_offsets, uint64_t time_ms) {
  MERIDIAN_ASSERT(plan.covered < op.entries.size(), "append without recorded entries");
  MERIDIAN_ASSERT(data_offsets.size() == op.entries.size() - plan.covered, "append of ",
                  op.entries.size() - plan.covered, " entries with ", data_offsets.size(),
                  " offsets");
  const Index start = op.entries[plan.covered].index;
  const GroupState* existing = find(op.group);
  const Index first = existing != nullptr ? existing->first : Index{1};
  const Index last = existing != nullptr ? existing->last() : Index{0};
  if (start < first || start > last + 1) {
    return inconsistent(
        cat("group ", op.group, ": append at ", start, " outside [", first, ", ", last + 1, "]"));
  }
  GroupState& gs = get_or_create(op.group);
  while (!gs.entries.empty() && gs.last() >= start) drop_back(gs);
  // Only the newest entries that fit the group's cache are copied into it; the
  // others would be evicted again by the end of this append.
  size_t cache_from = op.entries.size();
  uint64_t cached = 0;
  while (cache_from > plan.covered &&
         op.entries[cache_from - 1].data.size() <= limits_.group_bytes_max - cached) {
    cache_from--;
    cached += op.entries[cache_from].data.size();
  }
  for (size_t k = plan.covered; k < op.entries.size(); k++) {
    const raft::Entry& e = op.entries[k];
    MERIDIAN_ASSERT(e.data.size() <= kFramePayloadMax, "entry of ", e.data.size(), " bytes");
    const EntryMeta meta{.term = e.term.value(),
                         .time_ms = time_ms,
                         .segment = segment,
                         .offset = data_offsets[k - plan.covered],
                         .size = static_cast<uint32_t>(e.data.size()),
                         .type = e.type};
    push_entry(gs, meta, e.data, k >= cache_from);
  }
  return Status::ok();
}

Status GroupIndex::apply_snapshot(const WriteBatch::Op& op, const OpPlan& plan) {
  const raft::SnapshotMeta& m = op.snapshot;
  GroupState& gs = get_or_create(op.group);
  if (m.index == Index{0} || m.index < gs.snapshot.index) {
    return inconsistent(
        cat("group ", op.group, ": snapshot at ", m.index, " after one at ", gs.snapshot.index));
  }
  if (plan.keep_log && (m.index + 1 < gs.first || m.index > gs.last())) {
    return inconsistent(cat("group ", op.group, ": snapshot at ", m.index, " keeps a log of [",
                            gs.first, ", ", gs.last(), "]"));
  }
  gs.snapshot = m;
  if (!plan.keep_log) {
    drop_all(gs);
    gs.first = m.index + 1;
    gs.prev_term = m.term;
  }
  return Status::ok();
}

std::vector<GroupCheckpoint> GroupIndex::checkpoint() const {
  std::vector<GroupCheckpoint> out;
  out.reserve(groups_.size());
  for (const auto& [g, gs] : groups_) {
    out.push_back(GroupCheckpoint{.group = g,
                                  .hard_state = gs.hard_state,
                                  .snapshot = gs.snapshot,
                                  .first_index = gs.first,
                                  .prev_term = gs.prev_term,
                                  .entry_count = gs.entries.size()});
  }
  return out;
}

void GroupIndex::apply_checkpoint(const std::vector<GroupCheckpoint>& groups) {
  // Groups removed in collected segments: the checkpoint no longer lists them.
  // Both sequences ascend by group, so one walk finds them.
  auto listed = groups.begin();
  for (auto it = groups_.begin(); it != groups_.end();) {
    while (listed != groups.end() && listed->group < it->first) ++listed;
    if (listed != groups.end() && listed->group == it->first) {
      ++it;
    } else {
      drop_all(it->second);
      it = groups_.erase(it);
    }
  }
  for (const GroupCheckpoint& cp : groups) {
    GroupState& gs = get_or_create(cp.group);
    gs.hard_state = cp.hard_state;
    gs.snapshot = cp.snapshot;
    gs.prev_term = cp.prev_term;
    const Index last = cp.first_index + cp.entry_count - 1;
    while (!gs.entries.empty() && gs.first < cp.first_index) drop_front(gs);
    while (!gs.entries.empty() && gs.last() > last) drop_back(gs);
    if (gs.entries.empty()) gs.first = cp.first_index;
    while (gs.first > cp.first_index) {
      gs.entries.emplace_front();
      gs.first = gs.first - 1;
    }
    if (gs.last() < last) {
      // The cache covers the newest entries only; a placeholder now is the newest.
      while (!gs.recent.empty()) pop_recent_front(gs);
      while (gs.last() < last) gs.entries.emplace_back();
    }
  }
}

Status GroupIndex::check_complete() const {
  for (const auto& [g, gs] : groups_) {
    for (size_t k = 0; k < gs.entries.size(); k++) {
      if (gs.entries[k].segment != 0) continue;
      size_t end = k;
      while (end + 1 < gs.entries.size() && gs.entries[end + 1].segment == 0) end++;
      return Status(Code::kCorruption,
                    cat("group ", g, ": entries ", gs.first + k, "..", gs.first + end,
                        " are missing (a segment holding them is gone)"));
    }
  }
  return Status::ok();
}

const GroupState* GroupIndex::find(GroupId g) const {
  auto it = groups_.find(g);
  return it == groups_.end() ? nullptr : &it->second;
}

uint64_t GroupIndex::live_entries(uint32_t segment) const {
  auto it = live_.find(segment);
  return it == live_.end() ? 0 : it->second;
}

void GroupIndex::push_entry(GroupState& gs, const EntryMeta& meta, const std::string& data,
                            bool cache) {
  gs.entries.push_back(meta);
  live_[meta.segment]++;
  if (!cache) {
    // The cache must be the newest entries without a gap.
    while (!gs.recent.empty()) pop_recent_front(gs);
    return;
  }
  gs.recent.push_back(data);
  gs.recent_bytes += data.size();
  recent_bytes_ += data.size();
  trim_recent(gs);
}

void GroupIndex::drop_front(GroupState& gs) {
  MERIDIAN_ASSERT(!gs.entries.empty(), "drop_front of an empty log");
  if (gs.recent.size() == gs.entries.size()) pop_recent_front(gs);
  const uint32_t segment = gs.entries.front().segment;
  if (segment != 0) {
    auto it = live_.find(segment);
    MERIDIAN_ASSERT(it != live_.end() && it->second > 0, "segment ", segment, " count underflow");
    if (--it->second == 0) live_.erase(it);
  }
  gs.entries.pop_front();
  gs.first = gs.first + 1;
}

void GroupIndex::drop_back(GroupState& gs) {
  MERIDIAN_ASSERT(!gs.entries.empty(), "drop_back of an empty log");
  if (!gs.recent.empty()) {
    gs.recent_bytes -= gs.recent.back().size();
    recent_bytes_ -= gs.recent.back().size();
    gs.recent.pop_back();
  }
  const uint32_t segment = gs.entries.back().segment;
  if (segment != 0) {
    auto it = live_.find(segment);
    MERIDIAN_ASSERT(it != live_.end() && it->second > 0, "segment ", segment, " count underflow");
    if (--it->second == 0) live_.erase(it);
  }
  gs.entries.pop_back();
}

void GroupIndex::drop_all(GroupState& gs) {
  while (!gs.entries.empty()) drop_back(gs);
}

void GroupIndex::pop_recent_front(GroupState& gs) {
  MERIDIAN_ASSERT(!gs.recent.empty(), "pop of an empty cache");
  gs.recent_bytes -= gs.recent.front().size();
  recent_bytes_ -= gs.recent.front().size();
  gs.recent.pop_front();
}

void GroupIndex::trim_recent(GroupState& gs) {
  while (gs.recent_bytes > limits_.group_bytes_max) pop_recent_front(gs);
  // Over the total: empty other groups' caches in turn (round robin from the one
  // emptied last), sparing the group being appended to, so that idle groups give
  // way to active ones and each eviction frees a whole cache at once.
  while (recent_bytes_ > limits_.total_bytes_max) {
    GroupState* victim = nullptr;
    auto it = groups_.upper_bound(evict_cursor_);
    for (size_t n = 0; n < groups_.size(); n++, ++it) {
      if (it == groups_.end()) it = groups_.begin();
      if (&it->second != &gs && !it->second.recent.empty()) {
        victim = &it->second;
        evict_cursor_ = it->first;
        break;
      }
    }
    if (victim == nullptr) victim = &gs;  // the only group with a cache
    while (!victim->recent.empty() && recent_bytes_ > limits_.total_bytes_max) {
      pop_recent_front(*victim);
    }
    if (victim != &gs) {
      while (!victim->recent.empty()) pop_recent_front(*victim);
    }
  }
}

}  // namespace meridian::storage
