// Maintenance/Alarm, as etcd serves it: GET lists the alarms raised (all of
// them, or those of one member and/or type), answered here from the store;
// ACTIVATE and DEACTIVATE go through the log (kv/mvcc_store.h, alarm), so every
// member raises and disarms together. `etcdctl alarm list` and `etcdctl alarm
// disarm` (a GET, then a DEACTIVATE of each alarm listed) work unchanged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/etcd_server.h"
#include "rpc/server.h"

namespace meridian::api {

void serve_alarm(const EtcdBackend& backend, std::shared_ptr<rpc::UnaryCall> call);

// StatusResponse.errors for the alarms raised, worded as etcd's
// ("memberID:<id> alarm:NOSPACE ").
std::vector<std::string> alarm_errors(const kv::MvccStore& store);

}  // namespace meridian::api
