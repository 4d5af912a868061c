// KvService: etcdserverpb.KV (Range, Put, DeleteRange, Txn, Compact) on gRPC's
// callback API.
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
// or stop(), whichever comes first; the others then do nothing (and touch neither
// the request nor the response, which gRPC frees once answered). Node callbacks
// may run after the service is gone: they hold only shared state. stop() answers
// every request still waiting with "etcdserver: server stopped" and refuses new
// ones; call it before the node stops. Handlers run on gRPC's threads.
#pragma once

#include <memory>

#include "api/etcd_server.h"
#include "api/range_allocator.h"
#include "api/read_pool.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace meridian::api {

class KvService final : public etcdserverpb::KV::CallbackService {
 public:
  // `pool` and `metrics` must outlive the service's stop().
  KvService(const EtcdServerOptions& options, const EtcdBackend& backend, ReadPool* pool,
            observe::Registry* metrics);
  ~KvService() override;  // stop()

  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* context,
                                  const etcdserverpb::RangeRequest* request,
                                  etcdserverpb::RangeResponse* response) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const etcdserverpb::PutRequest* request,
                                etcdserverpb::PutResponse* response) override;
  grpc::ServerUnaryReactor* DeleteRange(grpc::CallbackServerContext* context,
                                        const etcdserverpb::DeleteRangeRequest* request,
                                        etcdserverpb::DeleteRangeResponse* response) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* context,
                                const etcdserverpb::TxnRequest* request,
                                etcdserverpb::TxnResponse* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* context,
                                    const etcdserverpb::CompactionRequest* request,
                                    etcdserverpb::CompactionResponse* response) override;

  void stop();  // idempotent

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<RangeAllocator> range_allocator_;
};

// True if a read-only Txn may be served without a ReadIndex round: etcd serves
// it so when every op of both branches is a serializable range (vacuously so for
// a txn without ops), and reads linearizably otherwise.
bool txn_serializable(const etcdserverpb::TxnRequest& request);

}  // namespace meridian::api
