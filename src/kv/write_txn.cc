#include "kv/write_txn.h"

#include "base/assert.h"
#include "kv/lease_codec.h"
#include "kv/range_query.h"

namespace meridian::kv {

namespace {

using etcdserverpb::DeleteRangeRequest;
using etcdserverpb::DeleteRangeResponse;
using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;

// The store's kvs of a range merged with the txn's own writes (which win).
class OverlaySource final : public KvSource {
 public:
  OverlaySource(rocksdb::DB& db, std::string_view key, std::string_view range_end,
                int64_t store_revision, const WriteTxn::WrittenMap& written)
      : store_(db, key, range_end, store_revision),
        key_(key),
        range_end_(range_end),
        it_(written.lower_bound(key)),
        end_(written.end()) {}

  const KvRef* next() override {
    while (true) {
      if (!store_fetched_) {
        store_kv_ = store_.next();
        store_fetched_ = true;
      }
      const bool written_left = it_ != end_ && key_in_range(it_->first, key_, range_end_);
      if (!written_left) {
        store_fetched_ = false;
        return store_kv_;
      }
      if (store_kv_ != nullptr && store_kv_->key < it_->first) {
        store_fetched_ = false;
        return store_kv_;
      }
      // The txn wrote this key: its write replaces the store's version.
      if (store_kv_ != nullptr && store_kv_->key == it_->first) store_fetched_ = false;
      const WriteTxn::Written& w = it_->second;
      ++it_;
      if (!w.live) continue;
      ref_ = KvRef{w.kv.key(),          w.kv.value(),   w.kv.create_revision(),
                   w.kv.mod_revision(), w.kv.version(), w.kv.lease()};
      return &ref_;
    }
  }

 private:
  KeyScanner store_;
  std::string_view key_;
  std::string_view range_end_;
  WriteTxn::WrittenMap::const_iterator it_;
  WriteTxn::WrittenMap::const_iterator end_;
  bool store_fetched_ = false;
  const KvRef* store_kv_ = nullptr;
  KvRef ref_;
};

}  // namespace

WriteTxn::WriteTxn(rocksdb::DB& db, int64_t begin_revision, const Options& options)
    : db_(db), begin_(begin_revision), options_(options) {}

bool WriteTxn::latest(std::string_view key, bool with_value, mvccpb::KeyValue* out) {
  if (!written_.empty()) {
    auto it = written_.find(key);
    if (it != written_.end()) {
      if (!it->second.live) return false;
      *out = it->second.kv;
      return true;
    }
  }
  KeyScanner scanner(db_, key, "", begin_);
  const KvRef* kv = scanner.next();
  if (kv == nullptr) return false;
  if (with_value) {
    kv->fill(out, false);
  } else {
    out->set_create_revision(kv->create_revision);
    out->set_mod_revision(kv->mod_revision);
    out->set_version(kv->version);
    out->set_lease(kv->lease);
  }
  return true;
}

std::unique_ptr<KvSource> WriteTxn::scan(std::string_view key, std::string_view range_end) {
  if (written_.empty()) return std::make_unique<KeyScanner>(db_, key, range_end, begin_);
  return std::make_unique<OverlaySource>(db_, key, range_end, begin_, written_);
}

void WriteTxn::range(const RangeRequest& req, RangeResponse* resp) {
  resp->mutable_header()->set_revision(read_revision());
  const int64_t rev = req.revision() <= 0 ? read_revision() : req.revision();
  MERIDIAN_ASSERT(rev <= read_revision(), "txn range at future revision ", rev);
  if (rev == read_revision()) {
    auto source = scan(req.key(), req.range_end());
    answer_range(req, *source, options_.max_range_bytes, resp);
  } else {
    // An explicit older revision: the store as it was, without this txn.
    KeyScanner source(db_, req.key(), req.range_end(), rev);
    answer_range(req, source, options_.max_range_bytes, resp);
  }
}

void WriteTxn::record_write(std::string_view key, Written w) {
  if (!options_.track_writes) return;
  auto it = written_.find(key);
  if (it == written_.end()) {
    written_.emplace(std::string(key), std::move(w));
  } else {
    it->second = std::move(w);
  }
}

void WriteTxn::move_attachment(std::string_view key, int64_t from, int64_t to) {
  if (from == to) return;
  if (from != 0) batch_.Delete(attachment_key(from, key));
  if (to != 0) batch_.Put(attachment_key(to, key), rocksdb::Slice());
}

void WriteTxn::abort() {
  batch_.Clear();
  events_.clear();
  written_.clear();
  sub_ = 0;
}

Errc WriteTxn::put(const PutRequest& req, PutResponse* resp) {
  const std::string& key = req.key();
  const bool need_prev = req.prev_kv() || req.ignore_value() || options_.collect_events;
  mvccpb::KeyValue prev;
  const bool existed = latest(key, need_prev, &prev);
  if (!existed && (req.ignore_value() || req.ignore_lease())) return Errc::kKeyNotFound;
  const std::string& value = req.ignore_value() ? prev.value() : req.value();
  const int64_t lease = req.ignore_lease() ? prev.lease() : req.lease();
  const Revision rev = next_revision();
  const int64_t create = existed ? prev.create_revision() : rev.main;
  const int64_t version = existed ? prev.version() + 1 : 1;

  scratch_.clear();
  append_put_record(&scratch_, create, version, lease, value);
  batch_.Put(version_key(key, rev), scratch_);
  batch_.Put(revision_key(rev), key);
  move_attachment(key, existed ? prev.lease() : 0, lease);

  const bool want_kv = options_.collect_events || options_.track_writes;
  mvccpb::KeyValue kv;
  if (want_kv) {
    kv.set_key(key);
    kv.set_value(value);
    kv.set_create_revision(create);
    kv.set_mod_revision(rev.main);
    kv.set_version(version);
    kv.set_lease(lease);
  }
  if (options_.collect_events) {
    mvccpb::Event& ev = events_.emplace_back();
    ev.set_type(mvccpb::Event::PUT);
    if (options_.track_writes) {
      *ev.mutable_kv() = kv;
    } else {
      ev.mutable_kv()->Swap(&kv);
    }
    if (existed) *ev.mutable_prev_kv() = prev;
  }
  if (req.prev_kv() && existed) resp->mutable_prev_kv()->Swap(&prev);
  if (options_.track_writes) record_write(key, Written{true, std::move(kv)});
  resp->mutable_header()->set_revision(rev.main);
  return Errc::kOk;
}

void WriteTxn::delete_range(const DeleteRangeRequest& req, DeleteRangeResponse* resp) {
  // The victims first: the scan must not see its own deletes.
  std::vector<mvccpb::KeyValue> victims;
  {
    auto source = scan(req.key(), req.range_end());
    const bool keys_only = !req.prev_kv() && !options_.collect_events;
    while (const KvRef* kv = source->next()) kv->fill(&victims.emplace_back(), keys_only);
  }
  for (mvccpb::KeyValue& victim : victims) {
    const Revision rev = next_revision();
    batch_.Put(version_key(victim.key(), rev), tombstone_record());
    batch_.Put(revision_key(rev), victim.key());
    move_attachment(victim.key(), victim.lease(), 0);
    if (options_.collect_events) {
      mvccpb::Event& ev = events_.emplace_back();
      ev.set_type(mvccpb::Event::DELETE);
      ev.mutable_kv()->set_key(victim.key());
      ev.mutable_kv()->set_mod_revision(rev.main);
      *ev.mutable_prev_kv() = victim;
    }
    if (options_.track_writes) record_write(victim.key(), Written{});
  }
  resp->set_deleted(static_cast<int64_t>(victims.size()));
  if (req.prev_kv()) {
    for (mvccpb::KeyValue& victim : victims) *resp->add_prev_kvs() = std::move(victim);
  }
  // etcd: a delete of nothing leaves the revision unless the txn wrote before.
  resp->mutable_header()->set_revision(read_revision());
}

}  // namespace meridian::kv
