// The workloads of bench/run-kv-limits: fill (load a key space fast, many puts
// per txn, values of any size) and range-all (whole-prefix Ranges without a
// limit, to see what one read costs the serving node), and the pieces declared
// in etcd_load_limits.h (an RPC inside a measured window, stalled watch streams).
#include "etcd_load_limits.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "bench_util.h"

namespace meridian::bench::etcd_load {

namespace {

// etcd refuses a txn of more than 128 operations by default (--max-txn-ops).
constexpr uint64_t kFillPutsPerTxnMax = 100;
// A paged pass ends after this many pages even if the server keeps saying more
// (a bound on the loop; 1,000,000 keys at one per page would need more).
constexpr uint64_t kPagesMax = 100000;
// A fill txn that fails as unavailable (no leader, leader changed: etcd's
// retryable errors) is sent again, this many times at most, after a pause; the
// txn only puts, so sending it twice leaves the same keys and values.
constexpr int kFillAttemptsMax = 10;
constexpr auto kFillRetryPause = std::chrono::milliseconds(200);
// Compact(physical) and Defragment take as long as the data they touch; the
// usual request deadline is too short for them.
constexpr auto kLongRpcTimeout = std::chrono::minutes(10);

std::string without_scheme(const std::string& endpoint) {
  auto pos = endpoint.find("://");
  return pos == std::string::npos ? endpoint : endpoint.substr(pos + 3);
}

// A connection of its own (not shared with the workload's) to endpoints[0];
// `unlimited_receive` lifts gRPC's 4 MiB default on answers (etcd's clients
// allow any size, and etcd sends a whole range as one message).
std::shared_ptr<grpc::Channel> own_channel(const Options& options, const char* purpose,
                                           bool unlimited_receive) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetString("meridian.etcd_load.purpose", purpose);
  if (unlimited_receive) {
    args.SetMaxReceiveMessageSize(-1);
  }
  return grpc::CreateCustomChannel(without_scheme(options.endpoints[0]),
                                   grpc::InsecureChannelCredentials(), args);
}

std::string status_name(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "code" + std::to_string(static_cast<int>(status.error_code()));
  }
}

std::string format(const char* fmt, double v) {
  char text[64];
  std::snprintf(text, sizeof text, fmt, v);
  return text;
}

template <typename Context>
void set_timeout(Context* ctx, std::chrono::milliseconds timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

std::string prefix_or(const Options& options, const char* fallback) {
  return options.key_prefix.empty() ? fallback : options.key_prefix;
}

// What the fill threads share; each thread takes every n-th batch.
struct FillShared {
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> keys_written{0};
  std::atomic<uint64_t> retries{0};
};

// One txn, retried while unavailable; false (with a message) once it fails.
bool send_fill_txn(etcdserverpb::KV::Stub* kv, const etcdserverpb::TxnRequest& txn,
                   std::chrono::milliseconds timeout, FillShared* shared) {
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext ctx;
    set_timeout(&ctx, timeout);
    etcdserverpb::TxnResponse response;
    grpc::Status status = kv->Txn(&ctx, txn, &response);
    if (status.ok()) {
      return true;
    }
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt == kFillAttemptsMax) {
      std::fprintf(stderr, "error: fill txn of keys from %s (attempt %d): %s\n",
                   txn.success(0).request_put().key().c_str(), attempt,
                   status.error_message().c_str());
      return false;
    }
    if (shared->retries.fetch_add(1) == 0) {
      std::fprintf(stderr, "fill: retrying after: %s\n", status.error_message().c_str());
    }
    std::this_thread::sleep_for(kFillRetryPause);
  }
}

// Puts the batches t, t + n, t + 2n, ... of `per_txn` keys each.
void fill_thread(const Options& options, etcdserverpb::KV::Stub* kv, uint64_t t, uint64_t n,
                 uint64_t per_txn, Clock::time_point end, FillShared* shared, Samples* latencies) {
  const std::string prefix = prefix_or(options, "fill/");
  // Values differ from key to key (a window into twice the value size of random
  // bytes) so that no layer can store them once.
  const std::string source = random_bytes(2 * options.value_bytes, t + 1);
  const uint64_t batches = (options.keys + per_txn - 1) / per_txn;
  for (uint64_t b = t; b < batches && !shared->failed.load(); b += n) {
    if (Clock::now() >= end) {
      return;
    }
    etcdserverpb::TxnRequest txn;
    for (uint64_t i = b * per_txn; i < std::min(options.keys, (b + 1) * per_txn); ++i) {
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(key_of(prefix, i));
      put->set_value(source.substr((i * 7919) % options.value_bytes, options.value_bytes));
    }
    const Clock::time_point sent = Clock::now();
    if (!send_fill_txn(kv, txn, std::chrono::milliseconds(options.timeout_ms), shared)) {
      shared->failed = true;
      return;
    }
    latencies->add(Clock::now() - sent);  // retries included
    shared->keys_written.fetch_add(static_cast<uint64_t>(txn.success_size()));
  }
}

struct RangeOutcome {
  double ms = 0;
  uint64_t bytes = 0;  // the response's encoded size
  uint64_t kvs = 0;
  int64_t count = 0;
  bool more = false;
  std::string last_key;
};

bool range_once(etcdserverpb::KV::Stub* kv, const std::string& key, const std::string& end,
                bool count_only, std::chrono::milliseconds timeout, RangeOutcome* out) {
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  request.set_range_end(end);
  request.set_count_only(count_only);
  grpc::ClientContext ctx;
  set_timeout(&ctx, timeout);
  etcdserverpb::RangeResponse response;
  const Clock::time_point sent = Clock::now();
  grpc::Status status = kv->Range(&ctx, request, &response);
  out->ms = seconds_between(sent, Clock::now()) * 1000;
  if (!status.ok()) {
    std::fprintf(stderr, "error: range from %s: %s %s\n", key.c_str(), status_name(status).c_str(),
                 status.error_message().c_str());
    return false;
  }
  out->bytes = response.ByteSizeLong();
  out->kvs = static_cast<uint64_t>(response.kvs_size());
  out->count = response.count();
  out->more = response.more();
  out->last_key = response.kvs_size() > 0 ? response.kvs(response.kvs_size() - 1).key() : "";
  return true;
}

// Reads the whole prefix in pages: each Range starts just after the last key of
// the previous one, until the server says there is no more.
bool page_through(etcdserverpb::KV::Stub* kv, const std::string& prefix,
                  std::chrono::milliseconds timeout, Fields* fields) {
  const Clock::time_point start = Clock::now();
  std::string from = prefix;
  uint64_t pages = 0;
  uint64_t kvs = 0;
  uint64_t bytes_max = 0;
  for (bool more = true; more && pages < kPagesMax; ++pages) {
    RangeOutcome page;
    if (!range_once(kv, from, prefix_end(prefix), /*count_only=*/false, timeout, &page)) {
      return false;
    }
    kvs += page.kvs;
    bytes_max = std::max(bytes_max, page.bytes);
    more = page.more && page.kvs > 0;
    from = page.last_key + std::string(1, '\0');  // the least key after it
  }
  const double s = seconds_between(start, Clock::now());
  std::printf("RANGE paged pages=%" PRIu64 " kvs=%" PRIu64 " page_bytes_max=%" PRIu64 " s=%.2f\n",
              pages, kvs, bytes_max, s);
  *fields = {{"paged_pages", std::to_string(pages)},
             {"paged_kvs", std::to_string(kvs)},
             {"paged_s", format("%.2f", s)}};
  return true;
}

}  // namespace

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

bool run_fill(const Options& options, Report* report) {
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs = connect_kv_stubs(options);
  if (stubs.empty()) return false;
  const uint64_t per_txn =
      std::clamp<uint64_t>(options.txn_bytes / options.value_bytes, 1, kFillPutsPerTxnMax);
  FillShared shared;
  std::vector<Samples> latencies(options.clients);
  const Clock::time_point start = Clock::now();
  // --seconds bounds a fill too; the report says whether it completed.
  const Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options.seconds));
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < options.clients; ++t) {
    threads.emplace_back([&, t] {
      fill_thread(options, stubs[t % stubs.size()].get(), t, options.clients, per_txn, end, &shared,
                  &latencies[t]);
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  const double s = seconds_between(start, Clock::now());
  for (Samples& l : latencies) {
    report->latencies.merge(l);
  }
  const uint64_t keys = shared.keys_written.load();
  const double bytes = static_cast<double>(keys * options.value_bytes);
  report->workload = options.workload;
  report->seconds = s;
  report->ops = keys;  // p50/p99 are of whole txns
  report->errors = shared.failed.load() ? 1 : 0;
  report->extra = {{"txns", std::to_string(report->latencies.count())},
                   {"puts_per_txn", std::to_string(per_txn)},
                   {"value_mib", format("%.1f", bytes / (1 << 20))},
                   {"mib_per_s", format("%.1f", s > 0 ? bytes / (1 << 20) / s : 0)},
                   {"retries", std::to_string(shared.retries.load())},
                   {"complete", keys == options.keys ? "1" : "0"}};
  return !shared.failed.load();
}

bool run_range_all(const Options& options, Report* report) {
  auto channel = own_channel(options, "range-all", /*unlimited_receive=*/true);
  if (!connect_all({channel}, std::chrono::milliseconds(options.timeout_ms))) {
    return false;
  }
  auto kv = etcdserverpb::KV::NewStub(channel);
  const std::string prefix = prefix_or(options, "range/");
  const auto timeout = std::chrono::milliseconds(options.timeout_ms);
  const Clock::time_point start = Clock::now();
  RangeOutcome first;
  uint64_t bytes_max = 0;
  for (uint64_t i = 0; i < options.ranges; ++i) {
    RangeOutcome r;
    if (!range_once(kv.get(), prefix, prefix_end(prefix), options.count_only, timeout, &r)) {
      return false;
    }
    std::printf("RANGE i=%" PRIu64 " ms=%.0f bytes=%" PRIu64 " kvs=%" PRIu64 " count=%" PRId64
                " more=%d\n",
                i + 1, r.ms, r.bytes, r.kvs, r.count, r.more ? 1 : 0);
    std::fflush(stdout);
    report->latencies.add(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(r.ms)));
    bytes_max = std::max(bytes_max, r.bytes);
    if (i == 0) {
      first = r;
    }
  }
  const double s = seconds_between(start, Clock::now());
  Fields paged;
  if (!options.count_only && !page_through(kv.get(), prefix, timeout, &paged)) {
    return false;
  }
  report->workload = options.workload;
  report->seconds = s;
  report->ops = options.ranges;
  report->extra = {{"bytes_max", std::to_string(bytes_max)},
                   {"kvs", std::to_string(first.kvs)},
                   {"count", std::to_string(first.count)},
                   {"more", first.more ? "1" : "0"}};
  report->extra.insert(report->extra.end(), paged.begin(), paged.end());
  return true;
}

Fields WindowAction::run(Clock::time_point window_start) {
  const bool compact = options_.compact_at >= 0;
  const double at = compact ? options_.compact_at : options_.defrag_at;
  auto channel = own_channel(options_, "window-action", /*unlimited_receive=*/false);
  Fields fields = {{"action", compact ? "compact" : "defrag"}};
  if (!connect_all({channel}, std::chrono::milliseconds(options_.timeout_ms))) {
    fields.emplace_back("action_status", "UNCONNECTED");
    return fields;
  }
  std::this_thread::sleep_until(window_start + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(at)));
  grpc::Status status;
  Clock::time_point began;
  if (compact) {
    // The current revision, from any read's header (a key that need not exist).
    auto kv = etcdserverpb::KV::NewStub(channel);
    etcdserverpb::RangeRequest probe;
    probe.set_key("compact-probe");
    etcdserverpb::RangeResponse probed;
    grpc::ClientContext probe_ctx;
    set_timeout(&probe_ctx, std::chrono::milliseconds(options_.timeout_ms));
    status = kv->Range(&probe_ctx, probe, &probed);
    if (status.ok()) {
      etcdserverpb::CompactionRequest request;
      request.set_revision(probed.header().revision());
      request.set_physical(true);
      etcdserverpb::CompactionResponse response;
      grpc::ClientContext ctx;
      set_timeout(&ctx, kLongRpcTimeout);
      began = Clock::now();
      began_.store(began.time_since_epoch().count());
      status = kv->Compact(&ctx, request, &response);
      fields.emplace_back("compact_revision", std::to_string(probed.header().revision()));
    }
  } else {
    auto maintenance = etcdserverpb::Maintenance::NewStub(channel);
    etcdserverpb::DefragmentRequest request;
    etcdserverpb::DefragmentResponse response;
    grpc::ClientContext ctx;
    set_timeout(&ctx, kLongRpcTimeout);
    began = Clock::now();
    began_.store(began.time_since_epoch().count());
    status = maintenance->Defragment(&ctx, request, &response);
  }
  const Clock::time_point ended = Clock::now();
  ended_.store(ended.time_since_epoch().count());
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s %s\n", compact ? "compact" : "defragment",
                 status_name(status).c_str(), status.error_message().c_str());
  }
  fields.emplace_back(
      "action_s",
      format("%.3f", began == Clock::time_point{} ? 0.0 : seconds_between(began, ended)));
  fields.emplace_back("action_status", status_name(status));
  return fields;
}

bool StalledStreams::start(const std::string& key, const std::string& range_end) {
  if (options_.stalled_streams == 0) {
    return true;
  }
  channel_ = own_channel(options_, "stalled-watch", /*unlimited_receive=*/false);
  if (!connect_all({channel_}, std::chrono::milliseconds(options_.timeout_ms))) {
    return false;
  }
  stub_ = etcdserverpb::Watch::NewStub(channel_);
  for (uint64_t s = 0; s < options_.stalled_streams; ++s) {
    Open open;
    open.ctx = std::make_unique<grpc::ClientContext>();
    open.stream = stub_->Watch(open.ctx.get());
    for (uint64_t w = 0; w < options_.stalled_watchers; ++w) {
      etcdserverpb::WatchRequest request;
      request.mutable_create_request()->set_key(key);
      request.mutable_create_request()->set_range_end(range_end);
      if (!open.stream->Write(request)) {
        std::fprintf(stderr, "error: stalled stream %" PRIu64 ": a create failed\n", s);
        open_.push_back(std::move(open));
        return false;
      }
    }
    open_.push_back(std::move(open));  // and never Read
  }
  return true;
}

void StalledStreams::stop() {
  for (Open& open : open_) {
    open.ctx->TryCancel();
  }
  for (Open& open : open_) {
    open.stream->Finish();  // CANCELLED, without reading what the server sent
  }
  open_.clear();
}

Fields StalledStreams::fields() const {
  return {
      {"stalled_streams", std::to_string(options_.stalled_streams)},
      {"stalled_watchers", std::to_string(options_.stalled_streams * options_.stalled_watchers)}};
}

}  // namespace meridian::bench::etcd_load
