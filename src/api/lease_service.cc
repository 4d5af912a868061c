#include "api/lease_service.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "api/grpc_errors.h"
#include "api/quota.h"
#include "api/response_header.h"
#include "kv/command.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;

int64_t min_lease_ttl(uint32_t election_timeout_ms) {
  const uint64_t ms = uint64_t{election_timeout_ms} * 3 / 2;
  return static_cast<int64_t>((ms + 999) / 1000);
}

namespace {

// etcd's lease id generator: 16 bits of the member id, then a 48-bit count
// that starts at the current time in ms shifted left by 8 and grows by one per
// id; the top bit is cleared (ids are positive).
class LeaseIds {
 public:
  explicit LeaseIds(uint64_t member_id)
      : prefix_((member_id & 0xffff) << 48),
        suffix_(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count())
                << 8) {}
  int64_t next() {
    constexpr uint64_t kSuffixMask = (uint64_t{1} << 48) - 1;
    const uint64_t suffix = (suffix_.fetch_add(1, std::memory_order_relaxed) + 1) & kSuffixMask;
    return static_cast<int64_t>((prefix_ | suffix) & ~(uint64_t{1} << 63));
  }

 private:
  const uint64_t prefix_;
  std::atomic<uint64_t> suffix_;
};

struct Shared {
  EtcdBackend backend;
  LeaseParts parts;
  LeaseIds ids;
  Shared(const EtcdBackend& b, const LeaseParts& p) : backend(b), parts(p), ids(b.member_id) {}
  kv::MvccStore& store() const { return backend.kv->store(); }
};
using SharedPtr = std::shared_ptr<Shared>;
using CallPtr = std::shared_ptr<rpc::UnaryCall>;

template <class Req>
bool parse(rpc::UnaryCall& call, Req* req) {
  const std::string_view bytes = call.request();
  if (req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
  call.finish({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"}, {});
  return false;
}

// Proposes the command and answers with the store's response (as Resp).
template <class Resp>
void propose(const SharedPtr& shared, const CallPtr& call, kv::CommandType type,
             const std::string& request) {
  shared->backend.node->propose(
      shared->backend.group, kv::encode_command(type, request),
      [shared, call](base::Result<node::ProposeResult> r) {
        if (!r.is_ok()) return call->finish(node_status(r.status()), {});
        const std::optional<kv::CommandResult> result = kv::decode_result(r.value().result);
        if (!result) return call->finish(kv_status(kv::Errc::kCorrupt), {});
        if (result->errc != kv::Errc::kOk) return call->finish(kv_status(result->errc), {});
        Resp resp;
        if (!resp.ParseFromArray(result->response.data(),
                                 static_cast<int>(result->response.size()))) {
          return call->finish(kv_status(kv::Errc::kCorrupt), {});
        }
        fill_header(resp.mutable_header(), shared->backend, resp.header().revision());
        call->finish({}, resp.SerializeAsString());
      });
}

// Runs `work` once a ReadIndex round shows this member has applied everything
// committed before the request came.
void after_read_index(const SharedPtr& shared, const CallPtr& call, std::function<void()> work) {
  shared->backend.node->read(
      shared->backend.group, true, [](const node::StateMachine&) { return std::string(); },
      [call, work = std::move(work)](base::Result<std::string> r) {
        if (!r.is_ok()) return call->finish(node_status(r.status()), {});
        work();
      });
}

void grant(const SharedPtr& shared, CallPtr call) {
  pb::LeaseGrantRequest req;
  if (!parse(*call, &req)) return;
  if (req.ttl() > kv::kMaxLeaseTtl) return call->finish(kv_status(kv::Errc::kLeaseTtlTooLarge), {});
  if (!within_quota(shared->backend, shared->parts.limits)) {
    return call->finish(kv_status(kv::Errc::kNoSpace), {});
  }
  if (req.ttl() < shared->parts.min_ttl) req.set_ttl(shared->parts.min_ttl);
  if (req.id() == 0) req.set_id(shared->ids.next());
  propose<pb::LeaseGrantResponse>(shared, call, kv::CommandType::kLeaseGrant,
                                  req.SerializeAsString());
}

void revoke(const SharedPtr& shared, CallPtr call) {
  pb::LeaseRevokeRequest req;
  if (!parse(*call, &req)) return;
  propose<pb::LeaseRevokeResponse>(shared, call, kv::CommandType::kLeaseRevoke,
                                   req.SerializeAsString());
}

void time_to_live(const SharedPtr& shared, CallPtr call) {
  pb::LeaseTimeToLiveRequest req;
  if (!parse(*call, &req)) return;
  after_read_index(shared, call, [shared, call, req] {
    auto answer = [shared, call, req] {
      pb::LeaseTimeToLiveResponse resp;
      resp.set_id(req.id());
      const auto left = shared->store().leases().remaining(req.id());
      if (!left) {
        resp.set_ttl(-1);
      } else {
        resp.set_ttl(left->ttl);
        resp.set_grantedttl(left->granted_ttl);
        if (req.keys()) {
          for (std::string& key : shared->store().lease_keys(req.id())) {
            resp.add_keys(std::move(key));
          }
        }
      }
      fill_header(resp.mutable_header(), shared->backend, shared->store().revision());
      call->finish({}, resp.SerializeAsString());
    };
    if (!req.keys()) return answer();
    if (!shared->parts.pool->submit(answer)) {
      call->finish({rpc::StatusCode::kResourceExhausted, std::string(kTooManyRequestsMessage)}, {});
    }
  });
}

void leases(const SharedPtr& shared, CallPtr call) {
  pb::LeaseLeasesRequest req;
  if (!parse(*call, &req)) return;
  after_read_index(shared, call, [shared, call] {
    pb::LeaseLeasesResponse resp;
    for (int64_t id : shared->store().leases().ids()) resp.add_leases()->set_id(id);
    fill_header(resp.mutable_header(), shared->backend, shared->store().revision());
    call->finish({}, resp.SerializeAsString());
  });
}

// A keep-alive stream. The reactor's callbacks come on the I/O thread and
// renewals complete on the raft thread, so the stream's state is under a
// mutex, and the stream pointer is cleared at on_done (it must not be used
// after). Renewals are answered in the order they complete; a client that
// stops reading answers finds the stream's reads paused once kQueuedMax
// answers wait, and renewals stop with them.
class KeepAlive final : public rpc::StreamReactor {
 public:
  static constexpr size_t kQueuedMax = 1024;

  KeepAlive(SharedPtr shared, rpc::ServerStream* stream)
      : state_(std::make_shared<State>(std::move(shared), stream)) {
    stream->start_read();
  }

  void on_read(std::string_view message) override {
    pb::LeaseKeepAliveRequest req;
    if (!req.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
      return state_->end({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"});
    }
    {
      std::lock_guard lock(state_->mu);
      state_->reading = false;
      ++state_->renewing;
    }
    const int64_t id = req.id();
    state_->shared->parts.keeper->renew(
        id, [state = state_, id](base::Result<int64_t> r) { state->answer(id, r); });
    std::lock_guard lock(state_->mu);
    state_->read_next_locked();
  }
  void on_read_done() override {
    std::lock_guard lock(state_->mu);
    state_->reading = false;
    state_->client_done = true;
    state_->finish_if_done_locked();
  }
  void on_write_done(bool ok) override {
    std::lock_guard lock(state_->mu);
    state_->writing = false;
    if (!ok) return;
    state_->write_next_locked();
    state_->read_next_locked();
    state_->finish_if_done_locked();
  }
  void on_cancel() override {}
  void on_done() override {
    {
      std::lock_guard lock(state_->mu);
      state_->stream = nullptr;
    }
    delete this;  // NOLINT(cppcoreguidelines-owning-memory): the server's contract
  }

 private:
  struct State {
    State(SharedPtr s, rpc::ServerStream* st) : shared(std::move(s)), stream(st) {}
    const SharedPtr shared;
    std::mutex mu;
    rpc::ServerStream* stream;       // null after on_done; guarded by mu
    std::deque<std::string> queued;  // answers waiting to be written; guarded by mu
    size_t renewing = 0;             // renewals not yet answered; guarded by mu
    bool writing = false;            // guarded by mu
    bool reading = true;             // a read is asked for; guarded by mu
    bool client_done = false;        // guarded by mu
    bool ended = false;              // guarded by mu

    void answer(int64_t id, const base::Result<int64_t>& r) {
      std::lock_guard lock(mu);
      --renewing;
      if (!r.is_ok()) return end_locked(node_status(r.status()));
      pb::LeaseKeepAliveResponse resp;
      resp.set_id(id);
      resp.set_ttl(r.value());
      fill_header(resp.mutable_header(), shared->backend, shared->store().revision());
      queued.push_back(resp.SerializeAsString());
      write_next_locked();
    }
    void write_next_locked() {
      if (stream == nullptr || ended || writing || queued.empty()) return;
      writing = true;
      stream->start_write(std::move(queued.front()));
      queued.pop_front();
    }
    // Asks for the next request unless one is asked for or too many answers wait.
    void read_next_locked() {
      if (stream == nullptr || ended || client_done || reading) return;
      if (queued.size() + renewing >= kQueuedMax) return;
      reading = true;
      stream->start_read();
    }
    // The client closed its side: end once every renewal is answered.
    void finish_if_done_locked() {
      if (!client_done || renewing > 0 || !queued.empty() || writing) return;
      end_locked(rpc::Status{});
    }
    void end_locked(const rpc::Status& status) {
      if (stream == nullptr || ended) return;
      ended = true;
      stream->finish(status);
    }
    void end(const rpc::Status& status) {
      std::lock_guard lock(mu);
      end_locked(status);
    }
  };
  std::shared_ptr<State> state_;
};

}  // namespace

void register_lease(rpc::Server& server, const EtcdBackend& backend, LeaseParts parts) {
  auto shared = std::make_shared<Shared>(backend, parts);
  using Handler = void (*)(const SharedPtr&, CallPtr);
  const std::pair<const char*, Handler> methods[] = {
      {"/etcdserverpb.Lease/LeaseGrant", &grant},
      {"/etcdserverpb.Lease/LeaseRevoke", &revoke},
      {"/etcdserverpb.Lease/LeaseTimeToLive", &time_to_live},
      {"/etcdserverpb.Lease/LeaseLeases", &leases},
  };
  for (const auto& [path, handler] : methods) {
    server.add_unary(
        path, [shared, handler = handler](CallPtr call) { handler(shared, std::move(call)); });
  }
  server.add_stream("/etcdserverpb.Lease/LeaseKeepAlive", [shared](rpc::ServerStream* stream) {
    return new KeepAlive(shared, stream);  // NOLINT(cppcoreguidelines-owning-memory)
  });
}

}  // namespace meridian::api
