#include "api/election_service.h"

#include <mutex>
#include <string>
#include <utility>

#include "api/election_observe.h"
#include "api/lock_service.h"
#include "etcd/etcdserver/api/v3election/v3electionpb/v3election.pb.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;
namespace epb = ::v3electionpb;

namespace {

using ClientPtr = std::shared_ptr<StoreClient>;
using CallPtr = std::shared_ptr<rpc::UnaryCall>;

// etcd's messages (concurrency.ErrElectionNotLeader, ErrElectionNoLeader,
// v3election.ErrMissingLeaderKey).
constexpr std::string_view kNotLeaderMessage = "election: not leader";
constexpr std::string_view kNoLeaderMessage = "election: no leader";
constexpr std::string_view kMissingLeaderMessage = "\"leader\" field must be provided";

// The transaction "if `key` still has create revision `revision`, put `value`
// with `lease`" (Proclaim), or delete it (Resign).
pb::TxnRequest if_leader(const std::string& key, int64_t revision, pb::RequestOp then) {
  pb::TxnRequest txn;
  *txn.add_compare() = create_revision_is(key, revision);
  *txn.add_success() = std::move(then);
  return txn;
}

// The lease a request names, or (lease 0) a session lease granted for it.
void with_lease(const ClientPtr& client, int64_t lease, Reply<int64_t> then) {
  if (lease != 0) return then(rpc::Status{}, lease);
  client->grant_lease(kSessionTtlSeconds, std::move(then));
}

// One Campaign, from its transaction to its answer; shaped as LockOp
// (lock_service.cc): steps on the threads that complete them, mu_ shared with
// cancelled(), the op owned by the call's on_cancel function.
class CampaignOp : public std::enable_shared_from_this<CampaignOp> {
 public:
  CampaignOp(ClientPtr client, CallPtr call, epb::CampaignRequest req)
      : client_(std::move(client)), call_(std::move(call)), req_(std::move(req)) {}

  void start() {
    // Weak: the call holds this function until it ends, and this request holds
    // the call; the steps in flight keep the request alive.
    call_->set_on_cancel([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->cancelled();
    });
    with_lease(client_, req_.lease(), [self = shared_from_this()](rpc::Status st, int64_t lease) {
      if (!st.ok()) return self->answer(st);
      self->run(lease);
    });
  }

 private:
  void run(int64_t lease) {
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
    }
    lease_ = lease;
    prefix_ = req_.name() + "/";
    key_ = lease_key(prefix_, lease);
    pb::TxnRequest txn;
    *txn.add_compare() = create_revision_is(key_, 0);
    *txn.add_success() = put_op(key_, req_.value(), lease);
    pb::RangeRequest mine;
    mine.set_key(key_);
    *txn.add_failure() = range_op(mine);
    client_->txn(txn, [self = shared_from_this()](rpc::Status st, pb::TxnResponse resp) {
      self->entered(st, resp);
    });
  }

  void entered(const rpc::Status& st, const pb::TxnResponse& resp) {
    if (!st.ok()) return answer(st);
    header_ = resp.header();
    revision_ = resp.header().revision();
    bool proclaim = false;
    if (!resp.succeeded()) {
      const pb::RangeResponse& mine = resp.responses(0).response_range();
      MERIDIAN_ASSERT(mine.kvs_size() == 1, "the candidate key vanished inside its transaction");
      revision_ = mine.kvs(0).create_revision();
      proclaim = mine.kvs(0).value() != req_.value();
    }
    {
      std::unique_lock lock(mu_);
      undo_ = true;  // from here on, a campaign that ends unanswered resigns
      if (cancelled_) {
        undo_ = resp.succeeded();  // gone before the transaction answered
        lock.unlock();
        return undo();
      }
    }
    if (!proclaim) return wait();
    // A candidate campaigning again with a new value: etcd proclaims it first.
    client_->txn(if_leader(key_, revision_, put_op(key_, req_.value(), lease_)),
                 [self = shared_from_this()](rpc::Status s, pb::TxnResponse r) {
                   if (s.ok() && !r.succeeded()) s = client_error(kNotLeaderMessage);
                   if (!s.ok()) {
                     self->undo();
                     return self->answer(s);
                   }
                   self->wait();
                 });
  }

  void wait() {
    auto wait = client_->wait_deletes(
        prefix_, revision_ - 1, [self = shared_from_this()](rpc::Status st, pb::ResponseHeader) {
          // A failed wait leaves the key (etcd resigns only when cancelled).
          if (!st.ok()) return self->answer(st);
          self->elected();
        });
    std::unique_lock lock(mu_);
    if (cancelled_) {
      lock.unlock();
      return wait->cancel();
    }
    wait_ = std::move(wait);
  }

  void elected() {
    epb::CampaignResponse resp;
    *resp.mutable_header() = header_;  // etcd's: that of the first transaction
    epb::LeaderKey* leader = resp.mutable_leader();
    leader->set_name(req_.name());
    leader->set_key(key_);
    leader->set_rev(revision_);
    leader->set_lease(lease_);
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

  // etcd's Resign: deletes our key if it is still the one we campaigned with.
  void undo() {
    {
      std::lock_guard lock(mu_);
      if (!undo_) return;
      undo_ = false;
    }
    client_->txn(if_leader(key_, revision_, delete_op(key_)), [](rpc::Status, pb::TxnResponse) {});
  }

  const ClientPtr client_;
  const CallPtr call_;
  const epb::CampaignRequest req_;
  // Set by one step before the next starts (each step starts the next), and
  // read by cancelled() only once undo_ (under mu_) says they are.
  int64_t lease_ = 0;
  std::string prefix_;
  std::string key_;
  int64_t revision_ = 0;
  pb::ResponseHeader header_;

  std::mutex mu_;
  bool cancelled_ = false;                         // guarded by mu_
  bool answered_ = false;                          // guarded by mu_
  bool undo_ = false;                              // guarded by mu_
  std::shared_ptr<StoreClient::DeleteWait> wait_;  // guarded by mu_
};

void campaign(const ClientPtr& client, CallPtr call) {
  epb::CampaignRequest req;
  if (!parse_request(*call, &req)) return;
  std::make_shared<CampaignOp>(client, std::move(call), std::move(req))->start();
}

void proclaim(const ClientPtr& client, CallPtr call) {
  epb::ProclaimRequest req;
  if (!parse_request(*call, &req)) return;
  if (!req.has_leader()) return call->finish(client_error(kMissingLeaderMessage), {});
  with_lease(client, req.leader().lease(), [client, call, req](rpc::Status st, int64_t lease) {
    if (!st.ok()) return call->finish(st, {});
    const epb::LeaderKey& leader = req.leader();
    client->txn(if_leader(leader.key(), leader.rev(), put_op(leader.key(), req.value(), lease)),
                [call](rpc::Status s, pb::TxnResponse r) {
                  if (s.ok() && !r.succeeded()) s = client_error(kNotLeaderMessage);
                  if (!s.ok()) return call->finish(s, {});
                  epb::ProclaimResponse resp;
                  *resp.mutable_header() = r.header();
                  call->finish({}, resp.SerializeAsString());
                });
  });
}

void resign(const ClientPtr& client, CallPtr call) {
  epb::ResignRequest req;
  if (!parse_request(*call, &req)) return;
  if (!req.has_leader()) return call->finish(client_error(kMissingLeaderMessage), {});
  const epb::LeaderKey& leader = req.leader();
  client->txn(if_leader(leader.key(), leader.rev(), delete_op(leader.key())),
              [call](rpc::Status st, pb::TxnResponse r) {
                if (!st.ok()) return call->finish(st, {});
                epb::ResignResponse resp;
                *resp.mutable_header() = r.header();
                call->finish({}, resp.SerializeAsString());
              });
}

void leader(const ClientPtr& client, CallPtr call) {
  epb::LeaderRequest req;
  if (!parse_request(*call, &req)) return;
  client->range(first_created(req.name() + "/"), [call](rpc::Status st, pb::RangeResponse r) {
    if (!st.ok()) return call->finish(st, {});
    if (r.kvs().empty()) return call->finish(client_error(kNoLeaderMessage), {});
    epb::LeaderResponse resp;
    *resp.mutable_header() = r.header();
    *resp.mutable_kv() = r.kvs(0);
    call->finish({}, resp.SerializeAsString());
  });
}

}  // namespace

void register_election(rpc::Server& server, std::shared_ptr<StoreClient> client) {
  using Handler = void (*)(const ClientPtr&, CallPtr);
  const std::pair<const char*, Handler> methods[] = {
      {"/v3electionpb.Election/Campaign", &campaign},
      {"/v3electionpb.Election/Proclaim", &proclaim},
      {"/v3electionpb.Election/Leader", &leader},
      {"/v3electionpb.Election/Resign", &resign},
  };
  for (const auto& [path, handler] : methods) {
    server.add_unary(
        path, [client, handler = handler](CallPtr call) { handler(client, std::move(call)); });
  }
  server.add_stream("/v3electionpb.Election/Observe",
                    [client](rpc::ServerStream* stream) { return new_observe(client, stream); });
}

}  // namespace meridian::api
