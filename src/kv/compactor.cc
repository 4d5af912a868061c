#include "kv/compactor.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_set>

#include "base/assert.h"
#include "base/thread_name.h"
#include "base/thread_priority.h"
#include "kv/record_codec.h"
#include "kv/rocksdb_options.h"
#include "kv/store_impl.h"

namespace meridian::kv {

namespace {

// Deletes the versions of `key` that no read at or above `target` can see.
// False if the budget ran out first (then only older versions were deleted;
// the key must be processed again).
bool compact_key(rocksdb::Iterator* it, std::string_view key, int64_t target,
                 rocksdb::WriteBatch* batch, int* budget) {
  const std::string seek = version_key(key, Revision{target, kSubMax});
  const std::string_view encoded = std::string_view(seek).substr(0, seek.size() - kRevisionBytes);
  it->Seek(seek);
  if (!it->Valid() || encoded_part(it->key().ToStringView()) != encoded) return true;
  // The newest version at or below target: kept, unless it is a tombstone.
  const std::string kept(it->key().ToStringView());
  bool tombstone = false;
  MERIDIAN_ASSERT(record_is_tombstone(it->value().ToStringView(), &tombstone),
                  "corrupt version record");
  for (it->Next(); it->Valid() && encoded_part(it->key().ToStringView()) == encoded; it->Next()) {
    if (*budget <= 0) return false;
    batch->Delete(it->key());
    --*budget;
  }
  MERIDIAN_ASSERT(it->status().ok(), "compaction read: ", it->status().ToString());
  if (tombstone) {
    batch->Delete(kept);
    --*budget;
  }
  return true;
}

// Whether the version of `key` at `rev` is still stored (not yet compacted).
bool version_exists(rocksdb::DB& db, std::string_view key, Revision rev) {
  rocksdb::PinnableSlice value;
  const rocksdb::Status s =
      db.Get(single_key_read_options(), db.DefaultColumnFamily(), version_key(key, rev), &value);
  MERIDIAN_ASSERT(s.ok() || s.IsNotFound(), "compaction read: ", s.ToString());
  return s.ok();
}

}  // namespace

Revision compact_chunk(rocksdb::DB& db, Revision cursor, int64_t target, int budget) {
  rocksdb::WriteBatch batch;
  const std::string upper = revision_key(Revision{target + 1, 0});
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro = total_order_read_options();
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> index(db.NewIterator(ro));
  // Seeks from key to key: total order (a prefix-mode iterator would have to be
  // made anew for each key).
  std::unique_ptr<rocksdb::Iterator> versions(db.NewIterator(total_order_read_options()));
  std::unordered_set<std::string> done_keys;
  bool finished = true;
  for (index->Seek(revision_key(cursor)); index->Valid(); index->Next()) {
    Revision rev;
    MERIDIAN_ASSERT(decode_revision_key(index->key().ToStringView(), &rev), "bad revision key");
    const std::string_view key = index->value().ToStringView();
    // A key's first entry in revision order compacts it whole; its later entries
    // name versions already deleted (or the kept one), so only the index entry
    // goes. Without this check each of them walked the key's deleted versions
    // again (tombstones until RocksDB compacts them away): quadratic in a key's
    // versions.
    if (!done_keys.contains(std::string(key)) && version_exists(db, key, rev)) {
      if (!compact_key(versions.get(), key, target, &batch, &budget)) {
        cursor = rev;  // this entry again, next chunk
        finished = false;
        break;
      }
      done_keys.emplace(key);
    }
    if (rev.main < target) {
      batch.Delete(index->key());
      --budget;
    }
    cursor = Revision{rev.main, rev.sub + 1};
    if (budget <= 0) {
      finished = false;
      break;
    }
  }
  MERIDIAN_ASSERT(index->status().ok(), "compaction read: ", index->status().ToString());
  if (finished) cursor = Revision{target, 0};
  std::string at;
  append_be64(&at, static_cast<uint64_t>(cursor.main));
  append_be64(&at, static_cast<uint64_t>(cursor.sub));
  batch.Put(kMetaCompactCursor, at);
  rocksdb::WriteOptions wo;
  const rocksdb::Status s = db.Write(wo, &batch);
  MERIDIAN_ASSERT(s.ok(), "compaction write: ", s.ToString());
  return cursor;
}

Compactor::Compactor(rocksdb::DB& db, Revision cursor, int64_t target)
    : db_(db), cursor_(cursor), target_(target) {
  thread_ = std::thread([this] { run(); });
}

Compactor::~Compactor() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  done_.notify_all();
  thread_.join();
}

void Compactor::schedule(int64_t target) {
  {
    std::lock_guard lk(mu_);
    MERIDIAN_ASSERT(target > target_, "compaction to ", target, " after ", target_);
    target_ = target;
  }
  wake_.notify_all();
}

void Compactor::wait_until_done() {
  std::unique_lock lk(mu_);
  done_.wait(lk, [this] { return stop_ || done_locked(); });
}

std::unique_lock<std::mutex> Compactor::pause() { return std::unique_lock(work_mu_); }

void Compactor::reset(Revision cursor, int64_t target) {
  {
    std::lock_guard lk(mu_);
    cursor_ = cursor;
    target_ = target;
  }
  wake_.notify_all();
  done_.notify_all();
}

void Compactor::run() {
  base::set_thread_name("kv-compactor");
  base::lower_this_thread_priority();
  while (true) {
    std::unique_lock work(work_mu_);
    Revision cursor;
    int64_t target = 0;
    {
      std::unique_lock lk(mu_);
      if (stop_) return;
      if (done_locked()) {
        done_.notify_all();
        work.unlock();
        wake_.wait(lk, [this] { return stop_ || !done_locked(); });
        continue;
      }
      cursor = cursor_;
      target = target_;
    }
    const auto started = std::chrono::steady_clock::now();
    const Revision next = compact_chunk(db_, cursor, target, kChunkOps);
    const auto took = std::chrono::steady_clock::now() - started;
    work.unlock();  // a waiting restore (pause) gets in now
    std::unique_lock lk(mu_);
    // If a newer target arrived meanwhile, the cursor is still right for it.
    cursor_ = next;
    if (done_locked()) continue;
    // Rest between chunks: compaction is background work, and running flat out
    // it took a core from the apply, network and client-port threads (put p99 three
    // times its usual value while it ran, on two cores shared by three nodes).
    const auto rest =
        std::clamp<std::chrono::steady_clock::duration>(took * kRestPerWork, kRestMin, kRestMax);
    wake_.wait_for(lk, rest, [this] { return stop_; });
  }
}

}  // namespace meridian::kv
