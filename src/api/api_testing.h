// Test support for the etcd API: a cluster of real nodes in one process, each
// with its own data directory under a temporary folder and its own peer port on
// 127.0.0.1, group 1 running a KvStateMachine (RocksDB under the node's data
// dir), an EtcdServer per node on a free port, and a real gRPC client (a KV stub
// over a channel to 127.0.0.1:port) per node. Calls block with a deadline.
// One test thread drives it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "api/etcd_server.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "kv/kv_state_machine.h"
#include "node/node.h"
#include "observe/metrics.h"

namespace meridian::api {

struct EtcdTestOptions {
  int size = 3;
  kv::Limits limits;
  uint32_t proposal_timeout_ms = 3000;
  int election_ticks = 10;  // of 20 ms
  uint64_t release_after_answer_bytes = 4ull << 20;
};

class EtcdTestCluster {
 public:
  explicit EtcdTestCluster(EtcdTestOptions options = {});
  ~EtcdTestCluster();  // stops whatever runs, removes the directory
  EtcdTestCluster(const EtcdTestCluster&) = delete;
  EtcdTestCluster& operator=(const EtcdTestCluster&) = delete;

  // Starts every node, then every server; then waits (up to `timeout`) until one
  // node leads group 1 with all others agreeing. Returns that node (1-based), or
  // 0 after an error (ADD_FAILURE names it).
  int start(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The node all running nodes agree leads group 1, waiting up to `timeout`; 0 if none.
  int wait_leader(std::chrono::milliseconds timeout);
  // Stops node i's server, then the node (gracefully).
  void stop(int i);
  void stop_server(int i);

  int size() const { return static_cast<int>(nodes_.size()); }
  node::Node& node(int i) { return *nodes_[i - 1].node; }
  kv::MvccStore& store(int i) { return nodes_[i - 1].kv->store(); }
  EtcdServer& server(int i) { return *nodes_[i - 1].server; }
  observe::Registry& metrics(int i) { return *nodes_[i - 1].metrics; }
  etcdserverpb::KV::Stub& kv(int i) { return *nodes_[i - 1].stub; }
  uint64_t cluster_id() const;

  // Blocking calls to node i's server, with a deadline of a few seconds.
  grpc::Status put(int i, const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp);
  grpc::Status range(int i, const etcdserverpb::RangeRequest& req,
                     etcdserverpb::RangeResponse* resp);
  grpc::Status delete_range(int i, const etcdserverpb::DeleteRangeRequest& req,
                            etcdserverpb::DeleteRangeResponse* resp);
  grpc::Status txn(int i, const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp);
  grpc::Status compact(int i, const etcdserverpb::CompactionRequest& req,
                       etcdserverpb::CompactionResponse* resp);
  // Shorthands: put key=value; the range of one key (linearizable unless asked).
  grpc::Status put(int i, const std::string& key, const std::string& value,
                   etcdserverpb::PutResponse* resp = nullptr);
  grpc::Status get(int i, const std::string& key, etcdserverpb::RangeResponse* resp,
                   bool serializable = false);

  // Waits until node i's store reaches `revision`.
  bool wait_revision(int i, int64_t revision, std::chrono::milliseconds timeout);

 private:
  struct Member {
    node::NodeOptions options;
    std::unique_ptr<observe::Registry> metrics;
    std::unique_ptr<node::Node> node;
    kv::KvStateMachine* kv = nullptr;  // group 1's machine, owned by the node
    std::unique_ptr<EtcdServer> server;
    std::unique_ptr<etcdserverpb::KV::Stub> stub;
  };

  std::string root_;
  EtcdTestOptions options_;
  std::vector<Member> nodes_;
};

// A key range request of one key, or of [key, range_end).
etcdserverpb::RangeRequest range_request(const std::string& key, const std::string& range_end = "");
etcdserverpb::PutRequest put_request(const std::string& key, const std::string& value);

}  // namespace meridian::api
