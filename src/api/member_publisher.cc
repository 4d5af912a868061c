#include "api/member_publisher.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>

#include "base/thread_name.h"
#include "kv/command.h"
#include "observe/log.h"

namespace meridian::api {

namespace {
constexpr std::chrono::milliseconds kRetryAfter{500};

// Answers the proposal's future once: with the outcome, or false if the node
// drops the callback unanswered (a proposal posted as the node stops).
class Answer {
 public:
  Answer() = default;
  Answer(const Answer&) = delete;
  Answer& operator=(const Answer&) = delete;
  ~Answer() { set(false); }
  std::future<bool> future() { return promise_.get_future(); }
  void set(bool ok) {
    if (!set_.exchange(true)) promise_.set_value(ok);
  }

 private:
  std::promise<bool> promise_;
  std::atomic<bool> set_{false};
};
}  // namespace

MemberPublisher::MemberPublisher(const EtcdBackend& backend, etcdserverpb::Member self)
    : backend_(backend), self_(std::move(self)) {}

MemberPublisher::~MemberPublisher() { stop(); }

void MemberPublisher::start() {
  thread_ = std::thread([this] { run(); });
}

void MemberPublisher::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool MemberPublisher::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

void MemberPublisher::run() {
  base::set_thread_name("member-publish");
  const std::string command =
      kv::encode_command(kv::CommandType::kMemberAttributes, self_.SerializeAsString());
  std::unique_lock lock(mu_);
  while (!stopped_) {
    lock.unlock();
    // The node answers every proposal (applied, refused, or timed out), and its
    // callback runs on the raft thread: wait here, not there.
    auto answer = std::make_shared<Answer>();
    std::future<bool> ok = answer->future();
    backend_.node->propose(backend_.group, command, [answer](base::Result<node::ProposeResult> r) {
      answer->set(r.is_ok());
    });
    answer.reset();  // the callback holds the only reference now
    const bool published = ok.get();
    lock.lock();
    if (published) {
      published_ = true;
      observe::log_info("member {} published its client URLs", self_.id());
      return;
    }
    cv_.wait_for(lock, kRetryAfter, [this] { return stopped_; });
  }
}

}  // namespace meridian::api
