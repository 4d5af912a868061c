// GroupCommitter: turns many concurrent writers into one journal write and one
// fdatasync per round. Each submit() queues a WriteBatch; a dedicated writer
// thread takes everything queued (up to round_bytes_max), merges it into one
// batch, calls LogEngine::write and LogEngine::sync once, and then completes every
// batch of the round with the result. Batches submitted while a round is syncing
// wait for the next round, so the number of syncs depends on time, not on the
// number of writers or groups.
//
// Threads: submit() from any thread. Completions run on the writer thread, in
// submission order; they must be quick (post work elsewhere). The destructor
// completes everything queued, then stops the thread.
// Bounds: at most queued_bytes_max bytes wait at once; submit() blocks beyond that
// (back-pressure instead of unbounded memory).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/log_engine.h"
#include "storage/write_batch.h"

namespace meridian::storage {

struct GroupCommitOptions {
  uint64_t round_bytes_max = 16ull << 20;    // one write() of at most this much
  uint64_t queued_bytes_max = 256ull << 20;  // submit() blocks above this
  // Called on the writer thread with the duration of every fdatasync (metrics).
  using SyncObserver = std::function<void(std::chrono::nanoseconds)>;
  SyncObserver observe_sync = nullptr;
};

struct GroupCommitStats {
  uint64_t rounds = 0;   // = syncs
  uint64_t batches = 0;  // submitted batches completed
  uint64_t bytes = 0;
  uint64_t queued = 0;       // batches waiting for a round now
  uint64_t gc_failures = 0;  // collect_garbage calls that failed (the engine has failed too)
};

class GroupCommitter {
 public:
  using Done = std::function<void(Status)>;

  GroupCommitter(LogEngine* engine, GroupCommitOptions options = {});
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  void submit(WriteBatch batch, Done done);
  // Submits and waits for the result.
  Status write_sync(WriteBatch batch);
  // Runs LogEngine::collect_garbage on the writer thread before its next round
  // (after a snapshot made older segments unnecessary).
  void request_garbage_collection();
  GroupCommitStats stats() const;

 private:
  void run();

  LogEngine* engine_;
  GroupCommitOptions options_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // the writer waits for batches
  std::condition_variable space_cv_;  // submitters wait for queue space
  struct Pending {
    WriteBatch batch;
    Done done;
  };
  std::deque<Pending> queue_;  // guarded by mu_
  uint64_t queued_bytes_ = 0;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  bool gc_requested_ = false;  // guarded by mu_
  GroupCommitStats stats_;     // guarded by mu_
  std::thread writer_;
};

}  // namespace meridian::storage
