#include "api/learner_promoter.h"

#include <future>
#include <memory>
#include <optional>

#include "api/member_changes.h"
#include "base/thread_name.h"
#include "observe/log.h"

namespace meridian::api {

LearnerPromoter::LearnerPromoter(const EtcdBackend& backend, bool promote_all,
                                 std::chrono::milliseconds check_interval)
    : backend_(backend), promote_all_(promote_all), interval_(check_interval) {}

LearnerPromoter::~LearnerPromoter() { stop(); }

void LearnerPromoter::start() {
  thread_ = std::thread([this] { run(); });
}

void LearnerPromoter::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t LearnerPromoter::promoted() const {
  std::lock_guard lock(mu_);
  return promoted_;
}

uint64_t LearnerPromoter::ready_learner() const {
  for (const node::GroupStatus& g : backend_.node->status().groups) {
    if (g.group != backend_.group || g.role != raft::Role::kLeader) continue;
    for (raft::NodeId id : g.conf_state.learners) {
      auto match = g.match.find(id);
      if (match == g.match.end() || match->second == raft::Index{0}) continue;
      if (!learner_caught_up(match->second.value(), g.last_index.value())) continue;
      if (promote_all_) return id.value();
      std::optional<etcdserverpb::Member> record = backend_.kv->store().member(id.value());
      if (record && wants_auto_promote(*record)) return id.value();
    }
  }
  return 0;
}

void LearnerPromoter::run() {
  base::set_thread_name("learner-promote");
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stopped_; })) {
    lock.unlock();
    const uint64_t id = ready_learner();
    bool done = false;
    if (id != 0) {
      // The callback runs on the raft thread: wait here, not there. The node
      // answers every proposal (applied, refused, or timed out).
      auto answer = std::make_shared<std::promise<base::Status>>();
      std::future<base::Status> outcome = answer->get_future();
      change_every_group(backend_.node, backend_.group,
                         {raft::ConfChangeType::kAddVoter, raft::NodeId{id}, ""},
                         [answer](base::Status s) { answer->set_value(std::move(s)); });
      const base::Status s = outcome.get();
      if (s.is_ok()) {
        observe::log_info("learner {} caught up: promoted to voter (auto-promotion)", id);
        done = true;
      } else {
        observe::log_warn("promoting learner {} failed: {}; trying again", id, s.message());
      }
    }
    lock.lock();
    if (done) ++promoted_;
  }
}

}  // namespace meridian::api
