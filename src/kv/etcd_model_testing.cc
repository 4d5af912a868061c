#include "kv/etcd_model_testing.h"

#include <algorithm>

namespace meridian::kv::testing {

namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;

bool in_range(const std::string& k, const std::string& key, const std::string& end) {
  if (end.empty()) return k == key;
  if (end == std::string(1, '\0')) return k >= key;
  return k >= key && k < end;
}

int cmp64(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

}  // namespace

const EtcdModel::Version* EtcdModel::at(const std::string& key, int64_t rev) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return nullptr;
  const Version* found = nullptr;
  for (const Version& v : it->second) {
    if (v.main <= rev) found = &v;
  }
  return found == nullptr || found->tombstone ? nullptr : found;
}

std::vector<mvccpb::KeyValue> EtcdModel::live(const std::string& key, const std::string& range_end,
                                              int64_t rev) const {
  std::vector<mvccpb::KeyValue> out;
  for (const auto& [k, versions] : keys_) {
    if (!in_range(k, key, range_end)) continue;
    const Version* v = at(k, rev);
    if (v == nullptr) continue;
    mvccpb::KeyValue& kv = out.emplace_back();
    kv.set_key(k);
    kv.set_value(v->value);
    kv.set_create_revision(v->create);
    kv.set_mod_revision(v->main);
    kv.set_version(v->version);
  }
  return out;
}

void EtcdModel::begin_write() {
  begin_ = rev_;
  sub_ = 0;
  events_.clear();
}

void EtcdModel::end_write() {
  if (sub_ > 0) {
    rev_ = begin_ + 1;
    last_events_ = events_;
  }
}

bool EtcdModel::do_put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp) {
  const Version* prev = at(req.key(), read_revision());
  if (prev == nullptr && (req.ignore_value() || req.ignore_lease())) return false;
  Version v;
  v.main = begin_ + 1;
  v.sub = sub_++;
  v.create = prev != nullptr ? prev->create : v.main;
  v.version = prev != nullptr ? prev->version + 1 : 1;
  v.value = req.ignore_value() ? prev->value : req.value();
  mvccpb::KeyValue prev_kv;
  if (prev != nullptr) {
    prev_kv.set_key(req.key());
    prev_kv.set_value(prev->value);
    prev_kv.set_create_revision(prev->create);
    prev_kv.set_mod_revision(prev->main);
    prev_kv.set_version(prev->version);
  }
  mvccpb::Event& ev = events_.emplace_back();
  ev.set_type(mvccpb::Event::PUT);
  ev.mutable_kv()->set_key(req.key());
  ev.mutable_kv()->set_value(v.value);
  ev.mutable_kv()->set_create_revision(v.create);
  ev.mutable_kv()->set_mod_revision(v.main);
  ev.mutable_kv()->set_version(v.version);
  if (prev != nullptr) {
    *ev.mutable_prev_kv() = prev_kv;
    if (req.prev_kv()) *resp->mutable_prev_kv() = prev_kv;
  }
  keys_[req.key()].push_back(std::move(v));
  resp->mutable_header()->set_revision(begin_ + 1);
  return true;
}

void EtcdModel::do_delete(const etcdserverpb::DeleteRangeRequest& req,
                          etcdserverpb::DeleteRangeResponse* resp) {
  const std::vector<mvccpb::KeyValue> victims = live(req.key(), req.range_end(), read_revision());
  for (const mvccpb::KeyValue& kv : victims) {
    Version v;
    v.main = begin_ + 1;
    v.sub = sub_++;
    v.tombstone = true;
    keys_[kv.key()].push_back(v);
    mvccpb::Event& ev = events_.emplace_back();
    ev.set_type(mvccpb::Event::DELETE);
    ev.mutable_kv()->set_key(kv.key());
    ev.mutable_kv()->set_mod_revision(v.main);
    *ev.mutable_prev_kv() = kv;
    if (req.prev_kv()) *resp->add_prev_kvs() = kv;
  }
  resp->set_deleted(static_cast<int64_t>(victims.size()));
  resp->mutable_header()->set_revision(read_revision());
}

void EtcdModel::do_range(const RangeRequest& req, int64_t rev, int64_t header_rev,
                         etcdserverpb::RangeResponse* resp) const {
  std::vector<mvccpb::KeyValue> kvs = live(req.key(), req.range_end(), rev);
  resp->mutable_header()->set_revision(header_rev);
  resp->set_count(static_cast<int64_t>(kvs.size()));
  if (req.count_only()) return;
  int64_t limit = req.limit();
  if (req.sort_order() != RangeRequest::NONE || req.min_mod_revision() != 0 ||
      req.max_mod_revision() != 0 || req.min_create_revision() != 0 ||
      req.max_create_revision() != 0) {
    limit = 0;
  }
  if (limit > 0 && static_cast<int64_t>(kvs.size()) > limit + 1) kvs.resize(limit + 1);
  std::erase_if(kvs, [&](const mvccpb::KeyValue& kv) {
    return (req.max_mod_revision() != 0 && kv.mod_revision() > req.max_mod_revision()) ||
           (req.min_mod_revision() != 0 && kv.mod_revision() < req.min_mod_revision()) ||
           (req.max_create_revision() != 0 && kv.create_revision() > req.max_create_revision()) ||
           (req.min_create_revision() != 0 && kv.create_revision() < req.min_create_revision());
  });
  auto order = req.sort_order();
  if (req.sort_target() != RangeRequest::KEY && order == RangeRequest::NONE) {
    order = RangeRequest::ASCEND;
  }
  if (order != RangeRequest::NONE) {
    auto target_cmp = [&](const mvccpb::KeyValue& a, const mvccpb::KeyValue& b) {
      switch (req.sort_target()) {
        case RangeRequest::KEY:
          return a.key().compare(b.key());
        case RangeRequest::VERSION:
          return cmp64(a.version(), b.version());
        case RangeRequest::CREATE:
          return cmp64(a.create_revision(), b.create_revision());
        case RangeRequest::MOD:
          return cmp64(a.mod_revision(), b.mod_revision());
        case RangeRequest::VALUE:
          return a.value().compare(b.value());
        default:
          return 0;
      }
    };
    const bool descend = order == RangeRequest::DESCEND;
    std::stable_sort(kvs.begin(), kvs.end(), [&](const auto& a, const auto& b) {
      const int c = target_cmp(a, b);
      return descend ? c > 0 : c < 0;
    });
  }
  if (req.limit() > 0 && static_cast<int64_t>(kvs.size()) > req.limit()) {
    kvs.resize(req.limit());
    resp->set_more(true);
  }
  for (mvccpb::KeyValue& kv : kvs) {
    if (req.keys_only()) kv.clear_value();
    *resp->add_kvs() = std::move(kv);
  }
}

Errc EtcdModel::put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp) {
  if (req.lease() != 0) return Errc::kLeaseNotFound;
  if ((req.ignore_value() || req.ignore_lease()) && at(req.key(), rev_) == nullptr) {
    return Errc::kKeyNotFound;
  }
  begin_write();
  do_put(req, resp);
  end_write();
  return Errc::kOk;
}

Errc EtcdModel::delete_range(const etcdserverpb::DeleteRangeRequest& req,
                             etcdserverpb::DeleteRangeResponse* resp) {
  begin_write();
  do_delete(req, resp);
  end_write();
  return Errc::kOk;
}

Errc EtcdModel::range(const RangeRequest& req, etcdserverpb::RangeResponse* resp) const {
  int64_t rev = req.revision();
  if (rev > rev_) return Errc::kFutureRevision;
  if (rev <= 0) rev = rev_;
  if (rev < compact_) return Errc::kCompacted;
  do_range(req, rev, rev_, resp);
  return Errc::kOk;
}

bool EtcdModel::compare(const Compare& c) const {
  const std::vector<mvccpb::KeyValue> kvs = live(c.key(), c.range_end(), begin_);
  auto holds = [&](const mvccpb::KeyValue& kv) {
    int r = 0;
    switch (c.target()) {
      case Compare::VALUE: {
        const std::string v = c.has_value() ? c.value() : "";
        const int x = kv.value().compare(v);
        r = x < 0 ? -1 : (x > 0 ? 1 : 0);
        break;
      }
      case Compare::CREATE:
        r = cmp64(kv.create_revision(), c.has_create_revision() ? c.create_revision() : 0);
        break;
      case Compare::MOD:
        r = cmp64(kv.mod_revision(), c.has_mod_revision() ? c.mod_revision() : 0);
        break;
      case Compare::VERSION:
        r = cmp64(kv.version(), c.has_version() ? c.version() : 0);
        break;
      case Compare::LEASE:
        r = cmp64(kv.lease(), c.has_lease() ? c.lease() : 0);
        break;
      default:
        break;
    }
    switch (c.result()) {
      case Compare::EQUAL:
        return r == 0;
      case Compare::NOT_EQUAL:
        return r != 0;
      case Compare::GREATER:
        return r > 0;
      case Compare::LESS:
        return r < 0;
      default:
        return true;
    }
  };
  if (kvs.empty()) return c.target() != Compare::VALUE && holds(mvccpb::KeyValue());
  return std::all_of(kvs.begin(), kvs.end(), holds);
}

void EtcdModel::path(const TxnRequest& req, std::vector<bool>* out) const {
  bool ok = true;
  for (const Compare& c : req.compare()) ok = ok && compare(c);
  out->push_back(ok);
  for (const RequestOp& op : ok ? req.success() : req.failure()) {
    if (op.has_request_txn()) path(op.request_txn(), out);
  }
}

Errc EtcdModel::check(const TxnRequest& req, const std::vector<bool>& p, size_t* pos) const {
  const bool ok = p[(*pos)++];
  for (const RequestOp& op : ok ? req.success() : req.failure()) {
    if (op.has_request_txn()) {
      if (Errc e = check(op.request_txn(), p, pos); e != Errc::kOk) return e;
    } else if (op.has_request_put()) {
      const auto& put = op.request_put();
      if ((put.ignore_value() || put.ignore_lease()) && at(put.key(), begin_) == nullptr) {
        return Errc::kKeyNotFound;
      }
      if (put.lease() != 0) return Errc::kLeaseNotFound;
    }
  }
  return Errc::kOk;
}

bool EtcdModel::execute(const TxnRequest& req, const std::vector<bool>& p, size_t* pos,
                        etcdserverpb::TxnResponse* resp) {
  const bool ok = p[(*pos)++];
  resp->set_succeeded(ok);
  for (const RequestOp& op : ok ? req.success() : req.failure()) {
    etcdserverpb::ResponseOp* r = resp->add_responses();
    if (op.has_request_range()) {
      const auto& rr = op.request_range();
      const int64_t rev = rr.revision() <= 0 ? read_revision() : rr.revision();
      do_range(rr, rev, read_revision(), r->mutable_response_range());
    } else if (op.has_request_put()) {
      if (!do_put(op.request_put(), r->mutable_response_put())) return false;
    } else if (op.has_request_delete_range()) {
      do_delete(op.request_delete_range(), r->mutable_response_delete_range());
    } else if (op.has_request_txn()) {
      r->mutable_response_txn()->mutable_header();
      if (!execute(op.request_txn(), p, pos, r->mutable_response_txn())) return false;
    }
  }
  return true;
}

Errc EtcdModel::txn(const TxnRequest& req, etcdserverpb::TxnResponse* resp) {
  begin_write();
  std::vector<bool> p;
  path(req, &p);
  size_t pos = 0;
  if (Errc e = check(req, p, &pos); e != Errc::kOk) return e;
  // Range revisions (etcd's checkRequestRange), in path order.
  const int64_t first = compact_ == 0 ? -1 : compact_;
  Errc range_error = Errc::kOk;
  auto check_ranges = [&](auto& self, const TxnRequest& t, size_t* at) -> void {
    const bool ok = p[(*at)++];
    for (const RequestOp& op : ok ? t.success() : t.failure()) {
      if (op.has_request_txn()) {
        self(self, op.request_txn(), at);
      } else if (op.has_request_range() && range_error == Errc::kOk) {
        const int64_t r = op.request_range().revision();
        if (r == 0) continue;
        if (r > rev_) {
          range_error = Errc::kFutureRevision;
        } else if (r < first) {
          range_error = Errc::kCompacted;
        }
      }
    }
  };
  pos = 0;
  check_ranges(check_ranges, req, &pos);
  if (range_error != Errc::kOk) return range_error;
  pos = 0;
  const auto saved = keys_;
  if (!execute(req, p, &pos, resp)) {
    keys_ = saved;
    resp->Clear();
    return Errc::kKeyNotFound;
  }
  end_write();
  resp->mutable_header()->set_revision(rev_);
  return Errc::kOk;
}

Errc EtcdModel::compact(const etcdserverpb::CompactionRequest& req,
                        etcdserverpb::CompactionResponse* resp) {
  // etcd's compacted revision is -1 until the first compaction: compact(0) once.
  if (req.revision() < compact_ || (req.revision() == compact_ && compacted_ever_)) {
    return Errc::kCompacted;
  }
  if (req.revision() > rev_) return Errc::kFutureRevision;
  compacted_ever_ = true;
  compact_ = req.revision();
  resp->mutable_header()->set_revision(rev_);
  return Errc::kOk;
}

std::vector<mvccpb::Event> EtcdModel::history(const std::string& key, const std::string& range_end,
                                              int64_t from, int64_t to, bool with_prev_kv) const {
  struct Item {
    int64_t main;
    int64_t sub;
    mvccpb::Event ev;
  };
  std::vector<Item> items;
  for (const auto& [k, versions] : keys_) {
    if (!in_range(k, key, range_end)) continue;
    for (size_t i = 0; i < versions.size(); ++i) {
      const Version& v = versions[i];
      if (v.main < from || v.main > to) continue;
      Item& item = items.emplace_back();
      item.main = v.main;
      item.sub = v.sub;
      mvccpb::KeyValue* kv = item.ev.mutable_kv();
      kv->set_key(k);
      kv->set_mod_revision(v.main);
      if (v.tombstone) {
        item.ev.set_type(mvccpb::Event::DELETE);
      } else {
        item.ev.set_type(mvccpb::Event::PUT);
        kv->set_value(v.value);
        kv->set_create_revision(v.create);
        kv->set_version(v.version);
      }
      if (with_prev_kv && v.main > compact_ && i > 0 && !versions[i - 1].tombstone) {
        const Version& p = versions[i - 1];
        mvccpb::KeyValue* pk = item.ev.mutable_prev_kv();
        pk->set_key(k);
        pk->set_value(p.value);
        pk->set_create_revision(p.create);
        pk->set_mod_revision(p.main);
        pk->set_version(p.version);
      }
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.main != b.main ? a.main < b.main : a.sub < b.sub;
  });
  std::vector<mvccpb::Event> out;
  for (Item& item : items) out.push_back(std::move(item.ev));
  return out;
}

std::map<std::string, int> EtcdModel::kept_versions() const {
  std::map<std::string, int> out;
  for (const auto& [k, versions] : keys_) {
    int kept = 0;
    for (size_t i = 0; i < versions.size(); ++i) {
      const Version& v = versions[i];
      const bool newer_at_or_below = i + 1 < versions.size() && versions[i + 1].main <= compact_;
      if (v.main <= compact_ && (newer_at_or_below || v.tombstone)) continue;
      ++kept;
    }
    if (kept > 0) out[k] = kept;
  }
  return out;
}

int EtcdModel::kept_index_entries() const {
  int n = 0;
  for (const auto& [k, versions] : keys_) {
    for (const Version& v : versions) n += v.main >= compact_ ? 1 : 0;
  }
  return n;
}

}  // namespace meridian::kv::testing
