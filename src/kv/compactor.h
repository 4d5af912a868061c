// Compactor: the store's background thread that physically deletes what a
// recorded compaction made unreadable (etcd's kvstore_compaction.go, over our
// layout). compact(C) records C at once; this thread then walks the revision
// index from its cursor up to C, and for every key changed there keeps the
// newest version at or below C (dropping it too if it is a tombstone) and
// deletes the older ones, and deletes the revision-index entries below C.
//
// It works in chunks of at most kChunkOps deletions, each one WriteBatch that
// also advances the cursor ('m' compact_at), so it never holds up the apply
// thread for long and resumes where it stopped after a restart. A tombstone is
// deleted only in the same batch as the last older version of its key, so a
// read at or above C never sees an older version come back.
//
// Thread-safe: schedule/wait/pause/reset from any thread.
#pragma once

#include <rocksdb/db.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "kv/key_codec.h"

namespace meridian::kv {

// Deletions per chunk: small, because the apply thread's writes queue behind a
// chunk's write in RocksDB. Measured (bench/run-kv-limits --tests compact:
// put p99 at 500 puts/s while 200,000 revisions are compacted, three nodes on
// two cores): chunks of 1,000 made it 3.4-5.7x its value without compaction,
// 250 up to 4.3x, 64 1.7-1.8x (the compaction then takes ~13 s instead of 8).
inline constexpr int kChunkOps = 64;
// After each chunk the thread rests kRestPerWork times as long as the chunk
// took, within [kRestMin, kRestMax]: at most a third of a core (etcd rests 10 ms
// between its batches of 1,000). The thread also runs at background priority
// (base/thread_priority.h).
inline constexpr int kRestPerWork = 2;
inline constexpr std::chrono::milliseconds kRestMin{1};
inline constexpr std::chrono::milliseconds kRestMax{100};

// One chunk of compaction towards `target`, starting at `cursor` (the first
// revision-index entry not yet processed), with at most about `budget` deletions;
// writes it (and the new cursor) to `db`. Returns the new cursor, which is
// {target, 0} once the compaction is complete.
Revision compact_chunk(rocksdb::DB& db, Revision cursor, int64_t target, int budget);

class Compactor {
 public:
  // Resumes (cursor, target) as recorded in the store's meta.
  Compactor(rocksdb::DB& db, Revision cursor, int64_t target);
  // Stops the thread; a chunk under way completes first.
  ~Compactor();
  Compactor(const Compactor&) = delete;
  Compactor& operator=(const Compactor&) = delete;

  // A compaction to `target` was recorded.
  void schedule(int64_t target);
  // Returns once the scheduled compaction is complete.
  void wait_until_done();
  // Holds the thread off between chunks while the returned lock lives (restore).
  std::unique_lock<std::mutex> pause();
  // New progress after a restore; call with the pause held.
  void reset(Revision cursor, int64_t target);

 private:
  bool done_locked() const { return cursor_ == Revision{target_, 0}; }
  void run();

  rocksdb::DB& db_;
  std::mutex work_mu_;  // held while a chunk runs
  std::mutex mu_;       // guards the fields below
  std::condition_variable wake_;
  std::condition_variable done_;
  Revision cursor_;
  int64_t target_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace meridian::kv
