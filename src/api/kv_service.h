// KvService: etcdserverpb.KV (Range, Put, DeleteRange, Txn, Compact) as unary
// methods of the client port's rpc::Server.
//
// Writes (Put, DeleteRange, a Txn that writes, Compact) are validated here
// (kv/validate.h: an invalid request gets etcd's error and is never proposed),
// proposed to the coordination group as kv/command.h commands, and answered with
// the response the store produced when the entry was applied on this node.
// Reads (Range, a read-only Txn) run on the ReadPool against this node's store:
// at once when serializable, after a ReadIndex round of the group when
// linearizable (the round only confirms this node has applied everything
// committed before the read began; the read itself never runs on the raft thread).
// Every response header is filled as etcd fills it (api/response_header.h).
//
// Lifetime: one request may be answered by the node's raft thread, a pool thread
// or stop(), whichever comes first; the others then do nothing. Node callbacks
// may run after the service is gone: they hold only shared state. stop() answers
// every request still waiting with "etcdserver: server stopped" and refuses new
// ones; call it before the node stops. Handlers run on the server's I/O thread.
#pragma once

#include <memory>

#include "api/etcd_server.h"
#include "api/read_pool.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "rpc/server.h"

namespace meridian::api {

class KvService {
 public:
  // `pool` and `metrics` must outlive the service's stop().
  KvService(const EtcdServerOptions& options, const EtcdBackend& backend, ReadPool* pool,
            observe::Registry* metrics);
  ~KvService();  // stop()
  KvService(const KvService&) = delete;
  KvService& operator=(const KvService&) = delete;

  // Adds the five methods to `server`.
  void register_on(rpc::Server& server);

  void stop();  // idempotent

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

// The bytes of the keys and values of a Range answer (what its allocations
// hold): an answer of at least EtcdServerOptions::release_after_answer_bytes is
// followed, once freed, by handing the allocator's free memory back to the
// kernel (base::release_free_memory), so that a Range over a million keys
// leaves the node no larger than before it.
uint64_t answer_bytes(const etcdserverpb::RangeResponse& resp);

// True if a read-only Txn may be served without a ReadIndex round: etcd serves
// it so when every op of both branches is a serializable range (vacuously so for
// a txn without ops), and reads linearizably otherwise.
bool txn_serializable(const etcdserverpb::TxnRequest& request);

}  // namespace meridian::api
