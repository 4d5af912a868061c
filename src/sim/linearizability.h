// Linearizability checker for recorded client histories of a key-value store.
// The deterministic cluster simulator (and later the real-cluster fault tests)
// records every client operation with its call and return time and hands the
// whole history to check_kv_history(), which says whether some total order of
// the operations (a) respects real time: an operation that returned before
// another was called comes first, and (b) is a legal sequential execution of the
// model below. The checker owns nothing beyond one call: it is a pure function
// of its input, uses no globals, and any thread may call it concurrently.
//
// Model: a map from string keys to string values; an absent key reads as "".
//   Put(key, value)          -> ok
//   Get(key)                 -> the current value
//   Cas(key, expected, new)  -> true and stores new iff current == expected
//
// Conventions the recorder must follow (asserted):
//   - for a completed (kOk) operation call_time <= return_time;
//   - an operation precedes another only if its return_time < the other's
//     call_time; equal times count as concurrent, because within one virtual
//     tick the simulator cannot say which happened first;
//   - a kUnknown operation (timeout, crashed node) may or may not have taken
//     effect: its return time is taken as +infinity and any output is accepted;
//     a kUnknown Get has no effect and is ignored.
//
// Algorithm: Wing & Gong's backtracking search for a linearization, with Lowe's
// improvements (pending calls kept in a linked list of call/return events, and
// memoization of every (set of linearized operations, model state) pair already
// explored, so each is expanded once), run separately on each key's
// sub-history: keys are independent registers, and a history is linearizable
// iff each per-key sub-history is (Herlihy & Wing's locality, the
// "P-compositionality" of Horn & Kroening). That split is what keeps checks of
// long simulator runs fast. Two exact reductions keep each key's search small:
// a read-only op (a get, a failed CAS) is linearized as soon as it is legal,
// with no alternatives tried, and written values that no op can observe share
// one state. The search is still exponential in the number of concurrent
// writers to one key (measured: 5-10 clients on a key check in milliseconds,
// 20 with long latencies can exhaust the default budget), so it runs under a
// step budget; running out yields kTimedOut, which callers must treat as
// "unknown", never as a pass or a failure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::sim {

enum class OpKind : uint8_t { kPut, kGet, kCas };

enum class Outcome : uint8_t {
  kOk,       // completed; the output fields hold what the client saw
  kUnknown,  // no answer (timeout, crash): may or may not have taken effect
};

// One client operation as recorded. Times are virtual-time ticks.
struct Operation {
  uint64_t id = 0;      // unique within a history; used only to name the op in reports
  uint32_t client = 0;  // informational; the checker does not rely on per-client order
  OpKind kind = OpKind::kGet;
  std::string key;
  std::string value;     // Put: the value written; Cas: the new value
  std::string expected;  // Cas only
  uint64_t call_time = 0;
  uint64_t return_time = 0;  // ignored for kUnknown
  Outcome outcome = Outcome::kOk;
  std::string output_value;  // Get: the value read
  bool output_ok = false;    // Cas: whether it succeeded
};

// One line such as `#7 c2 [10, 25] cas("k", "a", "b") -> true`; an unknown
// outcome prints as `[10, inf) ... -> unknown`.
std::string describe(const Operation& op);

enum class Verdict : uint8_t {
  kLinearizable,
  kViolation,  // no linearization exists: a real bug in the system under test
  kTimedOut,   // the step budget ran out first: unknown, neither pass nor fail
};

const char* verdict_name(Verdict v);

struct CheckResult {
  Verdict verdict = Verdict::kLinearizable;
  // The key whose sub-history is not linearizable (kViolation) or whose check
  // ran out of steps (kTimedOut); empty when linearizable.
  std::string key;
  // For a human: that key's operations sorted by call time, with times and
  // outputs, and the longest linearizable prefix the search found, after which
  // no pending operation could go next.
  std::string explanation;
  uint64_t steps = 0;  // search steps used over all keys
};

// The default budget: a clean simulator run of thousands of operations needs a
// few steps per operation, while 50M steps (seconds of CPU) is far beyond any
// history that is not adversarially concurrent.
inline constexpr uint64_t kCheckStepsMax = 50'000'000;

// Checks the whole history, key by key (smallest sub-history first, so a cheap
// violation is not hidden behind an expensive key), stopping at the first key
// that is not linearizable. max_steps bounds the total search steps over all keys.
CheckResult check_kv_history(const std::vector<Operation>& history,
                             uint64_t max_steps = kCheckStepsMax);

}  // namespace meridian::sim
