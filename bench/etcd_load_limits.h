// etcd_load's pieces for measuring limits beyond etcd's own (bench/run-kv-limits):
// an RPC fired once inside a unary workload's measured window (a compaction, a
// defragmentation), and stalled watch streams, which create watchers and then
// never read, so the server's writes to them stop on gRPC flow control.
//
// Threads: WindowAction::run and StalledStreams' methods are called from the
// workload's main thread; WindowAction::during from the completion-queue threads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "etcd_load.h"

namespace meridian::bench::etcd_load {

using Fields = std::vector<std::pair<std::string, std::string>>;

// The --compact-at/--defrag-at RPC. run() sleeps until `at` seconds after
// `window_start`, issues the RPC from a connection of its own to endpoints[0],
// publishes the interval it ran in and returns the report fields it adds
// (action, action_s, action_status, and compact_revision).
class WindowAction {
 public:
  explicit WindowAction(const Options& options) : options_(options) {}
  bool wanted() const { return options_.compact_at >= 0 || options_.defrag_at >= 0; }
  Fields run(Clock::time_point window_start);
  // Whether a request sent at `sent` went while the RPC ran (any thread).
  bool during(Clock::time_point sent) const {
    const Clock::rep t = sent.time_since_epoch().count();
    return t >= began_.load(std::memory_order_relaxed) &&
           t <= ended_.load(std::memory_order_relaxed);
  }

 private:
  const Options& options_;
  // Steady-clock ticks; "never" until set, so during() is false before the RPC.
  std::atomic<Clock::rep> began_{std::numeric_limits<Clock::rep>::max()};
  std::atomic<Clock::rep> ended_{std::numeric_limits<Clock::rep>::max()};
};

// --stalled-streams K: K watch streams on one connection of their own to
// endpoints[0], each creating --stalled-watchers watchers on [key, range_end)
// and never reading. stop() cancels them (the destructor too).
class StalledStreams {
 public:
  explicit StalledStreams(const Options& options) : options_(options) {}
  ~StalledStreams() { stop(); }
  StalledStreams(const StalledStreams&) = delete;
  StalledStreams& operator=(const StalledStreams&) = delete;

  // Opens the streams and sends every create; false (with a message) on a failure.
  bool start(const std::string& key, const std::string& range_end);
  void stop();
  // Report fields: stalled_streams, stalled_watchers.
  Fields fields() const;

 private:
  using Stream = grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;
  struct Open {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<Stream> stream;
  };

  const Options& options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdserverpb::Watch::Stub> stub_;
  std::vector<Open> open_;
};

// The end of the range of keys starting with `prefix` (its last byte plus one;
// the prefixes used here never end in 0xff).
std::string prefix_end(const std::string& prefix);

}  // namespace meridian::bench::etcd_load
