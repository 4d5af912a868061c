#include "api/kv_service.h"

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "api/grpc_errors.h"
#include "api/quota.h"
#include "api/response_header.h"
#include "base/free_memory.h"
#include "kv/command.h"

namespace meridian::api {

namespace pb = ::etcdserverpb;
using Clock = std::chrono::steady_clock;

namespace {

enum class Method : uint8_t { kRange, kPut, kDeleteRange, kTxn, kCompact };
constexpr size_t kMethods = 5;

const char* method_name(Method m) {
  switch (m) {
    case Method::kRange:
      return "Range";
    case Method::kPut:
      return "Put";
    case Method::kDeleteRange:
      return "DeleteRange";
    case Method::kTxn:
      return "Txn";
    case Method::kCompact:
      return "Compact";
  }
  return "?";
}

struct MethodMetrics {
  observe::Counter* requests = nullptr;
  observe::Histogram* seconds = nullptr;
};

}  // namespace

class Call;

struct KvService::Shared {
  EtcdBackend backend;
  kv::Limits limits;
  observe::Registry* registry = nullptr;
  std::array<MethodMetrics, kMethods> metrics;
  uint64_t release_after_answer_bytes = 0;

  std::mutex mu;
  ReadPool* pool = nullptr;                             // guarded by mu; null once stopped
  bool stopped = false;                                 // guarded by mu
  uint64_t next_call = 0;                               // guarded by mu
  std::map<uint64_t, std::shared_ptr<Call>> in_flight;  // guarded by mu
  // A release of free memory is queued on the read pool and has not started.
  std::atomic<bool> release_queued{false};
  observe::Counter* memory_releases = nullptr;

  kv::MvccStore& store() const { return backend.kv->store(); }
};

// One RPC until it is answered. claim() is true for exactly one caller, which
// then answers with finish(); only the claimant may touch the RPC's request and
// response.
class Call {
 public:
  Call(std::shared_ptr<KvService::Shared> shared, Method method,
       std::shared_ptr<rpc::UnaryCall> rpc)
      : shared_(std::move(shared)), method_(method), rpc_(std::move(rpc)), start_(Clock::now()) {}
  virtual ~Call() = default;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  std::string_view request_bytes() const { return rpc_->request(); }
  void set_id(uint64_t id) { id_ = id; }
  uint64_t id() const { return id_; }
  bool claim() { return !claimed_.exchange(true, std::memory_order_acq_rel); }

  void finish(const rpc::Status& status) {
    const MethodMetrics& m = shared_->metrics[static_cast<size_t>(method_)];
    m.seconds->observe(std::chrono::duration<double>(Clock::now() - start_).count());
    if (!status.ok()) {
      shared_->registry
          ->counter("meridian_etcd_kv_errors_total",
                    "etcd KV requests answered with an error, by method and gRPC code.",
                    {{"method", method_name(method_)}, {"code", rpc::code_name(status.code)}})
          ->add();
    }
    {
      std::lock_guard lock(shared_->mu);
      shared_->in_flight.erase(id_);
    }
    rpc_->finish(status, status.ok() ? serialize_response() : std::string());
    answered();
  }

  void fail(const rpc::Status& status) {
    if (claim()) finish(status);
  }

 protected:
  virtual std::string serialize_response() const = 0;
  // After the answer has left this object (its bytes are the server's now).
  virtual void answered() {}

  const std::shared_ptr<KvService::Shared> shared_;

 private:
  const Method method_;
  const std::shared_ptr<rpc::UnaryCall> rpc_;
  const Clock::time_point start_;
  uint64_t id_ = 0;
  std::atomic<bool> claimed_{false};
};

// A call with its request and response messages.
template <class Req, class Resp>
class Rpc : public Call {
 public:
  using Call::Call;
  Req req;
  Resp resp;

 protected:
  std::string serialize_response() const override { return resp.SerializeAsString(); }
};

void release_after_large_answer(const std::shared_ptr<KvService::Shared>& shared);

// A Range frees its answer as soon as the server has the bytes; a large one is
// then followed by a release of free memory (kv_service.h, answer_bytes).
class RangeRpc final : public Rpc<pb::RangeRequest, pb::RangeResponse> {
 public:
  using Rpc::Rpc;

 private:
  void answered() override {
    if (answer_bytes(resp) < shared_->release_after_answer_bytes) return;
    {
      // Swapped out and destroyed here: Clear() would keep the kvs for reuse.
      pb::RangeResponse freed;
      freed.Swap(&resp);
    }
    release_after_large_answer(shared_);
  }
};

namespace {

using SharedPtr = std::shared_ptr<KvService::Shared>;
using CallPtr = std::shared_ptr<Call>;

// Registers the RPC; if the service has stopped, answers it at once. Null if
// the request does not parse (answered as gRPC answers that).
template <class R>
std::shared_ptr<R> begin(const SharedPtr& shared, std::shared_ptr<rpc::UnaryCall> rpc,
                         Method method) {
  shared->metrics[static_cast<size_t>(method)].requests->add();
  auto call = std::make_shared<R>(shared, method, std::move(rpc));
  const std::string_view bytes = call->request_bytes();
  if (!call->req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    call->fail(rpc::Status{rpc::StatusCode::kInternal, "grpc: error unmarshalling request"});
    return nullptr;
  }
  bool stopped = false;
  {
    std::lock_guard lock(shared->mu);
    call->set_id(shared->next_call++);
    stopped = shared->stopped;
    if (!stopped) shared->in_flight.emplace(call->id(), call);
  }
  if (stopped) {
    call->fail(stopped_status());
    return nullptr;
  }
  return call;
}

void submit(const SharedPtr& shared, const CallPtr& call, std::function<void()> work) {
  rpc::Status refused;
  {
    std::lock_guard lock(shared->mu);
    if (shared->pool == nullptr) {
      refused = stopped_status();
    } else if (!shared->pool->submit(std::move(work))) {
      refused =
          rpc::Status{rpc::StatusCode::kResourceExhausted, std::string(kTooManyRequestsMessage)};
    }
  }
  if (!refused.ok()) call->fail(refused);
}

}  // namespace

// Queues base::release_free_memory() on the read pool (it walks the heaps: not
// on the I/O thread); answers freed while one is queued share it.
void release_after_large_answer(const SharedPtr& shared) {
  if (shared->release_queued.exchange(true, std::memory_order_acq_rel)) return;
  std::lock_guard lock(shared->mu);
  const bool queued = shared->pool != nullptr && shared->pool->submit([shared] {
    // Cleared first: an answer freed during this release queues the next one.
    shared->release_queued.store(false, std::memory_order_release);
    base::release_free_memory();
    shared->memory_releases->add();
  });
  if (!queued) shared->release_queued.store(false, std::memory_order_release);
}

namespace {

// How much a read may do where it stands (the I/O thread, or the raft thread
// once its ReadIndex round answers) rather than on the read pool: a single-key
// read is a few microseconds, less than handing it to another thread costs.
enum class ReadSize { kSingleKey, kAny };

// Runs `work` (which claims the call) at once, or after a ReadIndex round
// confirms that this node has applied everything committed before now; on the
// read pool unless it is a single-key read. The round's query does nothing: the
// read runs against the store, which by then reflects at least the read index.
void read(const SharedPtr& shared, const CallPtr& call, bool linearizable, ReadSize size,
          std::function<void()> work) {
  const bool here = size == ReadSize::kSingleKey;
  if (!linearizable) {
    if (here) return work();
    submit(shared, call, std::move(work));
    return;
  }
  shared->backend.node->read(
      shared->backend.group, true, [](const node::StateMachine&) { return std::string(); },
      [shared, call, here, work = std::move(work)](base::Result<std::string> r) mutable {
        if (!r.is_ok()) {
          call->fail(node_status(r.status()));
          return;
        }
        if (here) return work();
        submit(shared, call, std::move(work));
      });
}

// The response header of a read: the revision the store put there, else the
// store's current one.
template <class Resp>
void fill_read_header(const KvService::Shared& shared, Resp* resp) {
  const int64_t revision =
      resp->header().revision() != 0 ? resp->header().revision() : shared.store().revision();
  fill_header(resp->mutable_header(), shared.backend, revision);
}

// A physical compaction is answered once the store has deleted what it
// compacted. The wait runs on the read pool, never on the raft thread (the apply
// loop goes on meanwhile); if the pool cannot take it, the answer goes at once
// (the compaction is recorded and finishes in the background).
void wait_for_compaction(const SharedPtr& shared, const CallPtr& call) {
  bool queued = false;
  {
    std::lock_guard lock(shared->mu);
    if (shared->pool != nullptr) {
      queued = shared->pool->submit([shared, call] {
        shared->backend.kv->store().wait_for_compaction();
        call->finish(rpc::Status{});
      });
    }
  }
  if (!queued) call->finish(rpc::Status{});
}

// Proposes the request as a command and answers with the store's response.
template <class Req, class Resp>
void propose(const SharedPtr& shared, const CallPtr& call, kv::CommandType type, const Req& req,
             Resp* resp, bool then_wait_for_compaction = false) {
  std::string command = kv::encode_command(type, req.SerializeAsString());
  shared->backend.node->propose(
      shared->backend.group, std::move(command),
      [shared, call, resp, then_wait_for_compaction](base::Result<node::ProposeResult> r) {
        if (!r.is_ok()) {
          call->fail(node_status(r.status()));
          return;
        }
        if (!call->claim()) return;
        const std::optional<kv::CommandResult> result = kv::decode_result(r.value().result);
        if (!result) return call->finish(kv_status(kv::Errc::kCorrupt));
        if (result->errc != kv::Errc::kOk) return call->finish(kv_status(result->errc));
        if (!resp->ParseFromArray(result->response.data(),
                                  static_cast<int>(result->response.size()))) {
          return call->finish(kv_status(kv::Errc::kCorrupt));
        }
        fill_header(resp->mutable_header(), shared->backend, resp->header().revision());
        if (then_wait_for_compaction) return wait_for_compaction(shared, call);
        call->finish(rpc::Status{});
      });
}

}  // namespace

bool txn_serializable(const pb::TxnRequest& request) {
  for (const auto* branch : {&request.success(), &request.failure()}) {
    for (const pb::RequestOp& op : *branch) {
      if (!op.has_request_range() || !op.request_range().serializable()) return false;
    }
  }
  return true;
}

KvService::KvService(const EtcdServerOptions& options, const EtcdBackend& backend, ReadPool* pool,
                     observe::Registry* metrics)
    : shared_(std::make_shared<Shared>()) {
  shared_->backend = backend;
  shared_->limits = options.limits;
  shared_->registry = metrics;
  shared_->pool = pool;
  for (size_t i = 0; i < kMethods; ++i) {
    const observe::Labels labels{{"method", method_name(static_cast<Method>(i))}};
    shared_->metrics[i].requests = metrics->counter(
        "meridian_etcd_kv_requests_total", "etcd KV requests received, by method.", labels);
    // 100 us to about 13 s: a serializable read of a few keys up to a proposal
    // that waits out a leader election.
    shared_->metrics[i].seconds =
        metrics->histogram("meridian_etcd_kv_request_seconds",
                           "Time from receiving an etcd KV request to answering it.",
                           observe::exponential_buckets(0.0001, 2, 18), labels);
  }
  shared_->memory_releases = metrics->counter(
      "meridian_etcd_memory_releases_total",
      "Times the allocator's free memory was handed back to the kernel after large Range "
      "answers were freed.");
  shared_->release_after_answer_bytes = options.release_after_answer_bytes;
}

KvService::~KvService() { stop(); }

void KvService::stop() {
  std::vector<CallPtr> waiting;
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->stopped) return;
    shared_->stopped = true;
    shared_->pool = nullptr;
    for (const auto& [id, call] : shared_->in_flight) waiting.push_back(call);
  }
  for (const CallPtr& call : waiting) call->fail(stopped_status());
}

namespace {

using PutRpc = Rpc<pb::PutRequest, pb::PutResponse>;
using DeleteRangeRpc = Rpc<pb::DeleteRangeRequest, pb::DeleteRangeResponse>;
using TxnRpc = Rpc<pb::TxnRequest, pb::TxnResponse>;
using CompactRpc = Rpc<pb::CompactionRequest, pb::CompactionResponse>;

void range(const SharedPtr& shared, std::shared_ptr<rpc::UnaryCall> rpc) {
  auto call = begin<RangeRpc>(shared, std::move(rpc), Method::kRange);
  if (call == nullptr) return;
  if (kv::Errc e = kv::validate_range(call->req, shared->limits); e != kv::Errc::kOk) {
    return call->fail(kv_status(e));
  }
  const ReadSize size = call->req.range_end().empty() ? ReadSize::kSingleKey : ReadSize::kAny;
  read(shared, call, !call->req.serializable(), size, [shared, call] {
    if (!call->claim()) return;
    if (kv::Errc e = shared->store().range(call->req, &call->resp); e != kv::Errc::kOk) {
      return call->finish(kv_status(e));
    }
    fill_read_header(*shared, &call->resp);
    call->finish(rpc::Status{});
  });
}

void put(const SharedPtr& shared, std::shared_ptr<rpc::UnaryCall> rpc) {
  auto call = begin<PutRpc>(shared, std::move(rpc), Method::kPut);
  if (call == nullptr) return;
  if (kv::Errc e = kv::validate_put(call->req, shared->limits); e != kv::Errc::kOk) {
    return call->fail(kv_status(e));
  }
  if (!within_quota(shared->backend, shared->limits))
    return call->fail(kv_status(kv::Errc::kNoSpace));
  propose(shared, call, kv::CommandType::kPut, call->req, &call->resp);
}

void delete_range(const SharedPtr& shared, std::shared_ptr<rpc::UnaryCall> rpc) {
  auto call = begin<DeleteRangeRpc>(shared, std::move(rpc), Method::kDeleteRange);
  if (call == nullptr) return;
  if (kv::Errc e = kv::validate_delete_range(call->req, shared->limits); e != kv::Errc::kOk) {
    return call->fail(kv_status(e));
  }
  propose(shared, call, kv::CommandType::kDeleteRange, call->req, &call->resp);
}

void txn(const SharedPtr& shared, std::shared_ptr<rpc::UnaryCall> rpc) {
  auto call = begin<TxnRpc>(shared, std::move(rpc), Method::kTxn);
  if (call == nullptr) return;
  if (kv::Errc e = kv::validate_txn(call->req, shared->limits); e != kv::Errc::kOk) {
    return call->fail(kv_status(e));
  }
  if (!kv::is_read_only(call->req)) {
    if (kv::txn_puts(call->req) && !within_quota(shared->backend, shared->limits)) {
      return call->fail(kv_status(kv::Errc::kNoSpace));
    }
    return propose(shared, call, kv::CommandType::kTxn, call->req, &call->resp);
  }
  read(shared, call, !txn_serializable(call->req), ReadSize::kAny, [shared, call] {
    if (!call->claim()) return;
    if (kv::Errc e = shared->store().read_txn(call->req, &call->resp); e != kv::Errc::kOk) {
      return call->finish(kv_status(e));
    }
    fill_read_header(*shared, &call->resp);
    call->finish(rpc::Status{});
  });
}

void compact(const SharedPtr& shared, std::shared_ptr<rpc::UnaryCall> rpc) {
  auto call = begin<CompactRpc>(shared, std::move(rpc), Method::kCompact);
  if (call == nullptr) return;
  // Nothing to validate before the log: whether the revision is compacted or in
  // the future depends on the store when the command applies.
  propose(shared, call, kv::CommandType::kCompact, call->req, &call->resp, call->req.physical());
}

}  // namespace

void KvService::register_on(rpc::Server& server) {
  using Handler = void (*)(const SharedPtr&, std::shared_ptr<rpc::UnaryCall>);
  const std::pair<const char*, Handler> methods[] = {
      {"/etcdserverpb.KV/Range", &range},
      {"/etcdserverpb.KV/Put", &put},
      {"/etcdserverpb.KV/DeleteRange", &delete_range},
      {"/etcdserverpb.KV/Txn", &txn},
      {"/etcdserverpb.KV/Compact", &compact},
  };
  for (const auto& method : methods) {
    server.add_unary(method.first,
                     [shared = shared_, handler = method.second](
                         std::shared_ptr<rpc::UnaryCall> rpc) { handler(shared, std::move(rpc)); });
  }
}

uint64_t answer_bytes(const pb::RangeResponse& resp) {
  uint64_t bytes = 0;
  for (const mvccpb::KeyValue& kv : resp.kvs()) bytes += kv.key().size() + kv.value().size();
  return bytes;
}

}  // namespace meridian::api
