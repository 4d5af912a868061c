// StoreClient: what etcd's Lock and Election services do through an etcd
// client, done inside the member. etcd serves v3lockpb and v3electionpb as a
// client of itself (its clientv3/concurrency package over an in-process
// client); Meridian runs the same steps directly: transactions are proposed to
// the coordination group as KvService proposes them, reads are linearizable
// (a ReadIndex round, then the read on the ReadPool), and waiting for a key to
// be deleted is a watcher on the member's kv::WatchHub, so a waiting request
// holds no thread and costs one watcher.
//
// All results come back as callbacks with the gRPC status to answer with:
// store and validation errors as etcd's services answer them (code UNKNOWN with
// etcd's message: etcd's client turns a server error into an error value that
// its gRPC server then sends as UNKNOWN), cluster conditions (no leader, timed
// out, stopped) as the KV service answers them (UNAVAILABLE: worth a retry).
//
// Threads: every method from any thread. Callbacks run on the raft thread
// (proposals), a ReadPool thread (reads) or the hub's delivery thread
// (watches), never under a lock of this class; they must be quick and must
// not block. stop() (not from a callback) ends the watches and refuses new
// reads and watches; proposals still go to the node, so that a request the
// server abandons can still undo what it did. Callbacks may run after the
// StoreClient is gone: they hold only shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/etcd_server.h"
#include "api/read_pool.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "kv/watch_hub.h"
#include "rpc/server.h"

namespace meridian::api {

// A result: `value` is meaningful when `status` is OK.
template <class T>
using Reply = std::function<void(rpc::Status status, T value)>;

// etcd's concurrency errors, as its services send them (code UNKNOWN).
rpc::Status client_error(std::string_view message);

// A lock or election key: the prefix and the lease id in lowercase hex without
// padding (etcd formats it with %x).
std::string lease_key(const std::string& prefix, int64_t lease);
// The end of the range of every key starting with `prefix` (etcd's
// GetPrefixRangeEnd: the prefix with its last byte below 0xff incremented).
std::string prefix_end(const std::string& prefix);
// The key under `prefix` created first (etcd's WithFirstCreate: sort by create
// revision ascending, limit 1).
etcdserverpb::RangeRequest first_created(const std::string& prefix);
// The compare "create revision of `key` == revision" (0: the key is absent).
etcdserverpb::Compare create_revision_is(const std::string& key, int64_t revision);
// A transaction's ops.
etcdserverpb::RequestOp put_op(const std::string& key, const std::string& value, int64_t lease);
etcdserverpb::RequestOp range_op(etcdserverpb::RangeRequest req);
etcdserverpb::RequestOp delete_op(const std::string& key);

// Parses a unary call's request; answers INTERNAL (as gRPC does) if it does not.
template <class Req>
bool parse_request(rpc::UnaryCall& call, Req* req) {
  const std::string_view bytes = call.request();
  if (req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
  call.finish({rpc::StatusCode::kInternal, "grpc: error unmarshalling request"}, {});
  return false;
}

class StoreClient {
 public:
  // Waiting requests (each one watch) at once on a member: far more than a
  // deployment's locks and elections have waiters, few enough that their
  // memory (a watcher and a pending request each, well under a KiB) stays small.
  static constexpr size_t kWatchesMax = 100000;

  StoreClient(const EtcdBackend& backend, const kv::Limits& limits, ReadPool* pool,
              kv::WatchHub* hub);
  ~StoreClient();  // stop()
  StoreClient(const StoreClient&) = delete;
  StoreClient& operator=(const StoreClient&) = delete;

  // Proposes the transaction (validated first, as the KV service does).
  void txn(const etcdserverpb::TxnRequest& req, Reply<etcdserverpb::TxnResponse> reply);
  void delete_key(const std::string& key, Reply<etcdserverpb::DeleteRangeResponse> reply);
  // A linearizable range.
  void range(const etcdserverpb::RangeRequest& req, Reply<etcdserverpb::RangeResponse> reply);
  // Grants a lease of `ttl` seconds under an id made here: etcd's session does
  // this when a Lock or Campaign names lease 0 (and never keeps it alive).
  void grant_lease(int64_t ttl, Reply<int64_t> reply);

  // Watches [key, range_end) (range_end empty: the key) from `start_revision`:
  // `fn` gets every response of the watcher with events, and a last one with
  // canceled set if the hub ends it (compact_revision set: its start revision
  // was compacted) or stop() does. Runs on the hub's delivery thread, one call
  // at a time; a call already under way may finish after unwatch(). Sets *id
  // and returns OK, or returns why not: stopped, or kWatchesMax watches open.
  using WatchFn = std::function<void(const etcdserverpb::WatchResponse&)>;
  rpc::Status watch(const std::string& key, const std::string& range_end, int64_t start_revision,
                    WatchFn fn, int64_t* id);
  void unwatch(int64_t id);

  // etcd's waitDeletes: waits until no key under `prefix` has a create
  // revision at or below `max_create_revision`, by watching the newest of them
  // until it is deleted, then looking again. `done` gets the header of the
  // last look (no older key left), or the error that ended the wait. cancel()
  // stops it; `done` is then not called unless it was already running.
  class DeleteWait {
   public:
    virtual ~DeleteWait() = default;
    virtual void cancel() = 0;
  };
  std::shared_ptr<DeleteWait> wait_deletes(const std::string& prefix, int64_t max_create_revision,
                                           Reply<etcdserverpb::ResponseHeader> done);

  void stop();  // idempotent

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace meridian::api
