// The watch workload: W watchers, all on the prefix "watch/", spread over S watch
// streams (themselves spread over the connections); once every watcher is
// created, one writer puts under the prefix for the measured time, at a fixed
// rate or as fast as one client can. Every watcher must see every acknowledged
// put exactly once, in revision order. Reported: events delivered per second
// (first put sent to last event received), event latency (put sent to event
// received; the send time travels in the value) and watchers' missing events,
// and the writer's put latency. --stalled-streams adds streams that never read
// (etcd_load_limits.h), opened once the counted watchers exist. The watchers
// use h2_watch_client.h (see there why not gRPC's client); the writer and the
// stalled streams use gRPC's.
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <string_view>
#include <unordered_map>

#include "bench_util.h"
#include "etcd_load.h"
#include "etcd_load_limits.h"
#include "h2_watch_client.h"

namespace meridian::bench::etcd_load {

namespace {

constexpr char kPrefix[] = "watch/";
constexpr char kPrefixEnd[] = "watch0";  // '/' + 1: the end of the prefix range
// Creating 10,000 watchers takes etcd about a second; allow much more.
constexpr auto kSetupTimeout = std::chrono::seconds(60);

// The value carries the time its put was sent: "t<ns since the steady clock's
// epoch>:" then padding. Both ends are this process, so the clocks agree.
std::string stamped_value(Clock::time_point sent, const std::string& padding) {
  std::string value = "t" + std::to_string(sent.time_since_epoch().count()) + ":";
  if (value.size() < padding.size()) {
    value += padding.substr(value.size());
  }
  return value;
}

bool sent_time_of(std::string_view value, Clock::time_point* sent) {
  if (value.size() < 2 || value[0] != 't') {
    return false;
  }
  int64_t ns = 0;
  const auto [end, error] = std::from_chars(value.data() + 1, value.data() + value.size(), ns);
  if (error != std::errc() || end == value.data() + 1 || end == value.data() + value.size() ||
      *end != ':') {
    return false;
  }
  *sent = Clock::time_point(Clock::duration(ns));
  return true;
}

struct Watcher {
  int64_t watch_id = -1;  // -1 until created
  uint64_t events = 0;
  int64_t last_revision = 0;
  uint64_t out_of_order = 0;  // events at or below the last revision seen: duplicates
};

// What the streams and the main thread share.
struct Shared {
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> broken_streams{0};  // ended before the main thread cancelled them
  std::atomic<uint64_t> finished_streams{0};
  std::atomic<bool> cancelling{false};
};

// Counters of one client thread (its streams run only on it).
struct ThreadStats {
  Samples latencies;
  uint64_t unstamped = 0;  // events whose value had no send time
  uint64_t unknown = 0;    // events for a watch id this stream never created
  Clock::time_point last_event{};
};

// One watch stream's watchers: its creates, then the counting of what arrives.
class WatchStream final : public WatchStreamHandler {
 public:
  WatchStream(uint64_t watchers, Shared* shared, ThreadStats* stats)
      : shared_(shared), stats_(stats), watchers_(watchers) {}

  // The stream's requests: one create per watcher, on the prefix.
  std::vector<std::string> creates() const {
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(kPrefix);
    create->set_range_end(kPrefixEnd);
    return std::vector<std::string>(watchers_.size(), request.SerializeAsString());
  }
  const std::vector<Watcher>& watchers() const { return watchers_; }

  void on_response(const WatchResponseView& response, Clock::time_point now) override {
    // etcd answers the creates of one stream in the order they were sent.
    if (response.created && created_ < watchers_.size()) {
      watchers_[created_].watch_id = response.watch_id;
      by_id_[response.watch_id] = created_;
      ++created_;
      shared_->created.fetch_add(1);
    }
    if (response.canceled) {
      std::fprintf(stderr, "watch %" PRId64 " cancelled by the server: %.*s\n", response.watch_id,
                   static_cast<int>(response.cancel_reason.size()), response.cancel_reason.data());
    }
    if (!response.events.empty()) count_events(response, now);
  }

  void on_end(int status, const std::string& message) override {
    if (!shared_->cancelling.load()) {
      shared_->broken_streams.fetch_add(1);
      std::fprintf(stderr, "watch stream ended: %d %s\n", status, message.c_str());
    }
    shared_->finished_streams.fetch_add(1);
  }

 private:
  void count_events(const WatchResponseView& response, Clock::time_point now) {
    auto found = by_id_.find(response.watch_id);
    if (found == by_id_.end()) {
      stats_->unknown += response.events.size();
      return;
    }
    Watcher& w = watchers_[found->second];
    for (const WatchEventView& event : response.events) {
      if (event.mod_revision <= w.last_revision) {
        ++w.out_of_order;
        continue;
      }
      w.last_revision = event.mod_revision;
      ++w.events;
      Clock::time_point sent;
      if (sent_time_of(event.value, &sent)) {
        stats_->latencies.add(now - sent);
      } else {
        ++stats_->unstamped;
      }
    }
    stats_->last_event = now;
    shared_->events.fetch_add(response.events.size());
  }

  Shared* const shared_;
  ThreadStats* const stats_;
  std::vector<Watcher> watchers_;
  std::unordered_map<int64_t, size_t> by_id_;
  size_t created_ = 0;
};

struct WriterResult {
  Samples latencies;  // of the puts
  uint64_t acked = 0;
  uint64_t errors = 0;
  Clock::time_point first_sent{};
  Clock::time_point last_acked{};
};

// Puts under the prefix from the calling thread for options.seconds (and at most
// max_ops puts), one at a time, paced to put_rate if it is set.
WriterResult write_stream(const Options& options, etcdserverpb::KV::Stub* kv) {
  WriterResult result;
  const std::string padding = random_bytes(options.value_bytes, 99);
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options.seconds));
  result.first_sent = start;
  for (uint64_t n = 0; options.max_ops == 0 || n < options.max_ops; ++n) {
    if (options.put_rate > 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(n) / options.put_rate)));
    }
    Clock::time_point sent = Clock::now();
    if (sent >= end) {
      break;
    }
    etcdserverpb::PutRequest put;
    put.set_key(key_of(kPrefix, n % options.keys));
    put.set_value(stamped_value(sent, padding));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(options.timeout_ms));
    etcdserverpb::PutResponse response;
    grpc::Status status = kv->Put(&ctx, put, &response);
    if (status.ok()) {
      ++result.acked;
      result.last_acked = Clock::now();
      result.latencies.add(result.last_acked - sent);
    } else if (result.errors++ == 0) {
      std::fprintf(stderr, "writer: put failed: %s\n", status.error_message().c_str());
    }
  }
  return result;
}

// Waits for `done` or the deadline; true if done.
template <typename F>
bool wait_for(F done, Clock::time_point deadline) {
  while (!done()) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace

bool run_watch(const Options& options, Report* report) {
  // The writer's one connection (gRPC's client); the watchers' own (h2_watch_client.h).
  Options writer_options = options;
  writer_options.conns = 1;
  auto channels = make_channels(writer_options);
  if (!connect_all(channels, std::chrono::milliseconds(options.timeout_ms))) {
    return false;
  }
  auto kv = etcdserverpb::KV::NewStub(channels[0]);

  H2WatchClient client(options.threads);
  std::vector<size_t> conns;
  for (uint64_t i = 0; i < options.conns; ++i) {
    std::string error;
    size_t index = 0;
    if (!client.connect(options.endpoints[i % options.endpoints.size()], &index, &error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return false;
    }
    conns.push_back(index);
  }
  // Connection i runs on client thread i % threads (h2_watch_client.h).
  std::vector<ThreadStats> stats(std::min(options.threads, options.conns));
  Shared shared;
  std::vector<std::unique_ptr<WatchStream>> streams;
  for (uint64_t s = 0; s < options.streams; ++s) {
    uint64_t watchers =
        options.watchers / options.streams + (s < options.watchers % options.streams);
    const uint64_t conn = s % options.conns;
    streams.push_back(
        std::make_unique<WatchStream>(watchers, &shared, &stats[conn % stats.size()]));
    client.open_stream(conns[conn], streams.back().get(), streams.back()->creates());
  }
  const Clock::time_point setup_start = Clock::now();
  client.start();
  bool ready = wait_for(
      [&] { return shared.created.load() == options.watchers || shared.broken_streams.load() > 0; },
      setup_start + kSetupTimeout);
  const double setup_s = seconds_between(setup_start, Clock::now());
  bool ok = ready && shared.broken_streams.load() == 0;
  WriterResult writer;
  StalledStreams stalled(options);
  if (ok) {
    std::fprintf(stderr, "%" PRIu64 " watchers on %" PRIu64 " streams created in %.2f s\n",
                 options.watchers, options.streams, setup_s);
    ok = stalled.start(kPrefix, kPrefixEnd);
  }
  if (ok && options.stalled_streams > 0) {
    // Nothing confirms the stalled creates (their answers are never read); give
    // the server a moment to take them before the writer starts.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (ok) {
    writer = write_stream(options, kv.get());
    const uint64_t expected = writer.acked * options.watchers;
    wait_for([&] { return shared.events.load() >= expected; },
             Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(options.drain_seconds)));
  } else {
    std::fprintf(stderr, "error: %" PRIu64 " of %" PRIu64 " watchers created in %.2f s\n",
                 shared.created.load(), options.watchers, setup_s);
  }
  stalled.stop();
  shared.cancelling = true;
  client.stop();  // cancels every stream
  if (!ok) {
    return false;
  }

  uint64_t missing = 0;
  uint64_t extra = 0;
  uint64_t out_of_order = 0;
  uint64_t events = 0;
  for (auto& stream : streams) {
    for (const Watcher& w : stream->watchers()) {
      events += w.events;
      missing += w.events < writer.acked ? writer.acked - w.events : 0;
      extra += w.events > writer.acked ? w.events - writer.acked : 0;
      out_of_order += w.out_of_order;
    }
  }
  Clock::time_point last_event{};
  uint64_t unstamped = 0;
  uint64_t unknown = 0;
  for (ThreadStats& s : stats) {
    report->latencies.merge(s.latencies);
    last_event = std::max(last_event, s.last_event);
    unstamped += s.unstamped;
    unknown += s.unknown;
  }
  report->workload = options.workload;
  report->seconds = events > 0 ? seconds_between(writer.first_sent, last_event) : 0;
  report->ops = events;
  report->errors = writer.errors + out_of_order + unknown + unstamped;
  double put_s = seconds_between(writer.first_sent, writer.last_acked);
  char puts_per_s[32];
  std::snprintf(puts_per_s, sizeof puts_per_s, "%.1f",
                put_s > 0 ? static_cast<double>(writer.acked) / put_s : 0);
  char setup[32];
  std::snprintf(setup, sizeof setup, "%.2f", setup_s);
  char put_p50[32];
  char put_p99[32];
  std::snprintf(put_p50, sizeof put_p50, "%.0f", writer.latencies.percentile_us(50));
  std::snprintf(put_p99, sizeof put_p99, "%.0f", writer.latencies.percentile_us(99));
  report->extra = {{"watchers", std::to_string(options.watchers)},
                   {"streams", std::to_string(options.streams)},
                   {"puts", std::to_string(writer.acked)},
                   {"puts_per_s", puts_per_s},
                   {"missing", std::to_string(missing)},
                   {"extra", std::to_string(extra)},
                   {"out_of_order", std::to_string(out_of_order)},
                   {"broken_streams", std::to_string(shared.broken_streams.load())},
                   {"setup_s", setup},
                   {"put_p50_us", put_p50},
                   {"put_p99_us", put_p99}};
  if (options.stalled_streams > 0) {
    Fields more = stalled.fields();
    report->extra.insert(report->extra.end(), more.begin(), more.end());
  }
  return true;
}

}  // namespace meridian::bench::etcd_load
