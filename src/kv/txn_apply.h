// etcd's Txn on a WriteTxn (etcdserver/apply.go, Txn): every compare of the
// whole tree of nested txns is evaluated first, on the state before the txn,
// which fixes the path (one bool per txn reached, depth first, as etcd's
// txnPath); then the chosen ops are checked (puts whose ignore_value or
// ignore_lease need a missing key, leases, then range revisions), and only if
// all pass are they executed in order. Any thread for read-only txns; the apply
// thread for the others.
#pragma once

#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "kv/errors.h"
#include "kv/write_txn.h"

namespace meridian::kv {

// The branches the txn takes, from its compares (before anything is written).
std::vector<bool> txn_path(WriteTxn& txn, const etcdserverpb::TxnRequest& req);

// The checks etcd makes before executing: puts (key must exist for
// ignore_value/ignore_lease: kKeyNotFound; a lease that does not exist:
// kLeaseNotFound), then the revisions of ranges against the current revision
// (kFutureRevision) and `first_revision` (kCompacted below it).
Errc check_txn(WriteTxn& txn, const etcdserverpb::TxnRequest& req, const std::vector<bool>& path,
               int64_t first_revision);
// Only the range-revision part of check_txn.
Errc check_txn_ranges(const etcdserverpb::TxnRequest& req, const std::vector<bool>& path,
                      int64_t current_revision, int64_t first_revision);

// Executes the chosen ops; fills resp (succeeded, responses; not the header).
// An error (see WriteTxn::put) means the txn must be aborted.
Errc execute_txn(WriteTxn& txn, const etcdserverpb::TxnRequest& req, const std::vector<bool>& path,
                 etcdserverpb::TxnResponse* resp);

}  // namespace meridian::kv
