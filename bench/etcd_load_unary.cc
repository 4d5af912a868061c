// The request/response workloads: put, get (linearizable or serializable) and
// txn-cas. Each client keeps one request outstanding and sends the next when the
// answer arrives (a closed loop, as etcd's benchmark tool does), or, with
// --put-rate, not before its next slot in a fixed schedule (a paced closed loop:
// after a slow answer it sends the requests it is late for at once); clients are
// spread over the connections and the completion-queue threads round-robin.
#include <grpcpp/alarm.h>

#include <cinttypes>
#include <cstdio>
#include <random>

#include "bench_util.h"
#include "etcd_load.h"
#include "etcd_load_limits.h"

namespace meridian::bench::etcd_load {

namespace {

// How long a client waits after a failed request before the next one.
constexpr auto kErrorBackoff = std::chrono::milliseconds(10);

enum class Kind { kPut, kGet, kGetSerializable, kTxnCas };

const char* default_prefix_of(Kind kind) {
  switch (kind) {
    case Kind::kPut:
      return "put/";
    case Kind::kGet:
    case Kind::kGetSerializable:
      return "get/";
    case Kind::kTxnCas:
      return "cas/";
  }
  return "";
}

std::string prefix_of(Kind kind, const Options& options) {
  return options.key_prefix.empty() ? default_prefix_of(kind) : options.key_prefix;
}

// Counters of one completion-queue thread (its clients run only on it).
struct ThreadStats {
  Samples latencies;
  Samples during_action;  // requests sent while the window's action ran
  Samples from_slot;      // paced: from the request's slot, so waiting to send counts too
  uint64_t errors = 0;
  uint64_t cas_succeeded = 0;
  uint64_t cas_failed = 0;
  std::string first_error;
};

class Client final : public Pending {
 public:
  Client(Kind kind, uint64_t id, const Options& options, etcdserverpb::KV::Stub* stub,
         grpc::CompletionQueue* cq, ThreadStats* stats, Window* window)
      : kind_(kind),
        id_(id),
        options_(options),
        stub_(stub),
        cq_(cq),
        stats_(stats),
        window_(window),
        rng_(id * 7919 + 1),
        value_(random_bytes(options.value_bytes, id + 1)),
        prefix_(prefix_of(kind, options)),
        cas_key_(key_of(prefix_, id % options.keys)),
        last_seen_(value_) {}

  // The first request; paced clients start a slot apart so they do not send in step.
  void begin(Clock::time_point now) {
    if (options_.put_rate > 0) {
      interval_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(options_.clients) / options_.put_rate));
      next_slot_ =
          now + interval_ * static_cast<int64_t>(id_) / static_cast<int64_t>(options_.clients);
    }
    send_when_due();
  }

  void issue() {
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(options_.timeout_ms));
    sent_ = Clock::now();
    if (interval_ == Clock::duration::zero()) {
      slot_ = sent_;
    }
    switch (kind_) {
      case Kind::kPut:
        put_.set_key(random_key());
        put_.set_value(value_);
        put_call_ = stub_->PrepareAsyncPut(ctx_.get(), put_, cq_);
        put_call_->StartCall();
        put_call_->Finish(&put_response_, &status_, this);
        break;
      case Kind::kGet:
      case Kind::kGetSerializable:
        range_.set_key(random_key());
        range_.set_serializable(kind_ == Kind::kGetSerializable);
        range_call_ = stub_->PrepareAsyncRange(ctx_.get(), range_, cq_);
        range_call_->StartCall();
        range_call_->Finish(&range_response_, &status_, this);
        break;
      case Kind::kTxnCas:
        build_cas();
        txn_call_ = stub_->PrepareAsyncTxn(ctx_.get(), txn_, cq_);
        txn_call_->StartCall();
        txn_call_->Finish(&txn_response_, &status_, this);
        break;
    }
  }

  void done(bool /*ok: always true for a unary Finish; the status says*/) override {
    Clock::time_point now = Clock::now();
    if (!status_.ok()) {
      ++stats_->errors;
      if (stats_->first_error.empty()) {
        stats_->first_error = std::to_string(status_.error_code()) + " " + status_.error_message();
      }
    } else {
      if (kind_ == Kind::kTxnCas) {
        learn_cas_result(now);
      }
      if (window_->measure(now)) {
        stats_->latencies.add(now - sent_);
        if (interval_ != Clock::duration::zero()) {
          stats_->from_slot.add(now - slot_);
        }
        if (window_->action != nullptr && window_->action->during(sent_)) {
          stats_->during_action.add(now - sent_);
        }
      }
    }
    if (window_->over(now)) {
      window_->active.fetch_sub(1);
      return;  // the main thread deletes this client after every one has finished
    }
    if (!status_.ok()) {
      // A member that is down fails requests at once; pause instead of spinning.
      backoff_.Set(cq_, std::chrono::system_clock::now() + kErrorBackoff, &backoff_tag_);
      return;
    }
    send_when_due();
  }

  void after_backoff() {
    if (window_->over(Clock::now())) {
      window_->active.fetch_sub(1);
      return;
    }
    send_when_due();
  }

 private:
  // Unpaced: now. Paced: at the next slot, or now if that has passed.
  void send_when_due() {
    if (interval_ == Clock::duration::zero()) {
      issue();
      return;
    }
    const Clock::time_point slot = next_slot_;
    slot_ = slot;
    next_slot_ += interval_;
    const Clock::time_point now = Clock::now();
    if (slot <= now) {
      issue();
      return;
    }
    // Never wait past the window's end (a slow rate would hold up the finish).
    // The alarm's clock is the system clock: convert the wait, not the time point.
    const Clock::duration wait = std::min(slot, window_->end) - now;
    backoff_.Set(cq_, std::chrono::system_clock::now() + wait, &pace_tag_);
  }

  void after_pace() {
    if (window_->over(Clock::now())) {
      window_->active.fetch_sub(1);
      return;
    }
    issue();
  }

  std::string random_key() { return key_of(prefix_, rng_() % options_.keys); }

  // Compare the key's value with the last value this client saw; if equal, put a
  // new one, else read the current one (to compare with next time).
  void build_cas() {
    next_value_ = "c" + std::to_string(id_) + "n" + std::to_string(++counter_) + ":";
    next_value_ += value_.substr(0, value_.size() - std::min(value_.size(), next_value_.size()));
    txn_.Clear();
    auto* compare = txn_.add_compare();
    compare->set_result(etcdserverpb::Compare::EQUAL);
    compare->set_target(etcdserverpb::Compare::VALUE);
    compare->set_key(cas_key_);
    compare->set_value(last_seen_);
    auto* put = txn_.add_success()->mutable_request_put();
    put->set_key(cas_key_);
    put->set_value(next_value_);
    txn_.add_failure()->mutable_request_range()->set_key(cas_key_);
  }

  void learn_cas_result(Clock::time_point now) {
    bool measured = now >= window_->start && !window_->over(now);
    if (txn_response_.succeeded()) {
      last_seen_ = next_value_;
      stats_->cas_succeeded += measured ? 1 : 0;
      return;
    }
    stats_->cas_failed += measured ? 1 : 0;
    last_seen_.clear();
    if (txn_response_.responses_size() > 0 &&
        txn_response_.responses(0).response_range().kvs_size() > 0) {
      last_seen_ = txn_response_.responses(0).response_range().kvs(0).value();
    }
  }

  const Kind kind_;
  const uint64_t id_;
  const Options& options_;
  etcdserverpb::KV::Stub* const stub_;
  grpc::CompletionQueue* const cq_;
  ThreadStats* const stats_;
  Window* const window_;
  std::mt19937_64 rng_;
  const std::string value_;
  const std::string prefix_;
  const std::string cas_key_;
  std::string last_seen_;
  std::string next_value_;
  uint64_t counter_ = 0;
  Clock::duration interval_{0};  // between a paced client's requests; 0: unpaced
  Clock::time_point next_slot_;
  Clock::time_point slot_;  // when the request under way should have gone (paced)

  grpc::Alarm backoff_;  // also the pacing wait: a client waits for one thing at a time
  CallbackTag backoff_tag_{[this](bool) { after_backoff(); }};
  CallbackTag pace_tag_{[this](bool) { after_pace(); }};
  std::unique_ptr<grpc::ClientContext> ctx_;
  Clock::time_point sent_;
  grpc::Status status_;
  etcdserverpb::PutRequest put_;
  etcdserverpb::PutResponse put_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> put_call_;
  etcdserverpb::RangeRequest range_;
  etcdserverpb::RangeResponse range_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::RangeResponse>> range_call_;
  etcdserverpb::TxnRequest txn_;
  etcdserverpb::TxnResponse txn_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::TxnResponse>> txn_call_;
};

Kind parse_kind(const std::string& workload) {
  if (workload == "put") return Kind::kPut;
  if (workload == "get") return Kind::kGet;
  if (workload == "get-serializable") return Kind::kGetSerializable;
  return Kind::kTxnCas;
}

}  // namespace

bool run_unary(const Options& options, Report* report) {
  const Kind kind = parse_kind(options.workload);
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs = connect_kv_stubs(options);
  if (stubs.empty()) return false;

  // Reads need keys to find; each CAS key starts at the value its client expects
  // (a compare on a missing key's value always fails in etcd).
  const auto timeout = std::chrono::milliseconds(options.timeout_ms);
  if ((kind == Kind::kGet || kind == Kind::kGetSerializable) && options.preload) {
    std::string value = random_bytes(options.value_bytes, 0);
    if (!preload(
            stubs[0].get(), prefix_of(kind, options), options.keys, [&](uint64_t) { return value; },
            timeout)) {
      return false;
    }
  }

  CompletionThreads threads(options.threads);
  std::vector<ThreadStats> stats(threads.size());
  Window window;
  window.max_ops = options.max_ops;
  WindowAction action(options);
  window.action = action.wanted() ? &action : nullptr;
  std::vector<std::unique_ptr<Client>> clients;
  for (uint64_t i = 0; i < options.clients; ++i) {
    clients.push_back(std::make_unique<Client>(kind, i, options, stubs[i % stubs.size()].get(),
                                               threads.queue(i), &stats[i % threads.size()],
                                               &window));
  }
  if (kind == Kind::kTxnCas) {
    // Key cas/k starts at client k's first expected value; clients sharing it
    // (keys < clients) learn the current value from their first failed compare.
    if (!preload(
            stubs[0].get(), prefix_of(kind, options), std::min(options.keys, options.clients),
            [&](uint64_t k) { return random_bytes(options.value_bytes, k + 1); }, timeout)) {
      return false;
    }
  }

  auto warmup = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.warmup_seconds));
  auto measured =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  window.start = Clock::now() + warmup;
  window.end = window.start + measured;
  window.active = clients.size();
  threads.start();
  const Clock::time_point began = Clock::now();
  for (auto& client : clients) {
    client->begin(began);
  }
  std::vector<std::pair<std::string, std::string>> action_fields;
  if (window.action != nullptr) {
    action_fields = action.run(window.start);
  }
  while (window.active.load() != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  threads.stop();

  Clock::time_point end = window.end;
  if (Clock::rep at = window.stopped_at.load(); at != 0) {
    end = Clock::time_point(Clock::duration(at));
  }
  report->workload = options.workload;
  report->seconds = std::chrono::duration<double>(end - window.start).count();
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  Samples during;
  Samples from_slot;
  for (ThreadStats& s : stats) {
    report->latencies.merge(s.latencies);
    during.merge(s.during_action);
    from_slot.merge(s.from_slot);
    report->errors += s.errors;
    succeeded += s.cas_succeeded;
    failed += s.cas_failed;
    if (!s.first_error.empty()) {
      std::fprintf(stderr, "first error: %s\n", s.first_error.c_str());
    }
  }
  report->ops = report->latencies.count();
  if (kind == Kind::kTxnCas) {
    report->extra.emplace_back("succeeded", std::to_string(succeeded));
    report->extra.emplace_back("compare_failed", std::to_string(failed));
  }
  if (options.put_rate > 0) {
    char p99[32];
    std::snprintf(p99, sizeof p99, "%.0f", from_slot.percentile_us(99));
    report->extra.emplace_back("slot_p99_us", p99);
  }
  if (window.action != nullptr) {
    char p50[32];
    char p99[32];
    std::snprintf(p50, sizeof p50, "%.0f", during.percentile_us(50));
    std::snprintf(p99, sizeof p99, "%.0f", during.percentile_us(99));
    report->extra.emplace_back("during_ops", std::to_string(during.count()));
    report->extra.emplace_back("during_p50_us", p50);
    report->extra.emplace_back("during_p99_us", p99);
    report->extra.insert(report->extra.end(), action_fields.begin(), action_fields.end());
  }
  return true;
}

}  // namespace meridian::bench::etcd_load
