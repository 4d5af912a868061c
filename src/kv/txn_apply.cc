#include "kv/txn_apply.h"

#include "base/assert.h"

namespace meridian::kv {

namespace {

using etcdserverpb::Compare;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

int sign(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

// etcd's compareKV. A target_union holding another field than the target
// compares against zero (or the empty value), as etcd does.
bool compare_kv(const Compare& c, const KvRef& kv) {
  int result = 0;
  switch (c.target()) {
    case Compare::VALUE: {
      const std::string_view v =
          c.target_union_case() == Compare::kValue ? std::string_view(c.value()) : "";
      const int cmp = kv.value.compare(v);
      result = cmp < 0 ? -1 : (cmp > 0 ? 1 : 0);
      break;
    }
    case Compare::CREATE:
      result = sign(kv.create_revision,
                    c.target_union_case() == Compare::kCreateRevision ? c.create_revision() : 0);
      break;
    case Compare::MOD:
      result = sign(kv.mod_revision,
                    c.target_union_case() == Compare::kModRevision ? c.mod_revision() : 0);
      break;
    case Compare::VERSION:
      result = sign(kv.version, c.target_union_case() == Compare::kVersion ? c.version() : 0);
      break;
    case Compare::LEASE:
      result = sign(kv.lease, c.target_union_case() == Compare::kLease ? c.lease() : 0);
      break;
    default:
      break;
  }
  switch (c.result()) {
    case Compare::EQUAL:
      return result == 0;
    case Compare::NOT_EQUAL:
      return result != 0;
    case Compare::GREATER:
      return result > 0;
    case Compare::LESS:
      return result < 0;
    default:
      return true;
  }
}

// etcd's applyCompare: every key of the range must satisfy the compare; an
// empty range compares a zero kv, except that a VALUE compare then fails (a
// missing value cannot be told from an empty one).
bool compare_holds(WriteTxn& txn, const Compare& c) {
  auto source = txn.scan(c.key(), c.range_end());
  const KvRef* kv = source->next();
  if (kv == nullptr) return c.target() != Compare::VALUE && compare_kv(c, KvRef{});
  for (; kv != nullptr; kv = source->next()) {
    if (!compare_kv(c, *kv)) return false;
  }
  return true;
}

void build_path(WriteTxn& txn, const TxnRequest& req, std::vector<bool>* path) {
  bool ok = true;
  for (const Compare& c : req.compare()) {
    if (!compare_holds(txn, c)) {
      ok = false;
      break;
    }
  }
  path->push_back(ok);
  for (const RequestOp& op : ok ? req.success() : req.failure()) {
    if (op.has_request_txn()) build_path(txn, op.request_txn(), path);
  }
}

// Calls f on every chosen op other than a nested txn, in execution order,
// descending into nested txns where they stand; stops at the first error.
template <class F>
Errc walk(const TxnRequest& req, const std::vector<bool>& path, size_t* pos, F&& f) {
  MERIDIAN_ASSERT(*pos < path.size(), "txn path too short");
  const bool ok = path[(*pos)++];
  for (const RequestOp& op : ok ? req.success() : req.failure()) {
    const Errc e = op.has_request_txn() ? walk(op.request_txn(), path, pos, f) : f(op);
    if (e != Errc::kOk) return e;
  }
  return Errc::kOk;
}

Errc execute(WriteTxn& txn, const TxnRequest& req, const std::vector<bool>& path, size_t* pos,
             TxnResponse* resp) {
  const bool ok = path[(*pos)++];
  resp->set_succeeded(ok);
  for (const RequestOp& op : ok ? req.success() : req.failure()) {
    etcdserverpb::ResponseOp* r = resp->add_responses();
    switch (op.request_case()) {
      case RequestOp::kRequestRange:
        txn.range(op.request_range(), r->mutable_response_range());
        break;
      case RequestOp::kRequestPut:
        if (Errc e = txn.put(op.request_put(), r->mutable_response_put()); e != Errc::kOk) {
          return e;
        }
        break;
      case RequestOp::kRequestDeleteRange:
        txn.delete_range(op.request_delete_range(), r->mutable_response_delete_range());
        break;
      case RequestOp::kRequestTxn: {
        // etcd gives nested txn responses an empty header.
        TxnResponse* nested = r->mutable_response_txn();
        nested->mutable_header();
        if (Errc e = execute(txn, op.request_txn(), path, pos, nested); e != Errc::kOk) return e;
        break;
      }
      default:
        break;  // an empty op (validation refuses them)
    }
  }
  return Errc::kOk;
}

}  // namespace

std::vector<bool> txn_path(WriteTxn& txn, const TxnRequest& req) {
  std::vector<bool> path;
  build_path(txn, req, &path);
  return path;
}

Errc check_txn_ranges(const TxnRequest& req, const std::vector<bool>& path,
                      int64_t current_revision, int64_t first_revision) {
  size_t pos = 0;
  return walk(req, path, &pos, [&](const RequestOp& op) {
    if (!op.has_request_range()) return Errc::kOk;
    const int64_t rev = op.request_range().revision();
    if (rev == 0) return Errc::kOk;
    if (rev > current_revision) return Errc::kFutureRevision;
    if (rev < first_revision) return Errc::kCompacted;
    return Errc::kOk;
  });
}

Errc check_txn(WriteTxn& txn, const TxnRequest& req, const std::vector<bool>& path,
               int64_t first_revision) {
  size_t pos = 0;
  const Errc e = walk(req, path, &pos, [&](const RequestOp& op) {
    if (!op.has_request_put()) return Errc::kOk;
    const etcdserverpb::PutRequest& put = op.request_put();
    if (put.ignore_value() || put.ignore_lease()) {
      mvccpb::KeyValue kv;
      if (!txn.latest(put.key(), false, &kv)) return Errc::kKeyNotFound;
    }
    if (put.lease() != 0 && !txn.lease_exists(put.lease())) return Errc::kLeaseNotFound;
    return Errc::kOk;
  });
  if (e != Errc::kOk) return e;
  return check_txn_ranges(req, path, txn.begin_revision(), first_revision);
}

Errc execute_txn(WriteTxn& txn, const TxnRequest& req, const std::vector<bool>& path,
                 TxnResponse* resp) {
  size_t pos = 0;
  return execute(txn, req, path, &pos, resp);
}

}  // namespace meridian::kv
