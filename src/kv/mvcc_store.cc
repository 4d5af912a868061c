#include "kv/mvcc_store.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <mutex>

#include "base/assert.h"
#include "base/strings.h"
#include "kv/range_query.h"
#include "kv/rocksdb_options.h"
#include "kv/store_hash.h"
#include "kv/store_history.h"
#include "kv/store_impl.h"
#include "kv/txn_apply.h"
#include "kv/write_txn.h"
#include "observe/log.h"

namespace meridian::kv {

namespace {

using etcdpb::CompactionRequest;
using etcdpb::CompactionResponse;
using etcdpb::DeleteRangeRequest;
using etcdpb::DeleteRangeResponse;
using etcdpb::PutRequest;
using etcdpb::PutResponse;
using etcdpb::RangeRequest;
using etcdpb::RangeResponse;
using etcdpb::TxnRequest;
using etcdpb::TxnResponse;

// etcd's compactMainRev is -1 until the first compaction, and a txn's range
// with a revision below it is refused as compacted; with our 0 for "never",
// the bound that reproduces that is -1.
int64_t first_revision(int64_t compact_revision) {
  return compact_revision == 0 ? -1 : compact_revision;
}

// Meta values read at open.
struct Meta {
  uint64_t applied = 0;
  int64_t revision = 1;
  int64_t compacted = 0;
  Revision cursor;
};

// What open() finds: a store with its meta records, none (a new store), or a
// restore that did not finish (docs/formats/kv.md, "Restore").
enum class Found : uint8_t { kStore, kNothing, kInterruptedRestore };

base::Status read_meta(rocksdb::DB& db, Meta* meta, Found* found) {
  std::string v;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), kMetaRestoring, &v);
  if (s.ok()) {
    // The meta records are missing (the first batch deleted them) or the old
    // ones; either way they do not describe the data.
    *found = Found::kInterruptedRestore;
    return base::Status::ok();
  }
  if (!s.IsNotFound()) return base::Status(base::Code::kIoError, s.ToString());
  s = db.Get(rocksdb::ReadOptions(), kMetaFormat, &v);
  if (s.IsNotFound()) {
    *found = Found::kNothing;
    return base::Status::ok();
  }
  *found = Found::kStore;
  if (!s.ok()) return base::Status(base::Code::kIoError, s.ToString());
  if (v.size() != 1 || v[0] != kStoreFormat) {
    return base::Status(base::Code::kCorruption, "kv store: unknown format");
  }
  auto get = [&](std::string_view name, size_t size, std::string* out) -> base::Status {
    rocksdb::Status st = db.Get(rocksdb::ReadOptions(), name, out);
    if (!st.ok() || out->size() != size) {
      return base::Status(base::Code::kCorruption,
                          base::cat("kv store: meta ", name, ": ", st.ToString()));
    }
    return base::Status::ok();
  };
  std::string a, c, at;
  for (auto st :
       {get(kMetaApplied, 16, &a), get(kMetaCompacted, 8, &c), get(kMetaCompactCursor, 16, &at)}) {
    if (!st.is_ok()) return st;
  }
  meta->applied = read_be64(a.data());
  meta->revision = static_cast<int64_t>(read_be64(a.data() + 8));
  meta->compacted = static_cast<int64_t>(read_be64(c.data()));
  meta->cursor = Revision{static_cast<int64_t>(read_be64(at.data())),
                          static_cast<int64_t>(read_be64(at.data() + 8))};
  return base::Status::ok();
}

void put_cursor(rocksdb::WriteBatch* batch, Revision cursor) {
  std::string at;
  append_be64(&at, static_cast<uint64_t>(cursor.main));
  append_be64(&at, static_cast<uint64_t>(cursor.sub));
  batch->Put(kMetaCompactCursor, at);
}

}  // namespace

// A store a failed restore left incomplete has no state to apply commands to
// (mvcc_store.h, restore_from); the node stops on that failure.
void assert_complete(const MvccStore::Impl& impl) {
  MERIDIAN_ASSERT(!impl.restoring.load(std::memory_order_acquire),
                  "kv store: a write to a store left incomplete by a failed restore");
}

// Writes a finished write request: its changes, the applied index and the new
// revision in one batch; then publishes the revision and hands the events to
// the listener.
void commit(MvccStore::Impl& impl, WriteTxn& w, raft::Index index) {
  assert_complete(impl);
  rocksdb::WriteBatch* batch = w.batch();
  put_applied(batch, index, w.changed() ? w.write_revision() : w.begin_revision());
  impl.write(batch);
  impl.applied_index.store(index.value(), std::memory_order_release);
  if (!w.changed()) return;
  const int64_t rev = w.write_revision();
  impl.revision->store(rev, std::memory_order_seq_cst);
  // Loaded again after the revision is published: a listener set meanwhile
  // either reads the new revision or receives these events (a watcher hub must
  // ignore events at or below the revision it started from).
  EventListener* listener = impl.listener.load(std::memory_order_seq_cst);
  if (listener == nullptr) return;
  if (w.events().empty()) {
    // The listener arrived during this write, which did not collect events.
    std::vector<mvccpb::Event> events;
    int64_t next = 0;
    const std::string_view all("\0", 1);
    const Errc e = read_history(impl, all, all, rev, rev, true, 0, &events, &next);
    MERIDIAN_ASSERT(e == Errc::kOk, "history of the newest revision: ", errc_message(e));
    listener->on_events(rev, std::move(events));
    return;
  }
  listener->on_events(rev, std::move(w.events()));
}

WriteTxn::Options write_options(const MvccStore::Impl& impl, bool track_writes) {
  WriteTxn::Options o;
  o.max_range_bytes = impl.options.max_range_bytes;
  o.collect_events = impl.listener.load(std::memory_order_acquire) != nullptr;
  o.track_writes = track_writes;
  o.leases = &impl.leases;
  return o;
}

namespace {

bool ops_read_only(const google::protobuf::RepeatedPtrField<etcdpb::RequestOp>& ops) {
  for (const etcdpb::RequestOp& op : ops) {
    if (op.has_request_range()) continue;
    if (op.has_request_txn() && is_read_only(op.request_txn())) continue;
    return false;
  }
  return true;
}

}  // namespace

void put_applied(rocksdb::WriteBatch* batch, raft::Index index, int64_t revision) {
  std::string v;
  v.reserve(16);
  append_be64(&v, index.value());
  append_be64(&v, static_cast<uint64_t>(revision));
  batch->Put(kMetaApplied, v);
}

void put_meta_i64(rocksdb::WriteBatch* batch, std::string_view name, int64_t value) {
  std::string v;
  append_be64(&v, static_cast<uint64_t>(value));
  batch->Put(name, v);
}

std::unique_ptr<rocksdb::Iterator> MvccStore::Impl::iterator(
    const rocksdb::Slice* upper_bound) const {
  rocksdb::ReadOptions ro = total_order_read_options();
  ro.iterate_upper_bound = upper_bound;
  return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro));
}

void MvccStore::Impl::write(rocksdb::WriteBatch* batch) const {
  // WAL on, no sync (and buffered in the process, see wal_flusher.h): the Raft
  // log is the durable record. After a crash RocksDB recovers a consistent
  // prefix of these batches (each is atomic and carries its applied index), and
  // the node replays the log from applied_index() + 1.
  rocksdb::WriteOptions wo;
  wo.sync = false;
  wo.disableWAL = false;
  const rocksdb::Status s = db->Write(wo, batch);
  MERIDIAN_ASSERT(s.ok(), "kv store write failed: ", s.ToString());
}

base::Result<std::unique_ptr<MvccStore>> MvccStore::open(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return base::Status(base::Code::kIoError,
                        base::cat("create ", options.dir, ": ", ec.message()));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(rocksdb_options(options), options.dir, &db);
  if (!s.ok()) {
    return base::Status(base::Code::kIoError,
                        base::cat("open kv store ", options.dir, ": ", s.ToString()));
  }
  impl->db.reset(db);
  Meta meta;
  Found found = Found::kStore;
  if (auto st = read_meta(*impl->db, &meta, &found); !st.is_ok()) return st;
  const bool fresh = found != Found::kStore;
  if (fresh) {
    rocksdb::WriteBatch batch;
    if (found == Found::kInterruptedRestore) {
      // What the restore wrote is of no use without the rest. Starting empty at
      // applied index 0 (the mark goes too) makes the node restore its snapshot
      // again, or replay its log from the start, as for a new member.
      observe::log_warn("kv store {}: a restore from a snapshot was interrupted; starting empty",
                        options.dir);
      batch.DeleteRange(kAllBegin, kAllEnd);
    }
    batch.Put(kMetaFormat, std::string(1, kStoreFormat));
    put_applied(&batch, raft::Index{0}, 1);
    put_meta_i64(&batch, kMetaCompacted, -1);
    put_cursor(&batch, Revision{});
    impl->write(&batch);
  }
  impl->applied_index.store(meta.applied);
  if (fresh) meta.compacted = -1;
  impl->compacted_ever.store(meta.compacted >= 0);
  meta.compacted = std::max<int64_t>(meta.compacted, 0);
  impl->compactor = std::make_unique<Compactor>(*impl->db, meta.cursor, meta.compacted);
  impl->wal_flusher = std::make_unique<WalFlusher>(*impl->db);
  load_leases(*impl);
  load_alarms(*impl);
  std::unique_ptr<MvccStore> store(new MvccStore(std::move(impl)));
  store->revision_.store(meta.revision);
  store->compact_revision_.store(meta.compacted);
  return store;
}

MvccStore::MvccStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->revision = &revision_;
  impl_->compact_revision = &compact_revision_;
}

MvccStore::~MvccStore() {
  impl_->images->close();  // before the database: no iterator may outlive it
  impl_->compactor.reset();
  impl_->wal_flusher.reset();  // flushes and syncs the WAL
  const rocksdb::Status s = impl_->db->Close();
  (void)s;  // nothing more to do about it: the data is in the WAL
}

void MvccStore::set_listener(EventListener* listener) {
  impl_->listener.store(listener, std::memory_order_seq_cst);
}

Errc MvccStore::put(raft::Index index, const PutRequest& req, PutResponse* resp) {
  WriteTxn w(*impl_->db, revision(), write_options(*impl_, false));
  Errc e = Errc::kOk;
  mvccpb::KeyValue existing;
  // etcd checks the lease first, then the key ignore_* needs.
  if (no_space()) {
    e = Errc::kNoSpace;
  } else if (req.lease() != 0 && !w.lease_exists(req.lease())) {
    e = Errc::kLeaseNotFound;
  } else if ((req.ignore_value() || req.ignore_lease()) && !w.latest(req.key(), false, &existing)) {
    e = Errc::kKeyNotFound;
  }
  if (e == Errc::kOk) e = w.put(req, resp);
  commit(*impl_, w, index);
  return e;
}

Errc MvccStore::delete_range(raft::Index index, const DeleteRangeRequest& req,
                             DeleteRangeResponse* resp) {
  WriteTxn w(*impl_->db, revision(), write_options(*impl_, false));
  w.delete_range(req, resp);
  commit(*impl_, w, index);
  return Errc::kOk;
}

Errc MvccStore::txn(raft::Index index, const TxnRequest& req, TxnResponse* resp) {
  WriteTxn w(*impl_->db, revision(), write_options(*impl_, true));
  // etcd refuses a txn with a put while NOSPACE is raised, before anything.
  Errc e = no_space() && txn_puts(req) ? Errc::kNoSpace : Errc::kOk;
  const std::vector<bool> path = txn_path(w, req);
  if (e == Errc::kOk) e = check_txn(w, req, path, first_revision(compact_revision()));
  if (e == Errc::kOk) e = execute_txn(w, req, path, resp);
  if (e == Errc::kOk) {
    resp->mutable_header()->set_revision(w.changed() ? w.write_revision() : w.begin_revision());
  } else {
    w.abort();
    resp->Clear();
  }
  commit(*impl_, w, index);
  return e;
}

Errc MvccStore::compact(raft::Index index, const CompactionRequest& req, CompactionResponse* resp) {
  const int64_t rev = req.revision();
  Errc e = Errc::kOk;
  if (rev < compact_revision() ||
      (rev == compact_revision() && impl_->compacted_ever.load(std::memory_order_acquire))) {
    e = Errc::kCompacted;
  } else if (rev > revision()) {
    e = Errc::kFutureRevision;
  }
  assert_complete(*impl_);
  rocksdb::WriteBatch batch;
  put_applied(&batch, index, revision());
  if (e == Errc::kOk) put_meta_i64(&batch, kMetaCompacted, rev);
  impl_->write(&batch);
  impl_->applied_index.store(index.value(), std::memory_order_release);
  if (e != Errc::kOk) return e;
  compact_revision_.store(rev, std::memory_order_seq_cst);
  impl_->compacted_ever.store(true, std::memory_order_release);
  if (EventListener* l = impl_->listener.load(std::memory_order_acquire)) l->on_compacted(rev);
  // Physical compaction runs on the compactor's thread; a caller that asked for
  // it waits with wait_for_compaction() off the apply thread (api/), so that the
  // apply loop never stalls on it.
  if (rev > 0) impl_->compactor->schedule(rev);  // compact(0) has nothing to delete
  resp->mutable_header()->set_revision(revision());
  return Errc::kOk;
}

base::Status MvccStore::sync(raft::Index applied) {
  if (restoring()) {
    // Nothing applied is held: the node must not count on it (and compact its log).
    return base::Status(base::Code::kFailedPrecondition,
                        "kv store: a failed restore left it incomplete");
  }
  if (applied.value() > impl_->applied_index.load(std::memory_order_acquire)) mark_applied(applied);
  const rocksdb::Status st = impl_->db->FlushWAL(/*sync=*/true);
  if (!st.ok()) {
    return base::Status(st.IsNoSpace() ? base::Code::kNoSpace : base::Code::kIoError,
                        "syncing the key-value store's log: " + st.ToString());
  }
  return base::Status::ok();
}

void MvccStore::mark_applied(raft::Index index) {
  assert_complete(*impl_);
  rocksdb::WriteBatch batch;
  put_applied(&batch, index, revision());
  impl_->write(&batch);
  impl_->applied_index.store(index.value(), std::memory_order_release);
}

Errc MvccStore::range(const RangeRequest& req, RangeResponse* resp) const {
  std::shared_lock lock(impl_->state_mutex);
  const int64_t current = revision();
  const int64_t rev = req.revision() <= 0 ? current : req.revision();
  if (rev > current) return Errc::kFutureRevision;
  // The scanner's iterator pins the data first; a compaction recorded before
  // this check may already be deleting, one recorded after cannot have touched
  // what the iterator sees.
  KeyScanner scanner(*impl_->db, req.key(), req.range_end(), rev);
  if (rev < compact_revision()) return Errc::kCompacted;
  answer_range(req, scanner, impl_->options.max_range_bytes, resp);
  resp->mutable_header()->set_revision(current);
  return Errc::kOk;
}

Errc MvccStore::read_txn(const TxnRequest& req, TxnResponse* resp) const {
  std::shared_lock lock(impl_->state_mutex);
  const int64_t current = revision();
  WriteTxn w(*impl_->db, current, write_options(*impl_, false));
  const std::vector<bool> path = txn_path(w, req);
  Errc e = check_txn_ranges(req, path, current, first_revision(compact_revision()));
  if (e != Errc::kOk) return e;
  // A read-only txn cannot fail while executing (no puts).
  e = execute_txn(w, req, path, resp);
  MERIDIAN_ASSERT(e == Errc::kOk, "read-only txn failed: ", errc_message(e));
  // A compaction recorded while the ranges ran may have removed what an older
  // revision's range read: then the answer cannot be trusted.
  e = check_txn_ranges(req, path, current, first_revision(compact_revision()));
  if (e != Errc::kOk) {
    resp->Clear();
    return e;
  }
  resp->mutable_header()->set_revision(current);
  return Errc::kOk;
}

Errc MvccStore::history(std::string_view key, std::string_view range_end, int64_t from, int64_t to,
                        bool with_prev_kv, size_t max_events, std::vector<mvccpb::Event>* out,
                        int64_t* next) const {
  std::shared_lock lock(impl_->state_mutex);
  return read_history(*impl_, key, range_end, from, to, with_prev_kv, max_events, out, next);
}

Errc MvccStore::hash_kv(int64_t revision, Hash* out) const {
  std::shared_lock lock(impl_->state_mutex);
  const int64_t current = revision_.load(std::memory_order_acquire);
  if (revision > current) return Errc::kFutureRevision;
  // The snapshot first, then the compacted revision: a compaction recorded
  // after the snapshot has deleted nothing it holds, and hashing with its
  // (larger) revision leaves out exactly what it will delete.
  const rocksdb::Snapshot* snapshot = impl_->db->GetSnapshot();
  const int64_t compacted = compact_revision_.load(std::memory_order_acquire);
  Errc result = Errc::kCompacted;
  if (revision <= 0 || revision > compacted) {
    result = hash_versions(*impl_->db, snapshot, revision > 0 ? revision : current, compacted, out);
  }
  impl_->db->ReleaseSnapshot(snapshot);
  return result;
}

base::Status MvccStore::defragment(const std::atomic<bool>* cancel) {
  std::shared_lock lock(impl_->state_mutex);  // not across a restore
  rocksdb::CompactRangeOptions o;
  // Automatic compactions go on beside it; the work runs on RocksDB's
  // compaction pool, at background priority (rocksdb_options.cc).
  o.exclusive_manual_compaction = false;
  // Rewrite the last level too: that is where deleted data's space is held.
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  o.canceled = const_cast<std::atomic<bool>*>(cancel);  // NOLINT: RocksDB only reads it
  const rocksdb::Status s = impl_->db->CompactRange(o, nullptr, nullptr);
  if (s.IsManualCompactionPaused() || (cancel != nullptr && cancel->load())) {
    return base::Status(base::Code::kUnavailable, "defragmentation cancelled");
  }
  if (!s.ok()) return base::Status(base::Code::kIoError, "defragment: " + s.ToString());
  return base::Status::ok();
}

raft::Index MvccStore::applied_index() const {
  return raft::Index{impl_->applied_index.load(std::memory_order_acquire)};
}

uint64_t MvccStore::size_bytes() const {
  uint64_t sst = 0;
  uint64_t mem = 0;
  impl_->db->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
  impl_->db->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &mem);
  return sst + mem;
}

void MvccStore::wait_for_compaction() { impl_->compactor->wait_until_done(); }

bool txn_puts(const TxnRequest& req) {
  for (const auto* branch : {&req.success(), &req.failure()}) {
    for (const etcdpb::RequestOp& op : *branch) {
      if (op.has_request_put()) return true;
      if (op.has_request_txn() && txn_puts(op.request_txn())) return true;
    }
  }
  return false;
}

bool is_read_only(const TxnRequest& req) {
  return ops_read_only(req.success()) && ops_read_only(req.failure());
}

}  // namespace meridian::kv
