// MvccStore's alarms (alarm_codec.h): raised and disarmed on the apply thread,
// each change one batch with the applied index; the set is also held in memory,
// since every write asks whether NOSPACE is raised.
#include <rocksdb/write_batch.h>

#include <mutex>

#include "base/assert.h"
#include "kv/alarm_codec.h"
#include "kv/mvcc_store.h"
#include "kv/store_impl.h"

namespace meridian::kv {

void load_alarms(MvccStore::Impl& impl) {
  std::set<Alarm> alarms;
  const std::string begin(1, kAlarmTag);
  const std::string end(1, kAlarmTag + 1);
  const rocksdb::Slice upper(end);
  std::unique_ptr<rocksdb::Iterator> it = impl.iterator(&upper);
  for (it->Seek(begin); it->Valid(); it->Next()) {
    Alarm a;
    MERIDIAN_ASSERT(decode_alarm_key(it->key().ToStringView(), &a),
                    "kv store: an alarm record does not decode");
    alarms.insert(a);
  }
  MERIDIAN_ASSERT(it->status().ok(), "kv store alarm load: ", it->status().ToString());
  std::lock_guard lock(impl.alarms_mu);
  impl.alarms = std::move(alarms);
  impl.no_space.store(impl.alarms_raise_no_space_locked(), std::memory_order_release);
}

bool MvccStore::Impl::alarms_raise_no_space_locked() const {
  for (const Alarm& a : alarms) {
    if (a.type == etcdpb::AlarmType::NOSPACE) return true;
  }
  return false;
}

Errc MvccStore::alarm(raft::Index index, const etcdpb::AlarmRequest& req,
                      etcdpb::AlarmResponse* resp) {
  assert_complete(*impl_);
  const Alarm a{req.memberid(), static_cast<int>(req.alarm())};
  rocksdb::WriteBatch batch;
  bool changed = false;
  {
    std::lock_guard lock(impl_->alarms_mu);
    if (req.action() == etcdpb::AlarmRequest::ACTIVATE && a.type != etcdpb::AlarmType::NONE) {
      changed = impl_->alarms.insert(a).second;
      if (changed) batch.Put(alarm_key(a), rocksdb::Slice());
      // etcd answers an activation with the alarm, new or not.
      auto* m = resp->add_alarms();
      m->set_memberid(a.member);
      m->set_alarm(req.alarm());
    } else if (req.action() == etcdpb::AlarmRequest::DEACTIVATE) {
      changed = impl_->alarms.erase(a) > 0;
      if (changed) {
        batch.Delete(alarm_key(a));
        auto* m = resp->add_alarms();
        m->set_memberid(a.member);
        m->set_alarm(req.alarm());
      }
    }
  }
  put_applied(&batch, index, revision());
  impl_->write(&batch);
  impl_->applied_index.store(index.value(), std::memory_order_release);
  if (changed) {
    std::lock_guard lock(impl_->alarms_mu);
    impl_->no_space.store(impl_->alarms_raise_no_space_locked(), std::memory_order_release);
  }
  resp->mutable_header()->set_revision(revision());
  return Errc::kOk;
}

std::vector<etcdpb::AlarmMember> MvccStore::alarms() const {
  std::lock_guard lock(impl_->alarms_mu);
  std::vector<etcdpb::AlarmMember> out;
  for (const Alarm& a : impl_->alarms) {
    etcdpb::AlarmMember& m = out.emplace_back();
    m.set_memberid(a.member);
    m.set_alarm(static_cast<etcdpb::AlarmType>(a.type));
  }
  return out;
}

bool MvccStore::no_space() const { return impl_->no_space.load(std::memory_order_acquire); }

}  // namespace meridian::kv
