#include "sim/invariants.h"

#include <algorithm>
#include <cstdint>

#include "sim/trace.h"

namespace meridian::sim {

using raft::Entry;
using raft::Index;
using raft::NodeId;
using raft::Term;

uint64_t entry_hash(const Entry& e) {
  uint64_t h = 0xcbf29ce484222325ull;            // FNV-1a 64-bit offset basis
  constexpr uint64_t kPrime = 0x100000001b3ull;  // FNV-1a 64-bit prime
  h = (h ^ static_cast<uint8_t>(e.type)) * kPrime;
  for (unsigned char c : e.data) h = (h ^ c) * kPrime;
  return h;
}

MaybeViolation SafetyChecker::on_role(NodeId node, raft::Role role, Term term) {
  max_term_ = std::max(max_term_, term);
  if (role != raft::Role::kLeader) return std::nullopt;
  auto [it, inserted] = leaders_.emplace(term, node);
  if (!inserted && it->second != node) {
    return Violation{"election safety",
                     cat("n", node, " and n", it->second, " are both leader of term ", term)};
  }
  return std::nullopt;
}

MaybeViolation SafetyChecker::on_entries_written(NodeId node, const std::vector<Entry>& written,
                                                 const raft::LogStorage& log) {
  for (const Entry& e : written) {
    if (e.index < log.first_index()) continue;  // covered by the snapshot, not written
    const uint64_t h = entry_hash(e);
    auto prev = log.term(e.index - 1);
    const Term prev_term = prev.is_ok() ? prev.value() : Term{0};
    auto [it, inserted] = written_.try_emplace({e.index, e.term}, Written{h, prev_term, node});
    if (inserted) continue;
    if (it->second.hash != h) {
      return Violation{"log matching", cat("n", node, " and n", it->second.first_writer,
                                           " hold different entries at ", e.term, "/", e.index)};
    }
    if (prev.is_ok() && it->second.prev_term != prev_term) {
      return Violation{"log matching",
                       cat("n", node, " and n", it->second.first_writer, " both hold ", e.term, "/",
                           e.index, " but differ before it: term ", prev_term, " vs ",
                           it->second.prev_term, " at ", e.index - 1)};
    }
  }
  return std::nullopt;
}

MaybeViolation SafetyChecker::record_committed(NodeId node, Index i, Term term, uint64_t hash,
                                               Term commit_term, const char* how) {
  if (committed_.size() <= i.value()) committed_.resize(i.value() + 1);
  Committed& c = committed_[i.value()];
  if (!c.known) {
    c = Committed{true, term, hash, commit_term, node};
    ++committed_count_;
    return std::nullopt;
  }
  if (c.term != term || c.hash != hash) {
    return Violation{"state machine safety",
                     cat("n", node, " ", how, " ", term, "/", i, " but n", c.first_seen,
                         " committed a different entry ", c.term, "/", i, " there")};
  }
  c.commit_term = std::min(c.commit_term, commit_term);
  return std::nullopt;
}

MaybeViolation SafetyChecker::on_leader_commit(NodeId node, Term term, Index old_commit,
                                               Index new_commit, const raft::LogStorage& log) {
  if (new_commit <= old_commit) return std::nullopt;
  if (new_commit > log.last_index()) {
    return Violation{"commit bound", cat("leader n", node, " commits ", new_commit,
                                         " past its last index ", log.last_index())};
  }
  const Index lo = std::max(old_commit + 1, log.first_index());
  if (lo > new_commit) return std::nullopt;
  auto entries = log.entries(lo, new_commit + 1, UINT64_MAX);
  if (!entries.is_ok()) return std::nullopt;  // compacted meanwhile: nothing to learn
  for (const Entry& e : entries.value()) {
    auto v = record_committed(node, e.index, e.term, entry_hash(e), term, "commits");
    if (v) return v;
  }
  return std::nullopt;
}

MaybeViolation SafetyChecker::on_leader_log(NodeId node, Term term, const raft::LogStorage& log) {
  // Node ids are below 2^24 and terms below 2^40 in any run; the key is unique.
  if (!leader_logs_checked_.insert((node.value() << 40) | term.value()).second) {
    return std::nullopt;
  }
  const Index last = log.last_index();
  for (uint64_t i = log.first_index().value(); i < committed_.size(); ++i) {
    const Committed& c = committed_[i];
    if (!c.known || c.commit_term >= term) continue;
    if (Index{i} > last) {
      return Violation{"leader completeness",
                       cat("n", node, " leads term ", term, " with last index ", last, " but ",
                           c.term, "/", i, " was committed in term ", c.commit_term)};
    }
    auto t = log.term(Index{i});
    if (t.is_ok() && t.value() != c.term) {
      return Violation{"leader completeness",
                       cat("n", node, " leads term ", term, " holding ", t.value(), "/", i, " but ",
                           c.term, "/", i, " was committed in term ", c.commit_term)};
    }
  }
  return std::nullopt;
}

MaybeViolation SafetyChecker::check_commit_rule(NodeId node, Term term, Index old_commit,
                                                Index new_commit,
                                                const raft::LogStorage& log) const {
  if (new_commit <= old_commit) return std::nullopt;
  auto t = log.term(new_commit);
  if (!t.is_ok() || t.value() == term) return std::nullopt;
  return Violation{"commitment rule",
                   cat("leader n", node, " of term ", term, " moved its commit index onto ",
                       t.value(), "/", new_commit, ", an entry of an earlier term")};
}

MaybeViolation SafetyChecker::check_persisted_before_send(const raft::Message& m,
                                                          const SyncedLog& durable,
                                                          const raft::LogStorage& log) const {
  using raft::MessageType;
  if (m.type == MessageType::kAppendResponse && !m.reject) {
    const Index i = m.index;
    const Index snap = durable.first_index() - 1;
    bool ok = i <= durable.last_index();
    if (ok && i > snap) {
      const std::optional<Term> dt = durable.term(i);
      auto lt = log.term(i);
      ok = !dt || !lt.is_ok() || *dt == lt.value();
    }
    if (!ok) {
      return Violation{"persist before responding",
                       cat("n", m.from, " acknowledges index ", i, " to n", m.to,
                           " but its durable log ends at ", durable.last_index())};
    }
  }
  const bool vote_granted = m.type == MessageType::kVoteResponse && !m.reject;
  if (vote_granted || m.type == MessageType::kVote) {
    const NodeId candidate = vote_granted ? m.to : m.from;
    const raft::HardState hs = durable.hard_state();
    if (hs.term != m.term || hs.vote != candidate) {
      return Violation{"persist before responding",
                       cat("n", m.from, " sends a ", vote_granted ? "vote" : "vote request",
                           " for n", candidate, " in term ", m.term,
                           " but its durable hard state is term ", hs.term, " vote ", hs.vote)};
    }
  }
  return std::nullopt;
}

MaybeViolation SafetyChecker::on_applied(NodeId node, const Entry& e) {
  return record_committed(node, e.index, e.term, entry_hash(e), max_term_, "applies");
}

MaybeViolation SafetyChecker::on_snapshot(NodeId node, const raft::SnapshotMeta& meta) {
  const uint64_t i = meta.index.value();
  if (i >= committed_.size() || !committed_[i].known) return std::nullopt;
  if (committed_[i].term != meta.term) {
    return Violation{"state machine safety",
                     cat("n", node, " installs a snapshot at ", meta.term, "/", i, " but ",
                         committed_[i].term, "/", i, " was committed")};
  }
  return std::nullopt;
}

}  // namespace meridian::sim
