#include "api/lock_service.h"

#include <mutex>
#include <string>
#include <utility>

#include "etcd/etcdserver/api/v3lock/v3lockpb/v3lock.pb.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;
namespace lockpb = ::v3lockpb;

namespace {

using ClientPtr = std::shared_ptr<StoreClient>;
using CallPtr = std::shared_ptr<rpc::UnaryCall>;

// etcd 3.5's ErrSessionExpired: the key was deleted (its lease ended) while
// the request waited for its turn.
constexpr std::string_view kSessionExpiredMessage = "mutex: session is expired";

// One Lock request, from its transaction to its answer. Steps run on whatever
// thread the previous one completed on; mu_ guards what cancel() shares with
// them. The call's on_cancel function owns the op until the call ends.
class LockOp : public std::enable_shared_from_this<LockOp> {
 public:
  LockOp(ClientPtr client, CallPtr call, lockpb::LockRequest req)
      : client_(std::move(client)), call_(std::move(call)), req_(std::move(req)) {}

  // On the I/O thread (the handler).
  void start() {
    // Weak: the call holds this function until it ends, and this request holds
    // the call; the steps in flight keep the request alive.
    call_->set_on_cancel([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->cancelled();
    });
    if (req_.lease() != 0) return acquire(req_.lease());
    client_->grant_lease(kSessionTtlSeconds,
                         [self = shared_from_this()](rpc::Status st, int64_t lease) {
                           if (!st.ok()) return self->answer(st);
                           self->acquire(lease);
                         });
  }

 private:
  // etcd's Mutex.Lock: put our key unless it exists, and read the first holder.
  void acquire(int64_t lease) {
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
    }
    prefix_ = req_.name() + "/";
    key_ = lease_key(prefix_, lease);
    pb::TxnRequest txn;
    *txn.add_compare() = create_revision_is(key_, 0);
    *txn.add_success() = put_op(key_, "", lease);
    *txn.add_success() = range_op(first_created(prefix_));
    pb::RangeRequest mine;
    mine.set_key(key_);
    *txn.add_failure() = range_op(mine);
    *txn.add_failure() = range_op(first_created(prefix_));
    client_->txn(txn, [self = shared_from_this()](rpc::Status st, pb::TxnResponse resp) {
      self->queued(st, resp);
    });
  }

  void queued(const rpc::Status& st, const pb::TxnResponse& resp) {
    if (!st.ok()) return answer(st);
    // Our place: the revision that created our key now, or when it was made.
    int64_t my_revision = resp.header().revision();
    if (!resp.succeeded()) {
      const pb::RangeResponse& mine = resp.responses(0).response_range();
      MERIDIAN_ASSERT(mine.kvs_size() == 1, "the lock key vanished inside its transaction");
      my_revision = mine.kvs(0).create_revision();
    }
    const pb::RangeResponse& first = resp.responses(1).response_range();
    const bool held = first.kvs().empty() || first.kvs(0).create_revision() == my_revision;
    {
      std::unique_lock lock(mu_);
      if (cancelled_) {
        // Gone before the transaction answered: a key it made goes too.
        undo_ = resp.succeeded();
        lock.unlock();
        return undo();
      }
      // A key this request made goes with the request; a key it found (an
      // earlier Lock on the same lease) only if this request waits with it,
      // as etcd unlocks when a wait fails.
      undo_ = resp.succeeded() || !held;
    }
    if (held) return answer_key(resp.header());
    auto wait = client_->wait_deletes(
        prefix_, my_revision - 1,
        [self = shared_from_this()](rpc::Status s, pb::ResponseHeader) { self->waited(s); });
    std::unique_lock lock(mu_);
    if (cancelled_) {
      lock.unlock();
      return wait->cancel();  // cancelled() found no wait to cancel, and undid the key
    }
    wait_ = std::move(wait);
  }

  // Every older key is gone: etcd 3.5 then checks that ours is still there.
  void waited(const rpc::Status& st) {
    if (!st.ok()) return fail(st);
    pb::RangeRequest mine;
    mine.set_key(key_);
    client_->range(mine, [self = shared_from_this()](rpc::Status s, pb::RangeResponse resp) {
      if (!s.ok()) return self->fail(s);
      if (resp.kvs().empty()) return self->answer(client_error(kSessionExpiredMessage));
      self->answer_key(resp.header());
    });
  }

  // etcd unlocks when the wait fails, so that the key does not hold up others.
  void fail(const rpc::Status& st) {
    undo();
    answer(st);
  }

  void answer_key(const pb::ResponseHeader& header) {
    lockpb::LockResponse resp;
    *resp.mutable_header() = header;
    resp.set_key(key_);
    answer(rpc::Status{}, resp.SerializeAsString());
  }

  void answer(const rpc::Status& st, std::string resp = {}) {
    {
      std::lock_guard lock(mu_);
      if (answered_) return;
      answered_ = true;
    }
    call_->finish(st, std::move(resp));
  }

  // The call ended without our answer (I/O thread).
  void cancelled() {
    std::shared_ptr<StoreClient::DeleteWait> wait;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      wait = std::move(wait_);
    }
    if (wait != nullptr) wait->cancel();
    undo();
  }

  // Deletes our key, once, if this request made it or waited with it.
  void undo() {
    {
      std::lock_guard lock(mu_);
      if (!undo_) return;
      undo_ = false;
    }
    client_->delete_key(key_, [](rpc::Status, pb::DeleteRangeResponse) {});
  }

  const ClientPtr client_;
  const CallPtr call_;
  const lockpb::LockRequest req_;
  std::string prefix_;  // set before the transaction, read-only after
  std::string key_;     // likewise

  std::mutex mu_;
  bool cancelled_ = false;                         // guarded by mu_
  bool answered_ = false;                          // guarded by mu_
  bool undo_ = false;                              // guarded by mu_
  std::shared_ptr<StoreClient::DeleteWait> wait_;  // guarded by mu_
};

void lock(const ClientPtr& client, CallPtr call) {
  lockpb::LockRequest req;
  if (!parse_request(*call, &req)) return;
  std::make_shared<LockOp>(client, std::move(call), std::move(req))->start();
}

void unlock(const ClientPtr& client, CallPtr call) {
  lockpb::UnlockRequest req;
  if (!parse_request(*call, &req)) return;
  client->delete_key(req.key(), [call](rpc::Status st, pb::DeleteRangeResponse deleted) {
    if (!st.ok()) return call->finish(st, {});
    lockpb::UnlockResponse resp;
    *resp.mutable_header() = deleted.header();
    call->finish({}, resp.SerializeAsString());
  });
}

}  // namespace

void register_lock(rpc::Server& server, std::shared_ptr<StoreClient> client) {
  server.add_unary("/v3lockpb.Lock/Lock",
                   [client](CallPtr call) { lock(client, std::move(call)); });
  server.add_unary("/v3lockpb.Lock/Unlock",
                   [client](CallPtr call) { unlock(client, std::move(call)); });
}

}  // namespace meridian::api
