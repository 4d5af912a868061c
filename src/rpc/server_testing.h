// Test support for the rpc server's tests: a Server on 127.0.0.1 (any port)
// whose io_context is run by one thread, as in production; a worker thread that
// answers calls "from elsewhere"; counters a stream reactor can report to; and
// a wait-until helper. Handlers are added between make() and run().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "rpc/server.h"

namespace meridian::rpc::testing {

// Polls `condition` until it holds or `timeout` passes (generous: the tests
// wait for events, never assert how long they took).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

// One thread running posted tasks in order; joins on destruction.
class Worker {
 public:
  Worker();
  ~Worker();
  void post(std::function<void()> task);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool done_ = false;                        // guarded by mu_
  std::thread thread_;
};

// What a test's stream reactors report (any thread reads, the I/O thread writes).
struct StreamEvents {
  std::atomic<int> started{0};
  std::atomic<int> reads{0};
  std::atomic<int> read_dones{0};
  std::atomic<int> writes_ok{0};
  std::atomic<int> writes_failed{0};
  std::atomic<int> cancels{0};
  std::atomic<int> dones{0};
};

inline constexpr char kPut[] = "/etcdserverpb.KV/Put";
inline constexpr char kWatch[] = "/etcdserverpb.Watch/Watch";
// Generous: a deadline that only a hung test reaches.
inline constexpr auto kCallTimeout = std::chrono::seconds(30);

void set_deadline(grpc::ClientContext& ctx, std::chrono::milliseconds timeout);

// Unary calls a handler keeps to answer later (any thread).
class HeldCalls {
 public:
  void add(std::shared_ptr<UnaryCall> call);
  size_t size();
  std::vector<std::shared_ptr<UnaryCall>> take();

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<UnaryCall>> calls_;  // guarded by mu_
};

// `count` Put calls started at once on gRPC's asynchronous client API, each
// with kCallTimeout; put i has key key_of(i). wait() collects every completion;
// the destructor drains the queue.
class AsyncPuts {
 public:
  AsyncPuts(etcdserverpb::KV::Stub& stub, int count, const std::function<std::string(int)>& key_of);
  ~AsyncPuts();
  // True once every call has completed (false if the queue shut down first).
  bool wait();
  const grpc::Status& status(int i) const { return calls_[i]->status; }
  const etcdserverpb::PutResponse& response(int i) const { return calls_[i]->resp; }
  int count() const { return static_cast<int>(calls_.size()); }

 private:
  struct Call {
    grpc::ClientContext ctx;
    etcdserverpb::PutResponse resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> reader;
  };
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Call>> calls_;
};

class ServerTest : public ::testing::Test {
 protected:
  ~ServerTest() override;

  // Starts listening; add handlers with server() before run().
  void make(ServerOptions options = {});
  void run();
  Server& server() { return *server_; }
  // stop() and destroy the server (the io_context keeps running).
  void destroy_server() { server_.reset(); }
  uint16_t port() const { return port_; }
  std::shared_ptr<grpc::Channel> channel(
      const grpc::ChannelArguments& args = grpc::ChannelArguments()) const;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::thread io_thread_;
  Worker worker_;
};

}  // namespace meridian::rpc::testing
