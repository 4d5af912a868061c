#include "sim/linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace meridian::sim {
namespace {

// Builds histories tersely: each helper appends one op with the next id.
class History {
 public:
  History& put(uint32_t client, const std::string& key, const std::string& value, uint64_t call,
               uint64_t ret) {
    Operation op = base(client, OpKind::kPut, key, call, ret);
    op.value = value;
    return add(op);
  }
  History& get(uint32_t client, const std::string& key, const std::string& output, uint64_t call,
               uint64_t ret) {
    Operation op = base(client, OpKind::kGet, key, call, ret);
    op.output_value = output;
    return add(op);
  }
  History& cas(uint32_t client, const std::string& key, const std::string& expected,
               const std::string& value, bool output, uint64_t call, uint64_t ret) {
    Operation op = base(client, OpKind::kCas, key, call, ret);
    op.expected = expected;
    op.value = value;
    op.output_ok = output;
    return add(op);
  }
  // Marks the last op added as kUnknown (its return time and output are then ignored).
  History& unknown() {
    ops_.back().outcome = Outcome::kUnknown;
    ops_.back().return_time = 0;
    return *this;
  }
  const std::vector<Operation>& ops() const { return ops_; }
  CheckResult check(uint64_t max_steps = kCheckStepsMax) const {
    return check_kv_history(ops_, max_steps);
  }

 private:
  Operation base(uint32_t client, OpKind kind, const std::string& key, uint64_t call,
                 uint64_t ret) {
    Operation op;
    op.id = ops_.size() + 1;
    op.client = client;
    op.kind = kind;
    op.key = key;
    op.call_time = call;
    op.return_time = ret;
    return op;
  }
  History& add(const Operation& op) {
    ops_.push_back(op);
    return *this;
  }
  std::vector<Operation> ops_;
};

Verdict verdict_of(const History& h) { return h.check().verdict; }

TEST(Linearizability, EmptyHistoryIsLinearizable) {
  const CheckResult r = check_kv_history({});
  EXPECT_EQ(r.verdict, Verdict::kLinearizable);
  EXPECT_EQ(r.key, "");
  EXPECT_EQ(r.steps, 0u);
}

TEST(Linearizability, SequentialPutGet) {
  History h;
  h.get(1, "x", "", 0, 1).put(1, "x", "a", 2, 3).get(2, "x", "a", 4, 5).put(2, "x", "b", 6, 7);
  h.get(1, "x", "b", 8, 9);
  EXPECT_EQ(verdict_of(h), Verdict::kLinearizable);
}

TEST(Linearizability, SequentialReadOfWrongValueIsViolation) {
  History h;
  h.put(1, "x", "a", 0, 1).put(1, "x", "b", 2, 3).get(2, "x", "a", 4, 5);
  EXPECT_EQ(verdict_of(h), Verdict::kViolation);
}

TEST(Linearizability, ConcurrentPutAndGetMayReturnOldOrNew) {
  History old_value;
  old_value.put(1, "x", "a", 0, 1).put(1, "x", "b", 10, 20).get(2, "x", "a", 12, 18);
  EXPECT_EQ(verdict_of(old_value), Verdict::kLinearizable);
  History new_value;
  new_value.put(1, "x", "a", 0, 1).put(1, "x", "b", 10, 20).get(2, "x", "b", 12, 18);
  EXPECT_EQ(verdict_of(new_value), Verdict::kLinearizable);
}

TEST(Linearizability, StaleReadAfterCompletedPutIsViolation) {
  History h;
  h.put(1, "x", "a", 0, 1).put(1, "x", "b", 10, 20).get(2, "x", "a", 21, 25);
  const CheckResult r = h.check();
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "x");
}

TEST(Linearizability, ReadsMustNotGoBackInTime) {
  // Each read alone overlaps the put, but once one reader saw "b" a later read
  // that started after it returned cannot see "a" again.
  History h;
  h.put(1, "x", "a", 0, 1).put(1, "x", "b", 10, 50).get(2, "x", "b", 12, 20);
  h.get(3, "x", "a", 25, 30);
  EXPECT_EQ(verdict_of(h), Verdict::kViolation);
}

TEST(Linearizability, TouchingIntervalsAreConcurrent) {
  // Equal virtual times cannot be ordered, so the get may precede the put.
  History touching;
  touching.put(1, "x", "a", 0, 10).get(2, "x", "", 10, 20);
  EXPECT_EQ(verdict_of(touching), Verdict::kLinearizable);
  History ordered;
  ordered.put(1, "x", "a", 0, 10).get(2, "x", "", 11, 20);
  EXPECT_EQ(verdict_of(ordered), Verdict::kViolation);
}

TEST(Linearizability, GetOfValueNeverWrittenIsViolation) {
  History h;
  h.put(1, "x", "a", 0, 10).get(2, "x", "zzz", 5, 15);
  const CheckResult r = h.check();
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_NE(r.explanation.find("\"zzz\""), std::string::npos) << r.explanation;
}

TEST(Linearizability, GetOfValueWrittenToAnotherKeyIsViolation) {
  History h;
  h.put(1, "y", "a", 0, 10).get(2, "x", "a", 20, 30);
  EXPECT_EQ(verdict_of(h), Verdict::kViolation);
}

TEST(Linearizability, CasOnAbsentKeyExpectsEmptyString) {
  History ok;
  ok.cas(1, "x", "", "a", true, 0, 1).get(1, "x", "a", 2, 3);
  EXPECT_EQ(verdict_of(ok), Verdict::kLinearizable);
  History wrongly_failed;
  wrongly_failed.cas(1, "x", "", "a", false, 0, 1);
  EXPECT_EQ(verdict_of(wrongly_failed), Verdict::kViolation);
  History wrongly_succeeded;
  wrongly_succeeded.cas(1, "x", "b", "a", true, 0, 1);
  EXPECT_EQ(verdict_of(wrongly_succeeded), Verdict::kViolation);
}

TEST(Linearizability, CasSuccessAndFailureSemantics) {
  History h;
  h.put(1, "x", "a", 0, 1);
  h.cas(1, "x", "b", "c", false, 2, 3);  // mismatch: fails, value stays "a"
  h.get(1, "x", "a", 4, 5);
  h.cas(1, "x", "a", "c", true, 6, 7);  // match: succeeds
  h.get(1, "x", "c", 8, 9);
  EXPECT_EQ(verdict_of(h), Verdict::kLinearizable);

  History failed_cas_wrote;  // a failed CAS must not change the value
  failed_cas_wrote.put(1, "x", "a", 0, 1).cas(1, "x", "b", "c", false, 2, 3);
  failed_cas_wrote.get(1, "x", "c", 4, 5);
  EXPECT_EQ(verdict_of(failed_cas_wrote), Verdict::kViolation);

  History successful_cas_lost;  // a successful CAS must change it
  successful_cas_lost.put(1, "x", "a", 0, 1).cas(1, "x", "a", "c", true, 2, 3);
  successful_cas_lost.get(1, "x", "a", 4, 5);
  EXPECT_EQ(verdict_of(successful_cas_lost), Verdict::kViolation);
}

TEST(Linearizability, TwoConcurrentCasFromSameExpectedBothSucceedingIsViolation) {
  History both;
  both.put(1, "x", "a", 0, 1).cas(1, "x", "a", "b", true, 10, 20);
  both.cas(2, "x", "a", "c", true, 12, 22);
  EXPECT_EQ(verdict_of(both), Verdict::kViolation);
  History one;
  one.put(1, "x", "a", 0, 1).cas(1, "x", "a", "b", true, 10, 20);
  one.cas(2, "x", "a", "c", false, 12, 22);
  EXPECT_EQ(verdict_of(one), Verdict::kLinearizable);
  // Both may succeed when the second expects the first's new value.
  History chained;
  chained.put(1, "x", "a", 0, 1).cas(1, "x", "a", "b", true, 10, 20);
  chained.cas(2, "x", "b", "c", true, 12, 22).get(3, "x", "c", 30, 31);
  EXPECT_EQ(verdict_of(chained), Verdict::kLinearizable);
}

TEST(Linearizability, UnknownPutThatMustHaveHappened) {
  History h;
  h.put(1, "x", "a", 0, 1).put(1, "x", "b", 10, 0).unknown().get(2, "x", "b", 100, 101);
  EXPECT_EQ(verdict_of(h), Verdict::kLinearizable);
}

TEST(Linearizability, UnknownPutThatNeverHappened) {
  History h;
  h.put(1, "x", "a", 0, 1).put(1, "x", "b", 10, 0).unknown().get(2, "x", "a", 100, 101);
  EXPECT_EQ(verdict_of(h), Verdict::kLinearizable);
}

TEST(Linearizability, UnknownPutCannotTakeEffectBeforeItsCall) {
  History h;
  h.get(2, "x", "b", 0, 5).put(1, "x", "b", 10, 0).unknown();
  EXPECT_EQ(verdict_of(h), Verdict::kViolation);
}

TEST(Linearizability, UnknownPutTakesEffectAtMostOnce) {
  // Seen, then overwritten, it cannot come back.
  History h;
  h.put(1, "x", "b", 0, 0).unknown().get(2, "x", "b", 10, 11).put(2, "x", "c", 12, 13);
  h.get(2, "x", "b", 14, 15);
  EXPECT_EQ(verdict_of(h), Verdict::kViolation);
}

TEST(Linearizability, UnknownCas) {
  History took_effect;
  took_effect.put(1, "x", "a", 0, 1).cas(1, "x", "a", "b", false, 10, 0).unknown();
  took_effect.get(2, "x", "b", 100, 101);
  EXPECT_EQ(verdict_of(took_effect), Verdict::kLinearizable);
  History did_not;
  did_not.put(1, "x", "a", 0, 1).cas(1, "x", "a", "b", true, 10, 0).unknown();
  did_not.get(2, "x", "a", 100, 101);
  EXPECT_EQ(verdict_of(did_not), Verdict::kLinearizable);
  // Even unknown, a CAS only swaps from its expected value.
  History cannot;
  cannot.put(1, "x", "a", 0, 1).cas(1, "x", "z", "b", true, 10, 0).unknown();
  cannot.get(2, "x", "b", 100, 101);
  EXPECT_EQ(verdict_of(cannot), Verdict::kViolation);
}

TEST(Linearizability, UnknownGetIsIgnored) {
  History h;
  h.put(1, "x", "a", 0, 1).get(2, "x", "never written", 5, 0).unknown();
  EXPECT_EQ(verdict_of(h), Verdict::kLinearizable);
}

TEST(Linearizability, MultiKeyHistoryNamesTheBadKey) {
  History h;
  for (uint64_t t = 0; t < 50; t += 10) {
    const std::string v = "v" + std::to_string(t);
    h.put(1, "good1", v, t, t + 5).get(2, "good1", v, t + 6, t + 8);
    h.put(3, "good2", v, t, t + 15).get(4, "good2", v, t + 2, t + 9);
  }
  h.put(5, "bad", "a", 0, 1).put(5, "bad", "b", 2, 3).get(6, "bad", "a", 4, 5);
  const CheckResult r = h.check();
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "bad");
  // The explanation lists the key's ops (and only them) and the longest prefix.
  EXPECT_NE(r.explanation.find("put(\"bad\", \"b\")"), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("[4, 5] get(\"bad\") -> \"a\""), std::string::npos);
  EXPECT_EQ(r.explanation.find("good1"), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("longest linearizable prefix found (2 of 3"), std::string::npos)
      << r.explanation;
  std::printf("%s", r.explanation.c_str());
}

TEST(Linearizability, DescribeShowsTimesAndOutputs) {
  History h;
  h.put(1, "k", "v", 10, 25).get(2, "k", "v\"q", 11, 26).cas(3, "k", "a", "b", true, 12, 27);
  h.cas(4, "k", "a", "b", false, 13, 0).unknown();
  EXPECT_EQ(describe(h.ops()[0]), "#1 c1 [10, 25] put(\"k\", \"v\") -> ok");
  EXPECT_EQ(describe(h.ops()[1]), "#2 c2 [11, 26] get(\"k\") -> \"v\\\"q\"");
  EXPECT_EQ(describe(h.ops()[2]), "#3 c3 [12, 27] cas(\"k\", \"a\", \"b\") -> true");
  EXPECT_EQ(describe(h.ops()[3]), "#4 c4 [13, inf) cas(\"k\", \"a\", \"b\") -> unknown");
}

TEST(Linearizability, StepBudgetExhaustedIsTimedOutNotAVerdict) {
  History h;
  h.put(1, "x", "a", 0, 10).put(2, "x", "b", 0, 10).get(3, "x", "zzz", 0, 10);
  const CheckResult r = h.check(/*max_steps=*/3);
  EXPECT_EQ(r.verdict, Verdict::kTimedOut);
  EXPECT_EQ(r.key, "x");
  EXPECT_EQ(r.steps, 3u);
  EXPECT_EQ(h.check().verdict, Verdict::kViolation);  // given enough steps
}

// n fully concurrent puts nobody reads, and a read of a value never written:
// the search must try every subset of the puts before giving up. With
// memoization that is 2^n configurations (unread values share one state);
// without it, every ordering, n! (16! ~ 2e13).
TEST(Linearizability, MemoizationBoundsSearchOfManyConcurrentPuts) {
  constexpr int kPuts = 16;
  History h;
  for (int i = 0; i < kPuts; ++i) {
    h.put(static_cast<uint32_t>(i), "x", "v" + std::to_string(i), 0, 100);
  }
  h.get(99, "x", "never written", 0, 100);
  const CheckResult r = h.check(/*max_steps=*/20'000'000);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  std::printf("%d concurrent puts: %llu steps\n", kPuts, static_cast<unsigned long long>(r.steps));
}

// Concurrent reads are linearized as soon as they are legal, without trying
// them at other places (see KeySearch::run); a violation among many of them is
// found in a few steps per op rather than 2^n.
TEST(Linearizability, ConcurrentReadsDoNotMultiplyTheSearch) {
  constexpr int kReads = 40;
  History h;
  h.put(0, "x", "a", 0, 100);
  for (int i = 1; i <= kReads; ++i) h.get(static_cast<uint32_t>(i), "x", i % 2 ? "" : "a", 0, 100);
  h.get(99, "x", "never written", 0, 100);
  const CheckResult r = h.check(/*max_steps=*/100'000);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
}

// Regression (found by the brute-force comparison): an unknown CAS that would
// fail in the current state must not be taken as a read-only no-op, because
// later it may succeed.
TEST(Linearizability, UnknownCasThatWouldFailNowMaySucceedLater) {
  History h;
  h.cas(1, "x", "a", "b", false, 0, 0).unknown().put(2, "x", "a", 1, 2).get(3, "x", "b", 3, 4);
  EXPECT_EQ(verdict_of(h), Verdict::kLinearizable);
}

// Likewise a put of the current value is a no-op here but not everywhere.
TEST(Linearizability, PutOfTheCurrentValueIsNotReadOnly) {
  History h;
  h.put(1, "x", "a", 0, 1).put(1, "x", "a", 2, 10).put(2, "x", "b", 3, 10).get(3, "x", "a", 11, 12);
  EXPECT_EQ(verdict_of(h), Verdict::kLinearizable);
}

TEST(Linearizability, ExplanationShowsTheRealValueOfAnUnreadWrite) {
  History h;
  h.put(1, "x", "unread", 0, 1).get(2, "x", "zzz", 2, 3);
  const CheckResult r = h.check();
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_NE(r.explanation.find("leaving value \"unread\""), std::string::npos) << r.explanation;
}

// A random history from a real sequential execution: each op gets a
// linearization point inside its [call, return] interval, and ops applied to a
// std::map in point order give the outputs. So it is linearizable by
// construction. Values are unique per write, so corruptions can be certain.
struct RandomHistory {
  std::vector<Operation> ops;
  std::vector<uint64_t> point;  // linearization point of ops[i]
};

RandomHistory random_history(uint64_t seed, int n_ops, int n_keys, int n_clients,
                             int unknown_percent) {
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  RandomHistory h;
  std::vector<uint64_t> client_free(n_clients, 0);
  std::vector<std::vector<std::string>> written(n_keys);  // values written per key so far
  for (int i = 0; i < n_ops; ++i) {
    const auto client = static_cast<uint32_t>(
        std::min_element(client_free.begin(), client_free.end()) - client_free.begin());
    const int k = static_cast<int>(uniform(0, n_keys - 1));
    Operation op;
    op.id = static_cast<uint64_t>(i) + 1;
    op.client = client;
    op.key = "k" + std::to_string(k);
    op.call_time = client_free[client] + uniform(0, 3);
    const uint64_t point = op.call_time + uniform(0, 8);
    op.return_time = point + uniform(0, 8);
    client_free[client] = op.return_time + 1;
    const uint64_t dice = uniform(0, 99);
    if (dice < 35) {
      op.kind = OpKind::kPut;
      op.value = "v" + std::to_string(op.id);
    } else if (dice < 75) {
      op.kind = OpKind::kGet;
    } else {
      op.kind = OpKind::kCas;
      const auto& w = written[k];
      const uint64_t pick = uniform(0, w.size());  // w.size(): expect the absent ""
      op.expected = pick < w.size() ? w[w.size() - 1 - pick / 2] : "";
      op.value = "v" + std::to_string(op.id);
    }
    if (!op.value.empty()) written[k].push_back(op.value);
    if (uniform(0, 99) < static_cast<uint64_t>(unknown_percent)) op.outcome = Outcome::kUnknown;
    h.ops.push_back(op);
    h.point.push_back(point);
  }
  // Execute in point order; an unknown op takes effect or not at random.
  std::vector<size_t> order(h.ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&h](size_t a, size_t b) { return h.point[a] < h.point[b]; });
  std::map<std::string, std::string> store;
  for (size_t i : order) {
    Operation& op = h.ops[i];
    if (op.outcome == Outcome::kUnknown && uniform(0, 1) == 0) continue;
    std::string& cur = store[op.key];
    switch (op.kind) {
      case OpKind::kPut:
        cur = op.value;
        break;
      case OpKind::kGet:
        op.output_value = cur;
        break;
      case OpKind::kCas:
        op.output_ok = cur == op.expected;
        if (op.output_ok) cur = op.value;
        break;
    }
  }
  return h;
}

TEST(Linearizability, RandomHistoriesFromRealExecutionsAreLinearizable) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const RandomHistory h = random_history(seed, 200, 3, 4, /*unknown_percent=*/5);
    const CheckResult r = check_kv_history(h.ops);
    ASSERT_EQ(r.verdict, Verdict::kLinearizable) << "seed " << seed << "\n" << r.explanation;
  }
}

TEST(Linearizability, CorruptedReadOfNeverWrittenValueIsViolation) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    RandomHistory h = random_history(seed, 150, 3, 4, /*unknown_percent=*/5);
    std::vector<size_t> gets;
    for (size_t i = 0; i < h.ops.size(); ++i) {
      if (h.ops[i].kind == OpKind::kGet && h.ops[i].outcome == Outcome::kOk) gets.push_back(i);
    }
    if (gets.empty()) continue;
    Operation& victim = h.ops[gets[seed % gets.size()]];
    victim.output_value = "never written";
    const CheckResult r = check_kv_history(h.ops);
    ASSERT_EQ(r.verdict, Verdict::kViolation) << "seed " << seed;
    ASSERT_EQ(r.key, victim.key) << "seed " << seed;
    ++checked;
  }
  EXPECT_GT(checked, 150);
}

// Reading a value whose only write was called after the read returned is
// impossible in any linearization (values are unique per write).
TEST(Linearizability, CorruptedReadFromTheFutureIsViolation) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    RandomHistory h = random_history(seed, 150, 3, 4, /*unknown_percent=*/5);
    const size_t g = seed % h.ops.size();
    auto victim = std::find_if(
        h.ops.begin() + static_cast<std::ptrdiff_t>(g), h.ops.end(),
        [](const Operation& op) { return op.kind == OpKind::kGet && op.outcome == Outcome::kOk; });
    if (victim == h.ops.end()) continue;
    auto future = std::find_if(h.ops.begin(), h.ops.end(), [&](const Operation& op) {
      return op.key == victim->key && op.kind != OpKind::kGet && op.call_time > victim->return_time;
    });
    if (future == h.ops.end()) continue;
    victim->output_value = future->value;
    const CheckResult r = check_kv_history(h.ops);
    ASSERT_EQ(r.verdict, Verdict::kViolation) << "seed " << seed << " read of " << future->value;
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

// Flipping a CAS result is not always a violation (another order may explain
// it), so this only reports the detection rate as a sanity signal, and insists
// the checker finds some.
TEST(Linearizability, CorruptedCasResultIsUsuallyViolation) {
  int flipped = 0;
  int detected = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    RandomHistory h = random_history(seed, 100, 2, 3, /*unknown_percent=*/0);
    for (Operation& op : h.ops) {
      if (op.kind != OpKind::kCas) continue;
      op.output_ok = !op.output_ok;
      ++flipped;
      const CheckResult r = check_kv_history(h.ops);
      EXPECT_NE(r.verdict, Verdict::kTimedOut);
      detected += r.verdict == Verdict::kViolation ? 1 : 0;
      break;
    }
  }
  std::printf("flipped CAS results detected: %d of %d\n", detected, flipped);
  EXPECT_GT(detected, flipped / 2);
}

// An independent oracle for tiny histories: try every order of every op (an
// unknown op that did not take effect is equivalent to one ordered last, where
// nothing observes it), keeping those that respect real time, and run each on a
// std::map. The whole map at once, so the per-key split is checked too.
bool brute_force_linearizable(std::vector<Operation> ops) {
  std::erase_if(ops, [](const Operation& op) {
    return op.kind == OpKind::kGet && op.outcome == Outcome::kUnknown;
  });
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  do {
    bool ok = true;
    for (size_t a = 0; a < order.size() && ok; ++a) {
      for (size_t b = a + 1; b < order.size() && ok; ++b) {
        const Operation& later = ops[order[b]];
        ok = later.outcome == Outcome::kUnknown || later.return_time >= ops[order[a]].call_time;
      }
    }
    std::map<std::string, std::string> store;
    for (size_t k = 0; k < order.size() && ok; ++k) {
      const Operation& op = ops[order[k]];
      const bool known = op.outcome == Outcome::kOk;
      std::string& cur = store[op.key];
      if (op.kind == OpKind::kPut) {
        cur = op.value;
      } else if (op.kind == OpKind::kGet) {
        ok = cur == op.output_value;
      } else {
        const bool swapped = cur == op.expected;
        ok = !known || swapped == op.output_ok;
        if (swapped) cur = op.value;
      }
    }
    if (ok) return true;
  } while (std::next_permutation(order.begin(), order.end()));
  return false;
}

TEST(Linearizability, AgreesWithBruteForceOnTinyRandomHistories) {
  std::mt19937_64 rng(7);
  auto uniform = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  const std::vector<std::string> values = {"", "a", "b"};
  int verdicts[2] = {0, 0};
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<Operation> ops(uniform(1, 7));
    for (size_t i = 0; i < ops.size(); ++i) {
      Operation& op = ops[i];
      op.id = i + 1;
      op.client = static_cast<uint32_t>(i);
      op.kind = static_cast<OpKind>(uniform(0, 2));
      op.key = uniform(0, 3) == 0 ? "y" : "x";
      op.value = values[uniform(1, 2)];
      op.expected = values[uniform(0, 2)];
      op.output_value = values[uniform(0, 2)];
      op.output_ok = uniform(0, 1) == 1;
      op.call_time = uniform(0, 10);
      op.return_time = op.call_time + uniform(0, 6);
      if (uniform(0, 99) < 15) op.outcome = Outcome::kUnknown;
    }
    const bool expected = brute_force_linearizable(ops);
    const CheckResult r = check_kv_history(ops);
    ASSERT_NE(r.verdict, Verdict::kTimedOut);
    ASSERT_EQ(r.verdict == Verdict::kLinearizable, expected) << "trial " << trial << "\n"
                                                             << r.explanation;
    ++verdicts[expected ? 1 : 0];
  }
  std::printf("brute force agreed: %d linearizable, %d violations\n", verdicts[1], verdicts[0]);
  EXPECT_GT(verdicts[0], 300);  // both verdicts well represented
  EXPECT_GT(verdicts[1], 300);
}

TEST(Linearizability, PerformanceOf2000OpsOver10KeysWith5Clients) {
  const RandomHistory h = random_history(42, 2000, 10, 5, /*unknown_percent=*/2);
  const auto start = std::chrono::steady_clock::now();
  const CheckResult r = check_kv_history(h.ops);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.verdict, Verdict::kLinearizable) << r.explanation;
  std::printf("2000 ops, 10 keys, 5 clients: %.3f ms, %llu steps\n",
              std::chrono::duration<double, std::milli>(elapsed).count(),
              static_cast<unsigned long long>(r.steps));
}

}  // namespace
}  // namespace meridian::sim
