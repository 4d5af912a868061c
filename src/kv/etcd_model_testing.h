// EtcdModel: etcd's MVCC semantics in the plainest form, for the randomized
// test that compares MvccStore with it: every version of every key in a
// std::map, nothing ever deleted (compaction only refuses older reads), and
// etcd's Range pipeline (apply.go) followed literally: fetch limit + 1 unless
// sorting or filtering, prune, sort (stable, so ties stay in key order), cut
// to the limit. Leases do not exist (a nonzero lease is kLeaseNotFound).
// Tests only; single thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "etcd/mvcc/mvccpb/kv.pb.h"
#include "kv/errors.h"

namespace meridian::kv::testing {

class EtcdModel {
 public:
  int64_t revision() const { return rev_; }
  int64_t compact_revision() const { return compact_; }

  Errc put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp);
  Errc delete_range(const etcdserverpb::DeleteRangeRequest& req,
                    etcdserverpb::DeleteRangeResponse* resp);
  Errc txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp);
  Errc compact(const etcdserverpb::CompactionRequest& req, etcdserverpb::CompactionResponse* resp);
  Errc range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp) const;

  // The events of revisions [from, to] on keys of etcd's range (key, range_end),
  // as MvccStore::history gives them (no prev_kv at the compacted revision).
  std::vector<mvccpb::Event> history(const std::string& key, const std::string& range_end,
                                     int64_t from, int64_t to, bool with_prev_kv) const;
  // What a fully compacted store keeps: per key, the number of versions
  // (tombstones included) from the newest at or below the compacted revision on,
  // that one dropped if a tombstone; and the number of changes at or above the
  // compacted revision (the revision index it keeps).
  std::map<std::string, int> kept_versions() const;
  int kept_index_entries() const;
  // The events of the last write that changed something.
  const std::vector<mvccpb::Event>& last_events() const { return last_events_; }

 private:
  struct Version {
    int64_t main = 0;
    int64_t sub = 0;
    bool tombstone = false;
    int64_t create = 0;
    int64_t version = 0;
    std::string value;
  };

  const Version* at(const std::string& key, int64_t rev) const;
  std::vector<mvccpb::KeyValue> live(const std::string& key, const std::string& range_end,
                                     int64_t rev) const;
  int64_t read_revision() const { return sub_ > 0 ? begin_ + 1 : begin_; }
  void begin_write();
  void end_write();
  // False: an ignore_value/ignore_lease put of a key the txn deleted (the txn
  // fails as a whole; etcd itself panics there).
  bool do_put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp);
  void do_delete(const etcdserverpb::DeleteRangeRequest& req,
                 etcdserverpb::DeleteRangeResponse* resp);
  void do_range(const etcdserverpb::RangeRequest& req, int64_t rev, int64_t header_rev,
                etcdserverpb::RangeResponse* resp) const;
  bool compare(const etcdserverpb::Compare& c) const;
  void path(const etcdserverpb::TxnRequest& req, std::vector<bool>* out) const;
  Errc check(const etcdserverpb::TxnRequest& req, const std::vector<bool>& p, size_t* pos) const;
  bool execute(const etcdserverpb::TxnRequest& req, const std::vector<bool>& p, size_t* pos,
               etcdserverpb::TxnResponse* resp);

  std::map<std::string, std::vector<Version>> keys_;
  int64_t rev_ = 1;
  int64_t compact_ = 0;
  bool compacted_ever_ = false;
  int64_t begin_ = 0;
  int64_t sub_ = 0;
  std::vector<mvccpb::Event> events_;
  std::vector<mvccpb::Event> last_events_;
};

}  // namespace meridian::kv::testing
