#include "api/lease_keeper.h"

#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <condition_variable>

#include "api/grpc_errors.h"
#include "base/thread_name.h"
#include "kv/command.h"
#include "kv/lease_codec.h"

namespace meridian::api {

struct LeaseKeeper::State : std::enable_shared_from_this<LeaseKeeper::State> {
  EtcdBackend backend;
  LeaseKeeperOptions options;
  observe::Counter* renew_batches = nullptr;
  observe::Counter* renewals = nullptr;
  observe::Counter* expiries = nullptr;

  std::mutex mu;
  bool stopped = false;                                // guarded by mu
  bool renewing = false;                               // a batch is in flight; guarded by mu
  std::vector<std::pair<int64_t, RenewDone>> waiting;  // the next batch; guarded by mu
  std::set<int64_t> expiring;                          // revokes in flight; guarded by mu
  std::condition_variable wake;                        // stop() wakes the expiry thread

  State(const EtcdBackend& b, const LeaseKeeperOptions& o) : backend(b), options(o) {}

  // Proposes the waiting renewals as one command, if none is in flight.
  // Called with mu held; the proposal itself goes out after it is released.
  void send_batch_locked(std::unique_lock<std::mutex>& lock) {
    if (renewing || waiting.empty() || stopped) return;
    renewing = true;
    std::vector<std::pair<int64_t, RenewDone>> batch;
    if (waiting.size() <= kRenewBatchMax) {
      batch.swap(waiting);
    } else {
      batch.assign(std::make_move_iterator(waiting.begin()),
                   std::make_move_iterator(waiting.begin() + kRenewBatchMax));
      waiting.erase(waiting.begin(), waiting.begin() + kRenewBatchMax);
    }
    lock.unlock();
    std::vector<int64_t> ids;
    ids.reserve(batch.size());
    for (const auto& entry : batch) ids.push_back(entry.first);
    renew_batches->add();
    renewals->add(batch.size());
    auto self = shared_from_this();
    backend.node->propose(
        backend.group, kv::encode_command(kv::CommandType::kLeaseRenew, kv::encode_i64_list(ids)),
        [self, batch = std::move(batch)](base::Result<node::ProposeResult> r) mutable {
          self->answer(batch, r);
          std::unique_lock relock(self->mu);
          self->renewing = false;
          self->send_batch_locked(relock);
        });
    lock.lock();
  }

  static void answer(std::vector<std::pair<int64_t, RenewDone>>& batch,
                     const base::Result<node::ProposeResult>& r) {
    if (!r.is_ok()) {
      for (auto& [id, done] : batch) done(r.status());
      return;
    }
    std::vector<int64_t> ttls;
    const std::optional<kv::CommandResult> result = kv::decode_result(r.value().result);
    if (!result || result->errc != kv::Errc::kOk || !kv::decode_i64_list(result->response, &ttls) ||
        ttls.size() != batch.size()) {
      const base::Status bad(base::Code::kCorruption,
                             "lease renewal: a result that does not decode");
      for (auto& [id, done] : batch) done(bad);
      return;
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i].second(ttls[i]);
  }

  void run_expiry() {
    base::set_thread_name("lease-expiry");
    std::unique_lock lock(mu);
    while (!stopped) {
      wake.wait_for(lock, options.check_interval, [this] { return stopped; });
      if (stopped) break;
      lock.unlock();
      check_expiry();
      lock.lock();
    }
  }

  bool leading() const { return backend.node->leader(backend.group).value() == backend.member_id; }

  void check_expiry() {
    if (!leading()) return;
    std::vector<kv::LeaseExpiry> due;
    {
      std::lock_guard lock(mu);
      if (stopped || expiring.size() >= options.max_expiring) return;
      // Asking for the in-flight ones too, since they are still in the table.
      for (const kv::LeaseExpiry& e :
           backend.kv->store().leases().expired(options.max_expiring + expiring.size())) {
        if (expiring.size() >= options.max_expiring) break;
        if (expiring.insert(e.id).second) due.push_back(e);
      }
    }
    for (const kv::LeaseExpiry& e : due) {
      expiries->add();
      backend.node->propose(
          backend.group,
          kv::encode_command(kv::CommandType::kLeaseExpire, kv::encode_lease_expiry(e)),
          [self = shared_from_this(), id = e.id](const base::Result<node::ProposeResult>&) {
            // Whatever the outcome: a lease still there (renewed, or the
            // proposal failed) is judged again at the next check.
            std::lock_guard lock(self->mu);
            self->expiring.erase(id);
          });
    }
  }
};

LeaseKeeper::LeaseKeeper(const EtcdBackend& backend, const LeaseKeeperOptions& options,
                         observe::Registry* metrics)
    : state_(std::make_shared<State>(backend, options)) {
  state_->renew_batches = metrics->counter(
      "meridian_lease_renew_batches_total",
      "Renew commands this member proposed, each carrying the keep-alives that arrived while "
      "the previous one committed.");
  state_->renewals = metrics->counter("meridian_lease_renewals_total",
                                      "Keep-alives this member proposed in renew commands.");
  state_->expiries = metrics->counter(
      "meridian_lease_expiries_proposed_total",
      "Revokes of expired leases this member proposed as the leader (a lease renewed meanwhile "
      "is kept when one applies).");
}

LeaseKeeper::~LeaseKeeper() { stop(); }

void LeaseKeeper::start() {
  expiry_thread_ = std::thread([state = state_] { state->run_expiry(); });
}

void LeaseKeeper::renew(int64_t id, RenewDone done) {
  std::unique_lock lock(state_->mu);
  if (state_->stopped) {
    lock.unlock();
    done(base::Status(base::Code::kUnavailable, std::string(kStoppedMessage)));
    return;
  }
  state_->waiting.emplace_back(id, std::move(done));
  state_->send_batch_locked(lock);
}

void LeaseKeeper::stop() {
  std::vector<std::pair<int64_t, RenewDone>> waiting;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return;
    state_->stopped = true;
    waiting.swap(state_->waiting);
  }
  state_->wake.notify_all();
  if (expiry_thread_.joinable()) expiry_thread_.join();
  for (auto& [id, done] : waiting) {
    done(base::Status(base::Code::kUnavailable, std::string(kStoppedMessage)));
  }
}

}  // namespace meridian::api
