// The header every etcd response carries: cluster id, member id, the store
// revision the answer reflects and the coordination group's Raft term.
#pragma once

#include <cstdint>

#include "api/etcd_server.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"

namespace meridian::api {

void fill_header(etcdserverpb::ResponseHeader* header, const EtcdBackend& backend,
                 int64_t revision);

}  // namespace meridian::api
