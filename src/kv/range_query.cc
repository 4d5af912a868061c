#include "kv/range_query.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace meridian::kv {

namespace {

using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;

// What decides an item's place in a sorted answer.
struct SortFields {
  std::string_view key;
  std::string_view value;
  int64_t version;
  int64_t create_revision;
  int64_t mod_revision;
};

SortFields fields_of(const KvRef& r) {
  return {r.key, r.value, r.version, r.create_revision, r.mod_revision};
}
SortFields fields_of(const mvccpb::KeyValue& kv) {
  return {kv.key(), kv.value(), kv.version(), kv.create_revision(), kv.mod_revision()};
}

// Strict total order of a sorted answer: the target in the requested direction,
// ties by key ascending.
class SortOrder {
 public:
  SortOrder(RangeRequest::SortTarget target, bool descend) : target_(target), descend_(descend) {}

  bool before(const SortFields& a, const SortFields& b) const {
    const int c = compare_target(a, b);
    if (c != 0) return descend_ ? c > 0 : c < 0;
    return a.key < b.key;
  }

 private:
  static int three_way(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }
  int compare_target(const SortFields& a, const SortFields& b) const {
    switch (target_) {
      case RangeRequest::VERSION:
        return three_way(a.version, b.version);
      case RangeRequest::CREATE:
        return three_way(a.create_revision, b.create_revision);
      case RangeRequest::MOD:
        return three_way(a.mod_revision, b.mod_revision);
      case RangeRequest::VALUE:
        return a.value.compare(b.value);
      default:
        return a.key.compare(b.key);
    }
  }

  RangeRequest::SortTarget target_;
  bool descend_;
};

// Candidates in key order, appended while they fit.
class KeyOrderCollector {
 public:
  KeyOrderCollector(int64_t limit, uint64_t bytes_max, bool keys_only, RangeResponse* resp)
      : limit_(limit), bytes_max_(bytes_max), keys_only_(keys_only), resp_(resp) {}

  void offer(const KvRef& kv) {
    if (full_) return;
    const uint64_t size = kv.size_bytes(keys_only_);
    const auto n = resp_->kvs_size();
    if ((limit_ > 0 && n >= limit_) || (bytes_max_ > 0 && n > 0 && bytes_ + size > bytes_max_)) {
      full_ = true;  // what follows must not fill a gap: the answer is a prefix
      return;
    }
    kv.fill(resp_->add_kvs(), keys_only_);
    bytes_ += size;
  }
  int64_t returned() const { return resp_->kvs_size(); }

 private:
  int64_t limit_;
  uint64_t bytes_max_;
  bool keys_only_;
  RangeResponse* resp_;
  uint64_t bytes_ = 0;
  bool full_ = false;
};

// The best candidates in sort order, as many as fit: a heap whose top is the
// worst kept item. Once an item was dropped for lack of room, nothing after it
// in sort order may enter (`cutoff_`), so the kept items stay a prefix.
class SortedCollector {
 public:
  SortedCollector(SortOrder order, int64_t limit, uint64_t bytes_max, bool count_value)
      : order_(order), limit_(limit), bytes_max_(bytes_max), count_value_(count_value) {}

  void offer(const KvRef& kv) {
    const SortFields f = fields_of(kv);
    if (cutoff_ && !order_.before(f, fields_of(*cutoff_))) return;
    if (limit_ > 0 && static_cast<int64_t>(heap_.size()) >= limit_ &&
        !order_.before(f, fields_of(*heap_.front()))) {
      return;
    }
    auto item = std::make_unique<mvccpb::KeyValue>();
    kv.fill(item.get(), false);
    bytes_ += kv.size_bytes(!count_value_);
    heap_.push_back(std::move(item));
    std::push_heap(heap_.begin(), heap_.end(), worse_on_top());
    while ((limit_ > 0 && static_cast<int64_t>(heap_.size()) > limit_) ||
           (bytes_max_ > 0 && bytes_ > bytes_max_ && heap_.size() > 1)) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_on_top());
      cutoff_ = std::move(heap_.back());
      heap_.pop_back();
      bytes_ -= cutoff_->key().size() + (count_value_ ? cutoff_->value().size() : 0);
    }
  }

  int64_t returned() const { return static_cast<int64_t>(heap_.size()); }

  void emit(bool keys_only, RangeResponse* resp) {
    std::sort_heap(heap_.begin(), heap_.end(), worse_on_top());
    for (auto& kv : heap_) {
      if (keys_only) kv->clear_value();
      resp->mutable_kvs()->AddAllocated(kv.release());
    }
    heap_.clear();
  }

 private:
  // Heap order: "less" is "comes first", so the top is the worst kept item.
  struct WorseOnTop {
    const SortOrder* order;
    bool operator()(const std::unique_ptr<mvccpb::KeyValue>& a,
                    const std::unique_ptr<mvccpb::KeyValue>& b) const {
      return order->before(fields_of(*a), fields_of(*b));
    }
  };
  WorseOnTop worse_on_top() const { return WorseOnTop{&order_}; }

  SortOrder order_;
  int64_t limit_;
  uint64_t bytes_max_;
  bool count_value_;
  uint64_t bytes_ = 0;
  std::vector<std::unique_ptr<mvccpb::KeyValue>> heap_;
  std::unique_ptr<mvccpb::KeyValue> cutoff_;
};

bool has_filters(const RangeRequest& r) {
  return r.min_mod_revision() != 0 || r.max_mod_revision() != 0 || r.min_create_revision() != 0 ||
         r.max_create_revision() != 0;
}

bool passes_filters(const RangeRequest& r, const KvRef& kv) {
  if (r.max_mod_revision() != 0 && kv.mod_revision > r.max_mod_revision()) return false;
  if (r.min_mod_revision() != 0 && kv.mod_revision < r.min_mod_revision()) return false;
  if (r.max_create_revision() != 0 && kv.create_revision > r.max_create_revision()) return false;
  if (r.min_create_revision() != 0 && kv.create_revision < r.min_create_revision()) return false;
  return true;
}

bool known_target(RangeRequest::SortTarget t) {
  return t >= RangeRequest::KEY && t <= RangeRequest::VALUE;
}

}  // namespace

void answer_range(const RangeRequest& req, KvSource& source, uint64_t max_range_bytes,
                  RangeResponse* resp) {
  int64_t count = 0;
  if (req.count_only()) {
    while (source.next() != nullptr) ++count;
    resp->set_count(count);
    return;
  }
  const bool filters = has_filters(req);
  // etcd fetches everything when it sorts or filters; else one more than the
  // limit, to know whether there is more.
  int64_t window = 0;
  if (req.sort_order() == RangeRequest::NONE && !filters && req.limit() > 0) {
    window = req.limit() + 1;
  }
  // etcd sorts ascending when a target other than KEY is named without an
  // order; ascending by key is the order the source already has.
  RangeRequest::SortOrder order = req.sort_order();
  const RangeRequest::SortTarget target = req.sort_target();
  if (target != RangeRequest::KEY && order == RangeRequest::NONE) order = RangeRequest::ASCEND;
  if (target == RangeRequest::KEY && order == RangeRequest::ASCEND) order = RangeRequest::NONE;
  const bool sorted =
      (order == RangeRequest::ASCEND || order == RangeRequest::DESCEND) && known_target(target);

  int64_t passed = 0;
  KeyOrderCollector in_key_order(req.limit(), max_range_bytes, req.keys_only(), resp);
  SortedCollector in_sort_order(SortOrder(target, order == RangeRequest::DESCEND), req.limit(),
                                max_range_bytes, !req.keys_only() || target == RangeRequest::VALUE);
  while (const KvRef* kv = source.next()) {
    ++count;
    if (window > 0 && count > window) continue;  // only counting now
    if (filters && !passes_filters(req, *kv)) continue;
    ++passed;
    if (sorted) {
      in_sort_order.offer(*kv);
    } else {
      in_key_order.offer(*kv);
    }
  }
  int64_t returned = 0;
  if (sorted) {
    returned = in_sort_order.returned();
    in_sort_order.emit(req.keys_only(), resp);
  } else {
    returned = in_key_order.returned();
  }
  resp->set_count(count);
  resp->set_more(passed > returned);
}

}  // namespace meridian::kv
