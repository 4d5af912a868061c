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
// response, which gRPC may free as soon as the RPC is answered.
class Call {
 public:
  Call(KvService::Shared* shared, Method method, grpc::ServerUnaryReactor* reactor, uint64_t id)
      : shared_(shared), method_(method), reactor_(reactor), id_(id), start_(Clock::now()) {}

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  bool claim() { return !claimed_.exchange(true, std::memory_order_acq_rel); }

  void finish(const grpc::Status& status) {
    const MethodMetrics& m = shared_->metrics[static_cast<size_t>(method_)];
    m.seconds->observe(std::chrono::duration<double>(Clock::now() - start_).count());
    if (!status.ok()) {
      shared_->registry
          ->counter("meridian_etcd_kv_errors_total",
                    "etcd KV requests answered with an error, by method and gRPC code.",
                    {{"method", method_name(method_)}, {"code", code_name(status.error_code())}})
          ->add();
    }
    {
      std::lock_guard lock(shared_->mu);
      shared_->in_flight.erase(id_);
    }
    reactor_->Finish(status);
  }

  void fail(const grpc::Status& status) {
    if (claim()) finish(status);
  }

 private:
  // Not owning: a Call is only finished while the service is running or by its
  // stop(), and whoever runs later loses claim() before touching this.
  KvService::Shared* shared_;
  const Method method_;
  grpc::ServerUnaryReactor* const reactor_;
  const uint64_t id_;
  const Clock::time_point start_;
  std::atomic<bool> claimed_{false};
};

namespace {

using SharedPtr = std::shared_ptr<KvService::Shared>;
using CallPtr = std::shared_ptr<Call>;

// Registers the RPC; if the service has stopped, answers it at once.
CallPtr begin(const SharedPtr& shared, grpc::CallbackServerContext* context, Method method) {
  shared->metrics[static_cast<size_t>(method)].requests->add();
  bool stopped = false;
  CallPtr call;
  {
    std::lock_guard lock(shared->mu);
    const uint64_t id = shared->next_call++;
    call = std::make_shared<Call>(shared.get(), method, context->DefaultReactor(), id);
    stopped = shared->stopped;
    if (!stopped) shared->in_flight.emplace(id, call);
  }
  if (stopped) call->fail(stopped_status());
  return call;
}

void submit(const SharedPtr& shared, const CallPtr& call, std::function<void()> work) {
  grpc::Status refused;
  {
    std::lock_guard lock(shared->mu);
    if (shared->pool == nullptr) {
      refused = stopped_status();
    } else if (!shared->pool->submit(std::move(work))) {
      refused =
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, std::string(kTooManyRequestsMessage));
    }
  }
  if (!refused.ok()) call->fail(refused);
}

// Queues base::release_free_memory() on the read pool (it walks the heaps: not
// on a gRPC thread); answers freed while one is queued share it.
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

// How much a read may do where it stands (a gRPC thread, or the raft thread
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
        call->finish(grpc::Status::OK);
      });
    }
  }
  if (!queued) call->finish(grpc::Status::OK);
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
        call->finish(grpc::Status::OK);
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
  range_allocator_ =
      std::make_unique<RangeAllocator>(options.release_after_answer_bytes,
                                       [shared = shared_] { release_after_large_answer(shared); });
  SetMessageAllocatorFor_Range(range_allocator_.get());
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

grpc::ServerUnaryReactor* KvService::Range(grpc::CallbackServerContext* context,
                                           const pb::RangeRequest* request,
                                           pb::RangeResponse* response) {
  CallPtr call = begin(shared_, context, Method::kRange);
  if (kv::Errc e = kv::validate_range(*request, shared_->limits); e != kv::Errc::kOk) {
    call->fail(kv_status(e));
    return call->reactor();
  }
  const ReadSize size = request->range_end().empty() ? ReadSize::kSingleKey : ReadSize::kAny;
  read(shared_, call, !request->serializable(), size, [shared = shared_, call, request, response] {
    if (!call->claim()) return;
    if (kv::Errc e = shared->store().range(*request, response); e != kv::Errc::kOk) {
      return call->finish(kv_status(e));
    }
    fill_read_header(*shared, response);
    call->finish(grpc::Status::OK);
  });
  return call->reactor();
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* context,
                                         const pb::PutRequest* request, pb::PutResponse* response) {
  CallPtr call = begin(shared_, context, Method::kPut);
  if (kv::Errc e = kv::validate_put(*request, shared_->limits); e != kv::Errc::kOk) {
    call->fail(kv_status(e));
    return call->reactor();
  }
  propose(shared_, call, kv::CommandType::kPut, *request, response);
  return call->reactor();
}

grpc::ServerUnaryReactor* KvService::DeleteRange(grpc::CallbackServerContext* context,
                                                 const pb::DeleteRangeRequest* request,
                                                 pb::DeleteRangeResponse* response) {
  CallPtr call = begin(shared_, context, Method::kDeleteRange);
  if (kv::Errc e = kv::validate_delete_range(*request, shared_->limits); e != kv::Errc::kOk) {
    call->fail(kv_status(e));
    return call->reactor();
  }
  propose(shared_, call, kv::CommandType::kDeleteRange, *request, response);
  return call->reactor();
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* context,
                                         const pb::TxnRequest* request, pb::TxnResponse* response) {
  CallPtr call = begin(shared_, context, Method::kTxn);
  if (kv::Errc e = kv::validate_txn(*request, shared_->limits); e != kv::Errc::kOk) {
    call->fail(kv_status(e));
    return call->reactor();
  }
  if (!kv::is_read_only(*request)) {
    propose(shared_, call, kv::CommandType::kTxn, *request, response);
    return call->reactor();
  }
  read(shared_, call, !txn_serializable(*request), ReadSize::kAny,
       [shared = shared_, call, request, response] {
         if (!call->claim()) return;
         if (kv::Errc e = shared->store().read_txn(*request, response); e != kv::Errc::kOk) {
           return call->finish(kv_status(e));
         }
         fill_read_header(*shared, response);
         call->finish(grpc::Status::OK);
       });
  return call->reactor();
}

grpc::ServerUnaryReactor* KvService::Compact(grpc::CallbackServerContext* context,
                                             const pb::CompactionRequest* request,
                                             pb::CompactionResponse* response) {
  CallPtr call = begin(shared_, context, Method::kCompact);
  // Nothing to validate before the log: whether the revision is compacted or in
  // the future depends on the store when the command applies.
  propose(shared_, call, kv::CommandType::kCompact, *request, response, request->physical());
  return call->reactor();
}

}  // namespace meridian::api
