// The server against gRPC's own C++ client, with etcd's generated stubs: the
// handlers here parse and serialize etcdserverpb messages themselves, as the
// etcd API layer does.
#include "rpc/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

#include "rpc/server_testing.h"

namespace meridian::rpc {
namespace {

using testing::eventually;
using testing::StreamEvents;

using testing::AsyncPuts;
using testing::HeldCalls;
using testing::kCallTimeout;
using testing::kPut;
using testing::kWatch;
using testing::set_deadline;

// Put answered with the request's key and value echoed as prev_kv, revision 42.
std::string echo_put(std::string_view request) {
  etcdserverpb::PutRequest req;
  if (!req.ParseFromArray(request.data(), static_cast<int>(request.size()))) return "";
  etcdserverpb::PutResponse resp;
  resp.mutable_header()->set_revision(42);
  resp.mutable_prev_kv()->set_key(req.key());
  resp.mutable_prev_kv()->set_value(req.value());
  return resp.SerializeAsString();
}

etcdserverpb::PutRequest put_request(const std::string& key, const std::string& value) {
  etcdserverpb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  return req;
}

// Calls that handlers kept unanswered, for a test to finish (or not) later.

class RpcServerTest : public testing::ServerTest {
 protected:
  std::unique_ptr<etcdserverpb::KV::Stub> kv() { return etcdserverpb::KV::NewStub(channel()); }

  // One blocking Put with a deadline.
  grpc::Status put(etcdserverpb::KV::Stub& stub, const etcdserverpb::PutRequest& req,
                   etcdserverpb::PutResponse* resp) {
    grpc::ClientContext ctx;
    set_deadline(ctx, kCallTimeout);
    return stub.Put(&ctx, req, resp);
  }
};

TEST_F(RpcServerTest, UnaryRoundTrip) {
  make();
  server().add_unary(
      kPut, [](std::shared_ptr<UnaryCall> call) { call->finish({}, echo_put(call->request())); });
  run();
  auto stub = kv();
  etcdserverpb::PutResponse resp;
  const grpc::Status st = put(*stub, put_request("k", "v"), &resp);
  ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_EQ(resp.header().revision(), 42);
  EXPECT_EQ(resp.prev_kv().key(), "k");
  EXPECT_EQ(resp.prev_kv().value(), "v");
  // And again on the same connection.
  ASSERT_TRUE(put(*stub, put_request("k2", ""), &resp).ok());
  EXPECT_EQ(resp.prev_kv().key(), "k2");
}

TEST_F(RpcServerTest, HandlerAnswersFromAnotherThread) {
  std::atomic<int> cancels{0};
  make();
  server().add_unary(kPut, [this, &cancels](std::shared_ptr<UnaryCall> call) {
    // The on_cancel function owns the call (as a waiting lock request's does):
    // the call drops it once answered, so nothing leaks and it never runs.
    call->set_on_cancel([call, &cancels] { cancels++; });
    worker_.post([call] { call->finish({}, echo_put(call->request())); });
  });
  run();
  auto stub = kv();
  etcdserverpb::PutResponse resp;
  ASSERT_TRUE(put(*stub, put_request("from", "elsewhere"), &resp).ok());
  EXPECT_EQ(resp.prev_kv().value(), "elsewhere");
  ASSERT_TRUE(put(*stub, put_request("again", "elsewhere"), &resp).ok());
  EXPECT_EQ(cancels.load(), 0);
}

TEST_F(RpcServerTest, HundredConcurrentCallsOnOneChannel) {
  constexpr int kCalls = 100;
  HeldCalls held;
  make();
  // Nothing is answered until all 100 are open at once; then all are answered
  // from another thread, in reverse order.
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) {
    held.add(std::move(call));
    if (held.size() < kCalls) return;
    worker_.post([calls = held.take()] {
      for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
        (*it)->finish({}, echo_put((*it)->request()));
      }
    });
  });
  run();
  auto stub = kv();
  AsyncPuts puts(*stub, kCalls, [](int i) { return "key" + std::to_string(i); });
  ASSERT_TRUE(puts.wait());
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_TRUE(puts.status(i).ok()) << i << ": " << puts.status(i).error_message();
    EXPECT_EQ(puts.response(i).prev_kv().key(), "key" + std::to_string(i));
  }
}

TEST_F(RpcServerTest, RequestSplitOverManyDataFramesArrivesWhole) {
  const std::string value(1 << 20, 'x');
  std::string seen;
  make();
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) {
    etcdserverpb::PutRequest req;
    req.ParseFromArray(call->request().data(), static_cast<int>(call->request().size()));
    seen = req.value();  // read by the test thread after the answer
    call->finish({}, echo_put(call->request()));
  });
  run();
  auto stub = kv();
  std::string varied = value;
  for (size_t i = 0; i < varied.size(); i += 4093) varied[i] = static_cast<char>('a' + i % 26);
  etcdserverpb::PutResponse resp;
  const grpc::Status st = put(*stub, put_request("big", varied), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(seen == varied);
  EXPECT_TRUE(resp.prev_kv().value() == varied) << "the 1 MiB response came back whole too";
}

TEST_F(RpcServerTest, RequestOverTheLimitIsResourceExhausted) {
  ServerOptions options;
  options.max_receive_message_bytes = 64 << 10;
  make(options);
  std::atomic<int> handled{0};
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) {
    handled++;
    call->finish({}, echo_put(call->request()));
  });
  run();
  auto stub = kv();
  etcdserverpb::PutResponse resp;
  const grpc::Status st = put(*stub, put_request("big", std::string(100 << 10, 'y')), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_EQ(handled.load(), 0);
  // The connection is fine afterwards.
  EXPECT_TRUE(put(*stub, put_request("small", "v"), &resp).ok());
  EXPECT_EQ(handled.load(), 1);
}

TEST_F(RpcServerTest, UnknownMethodIsUnimplemented) {
  make();
  server().add_unary(kPut, [](std::shared_ptr<UnaryCall> call) { call->finish({}, ""); });
  run();
  auto stub = kv();
  grpc::ClientContext ctx;
  set_deadline(ctx, kCallTimeout);
  etcdserverpb::RangeResponse resp;
  const grpc::Status st = stub->Range(&ctx, etcdserverpb::RangeRequest(), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(RpcServerTest, ErrorMessageWithPercentAndNonAsciiArrivesIntact) {
  const std::string message = "key \"caf\xc3\xa9\" is 100% gone \xe2\x9c\x93\ttab\nline";
  make();
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) {
    call->finish({StatusCode::kFailedPrecondition, message}, "ignored");
  });
  run();
  auto stub = kv();
  etcdserverpb::PutResponse resp;
  const grpc::Status st = put(*stub, put_request("k", "v"), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), message);
}

TEST_F(RpcServerTest, DeadlineExceededWhenTheHandlerNeverAnswersAndLateFinishIsHarmless) {
  HeldCalls held;
  std::atomic<int> cancels{0};
  make();
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) {
    call->set_on_cancel([&cancels] { cancels++; });
    if (call->request().empty()) return call->finish({}, "");  // the follow-up call
    held.add(std::move(call));
  });
  run();
  auto stub = kv();
  grpc::ClientContext ctx;
  set_deadline(ctx, std::chrono::milliseconds(200));
  etcdserverpb::PutResponse resp;
  const grpc::Status st = stub->Put(&ctx, put_request("slow", "v"), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_EQ(held.size(), 1u);
  // The handler learns that nobody will receive its answer.
  ASSERT_TRUE(eventually([&] { return cancels.load() == 1; }));
  auto calls = held.take();
  EXPECT_NE(calls[0]->deadline(), Clock::time_point::max()) << "grpc-timeout was read";
  calls[0]->finish({}, echo_put(calls[0]->request()));  // too late: does nothing
  calls[0]->finish({StatusCode::kInternal, "twice"}, "");
  ASSERT_TRUE(put(*stub, etcdserverpb::PutRequest(), &resp).ok());
  EXPECT_EQ(cancels.load(), 1);
}

TEST_F(RpcServerTest, ClientCancelledCallIgnoresTheLateFinish) {
  HeldCalls held;
  std::atomic<int> cancels{0};
  make();
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) {
    call->set_on_cancel([&cancels] { cancels++; });
    if (call->request().empty()) return call->finish({}, "");
    held.add(std::move(call));
  });
  run();
  auto stub = kv();
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  set_deadline(ctx, kCallTimeout);
  etcdserverpb::PutResponse resp;
  grpc::Status st;
  auto reader = stub->AsyncPut(&ctx, put_request("cancel me", "v"), &cq);
  reader->Finish(&resp, &st, nullptr);
  ASSERT_TRUE(eventually([&] { return held.size() == 1; }));
  ctx.TryCancel();
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED);
  // The server learns of the reset, and tells the handler.
  ASSERT_TRUE(eventually([&] { return cancels.load() == 1; }));
  // This answer goes nowhere and breaks nothing.
  auto calls = held.take();
  calls[0]->finish({}, echo_put(calls[0]->request()));
  ASSERT_TRUE(put(*stub, etcdserverpb::PutRequest(), &resp).ok());
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// Echoes each WatchRequest's key back as a WatchResponse (cancel_reason = the
// key, watch_id = how many came before); when the client closes its side,
// finishes with ABORTED "echoed N" so the test sees a status of the server's.
// With `copies` > 1 each request is echoed that many times in one
// start_write_many (watch_id counting every response).
class EchoReactor : public StreamReactor {
 public:
  EchoReactor(ServerStream* stream, StreamEvents* events, int copies = 1)
      : stream_(stream), events_(events), copies_(copies) {
    events_->started++;
    stream_->start_read();
  }
  void on_read(std::string_view message) override {
    events_->reads++;
    etcdserverpb::WatchRequest req;
    req.ParseFromArray(message.data(), static_cast<int>(message.size()));
    std::vector<std::string> batch;
    for (int i = 0; i < copies_; ++i) {
      etcdserverpb::WatchResponse resp;
      resp.set_watch_id(echoed_++);
      resp.set_cancel_reason(req.create_request().key());
      batch.push_back(resp.SerializeAsString());
    }
    if (copies_ == 1) {
      stream_->start_write(std::move(batch[0]));
    } else {
      stream_->start_write_many(std::move(batch));
    }
  }
  void on_write_done(bool ok) override {
    (ok ? events_->writes_ok : events_->writes_failed)++;
    if (ok) stream_->start_read();
  }
  void on_read_done() override {
    events_->read_dones++;
    stream_->finish({StatusCode::kAborted, "echoed " + std::to_string(echoed_)});
  }
  void on_cancel() override { events_->cancels++; }
  void on_done() override {
    events_->dones++;
    delete this;
  }

 private:
  ServerStream* const stream_;
  StreamEvents* const events_;
  const int copies_;
  int echoed_ = 0;
};

etcdserverpb::WatchRequest watch_request(const std::string& key) {
  etcdserverpb::WatchRequest req;
  req.mutable_create_request()->set_key(key);
  return req;
}

TEST_F(RpcServerTest, BidiStreamEchoesAndEndsWithTheServersStatus) {
  StreamEvents events;
  make();
  server().add_stream(kWatch, [&](ServerStream* s) { return new EchoReactor(s, &events); });
  run();
  auto stub = etcdserverpb::Watch::NewStub(channel());
  grpc::ClientContext ctx;
  set_deadline(ctx, kCallTimeout);
  auto stream = stub->Watch(&ctx);
  for (int i = 0; i < 5; ++i) {
    const std::string key = "key" + std::to_string(i);
    ASSERT_TRUE(stream->Write(watch_request(key)));
    etcdserverpb::WatchResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.watch_id(), i);
    EXPECT_EQ(resp.cancel_reason(), key);
  }
  ASSERT_TRUE(stream->WritesDone());
  etcdserverpb::WatchResponse extra;
  EXPECT_FALSE(stream->Read(&extra));
  const grpc::Status st = stream->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(st.error_message(), "echoed 5");
  ASSERT_TRUE(eventually([&] { return events.dones == 1; }));
  EXPECT_EQ(events.reads, 5);
  EXPECT_EQ(events.read_dones, 1);
  EXPECT_EQ(events.writes_ok, 5);
  EXPECT_EQ(events.cancels, 0);
}

// A batch of messages is one write: every message arrives, in order, and the
// reactor hears of it once.
TEST_F(RpcServerTest, ManyMessagesInOneWriteArriveInOrder) {
  StreamEvents events;
  make();
  server().add_stream(kWatch, [&](ServerStream* s) { return new EchoReactor(s, &events, 3); });
  run();
  auto stub = etcdserverpb::Watch::NewStub(channel());
  grpc::ClientContext ctx;
  set_deadline(ctx, kCallTimeout);
  auto stream = stub->Watch(&ctx);
  for (int i = 0; i < 4; ++i) {
    const std::string key = "key" + std::to_string(i);
    ASSERT_TRUE(stream->Write(watch_request(key)));
    for (int copy = 0; copy < 3; ++copy) {
      etcdserverpb::WatchResponse resp;
      ASSERT_TRUE(stream->Read(&resp));
      EXPECT_EQ(resp.watch_id(), i * 3 + copy);
      EXPECT_EQ(resp.cancel_reason(), key);
    }
  }
  ASSERT_TRUE(stream->WritesDone());
  etcdserverpb::WatchResponse extra;
  EXPECT_FALSE(stream->Read(&extra));
  const grpc::Status st = stream->Finish();
  EXPECT_EQ(st.error_message(), "echoed 12");
  ASSERT_TRUE(eventually([&] { return events.dones == 1; }));
  EXPECT_EQ(events.writes_ok, 4);
}

}  // namespace
}  // namespace meridian::rpc
