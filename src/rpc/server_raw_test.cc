// The server against a raw HTTP/2 client (RawH2Client), for what gRPC's own
// client cannot be made to send, and to see the exact frames of an answer.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rpc/h2_client_testing.h"
#include "rpc/server.h"
#include "rpc/server_testing.h"

namespace meridian::rpc {
namespace {

using testing::grpc_message;
using testing::grpc_request_headers;
using testing::Headers;
using testing::RawH2Client;

constexpr char kEcho[] = "/test.Echo/Unary";
constexpr char kHold[] = "/test.Echo/Hold";
constexpr char kStream[] = "/test.Echo/Stream";

Headers with(Headers headers, const std::string& name, const std::string& value) {
  for (auto& [n, v] : headers) {
    if (n == name) {
      v = value;
      return headers;
    }
  }
  headers.emplace_back(name, value);
  return headers;
}

class RawServerTest : public testing::ServerTest {
 protected:
  void serve(ServerOptions options = {}) {
    make(options);
    server().add_unary(kEcho, [this](std::shared_ptr<UnaryCall> call) {
      deadlines_.push_back(call->deadline());  // the I/O thread's; read after the answer
      call->finish({}, "echo:" + std::string(call->request()));
    });
    server().add_unary(kHold, [this](std::shared_ptr<UnaryCall> call) {
      std::lock_guard lock(mu_);
      held_.push_back(std::move(call));
    });
  }

  std::vector<Clock::time_point> deadlines_;
  std::mutex mu_;
  std::vector<std::shared_ptr<UnaryCall>> held_;  // guarded by mu_
};

TEST_F(RawServerTest, UnaryAnswerIsHeadersDataAndTrailers) {
  serve();
  run();
  RawH2Client client(port());
  const auto r = client.wait(client.open(grpc_request_headers(kEcho), grpc_message("ping")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header_blocks, 2);
  EXPECT_EQ(r->field(":status"), "200");
  EXPECT_EQ(r->field("content-type"), "application/grpc");
  EXPECT_EQ(r->data, grpc_message("echo:ping"));
  EXPECT_EQ(r->field("grpc-status"), "0");
  EXPECT_EQ(r->fields.count("grpc-message"), 0u);
  EXPECT_EQ(r->close_code, NGHTTP2_NO_ERROR);
  ASSERT_EQ(deadlines_.size(), 1u);
  EXPECT_EQ(deadlines_[0], Clock::time_point::max()) << "no grpc-timeout, no deadline";
}

TEST_F(RawServerTest, UnknownPathIsTrailersOnlyUnimplementedWithAnEncodedMessage) {
  serve();
  run();
  RawH2Client client(port());
  const auto r = client.wait(client.open(grpc_request_headers("/no.Such/Method%"), ""));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header_blocks, 1) << "trailers only";
  EXPECT_EQ(r->field(":status"), "200");
  EXPECT_EQ(r->field("grpc-status"), "12");
  EXPECT_EQ(r->field("grpc-message"), "unknown method /no.Such/Method%25");
  EXPECT_TRUE(r->data.empty());
}

TEST_F(RawServerTest, RequestsThatAreNotGrpcGetAnHttpStatusToo) {
  serve();
  run();
  RawH2Client client(port());
  const auto text = client.wait(client.open(
      with(grpc_request_headers(kEcho), "content-type", "text/plain"), grpc_message("x")));
  ASSERT_TRUE(text);
  EXPECT_EQ(text->field(":status"), "415");
  EXPECT_EQ(text->field("grpc-status"), "13");
  const auto get =
      client.wait(client.open(with(grpc_request_headers(kEcho), ":method", "GET"), ""));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->field(":status"), "405");
  EXPECT_EQ(get->field("grpc-status"), "13");
  // Variants of gRPC's content-type are gRPC.
  const auto proto = client.wait(
      client.open(with(grpc_request_headers(kEcho), "content-type", "application/grpc+proto"),
                  grpc_message("p")));
  ASSERT_TRUE(proto);
  EXPECT_EQ(proto->field("grpc-status"), "0");
}

TEST_F(RawServerTest, GrpcTimeoutIsEnforcedByTheServerAndTheLateAnswerIsDropped) {
  serve();
  run();
  RawH2Client client(port());
  const auto r = client.wait(
      client.open(with(grpc_request_headers(kHold), "grpc-timeout", "100m"), grpc_message("zz")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header_blocks, 1);
  EXPECT_EQ(r->field("grpc-status"), "4");
  std::vector<std::shared_ptr<UnaryCall>> held;
  {
    std::lock_guard lock(mu_);
    held = held_;
  }
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]->request(), "zz");
  held[0]->finish({}, "too late");
  // The connection still serves, and a malformed grpc-timeout means no deadline.
  const auto next = client.wait(client.open(
      with(grpc_request_headers(kEcho), "grpc-timeout", "1.5S"), grpc_message("after")));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->data, grpc_message("echo:after"));
  ASSERT_EQ(deadlines_.size(), 1u);
  EXPECT_EQ(deadlines_[0], Clock::time_point::max());
}

TEST_F(RawServerTest, CompressedMessageIsUnimplemented) {
  serve();
  run();
  RawH2Client client(port());
  std::string compressed = grpc_message("zzz");
  compressed[0] = 1;
  const auto r = client.wait(client.open(grpc_request_headers(kEcho), compressed));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->field("grpc-status"), "12");
}

TEST_F(RawServerTest, UnaryNeedsExactlyOneWholeMessage) {
  serve();
  run();
  RawH2Client client(port());
  const std::string two = grpc_message("a") + grpc_message("b");
  const std::string half = grpc_message("abcdef").substr(0, 8);
  for (const std::string& body : {two, std::string(), half}) {
    const auto r = client.wait(client.open(grpc_request_headers(kEcho), body));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->field("grpc-status"), "13") << r->field("grpc-message");
  }
  EXPECT_TRUE(deadlines_.empty()) << "the handler saw none of them";
}

TEST_F(RawServerTest, OversizedRequestIsAnsweredThenResetWhileTheClientStillSends) {
  ServerOptions options;
  options.max_receive_message_bytes = 1024;
  serve(options);
  run();
  RawH2Client client(port());
  // Announces 1 MiB, sends 64 KiB of it and keeps the stream open.
  std::string body = grpc_message(std::string(1 << 20, 'b')).substr(0, 64 << 10);
  const auto r = client.wait(client.open(grpc_request_headers(kEcho), body, false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->field("grpc-status"), "8");
  EXPECT_EQ(r->field("grpc-message"), "Received message larger than max (1048576 vs. 1024)");
  EXPECT_EQ(r->close_code, NGHTTP2_NO_ERROR) << "closed by RST_STREAM(NO_ERROR)";
}

TEST_F(RawServerTest, StreamThatDoesNotReadHoldsTheClientByFlowControl) {
  constexpr int kMessages = 48;  // 3 MiB: three stream windows
  testing::StreamEvents events;
  std::atomic<ServerStream*> stream{nullptr};

  class Lazy : public StreamReactor {
   public:
    Lazy(ServerStream* s, testing::StreamEvents* e) : s_(s), e_(e) {}
    void on_read(std::string_view m) override {
      if (m.size() == 64 << 10) e_->reads++;
      s_->start_read();
    }
    void on_read_done() override {
      e_->read_dones++;
      s_->finish({});
    }
    void on_write_done(bool) override {}
    void on_cancel() override { e_->cancels++; }
    void on_done() override {
      e_->dones++;
      delete this;
    }

   private:
    ServerStream* const s_;
    testing::StreamEvents* const e_;
  };

  serve();
  server().add_stream(kStream, [&](ServerStream* s) {
    stream = s;
    return new Lazy(s, &events);  // does not read until the test says so
  });
  run();
  RawH2Client client(port());
  std::string body;
  for (int i = 0; i < kMessages; ++i) body += grpc_message(std::string(64 << 10, 'm'));
  const int32_t id = client.open(grpc_request_headers(kStream), body);
  // The client can send one window's worth, then no more.
  ASSERT_TRUE(client.pump_until([&] { return client.send_window(id) == 0; }));
  client.pump_until([] { return false; }, std::chrono::milliseconds(200));
  EXPECT_EQ(client.send_window(id), 0);
  EXPECT_EQ(events.reads, 0);

  stream.load()->start_read();  // from this thread: any thread may
  const auto r = client.wait(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->field("grpc-status"), "0");
  EXPECT_EQ(events.reads, kMessages);
  EXPECT_EQ(events.read_dones, 1);
  ASSERT_TRUE(testing::eventually([&] { return events.dones == 1; }));
}

TEST_F(RawServerTest, StopSendsGoawayAndUnavailable) {
  serve();
  run();
  RawH2Client client(port());
  const int32_t id = client.open(grpc_request_headers(kHold), grpc_message("held"));
  ASSERT_TRUE(client.pump_until([&] {
    std::lock_guard lock(mu_);
    return held_.size() == 1;
  }));
  server().stop();
  const auto r = client.wait(id);
  ASSERT_TRUE(r) << "the status was written before the socket closed";
  EXPECT_EQ(r->field("grpc-status"), "14");
  EXPECT_TRUE(client.wait_for_close());
}

}  // namespace
}  // namespace meridian::rpc
