// The etcd Watch service over real gRPC: the service in a server of the test's
// own, on a port of 42000-42999, over a KvStateMachine whose store the test
// writes directly (no node: the header's Raft term is 0). Deadlines bound
// progress; no test asserts how long anything takes.
#include "api/watch_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp (POSIX)
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <optional>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "api/watch_stream.h"
#include "base/strings.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "kv/kv_state_machine.h"

namespace meridian::api {
namespace {

namespace pb = ::etcdserverpb;
using std::chrono::milliseconds;
constexpr auto kWait = std::chrono::seconds(10);
constexpr uint64_t kClusterId = 11;
constexpr uint64_t kMemberId = 22;

// One client stream; a thread reads every response into a queue (unless paused).
class WatchClient {
 public:
  explicit WatchClient(pb::Watch::Stub& stub) : stream_(stub.Watch(&ctx_)) {
    reader_ = std::thread([this] { read_loop(); });
  }
  ~WatchClient() {
    ctx_.TryCancel();
    set_paused(false);
    reader_.join();
    if (!finished_) (void)stream_->Finish();
  }

  void create(const std::string& key, const std::string& end = "", int64_t start = 0,
              bool prev_kv = false, bool fragment = false) {
    pb::WatchRequest req;
    auto* c = req.mutable_create_request();
    c->set_key(key);
    c->set_range_end(end);
    c->set_start_revision(start);
    c->set_prev_kv(prev_kv);
    c->set_fragment(fragment);
    ASSERT_TRUE(stream_->Write(req));
  }
  void cancel(int64_t id) {
    pb::WatchRequest req;
    req.mutable_cancel_request()->set_watch_id(id);
    ASSERT_TRUE(stream_->Write(req));
  }
  void request_progress() {
    pb::WatchRequest req;
    req.mutable_progress_request();
    ASSERT_TRUE(stream_->Write(req));
  }

  // The next response, or nothing after the deadline or the end of the stream.
  std::optional<pb::WatchResponse> next() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kWait, [&] { return !queue_.empty() || ended_; });
    if (queue_.empty()) return std::nullopt;
    pb::WatchResponse r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }
  // Responses until one satisfies pred (included); empty optional at the deadline.
  template <class Pred>
  std::vector<pb::WatchResponse> until(Pred pred) {
    std::vector<pb::WatchResponse> out;
    while (auto r = next()) {
      out.push_back(*r);
      if (pred(*r)) return out;
    }
    ADD_FAILURE() << "no such response within the deadline (" << out.size() << " others)";
    return out;
  }
  // Waits for the stream's end; its status.
  grpc::Status wait_end() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kWait, [&] { return ended_; });
    if (!ended_) return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "stream did not end");
    lock.unlock();
    finished_ = true;
    return stream_->Finish();
  }
  void set_paused(bool paused) {
    std::lock_guard lock(mu_);
    paused_ = paused;
    cv_.notify_all();
  }

 private:
  void read_loop() {
    pb::WatchResponse r;
    while (true) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !paused_; });
      }
      if (!stream_->Read(&r)) break;
      std::lock_guard lock(mu_);
      queue_.push_back(r);
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<pb::WatchResponse> queue_;
  bool paused_ = false;
  bool ended_ = false;
  bool finished_ = false;  // Finish() may be called once
};

class WatchServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "watch_service_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    kv::StoreOptions so;
    so.dir = dir_;
    so.block_cache_bytes = 8ull << 20;
    auto store = kv::MvccStore::open(so);
    ASSERT_TRUE(store.is_ok()) << store.status();
    kv_ = std::make_unique<kv::KvStateMachine>(std::move(store).value());
  }
  void TearDown() override {
    clients_.clear();
    if (service_) service_->stop();
    if (server_) server_->stop();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    server_.reset();
    service_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(EtcdServerOptions options = {}) {
    backend_.kv = kv_.get();
    backend_.cluster_id = kClusterId;
    backend_.member_id = kMemberId;
    service_ = std::make_unique<WatchService>(options, backend_, &metrics_);
    auto server = rpc::Server::start(rpc::ServerOptions{}, io_);
    ASSERT_TRUE(server.is_ok()) << server.status();
    server_ = std::move(server).value();
    service_->register_on(*server_);
    port_ = server_->port();
    io_thread_ = std::thread([this] {
      auto work = boost::asio::make_work_guard(io_);
      io_.run();
    });
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(base::cat("127.0.0.1:", port_),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = pb::Watch::NewStub(channel_);
  }

  WatchClient& client() {
    clients_.push_back(std::make_unique<WatchClient>(*stub_));
    return *clients_.back();
  }

  kv::MvccStore& store() { return kv_->store(); }
  int64_t put(const std::string& key, const std::string& value) {
    pb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    pb::PutResponse resp;
    EXPECT_EQ(store().put(raft::Index{++index_}, req, &resp), kv::Errc::kOk);
    return resp.header().revision();
  }
  int64_t txn_put(const std::vector<std::string>& keys, const std::string& value) {
    pb::TxnRequest req;
    for (const auto& k : keys) {
      auto* p = req.add_success()->mutable_request_put();
      p->set_key(k);
      p->set_value(value);
    }
    pb::TxnResponse resp;
    EXPECT_EQ(store().txn(raft::Index{++index_}, req, &resp), kv::Errc::kOk);
    return resp.header().revision();
  }
  // Starts the service with small stream queues and a client watching [s, t)
  // that stopped reading, then puts values of 300 bytes under s0..s9 in rounds
  // of 1,000 until its watcher has fallen behind; *writes is the number of puts.
  // How much the transport buffers (windows, socket buffers) varies, hence the
  // rounds.
  WatchClient& start_with_a_client_behind(int* writes) {
    EtcdServerOptions options;
    options.watch_stream_queue_bytes = 16 * 1024;
    start(options);
    WatchClient& c = client();
    c.create("s", "t");
    EXPECT_TRUE(c.next());
    c.set_paused(true);
    *writes = write_until_behind("s");
    return c;
  }
  int write_until_behind(const std::string& prefix) {
    auto fell_behind = [&] {
      const std::string metrics = metrics_.render();
      const std::string name = "\nmeridian_watch_fell_behind_total ";
      const size_t at = metrics.find(name);
      return at == std::string::npos ? 0.0 : std::stod(metrics.substr(at + name.size()));
    };
    constexpr int kRound = 1000;
    constexpr int kRoundsMax = 60;  // 18 MB of values: far beyond any transport's buffers
    int writes = 0;
    for (int round = 0; round < kRoundsMax && fell_behind() == 0; ++round) {
      for (int i = 0; i < kRound; ++i, ++writes) {
        put(prefix + std::to_string(writes % 10), std::string(300, 'x'));
      }
      // The hub delivers on its own thread: give it a moment to find the queue full.
      for (int n = 0; n < 20 && fell_behind() == 0; ++n) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    EXPECT_GT(fell_behind(), 0) << "still not behind after " << writes << " writes";
    return writes;
  }
  void compact(int64_t revision) {
    pb::CompactionRequest req;
    req.set_revision(revision);
    pb::CompactionResponse resp;
    ASSERT_EQ(store().compact(raft::Index{++index_}, req, &resp), kv::Errc::kOk);
  }

  std::string dir_;
  std::unique_ptr<kv::KvStateMachine> kv_;
  EtcdBackend backend_;
  observe::Registry metrics_;
  std::unique_ptr<WatchService> service_;
  boost::asio::io_context io_;
  std::unique_ptr<rpc::Server> server_;
  std::thread io_thread_;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Watch::Stub> stub_;
  std::vector<std::unique_ptr<WatchClient>> clients_;
  uint64_t index_ = 0;
};

bool has_events(const pb::WatchResponse& r) { return r.events_size() > 0; }

TEST_F(WatchServiceTest, CreateThenEventsThenCancel) {
  start();
  put("a", "0");
  WatchClient& c = client();
  c.create("a");
  auto created = c.next();
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created());
  EXPECT_EQ(created->watch_id(), 0);
  EXPECT_EQ(created->header().revision(), 2);
  EXPECT_EQ(created->header().cluster_id(), kClusterId);
  EXPECT_EQ(created->header().member_id(), kMemberId);

  const int64_t r = put("a", "1");
  put("b", "x");
  auto ev = c.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(ev->events_size(), 1);
  EXPECT_EQ(ev->events(0).kv().value(), "1");
  EXPECT_EQ(ev->events(0).kv().mod_revision(), r);
  EXPECT_EQ(ev->header().revision(), r);

  c.cancel(0);
  auto canceled = c.next();
  ASSERT_TRUE(canceled);
  EXPECT_TRUE(canceled->canceled());
  EXPECT_EQ(canceled->watch_id(), 0);
  // Nothing more for it: the next response is the progress one.
  put("a", "2");
  c.request_progress();
  auto progress = c.next();
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->watch_id(), -1);
  EXPECT_EQ(progress->events_size(), 0);
  EXPECT_EQ(progress->header().revision(), store().revision());
}

TEST_F(WatchServiceTest, StartRevisionReplaysHistoryWithPrevKv) {
  start();
  for (int i = 0; i < 10; ++i) put("h", std::to_string(i));  // revisions 2..11
  WatchClient& c = client();
  c.create("h", "", 5, /*prev_kv=*/true);
  std::vector<pb::WatchResponse> got = c.until([](const pb::WatchResponse& r) {
    return has_events(r) && r.events(r.events_size() - 1).kv().mod_revision() == 11;
  });
  std::vector<int64_t> revisions;
  for (const auto& r : got) {
    for (const auto& ev : r.events()) {
      revisions.push_back(ev.kv().mod_revision());
      ASSERT_TRUE(ev.has_prev_kv());
      EXPECT_EQ(ev.prev_kv().mod_revision(), ev.kv().mod_revision() - 1);
    }
  }
  EXPECT_EQ(revisions, (std::vector<int64_t>{5, 6, 7, 8, 9, 10, 11}));
}

TEST_F(WatchServiceTest, CompactedStartIsCanceledWithCompactRevision) {
  start();
  for (int i = 0; i < 10; ++i) put("c", std::to_string(i));
  compact(8);
  WatchClient& c = client();
  c.create("c", "", 3);
  auto created = c.next();
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created());
  auto compacted = c.next();
  ASSERT_TRUE(compacted);
  EXPECT_TRUE(compacted->canceled());
  EXPECT_EQ(compacted->compact_revision(), 8);
}

TEST_F(WatchServiceTest, LargeResponsesAreFragmentedOnlyWhenAsked) {
  EtcdServerOptions options;
  options.limits.max_request_bytes = 64 * 1024;  // fragments of about 576 KiB
  start(options);
  WatchClient& c = client();
  c.create("f", "g", 0, false, /*fragment=*/true);
  c.create("f", "g");
  ASSERT_EQ(
      c.until([](const pb::WatchResponse& r) { return r.created() && r.watch_id() == 1; }).size(),
      2u);
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) keys.push_back("f" + std::to_string(i));
  const int64_t rev = txn_put(keys, std::string(100 * 1024, 'v'));  // one revision, ~1 MB

  int fragments = 0, whole = 0, fragmented_events = 0;
  while (fragmented_events < 10 || whole == 0) {
    auto r = c.next();
    ASSERT_TRUE(r);
    if (r->watch_id() == 0) {
      ++fragments;
      fragmented_events += r->events_size();
      EXPECT_EQ(r->fragment(), fragmented_events < 10);
      EXPECT_EQ(r->header().revision(), rev);
    } else {
      ++whole;
      EXPECT_EQ(r->events_size(), 10);
      EXPECT_FALSE(r->fragment());
    }
  }
  EXPECT_EQ(fragmented_events, 10);
  EXPECT_GE(fragments, 2);
  EXPECT_EQ(whole, 1);
}

TEST(SplitFragmentsTest, KeepsSmallResponsesAndSplitsLargeOnesAtTheLimit) {
  pb::WatchResponse resp;
  resp.set_watch_id(3);
  for (int i = 0; i < 10; ++i) {
    auto* ev = resp.add_events();
    ev->mutable_kv()->set_key("k" + std::to_string(i));
    ev->mutable_kv()->set_value(std::string(1000, 'x'));
  }
  EXPECT_EQ(split_fragments(resp, resp.ByteSizeLong() + 1).size(), 1u);
  auto parts = split_fragments(resp, 3500);
  ASSERT_EQ(parts.size(), 4u);  // 3 + 3 + 3 + 1 events of ~1 KB under 3.5 KB
  int n = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].watch_id(), 3);
    EXPECT_EQ(parts[i].fragment(), i + 1 < parts.size());
    EXPECT_LT(parts[i].ByteSizeLong(), 3500u);
    for (const auto& ev : parts[i].events()) EXPECT_EQ(ev.kv().key(), "k" + std::to_string(n++));
  }
  EXPECT_EQ(n, 10);
  // An event larger than the limit still goes, alone.
  EXPECT_EQ(split_fragments(resp, 10).size(), 10u);
}

TEST_F(WatchServiceTest, ManyWatchersOnOneStream) {
  start();
  WatchClient& c = client();
  constexpr int kWatchers = 500;
  for (int i = 0; i < kWatchers; ++i) c.create("m/" + std::to_string(i));
  for (int i = 0; i < kWatchers; ++i) {
    auto r = c.next();
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->created());
    ASSERT_EQ(r->watch_id(), i);  // answered in order, ids assigned in order
  }
  for (int i = 0; i < kWatchers; ++i) put("m/" + std::to_string(i), std::to_string(i));
  std::vector<int> seen(kWatchers, 0);
  for (int got = 0; got < kWatchers;) {
    auto r = c.next();
    ASSERT_TRUE(r);
    for (const auto& ev : r->events()) {
      ASSERT_EQ(ev.kv().key(), "m/" + std::to_string(r->watch_id()));
      ++seen[r->watch_id()];
      ++got;
    }
  }
  for (int i = 0; i < kWatchers; ++i) EXPECT_EQ(seen[i], 1) << "watcher " << i;
}

// A client that stops reading: gRPC's flow control holds the server's writes,
// the stream's queue fills, the watcher falls back to history; when the client
// reads again it gets every revision once, in order.
TEST_F(WatchServiceTest, SlowClientGetsEveryRevisionOnce) {
  int writes = 0;
  WatchClient& c = start_with_a_client_behind(&writes);
  ASSERT_FALSE(HasFailure());
  const int64_t last = store().revision();
  c.set_paused(false);
  std::vector<int64_t> revisions;
  c.until([&](const pb::WatchResponse& r) {
    for (const auto& ev : r.events()) revisions.push_back(ev.kv().mod_revision());
    return !revisions.empty() && revisions.back() == last;
  });
  ASSERT_EQ(revisions.size(), static_cast<size_t>(writes));
  for (int i = 0; i < writes; ++i) ASSERT_EQ(revisions[i], 2 + i);
}

TEST_F(WatchServiceTest, StopEndsStreamsAndRefusesNewOnes) {
  start();
  WatchClient& c = client();
  c.create("x");
  ASSERT_TRUE(c.next());
  service_->stop();
  const grpc::Status s = c.wait_end();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  WatchClient& late = client();
  EXPECT_EQ(late.wait_end().error_code(), grpc::StatusCode::UNAVAILABLE);
  put("x", "after stop");  // the store no longer calls the hub
}

// stop() lets a write in flight finish so that the client gets UNAVAILABLE (see
// the test above), but a client that stopped reading never lets it finish: after
// the grace period the stream is cut off, and stop() still releases it.
TEST_F(WatchServiceTest, StopCutsOffAStreamWhoseClientStoppedReading) {
  int writes = 0;
  WatchClient& c = start_with_a_client_behind(&writes);
  ASSERT_FALSE(HasFailure());
  // More than gRPC's largest flow-control window (16 MiB), so that a write
  // stays in flight whatever the client side has buffered.
  for (int i = 0; i < 400; ++i) put("s", std::string(64 * 1024, 'y'));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  service_->stop();
  EXPECT_EQ(service_->streams_held(), 0u);
  c.set_paused(false);
  EXPECT_NE(c.wait_end().error_code(), grpc::StatusCode::OK);
}

}  // namespace
}  // namespace meridian::api
