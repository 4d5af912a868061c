// LearnerPromoter: promotes learners to voters once they have caught up: every
// learner when the server is started with --auto-promote-learners, otherwise
// those added with `meridian member add --auto-promote` (beyond etcd, whose
// operators script `etcdctl member promote` until it stops refusing). A thread
// of its own ("learner-promote") looks every check interval; only the leader of
// the coordination group acts, since only it knows how far each learner's log
// reaches. A learner is caught up by MemberPromote's own rule (its log at least
// 90% of the leader's, api/member_changes.h) and is then promoted in every
// group, one learner at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "api/etcd_server.h"

namespace meridian::api {

class LearnerPromoter {
 public:
  // promote_all: every learner (--auto-promote-learners); otherwise only those
  // added with Meridian's auto-promote option (api/member_changes.h).
  LearnerPromoter(const EtcdBackend& backend, bool promote_all,
                  std::chrono::milliseconds check_interval);
  ~LearnerPromoter();  // stop()
  LearnerPromoter(const LearnerPromoter&) = delete;
  LearnerPromoter& operator=(const LearnerPromoter&) = delete;

  void start();
  // Ends the thread; waits for a promotion in flight to complete or time out.
  void stop();
  uint64_t promoted() const;  // learners this member promoted (tests)

 private:
  void run();
  // The learner to promote now, if this member leads and one has caught up.
  uint64_t ready_learner() const;

  const EtcdBackend backend_;
  const bool promote_all_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;   // guarded by mu_
  uint64_t promoted_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace meridian::api
