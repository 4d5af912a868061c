#include "admin/routes.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "admin/http_testing.h"
#include "kv/kv_state_machine.h"
#include "kv/mvcc_store.h"

namespace meridian::admin {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

struct Got {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// One real node (a single-member cluster on 127.0.0.1) behind the admin routes.
class RoutesTest : public testing::Test {
 protected:
  // The node's state machines: the default map, unless a test sets this first.
  virtual void tweak(node::NodeOptions& /*o*/) {}

  void SetUp() override {
    char tmpl[] = "/tmp/meridian-admin-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    node::NodeOptions o;
    o.id = raft::NodeId(1);
    o.initial_cluster = {{raft::NodeId(1), "127.0.0.1:1"}};  // port unused by a lone member
    o.cluster_token = "admin-test";
    o.data_dir = dir_ + "/node";
    o.listen_peer_port = 0;
    o.tick_ms = 10;
    o.election_ticks = 10;
    o.proposal_timeout_ms = 2000;
    o.shutdown_transfer_timeout_ms = 100;
    tweak(o);
    auto n = node::Node::start(o, &registry_);
    ASSERT_TRUE(n.is_ok()) << n.status();
    node_ = std::move(n).value();
    server_ = std::make_unique<HttpServer>(HttpServerOptions{.host = "127.0.0.1", .port = 0});
    install_routes(server_.get(), node_.get(), &registry_);
    ASSERT_TRUE(server_->start(io_).is_ok());
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    server_.reset();
    if (node_) node_->stop();
    node_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Got call(const std::string& method, const std::string& target, const std::string& body = "") {
    TestClient client(server_->port());
    auto res = client.exchange(TestClient::request_text(method, target, body));
    if (!res) return {};
    return {res->status, res->header("content-type"), res->body};
  }

  // Polls /ready (bounded): a lone member elects itself within a few election timeouts.
  bool wait_ready() {
    for (int i = 0; i < 300; ++i) {
      if (call("GET", "/ready").status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string dir_;
  observe::Registry registry_;
  std::unique_ptr<node::Node> node_;
  asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread io_thread_;
};

TEST_F(RoutesTest, HealthReadyStatusAndMetrics) {
  Got health = call("GET", "/health");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, "ok");
  ASSERT_TRUE(wait_ready());

  Got status = call("GET", "/v1/status");
  ASSERT_EQ(status.status, 200u);
  EXPECT_EQ(status.content_type, "application/json");
  const json j = json::parse(status.body);
  EXPECT_EQ(j["node"], 1);
  ASSERT_EQ(j["groups"].size(), 1u);
  const json& g = j["groups"][0];
  EXPECT_EQ(g["group"], 1);
  EXPECT_EQ(g["role"], "leader");
  EXPECT_EQ(g["leader"], 1);
  EXPECT_EQ(g["members"]["voters"], json::array({1}));
  EXPECT_TRUE(g.contains("match"));

  Got metrics = call("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  for (const char* want :
       {"meridian_raft_is_leader{group=\"1\"} 1\n", "# TYPE meridian_raft_term gauge\n",
        "# TYPE meridian_node_journal_syncs_total counter\n",
        "# TYPE meridian_raft_leader_changes_total counter\n", "meridian_node_storage_failed 0\n",
        "meridian_raft_role{group=\"1\"} 3\n", "meridian_process_resident_memory_bytes "}) {
    EXPECT_NE(metrics.body.find(want), std::string::npos) << want << "\n" << metrics.body;
  }
}

TEST_F(RoutesTest, PutGetDeleteThroughTheMap) {
  ASSERT_TRUE(wait_ready());
  Got put = call("PUT", "/v1/kv/a%20b", "value 1");
  ASSERT_EQ(put.status, 200u) << put.body;
  EXPECT_GT(json::parse(put.body)["index"].get<uint64_t>(), 0u);

  Got get = call("GET", "/v1/kv/a%20b");
  EXPECT_EQ(get.status, 200u);
  EXPECT_EQ(get.body, "value 1");
  get = call("GET", "/v1/kv/a%20b?serializable=1");
  EXPECT_EQ(get.body, "value 1");

  Got del = call("DELETE", "/v1/kv/a%20b");
  ASSERT_EQ(del.status, 200u) << del.body;
  EXPECT_EQ(json::parse(del.body)["deleted"], true);
  del = call("DELETE", "/v1/kv/a%20b");
  EXPECT_EQ(json::parse(del.body)["deleted"], false);

  Got absent = call("GET", "/v1/kv/a%20b");
  EXPECT_EQ(absent.status, 404u);
  EXPECT_EQ(json::parse(absent.body)["code"], "not found");
}

// The same routes over the etcd store (group 1 of `meridian start`).
class KvRoutesTest : public RoutesTest {
 protected:
  void tweak(node::NodeOptions& o) override {
    o.state_machine_factory = [dir = dir_](GroupId) -> std::unique_ptr<node::StateMachine> {
      auto store = kv::MvccStore::open(kv::StoreOptions{.dir = dir + "/kv"});
      EXPECT_TRUE(store.is_ok()) << store.status();
      return std::make_unique<kv::KvStateMachine>(std::move(store).value());
    };
  }
};

TEST_F(KvRoutesTest, PutGetDeleteThroughTheEtcdStore) {
  ASSERT_TRUE(wait_ready());
  Got put = call("PUT", "/v1/kv/a%20b", "value 1");
  ASSERT_EQ(put.status, 200u) << put.body;
  EXPECT_EQ(json::parse(put.body)["revision"], 2);  // an etcd store starts at revision 1
  put = call("PUT", "/v1/kv/a%20b", "value 2");
  EXPECT_EQ(json::parse(put.body)["revision"], 3);

  Got get = call("GET", "/v1/kv/a%20b");
  EXPECT_EQ(get.status, 200u);
  EXPECT_EQ(get.body, "value 2");
  EXPECT_EQ(call("GET", "/v1/kv/a%20b?serializable=1").body, "value 2");

  Got del = call("DELETE", "/v1/kv/a%20b");
  ASSERT_EQ(del.status, 200u) << del.body;
  EXPECT_EQ(json::parse(del.body)["deleted"], true);
  EXPECT_EQ(json::parse(del.body)["revision"], 4);
  del = call("DELETE", "/v1/kv/a%20b");
  EXPECT_EQ(json::parse(del.body)["deleted"], false);
  EXPECT_EQ(call("GET", "/v1/kv/a%20b").status, 404u);
}

TEST_F(RoutesTest, BadRequestsAndUnknownGroups) {
  EXPECT_EQ(call("PUT", "/v1/kv/", "v").status, 400u);
  EXPECT_EQ(call("GET", "/v1/kv/%zz").status, 400u);
  Got bad_group = call("GET", "/v1/kv/k?group=x");
  EXPECT_EQ(bad_group.status, 400u);
  EXPECT_EQ(json::parse(bad_group.body)["code"], "invalid argument");
  EXPECT_EQ(call("PUT", "/v1/kv/k?group=9", "v").status, 404u);
  EXPECT_EQ(call("POST", "/v1/transfer-leader").status, 400u);
  EXPECT_EQ(call("POST", "/v1/transfer-leader?to=2&group=9").status, 404u);
  Got ok = call("POST", "/v1/transfer-leader?to=1");
  EXPECT_EQ(ok.status, 202u);
  EXPECT_EQ(json::parse(ok.body), json({{"group", 1}, {"to", 1}}));
}

TEST_F(RoutesTest, AStoppedNodeAnswers503) {
  ASSERT_TRUE(wait_ready());
  node_->stop();
  Got health = call("GET", "/health");
  EXPECT_EQ(health.status, 503u);
  Got put = call("PUT", "/v1/kv/k", "v");
  EXPECT_EQ(put.status, 503u);
  const json j = json::parse(put.body);
  EXPECT_EQ(j["code"], "unavailable");
  EXPECT_FALSE(j["error"].get<std::string>().empty());
}

}  // namespace
}  // namespace meridian::admin
