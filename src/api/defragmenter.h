// Defragmenter: etcd's Defragment for one member, run on a thread of its own
// (MvccStore::defragment is a full RocksDB compaction: seconds to minutes, with
// reads and writes going on), one run at a time. A request that comes while a
// run is under way is answered by the next run, so every answer follows a
// defragmentation that began after its request.
//
// Threads: request() and stop() from any thread; each `done` runs on the
// defragmenter's thread, or in stop() ("server stopped" for requests never run).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "kv/mvcc_store.h"

namespace meridian::api {

class Defragmenter {
 public:
  using Done = std::function<void(const base::Status&)>;

  explicit Defragmenter(kv::MvccStore* store);
  ~Defragmenter();  // stop()
  Defragmenter(const Defragmenter&) = delete;
  Defragmenter& operator=(const Defragmenter&) = delete;

  // False (and `done` not kept) once stopped.
  bool request(Done done);
  // Cancels a run under way (RocksDB stops its compaction), answers it and the
  // waiting requests with kUnavailable, and joins the thread. Idempotent.
  void stop();

  uint64_t runs() const { return runs_.load(); }

 private:
  void run();

  kv::MvccStore* const store_;
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> runs_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Done> waiting_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  std::thread thread_;
};

}  // namespace meridian::api
