// MvccStore's leases (mvcc_store.h): grant, revoke, expire and renew on the
// apply thread, each one RocksDB batch with the applied index like every other
// write; the lease table (lease_table.h) follows each batch once it is written.
#include <rocksdb/write_batch.h>

#include <algorithm>

#include "base/assert.h"
#include "kv/lease_codec.h"
#include "kv/mvcc_store.h"
#include "kv/store_impl.h"
#include "kv/write_txn.h"

namespace meridian::kv {

namespace {

// Writes a batch that changes leases but no key (a grant, a renewal), with the
// applied index.
void write_lease_batch(MvccStore::Impl& impl, rocksdb::WriteBatch* batch, raft::Index index) {
  assert_complete(impl);
  put_applied(batch, index, impl.revision->load(std::memory_order_acquire));
  impl.write(batch);
  impl.applied_index.store(index.value(), std::memory_order_release);
}

std::vector<std::string> attached_keys(const MvccStore::Impl& impl, int64_t id) {
  const std::string prefix = attachment_prefix(id);
  // The first key after the prefix's: the prefix plus one, as a big-endian
  // number (the tag 'a' is never 0xff, so this ends).
  std::string end = prefix;
  for (size_t i = end.size(); i-- > 0;) {
    if (static_cast<unsigned char>(end[i]) != 0xff) {
      end[i] = static_cast<char>(static_cast<unsigned char>(end[i]) + 1);
      end.resize(i + 1);
      break;
    }
  }
  const rocksdb::Slice upper(end);
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it = impl.iterator(&upper);
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    int64_t lease = 0;
    std::string_view key;
    if (decode_attachment_key(it->key().ToStringView(), &lease, &key) && lease == id) {
      keys.emplace_back(key);
    }
  }
  MERIDIAN_ASSERT(it->status().ok(), "kv store lease keys: ", it->status().ToString());
  return keys;
}

// Deletes the lease's keys (in key order, one revision) and its record, then
// drops it from the table.
void revoke(MvccStore::Impl& impl, raft::Index index, int64_t id,
            etcdpb::LeaseRevokeResponse* resp) {
  WriteTxn w(*impl.db, impl.revision->load(std::memory_order_acquire), write_options(impl, false));
  for (const std::string& key : attached_keys(impl, id)) {
    etcdpb::DeleteRangeRequest del;
    del.set_key(key);
    etcdpb::DeleteRangeResponse ignored;
    w.delete_range(del, &ignored);
  }
  w.batch()->Delete(lease_key(id));
  commit(impl, w, index);
  impl.leases.erase(id);
  resp->mutable_header()->set_revision(w.changed() ? w.write_revision() : w.begin_revision());
}

}  // namespace

void load_leases(MvccStore::Impl& impl) {
  impl.leases.clear();
  const std::string begin(1, kLeaseTag);
  const std::string end(1, kLeaseTag + 1);
  const rocksdb::Slice upper(end);
  std::unique_ptr<rocksdb::Iterator> it = impl.iterator(&upper);
  for (it->Seek(begin); it->Valid(); it->Next()) {
    int64_t id = 0;
    LeaseRecord record;
    MERIDIAN_ASSERT(decode_lease_key(it->key().ToStringView(), &id) &&
                        decode_lease_record(it->value().ToStringView(), &record),
                    "kv store: a lease record does not decode");
    impl.leases.put(id, record);
  }
  MERIDIAN_ASSERT(it->status().ok(), "kv store lease load: ", it->status().ToString());
}

Errc MvccStore::lease_grant(raft::Index index, const etcdpb::LeaseGrantRequest& req,
                            etcdpb::LeaseGrantResponse* resp) {
  // etcd's lessor checks, in its order (the API checked the TTL already).
  Errc e = Errc::kOk;
  if (no_space()) {
    e = Errc::kNoSpace;
  } else if (req.id() == 0) {
    e = Errc::kLeaseNotFound;
  } else if (req.ttl() > kMaxLeaseTtl) {
    e = Errc::kLeaseTtlTooLarge;
  } else if (impl_->leases.contains(req.id())) {
    e = Errc::kLeaseExists;
  }
  rocksdb::WriteBatch batch;
  const LeaseRecord record{std::max<int64_t>(req.ttl(), 0), index.value()};
  if (e == Errc::kOk) batch.Put(lease_key(req.id()), encode_lease_record(record));
  write_lease_batch(*impl_, &batch, index);
  if (e != Errc::kOk) return e;
  impl_->leases.put(req.id(), record);
  resp->set_id(req.id());
  resp->set_ttl(record.ttl);
  resp->mutable_header()->set_revision(revision());
  return Errc::kOk;
}

Errc MvccStore::lease_revoke(raft::Index index, const etcdpb::LeaseRevokeRequest& req,
                             etcdpb::LeaseRevokeResponse* resp) {
  if (!impl_->leases.contains(req.id())) {
    mark_applied(index);
    return Errc::kLeaseNotFound;
  }
  revoke(*impl_, index, req.id(), resp);
  return Errc::kOk;
}

Errc MvccStore::lease_expire(raft::Index index, const LeaseExpiry& expiry,
                             etcdpb::LeaseRevokeResponse* resp) {
  const std::optional<LeaseRecord> record = impl_->leases.find(expiry.id);
  if (!record || record->renewed_index != expiry.renewed_index) {
    mark_applied(index);
    resp->mutable_header()->set_revision(revision());
    return Errc::kOk;
  }
  revoke(*impl_, index, expiry.id, resp);
  return Errc::kOk;
}

void MvccStore::lease_renew(raft::Index index, const std::vector<int64_t>& ids,
                            std::vector<int64_t>* ttls) {
  rocksdb::WriteBatch batch;
  ttls->clear();
  ttls->reserve(ids.size());
  for (int64_t id : ids) {
    std::optional<LeaseRecord> record = impl_->leases.find(id);
    if (!record) {
      ttls->push_back(0);
      continue;
    }
    ttls->push_back(record->ttl);
    record->renewed_index = index.value();
    batch.Put(lease_key(id), encode_lease_record(*record));
  }
  write_lease_batch(*impl_, &batch, index);
  for (int64_t id : ids) impl_->leases.renew(id, index.value());
}

const LeaseTable& MvccStore::leases() const { return impl_->leases; }

std::vector<std::string> MvccStore::lease_keys(int64_t id) const {
  std::shared_lock readers(impl_->state_mutex);
  return attached_keys(*impl_, id);
}

}  // namespace meridian::kv
