#include "net/transport_testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <gtest/gtest.h>

#include "observe/log.h"

namespace meridian::net::testing {

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

IoThreads::IoThreads() : guard_(boost::asio::make_work_guard(io_)) {
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
}

IoThreads::~IoThreads() {
  guard_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
}

void Recorder::check_open() {
  if (closed_.load()) violations_.fetch_add(1);
}

void Recorder::on_messages(raft::NodeId from, std::vector<Envelope> batch) {
  check_open();
  std::lock_guard lock(mu_);
  for (Envelope& e : batch) received_.push_back(Received{from, std::move(e)});
}

void Recorder::on_dropped(raft::NodeId to, GroupId group, raft::MessageType type) {
  check_open();
  std::lock_guard lock(mu_);
  dropped_.push_back(Dropped{to, group, type});
}

void Recorder::on_snapshot_sent(raft::NodeId to, GroupId group) {
  check_open();
  std::lock_guard lock(mu_);
  snapshots_sent_.emplace_back(to, group);
}

std::vector<Recorder::Received> Recorder::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

size_t Recorder::received_count() const {
  std::lock_guard lock(mu_);
  return received_.size();
}

size_t Recorder::received_from(raft::NodeId from) const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const Received& r : received_) n += r.from == from ? 1 : 0;
  return n;
}

std::vector<Recorder::Dropped> Recorder::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

size_t Recorder::dropped_count() const {
  std::lock_guard lock(mu_);
  return dropped_.size();
}

std::vector<std::pair<raft::NodeId, GroupId>> Recorder::snapshots_sent() const {
  std::lock_guard lock(mu_);
  return snapshots_sent_;
}

std::string TestNode::address() const { return "127.0.0.1:" + std::to_string(transport->port()); }

PeerStats TestNode::stats(raft::NodeId peer) const {
  for (const PeerStats& s : transport->stats()) {
    if (s.peer == peer) return s;
  }
  PeerStats none;
  none.peer = peer;
  return none;
}

TransportOptions test_options(uint64_t self, uint64_t cluster) {
  TransportOptions o;
  o.cluster_id = cluster;
  o.self = raft::NodeId{self};
  o.listen_host = "127.0.0.1";
  o.listen_port = 0;
  o.backoff_min_ms = 10;
  o.backoff_max_ms = 50;
  o.dial_timeout_ms = 1000;
  return o;
}

std::unique_ptr<TestNode> start_node(boost::asio::io_context& io, const TransportOptions& options) {
  auto node = std::make_unique<TestNode>();
  node->id = options.self;
  auto t = Transport::start(io, options, &node->handler);
  EXPECT_TRUE(t.is_ok()) << (t.is_ok() ? "" : t.status().to_string());
  if (!t.is_ok()) return nullptr;
  node->transport = std::move(t).value();
  return node;
}

void link_all(const std::vector<TestNode*>& nodes) {
  for (TestNode* a : nodes) {
    for (TestNode* b : nodes) {
      if (a != b) a->transport->set_peer(b->id, b->address());
    }
  }
}

bool all_connected(const std::vector<TestNode*>& nodes) {
  return eventually([&] {
    for (TestNode* a : nodes) {
      for (TestNode* b : nodes) {
        if (a != b && !a->stats(b->id).connected) return false;
      }
    }
    return true;
  });
}

Envelope make_append(uint64_t from, uint64_t to, uint64_t group, uint64_t index, std::string data) {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = raft::NodeId{from};
  m.to = raft::NodeId{to};
  m.term = raft::Term{3};
  m.log_term = raft::Term{3};
  m.index = raft::Index{index - 1};
  m.commit = raft::Index{index - 1};
  m.entries.push_back(
      raft::Entry{raft::Term{3}, raft::Index{index}, raft::EntryType::kNormal, std::move(data)});
  return Envelope{GroupId{group}, std::move(m)};
}

Envelope make_heartbeat(uint64_t from, uint64_t to, uint64_t group, uint64_t commit) {
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = raft::NodeId{from};
  m.to = raft::NodeId{to};
  m.term = raft::Term{7};
  m.commit = raft::Index{commit};
  return Envelope{GroupId{group}, std::move(m)};
}

Envelope make_snapshot(uint64_t from, uint64_t to, uint64_t group, std::string data) {
  auto snap = std::make_shared<raft::Snapshot>();
  snap->meta.index = raft::Index{100};
  snap->meta.term = raft::Term{4};
  snap->meta.conf_state.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
  snap->data = std::move(data);
  raft::Message m;
  m.type = raft::MessageType::kSnapshot;
  m.from = raft::NodeId{from};
  m.to = raft::NodeId{to};
  m.term = raft::Term{4};
  m.snapshot = std::move(snap);
  return Envelope{GroupId{group}, std::move(m)};
}

bool same_message(const raft::Message& a, const raft::Message& b) {
  bool snapshots_equal = (a.snapshot == nullptr) == (b.snapshot == nullptr) &&
                         (a.snapshot == nullptr || *a.snapshot == *b.snapshot);
  return a.type == b.type && a.from == b.from && a.to == b.to && a.term == b.term &&
         a.log_term == b.log_term && a.index == b.index && a.entries == b.entries &&
         a.commit == b.commit && a.reject == b.reject && a.context == b.context && snapshots_equal;
}

RawClient::RawClient(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

void RawClient::write(const std::string& bytes) {
  size_t done = 0;
  while (fd_ >= 0 && done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // closed by the server already: what the tests look for next
    done += static_cast<size_t>(n);
  }
}

bool RawClient::read_until(std::string* got, size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (fd_ >= 0 && got->size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t k = ::recv(fd_, buf, sizeof(buf), 0);
    if (k <= 0) return false;
    got->append(buf, static_cast<size_t>(k));
  }
  return fd_ >= 0;
}

bool RawClient::wait_closed(std::string* got, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EINTR;  // reset: closed too
    got->append(buf, static_cast<size_t>(n));
  }
}

struct LogCapture::Lines {
  std::mutex mu;
  std::vector<std::string> lines;  // guarded by mu
};

LogCapture::LogCapture() : lines_(std::make_shared<Lines>()) {
  observe::set_log_capture_for_testing([lines = lines_](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    std::lock_guard lock(lines->mu);
    lines->lines.emplace_back(line);
  });
}

LogCapture::~LogCapture() { observe::set_log_capture_for_testing(nullptr); }

bool LogCapture::contains(const std::vector<std::string>& parts) const {
  std::lock_guard lock(lines_->mu);
  for (const std::string& line : lines_->lines) {
    bool all = true;
    for (const std::string& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

base::Result<std::string> ScriptedImage::read(size_t max_bytes) {
  if (pos_ >= fail_at_) return base::Status(base::Code::kIoError, "the disk went away");
  const size_t n = std::min(max_bytes, data_.size() - pos_);
  std::string out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

base::Status MemorySink::Kept::keep() {
  sink->kept.push_back(data);
  return base::Status::ok();
}

MemorySink::Spool::~Spool() {
  if (!finished) ++sink->discarded;
}

base::Status MemorySink::Spool::append(std::string_view d) {
  if (sink->fail_appends) return base::Status(base::Code::kNoSpace, "disk full");
  data.append(d);
  return base::Status::ok();
}

base::Result<std::shared_ptr<ReceivedSnapshot>> MemorySink::Spool::finish() {
  finished = true;
  return std::shared_ptr<ReceivedSnapshot>(std::make_shared<Kept>(sink, data));
}

base::Result<std::unique_ptr<SnapshotSpool>> MemorySink::begin(GroupId g,
                                                               const raft::SnapshotMeta& meta) {
  begun.emplace_back(g, meta.index);
  if (fail_begin) return base::Status(base::Code::kIoError, "cannot create");
  return std::unique_ptr<SnapshotSpool>(std::make_unique<Spool>(this));
}

}  // namespace meridian::net::testing
