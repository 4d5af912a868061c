#include "sim/linearizability.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "base/assert.h"

namespace meridian::sim {
namespace {

// A kUnknown operation never returns: it stays pending to the end of the history.
constexpr uint64_t kNeverReturns = std::numeric_limits<uint64_t>::max();

// Memoization trades memory for time. Past roughly this many bytes the search
// goes on without recording new configurations (still correct, only slower), so
// a pathological history cannot exhaust the simulator host's memory; the step
// budget bounds the time. 512 MiB: well above what any history the step budget
// lets through needs in practice, well below a test machine's RAM.
constexpr size_t kCacheBytesMax = size_t{512} << 20;

// An explanation lists at most this many operations of the failing key, and as
// many of the linearizable prefix: enough context around the failure for a
// human, while a long run's report stays readable.
constexpr size_t kExplainOpsMax = 200;

// splitmix64's finalizer: a cheap, well-mixing 64-bit hash.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

// The values of one key as small integers, so that the search state is an
// integer and string equality is decided once, up front. Only values that some
// operation can observe get an id of their own: "" (an absent key), a completed
// get's output and any CAS's expected value. Any other written value is one no
// get returns and no CAS compares equal to, so the model cannot tell such
// values apart and they share kUnobserved. The merge is exact, and it folds
// together configurations that differ only in which unread value was written
// last, which concurrent blind puts would otherwise multiply.
class ValueIds {
 public:
  static constexpr uint32_t kAbsent = 0;
  static constexpr uint32_t kUnobserved = 1;

  void observe(const std::string& s) {
    if (ids_.try_emplace(s, next_id_).second) ++next_id_;
  }
  uint32_t of(const std::string& s) const {
    const auto it = ids_.find(s);
    return it == ids_.end() ? kUnobserved : it->second;
  }

 private:
  std::unordered_map<std::string, uint32_t> ids_{{"", kAbsent}};
  uint32_t next_id_ = kUnobserved + 1;
};

// One operation of a key's sub-history with its strings interned.
struct KeyOp {
  const Operation* src = nullptr;
  bool known = false;  // kOk: must be linearized, and its output must match
  uint32_t value = 0;  // Put value, Cas new value
  uint32_t expected = 0;
  uint32_t output = 0;  // Get output
  uint64_t return_time = 0;
};

// The sequential model of one key: applies op to state, storing the new state in
// *next; returns false if the op's recorded output contradicts the model.
bool apply(const KeyOp& op, uint32_t state, uint32_t* next) {
  switch (op.src->kind) {
    case OpKind::kPut:
      *next = op.value;
      return true;
    case OpKind::kGet:
      *next = state;
      return !op.known || op.output == state;
    case OpKind::kCas: {
      const bool swapped = state == op.expected;
      *next = swapped ? op.value : state;
      return !op.known || op.src->output_ok == swapped;
    }
  }
  MERIDIAN_ASSERT(false, "unknown OpKind ", static_cast<int>(op.src->kind));
  return false;
}

// Whether op, wherever it is legal, leaves the value unchanged: a completed get,
// a completed CAS that failed, a completed CAS that succeeded writing back its
// expected value. Not a put, nor an unknown CAS: those are no-ops only in some
// states, and that is the property the reduction in KeySearch::run relies on.
bool read_only(const KeyOp& op) {
  if (!op.known) return false;
  switch (op.src->kind) {
    case OpKind::kPut:
      return false;
    case OpKind::kGet:
      return true;
    case OpKind::kCas:
      return !op.src->output_ok || op.expected == op.value;
  }
  return false;
}

// Zobrist hashing: a set's hash is the xor of one pseudo-random word per member,
// updated in O(1) as operations are linearized and undone.
uint64_t zobrist(uint32_t op) { return mix64(uint64_t{op} + 1); }

// The set of one key's linearized operations: a bitset indexed by call order.
// The search linearizes roughly in call order, so the set is nearly always
// "every op before some point, plus a few after it". Only the words in
// [lo(), hi()) can tell two sets apart (below lo every word is full, from hi on
// every word is empty), so the cache stores those few words rather than n/64,
// which keeps a long single-key history linear instead of quadratic.
class OpSet {
 public:
  explicit OpSet(size_t n) : words_((n + 63) / 64, 0) {}

  void insert(uint32_t op) {
    uint64_t& w = words_[op / 64];
    MERIDIAN_ASSERT((w & bit(op)) == 0, "op ", op, " linearized twice");
    w |= bit(op);
    hash_ ^= zobrist(op);
    while (lo_ < words_.size() && words_[lo_] == ~uint64_t{0}) ++lo_;
    hi_ = std::max(hi_, op / 64 + 1);
  }
  void erase(uint32_t op) {
    uint64_t& w = words_[op / 64];
    MERIDIAN_ASSERT((w & bit(op)) != 0, "op ", op, " undone but not linearized");
    w &= ~bit(op);
    hash_ ^= zobrist(op);
    lo_ = std::min(lo_, op / 64);
    while (hi_ > 0 && words_[hi_ - 1] == 0) --hi_;
  }

  uint64_t hash() const { return hash_; }
  uint32_t lo() const { return lo_; }
  uint32_t hi() const { return hi_; }
  const uint64_t* word_data() const { return words_.data(); }

 private:
  static uint64_t bit(uint32_t op) { return uint64_t{1} << (op % 64); }

  std::vector<uint64_t> words_;
  uint64_t hash_ = 0;
  uint32_t lo_ = 0;  // the first word that is not full
  uint32_t hi_ = 0;  // one past the last word that is not empty
};

// The (linearized set, state) configurations already explored: Lowe's
// memoization. Reaching one again means the same remaining problem, which failed
// before. Open addressing with linear probing; slots point into one arena of
// set words, so a lookup allocates nothing and equality is checked in full.
class StateCache {
 public:
  StateCache() : slots_(kInitialSlots) {}

  // Records (set, state) and returns true if it is new (or the cache is full and
  // cannot tell); false if it was explored before.
  bool insert(const OpSet& set, uint32_t state) {
    MERIDIAN_ASSERT(set.lo() <= set.hi(), "set words [", set.lo(), ", ", set.hi(), ")");
    const uint64_t hash = set.hash() ^ mix64(state);
    const uint64_t* first = set.word_data() + set.lo();
    const uint32_t len = set.hi() - set.lo();
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.offset == kEmpty) {
        if (full(len)) return true;
        slot = Slot{hash, state, set.lo(), len, static_cast<uint32_t>(arena_.size())};
        arena_.insert(arena_.end(), first, first + len);
        ++count_;
        if (count_ * 2 > slots_.size()) grow();  // keep probes short: load <= 1/2
        return true;
      }
      if (slot.hash == hash && slot.state == state && slot.lo == set.lo() && slot.len == len &&
          std::equal(first, first + len, arena_.begin() + slot.offset)) {
        return false;
      }
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t state = 0;
    uint32_t lo = 0;           // OpSet::lo() of the stored set
    uint32_t len = 0;          // its words [lo, hi) ...
    uint32_t offset = kEmpty;  // ... stored at arena_[offset, offset + len)
  };
  static constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  static constexpr size_t kInitialSlots = 1024;  // a power of two, as the mask needs

  // Counts the slot table twice (the next growth doubles it) and keeps arena
  // offsets within 32 bits (kCacheBytesMax / 8 words is far below 2^32).
  bool full(uint32_t len) const {
    const size_t bytes = arena_.capacity() * sizeof(uint64_t) + 2 * slots_.size() * sizeof(Slot);
    return bytes >= kCacheBytesMax || arena_.size() + len >= kEmpty;
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.offset == kEmpty) continue;
      size_t i = s.hash & mask;
      while (slots_[i].offset != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::vector<uint64_t> arena_;
  size_t count_ = 0;
};

struct SearchOutcome {
  Verdict verdict = Verdict::kLinearizable;
  uint64_t steps = 0;
  std::vector<uint32_t> best_prefix;  // op indices, in linearization order
};

// Wing & Gong's search with Lowe's improvements over one key's operations.
// The call and return events sit in a doubly linked list sorted by time; the
// search walks it from the head: at a call it tries to linearize that operation
// next (and, if the model accepts and the configuration is new, removes its call
// and return from the list and starts again from the head); at a return, the
// operation returning there should have been linearized already, so it
// backtracks. Removal and reinsertion are "dancing links": a removed node keeps
// its neighbours, so undoing in reverse order restores the list exactly.
class KeySearch {
 public:
  explicit KeySearch(const std::vector<KeyOp>& ops) : ops_(ops) { build_events(); }

  SearchOutcome run(uint64_t max_steps);

 private:
  struct Node {
    uint32_t op = 0;
    bool is_call = false;
    uint32_t prev = 0;
    uint32_t next = 0;
    uint32_t match = 0;  // call node: its return node
  };
  struct Frame {
    uint32_t call_node;
    uint32_t state_before;
    bool forced;  // a read-only op linearized at once: no alternative to try here
  };

  void build_events();
  void unlink(uint32_t n) {
    nodes_[nodes_[n].prev].next = nodes_[n].next;
    nodes_[nodes_[n].next].prev = nodes_[n].prev;
  }
  void relink(uint32_t n) {
    nodes_[nodes_[n].prev].next = n;
    nodes_[nodes_[n].next].prev = n;
  }
  void lift(uint32_t call) {
    unlink(call);
    unlink(nodes_[call].match);
  }
  void unlift(uint32_t call) {
    relink(nodes_[call].match);
    relink(call);
  }
  const std::vector<KeyOp>& ops_;
  std::vector<Node> nodes_;  // 2 per op, then the head sentinel of the circular list
  uint32_t head_ = 0;
};

void KeySearch::build_events() {
  // Node indices are uint32_t: 2 per op and the head must fit.
  MERIDIAN_ASSERT(ops_.size() < std::numeric_limits<uint32_t>::max() / 2, ops_.size(),
                  " operations on one key");
  const uint32_t n = static_cast<uint32_t>(ops_.size());
  // (time, is_return, op): at equal times calls sort before returns, which makes
  // touching intervals concurrent (see the header).
  std::vector<std::tuple<uint64_t, bool, uint32_t>> events;
  events.reserve(2 * size_t{n});
  for (uint32_t i = 0; i < n; ++i) {
    events.emplace_back(ops_[i].src->call_time, false, i);
    events.emplace_back(ops_[i].return_time, true, i);
  }
  std::sort(events.begin(), events.end());
  head_ = 2 * n;
  nodes_.assign(2 * size_t{n} + 1, Node{});
  std::vector<uint32_t> call_node(n);
  for (uint32_t k = 0; k < 2 * n; ++k) {
    const auto& [time, is_return, op] = events[k];
    nodes_[k].op = op;
    nodes_[k].is_call = !is_return;
    if (is_return) {
      nodes_[call_node[op]].match = k;
    } else {
      call_node[op] = k;
    }
  }
  for (uint32_t k = 0; k <= head_; ++k) {
    nodes_[k].next = k == head_ ? 0 : k + 1;
    nodes_[k].prev = k == 0 ? head_ : k - 1;
  }
  if (n == 0) nodes_[head_].next = nodes_[head_].prev = head_;
}

// Besides Lowe's algorithm, one reduction: a read-only op (see read_only) that
// is callable now and legal in the current state is linearized at once, with no
// alternative tried. That is safe: if any linearization extends the current
// prefix P, moving that op to the front of its remainder gives another, since
// every op that must precede it in real time already is in P, it is legal there,
// and at its old place it changed nothing that later ops read. So when P·op
// fails, P fails too. This removes the branching on reads, which otherwise
// grows exponentially with the number of concurrent clients.
SearchOutcome KeySearch::run(uint64_t max_steps) {
  SearchOutcome out;
  size_t pending_known = 0;
  for (const KeyOp& op : ops_) pending_known += op.known ? 1 : 0;
  OpSet linearized(ops_.size());
  uint32_t state = ValueIds::kAbsent;
  StateCache cache;
  std::vector<Frame> stack;
  size_t best_shared = 0;  // stack[0, best_shared) equals out.best_prefix[0, best_shared)
  uint32_t node = nodes_[head_].next;
  // Undoes frames up to and including the newest one that has alternatives left
  // and moves to the next of those; false when none is left: no linearization.
  auto backtrack = [&]() {
    while (!stack.empty()) {
      const Frame f = stack.back();
      stack.pop_back();
      const uint32_t op = nodes_[f.call_node].op;
      linearized.erase(op);
      state = f.state_before;
      unlift(f.call_node);
      pending_known += ops_[op].known ? 1 : 0;
      best_shared = std::min(best_shared, stack.size());
      if (!f.forced) {
        node = nodes_[f.call_node].next;
        return true;
      }
    }
    return false;
  };
  // Once every completed operation is linearized, the pending unknown ones can
  // follow in any order: nothing observes them and any output is accepted.
  while (pending_known > 0) {
    if (out.steps == max_steps) {
      out.verdict = Verdict::kTimedOut;
      return out;
    }
    ++out.steps;
    // A completed op's return node is still listed, so the walk meets it first.
    MERIDIAN_ASSERT(node != head_, "search walked past every event with ", pending_known,
                    " completed operations pending");
    const Node& n = nodes_[node];
    if (!n.is_call) {
      // n.op had to be linearized before this return; every way on from here failed.
      if (!backtrack()) {
        out.verdict = Verdict::kViolation;
        return out;
      }
      continue;
    }
    uint32_t next_state = 0;
    if (!apply(ops_[n.op], state, &next_state)) {
      node = n.next;
      continue;
    }
    const bool forced = read_only(ops_[n.op]);
    linearized.insert(n.op);
    if (!cache.insert(linearized, next_state)) {
      linearized.erase(n.op);
      if (!forced) {
        node = n.next;
      } else if (!backtrack()) {  // P·op was explored and failed, so P fails (see above)
        out.verdict = Verdict::kViolation;
        return out;
      }
      continue;
    }
    stack.push_back(Frame{node, state, forced});
    state = next_state;
    lift(node);
    pending_known -= ops_[n.op].known ? 1 : 0;
    if (stack.size() > out.best_prefix.size()) {
      // Copy only what changed since the stack last matched best_prefix, so that
      // keeping the longest prefix costs O(1) per step amortized, not O(depth).
      out.best_prefix.resize(best_shared);
      for (size_t i = best_shared; i < stack.size(); ++i) {
        out.best_prefix.push_back(nodes_[stack[i].call_node].op);
      }
      best_shared = stack.size();
    }
    node = nodes_[head_].next;
  }
  return out;
}

// The value after running prefix in order, from the strings themselves: the
// search's own state may be kUnobserved, which a reader cannot use.
std::string replay(const std::vector<KeyOp>& ops, const std::vector<uint32_t>& prefix) {
  std::string value;
  for (uint32_t i : prefix) {
    const Operation& op = *ops[i].src;
    if (op.kind == OpKind::kPut || (op.kind == OpKind::kCas && value == op.expected)) {
      value = op.value;
    }
  }
  return value;
}

// Lists ops[first, last) one per line, noting how many were left out on each side.
void list_ops(std::ostringstream& os, const std::vector<const Operation*>& ops, size_t first,
              size_t last) {
  if (first > 0) os << "  ... " << first << " earlier operations omitted\n";
  for (size_t i = first; i < last; ++i) os << "  " << describe(*ops[i]) << "\n";
  if (last < ops.size()) os << "  ... " << ops.size() - last << " later operations omitted\n";
}

std::string explain_violation(const std::string& key, const std::vector<KeyOp>& ops,
                              const SearchOutcome& s) {
  // The earliest-returning completed op left out of the best prefix: the search
  // could not linearize anything that lets it go next before its return.
  std::vector<bool> in_prefix(ops.size(), false);
  for (uint32_t i : s.best_prefix) in_prefix[i] = true;
  size_t blocker = ops.size();
  for (size_t i = 0; i < ops.size(); ++i) {
    if (in_prefix[i] || !ops[i].known) continue;
    if (blocker == ops.size() || ops[i].return_time < ops[blocker].return_time) blocker = i;
  }
  MERIDIAN_ASSERT(blocker < ops.size(), "a violation leaves a completed operation unlinearized");

  std::ostringstream os;
  os << "key " << quote(key) << ": not linearizable; no order of its " << ops.size()
     << " operations respects both real time and the register model.\n";
  std::vector<const Operation*> by_call;
  for (const KeyOp& op : ops) by_call.push_back(op.src);
  os << "operations by call time:\n";
  const size_t first = blocker > kExplainOpsMax / 2 ? blocker - kExplainOpsMax / 2 : 0;
  list_ops(os, by_call, first, std::min(ops.size(), first + kExplainOpsMax));

  std::vector<const Operation*> prefix;
  for (uint32_t i : s.best_prefix) prefix.push_back(ops[i].src);
  os << "longest linearizable prefix found (" << prefix.size() << " of " << ops.size()
     << " operations), leaving value " << quote(replay(ops, s.best_prefix)) << ":\n";
  list_ops(os, prefix, prefix.size() > kExplainOpsMax ? prefix.size() - kExplainOpsMax : 0,
           prefix.size());
  os << "after it no remaining operation can go next without contradicting a recorded output "
        "or real time; the earliest to return is:\n  "
     << describe(*ops[blocker].src) << "\n";
  return os.str();
}

}  // namespace

std::string describe(const Operation& op) {
  std::ostringstream os;
  os << "#" << op.id << " c" << op.client << " [" << op.call_time << ", ";
  if (op.outcome == Outcome::kUnknown) {
    os << "inf) ";
  } else {
    os << op.return_time << "] ";
  }
  switch (op.kind) {
    case OpKind::kPut:
      os << "put(" << quote(op.key) << ", " << quote(op.value) << ")";
      break;
    case OpKind::kGet:
      os << "get(" << quote(op.key) << ")";
      break;
    case OpKind::kCas:
      os << "cas(" << quote(op.key) << ", " << quote(op.expected) << ", " << quote(op.value) << ")";
      break;
  }
  os << " -> ";
  if (op.outcome == Outcome::kUnknown) {
    os << "unknown";
  } else if (op.kind == OpKind::kPut) {
    os << "ok";
  } else if (op.kind == OpKind::kGet) {
    os << quote(op.output_value);
  } else {
    os << (op.output_ok ? "true" : "false");
  }
  return os.str();
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kViolation:
      return "violation";
    case Verdict::kTimedOut:
      return "timed out";
  }
  return "?";
}

CheckResult check_kv_history(const std::vector<Operation>& history, uint64_t max_steps) {
  std::map<std::string, std::vector<const Operation*>> by_key;
  for (const Operation& op : history) {
    if (op.outcome == Outcome::kUnknown && op.kind == OpKind::kGet) continue;  // no effect
    MERIDIAN_ASSERT(op.outcome == Outcome::kUnknown || op.call_time <= op.return_time, "op #",
                    op.id, " returns at ", op.return_time, " before its call at ", op.call_time);
    by_key[op.key].push_back(&op);
  }
  std::vector<std::pair<const std::string*, std::vector<const Operation*>*>> keys;
  for (auto& [key, ops] : by_key) keys.emplace_back(&key, &ops);
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.second->size() < b.second->size();
  });

  CheckResult result;
  for (auto& [key, key_ops] : keys) {
    std::stable_sort(key_ops->begin(), key_ops->end(), [](const Operation* a, const Operation* b) {
      return std::tie(a->call_time, a->id) < std::tie(b->call_time, b->id);
    });
    ValueIds values;
    for (const Operation* src : *key_ops) {
      if (src->kind == OpKind::kCas) values.observe(src->expected);
      if (src->kind == OpKind::kGet) values.observe(src->output_value);  // all known here
    }
    std::vector<KeyOp> ops;
    ops.reserve(key_ops->size());
    for (const Operation* src : *key_ops) {
      KeyOp op;
      op.src = src;
      op.known = src->outcome == Outcome::kOk;
      op.value = values.of(src->value);
      op.expected = values.of(src->expected);
      op.output = values.of(src->output_value);
      op.return_time = op.known ? src->return_time : kNeverReturns;
      ops.push_back(op);
    }
    const SearchOutcome s = KeySearch(ops).run(max_steps - result.steps);
    result.steps += s.steps;
    if (s.verdict == Verdict::kLinearizable) continue;
    result.verdict = s.verdict;
    result.key = *key;
    if (s.verdict == Verdict::kViolation) {
      result.explanation = explain_violation(*key, ops, s);
    } else {
      std::ostringstream os;
      os << "key " << quote(*key) << ": the budget of " << max_steps
         << " search steps ran out while checking its " << ops.size() << " operations (longest "
         << "linearizable prefix found: " << s.best_prefix.size()
         << "); the verdict is unknown, neither pass nor fail.\n";
      result.explanation = os.str();
    }
    return result;
  }
  return result;
}

}  // namespace meridian::sim
