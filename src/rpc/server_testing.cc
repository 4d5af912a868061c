#include "rpc/server_testing.h"

#include <utility>

namespace meridian::rpc::testing {

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

Worker::Worker()
    : thread_([this] {
        std::unique_lock lock(mu_);
        for (;;) {
          cv_.wait(lock, [this] { return done_ || !tasks_.empty(); });
          if (tasks_.empty()) return;
          auto task = std::move(tasks_.front());
          tasks_.pop_front();
          lock.unlock();
          task();
          lock.lock();
        }
      }) {}

Worker::~Worker() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Worker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

ServerTest::~ServerTest() {
  server_.reset();  // stop() while the I/O thread still runs
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
}

void ServerTest::make(ServerOptions options) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto started = Server::start(options, io_);
  ASSERT_TRUE(started.is_ok()) << started.status();
  server_ = std::move(started).value();
  port_ = server_->port();
  ASSERT_NE(port_, 0);
}

void ServerTest::run() {
  io_thread_ = std::thread([this] { io_.run(); });
}

std::shared_ptr<grpc::Channel> ServerTest::channel(const grpc::ChannelArguments& args) const {
  auto channel = grpc::CreateCustomChannel("ipv4:127.0.0.1:" + std::to_string(port_),
                                           grpc::InsecureChannelCredentials(), args);
  // Connected before the test's calls: a call made on the completion-queue API
  // while nothing polls that queue would otherwise wait for gRPC's backup
  // poller (5 s) to notice the connection is up.
  EXPECT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)));
  return channel;
}

void set_deadline(grpc::ClientContext& ctx, std::chrono::milliseconds timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
}

void HeldCalls::add(std::shared_ptr<UnaryCall> call) {
  std::lock_guard lock(mu_);
  calls_.push_back(std::move(call));
}

size_t HeldCalls::size() {
  std::lock_guard lock(mu_);
  return calls_.size();
}

std::vector<std::shared_ptr<UnaryCall>> HeldCalls::take() {
  std::lock_guard lock(mu_);
  return std::move(calls_);
}

AsyncPuts::AsyncPuts(etcdserverpb::KV::Stub& stub, int count,
                     const std::function<std::string(int)>& key_of) {
  for (int i = 0; i < count; ++i) {
    auto c = std::make_unique<Call>();
    set_deadline(c->ctx, kCallTimeout);
    etcdserverpb::PutRequest req;
    req.set_key(key_of(i));
    req.set_value("v");
    c->reader = stub.AsyncPut(&c->ctx, req, &cq_);
    c->reader->Finish(&c->resp, &c->status, c.get());
    calls_.push_back(std::move(c));
  }
}

AsyncPuts::~AsyncPuts() {
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
  }
}

bool AsyncPuts::wait() {
  for (size_t i = 0; i < calls_.size(); ++i) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq_.Next(&tag, &ok) || !ok) return false;
  }
  return true;
}

}  // namespace meridian::rpc::testing
