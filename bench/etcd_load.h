// etcd_load: a load generator for anything that speaks etcd's v3 gRPC API (etcd
// itself, Meridian). Shared pieces of its workloads: options, the connections,
// completion-queue threads, latency samples and the one RESULT line it prints.
//
// Threads: the main thread sets up and waits; each completion queue has exactly
// one thread polling it, and every object whose tags go to a queue (a client, a
// watch stream) is touched only by that queue's thread once started, so those
// objects need no locks. What the main thread reads while the load runs is atomic.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace meridian::bench::etcd_load {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> endpoints;  // host:port; connection i goes to endpoints[i % n]
  // put | get | get-serializable | txn-cas | watch | fill | range-all | leases | lease-expiry |
  // lock
  std::string workload;
  uint64_t conns = 1;         // gRPC channels, each its own TCP connection
  uint64_t clients = 1;       // requests outstanding at once, spread over conns
  uint64_t threads = 2;       // completion-queue threads
  double seconds = 5;         // measured time
  double warmup_seconds = 1;  // load before measuring, not counted
  uint64_t max_ops = 0;       // stop after this many measured operations (0: none)
  uint64_t value_bytes = 256;
  uint64_t keys = 100000;       // key space of put/get/txn-cas
  uint64_t timeout_ms = 10000;  // deadline of every request
  std::string key_prefix;       // put/get/txn-cas/fill/range-all/lock: instead of the default
  bool preload = true;          // get: write the keys first (off: they exist already)
  // put/get/txn-cas: one RPC from a connection of its own this many seconds into
  // the measured window (negative: none); requests sent while it runs are also
  // measured apart (etcd_load_limits.cc).
  double compact_at = -1;  // Compact(physical=true) at the current revision
  double defrag_at = -1;   // Maintenance.Defragment of endpoints[0]
  // fill only: puts per txn are bounded by this many value bytes (and by 100)
  uint64_t txn_bytes = 1 << 20;
  // range-all only: whole-prefix Ranges without a limit, then one pass paging on
  // `more`; count_only: Ranges that only count (they read every key all the
  // same), without the paged pass.
  uint64_t ranges = 3;
  bool count_only = false;
  // watch only
  uint64_t watchers = 10000;
  uint64_t streams = 100;  // watch streams, spread over conns; watchers spread over streams
  // watch: the writer's puts/s; put/get/txn-cas: requests/s over all clients.
  // 0: each client as fast as it can.
  double put_rate = 0;
  double drain_seconds = 10;  // after the writer stops, how long events may still arrive
  // Streams on a connection of their own to endpoints[0] that create this many
  // watchers each on the prefix and then never read (a stalled client).
  uint64_t stalled_streams = 0;
  uint64_t stalled_watchers = 1;
  // leases only
  uint64_t leases = 10000;
  uint64_t lease_ttl = 10;       // seconds; each lease is renewed every third of it
  std::vector<int> server_pids;  // whose CPU the measured window is charged (/proc)
  // lock only: the clients spread over this many lock names (1: all contend for one)
  uint64_t lock_names = 1;
};

// Keys are "<prefix><8 digits>", e.g. "put/00000042", so workloads do not meet.
std::string key_of(const std::string& prefix, uint64_t index);

// Something waiting on a completion queue: the queue's thread calls done(ok).
// Used as the tag of every asynchronous gRPC operation.
class Pending {
 public:
  virtual ~Pending() = default;
  virtual void done(bool ok) = 0;
};

// A tag that calls a function; objects with several operations in flight (a
// watch stream reads and writes at once) keep one per operation.
class CallbackTag final : public Pending {
 public:
  explicit CallbackTag(std::function<void(bool)> fn) : fn_(std::move(fn)) {}
  void done(bool ok) override { fn_(ok); }

 private:
  std::function<void(bool)> fn_;
};

// The queues and their threads. start() launches the threads; stop() shuts the
// queues down and joins (every operation must have completed or been cancelled).
class CompletionThreads {
 public:
  explicit CompletionThreads(uint64_t count);
  ~CompletionThreads();
  grpc::CompletionQueue* queue(uint64_t i) { return queues_[i % queues_.size()].get(); }
  uint64_t size() const { return queues_.size(); }
  void start();
  void stop();

 private:
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::thread> threads_;
};

// One channel per connection, each with a distinct channel argument and a local
// subchannel pool so gRPC opens a separate TCP connection for each.
std::vector<std::shared_ptr<grpc::Channel>> make_channels(const Options& options);
// Waits until every channel is connected; false (with a message) if one is not
// within `timeout`.
bool connect_all(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                 std::chrono::milliseconds timeout);
// make_channels, connect_all within the request timeout, and a KV stub on each
// channel; empty (with a message) if a channel did not connect.
std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> connect_kv_stubs(const Options& options);

class WindowAction;  // etcd_load_limits.h

// What a closed-loop workload's clients share: the measured window and when to
// stop. Written before the clients start, then only through the atomics.
struct Window {
  Clock::time_point start;               // measuring begins (after the warmup)
  Clock::time_point end;                 // no request is sent after this
  const WindowAction* action = nullptr;  // null: no --compact-at/--defrag-at
  uint64_t max_ops = 0;                  // 0: no bound
  std::atomic<uint64_t> measured{0};
  std::atomic<Clock::rep> stopped_at{0};  // when max_ops was reached; 0 if not
  std::atomic<uint64_t> active{0};        // clients still running

  bool over(Clock::time_point now) const {
    return now >= end || stopped_at.load(std::memory_order_relaxed) != 0;
  }
  // Counts an operation answered at `now` if it falls in the window; true if it
  // is measured (inside the window and within max_ops). The max_ops-th one ends
  // the window for every client.
  bool measure(Clock::time_point now) {
    if (now < start || over(now)) return false;
    const uint64_t n = measured.fetch_add(1) + 1;
    if (n == max_ops) stopped_at.store(now.time_since_epoch().count());
    return max_ops == 0 || n <= max_ops;
  }
};

// Latencies of one thread, in nanoseconds; bounded so a long run cannot exhaust
// memory (beyond the bound it keeps counting but stops keeping samples).
class Samples {
 public:
  static constexpr size_t kSamplesMax = 8'000'000;  // 64 MB over all threads at most
  void add(Clock::duration latency);
  void merge(Samples& other);
  uint64_t count() const { return count_; }
  // The p-th percentile in microseconds (sorts in place).
  double percentile_us(double p);

 private:
  std::vector<uint64_t> ns_;
  uint64_t count_ = 0;
  bool sorted_ = false;
};

// The one line the run scripts parse: "RESULT workload=put key=value ...".
struct Report {
  std::string workload;
  double seconds = 0;  // the measured window
  uint64_t ops = 0;    // operations completed in it (events, for watch)
  uint64_t errors = 0;
  Samples latencies;
  std::vector<std::pair<std::string, std::string>> extra;  // workload-specific fields
};
void print_report(const Options& options, Report& report);

// The workloads; each returns false on a setup failure (already explained on stderr).
bool run_unary(const Options& options, Report* report);
bool run_watch(const Options& options, Report* report);
bool run_fill(const Options& options, Report* report);          // etcd_load_limits.cc
bool run_range_all(const Options& options, Report* report);     // etcd_load_limits.cc
bool run_leases(const Options& options, Report* report);        // etcd_load_lease.cc
bool run_lease_expiry(const Options& options, Report* report);  // etcd_load_lease.cc
bool run_lock(const Options& options, Report* report);          // etcd_load_lock.cc

// Puts keys [0, count) under `prefix`, key i with value_of(i), many per
// transaction, from the calling thread; false (with a message) on a failure.
bool preload(etcdserverpb::KV::Stub* kv, const std::string& prefix, uint64_t count,
             const std::function<std::string(uint64_t)>& value_of,
             std::chrono::milliseconds timeout);

}  // namespace meridian::bench::etcd_load
