// ReadPool: a few threads that run the etcd API's reads (Range, read-only Txn)
// against the store, so that neither the client port's I/O thread nor the raft thread
// carry the cost of a large range. The queue is bounded: when it is full,
// submit() refuses the task and the caller answers "too many requests" instead
// of letting memory grow with a burst of readers.
//
// Threads: submit() and stop() from any thread (stop() not from a pool thread).
// stop() refuses new tasks, runs every task already queued, and joins the threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace meridian::api {

class ReadPool {
 public:
  ReadPool(uint32_t threads, size_t queue_tasks_max);
  ~ReadPool();  // stop()
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  // False (and the task dropped, not run) if the queue is full or the pool stopped.
  [[nodiscard]] bool submit(std::function<void()> task);
  void stop();  // idempotent

 private:
  void run();

  const size_t queue_tasks_max_;
  std::mutex join_mu_;  // stop() from two threads: one joins, the other waits for it
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace meridian::api
