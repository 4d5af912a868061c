// EtcdServer: the etcd v3 gRPC API on the client port (2379 by default), served
// by rpc::Server (gRPC over HTTP/2) on a thread of its own ("etcd-api"):
// etcdserverpb.KV (Range, Put, DeleteRange, Txn, Compact), etcdserverpb.Watch,
// etcdserverpb.Lease and most of Maintenance, wire-compatible with etcd 3.4/3.5
// clients.
//
// Every node serves every request. Writes are proposed to the coordination
// group through the node (a follower forwards them to the leader) and answered
// when applied here. Ranges are linearizable by default (a ReadIndex round, then
// the read at the revision the store had once it caught up) and served from the
// local store when serializable. Read work runs on a small pool of threads, never
// on the node's raft thread. Response headers carry the cluster id, this
// member's id, the store revision and the group's Raft term, as etcd's do.
// Errors are etcd's gRPC codes and messages (kv/errors.h, api/grpc_errors.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "kv/kv_state_machine.h"
#include "kv/validate.h"
#include "node/node.h"
#include "observe/metrics.h"

namespace meridian::api {

struct EtcdServerOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 2379;  // 0: any free port (tests)
  kv::Limits limits;
  uint32_t read_threads = 2;  // the pool that runs Range and read-only Txn
  // Watch: events queued for one watch stream beyond this many bytes make the
  // stream's watchers fall back to catching up from the store.
  uint64_t watch_stream_queue_bytes = 4ull << 20;
  uint32_t progress_notify_ms = 600000;  // etcd's default: 10 minutes
  // Range answers of at least this many key and value bytes are followed, once
  // serialized and freed, by handing the allocator's free memory back to the
  // kernel (kv_service.h, answer_bytes).
  uint64_t release_after_answer_bytes = 4ull << 20;
  // Meridian's version, appended to the etcd API level in Maintenance/Status
  // (api/maintenance_service.h); empty: the API level alone.
  std::string server_version;
  // The coordination group's election timeout: the minimum lease TTL is 1.5
  // of it (api/lease_service.h), as etcd's.
  uint32_t election_timeout_ms = 1000;
  // How often the leader looks for expired leases (api/lease_keeper.h).
  uint32_t lease_check_ms = 50;
  // What this member publishes of itself (api/member_publisher.h); no client
  // URLs: http://<listen address> of the client port.
  std::string member_name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  // Promote every learner to voter as soon as it has caught up, not only those
  // added with Meridian's auto-promote option (api/learner_promoter.h); the
  // leader checks every learner_check_ms.
  bool auto_promote_learners = false;
  uint32_t learner_check_ms = 500;
  // The initial members' peer URLs, listed for members not yet published.
  std::map<uint64_t, std::string> initial_peer_urls;
};

// What the services need from the node. The server does not own them; stop()
// the server before the node stops.
struct EtcdBackend {
  node::Node* node = nullptr;
  GroupId group{1};                  // the coordination group
  kv::KvStateMachine* kv = nullptr;  // that group's state machine on this node
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
};

class EtcdServer {
 public:
  static base::Result<std::unique_ptr<EtcdServer>> start(const EtcdServerOptions& options,
                                                         EtcdBackend backend,
                                                         observe::Registry* metrics);
  ~EtcdServer();  // stop()
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // Ends every stream (watchers see the stream close, as when etcd stops) and
  // waits for handlers to finish. Idempotent.
  void stop();
  uint16_t port() const;

  struct Impl;

 private:
  explicit EtcdServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::api
