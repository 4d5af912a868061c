#include "api/concurrency.h"

#include <mutex>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "api/grpc_errors.h"
#include "api/response_header.h"
#include "kv/command.h"
#include "kv/validate.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;

namespace {

// A made lease id that collides with one in use is tried again with another;
// with 48 random bits a second collision is all but impossible.
constexpr int kGrantAttemptsMax = 3;
// Watch responses taken from the hub at a time (the watch stream takes as many).
constexpr size_t kPopCountMax = 64;
constexpr uint64_t kPopBytesMax = 256 * 1024;

rpc::Status store_error(kv::Errc e) { return client_error(kv::errc_message(e)); }

}  // namespace

rpc::Status client_error(std::string_view message) {
  return rpc::Status{rpc::StatusCode::kUnknown, std::string(message)};
}

std::string lease_key(const std::string& prefix, int64_t lease) {
  return prefix + fmt::format("{:x}", lease);  // as Go's %x: a sign, then the digits
}

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  for (size_t i = end.size(); i-- > 0;) {
    if (static_cast<unsigned char>(end[i]) < 0xff) {
      end[i] = static_cast<char>(static_cast<unsigned char>(end[i]) + 1);
      end.resize(i + 1);
      return end;
    }
  }
  return std::string(1, '\0');  // every byte is 0xff: every key from the prefix on
}

pb::RangeRequest first_created(const std::string& prefix) {
  pb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(prefix_end(prefix));
  req.set_sort_target(pb::RangeRequest::CREATE);
  req.set_sort_order(pb::RangeRequest::ASCEND);
  req.set_limit(1);
  return req;
}

pb::Compare create_revision_is(const std::string& key, int64_t revision) {
  pb::Compare cmp;
  cmp.set_key(key);
  cmp.set_target(pb::Compare::CREATE);
  cmp.set_result(pb::Compare::EQUAL);
  cmp.set_create_revision(revision);
  return cmp;
}

pb::RequestOp put_op(const std::string& key, const std::string& value, int64_t lease) {
  pb::RequestOp op;
  pb::PutRequest* put = op.mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  return op;
}

pb::RequestOp range_op(pb::RangeRequest req) {
  pb::RequestOp op;
  *op.mutable_request_range() = std::move(req);
  return op;
}

pb::RequestOp delete_op(const std::string& key) {
  pb::RequestOp op;
  op.mutable_request_delete_range()->set_key(key);
  return op;
}

struct StoreClient::Shared final : kv::WatchSink {
  EtcdBackend backend;
  kv::Limits limits;

  std::mutex mu;
  ReadPool* pool = nullptr;                        // null once stopped; guarded by mu
  std::shared_ptr<kv::WatchStream> stream;         // null once stopped; guarded by mu
  std::unordered_map<int64_t, WatchFn> watches;    // guarded by mu
  int64_t next_watch_id = 1;                       // guarded by mu
  std::mt19937_64 random{std::random_device{}()};  // guarded by mu

  kv::MvccStore& store() const { return backend.kv->store(); }

  // The hub's delivery thread: hands each response to its watch's function.
  void on_ready() override {
    for (;;) {
      std::shared_ptr<kv::WatchStream> s;
      {
        std::lock_guard lock(mu);
        s = stream;
      }
      std::vector<kv::WatchStream::Popped> popped;
      if (s == nullptr || s->pop_many(kPopCountMax, kPopBytesMax, &popped) == 0) return;
      for (kv::WatchStream::Popped& p : popped) {
        if (p.resp.created()) continue;
        WatchFn fn;
        {
          std::lock_guard lock(mu);
          auto it = watches.find(p.resp.watch_id());
          if (it == watches.end()) continue;  // unwatched meanwhile
          fn = it->second;
          if (p.resp.canceled()) watches.erase(it);
        }
        fill_header(p.resp.mutable_header(), backend, p.resp.header().revision());
        fn(p.resp);
      }
    }
  }
};

namespace {

using SharedPtr = std::shared_ptr<StoreClient::Shared>;

// Proposes a command and replies with the store's response, as Resp.
template <class Resp>
void propose(const SharedPtr& shared, kv::CommandType type, const std::string& request,
             Reply<Resp> reply) {
  shared->backend.node->propose(
      shared->backend.group, kv::encode_command(type, request),
      [shared, reply = std::move(reply)](base::Result<node::ProposeResult> r) {
        if (!r.is_ok()) return reply(node_status(r.status()), Resp());
        const std::optional<kv::CommandResult> result = kv::decode_result(r.value().result);
        if (!result) return reply(kv_status(kv::Errc::kCorrupt), Resp());
        if (result->errc != kv::Errc::kOk) return reply(store_error(result->errc), Resp());
        Resp resp;
        if (!resp.ParseFromArray(result->response.data(),
                                 static_cast<int>(result->response.size()))) {
          return reply(kv_status(kv::Errc::kCorrupt), Resp());
        }
        fill_header(resp.mutable_header(), shared->backend, resp.header().revision());
        reply(rpc::Status{}, std::move(resp));
      });
}

// A linearizable range: a ReadIndex round confirms this member has applied
// everything committed before the request, then the read runs on the pool
// (a prefix sorted by create revision reads every key under it).
void range(const SharedPtr& shared, const pb::RangeRequest& req, Reply<pb::RangeResponse> reply) {
  if (kv::Errc e = kv::validate_range(req, shared->limits); e != kv::Errc::kOk) {
    return reply(store_error(e), pb::RangeResponse());
  }
  auto read = [shared, req, reply] {
    pb::RangeResponse resp;
    if (kv::Errc e = shared->store().range(req, &resp); e != kv::Errc::kOk) {
      return reply(store_error(e), pb::RangeResponse());
    }
    const int64_t revision =
        resp.header().revision() != 0 ? resp.header().revision() : shared->store().revision();
    fill_header(resp.mutable_header(), shared->backend, revision);
    reply(rpc::Status{}, std::move(resp));
  };
  shared->backend.node->read(
      shared->backend.group, true, [](const node::StateMachine&) { return std::string(); },
      [shared, read = std::move(read), reply](base::Result<std::string> r) mutable {
        if (!r.is_ok()) return reply(node_status(r.status()), pb::RangeResponse());
        rpc::Status refused;
        {
          std::lock_guard lock(shared->mu);
          if (shared->pool == nullptr) {
            refused = stopped_status();
          } else if (!shared->pool->submit(std::move(read))) {
            refused = rpc::Status{rpc::StatusCode::kResourceExhausted,
                                  std::string(kTooManyRequestsMessage)};
          }
        }
        if (!refused.ok()) reply(refused, pb::RangeResponse());
      });
}

rpc::Status watch(const SharedPtr& shared, const std::string& key, const std::string& range_end,
                  int64_t start_revision, StoreClient::WatchFn fn, int64_t* id) {
  std::shared_ptr<kv::WatchStream> s;
  {
    std::lock_guard lock(shared->mu);
    if (shared->stream == nullptr) return stopped_status();
    if (shared->watches.size() >= StoreClient::kWatchesMax) {
      return rpc::Status{rpc::StatusCode::kResourceExhausted, std::string(kTooManyRequestsMessage)};
    }
    s = shared->stream;
    *id = shared->next_watch_id++;
    shared->watches.emplace(*id, std::move(fn));
  }
  pb::WatchCreateRequest req;
  req.set_key(key);
  req.set_range_end(range_end);
  req.set_start_revision(start_revision);
  req.set_watch_id(*id);
  s->create(req);
  return rpc::Status{};
}

void unwatch(const SharedPtr& shared, int64_t id) {
  std::shared_ptr<kv::WatchStream> s;
  {
    std::lock_guard lock(shared->mu);
    if (shared->watches.erase(id) == 0) return;
    s = shared->stream;
  }
  if (s != nullptr) s->cancel(id);
}

// etcd's waitDeletes (see the header). Each watch it opens gets a generation
// number: a response for an older one (the watch is being replaced or
// cancelled) is ignored, and a watch whose id arrives after it was replaced is
// cancelled by whoever sees that.
class DeleteWaitImpl final : public StoreClient::DeleteWait,
                             public std::enable_shared_from_this<DeleteWaitImpl> {
 public:
  DeleteWaitImpl(SharedPtr shared, std::string prefix, int64_t max_create_revision,
                 Reply<pb::ResponseHeader> done)
      : shared_(std::move(shared)), done_(std::move(done)) {
    older_.set_key(prefix);
    older_.set_range_end(prefix_end(prefix));
    older_.set_sort_target(pb::RangeRequest::CREATE);
    older_.set_sort_order(pb::RangeRequest::DESCEND);
    older_.set_max_create_revision(max_create_revision);
    older_.set_limit(1);
  }

  void cancel() override {
    int64_t id = 0;
    Reply<pb::ResponseHeader> dropped;  // released outside the lock
    {
      std::lock_guard lock(mu_);
      ended_ = true;
      id = std::exchange(watch_id_, 0);
      dropped = std::move(done_);
    }
    if (id != 0) unwatch(shared_, id);
  }

  // Finds the newest older key; waits for its deletion, or ends.
  void look() {
    range(shared_, older_, [self = shared_from_this()](rpc::Status st, pb::RangeResponse resp) {
      if (!st.ok()) return self->finish(st, pb::ResponseHeader());
      if (resp.kvs().empty()) return self->finish(rpc::Status{}, resp.header());
      self->wait_for(resp.kvs(0).key(), resp.header().revision());
    });
  }

 private:
  // The key existed at `revision`: its deletion comes at a later revision.
  void wait_for(const std::string& key, int64_t revision) {
    uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      generation = ++generation_;
    }
    int64_t id = 0;
    const rpc::Status st = watch(
        shared_, key, "", revision,
        [self = shared_from_this(), generation](const pb::WatchResponse& wr) {
          self->on_watch(generation, wr);
        },
        &id);
    if (!st.ok()) return finish(st, pb::ResponseHeader());
    bool stale = false;
    {
      std::lock_guard lock(mu_);
      stale = ended_ || generation_ != generation;
      if (!stale) watch_id_ = id;
    }
    if (stale) unwatch(shared_, id);
  }

  void on_watch(uint64_t generation, const pb::WatchResponse& wr) {
    bool deleted = wr.canceled();
    for (const mvccpb::Event& ev : wr.events())
      deleted = deleted || ev.type() == mvccpb::Event::DELETE;
    if (!deleted) return;
    int64_t id = 0;
    {
      std::lock_guard lock(mu_);
      if (ended_ || generation_ != generation) return;
      ++generation_;
      id = std::exchange(watch_id_, 0);
    }
    if (id != 0 && !wr.canceled()) unwatch(shared_, id);
    // A watch the hub ended because its start was compacted: look again (etcd
    // fails the wait instead). Any other end is the service stopping.
    if (wr.canceled() && wr.compact_revision() == 0) {
      return finish(stopped_status(), pb::ResponseHeader());
    }
    look();
  }

  // Taken out once: the request that waits usually holds this wait, and
  // `done_` holds the request, so keeping it would keep both alive.
  void finish(const rpc::Status& st, const pb::ResponseHeader& header) {
    Reply<pb::ResponseHeader> done;
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      ended_ = true;
      done = std::move(done_);
    }
    done(st, header);
  }

  const SharedPtr shared_;
  Reply<pb::ResponseHeader> done_;  // guarded by mu_ once the wait has started
  pb::RangeRequest older_;
  std::mutex mu_;
  bool ended_ = false;       // guarded by mu_
  uint64_t generation_ = 0;  // of the current watch; guarded by mu_
  int64_t watch_id_ = 0;     // the current watch, once known; guarded by mu_
};

}  // namespace

StoreClient::StoreClient(const EtcdBackend& backend, const kv::Limits& limits, ReadPool* pool,
                         kv::WatchHub* hub)
    : shared_(std::make_shared<Shared>()) {
  shared_->backend = backend;
  shared_->limits = limits;
  shared_->pool = pool;
  shared_->stream = hub->open_stream(shared_.get());
}

StoreClient::~StoreClient() { stop(); }

void StoreClient::stop() {
  std::shared_ptr<kv::WatchStream> s;
  std::unordered_map<int64_t, WatchFn> watches;
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->stream == nullptr) return;
    s = std::move(shared_->stream);
    shared_->stream = nullptr;
    shared_->pool = nullptr;
    watches.swap(shared_->watches);
  }
  s->close();  // waits for a delivery under way; no function is called after it
  // Every wait learns that it will never be woken.
  pb::WatchResponse stopped;
  stopped.set_canceled(true);
  stopped.set_cancel_reason(std::string(kStoppedMessage));
  for (auto& [id, fn] : watches) {
    stopped.set_watch_id(id);
    fn(stopped);
  }
}

void StoreClient::txn(const pb::TxnRequest& req, Reply<pb::TxnResponse> reply) {
  if (kv::Errc e = kv::validate_txn(req, shared_->limits); e != kv::Errc::kOk) {
    return reply(store_error(e), pb::TxnResponse());
  }
  propose(shared_, kv::CommandType::kTxn, req.SerializeAsString(), std::move(reply));
}

void StoreClient::delete_key(const std::string& key, Reply<pb::DeleteRangeResponse> reply) {
  pb::DeleteRangeRequest req;
  req.set_key(key);
  if (kv::Errc e = kv::validate_delete_range(req, shared_->limits); e != kv::Errc::kOk) {
    return reply(store_error(e), pb::DeleteRangeResponse());
  }
  propose(shared_, kv::CommandType::kDeleteRange, req.SerializeAsString(), std::move(reply));
}

void StoreClient::range(const pb::RangeRequest& req, Reply<pb::RangeResponse> reply) {
  api::range(shared_, req, std::move(reply));
}

namespace {

// etcd's ids: the member's low 16 bits on top, so members never collide; below
// them 48 random bits (the lease service counts from the clock, and these
// must not walk into its ids), with the sign bit clear.
int64_t make_lease_id(StoreClient::Shared& shared) {
  constexpr uint64_t kLowMask = (uint64_t{1} << 48) - 1;
  uint64_t low = 0;
  {
    std::lock_guard lock(shared.mu);
    while (low == 0) low = shared.random() & kLowMask;
  }
  const uint64_t id = ((shared.backend.member_id & 0xffff) << 48) | low;
  return static_cast<int64_t>(id & ~(uint64_t{1} << 63));
}

void grant(const SharedPtr& shared, int64_t ttl, int attempt, Reply<int64_t> reply) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  req.set_id(make_lease_id(*shared));
  propose<pb::LeaseGrantResponse>(
      shared, kv::CommandType::kLeaseGrant, req.SerializeAsString(),
      [shared, ttl, attempt, reply](rpc::Status st, pb::LeaseGrantResponse resp) {
        if (st.message == kv::errc_message(kv::Errc::kLeaseExists) &&
            attempt + 1 < kGrantAttemptsMax) {
          return grant(shared, ttl, attempt + 1, reply);
        }
        reply(st, resp.id());
      });
}

}  // namespace

void StoreClient::grant_lease(int64_t ttl, Reply<int64_t> reply) {
  grant(shared_, ttl, 0, std::move(reply));
}

rpc::Status StoreClient::watch(const std::string& key, const std::string& range_end,
                               int64_t start_revision, WatchFn fn, int64_t* id) {
  return api::watch(shared_, key, range_end, start_revision, std::move(fn), id);
}

void StoreClient::unwatch(int64_t id) { api::unwatch(shared_, id); }

std::shared_ptr<StoreClient::DeleteWait> StoreClient::wait_deletes(const std::string& prefix,
                                                                   int64_t max_create_revision,
                                                                   Reply<pb::ResponseHeader> done) {
  auto wait =
      std::make_shared<DeleteWaitImpl>(shared_, prefix, max_create_revision, std::move(done));
  wait->look();
  return wait;
}

}  // namespace meridian::api
