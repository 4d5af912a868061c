#include "api/read_pool.h"

#include <utility>

#include "base/assert.h"
#include "base/thread_name.h"

namespace meridian::api {

ReadPool::ReadPool(uint32_t threads, size_t queue_tasks_max) : queue_tasks_max_(queue_tasks_max) {
  MERIDIAN_ASSERT(threads > 0, "a read pool needs a thread");
  MERIDIAN_ASSERT(queue_tasks_max > 0, "a read pool needs room for a task");
  threads_.reserve(threads);
  for (uint32_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

ReadPool::~ReadPool() { stop(); }

bool ReadPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= queue_tasks_max_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void ReadPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::lock_guard join_lock(join_mu_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ReadPool::run() {
  base::set_thread_name("read-pool");
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Drained before the threads end: a queued task holds an RPC that must
      // be answered.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace meridian::api
