// Streams under flow control and cancellation, and stop() with calls and
// streams open, against gRPC's own C++ client.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

#include "rpc/server.h"
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

// Counts its callbacks; does what the test's hooks say (each optional), and
// deletes itself at on_done.
class HookedReactor : public StreamReactor {
 public:
  struct Hooks {
    std::function<void(ServerStream*)> on_start = nullptr;
    std::function<void(ServerStream*, bool ok)> on_write_done = nullptr;
    std::function<void(ServerStream*, std::string_view)> on_read = nullptr;
  };
  HookedReactor(ServerStream* stream, StreamEvents* events, const Hooks& hooks)
      : stream_(stream), events_(events), hooks_(hooks) {
    events_->started++;
    if (hooks_.on_start) hooks_.on_start(stream_);
  }
  void on_read(std::string_view message) override {
    events_->reads++;
    if (hooks_.on_read) hooks_.on_read(stream_, message);
  }
  void on_read_done() override { events_->read_dones++; }
  void on_write_done(bool ok) override {
    (ok ? events_->writes_ok : events_->writes_failed)++;
    if (hooks_.on_write_done) hooks_.on_write_done(stream_, ok);
  }
  void on_cancel() override { events_->cancels++; }
  void on_done() override {
    events_->dones++;
    delete this;
  }

 private:
  ServerStream* const stream_;
  StreamEvents* const events_;
  const Hooks hooks_;
};

std::string watch_response(size_t padding) {
  etcdserverpb::WatchResponse resp;
  resp.set_cancel_reason(std::string(padding, 'p'));
  return resp.SerializeAsString();
}

class RpcStreamTest : public testing::ServerTest {
 protected:
  void serve_watch(StreamEvents* events, HookedReactor::Hooks hooks) {
    server().add_stream(
        kWatch, [events, hooks](ServerStream* s) { return new HookedReactor(s, events, hooks); });
  }
};

TEST_F(RpcStreamTest, WritesStallWhileTheClientDoesNotReadAndResumeWhenItDoes) {
  // 1,000 messages of 64 KiB: far more than any window the client offers, so
  // the writes must stall before the last one while the client is not reading.
  constexpr int kMessages = 1000;
  constexpr size_t kPadding = 64 << 10;
  StreamEvents events;
  make();
  serve_watch(&events,
              {
                  .on_start = [](ServerStream* s) { s->start_write(watch_response(kPadding)); },
                  .on_write_done =
                      [&events](ServerStream* s, bool ok) {
                        if (!ok) return;
                        if (events.writes_ok < kMessages) {
                          s->start_write(watch_response(kPadding));
                        } else {
                          s->finish({});
                        }
                      },
              });
  run();
  grpc::ChannelArguments args;
  args.SetInt("grpc.http2.bdp_probe", 0);  // keep the client's window at its initial size
  auto stub = etcdserverpb::Watch::NewStub(channel(args));
  grpc::ClientContext ctx;
  set_deadline(ctx, kCallTimeout);
  auto stream = stub->Watch(&ctx);
  ASSERT_TRUE(eventually([&] { return events.started == 1; }));

  // Stalled: no write completes for half a second, well before the last one.
  int last = -1;
  int quiet_polls = 0;
  ASSERT_TRUE(eventually([&] {
    const int now = events.writes_ok;
    quiet_polls = now == last ? quiet_polls + 1 : 0;
    last = now;
    if (quiet_polls < 50) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return quiet_polls >= 50;
  }));
  EXPECT_LT(events.writes_ok, kMessages) << "writes did not stall without a reader";
  EXPECT_EQ(events.writes_failed, 0);

  // The client reads everything: the writes resume and the stream finishes.
  int read = 0;
  etcdserverpb::WatchResponse resp;
  while (stream->Read(&resp)) {
    ASSERT_EQ(resp.cancel_reason().size(), kPadding);
    read++;
  }
  EXPECT_EQ(read, kMessages);
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_TRUE(eventually([&] { return events.dones == 1; }));
  EXPECT_EQ(events.writes_ok, kMessages);
  EXPECT_EQ(events.cancels, 0);
}

TEST_F(RpcStreamTest, ServerCancelIsCancelledAtTheClient) {
  StreamEvents events;
  make();
  serve_watch(&events, {
                           .on_start = [](ServerStream* s) { s->start_read(); },
                           .on_read = [](ServerStream* s, std::string_view) { s->cancel(); },
                       });
  run();
  auto stub = etcdserverpb::Watch::NewStub(channel());
  grpc::ClientContext ctx;
  set_deadline(ctx, kCallTimeout);
  auto stream = stub->Watch(&ctx);
  ASSERT_TRUE(stream->Write(etcdserverpb::WatchRequest()));
  etcdserverpb::WatchResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(eventually([&] { return events.dones == 1; }));
  EXPECT_EQ(events.reads, 1);
  EXPECT_EQ(events.cancels, 0) << "the server cancelled, not the client";
}

TEST_F(RpcStreamTest, ClientCancelReachesTheReactor) {
  StreamEvents events;
  make();
  serve_watch(&events, {.on_start = [](ServerStream* s) { s->start_read(); }});
  run();
  auto stub = etcdserverpb::Watch::NewStub(channel());
  grpc::ClientContext ctx;
  set_deadline(ctx, kCallTimeout);
  auto stream = stub->Watch(&ctx);
  ASSERT_TRUE(eventually([&] { return events.started == 1; }));
  ctx.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(eventually([&] { return events.dones == 1; }));
  EXPECT_EQ(events.cancels, 1);
}

TEST_F(RpcStreamTest, StopFailsOpenCallsAndStreamsAndEndsEveryStream) {
  constexpr int kStreams = 3;
  StreamEvents events;
  HeldCalls held;
  std::atomic<int> put_cancels{0};
  make();
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) {
    call->set_on_cancel([&put_cancels] { put_cancels++; });
    held.add(std::move(call));
  });
  serve_watch(&events, {
                           .on_start = [](ServerStream* s) { s->start_read(); },
                           .on_read = [](ServerStream* s, std::string_view) { s->start_read(); },
                       });
  run();
  auto channel = this->channel();
  auto kv = etcdserverpb::KV::NewStub(channel);
  auto watch = etcdserverpb::Watch::NewStub(channel);

  grpc::CompletionQueue cq;
  grpc::ClientContext put_ctx;
  set_deadline(put_ctx, kCallTimeout);
  etcdserverpb::PutResponse put_resp;
  grpc::Status put_status;
  auto put = kv->AsyncPut(&put_ctx, etcdserverpb::PutRequest(), &cq);
  put->Finish(&put_resp, &put_status, nullptr);

  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<
      grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>>
      streams;
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    set_deadline(*contexts.back(), kCallTimeout);
    streams.push_back(watch->Watch(contexts.back().get()));
    ASSERT_TRUE(streams.back()->Write(etcdserverpb::WatchRequest()));
  }
  ASSERT_TRUE(eventually([&] { return held.size() == 1 && events.reads == kStreams; }));

  server().stop();
  // stop() returned: every stream has had its last callback, and the held
  // call's handler has been told.
  EXPECT_EQ(events.dones, kStreams);
  EXPECT_EQ(events.cancels, kStreams);
  EXPECT_EQ(put_cancels.load(), 1);

  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(put_status.error_code(), grpc::StatusCode::UNAVAILABLE) << put_status.error_message();
  for (auto& stream : streams) {
    etcdserverpb::WatchResponse resp;
    EXPECT_FALSE(stream->Read(&resp));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // A handler that answers after stop() changes nothing.
  held.take()[0]->finish({}, "");
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(RpcStreamTest, CallsHeldPastTheServersDestructionMayStillBeFinished) {
  constexpr int kCalls = 3;
  HeldCalls held;
  make();
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) { held.add(std::move(call)); });
  run();
  auto kv = etcdserverpb::KV::NewStub(channel());
  AsyncPuts puts(*kv, kCalls, [](int i) { return "held" + std::to_string(i); });
  ASSERT_TRUE(eventually([&] { return held.size() == kCalls; }));

  destroy_server();
  std::thread late([calls = held.take()] {
    for (const auto& call : calls) {
      etcdserverpb::PutRequest req;
      EXPECT_TRUE(
          req.ParseFromArray(call->request().data(), static_cast<int>(call->request().size())));
      call->finish({}, req.SerializeAsString());
      call->finish({StatusCode::kInternal, "again"}, "");
    }
  });
  late.join();  // the last references went on that thread

  ASSERT_TRUE(puts.wait());
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_EQ(puts.status(i).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
}

TEST_F(RpcStreamTest, StopAfterTheIoContextStoppedDoesTheWorkOnTheCallingThread) {
  StreamEvents events;
  HeldCalls held;
  make();
  server().add_unary(kPut, [&](std::shared_ptr<UnaryCall> call) { held.add(std::move(call)); });
  serve_watch(&events, {.on_start = [](ServerStream* s) { s->start_read(); }});
  run();
  auto channel = this->channel();
  auto kv = etcdserverpb::KV::NewStub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext put_ctx;
  set_deadline(put_ctx, kCallTimeout);
  etcdserverpb::PutResponse put_resp;
  grpc::Status put_status;
  auto put = kv->AsyncPut(&put_ctx, etcdserverpb::PutRequest(), &cq);
  put->Finish(&put_resp, &put_status, nullptr);
  grpc::ClientContext watch_ctx;
  set_deadline(watch_ctx, kCallTimeout);
  auto stream = etcdserverpb::Watch::NewStub(channel)->Watch(&watch_ctx);
  ASSERT_TRUE(eventually([&] { return held.size() == 1 && events.started == 1; }));

  // The io_context's thread is gone (as when a process shuts its loop down
  // first); destroying the server must neither hang nor leave a stream open.
  work_.reset();
  io_.stop();
  io_thread_.join();
  destroy_server();
  EXPECT_EQ(events.dones, 1);
  held.take()[0]->finish({}, "");  // dropped without touching the stopped io_context
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_NE(put_status.error_code(), grpc::StatusCode::OK);
  EXPECT_NE(stream->Finish().error_code(), grpc::StatusCode::OK);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace meridian::rpc
