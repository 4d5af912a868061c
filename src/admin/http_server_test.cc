#include "admin/http_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "admin/http_testing.h"

namespace meridian::admin {
namespace {

namespace asio = boost::asio;

// A server on 127.0.0.1, any port, with its io_context run by one thread.
class ServerFixture : public testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_.emplace(options);
    add_routes(*server_);
    ASSERT_TRUE(server_->start(io_).is_ok());
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    for (auto& t : repliers_) t.join();
  }

  void add_routes(HttpServer& s) {
    s.route("GET", "/hello", [](const HttpRequest& req, Reply reply) {
      std::string body = "hello";
      for (const auto& [k, v] : req.query) body += " " + k + "=" + v;
      reply({.body = body});
    });
    s.route("PUT", "/echo", [](const HttpRequest& req, Reply reply) {
      reply(
          json_response(201, "{\"method\":\"" + req.method + "\",\"body\":\"" + req.body + "\"}"));
    });
    s.route("GET", "/echo", [](const HttpRequest&, Reply reply) { reply({.body = "get"}); });
    s.route("GET", "/slow", [this](const HttpRequest&, Reply reply) {
      // Replies later, from another thread (as a Raft round trip would).
      repliers_.emplace_back([reply] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        reply({.status = 202, .body = "late"});
      });
    });
    s.route("GET", "/drop", [](const HttpRequest&, const Reply&) {});
    s.route_prefix("GET", "/v1/kv/",
                   [](const HttpRequest& req, Reply reply) { reply({.body = "kv " + req.path}); });
    s.route_prefix("GET", "/v1/kv/special/", [](const HttpRequest& req, Reply reply) {
      reply({.body = "special " + req.path});
    });
    s.route_prefix("DELETE", "/v1/kv/",
                   [](const HttpRequest&, Reply reply) { reply({.body = "deleted"}); });
  }

  TestClient connect() { return TestClient(server_->port()); }
  std::optional<TestResponse> request(const std::string& raw) { return connect().exchange(raw); }

  asio::io_context io_;
  std::optional<HttpServer> server_;
  std::thread thread_;
  std::vector<std::thread> repliers_;  // only touched on the server's one io thread
};

TEST_F(ServerFixture, GetReturnsTheHandlersResponseWithDecodedQuery) {
  start();
  auto res = request("GET /hello?a=1&b=x%20y+z HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(res->body, "hello a=1 b=x y z");
  EXPECT_EQ(res->header("content-type"), "text/plain; charset=utf-8");
}

TEST_F(ServerFixture, PutCarriesItsBody) {
  start();
  auto res = request("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nvalue");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201u);
  EXPECT_EQ(res->header("content-type"), "application/json");
  EXPECT_EQ(res->body, "{\"method\":\"PUT\",\"body\":\"value\"}");
}

TEST_F(ServerFixture, ChunkedBodiesAreDecoded) {
  start();
  auto res = request(
      "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "{\"method\":\"PUT\",\"body\":\"abcde\"}");
}

TEST_F(ServerFixture, UnknownPathIs404AndOtherMethodIs405WithAllow) {
  start();
  auto res = request("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404u);
  res = request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405u);
  EXPECT_EQ(res->header("allow"), "PUT, GET");
  res = request("PUT /v1/kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405u);
  EXPECT_EQ(res->header("allow"), "GET, DELETE");
}

TEST_F(ServerFixture, LongestPrefixWins) {
  start();
  auto res = request("GET /v1/kv/a%2Fb HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "kv /v1/kv/a%2Fb");  // the path is not decoded
  res = request("GET /v1/kv/special/x HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "special /v1/kv/special/x");
  res = request("DELETE /v1/kv/special/x HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "deleted");
}

TEST_F(ServerFixture, TooLargeBodyIs413AndCloses) {
  start({.max_body_bytes = 16});
  TestClient s = connect();
  auto res = s.exchange("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n" +
                        std::string(40, 'x'));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413u);
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(s.closed_by_server());
}

TEST_F(ServerFixture, TooLargeChunkedBodyIs413) {
  start({.max_body_bytes = 16});
  auto res = request("PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     std::string("14\r\n") + std::string(20, 'x') + "\r\n0\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413u);
}

TEST_F(ServerFixture, ExpectContinueGetsA100First) {
  start();
  TestClient s = connect();
  s.send("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  const std::string interim = s.read_head();
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << interim;
  auto res = s.exchange("ok");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "{\"method\":\"PUT\",\"body\":\"ok\"}");
}

TEST_F(ServerFixture, ReplyFromAnotherThreadLater) {
  start();
  TestClient s = connect();
  auto res = s.exchange("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202u);
  EXPECT_EQ(res->body, "late");
  // The connection stays usable after a late reply.
  res = s.exchange("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "hello");
}

TEST_F(ServerFixture, AReplySlowerThanTheIdleTimeoutStillArrives) {
  start({.idle_timeout_ms = 20});  // /slow answers after 50 ms
  auto res = request("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "late");
}

TEST_F(ServerFixture, DroppedReplyIs500) {
  start();
  auto res = request("GET /drop HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500u);
}

TEST_F(ServerFixture, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  TestClient s = connect();
  auto a = s.exchange("GET /hello?n=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->keep_alive());
  auto b = s.exchange("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nz");
  ASSERT_TRUE(b);
  EXPECT_EQ(a->body, "hello n=1");
  EXPECT_EQ(b->body, "{\"method\":\"PUT\",\"body\":\"z\"}");
  // Connection: close is honoured.
  auto c = s.exchange("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->keep_alive());
  EXPECT_TRUE(s.closed_by_server());
}

TEST_F(ServerFixture, MalformedRequestIs400AndCloses) {
  start();
  TestClient s = connect();
  auto res = s.exchange("THIS IS NOT HTTP\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400u);
  EXPECT_TRUE(s.closed_by_server());
  res = request("GET /hello?a=%zz HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400u);
}

TEST_F(ServerFixture, IdleConnectionsClose) {
  start({.idle_timeout_ms = 100});
  TestClient s = connect();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.closed_by_server());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST_F(ServerFixture, ConnectionsBeyondTheLimitAreClosed) {
  start({.max_connections = 1});
  TestClient first = connect();
  ASSERT_TRUE(first.exchange("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  TestClient second = connect();
  EXPECT_TRUE(second.closed_by_server());
  // The first connection still works.
  ASSERT_TRUE(first.exchange("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
}

TEST_F(ServerFixture, StopClosesOpenConnections) {
  start();
  TestClient s = connect();
  ASSERT_TRUE(s.exchange("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  server_->stop();
  EXPECT_TRUE(s.closed_by_server());
}

TEST(HttpServer, BindFailureNamesTheAddress) {
  asio::io_context io;
  HttpServer a({.host = "127.0.0.1", .port = 0});
  ASSERT_TRUE(a.start(io).is_ok());
  HttpServer b({.host = "127.0.0.1", .port = a.port()});
  const base::Status s = b.start(io);
  EXPECT_EQ(s.code(), base::Code::kUnavailable);
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(a.port())), std::string::npos)
      << s.message();
}

TEST(HttpServer, PercentDecode) {
  EXPECT_EQ(percent_decode("a%2Fb%20c+d"), "a/b c+d");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%41%4a%4A"), "AJJ");
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("%g0"));
}

}  // namespace
}  // namespace meridian::admin
