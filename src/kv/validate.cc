#include "kv/validate.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>

namespace meridian::kv {

namespace {

using etcdserverpb::DeleteRangeRequest;
using etcdserverpb::PutRequest;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using Ops = google::protobuf::RepeatedPtrField<RequestOp>;

bool too_large(const google::protobuf::Message& m, const Limits& limits) {
  return m.ByteSizeLong() > limits.max_request_bytes;
}

// etcd's checkPutRequest (etcdserver/api/v3rpc/key.go).
Errc check_put(const PutRequest& r) {
  if (r.key().empty()) return Errc::kEmptyKey;
  if (r.ignore_value() && !r.value().empty()) return Errc::kValueProvided;
  if (r.ignore_lease() && r.lease() != 0) return Errc::kLeaseProvided;
  return Errc::kOk;
}

Errc check_txn_ops(const TxnRequest& r, int64_t max_ops);

Errc check_op(const RequestOp& op, int64_t max_ops) {
  switch (op.request_case()) {
    case RequestOp::kRequestRange:
      return op.request_range().key().empty() ? Errc::kEmptyKey : Errc::kOk;
    case RequestOp::kRequestPut:
      return check_put(op.request_put());
    case RequestOp::kRequestDeleteRange:
      return op.request_delete_range().key().empty() ? Errc::kEmptyKey : Errc::kOk;
    case RequestOp::kRequestTxn:
      return check_txn_ops(op.request_txn(), max_ops);
    default:
      return Errc::kKeyNotFound;  // etcd's answer to an empty op
  }
}

// etcd's checkTxnRequest: the largest of the compare and branch counts against
// the limit; a nested txn gets what this level leaves of it.
Errc check_txn_ops(const TxnRequest& r, int64_t max_ops) {
  const int64_t opc = std::max({r.compare_size(), r.success_size(), r.failure_size()});
  if (opc > max_ops) return Errc::kTooManyOps;
  for (const auto& c : r.compare()) {
    if (c.key().empty()) return Errc::kEmptyKey;
  }
  for (const Ops* ops : {&r.success(), &r.failure()}) {
    for (const RequestOp& op : *ops) {
      if (const Errc e = check_op(op, max_ops - opc); e != Errc::kOk) return e;
    }
  }
  return Errc::kOk;
}

// A union of key intervals [begin, end), kept as disjoint intervals so that
// asking whether it holds a key is one lookup.
class KeySet {
 public:
  void add(std::string begin, std::string end) {
    if (end <= begin) return;  // holds no key (e.g. a "from key" delete's "\0" end)
    // Merge with every interval that overlaps or touches [begin, end).
    auto it = spans_.upper_bound(begin);
    if (it != spans_.begin()) {
      auto prev = std::prev(it);
      if (prev->second >= begin) {
        begin = prev->first;
        end = std::max(end, prev->second);
        it = spans_.erase(prev);
      }
    }
    while (it != spans_.end() && it->first <= end) {
      end = std::max(end, it->second);
      it = spans_.erase(it);
    }
    spans_.emplace(std::move(begin), std::move(end));
  }
  void add_all(const KeySet& other) {
    for (const auto& [b, e] : other.spans_) add(b, e);
  }
  bool contains(const std::string& key) const {
    auto it = spans_.upper_bound(key);
    if (it == spans_.begin()) return false;
    return key < std::prev(it)->second;
  }

 private:
  std::map<std::string, std::string> spans_;
};

struct Writes {
  std::set<std::string> puts;
  KeySet deletes;
};

// etcd's checkIntervals (v3rpc/key.go): within one list of ops, no key may be
// put twice nor put inside a delete range of the same list or of a nested txn
// handled before it; the success and failure of one nested txn may put the same
// key (only one runs); deletes may overlap. A "from key" delete (range_end
// "\0") is an interval ending at "\0" for etcd and so covers no put: kept so.
Errc check_intervals(const Ops& ops, Writes* out) {
  for (const RequestOp& op : ops) {
    if (!op.has_request_delete_range()) continue;
    const DeleteRangeRequest& d = op.request_delete_range();
    if (d.range_end().empty()) {
      out->deletes.add(d.key(), d.key() + std::string(1, '\0'));
    } else {
      out->deletes.add(d.key(), d.range_end());
    }
  }
  for (const RequestOp& op : ops) {
    if (!op.has_request_txn()) continue;
    Writes then_w;
    Writes else_w;
    if (Errc e = check_intervals(op.request_txn().success(), &then_w); e != Errc::kOk) return e;
    if (Errc e = check_intervals(op.request_txn().failure(), &else_w); e != Errc::kOk) return e;
    for (const std::string& k : then_w.puts) {
      if (out->puts.contains(k) || out->deletes.contains(k)) return Errc::kDuplicateKey;
      out->puts.insert(k);
    }
    for (const std::string& k : else_w.puts) {
      if (out->puts.contains(k) && !then_w.puts.contains(k)) return Errc::kDuplicateKey;
      if (out->deletes.contains(k)) return Errc::kDuplicateKey;
      out->puts.insert(k);
    }
    out->deletes.add_all(then_w.deletes);
    out->deletes.add_all(else_w.deletes);
  }
  for (const RequestOp& op : ops) {
    if (!op.has_request_put()) continue;
    const std::string& k = op.request_put().key();
    if (out->puts.contains(k) || out->deletes.contains(k)) return Errc::kDuplicateKey;
    out->puts.insert(k);
  }
  return Errc::kOk;
}

}  // namespace

Errc validate_put(const PutRequest& req, const Limits& limits) {
  if (const Errc e = check_put(req); e != Errc::kOk) return e;
  return too_large(req, limits) ? Errc::kRequestTooLarge : Errc::kOk;
}

// etcd never checks the size of a Range: it is not proposed (gRPC's message
// limit bounds it).
Errc validate_range(const RangeRequest& req, const Limits& /*limits*/) {
  return req.key().empty() ? Errc::kEmptyKey : Errc::kOk;
}

Errc validate_delete_range(const DeleteRangeRequest& req, const Limits& limits) {
  if (req.key().empty()) return Errc::kEmptyKey;
  return too_large(req, limits) ? Errc::kRequestTooLarge : Errc::kOk;
}

Errc validate_txn(const TxnRequest& req, const Limits& limits) {
  if (const Errc e = check_txn_ops(req, limits.max_txn_ops); e != Errc::kOk) return e;
  // After the op checks, as etcd does (they bound the work of these).
  for (const Ops* ops : {&req.success(), &req.failure()}) {
    Writes w;
    if (const Errc e = check_intervals(*ops, &w); e != Errc::kOk) return e;
  }
  return too_large(req, limits) ? Errc::kRequestTooLarge : Errc::kOk;
}

}  // namespace meridian::kv
