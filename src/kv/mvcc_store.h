// MvccStore: etcd's multi-version key-value store, kept in RocksDB.
//
// Model (etcd's, exactly): the store has a revision, 1 when empty; every write
// request that changes something (a Put, a DeleteRange that deletes, a Txn whose
// executed branch writes) makes one new main revision, and its changes get
// sub-revisions 0, 1, ... in execution order. Each key carries create_revision
// (main revision of the put that created this incarnation), mod_revision (of its
// last put), version (puts since creation, from 1) and lease. A delete ends an
// incarnation (a tombstone); a later put starts a new one with version 1.
// Reads at an older revision see the store as it was after that revision, until
// compaction: compact(C) makes revisions below C unreadable (kCompacted) and
// lets the store drop every version that no read at >= C can see.
//
// Layout in RocksDB (docs/formats/kv.md describes the bytes):
//   'k' escaped(key) inverted(main, sub) -> the version's record (or a tombstone)
//       newest first under each key, so reading key K at revision R is one seek;
//   'r' big-endian(main, sub) -> key: which key each revision changed, for
//       watchers catching up from history and for compaction;
//   'm' name -> store metadata: the applied Raft index, the current revision, the
//       compacted revision and a compaction in progress;
//   'l' id -> a lease (its TTL and the index that last renewed it), and
//   'a' id key -> an attachment: the key's live version carries lease id
//       (lease_codec.h), so that a revoke finds the lease's keys in one scan;
//   'c' id -> what member id published of itself (member_codec.h);
//   'x' id type -> an alarm raised (alarm_codec.h).
// Every write request is one RocksDB WriteBatch that also records the Raft index
// it was committed at, so the applied index is always exactly what the data
// reflects; after a crash, the node replays the log from applied_index() + 1.
//
// Threads: writes (put, delete_range, txn, compact, restore) come from one thread
// at a time, the node's apply thread (which also takes images; they are read on
// any thread). Reads (range, read_txn, history, revision,
// ...) may come from any thread at any time, concurrently with writes: a read at
// revision R only looks at versions <= R, which later writes never change, and
// physical compaction runs on the store's own background thread, deleting only
// versions no read at or above the compacted revision can see.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_source.h"
#include "base/status.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "etcd/mvcc/mvccpb/kv.pb.h"
#include "kv/errors.h"
#include "kv/lease_codec.h"
#include "kv/lease_table.h"
#include "raft/types.h"

namespace meridian::kv {

namespace etcdpb = ::etcdserverpb;

struct StoreOptions {
  std::string dir;  // the RocksDB directory; created if missing
  // A Range answer stops growing at about this many bytes of keys and values:
  // what is left is reported with more = true (and count stays the full count),
  // so that one read of a huge range cannot exhaust the node's memory. 0: no bound.
  uint64_t max_range_bytes = 64ull << 20;
  // RocksDB block cache.
  uint64_t block_cache_bytes = 256ull << 20;
};

// Receives the events of every applied write, in revision order, on the apply
// thread right after the write is in RocksDB. Must not block (watchers queue the
// events and deliver them elsewhere). Each event's kv is the new version (for a
// delete: key, mod_revision = the delete's revision, nothing else) and prev_kv
// the version it replaced (empty if none).
class EventListener {
 public:
  virtual ~EventListener() = default;
  // All events of one write request, which made `revision`.
  virtual void on_events(int64_t revision, std::vector<mvccpb::Event> events) = 0;
  // compact(revision) was applied: history below `revision` is gone.
  virtual void on_compacted(int64_t revision) = 0;
  // The whole state was replaced (restore from a snapshot): current revision now
  // `revision`; watchers must resynchronize from the store.
  virtual void on_reset(int64_t revision) = 0;
};

class MvccStore {
 public:
  static base::Result<std::unique_ptr<MvccStore>> open(const StoreOptions& options);
  ~MvccStore();
  MvccStore(const MvccStore&) = delete;
  MvccStore& operator=(const MvccStore&) = delete;

  // Thread-safe: writes applied before the listener is set reach watchers only
  // through history(). May be null (no listener).
  void set_listener(EventListener* listener);

  // --- writes: the apply thread; `index` is the Raft index of the command ---
  // Each fills the response (header.revision = the store's revision after it) and
  // returns kOk, or returns an error and changes nothing but the applied index.
  // Requests were validated by validate.h before they were proposed; the store
  // still checks what depends on its state (revisions, keys that must exist).
  Errc put(raft::Index index, const etcdpb::PutRequest& req, etcdpb::PutResponse* resp);
  Errc delete_range(raft::Index index, const etcdpb::DeleteRangeRequest& req,
                    etcdpb::DeleteRangeResponse* resp);
  // Compares, then the chosen branch's ops in order (a range in the txn sees the
  // txn's earlier puts and deletes), all in one revision; nested txns included.
  Errc txn(raft::Index index, const etcdpb::TxnRequest& req, etcdpb::TxnResponse* resp);
  // kCompacted if at or below the compacted revision (compact(0) succeeds once on
  // a new store, as etcd's), kFutureRevision above the current one. Records the
  // compacted revision at once; the versions are deleted in the background (a
  // caller asking for req.physical() waits with wait_for_compaction(), off the
  // apply thread).
  Errc compact(raft::Index index, const etcdpb::CompactionRequest& req,
               etcdpb::CompactionResponse* resp);
  // --- leases (etcd's Lease API; the apply thread, as the writes above) ---
  // Grants lease req.ID() (non-zero) with req.TTL() seconds (the API raised it
  // to the minimum): kLeaseExists if it exists. The response has ID and TTL.
  Errc lease_grant(raft::Index index, const etcdpb::LeaseGrantRequest& req,
                   etcdpb::LeaseGrantResponse* resp);
  // Ends the lease and deletes every key attached to it, in one revision (none
  // if it has no keys), in key order: kLeaseNotFound if it does not exist.
  Errc lease_revoke(raft::Index index, const etcdpb::LeaseRevokeRequest& req,
                    etcdpb::LeaseRevokeResponse* resp);
  // The leader's revoke of a lease it found expired: as lease_revoke if the
  // lease still has the renewed index the leader judged by; otherwise (renewed
  // since, or gone) nothing changes. Always kOk.
  Errc lease_expire(raft::Index index, const LeaseExpiry& expiry,
                    etcdpb::LeaseRevokeResponse* resp);
  // Renews each lease (its expiry restarts, on every member, when this
  // applies): ttls[i] is the granted TTL of ids[i], 0 if it does not exist.
  void lease_renew(raft::Index index, const std::vector<int64_t>& ids, std::vector<int64_t>* ttls);

  // --- alarms (etcd's Maintenance/Alarm; alarm_codec.h) ---
  // ACTIVATE raises (member, type) (answered with it, raised before or not);
  // DEACTIVATE disarms it (answered with it if it was raised). While a NOSPACE
  // alarm is raised, puts, txns that put and lease grants fail with kNoSpace;
  // deletes, reads and compactions go on, as etcd's. Always kOk.
  Errc alarm(raft::Index index, const etcdpb::AlarmRequest& req, etcdpb::AlarmResponse* resp);

  // --- members: their addresses and what each publishes of itself ---
  // (member_codec.h). isLearner is never kept: the Raft configuration says.
  // A member's own record (it publishes it at every start): its name and
  // client URLs replace the stored ones; the stored peer URLs are kept when
  // there are some (MemberAdd or MemberUpdate set them, and a restart must not
  // undo that). Always kOk.
  Errc put_member(raft::Index index, const etcdpb::Member& member);
  // A member added (MemberAdd): its record as given. Always kOk.
  Errc add_member(raft::Index index, const etcdpb::Member& member);
  // MemberUpdate: the member's peer URLs replaced (a record made if it had
  // none yet). Always kOk.
  Errc set_member_peer_urls(raft::Index index, uint64_t id,
                            const google::protobuf::RepeatedPtrField<std::string>& peer_urls);
  // A member removed: its record stays, without URLs (so that its id is never
  // given to a new member, and nothing dials it). Always kOk.
  Errc remove_member(raft::Index index, uint64_t id);
  // One member's record, if it has one (any thread).
  std::optional<etcdpb::Member> member(uint64_t id) const;

  // Records `index` as applied without changing data (for entries the state
  // machine skips), so that a restart need not replay them.
  void mark_applied(raft::Index index);
  // Records `applied` (if newer) and makes everything written so far durable
  // (the node calls it before compacting its log; node/state_machine.h).
  base::Status sync(raft::Index applied);

  // --- reads: any thread ---
  // Range at `revision` (req.revision() if set, else the current revision),
  // with every option of etcd's Range: range_end forms, limit, sort, keys_only,
  // count_only, min/max mod and create revision; more and count as etcd.
  Errc range(const etcdpb::RangeRequest& req, etcdpb::RangeResponse* resp) const;
  // A Txn whose branches hold only ranges (is_read_only), evaluated at the
  // current revision without a write.
  Errc read_txn(const etcdpb::TxnRequest& req, etcdpb::TxnResponse* resp) const;

  // Events of revisions [from, to] touching keys in [key, range_end) (etcd's
  // range_end forms), in revision order, at most `max_events` (whole revisions
  // are never split unless one revision alone exceeds it); prev_kv filled when
  // `with_prev_kv`. Sets *next to the first revision not returned. kCompacted
  // if from is below the compacted revision.
  Errc history(std::string_view key, std::string_view range_end, int64_t from, int64_t to,
               bool with_prev_kv, size_t max_events, std::vector<mvccpb::Event>* out,
               int64_t* next) const;

  int64_t revision() const { return revision_.load(std::memory_order_acquire); }
  int64_t compact_revision() const { return compact_revision_.load(std::memory_order_acquire); }
  raft::Index applied_index() const;
  // Bytes on disk (RocksDB's live files), for status and metrics.
  uint64_t size_bytes() const;

  // The alarms raised, by member and type (any thread).
  std::vector<etcdpb::AlarmMember> alarms() const;
  // A NOSPACE alarm is raised (any thread).
  bool no_space() const;

  // Every member record, by id (any thread).
  std::vector<etcdpb::Member> members() const;

  // The leases that exist (any thread; kv/lease_table.h).
  const LeaseTable& leases() const;
  // The keys attached to lease `id`, in key order (any thread).
  std::vector<std::string> lease_keys(int64_t id) const;

  // etcd's HashKV (kv/store_hash.h): a hash of the history readable at
  // `revision` (0: the current one) that members with the same history share.
  struct Hash {
    uint32_t hash = 0;
    int64_t revision = 0;          // the revision hashed
    int64_t compact_revision = 0;  // the compacted revision it was hashed with
    uint64_t versions = 0;         // versions that went into it
  };
  // kCompacted / kFutureRevision as Range; reads a snapshot, any thread.
  Errc hash_kv(int64_t revision, Hash* out) const;

  // etcd's Defragment: rewrites the whole store (a full RocksDB compaction),
  // which drops what deletes and compactions left on disk and gives the space
  // back, while reads and writes go on (etcd's defragment blocks them). Long:
  // call from a thread of its own. Returns early, kUnavailable, once *cancel
  // turns true; kIoError if RocksDB fails.
  base::Status defragment(const std::atomic<bool>* cancel);

  // --- snapshots (apply thread) ---
  // Every record as bytes (format in docs/formats/kv.md), consistent at the
  // current applied index.
  std::string snapshot() const;
  // The same bytes, fixed now but produced as they are read: from any thread,
  // later, while writes go on, with memory of about one piece and one record.
  // The image may outlive the store: reading it after the store is destroyed
  // returns kUnavailable (store_image.h).
  std::unique_ptr<base::ByteSource> image() const;
  // Replaces everything with a snapshot's contents; kCorruption (and nothing
  // changed) if it does not decode. The whole snapshot is checked before
  // anything is written.
  base::Status restore(std::string_view data);
  // Replaces everything with an image read from `source` in pieces, written in
  // bounded batches (docs/formats/kv.md, "Restore"). Readers wait until it is
  // done. Fails with kCorruption if the image does not decode, or with the
  // source's error. A failure before the first batch is written (within an
  // image's first few MiB) changes nothing; after it, the store is left marked
  // restoring: restoring() is true, it reads as empty with applied index 0,
  // revision 1 and no compaction, nothing may be applied to it (a bug that
  // stops the process), sync() fails, and only a restore (which may be
  // retried) brings it back. Reopened, such a store starts empty at applied
  // index 0, so that the node restores a snapshot again.
  base::Status restore_from(base::ByteSource& source);
  // A restore_from() failed after it had started writing.
  bool restoring() const;
  // Readies a store restored from another cluster's snapshot for a new
  // cluster (`meridian snapshot restore`): applied index 1, the index of a new
  // cluster's bootstrap snapshot, so that the node replays its new log after
  // it; the old cluster's member records and alarms dropped. Keys, revisions,
  // compaction and leases stay (every lease gets its full TTL at start).
  base::Status begin_new_cluster();

  // What the last successful restore wrote, and the most memory it held for it.
  struct RestoreStats {
    uint64_t records = 0;
    uint64_t batches = 0;
    uint64_t batch_bytes_max = 0;     // the largest WriteBatch
    uint64_t buffered_bytes_max = 0;  // the most the decoder copied (a partial record, a piece)
  };
  RestoreStats last_restore_stats() const;

  // Waits until background compaction has caught up (tests, benchmarks).
  void wait_for_compaction();

  struct Impl;

 private:
  explicit MvccStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<int64_t> revision_{1};
  std::atomic<int64_t> compact_revision_{0};
};

// True if every op of the txn (both branches, nested txns included) is a range.
bool is_read_only(const etcdpb::TxnRequest& req);
// True if any op of the txn (either branch, nested txns included) is a put
// (etcd's quota counts only those).
bool txn_puts(const etcdpb::TxnRequest& req);

}  // namespace meridian::kv
