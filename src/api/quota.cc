#include "api/quota.h"

#include "kv/command.h"
#include "observe/log.h"

namespace meridian::api {

bool within_quota(const EtcdBackend& backend, const kv::Limits& limits) {
  if (limits.quota_backend_bytes == 0) return true;
  const kv::MvccStore& store = backend.kv->store();
  const uint64_t size = store.size_bytes();
  if (size < limits.quota_backend_bytes) return true;
  bool raised = false;
  for (const etcdserverpb::AlarmMember& a : store.alarms()) {
    raised = raised ||
             (a.memberid() == backend.member_id && a.alarm() == etcdserverpb::AlarmType::NOSPACE);
  }
  if (!raised) {
    observe::log_warn("the store is {} bytes, at or above the quota of {}: raising NOSPACE", size,
                      limits.quota_backend_bytes);
    etcdserverpb::AlarmRequest req;
    req.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
    req.set_memberid(backend.member_id);
    req.set_alarm(etcdserverpb::AlarmType::NOSPACE);
    // Fire and forget: a failed proposal is made again by the next write.
    backend.node->propose(backend.group,
                          kv::encode_command(kv::CommandType::kAlarm, req.SerializeAsString()),
                          [](const base::Result<node::ProposeResult>&) {});
  }
  return false;
}

}  // namespace meridian::api
