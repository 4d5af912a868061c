// MvccStore::snapshot and restore (format: snapshot_codec.h).
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <mutex>

#include "base/assert.h"
#include "kv/mvcc_store.h"
#include "kv/snapshot_codec.h"
#include "kv/store_impl.h"

namespace meridian::kv {

std::string MvccStore::snapshot() const {
  // One iterator reads one point in time: the apply thread (ours) writes
  // nothing meanwhile, and each compaction chunk is atomic, so data, meta and
  // compaction progress agree.
  std::unique_ptr<rocksdb::Iterator> it = impl_->iterator(nullptr);
  SnapshotEncoder enc;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    enc.add(it->key().ToStringView(), it->value().ToStringView());
  }
  MERIDIAN_ASSERT(it->status().ok(), "kv snapshot read: ", it->status().ToString());
  return std::move(enc).finish();
}

base::Status MvccStore::restore(std::string_view data) {
  SnapshotContents contents;
  if (auto s = decode_snapshot(data, &contents); !s.is_ok()) return s;
  // One WriteBatch drops every record and writes the snapshot's: RocksDB
  // applies a batch atomically (one WAL record), so a crash leaves either the
  // old state or the new one, never a mix. The batch is about the size of the
  // snapshot, which the caller already holds in memory. Every record key starts
  // with 'k', 'm' or 'r', so [0x00, 0xff) covers them all.
  rocksdb::WriteBatch batch;
  batch.DeleteRange(std::string_view("\0", 1), std::string_view("\xff", 1));
  for (const auto& [key, value] : contents.records) batch.Put(key, value);
  {
    std::unique_lock readers(impl_->state_mutex);
    auto compactor_paused = impl_->compactor->pause();
    impl_->write(&batch);
    impl_->applied_index.store(contents.applied_index, std::memory_order_release);
    revision_.store(contents.revision, std::memory_order_seq_cst);
    compact_revision_.store(std::max<int64_t>(contents.compacted, 0), std::memory_order_seq_cst);
    impl_->compacted_ever.store(contents.compacted >= 0, std::memory_order_release);
    impl_->compactor->reset(contents.compact_cursor, std::max<int64_t>(contents.compacted, 0));
  }
  if (EventListener* l = impl_->listener.load(std::memory_order_acquire)) {
    l->on_reset(contents.revision);
  }
  return base::Status::ok();
}

}  // namespace meridian::kv
