// WalFlusher: writes RocksDB's in-process WAL buffer to the file every
// kWalFlushIntervalMs. The store runs RocksDB with manual_wal_flush: a write
// appends its batch to a buffer instead of making a write(2) per applied entry
// (a third of a small put's cost), and this thread hands the buffer to the OS
// (RocksDB also does when the buffer fills).
//
// Why that is safe: the WAL is still one ordered log of whole batches, each
// carrying its applied index, so a crash loses at most the newest batches and
// recovery still yields a consistent prefix; the node then replays the Raft log
// from applied_index() + 1. A process crash now loses up to an interval of
// applied entries (a machine crash could lose unsynced page cache before, too),
// which only lengthens that replay. Owns one thread; thread-safe.
#pragma once

#include <rocksdb/db.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace meridian::kv {

// Short enough that a restart replays little, long enough that the flush's
// system call costs nothing noticeable.
inline constexpr int kWalFlushIntervalMs = 50;

class WalFlusher {
 public:
  explicit WalFlusher(rocksdb::DB& db);
  // Stops the thread and flushes (and syncs) what is left.
  ~WalFlusher();
  WalFlusher(const WalFlusher&) = delete;
  WalFlusher& operator=(const WalFlusher&) = delete;

 private:
  void run();

  rocksdb::DB& db_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace meridian::kv
