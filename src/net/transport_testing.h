// Test harness for the transport tests: io threads, a recording handler, nodes
// started on port 0, a raw TCP client for misbehaving-peer tests, message makers,
// log capture and deadline waits. Test support only (linked into net_tests).
//
// Threads: the io threads run the transports; everything else is used from the
// test thread, except Recorder and LogCapture, which the io threads call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "net/transport.h"

namespace meridian::net::testing {

using namespace std::chrono_literals;

inline constexpr uint64_t kTestCluster = 0xC0FFEE;

// Polls `cond` until it holds (true) or `timeout` passes (false).
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 3000ms);

// An io_context run by two threads (so that strands matter) for the test's life.
// Stop every transport before this goes.
class IoThreads {
 public:
  IoThreads();
  ~IoThreads();
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// A TransportHandler that records every call. After close(), any further call is
// counted as a violation of stop()'s contract.
class Recorder : public TransportHandler {
 public:
  struct Received {
    raft::NodeId from;
    Envelope env;
  };
  struct Dropped {
    raft::NodeId to;
    GroupId group;
    raft::MessageType type;
  };

  void on_messages(raft::NodeId from, std::vector<Envelope> batch) override;
  void on_dropped(raft::NodeId to, GroupId group, raft::MessageType type) override;
  void on_snapshot_sent(raft::NodeId to, GroupId group) override;
  void on_removed(raft::NodeId by) override { removed_by_.store(by.value()); }
  // The peer that last said it removed this node (0: none).
  uint64_t removed_by() const { return removed_by_.load(); }

  std::vector<Received> received() const;
  size_t received_count() const;
  size_t received_from(raft::NodeId from) const;
  std::vector<Dropped> dropped() const;
  size_t dropped_count() const;
  std::vector<std::pair<raft::NodeId, GroupId>> snapshots_sent() const;
  void close() { closed_.store(true); }
  uint64_t calls_after_close() const { return violations_.load(); }

 private:
  void check_open();
  mutable std::mutex mu_;
  std::vector<Received> received_;                                // guarded by mu_
  std::vector<Dropped> dropped_;                                  // guarded by mu_
  std::vector<std::pair<raft::NodeId, GroupId>> snapshots_sent_;  // guarded by mu_
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> violations_{0};
  std::atomic<uint64_t> removed_by_{0};
};

// One transport and its handler.
struct TestNode {
  raft::NodeId id;
  Recorder handler;
  std::unique_ptr<Transport> transport;  // after handler: stopped before it goes

  std::string address() const;
  PeerStats stats(raft::NodeId peer) const;
  PeerStats stats(uint64_t peer) const { return stats(raft::NodeId{peer}); }
  void send(uint64_t to, std::vector<Envelope> batch) {
    transport->send(raft::NodeId{to}, std::move(batch));
  }
};

// Options for tests: 127.0.0.1, port 0, fast backoff, no peers yet.
TransportOptions test_options(uint64_t self, uint64_t cluster = kTestCluster);
// Starts a node; fails the test (and returns null) if start() fails.
std::unique_ptr<TestNode> start_node(boost::asio::io_context& io, const TransportOptions& options);
// Tells every node the address of every other node.
void link_all(const std::vector<TestNode*>& nodes);
// Waits until every node's outgoing connection to every other node is up.
bool all_connected(const std::vector<TestNode*>& nodes);

// Messages.
Envelope make_append(uint64_t from, uint64_t to, uint64_t group, uint64_t index, std::string data);
Envelope make_heartbeat(uint64_t from, uint64_t to, uint64_t group, uint64_t commit);
Envelope make_snapshot(uint64_t from, uint64_t to, uint64_t group, std::string data);
// Whether two messages carry the same Raft content (snapshots by value).
bool same_message(const raft::Message& a, const raft::Message& b);

// An image handed out in pieces, recording how far it was read, and failing
// (kIoError) once `fail_at` bytes were read.
class ScriptedImage final : public base::ByteSource {
 public:
  explicit ScriptedImage(std::string data, uint64_t fail_at = UINT64_MAX)
      : data_(std::move(data)), fail_at_(fail_at) {}
  base::Result<std::string> read(size_t max_bytes) override;
  uint64_t read_so_far() const { return pos_; }

 private:
  std::string data_;
  uint64_t fail_at_;
  size_t pos_ = 0;
};

// A SnapshotSink that keeps what it is given in memory and can be told to fail.
// Single-threaded use, or guarded by the caller.
struct MemorySink final : SnapshotSink {
  struct Kept final : ReceivedSnapshot {
    Kept(MemorySink* s, std::string d) : sink(s), data(std::move(d)) {}
    base::Status keep() override;
    MemorySink* sink;
    std::string data;
  };
  struct Spool final : SnapshotSpool {
    explicit Spool(MemorySink* s) : sink(s) {}
    ~Spool() override;
    base::Status append(std::string_view d) override;
    base::Result<std::shared_ptr<ReceivedSnapshot>> finish() override;
    MemorySink* sink;
    std::string data;
    bool finished = false;
  };
  base::Result<std::unique_ptr<SnapshotSpool>> begin(GroupId g,
                                                     const raft::SnapshotMeta& meta) override;

  std::vector<std::pair<GroupId, raft::Index>> begun;
  std::vector<std::string> kept;
  int discarded = 0;
  bool fail_begin = false;
  bool fail_appends = false;
};

// A blocking TCP client on plain POSIX sockets, with deadlines.
class RawClient {
 public:
  explicit RawClient(uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void write(const std::string& bytes);
  // Reads until *got holds at least `n` bytes (true) or `timeout` passes or the
  // server closes (false).
  bool read_until(std::string* got, size_t n, std::chrono::milliseconds timeout = 3000ms);
  // Reads until the server closes the connection (true) or `timeout` passes
  // (false); whatever arrives is appended to *got.
  bool wait_closed(std::string* got, std::chrono::milliseconds timeout = 3000ms);

 private:
  int fd_ = -1;
};

// Captures log lines (also echoed to stderr) while alive.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  // Whether some line contains every one of `parts`.
  bool contains(const std::vector<std::string>& parts) const;

 private:
  struct Lines;
  std::shared_ptr<Lines> lines_;  // shared with the capture function
};

}  // namespace meridian::net::testing
