#include "storage/log_model_testing.h"

#include <sstream>

#include "base/assert.h"

namespace meridian::storage::testing {

using raft::Entry;
using raft::Index;
using raft::Term;
using OpType = WriteBatch::OpType;

std::string make_data(uint64_t seed, size_t size) {
  std::string s(size, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x & 0xff);
  }
  return s;
}

void LogModel::apply(const WriteBatch& batch) {
  for (const WriteBatch::Op& op : batch.ops()) {
    auto it = groups_.find(op.group);
    ModelGroup fresh;
    ModelGroup& g = it != groups_.end() ? it->second : fresh;
    const bool existed = it != groups_.end();
    bool touched = true;
    switch (op.type) {
      case OpType::kAppend: {
        std::vector<Entry> es;
        for (const Entry& e : op.entries) {
          if (e.index >= g.first) es.push_back(e);
        }
        if (es.empty()) {
          touched = false;
          break;
        }
        MERIDIAN_ASSERT(es.front().index <= g.last() + 1, "model: append leaves a gap");
        g.entries.resize(es.front().index - g.first);
        g.entries.insert(g.entries.end(), es.begin(), es.end());
        break;
      }
      case OpType::kHardState:
        g.hard_state = op.hard_state;
        break;
      case OpType::kSnapshot: {
        const Index i = op.snapshot.index;
        bool keep = false;
        if (i + 1 == g.first) keep = g.prev_term == op.snapshot.term;
        if (i >= g.first && i <= g.last()) keep = g.entries[i - g.first].term == op.snapshot.term;
        g.snapshot = op.snapshot;
        if (!keep) {
          g.entries.clear();
          g.first = i + 1;
          g.prev_term = op.snapshot.term;
        }
        break;
      }
      case OpType::kCompact:
        if (op.index <= g.first) {
          touched = false;
          break;
        }
        MERIDIAN_ASSERT(op.index <= g.last() + 1, "model: compact past the end");
        g.prev_term = g.entries[op.index - 1 - g.first].term;
        g.entries.erase(g.entries.begin(),
                        g.entries.begin() + static_cast<std::ptrdiff_t>(op.index - g.first));
        g.first = op.index;
        break;
      case OpType::kRemoveGroup:
        groups_.erase(op.group);
        continue;
    }
    if (touched && !existed) groups_.emplace(op.group, std::move(fresh));
  }
}

LogModel LogModel::read(const LogEngine& engine) {
  LogModel m;
  for (GroupId g : engine.groups()) {
    ModelGroup mg;
    mg.hard_state = engine.hard_state(g);
    mg.snapshot = engine.snapshot_meta(g);
    mg.first = engine.first_index(g);
    Result<Term> prev = engine.term(g, mg.first - 1);
    MERIDIAN_ASSERT(prev.is_ok(), "term at first - 1: ", prev.status());
    mg.prev_term = prev.value();
    const Index last = engine.last_index(g);
    Index next = mg.first;
    while (next <= last) {
      auto es = engine.entries(g, next, last + 1, UINT64_MAX);
      MERIDIAN_ASSERT(es.is_ok(), "entries of group ", g, ": ", es.status());
      for (Entry& e : es.value()) mg.entries.push_back(std::move(e));
      next = mg.last() + 1;
    }
    m.groups_.emplace(g, std::move(mg));
  }
  return m;
}

const ModelGroup* LogModel::find(GroupId g) const {
  auto it = groups_.find(g);
  return it == groups_.end() ? nullptr : &it->second;
}

std::string LogModel::diff(const LogModel& other) const {
  std::ostringstream os;
  for (const auto& [g, a] : groups_) {
    const ModelGroup* b = other.find(g);
    if (b == nullptr) {
      os << "group " << g << " missing from the other";
      return os.str();
    }
    if (a.hard_state != b->hard_state) os << "group " << g << " hard state differs; ";
    if (a.snapshot != b->snapshot) {
      os << "group " << g << " snapshot " << a.snapshot.index << " vs " << b->snapshot.index
         << "; ";
    }
    if (a.first != b->first || a.last() != b->last()) {
      os << "group " << g << " log [" << a.first << ", " << a.last() << "] vs [" << b->first << ", "
         << b->last() << "]; ";
    }
    if (a.prev_term != b->prev_term) os << "group " << g << " prev term differs; ";
    if (a.entries != b->entries && a.first == b->first && a.last() == b->last()) {
      for (size_t k = 0; k < a.entries.size(); k++) {
        if (a.entries[k] != b->entries[k]) {
          os << "group " << g << " entry " << a.entries[k].index << " differs; ";
          break;
        }
      }
    }
    if (!os.str().empty()) return os.str();
  }
  for (const auto& [g, b] : other.groups_) {
    if (find(g) == nullptr) {
      os << "group " << g << " only in the other";
      return os.str();
    }
  }
  return "";
}

WorkloadGenerator::WorkloadGenerator(uint64_t seed, uint64_t groups, size_t payload_bytes_max)
    : rng_(seed), groups_(groups), payload_bytes_max_(payload_bytes_max) {}

WriteBatch WorkloadGenerator::next() {
  WriteBatch b;
  time_ms_ += 1 + rng_() % 50;
  b.set_time_ms(time_ms_);
  // Operations of one batch see the effect of the earlier ones, so the generator
  // applies each to a copy as it goes.
  LogModel shadow = model_;
  const size_t ops = 1 + rng_() % 4;
  for (size_t k = 0; k < ops || b.empty(); k++) add_op(b, shadow);
  model_.apply(b);
  MERIDIAN_ASSERT(model_ == shadow, "generator: batch and op-wise application differ");
  return b;
}

void WorkloadGenerator::add_op(WriteBatch& b, LogModel& shadow) {
  WriteBatch one;
  const GroupId g{1 + rng_() % groups_};
  const ModelGroup* mg = shadow.find(g);
  const Index first = mg != nullptr ? mg->first : Index{1};
  const Index last = mg != nullptr ? mg->last() : Index{0};
  const uint64_t dice = rng_() % 100;
  if (dice < 60) {
    // Mostly appends at the end; sometimes a suffix replacement.
    Index start = last + 1;
    if (last >= first && rng_() % 5 == 0) start = first + rng_() % (last - first + 1);
    const Term base = mg != nullptr && !mg->entries.empty() ? mg->entries.back().term : Term{1};
    const Term term = start <= last ? base + 1 : base;
    std::vector<Entry> es;
    const size_t n = 1 + rng_() % 6;
    for (size_t k = 0; k < n; k++) {
      const size_t size = rng_() % (payload_bytes_max_ + 1);
      es.push_back(Entry{term, start + k,
                         rng_() % 10 == 0 ? raft::EntryType::kConfChange : raft::EntryType::kNormal,
                         make_data(rng_(), size)});
    }
    one.append(g, std::move(es));
  } else if (dice < 75) {
    one.set_hard_state(g, raft::HardState{Term{rng_() % 9}, raft::NodeId{rng_() % 4},
                                          Index{rng_() % (last.value() + 1)}});
  } else if (dice < 88) {
    if (last < first) return;
    one.compact(g, first + 1 + rng_() % (last - first + 1));
  } else if (dice < 97) {
    raft::SnapshotMeta meta;
    meta.conf_state.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
    if (rng_() % 3 == 0) meta.conf_state.learners = {raft::NodeId{7}};
    const Index snap = mg != nullptr ? mg->snapshot.index : Index{0};
    if (last >= first && last > snap && rng_() % 2 == 0) {
      // A snapshot of applied state the log holds: entries stay.
      meta.index = std::max(snap + 1, first) + rng_() % (last - std::max(snap + 1, first) + 1);
      meta.term = mg->entries[meta.index - first].term;
    } else {
      // A snapshot from a leader past this log: everything is replaced.
      meta.index = std::max(last, snap) + 1 + rng_() % 5;
      meta.term = Term{5 + rng_() % 3};
    }
    one.install_snapshot(g, meta);
  } else {
    if (mg == nullptr) return;
    one.remove_group(g);
  }
  shadow.apply(one);
  b.merge(std::move(one));
}

}  // namespace meridian::storage::testing
