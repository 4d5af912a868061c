#include <grpc/grpc.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "bench_util.h"
#include "etcd_load.h"

namespace meridian::bench::etcd_load {

namespace {

// etcd refuses a transaction of more than 128 operations by default
// (--max-txn-ops); stay under it.
constexpr uint64_t kPreloadBatch = 100;

std::string strip_scheme(const std::string& endpoint) {
  auto pos = endpoint.find("://");
  return pos == std::string::npos ? endpoint : endpoint.substr(pos + 3);
}

}  // namespace

std::string key_of(const std::string& prefix, uint64_t index) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%08" PRIu64, index);
  return prefix + digits;
}

CompletionThreads::CompletionThreads(uint64_t count) {
  for (uint64_t i = 0; i < std::max<uint64_t>(count, 1); ++i) {
    queues_.push_back(std::make_unique<grpc::CompletionQueue>());
  }
}

CompletionThreads::~CompletionThreads() { stop(); }

void CompletionThreads::start() {
  for (auto& queue : queues_) {
    threads_.emplace_back([cq = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
        static_cast<Pending*>(tag)->done(ok);
      }
    });
  }
}

void CompletionThreads::stop() {
  if (threads_.empty()) {
    return;
  }
  for (auto& queue : queues_) {
    queue->Shutdown();
  }
  for (auto& thread : threads_) {
    thread.join();
  }
  threads_.clear();
}

std::vector<std::shared_ptr<grpc::Channel>> make_channels(const Options& options) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (uint64_t i = 0; i < options.conns; ++i) {
    grpc::ChannelArguments args;
    // Channels with equal arguments to the same address share one subchannel,
    // i.e. one TCP connection; a private pool and a distinct argument prevent it.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("meridian.etcd_load.connection", static_cast<int>(i));
    const std::string& endpoint = options.endpoints[i % options.endpoints.size()];
    channels.push_back(grpc::CreateCustomChannel(strip_scheme(endpoint),
                                                 grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

bool connect_all(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::system_clock::now() + timeout;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (!channels[i]->WaitForConnected(deadline)) {
      std::fprintf(stderr, "error: connection %zu did not connect within %lld ms\n", i,
                   static_cast<long long>(timeout.count()));
      return false;
    }
  }
  return true;
}

std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> connect_kv_stubs(const Options& options) {
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs;
  auto channels = make_channels(options);
  if (!connect_all(channels, std::chrono::milliseconds(options.timeout_ms))) return stubs;
  for (auto& channel : channels) stubs.push_back(etcdserverpb::KV::NewStub(channel));
  return stubs;
}

void Samples::add(Clock::duration latency) {
  ++count_;
  if (ns_.size() < kSamplesMax) {
    ns_.push_back(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count()));
    sorted_ = false;
  }
}

void Samples::merge(Samples& other) {
  count_ += other.count_;
  size_t room = kSamplesMax - std::min(kSamplesMax, ns_.size());
  size_t take = std::min(room, other.ns_.size());
  ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.begin() + static_cast<ptrdiff_t>(take));
  sorted_ = false;
}

double Samples::percentile_us(double p) {
  if (!sorted_) {
    std::sort(ns_.begin(), ns_.end());
    sorted_ = true;
  }
  return static_cast<double>(bench::percentile(ns_, p)) / 1000.0;
}

void print_report(const Options& options, Report& report) {
  double per_s = report.seconds > 0 ? static_cast<double>(report.ops) / report.seconds : 0;
  std::printf(
      "RESULT workload=%s endpoints=%zu conns=%" PRIu64 " clients=%" PRIu64 " value_bytes=%" PRIu64
      " seconds=%.2f ops=%" PRIu64 " ops_per_s=%.1f p50_us=%.0f p99_us=%.0f errors=%" PRIu64,
      report.workload.c_str(), options.endpoints.size(), options.conns, options.clients,
      options.value_bytes, report.seconds, report.ops, per_s, report.latencies.percentile_us(50),
      report.latencies.percentile_us(99), report.errors);
  for (const auto& [name, value] : report.extra) {
    std::printf(" %s=%s", name.c_str(), value.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

bool preload(etcdserverpb::KV::Stub* kv, const std::string& prefix, uint64_t count,
             const std::function<std::string(uint64_t)>& value_of,
             std::chrono::milliseconds timeout) {
  for (uint64_t first = 0; first < count; first += kPreloadBatch) {
    etcdserverpb::TxnRequest txn;
    for (uint64_t i = first; i < std::min(count, first + kPreloadBatch); ++i) {
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(key_of(prefix, i));
      put->set_value(value_of(i));
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    etcdserverpb::TxnResponse response;
    grpc::Status status = kv->Txn(&ctx, txn, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "error: preloading %s keys: %s\n", prefix.c_str(),
                   status.error_message().c_str());
      return false;
    }
  }
  return true;
}

}  // namespace meridian::bench::etcd_load
