// WriteTxn: one write request being applied (a Put, a DeleteRange or a whole
// Txn), as etcd's storeTxnWrite: every change gets the main revision begin + 1
// and the next sub-revision, goes into one RocksDB WriteBatch, and is visible to
// the request's later reads through an overlay of the keys it wrote (etcd
// ranges inside a txn see the txn's earlier puts and deletes). Nothing reaches
// the store until the caller writes the batch.
//
// A WriteTxn that never writes is also how read-only txns are evaluated, on any
// thread. One WriteTxn belongs to one thread.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "etcd/mvcc/mvccpb/kv.pb.h"
#include "kv/errors.h"
#include "kv/lease_table.h"
#include "kv/range_reader.h"

namespace meridian::kv {

class WriteTxn {
 public:
  struct Options {
    uint64_t max_range_bytes = 0;
    bool collect_events = false;         // build the mvccpb::Events of the changes
    bool track_writes = false;           // later reads of this txn must see its writes
    const LeaseTable* leases = nullptr;  // the leases a put may attach (none if null)
  };
  // On top of `db` at its current revision `begin_revision`.
  WriteTxn(rocksdb::DB& db, int64_t begin_revision, const Options& options);

  int64_t begin_revision() const { return begin_; }
  bool changed() const { return sub_ > 0; }
  // The revision this request's changes get.
  int64_t write_revision() const { return begin_ + 1; }
  // What reads without an explicit revision see: etcd's txn reads at its own
  // revision once it has written something.
  int64_t read_revision() const { return changed() ? begin_ + 1 : begin_; }

  // The key's live version as this txn sees it; the value (and key) are filled
  // only when `with_value`.
  bool latest(std::string_view key, bool with_value, mvccpb::KeyValue* out);
  // Whether a put may attach lease `id` (it exists).
  bool lease_exists(int64_t id) const {
    return options_.leases != nullptr && options_.leases->contains(id);
  }

  // The live kvs of etcd's range (key, range_end) at read_revision().
  std::unique_ptr<KvSource> scan(std::string_view key, std::string_view range_end);

  // etcd's operations; the caller has checked what can fail (the revision of a
  // range, the keys ignore_value/ignore_lease need, leases) on the state before
  // the request. One case remains: a put with ignore_value/ignore_lease of a key
  // that an earlier "from key" delete of the same txn removed (etcd's duplicate
  // check lets that through, and etcd then panics); put returns kKeyNotFound
  // and the caller must abort() the whole request.
  void range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp);
  Errc put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp);
  void delete_range(const etcdserverpb::DeleteRangeRequest& req,
                    etcdserverpb::DeleteRangeResponse* resp);

  // Drops every change made so far (the request fails as a whole).
  void abort();

  rocksdb::WriteBatch* batch() { return &batch_; }
  std::vector<mvccpb::Event>& events() { return events_; }

  // A key written by this txn: its version now, or a delete.
  struct Written {
    bool live = false;
    mvccpb::KeyValue kv;
  };
  using WrittenMap = std::map<std::string, Written, std::less<>>;

 private:
  Revision next_revision() { return Revision{begin_ + 1, sub_++}; }
  void record_write(std::string_view key, Written w);
  // Keeps the lease attachments (lease_codec.h) of `key` in step with a change
  // of its live version's lease from `from` to `to` (0: none).
  void move_attachment(std::string_view key, int64_t from, int64_t to);

  rocksdb::DB& db_;
  int64_t begin_;
  Options options_;
  int64_t sub_ = 0;
  rocksdb::WriteBatch batch_;
  std::vector<mvccpb::Event> events_;
  WrittenMap written_;
  std::string scratch_;
};

}  // namespace meridian::kv
