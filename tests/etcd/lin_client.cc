// lin_client: a linearizability test client for any server of etcd's v3 API
// (etcd itself, or Meridian's etcd API). Several client threads run a random
// mix of Put, linearizable Get and compare-and-swap (a Txn) on a few keys,
// each through one endpoint at a time, switching to another when a request
// fails; every operation is recorded with its call and return time on one
// monotonic clock, and at the end the whole history goes to the simulator's
// checker (sim/linearizability.h). tests/etcd/linearizability_test.py runs it
// while a nemesis kills the leader.
//
//   lin_client --endpoints 127.0.0.1:2379,... [--clients 8] [--keys 4]
//              [--seconds 20] [--max-ops 200000] [--history-out FILE]
//              [--plant-stale-reads] [--seed N] [--key-prefix P]
//              [--check-steps-max N]
//
// Exit codes: 0 linearizable; 1 violation (the failing key's history is
// printed); 2 the checker ran out of steps (unknown: neither pass nor fail);
// 3 bad usage. The line `ok_ops=N` reports how many operations completed,
// for a caller that must not pass on an empty history.
//
// How outcomes are recorded (the checker's conventions):
//   - a Put or CAS that fails or misses its deadline may still have been
//     applied (etcd answers "request timed out" for an entry that can commit
//     later, and a connection can drop after the request was sent), so it is
//     kUnknown; a failed Get changed nothing and is kUnknown, which the checker
//     ignores;
//   - the model reads an absent key as "", and no client ever writes "" (values
//     are unique: "c<client>-<n>"), so a CAS expecting "" compares the key's
//     VERSION with 0 (absent) rather than its value;
//   - keys carry a per-run prefix, since the model starts with every key absent.
//
// --plant-stale-reads is the planted bug that shows the checker can fail here:
// Gets become serializable reads (served from the local state of whichever
// member receives them, without a read index) sent to a random endpoint, so a
// lagging follower, or a killed leader replaying its log after a restart, can
// answer with a value older than a write that already returned.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "sim/linearizability.h"

namespace meridian::lin {
namespace {

using sim::OpKind;
using sim::Outcome;

constexpr int kExitViolation = 1;
constexpr int kExitTimedOut = 2;
constexpr int kExitUsage = 3;

// Long enough for a request that lands on a member during an election (etcd's
// default election timeout is 1 s) to finish once a leader is back; short
// enough that a client stuck on a dead member moves on quickly.
constexpr auto kRequestDeadline = std::chrono::seconds(2);
// After a failed request a client pauses before the next: a dead endpoint fails
// fast, and every failed write is an unknown op that stays pending to the end
// of the history, which widens the checker's search.
constexpr auto kErrorPause = std::chrono::milliseconds(50);

struct Options {
  std::vector<std::string> endpoints;
  uint32_t clients = 8;
  uint32_t keys = 4;
  double seconds = 20;
  uint64_t max_ops = 200'000;  // over all clients; bounds the run and the history
  std::string history_out;
  std::string key_prefix;
  bool plant_stale_reads = false;
  uint64_t seed = 0;
  uint64_t check_steps_max = sim::kCheckStepsMax;
};

void usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " --endpoints host:port[,host:port...] [--clients N] [--keys K] [--seconds S]"
               " [--max-ops M] [--history-out FILE] [--plant-stale-reads] [--seed N]"
               " [--key-prefix P] [--check-steps-max N]\n";
}

std::vector<std::string> split_endpoints(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string ep = list.substr(start, end - start);
    for (const char* scheme : {"http://", "https://"}) {
      if (ep.rfind(scheme, 0) == 0) ep = ep.substr(std::string(scheme).size());
    }
    if (!ep.empty()) out.push_back(ep);
    start = end + 1;
  }
  return out;
}

// Returns false (after printing why) on bad usage.
bool parse_options(int argc, char** argv, Options* o) {
  o->seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--plant-stale-reads") {
      o->plant_stale_reads = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "missing value after " << flag << "\n";
      return false;
    }
    const std::string v = argv[++i];
    try {
      if (flag == "--endpoints") {
        o->endpoints = split_endpoints(v);
      } else if (flag == "--clients") {
        o->clients = static_cast<uint32_t>(std::stoul(v));
      } else if (flag == "--keys") {
        o->keys = static_cast<uint32_t>(std::stoul(v));
      } else if (flag == "--seconds") {
        o->seconds = std::stod(v);
      } else if (flag == "--max-ops") {
        o->max_ops = std::stoull(v);
      } else if (flag == "--history-out") {
        o->history_out = v;
      } else if (flag == "--seed") {
        o->seed = std::stoull(v);
      } else if (flag == "--key-prefix") {
        o->key_prefix = v;
      } else if (flag == "--check-steps-max") {
        o->check_steps_max = std::stoull(v);
      } else {
        std::cerr << "unknown flag " << flag << "\n";
        return false;
      }
    } catch (const std::exception&) {
      std::cerr << "bad value for " << flag << ": " << v << "\n";
      return false;
    }
  }
  if (o->endpoints.empty() || o->clients == 0 || o->keys == 0 || o->seconds <= 0) {
    std::cerr << "need --endpoints, and positive --clients, --keys and --seconds\n";
    return false;
  }
  if (o->key_prefix.empty()) o->key_prefix = "lin-" + std::to_string(o->seed) + "/";
  return true;
}

using Clock = std::chrono::steady_clock;

// Nanoseconds since the run began: one clock for every thread, so a return
// before a call means the first really ended before the second began.
class RunClock {
 public:
  uint64_t now() const {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count());
  }

 private:
  Clock::time_point start_ = Clock::now();
};

// One client's connections: a channel of its own to every endpoint (no
// connection shared with other clients, so each behaves like a separate
// process), and the endpoint it currently uses. Owned by one client thread.
class Connections {
 public:
  Connections(const std::vector<std::string>& endpoints, std::mt19937_64& rng) : rng_(rng) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // Reconnect soon after a killed member restarts, not after gRPC's default
    // backoff of up to two minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    for (const std::string& ep : endpoints) {
      channels_.push_back(grpc::CreateCustomChannel(ep, grpc::InsecureChannelCredentials(), args));
      stubs_.push_back(etcdserverpb::KV::NewStub(channels_.back()));
    }
    current_ = pick();
  }

  etcdserverpb::KV::Stub& current() { return *stubs_[current_]; }
  etcdserverpb::KV::Stub& random() { return *stubs_[pick()]; }

  // Moves to another endpoint after an error.
  void switch_endpoint() {
    if (stubs_.size() < 2) return;
    size_t next = current_;
    while (next == current_) next = pick();
    current_ = next;
  }

  // Whether the current endpoint is known to be down: a request sent there
  // would fail at once and, for a write, only add an unknown op to the history.
  bool current_down() {
    return channels_[current_]->GetState(true) == GRPC_CHANNEL_TRANSIENT_FAILURE;
  }

 private:
  size_t pick() { return std::uniform_int_distribution<size_t>(0, stubs_.size() - 1)(rng_); }

  std::mt19937_64& rng_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs_;
  size_t current_ = 0;
};

// gRPC takes deadlines on the system clock only.
void set_deadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + kRequestDeadline);
}

// The operations below fill op's outcome and outputs; the caller stamps times.
// Each returns the gRPC status so the caller can switch endpoint on an error.

grpc::Status do_put(etcdserverpb::KV::Stub& kv, sim::Operation* op) {
  etcdserverpb::PutRequest req;
  req.set_key(op->key);
  req.set_value(op->value);
  etcdserverpb::PutResponse resp;
  grpc::ClientContext ctx;
  set_deadline(&ctx);
  grpc::Status st = kv.Put(&ctx, req, &resp);
  op->outcome = st.ok() ? Outcome::kOk : Outcome::kUnknown;
  return st;
}

grpc::Status do_get(etcdserverpb::KV::Stub& kv, bool serializable, sim::Operation* op) {
  etcdserverpb::RangeRequest req;
  req.set_key(op->key);
  req.set_serializable(serializable);
  etcdserverpb::RangeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(&ctx);
  grpc::Status st = kv.Range(&ctx, req, &resp);
  op->outcome = st.ok() ? Outcome::kOk : Outcome::kUnknown;
  if (st.ok()) op->output_value = resp.kvs_size() == 0 ? "" : resp.kvs(0).value();
  return st;
}

// CAS as a Txn: if the key's value equals op->expected (or, for "", the key is
// absent), put op->value; else read the key, so that the client's next CAS
// expects the current value and has a chance to succeed. *seen receives the
// value the client now believes current (unchanged if unknown).
grpc::Status do_cas(etcdserverpb::KV::Stub& kv, sim::Operation* op, std::string* seen) {
  etcdserverpb::TxnRequest req;
  etcdserverpb::Compare* cmp = req.add_compare();
  cmp->set_key(op->key);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  if (op->expected.empty()) {
    cmp->set_target(etcdserverpb::Compare::VERSION);
    cmp->set_version(0);
  } else {
    cmp->set_target(etcdserverpb::Compare::VALUE);
    cmp->set_value(op->expected);
  }
  etcdserverpb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(op->key);
  put->set_value(op->value);
  req.add_failure()->mutable_request_range()->set_key(op->key);
  etcdserverpb::TxnResponse resp;
  grpc::ClientContext ctx;
  set_deadline(&ctx);
  grpc::Status st = kv.Txn(&ctx, req, &resp);
  op->outcome = st.ok() ? Outcome::kOk : Outcome::kUnknown;
  if (!st.ok()) return st;
  op->output_ok = resp.succeeded();
  if (resp.succeeded()) {
    *seen = op->value;
  } else if (resp.responses_size() == 1 && resp.responses(0).has_response_range()) {
    const auto& range = resp.responses(0).response_range();
    *seen = range.kvs_size() == 0 ? "" : range.kvs(0).value();
  }
  return st;
}

// Shared by the client threads: the run's bounds.
struct Run {
  const Options& options;
  RunClock clock;
  Clock::time_point deadline;
  std::atomic<uint64_t> ops_started{0};
};

// One client: a loop of random operations until the deadline or the op budget.
std::vector<sim::Operation> run_client(Run& run, uint32_t client) {
  const Options& o = run.options;
  std::mt19937_64 rng(o.seed * 1000003 + client);
  Connections conns(o.endpoints, rng);
  std::vector<std::string> seen(o.keys);  // the last value this client saw per key
  std::vector<sim::Operation> history;
  uint64_t values_written = 0;
  while (Clock::now() < run.deadline) {
    if (conns.current_down()) {
      conns.switch_endpoint();
      std::this_thread::sleep_for(kErrorPause);
      continue;
    }
    if (run.ops_started.fetch_add(1) >= o.max_ops) break;
    const uint32_t k = std::uniform_int_distribution<uint32_t>(0, o.keys - 1)(rng);
    const uint32_t dice = std::uniform_int_distribution<uint32_t>(0, 9)(rng);
    sim::Operation op;
    op.client = client;
    op.key = o.key_prefix + "k" + std::to_string(k);
    op.kind = dice < 3 ? OpKind::kPut : dice < 7 ? OpKind::kGet : OpKind::kCas;
    if (op.kind != OpKind::kGet) {
      op.value = "c" + std::to_string(client) + "-" + std::to_string(values_written++);
    }
    if (op.kind == OpKind::kCas) op.expected = seen[k];
    grpc::Status st;
    op.call_time = run.clock.now();
    switch (op.kind) {
      case OpKind::kPut:
        st = do_put(conns.current(), &op);
        break;
      case OpKind::kGet:
        st = o.plant_stale_reads ? do_get(conns.random(), true, &op)
                                 : do_get(conns.current(), false, &op);
        break;
      case OpKind::kCas:
        st = do_cas(conns.current(), &op, &seen[k]);
        break;
    }
    op.return_time = run.clock.now();
    if (st.ok()) {
      if (op.kind == OpKind::kPut) seen[k] = op.value;
      if (op.kind == OpKind::kGet) seen[k] = op.output_value;
    }
    history.push_back(std::move(op));
    if (!st.ok()) {
      conns.switch_endpoint();
      std::this_thread::sleep_for(kErrorPause);
    }
  }
  return history;
}

struct Counts {
  uint64_t ok[3] = {};
  uint64_t unknown[3] = {};
  uint64_t cas_swapped = 0;
  uint64_t total_ok() const { return ok[0] + ok[1] + ok[2]; }
};

Counts count(const std::vector<sim::Operation>& history) {
  Counts c;
  for (const sim::Operation& op : history) {
    const auto kind = static_cast<size_t>(op.kind);
    if (op.outcome == Outcome::kOk) {
      ++c.ok[kind];
      if (op.kind == OpKind::kCas && op.output_ok) ++c.cas_swapped;
    } else {
      ++c.unknown[kind];
    }
  }
  return c;
}

// Client-visible unavailability: the gaps between successive completed
// operations longer than kStallMinNs, in ms since the run began, at most
// kStallsShown of them (a leader kill shows up as one such gap).
constexpr uint64_t kStallMinNs = 200'000'000;  // well above a request's latency
constexpr size_t kStallsShown = 10;

void print_stalls(const std::vector<sim::Operation>& history) {
  std::vector<uint64_t> returns;
  for (const sim::Operation& op : history) {
    if (op.outcome == Outcome::kOk) returns.push_back(op.return_time);
  }
  std::sort(returns.begin(), returns.end());
  size_t shown = 0;
  uint64_t longest = 0;
  for (size_t i = 1; i < returns.size(); ++i) {
    const uint64_t gap = returns[i] - returns[i - 1];
    longest = std::max(longest, gap);
    if (gap < kStallMinNs || shown == kStallsShown) continue;
    ++shown;
    std::cout << "stall: no operation completed for " << gap / 1'000'000 << " ms (from "
              << returns[i - 1] / 1'000'000 << " ms)\n";
  }
  std::cout << "longest stall: " << longest / 1'000'000 << " ms\n";
}

void write_history(const std::string& path, const std::vector<sim::Operation>& history) {
  std::ofstream out(path);
  for (const sim::Operation& op : history) out << sim::describe(op) << "\n";
  if (!out) std::cerr << "could not write the history to " << path << "\n";
}

int run_main(const Options& o) {
  Run run{o,
          {},
          Clock::now() + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(o.seconds))};
  std::cout << "lin_client: " << o.clients << " clients, " << o.keys << " keys (prefix "
            << o.key_prefix << "), " << o.seconds << " s, seed " << o.seed
            << (o.plant_stale_reads ? ", PLANTED stale reads (serializable Gets)" : "") << "\n";
  std::vector<std::vector<sim::Operation>> per_client(o.clients);
  std::vector<std::thread> threads;
  for (uint32_t c = 0; c < o.clients; ++c) {
    threads.emplace_back([&run, &per_client, c] { per_client[c] = run_client(run, c); });
  }
  for (std::thread& t : threads) t.join();

  std::vector<sim::Operation> history;
  for (auto& ops : per_client) {
    for (auto& op : ops) history.push_back(std::move(op));
  }
  std::sort(history.begin(), history.end(),
            [](const auto& a, const auto& b) { return a.call_time < b.call_time; });
  for (size_t i = 0; i < history.size(); ++i) history[i].id = i;
  if (!o.history_out.empty()) write_history(o.history_out, history);

  const Counts c = count(history);
  std::cout << "put: ok " << c.ok[0] << ", unknown " << c.unknown[0] << "\n"
            << "get: ok " << c.ok[1] << ", failed " << c.unknown[1] << "\n"
            << "cas: ok " << c.ok[2] << " (" << c.cas_swapped << " swapped), unknown "
            << c.unknown[2] << "\n"
            << "ok_ops=" << c.total_ok() << "\n";
  print_stalls(history);

  const auto check_start = Clock::now();
  const sim::CheckResult result = sim::check_kv_history(history, o.check_steps_max);
  const auto check_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - check_start).count();
  std::cout << "verdict: " << sim::verdict_name(result.verdict) << " (" << history.size()
            << " operations, " << result.steps << " search steps, " << check_ms << " ms)\n";
  switch (result.verdict) {
    case sim::Verdict::kLinearizable:
      return 0;
    case sim::Verdict::kViolation:
      std::cout << result.explanation;
      return kExitViolation;
    case sim::Verdict::kTimedOut:
      std::cout << result.explanation
                << "the checker ran out of steps: the history is neither passed nor failed\n";
      return kExitTimedOut;
  }
  return kExitViolation;
}

}  // namespace
}  // namespace meridian::lin

int main(int argc, char** argv) {
  meridian::lin::Options options;
  if (!meridian::lin::parse_options(argc, argv, &options)) {
    meridian::lin::usage(argv[0]);
    return meridian::lin::kExitUsage;
  }
  return meridian::lin::run_main(options);
}
