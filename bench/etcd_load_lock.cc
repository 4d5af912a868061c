// The lock workload: the gRPC lock service itself (v3lockpb.Lock, which etcd
// and Meridian both serve on the client port), as `etcdctl lock` users meet it.
// Each of --clients clients grants itself a lease (before the clock starts),
// then loops: Lock(name, lease), and as soon as it answers, Unlock(the key it
// returned). The clients spread over --lock-names names (1, the default: all
// contend for one lock, so the rate is the lock's hand-over rate; as many names
// as clients: no contention, so it is the service's own rate). A closed loop
// over the connections and completion-queue threads, as the unary workloads.
//
// Reported: acquisitions per second (ops_per_s), the Lock round trip from
// request sent to answer (p50_us/p99_us; with contention it includes the wait
// for the holders ahead), the Unlock round trip (unlock_p50_us/unlock_p99_us),
// and two checks of mutual exclusion, each 0 on a correct server and counted
// as errors too:
//   overlaps      Lock answers that arrived while, as far as this tool knows,
//                 another of its clients held the same name. A client counts
//                 itself a holder from its Lock answer until just before it
//                 sends its Unlock (the server cannot grant the next holder
//                 before that Unlock arrives). Clients unlock at once, so this
//                 sees only answers that meet within microseconds.
//   rev_overlaps  the same in the servers' revisions, which sees any overlap
//                 however far apart the answers came: a hold spans from the
//                 Lock answer's header revision (its Txn, or the read after the
//                 wait: after the previous holder's delete) to the Unlock
//                 answer's (the delete), so the holds of a name, ordered by
//                 their start, must each start at or after every earlier end.
//                 Holds whose first Unlock failed are left out; holds_checked
//                 says how many were compared.
//
// At the end every lease is revoked, which deletes any key a client left (an
// Unlock that failed), so the next run starts with free locks.
//
// Threads: the main thread sets up, waits and reports; each client runs on its
// completion queue's thread once started; the lease keeper has its own thread.
// What clients on different threads share (Shared) is atomic.
#include <grpcpp/alarm.h>

#include <algorithm>
#include <cinttypes>
#include <compare>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "etcd/etcdserver/api/v3lock/v3lockpb/v3lock.grpc.pb.h"
#include "etcd_load.h"

namespace meridian::bench::etcd_load {

namespace {

namespace pb = ::etcdserverpb;
namespace lockpb = ::v3lockpb;

// The clients' lease TTL: a run of the default length (6 s) needs no renewal,
// and the keys of a run that died go within half a minute.
constexpr int64_t kLeaseTtlSeconds = 30;
// How long a client waits after a failed request before the next one (a member
// that is down fails requests at once).
constexpr auto kErrorBackoff = std::chrono::milliseconds(10);
// Unlock attempts per acquisition; after that the key stays until the client's
// next Lock (which finds it, and holds the lock at once) or the final revoke.
constexpr uint32_t kUnlockAttemptsMax = 3;
constexpr char kDefaultPrefix[] = "lock/";
// Holds each completion-queue thread keeps for rev_overlaps (24 MB); beyond it
// the check covers fewer holds, which can hide an overlap but not invent one.
constexpr size_t kHoldsMax = 1'000'000;

std::chrono::system_clock::time_point deadline_after(uint64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

// What the clients share.
struct Shared {
  explicit Shared(uint64_t names) : holders(names) {}
  Window window;
  // Per lock name: the clients that believe they hold it (at most 1 if correct).
  std::vector<std::atomic<uint64_t>> holders;
  std::atomic<uint64_t> overlaps{0};
};

// One acquisition, in the revisions of the Lock and Unlock answers' headers.
struct Hold {
  uint64_t name_index = 0;
  int64_t acquired = 0;
  int64_t released = 0;
  auto operator<=>(const Hold&) const = default;
};

// Counters of one completion-queue thread (its clients run only on it).
struct ThreadStats {
  Samples lock_latencies;
  Samples unlock_latencies;
  std::vector<Hold> holds;  // at most kHoldsMax
  uint64_t errors = 0;
  std::string first_error;
};

class Client {
 public:
  Client(const Options& options, uint64_t name_index, int64_t lease, lockpb::Lock::Stub* stub,
         grpc::CompletionQueue* cq, ThreadStats* stats, Shared* shared)
      : options_(options),
        name_index_(name_index),
        stub_(stub),
        cq_(cq),
        stats_(stats),
        shared_(shared) {
    const std::string prefix = options.key_prefix.empty() ? kDefaultPrefix : options.key_prefix;
    lock_request_.set_name(key_of(prefix, name_index));
    lock_request_.set_lease(lease);
  }

  void begin() { lock(); }

 private:
  void lock() {
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(deadline_after(options_.timeout_ms));
    sent_ = Clock::now();
    lock_call_ = stub_->PrepareAsyncLock(ctx_.get(), lock_request_, cq_);
    lock_call_->StartCall();
    lock_call_->Finish(&lock_response_, &status_, &locked_tag_);
  }

  void locked() {
    const Clock::time_point now = Clock::now();
    if (!status_.ok()) {
      // A Lock that fails leaves no key of ours behind: the server deletes the
      // key it made or waited with (etcd's Mutex.Lock; api/lock_service.h).
      note_error();
      if (shared_->window.over(now)) return finish();
      return retry(&relock_tag_);
    }
    std::atomic<uint64_t>& holders = shared_->holders[name_index_];
    if (holders.fetch_add(1) != 0) shared_->overlaps.fetch_add(1);
    if (shared_->window.measure(now)) stats_->lock_latencies.add(now - sent_);
    // No longer a holder once the Unlock may be on its way.
    holders.fetch_sub(1);
    acquired_revision_ = lock_response_.header().revision();
    unlock_request_.set_key(lock_response_.key());
    unlock_attempts_ = 0;
    unlock();
  }

  void unlock() {
    ++unlock_attempts_;
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(deadline_after(options_.timeout_ms));
    sent_ = Clock::now();
    unlock_call_ = stub_->PrepareAsyncUnlock(ctx_.get(), unlock_request_, cq_);
    unlock_call_->StartCall();
    unlock_call_->Finish(&unlock_response_, &status_, &unlocked_tag_);
  }

  void unlocked() {
    const Clock::time_point now = Clock::now();
    if (!status_.ok()) {
      note_error();
      if (unlock_attempts_ < kUnlockAttemptsMax) return retry(&reunlock_tag_);
    } else {
      if (now >= shared_->window.start && !shared_->window.over(now)) {
        stats_->unlock_latencies.add(now - sent_);
      }
      // A retried Unlock's revision can be later than the delete (an earlier
      // attempt may have deleted the key): only first attempts bound a hold.
      if (unlock_attempts_ == 1 && stats_->holds.size() < kHoldsMax) {
        stats_->holds.push_back(
            {name_index_, acquired_revision_, unlock_response_.header().revision()});
      }
    }
    if (shared_->window.over(now)) return finish();
    lock();
  }

  void after_backoff_lock() {
    if (shared_->window.over(Clock::now())) return finish();
    lock();
  }

  void retry(CallbackTag* tag) {
    backoff_.Set(cq_, std::chrono::system_clock::now() + kErrorBackoff, tag);
  }

  void note_error() {
    ++stats_->errors;
    if (stats_->first_error.empty()) {
      stats_->first_error = std::to_string(status_.error_code()) + " " + status_.error_message();
    }
  }

  // The main thread deletes the client after every one has finished.
  void finish() { shared_->window.active.fetch_sub(1); }

  const Options& options_;
  const uint64_t name_index_;
  lockpb::Lock::Stub* const stub_;
  grpc::CompletionQueue* const cq_;
  ThreadStats* const stats_;
  Shared* const shared_;
  uint32_t unlock_attempts_ = 0;
  int64_t acquired_revision_ = 0;  // of the hold under way

  grpc::Alarm backoff_;
  CallbackTag locked_tag_{[this](bool) { locked(); }};
  CallbackTag unlocked_tag_{[this](bool) { unlocked(); }};
  CallbackTag relock_tag_{[this](bool) { after_backoff_lock(); }};
  CallbackTag reunlock_tag_{[this](bool) { unlock(); }};
  std::unique_ptr<grpc::ClientContext> ctx_;  // of the one call under way
  Clock::time_point sent_;
  grpc::Status status_;
  lockpb::LockRequest lock_request_;
  lockpb::LockResponse lock_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<lockpb::LockResponse>> lock_call_;
  lockpb::UnlockRequest unlock_request_;
  lockpb::UnlockResponse unlock_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<lockpb::UnlockResponse>> unlock_call_;
};

// Renews the clients' leases, each every third of the TTL as etcd's clients
// do, on one LeaseKeepAlive stream from a thread of its own, until stop(). The
// stream opens when the first renewal is due, so a run shorter than a third of
// the TTL sends nothing; its deadline bounds every read.
class LeaseKeeper {
 public:
  LeaseKeeper(pb::Lease::Stub* stub, std::vector<int64_t> leases,
              std::chrono::system_clock::time_point deadline)
      : stub_(stub), leases_(std::move(leases)), deadline_(deadline) {}
  ~LeaseKeeper() { stop(); }
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  // Stops and joins; returns the renewals that failed (the stream broke, or a
  // lease was gone: TTL 0).
  uint64_t stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    return failed_;
  }

 private:
  void run() {
    const auto interval = std::chrono::seconds(kLeaseTtlSeconds) / 3;
    Clock::time_point due = Clock::now() + interval;
    while (true) {
      {
        std::unique_lock lock(mu_);
        if (cv_.wait_until(lock, due, [this] { return stopping_; })) break;
      }
      if (!renew_all()) break;
      due += interval;
    }
    if (stream_ == nullptr) return;
    stream_->WritesDone();
    pb::LeaseKeepAliveResponse resp;
    while (stream_->Read(&resp)) {
    }
    (void)stream_->Finish();
  }

  // One keep-alive per lease, then their answers; false if the stream broke.
  bool renew_all() {
    if (stream_ == nullptr) {
      ctx_.set_deadline(deadline_);
      stream_ = stub_->LeaseKeepAlive(&ctx_);
    }
    pb::LeaseKeepAliveRequest req;
    for (int64_t id : leases_) {
      req.set_id(id);
      if (!stream_->Write(req)) {
        failed_ += leases_.size();
        return false;
      }
    }
    pb::LeaseKeepAliveResponse resp;
    for (size_t i = 0; i < leases_.size(); ++i) {
      if (!stream_->Read(&resp)) {
        failed_ += leases_.size() - i;
        return false;
      }
      if (resp.ttl() <= 0) ++failed_;
    }
    return true;
  }

  pb::Lease::Stub* const stub_;
  const std::vector<int64_t> leases_;
  const std::chrono::system_clock::time_point deadline_;
  std::thread thread_;
  // The keeper thread's own until it is joined.
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse>>
      stream_;
  uint64_t failed_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

// One lease per client, each from the client's connection; false (with a
// message) on a failure (the leases granted so far expire with their TTL).
bool grant_leases(const std::vector<std::unique_ptr<pb::Lease::Stub>>& stubs, const Options& o,
                  std::vector<int64_t>* leases) {
  for (uint64_t i = 0; i < o.clients; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline_after(o.timeout_ms));
    pb::LeaseGrantRequest req;
    req.set_ttl(kLeaseTtlSeconds);
    pb::LeaseGrantResponse resp;
    const grpc::Status s = stubs[i % stubs.size()]->LeaseGrant(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "error: LeaseGrant: %s\n", s.error_message().c_str());
      return false;
    }
    leases->push_back(resp.id());
  }
  return true;
}

// Revokes every lease; the number that failed (with a message for the first).
uint64_t revoke_leases(const std::vector<std::unique_ptr<pb::Lease::Stub>>& stubs, const Options& o,
                       const std::vector<int64_t>& leases) {
  uint64_t failed = 0;
  for (size_t i = 0; i < leases.size(); ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline_after(o.timeout_ms));
    pb::LeaseRevokeRequest req;
    req.set_id(leases[i]);
    pb::LeaseRevokeResponse resp;
    const grpc::Status s = stubs[i % stubs.size()]->LeaseRevoke(&ctx, req, &resp);
    if (!s.ok() && failed++ == 0) {
      std::fprintf(stderr, "error: LeaseRevoke: %s\n", s.error_message().c_str());
    }
  }
  return failed;
}

// Holds of a name that started before an earlier hold of it ended (sorts).
uint64_t revision_overlaps(std::vector<Hold>& holds) {
  std::sort(holds.begin(), holds.end());
  uint64_t overlaps = 0;
  int64_t latest_release = 0;
  for (size_t i = 0; i < holds.size(); ++i) {
    if (i > 0 && holds[i].name_index != holds[i - 1].name_index) latest_release = 0;
    if (holds[i].acquired < latest_release) ++overlaps;
    latest_release = std::max(latest_release, holds[i].released);
  }
  return overlaps;
}

std::string format_us(double us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", us);
  return buf;
}

}  // namespace

bool run_lock(const Options& o, Report* report) {
  auto channels = make_channels(o);
  if (!connect_all(channels, std::chrono::milliseconds(o.timeout_ms))) return false;
  std::vector<std::unique_ptr<lockpb::Lock::Stub>> lock_stubs;
  std::vector<std::unique_ptr<pb::Lease::Stub>> lease_stubs;
  for (auto& channel : channels) {
    lock_stubs.push_back(lockpb::Lock::NewStub(channel));
    lease_stubs.push_back(pb::Lease::NewStub(channel));
  }
  std::vector<int64_t> leases;
  if (!grant_leases(lease_stubs, o, &leases)) return false;

  CompletionThreads threads(o.threads);
  std::vector<ThreadStats> stats(threads.size());
  Shared shared(o.lock_names);
  Window& window = shared.window;
  window.max_ops = o.max_ops;
  std::vector<std::unique_ptr<Client>> clients;
  for (uint64_t i = 0; i < o.clients; ++i) {
    clients.push_back(std::make_unique<Client>(
        o, i % o.lock_names, leases[i], lock_stubs[i % lock_stubs.size()].get(), threads.queue(i),
        &stats[i % threads.size()], &shared));
  }
  const auto to_duration = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  window.start = Clock::now() + to_duration(o.warmup_seconds);
  window.end = window.start + to_duration(o.seconds);
  window.active = clients.size();
  // The keeper outlives the clients: after the window each finishes the Lock
  // and the Unlocks it has under way, each bounded by the request timeout.
  const double tail_seconds =
      static_cast<double>((1 + kUnlockAttemptsMax) * o.timeout_ms) / 1000.0 + 1;
  LeaseKeeper keeper(lease_stubs[0].get(), leases,
                     std::chrono::system_clock::now() +
                         std::chrono::duration_cast<std::chrono::system_clock::duration>(
                             to_duration(o.warmup_seconds + o.seconds + tail_seconds)));
  keeper.start();
  threads.start();
  for (auto& client : clients) client->begin();
  while (window.active.load() != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  threads.stop();
  const uint64_t renewals_failed = keeper.stop();
  const uint64_t revokes_failed = revoke_leases(lease_stubs, o, leases);

  Clock::time_point end = window.end;
  if (Clock::rep at = window.stopped_at.load(); at != 0) {
    end = Clock::time_point(Clock::duration(at));
  }
  report->workload = o.workload;
  report->seconds = std::chrono::duration<double>(end - window.start).count();
  Samples unlock_latencies;
  std::vector<Hold> holds;
  for (ThreadStats& s : stats) {
    report->latencies.merge(s.lock_latencies);
    unlock_latencies.merge(s.unlock_latencies);
    holds.insert(holds.end(), s.holds.begin(), s.holds.end());
    report->errors += s.errors;
    if (!s.first_error.empty()) std::fprintf(stderr, "first error: %s\n", s.first_error.c_str());
  }
  report->ops = report->latencies.count();
  const uint64_t overlaps = shared.overlaps.load();
  if (overlaps != 0) {
    std::fprintf(stderr,
                 "error: %" PRIu64 " Lock answers came while another client held the lock\n",
                 overlaps);
  }
  const uint64_t rev_overlaps = revision_overlaps(holds);
  if (rev_overlaps != 0) {
    std::fprintf(stderr, "error: %" PRIu64 " holds began (by revision) before another ended\n",
                 rev_overlaps);
  }
  if (renewals_failed != 0) {
    std::fprintf(stderr, "error: %" PRIu64 " lease renewals failed\n", renewals_failed);
  }
  report->errors += overlaps + rev_overlaps + renewals_failed + revokes_failed;
  report->extra.emplace_back("lock_names", std::to_string(o.lock_names));
  report->extra.emplace_back("overlaps", std::to_string(overlaps));
  report->extra.emplace_back("rev_overlaps", std::to_string(rev_overlaps));
  report->extra.emplace_back("holds_checked", std::to_string(holds.size()));
  report->extra.emplace_back("unlock_p50_us", format_us(unlock_latencies.percentile_us(50)));
  report->extra.emplace_back("unlock_p99_us", format_us(unlock_latencies.percentile_us(99)));
  return true;
}

}  // namespace meridian::bench::etcd_load
