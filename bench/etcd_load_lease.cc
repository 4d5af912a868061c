// The leases workload: --leases L leases of --lease-ttl T seconds are granted
// (by --clients threads, before the clock starts), then each is kept alive
// every T/3 seconds, as etcd's clients renew, over --streams S LeaseKeepAlive
// streams spread over the connections, with the renewals of a stream spread
// evenly over the interval. Reported: keep-alives answered per second, their
// round trip (p50/p99), answers with TTL 0 (a lease lost: must be none), and,
// with --server-pids, the CPU the server processes used in the measured window
// (their utime + stime from /proc), the number this workload is for. At the end
// every lease is revoked, so that the next run does not pay for their expiry.
//
// Threads: one per stream (it writes the renewals that are due, then reads as
// many answers; a stream's answers come in the order of its requests), and the
// main thread, which samples the servers' CPU at the window's edges.
//
// The lease-expiry workload (below) measures how close to their TTL leases
// left alone end.
#include <unistd.h>
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "bench_util.h"
#include "etcd_load.h"

namespace meridian::bench::etcd_load {

namespace {

namespace pb = ::etcdserverpb;

// utime + stime of every process, in seconds; false if one cannot be read.
bool cpu_seconds(const std::vector<int>& pids, double* out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (int pid : pids) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // The command name may hold spaces; the fields after it are fixed.
    const size_t close = text.rfind(')');
    if (close == std::string::npos) return false;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    uint64_t utime = 0;
    uint64_t stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    total += static_cast<double>(utime + stime) / ticks;
  }
  *out = total;
  return true;
}

// Runs f(i) for i in [0, count) on `threads` threads; false if any call failed.
bool parallel(uint64_t count, uint64_t threads, const std::function<bool(uint64_t)>& f) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> ok{true};
  std::vector<std::thread> pool;
  for (uint64_t t = 0; t < std::max<uint64_t>(threads, 1); ++t) {
    pool.emplace_back([&] {
      for (uint64_t i = next++; i < count && ok; i = next++) {
        if (!f(i)) ok = false;
      }
    });
  }
  for (auto& t : pool) t.join();
  return ok;
}

struct StreamResult {
  Samples latencies;
  uint64_t ops = 0;     // answers in the measured window
  uint64_t lost = 0;    // answers with TTL 0
  uint64_t errors = 0;  // the stream broke
};

// One keep-alive stream's loop until `end`.
void keep_alive(pb::Lease::Stub* stub, const std::vector<int64_t>& leases, double ttl,
                Clock::time_point start, Clock::time_point window_begin,
                Clock::time_point window_end, Clock::time_point end, StreamResult* result) {
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ttl / 3.0));
  std::vector<Clock::time_point> next(leases.size());
  for (size_t i = 0; i < leases.size(); ++i) {
    next[i] = start + interval * static_cast<int64_t>(i) / static_cast<int64_t>(leases.size());
  }
  grpc::ClientContext ctx;
  auto stream = stub->LeaseKeepAlive(&ctx);
  std::deque<Clock::time_point> sent;
  pb::LeaseKeepAliveRequest req;
  pb::LeaseKeepAliveResponse resp;
  while (Clock::now() < end) {
    const Clock::time_point now = Clock::now();
    Clock::time_point wake = now + std::chrono::milliseconds(20);
    for (size_t i = 0; i < leases.size(); ++i) {
      if (next[i] <= now) {
        req.set_id(leases[i]);
        if (!stream->Write(req)) {
          ++result->errors;
          return;
        }
        sent.push_back(Clock::now());
        next[i] += interval;
      }
      wake = std::min(wake, next[i]);
    }
    while (!sent.empty()) {
      if (!stream->Read(&resp)) {
        ++result->errors;
        return;
      }
      const Clock::time_point got = Clock::now();
      if (got >= window_begin && got < window_end) {
        result->latencies.add(got - sent.front());
        ++result->ops;
      }
      if (resp.ttl() <= 0) ++result->lost;
      sent.pop_front();
    }
    std::this_thread::sleep_until(wake);
  }
  stream->WritesDone();
  while (stream->Read(&resp)) {
  }
  const grpc::Status status = stream->Finish();
  if (!status.ok()) ++result->errors;
}

}  // namespace

bool run_leases(const Options& o, Report* report) {
  auto channels = make_channels(o);
  if (!connect_all(channels, std::chrono::milliseconds(o.timeout_ms))) return false;
  std::vector<std::unique_ptr<pb::Lease::Stub>> stubs;
  for (auto& channel : channels) stubs.push_back(pb::Lease::NewStub(channel));

  const auto deadline = [&] {
    return std::chrono::system_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  };
  std::vector<int64_t> ids(o.leases);
  const Clock::time_point grant_start = Clock::now();
  const bool granted = parallel(o.leases, o.clients, [&](uint64_t i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    pb::LeaseGrantRequest req;
    req.set_ttl(static_cast<int64_t>(o.lease_ttl));
    pb::LeaseGrantResponse resp;
    const grpc::Status s = stubs[i % stubs.size()]->LeaseGrant(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "error: LeaseGrant: %s\n", s.error_message().c_str());
      return false;
    }
    ids[i] = resp.id();
    return true;
  });
  if (!granted) return false;
  const double grant_seconds = seconds_between(grant_start, Clock::now());

  const uint64_t streams = std::min<uint64_t>(o.streams, o.leases);
  std::vector<std::vector<int64_t>> share(streams);
  for (uint64_t i = 0; i < o.leases; ++i) share[i % streams].push_back(ids[i]);
  const Clock::time_point start = Clock::now();
  const auto after = [&](double s) {
    return start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const Clock::time_point window_begin = after(o.warmup_seconds);
  const Clock::time_point window_end = after(o.warmup_seconds + o.seconds);
  std::vector<StreamResult> results(streams);
  std::vector<std::thread> threads;
  for (uint64_t s = 0; s < streams; ++s) {
    threads.emplace_back([&, s] {
      keep_alive(stubs[s % stubs.size()].get(), share[s], static_cast<double>(o.lease_ttl), start,
                 window_begin, window_end, window_end, &results[s]);
    });
  }
  double cpu_begin = 0;
  double cpu_end = 0;
  std::this_thread::sleep_until(window_begin);
  const bool cpu_ok = !o.server_pids.empty() && cpu_seconds(o.server_pids, &cpu_begin);
  std::this_thread::sleep_until(window_end);
  const bool cpu_ok_end = cpu_ok && cpu_seconds(o.server_pids, &cpu_end);
  for (auto& t : threads) t.join();

  uint64_t lost = 0;
  report->workload = o.workload;
  report->seconds = o.seconds;
  for (StreamResult& r : results) {
    report->ops += r.ops;
    report->errors += r.errors;
    lost += r.lost;
    report->latencies.merge(r.latencies);
  }
  const bool revoked = parallel(o.leases, o.clients, [&](uint64_t i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    pb::LeaseRevokeRequest req;
    req.set_id(ids[i]);
    pb::LeaseRevokeResponse resp;
    return stubs[i % stubs.size()]->LeaseRevoke(&ctx, req, &resp).ok();
  });
  if (!revoked) ++report->errors;

  char buf[64];
  report->extra.emplace_back("leases", std::to_string(o.leases));
  report->extra.emplace_back("lost", std::to_string(lost));
  std::snprintf(buf, sizeof buf, "%.0f", static_cast<double>(o.leases) / grant_seconds);
  report->extra.emplace_back("grants_per_s", buf);
  if (cpu_ok_end) {
    const double cpu = cpu_end - cpu_begin;
    std::snprintf(buf, sizeof buf, "%.3f", cpu);
    report->extra.emplace_back("server_cpu_s", buf);
    std::snprintf(buf, sizeof buf, "%.1f", 100.0 * cpu / o.seconds);
    report->extra.emplace_back("server_cpu_pct", buf);
  }
  return true;
}

namespace {

constexpr char kExpiryPrefix[] = "expiry/";
constexpr char kExpiryPrefixEnd[] = "expiry0";

// Watches the expiry prefix and notes when each key's delete arrives.
class DeleteWatch {
 public:
  explicit DeleteWatch(pb::Watch::Stub* stub) : stream_(stub->Watch(&ctx_)) {}

  bool start() {
    pb::WatchRequest req;
    req.mutable_create_request()->set_key(kExpiryPrefix);
    req.mutable_create_request()->set_range_end(kExpiryPrefixEnd);
    pb::WatchResponse resp;
    if (!stream_->Write(req) || !stream_->Read(&resp) || !resp.created()) return false;
    reader_ = std::thread([this] {
      pb::WatchResponse r;
      while (stream_->Read(&r)) {
        const Clock::time_point now = Clock::now();
        std::lock_guard lock(mu_);
        for (const auto& ev : r.events()) {
          if (ev.type() == mvccpb::Event::DELETE) deleted_.emplace(ev.kv().key(), now);
        }
      }
    });
    return true;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return deleted_.size();
  }
  std::map<std::string, Clock::time_point> deleted() {
    std::lock_guard lock(mu_);
    return deleted_;
  }
  void stop() {
    ctx_.TryCancel();
    if (reader_.joinable()) reader_.join();
    (void)stream_->Finish();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> stream_;
  std::thread reader_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point> deleted_;  // guarded by mu_
};

}  // namespace

// The lease-expiry workload: --leases N leases of --lease-ttl T seconds, each
// with one key, granted from --clients threads and never kept alive; a watch on
// the keys notes when each is deleted. Reported per lease: how late its key
// went, after the grant was sent plus T (p50_us, p99_us, max_late_ms), and how
// many went early (early: must be 0; a lease's TTL starts when its grant
// applies, which is after the client sent it).
bool run_lease_expiry(const Options& o, Report* report) {
  auto channels = make_channels(o);
  if (!connect_all(channels, std::chrono::milliseconds(o.timeout_ms))) return false;
  auto lease = pb::Lease::NewStub(channels[0]);
  auto kv = pb::KV::NewStub(channels[0]);
  auto watch_stub = pb::Watch::NewStub(channels[0]);
  DeleteWatch watch(watch_stub.get());
  if (!watch.start()) {
    std::fprintf(stderr, "error: the expiry watch was not created\n");
    return false;
  }
  std::vector<Clock::time_point> sent(o.leases);
  const bool granted = parallel(o.leases, o.clients, [&](uint64_t i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(o.timeout_ms));
    pb::LeaseGrantRequest req;
    req.set_ttl(static_cast<int64_t>(o.lease_ttl));
    pb::LeaseGrantResponse resp;
    sent[i] = Clock::now();
    grpc::Status s = lease->LeaseGrant(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "error: LeaseGrant: %s\n", s.error_message().c_str());
      return false;
    }
    grpc::ClientContext put_ctx;
    put_ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(o.timeout_ms));
    pb::PutRequest put;
    put.set_key(key_of(kExpiryPrefix, i));
    put.set_lease(resp.id());
    pb::PutResponse put_resp;
    s = kv->Put(&put_ctx, put, &put_resp);
    if (!s.ok()) std::fprintf(stderr, "error: Put: %s\n", s.error_message().c_str());
    return s.ok();
  });
  const auto give_up = Clock::now() + std::chrono::seconds(o.lease_ttl + 30);
  while (granted && watch.count() < o.leases && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  watch.stop();
  if (!granted) return false;
  const auto deleted = watch.deleted();
  const auto ttl = std::chrono::seconds(o.lease_ttl);
  uint64_t early = 0;
  Clock::duration latest{0};
  report->workload = o.workload;
  report->seconds = static_cast<double>(o.lease_ttl);
  for (uint64_t i = 0; i < o.leases; ++i) {
    auto it = deleted.find(key_of(kExpiryPrefix, i));
    if (it == deleted.end()) {
      ++report->errors;  // never went
      continue;
    }
    const Clock::duration late = it->second - (sent[i] + ttl);
    if (late < Clock::duration::zero()) {
      ++early;
      continue;
    }
    ++report->ops;
    latest = std::max(latest, late);
    report->latencies.add(late);
  }
  char buf[32];
  report->extra.emplace_back("early", std::to_string(early));
  std::snprintf(buf, sizeof buf, "%.1f", std::chrono::duration<double, std::milli>(latest).count());
  report->extra.emplace_back("max_late_ms", buf);
  return true;
}

}  // namespace meridian::bench::etcd_load
