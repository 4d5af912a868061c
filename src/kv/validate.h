// Checks of a request that depend only on the request (and the configured
// limits), made before it is proposed, exactly as etcd makes them: an invalid
// request is refused with etcd's error and never reaches the log.
#pragma once

#include <cstdint>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "kv/errors.h"

namespace meridian::kv {

struct Limits {
  uint64_t max_request_bytes = 1536 * 1024;  // etcd's --max-request-bytes default
  uint32_t max_txn_ops = 128;                // etcd's --max-txn-ops default
  // etcd's --quota-backend-bytes: at or above this store size, writes that add
  // data are refused and NOSPACE is raised (api/quota.h). 0: no quota (etcd's
  // default of 2 GiB bounds its memory-mapped file; this store maps nothing).
  uint64_t quota_backend_bytes = 0;
};

Errc validate_put(const etcdserverpb::PutRequest& req, const Limits& limits);
Errc validate_range(const etcdserverpb::RangeRequest& req, const Limits& limits);
Errc validate_delete_range(const etcdserverpb::DeleteRangeRequest& req, const Limits& limits);
// Too many ops in a branch, empty keys, and the same key written twice in one
// branch (a put and a put, or a put and an overlapping delete range; nested txns
// included) give etcd's errors.
Errc validate_txn(const etcdserverpb::TxnRequest& req, const Limits& limits);

}  // namespace meridian::kv
