#include "api/defragmenter.h"

#include "base/thread_name.h"
#include "observe/log.h"

namespace meridian::api {

Defragmenter::Defragmenter(kv::MvccStore* store) : store_(store) {
  thread_ = std::thread([this] { run(); });
}

Defragmenter::~Defragmenter() { stop(); }

bool Defragmenter::request(Done done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    waiting_.push_back(std::move(done));
  }
  cv_.notify_one();
  return true;
}

void Defragmenter::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cancel_ = true;
  cv_.notify_one();
  thread_.join();
}

void Defragmenter::run() {
  base::set_thread_name("defragment");
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    std::vector<Done> batch = std::move(waiting_);
    waiting_.clear();
    const bool stopping = stopping_;
    lock.unlock();
    base::Status status(base::Code::kUnavailable, "server stopped");
    if (!stopping) {
      const auto start = std::chrono::steady_clock::now();
      status = store_->defragment(&cancel_);
      runs_.fetch_add(1);
      observe::log_info(
          "defragmented the store in {:.1f} s: {}",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          status.is_ok() ? "ok" : status.message());
    }
    for (Done& done : batch) done(status);
    lock.lock();
    if (stopping_ && waiting_.empty()) return;
  }
}

}  // namespace meridian::api
