// MvccStore::snapshot and the restores (format: snapshot_codec.h; the restore
// protocol: docs/formats/kv.md, "Restore").
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "kv/mvcc_store.h"
#include "kv/snapshot_codec.h"
#include "kv/store_impl.h"
#include "observe/log.h"

namespace meridian::kv {

namespace {

// Writes a restore's records in batches of about kRestoreBatchBytes. The first
// batch deletes every record and marks the store restoring; the image's meta
// records (four small ones) wait for the last batch, which also removes the
// mark. A crash in between therefore leaves the mark without the meta, and
// open() starts such a store afresh (mvcc_store.cc). An image that fits in one
// batch is written atomically, mark and all.
class RestoreWriter {
 public:
  explicit RestoreWriter(MvccStore::Impl& impl) : impl_(impl) {
    batch_.DeleteRange(kAllBegin, kAllEnd);
    batch_.Put(kMetaRestoring, "");
  }

  void add(std::string_view key, std::string_view value) {
    ++stats_.records;
    if (key[0] == kMetaTag) {
      metas_.emplace_back(key, value);
      return;
    }
    batch_.Put(key, value);
    if (batch_.GetDataSize() >= kRestoreBatchBytes) flush();
  }

  MvccStore::RestoreStats finish() && {
    for (const auto& [key, value] : metas_) batch_.Put(key, value);
    batch_.Delete(kMetaRestoring);
    flush();
    return stats_;
  }

  // Whether a batch reached RocksDB (then the old state is gone).
  bool wrote() const { return stats_.batches > 0; }
  MvccStore::RestoreStats& stats() { return stats_; }

 private:
  void flush() {
    impl_.write(&batch_);
    ++stats_.batches;
    stats_.batch_bytes_max = std::max<uint64_t>(stats_.batch_bytes_max, batch_.GetDataSize());
    batch_.Clear();
  }

  MvccStore::Impl& impl_;
  rocksdb::WriteBatch batch_;
  std::vector<std::pair<std::string, std::string>> metas_;
  MvccStore::RestoreStats stats_;
};

// Feeds the source to the decoder and the decoder's records to the writer,
// until the image's end (and the source's, which must come right after it).
base::Status copy_image(base::ByteSource& source, SnapshotDecoder& decoder, RestoreWriter& writer) {
  MvccStore::RestoreStats& stats = writer.stats();
  while (true) {
    auto piece = source.read(kRestorePieceBytes);
    if (!piece.is_ok()) return piece.status();
    if (piece.value().empty()) return decoder.finish();
    decoder.feed(piece.value());
    stats.buffered_bytes_max =
        std::max<uint64_t>(stats.buffered_bytes_max, decoder.buffered_bytes());
    if (auto s = decoder.each_record(
            [&](std::string_view key, std::string_view value) { writer.add(key, value); });
        !s.is_ok()) {
      return s;
    }
  }
}

// The in-memory state after a restore wrote `meta` (the caller holds the
// restore's locks).
void publish_restored(MvccStore::Impl& impl, const SnapshotMeta& meta) {
  const int64_t compacted = std::max<int64_t>(meta.compacted, 0);
  impl.applied_index.store(meta.applied_index, std::memory_order_release);
  impl.revision->store(meta.revision, std::memory_order_seq_cst);
  impl.compact_revision->store(compacted, std::memory_order_seq_cst);
  impl.compacted_ever.store(meta.compacted >= 0, std::memory_order_release);
  impl.compactor->reset(meta.compact_cursor, compacted);
  // A store left incomplete holds no lease: it reads as empty.
  if (impl.restoring.load(std::memory_order_acquire)) {
    impl.leases.clear();
  } else {
    load_leases(impl);
  }
  load_alarms(impl);
}

void notify_reset(const MvccStore::Impl& impl, int64_t revision) {
  if (EventListener* l = impl.listener.load(std::memory_order_acquire)) l->on_reset(revision);
}

}  // namespace

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
  // Checked whole first, so that a damaged snapshot changes nothing.
  SnapshotContents contents;
  if (auto s = decode_snapshot(data, &contents); !s.is_ok()) return s;
  {
    std::unique_lock readers(impl_->state_mutex);
    auto compactor_paused = impl_->compactor->pause();
    RestoreWriter writer(*impl_);
    for (const auto& [key, value] : contents.records) writer.add(key, value);
    impl_->last_restore = std::move(writer).finish();
    publish_restored(*impl_, contents.meta);
    impl_->restoring.store(false, std::memory_order_release);
  }
  notify_reset(*impl_, contents.meta.revision);
  return base::Status::ok();
}

base::Status MvccStore::restore_from(base::ByteSource& source) {
  SnapshotMeta meta;
  base::Status failed;
  {
    // Readers wait for the whole restore rather than see part of it.
    std::unique_lock readers(impl_->state_mutex);
    auto compactor_paused = impl_->compactor->pause();
    SnapshotDecoder decoder;
    RestoreWriter writer(*impl_);
    failed = copy_image(source, decoder, writer);
    if (failed.is_ok()) {
      impl_->last_restore = std::move(writer).finish();
      meta = decoder.meta();
      impl_->restoring.store(false, std::memory_order_release);
    } else if (writer.wrote()) {
      // The old state is gone and the new one incomplete: read as empty (no
      // version is at revision 1) until a restore succeeds.
      meta = SnapshotMeta{.applied_index = 0, .revision = 1, .compacted = -1, .compact_cursor = {}};
      impl_->restoring.store(true, std::memory_order_release);
    } else {
      return failed;  // nothing written, nothing changed
    }
    publish_restored(*impl_, meta);
  }
  if (failed.is_ok()) {
    const RestoreStats& st = impl_->last_restore;
    observe::log_info(
        "kv store restored at applied index {}, revision {}: {} records in {} batches",
        meta.applied_index, meta.revision, st.records, st.batches);
  } else {
    observe::log_warn("kv store restore failed after it began writing, left empty: {}",
                      failed.to_string());
  }
  notify_reset(*impl_, meta.revision);
  return failed;
}

bool MvccStore::restoring() const { return impl_->restoring.load(std::memory_order_acquire); }

MvccStore::RestoreStats MvccStore::last_restore_stats() const { return impl_->last_restore; }

}  // namespace meridian::kv
