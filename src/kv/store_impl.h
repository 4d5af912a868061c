// MvccStore's private state and meta record names, shared by the files that
// implement it (mvcc_store.cc, store_history.cc, store_snapshot.cc; the codecs
// of compactor.cc and snapshot_codec.cc use the names). Not a public interface:
// only src/kv includes it.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "kv/alarm_codec.h"
#include "kv/compactor.h"
#include "kv/lease_table.h"
#include "kv/mvcc_store.h"
#include "kv/store_image.h"
#include "kv/wal_flusher.h"
#include "kv/write_txn.h"

namespace meridian::kv {

// Names of the meta records ('m' name -> value; docs/formats/kv.md).
inline constexpr std::string_view kMetaFormat = "mformat";  // u8 (=1)
// The applied Raft index and the current revision, together: every write
// request updates both, and one record is one memtable insert instead of two.
inline constexpr std::string_view kMetaApplied = "mapplied";           // be64 index, be64 revision
inline constexpr std::string_view kMetaCompacted = "mcompacted";       // be64 compacted revision
inline constexpr std::string_view kMetaCompactCursor = "mcompact_at";  // be64 main, be64 sub
inline constexpr char kStoreFormat = 1;
// Present (empty) while a restore from a snapshot image is being written in
// several batches: the first one writes it, the last one deletes it. Never in
// an image: the snapshot decoder refuses meta names it does not know.
inline constexpr std::string_view kMetaRestoring = "mrestoring";

// Every record key starts with 'a', 'c', 'k', 'l', 'm', 'r' or 'x', so [kAllBegin, kAllEnd) holds
// them all (restore and an interrupted restore's cleanup delete it).
inline constexpr std::string_view kAllBegin("\0", 1);
inline constexpr std::string_view kAllEnd("\xff", 1);

// A restore reads its image in pieces of this size and writes it in batches
// of about this many bytes, so that its memory is about one piece, one record
// and one batch whatever the image's size. 1 MiB pieces (base::read_all's too)
// make the cost per read negligible; 4 MiB spreads RocksDB's cost per batch (a WAL
// record, a memtable insert group) over thousands of records while staying far
// below a 64 MiB memtable (rocksdb_options.cc). Chosen, not measured.
inline constexpr size_t kRestorePieceBytes = size_t{1} << 20;
inline constexpr size_t kRestoreBatchBytes = size_t{4} << 20;

struct MvccStore::Impl {
  StoreOptions options;
  std::unique_ptr<rocksdb::DB> db;
  std::atomic<EventListener*> listener{nullptr};
  std::atomic<uint64_t> applied_index{0};
  // The store's atomics (they live in MvccStore for inline reads).
  std::atomic<int64_t>* revision = nullptr;
  std::atomic<int64_t>* compact_revision = nullptr;
  // False until the first compaction is recorded: etcd's compacted revision is
  // -1 then, so compact(0) succeeds once on a new store (kMetaCompacted holds
  // -1 until then; compact_revision() reads 0).
  std::atomic<bool> compacted_ever{false};
  // Readers hold it shared and restore exclusively, so that no read mixes the
  // revisions of one state with the data of the other. Writes need not take it:
  // they and restore run on the same (apply) thread.
  mutable std::shared_mutex state_mutex;
  std::unique_ptr<Compactor> compactor;
  std::unique_ptr<WalFlusher> wal_flusher;
  // The images being read (store_image.h); closed before the database is.
  std::shared_ptr<ImageRegistry> images = std::make_shared<ImageRegistry>();
  // A restore failed after writing part of its image (kMetaRestoring is on
  // disk): nothing may be applied until a restore succeeds.
  std::atomic<bool> restoring{false};
  MvccStore::RestoreStats last_restore;  // the apply thread's
  // The leases, as the lease records say (store_lease.cc keeps them in step).
  LeaseTable leases;
  // The alarms raised, as the alarm records say (store_alarms.cc), and whether
  // one of them is NOSPACE (read by every write without the lock).
  mutable std::mutex alarms_mu;
  std::set<Alarm> alarms;  // guarded by alarms_mu
  std::atomic<bool> no_space{false};
  bool alarms_raise_no_space_locked() const;

  // An iterator over the current state; `upper_bound` (may be null) must outlive it.
  std::unique_ptr<rocksdb::Iterator> iterator(const rocksdb::Slice* upper_bound) const;
  // Writes a batch of the apply thread or the compactor. RocksDB failing to write
  // (I/O error, disk full) is fatal: the state machine cannot skip a committed
  // entry, and the node replays the log from the applied index after a restart.
  void write(rocksdb::WriteBatch* batch) const;
};

// The apply thread's side of a write request (mvcc_store.cc): the options of a
// WriteTxn on this store; the check that the store is whole; and the commit of
// a finished request (its batch with the applied index and revision, then the
// revision published and the events handed to the listener).
WriteTxn::Options write_options(const MvccStore::Impl& impl, bool track_writes);
void assert_complete(const MvccStore::Impl& impl);
void commit(MvccStore::Impl& impl, WriteTxn& w, raft::Index index);
// Fills impl.leases from the lease records (open, restore).
void load_leases(MvccStore::Impl& impl);
// Fills impl.alarms from the alarm records (open, restore).
void load_alarms(MvccStore::Impl& impl);

// Appends the meta record of the applied index and current revision to a batch.
void put_applied(rocksdb::WriteBatch* batch, raft::Index index, int64_t revision);
void put_meta_i64(rocksdb::WriteBatch* batch, std::string_view name, int64_t v);

}  // namespace meridian::kv
