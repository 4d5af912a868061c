// MvccStore's member records (member_codec.h): written on the apply thread in a
// batch with the applied index, read from any thread.
#include <rocksdb/write_batch.h>

#include <mutex>

#include "base/assert.h"
#include "kv/alarm_codec.h"
#include "kv/member_codec.h"
#include "kv/mvcc_store.h"
#include "kv/store_impl.h"

namespace meridian::kv {

namespace {

// Writes member `id`'s record in one batch with the applied index.
void write_member(MvccStore::Impl& impl, raft::Index index, int64_t revision, uint64_t id,
                  const etcdpb::Member* record) {
  rocksdb::WriteBatch batch;
  etcdpb::Member kept = *record;
  kept.clear_islearner();
  batch.Put(member_key(id), kept.SerializeAsString());
  put_applied(&batch, index, revision);
  impl.write(&batch);
  impl.applied_index.store(index.value(), std::memory_order_release);
}

}  // namespace

Errc MvccStore::put_member(raft::Index index, const etcdpb::Member& member) {
  assert_complete(*impl_);
  // The stored record, if any, with the published name and client URLs: what
  // MemberAdd stored (peer URLs, fields of Meridian's own) stays.
  etcdpb::Member record = this->member(member.id()).value_or(etcdpb::Member());
  record.set_id(member.id());
  record.set_name(member.name());
  *record.mutable_clienturls() = member.clienturls();
  if (record.peerurls_size() == 0) *record.mutable_peerurls() = member.peerurls();
  write_member(*impl_, index, revision(), member.id(), &record);
  return Errc::kOk;
}

Errc MvccStore::add_member(raft::Index index, const etcdpb::Member& member) {
  assert_complete(*impl_);
  write_member(*impl_, index, revision(), member.id(), &member);
  return Errc::kOk;
}

Errc MvccStore::set_member_peer_urls(
    raft::Index index, uint64_t id,
    const google::protobuf::RepeatedPtrField<std::string>& peer_urls) {
  assert_complete(*impl_);
  etcdpb::Member record = member(id).value_or(etcdpb::Member());
  record.set_id(id);
  *record.mutable_peerurls() = peer_urls;
  write_member(*impl_, index, revision(), id, &record);
  return Errc::kOk;
}

Errc MvccStore::remove_member(raft::Index index, uint64_t id) {
  assert_complete(*impl_);
  etcdpb::Member record;
  record.set_id(id);
  if (std::optional<etcdpb::Member> stored = member(id)) record.set_name(stored->name());
  write_member(*impl_, index, revision(), id, &record);
  return Errc::kOk;
}

std::optional<etcdpb::Member> MvccStore::member(uint64_t id) const {
  std::shared_lock readers(impl_->state_mutex);
  std::string value;
  const rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->db->DefaultColumnFamily(),
                                           member_key(id), &value);
  if (s.IsNotFound()) return std::nullopt;
  MERIDIAN_ASSERT(s.ok(), "kv store member ", id, ": ", s.ToString());
  etcdpb::Member m;
  MERIDIAN_ASSERT(m.ParseFromString(value), "kv store: a member record does not decode");
  return m;
}

base::Status MvccStore::begin_new_cluster() {
  if (restoring()) {
    return base::Status(base::Code::kFailedPrecondition,
                        "kv store: a failed restore left it incomplete");
  }
  // Deleted one by one (they are few): a range deletion starting at a tag
  // would share the memtable insert hint of that tag's point records
  // (rocksdb_options.cc), which RocksDB does not allow.
  rocksdb::WriteBatch batch;
  for (char tag : {kMemberTag, kAlarmTag}) {
    const std::string end(1, static_cast<char>(tag + 1));
    const rocksdb::Slice upper(end);
    std::unique_ptr<rocksdb::Iterator> it = impl_->iterator(&upper);
    for (it->Seek(std::string(1, tag)); it->Valid(); it->Next()) batch.Delete(it->key());
    if (!it->status().ok()) return base::Status(base::Code::kIoError, it->status().ToString());
  }
  put_applied(&batch, raft::Index{1}, revision());
  impl_->write(&batch);
  impl_->applied_index.store(1, std::memory_order_release);
  load_alarms(*impl_);
  return sync(raft::Index{1});
}

std::vector<etcdpb::Member> MvccStore::members() const {
  std::shared_lock readers(impl_->state_mutex);
  const std::string begin(1, kMemberTag);
  const std::string end(1, kMemberTag + 1);
  const rocksdb::Slice upper(end);
  std::vector<etcdpb::Member> out;
  std::unique_ptr<rocksdb::Iterator> it = impl_->iterator(&upper);
  for (it->Seek(begin); it->Valid(); it->Next()) {
    etcdpb::Member& m = out.emplace_back();
    const rocksdb::Slice v = it->value();
    MERIDIAN_ASSERT(m.ParseFromArray(v.data(), static_cast<int>(v.size())),
                    "kv store: a member record does not decode");
  }
  MERIDIAN_ASSERT(it->status().ok(), "kv store members: ", it->status().ToString());
  return out;
}

}  // namespace meridian::kv
