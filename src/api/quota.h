// The storage quota (etcd's --quota-backend-bytes): a write that adds data (a
// put, a txn that puts, a lease grant) is proposed only while the store is
// below it. At or above it the write fails with etcd's "database space
// exceeded" before it reaches the log, and this member raises its NOSPACE alarm
// through the log (unless it is raised already), so that every member then
// refuses such writes when they apply (kv/mvcc_store.h, alarm) until an
// operator compacts, defragments and disarms it, as with etcd.
#pragma once

#include "api/etcd_server.h"
#include "kv/validate.h"

namespace meridian::api {

// True if the write may be proposed; false after raising the alarm.
bool within_quota(const EtcdBackend& backend, const kv::Limits& limits);

}  // namespace meridian::api
