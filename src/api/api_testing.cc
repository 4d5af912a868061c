#include "api/api_testing.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "base/loopback_port.h"
#include "base/strings.h"
#include "node/map_state_machine.h"

namespace meridian::api {

using base::cat;
namespace pb = ::etcdserverpb;

namespace {

constexpr GroupId kGroup{1};
constexpr auto kCallDeadline = std::chrono::seconds(10);

std::unique_ptr<grpc::ClientContext> client_context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return ctx;
}

}  // namespace

pb::RangeRequest range_request(const std::string& key, const std::string& range_end) {
  pb::RangeRequest req;
  req.set_key(key);
  req.set_range_end(range_end);
  return req;
}

pb::PutRequest put_request(const std::string& key, const std::string& value) {
  pb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  return req;
}

EtcdTestCluster::EtcdTestCluster(EtcdTestOptions options) : options_(options) {
  char tmpl[] = "/tmp/meridian-api-test-XXXXXX";
  root_ = ::mkdtemp(tmpl);
  std::map<raft::NodeId, std::string> members;
  std::vector<uint16_t> ports;
  for (int i = 1; i <= options.size; ++i) {
    ports.push_back(base::free_loopback_port());
    members[raft::NodeId{static_cast<uint64_t>(i)}] = cat("127.0.0.1:", ports.back());
  }
  nodes_.resize(options.size);  // never resized again: the factories point into it
  for (int i = 1; i <= options.size; ++i) {
    Member& m = nodes_[i - 1];
    node::NodeOptions& o = m.options;
    o.id = raft::NodeId{static_cast<uint64_t>(i)};
    o.initial_cluster = members;
    o.cluster_token = "api-test";
    o.data_dir = cat(root_, "/node-", i);
    o.listen_peer_port = ports[i - 1];
    o.tick_ms = 20;
    o.election_ticks = options.election_ticks;
    o.proposal_timeout_ms = options.proposal_timeout_ms;
    o.shutdown_transfer_timeout_ms = 3000;
    o.journal_segment_bytes = 1 << 20;
    o.state_machine_factory = [dir = cat(o.data_dir, "/kv"),
                               slot = &m.kv](GroupId g) -> std::unique_ptr<node::StateMachine> {
      if (g != kGroup) return std::make_unique<node::MapStateMachine>();
      kv::StoreOptions so;
      so.dir = dir;
      so.block_cache_bytes = 8 << 20;
      auto store = kv::MvccStore::open(so);
      MERIDIAN_ASSERT(store.is_ok(), "opening the test store ", dir, ": ", store.status());
      auto machine = std::make_unique<kv::KvStateMachine>(std::move(store).value());
      *slot = machine.get();
      return machine;
    };
  }
}

EtcdTestCluster::~EtcdTestCluster() {
  for (int i = 1; i <= size(); ++i) stop(i);
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

uint64_t EtcdTestCluster::cluster_id() const {
  return node::cluster_id_for_token(nodes_.front().options.cluster_token);
}

int EtcdTestCluster::start(std::chrono::milliseconds timeout) {
  for (Member& m : nodes_) {
    m.metrics = std::make_unique<observe::Registry>();
    auto n = node::Node::start(m.options, m.metrics.get());
    if (!n.is_ok()) {
      ADD_FAILURE() << "node " << m.options.id << ": " << n.status();
      return 0;
    }
    m.node = std::move(n).value();
  }
  for (Member& m : nodes_) {
    EtcdServerOptions so;
    so.listen_port = 0;
    so.limits = options_.limits;
    so.release_after_answer_bytes = options_.release_after_answer_bytes;
    so.election_timeout_ms = m.options.tick_ms * static_cast<uint32_t>(m.options.election_ticks);
    const EtcdBackend backend{m.node.get(), kGroup, m.kv, cluster_id(), m.options.id.value()};
    auto s = EtcdServer::start(so, backend, m.metrics.get());
    if (!s.is_ok()) {
      ADD_FAILURE() << "server of node " << m.options.id << ": " << s.status();
      return 0;
    }
    m.server = std::move(s).value();
    m.stub = pb::KV::NewStub(grpc::CreateChannel(cat("127.0.0.1:", m.server->port()),
                                                 grpc::InsecureChannelCredentials()));
  }
  return wait_leader(timeout);
}

int EtcdTestCluster::wait_leader(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    raft::NodeId agreed = raft::kNoNode;
    bool all = true;
    for (Member& m : nodes_) {
      if (!m.node) continue;
      const raft::NodeId l = m.node->leader(kGroup);
      if (l == raft::kNoNode || (agreed != raft::kNoNode && l != agreed)) {
        all = false;
        break;
      }
      agreed = l;
    }
    if (all && agreed != raft::kNoNode) {
      const int i = static_cast<int>(agreed.value());
      if (nodes_[i - 1].node) {
        for (const node::GroupStatus& g : nodes_[i - 1].node->status().groups) {
          if (g.group == kGroup && g.role == raft::Role::kLeader) return i;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

void EtcdTestCluster::stop_server(int i) {
  Member& m = nodes_[i - 1];
  m.stub.reset();
  if (m.server) m.server->stop();
  m.server.reset();
}

void EtcdTestCluster::stop(int i) {
  stop_server(i);
  Member& m = nodes_[i - 1];
  if (m.node) m.node->stop();
  m.node.reset();
  m.kv = nullptr;
}

bool EtcdTestCluster::wait_revision(int i, int64_t revision, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (store(i).revision() >= revision) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

grpc::Status EtcdTestCluster::put(int i, const pb::PutRequest& req, pb::PutResponse* resp) {
  return kv(i).Put(client_context().get(), req, resp);
}

grpc::Status EtcdTestCluster::range(int i, const pb::RangeRequest& req, pb::RangeResponse* resp) {
  return kv(i).Range(client_context().get(), req, resp);
}

grpc::Status EtcdTestCluster::delete_range(int i, const pb::DeleteRangeRequest& req,
                                           pb::DeleteRangeResponse* resp) {
  return kv(i).DeleteRange(client_context().get(), req, resp);
}

grpc::Status EtcdTestCluster::txn(int i, const pb::TxnRequest& req, pb::TxnResponse* resp) {
  return kv(i).Txn(client_context().get(), req, resp);
}

grpc::Status EtcdTestCluster::compact(int i, const pb::CompactionRequest& req,
                                      pb::CompactionResponse* resp) {
  return kv(i).Compact(client_context().get(), req, resp);
}

grpc::Status EtcdTestCluster::put(int i, const std::string& key, const std::string& value,
                                  pb::PutResponse* resp) {
  pb::PutResponse ignored;
  return put(i, put_request(key, value), resp != nullptr ? resp : &ignored);
}

grpc::Status EtcdTestCluster::get(int i, const std::string& key, pb::RangeResponse* resp,
                                  bool serializable) {
  pb::RangeRequest req = range_request(key);
  req.set_serializable(serializable);
  return range(i, req, resp);
}

}  // namespace meridian::api
