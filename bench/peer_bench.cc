// peer_bench: replication throughput of a three-node cluster on loopback. Starts
// three real Nodes in this process (each its own data directory on disk, fsync on,
// the real peer transport over 127.0.0.1), waits for a leader, and keeps a window
// of W no-op proposals of S payload bytes in flight at the leader for --seconds: a
// proposal completes once committed by a quorum (leader and one follower synced)
// and applied on the leader. Measures acknowledged entries/s, payload MB/s and
// per-proposal latency; bench/run-peer sets them against the disk's raw
// write+fdatasync rate measured in the same run.
//
// Output per case, readable and machine-readable:
//   RESULT peer size=<bytes> window=<w> entries=<n> seconds=<s> entries_per_s=<x>
//          mb_per_s=<y> p50_us=<l> p99_us=<l> syncs_per_s=<leader fsyncs/s>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "node/map_state_machine.h"
#include "node/node.h"
#include "observe/log.h"

namespace meridian::bench {
namespace {

constexpr const char* kUsage =
    "usage: peer_bench [--dir DIR] [--seconds S] [--sizes 100,4096,65536] [--windows 1,256]\n"
    "  --dir      where the three nodes keep their data (a new subdirectory, removed after)\n"
    "  --seconds  time per case (default 3)\n"
    "  --sizes    no-op payload bytes per entry; --windows proposals in flight; every\n"
    "             combination is a case, each on a fresh cluster\n";

constexpr GroupId kGroup{1};

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return 0;  // the caller's bind then fails with a clear error
  }
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Cluster {
  std::vector<std::unique_ptr<node::Node>> nodes;
  std::vector<std::unique_ptr<observe::Registry>> registries;
};

Cluster start_cluster(const std::string& dir) {
  std::map<raft::NodeId, std::string> members;
  std::vector<uint16_t> ports;
  for (uint64_t i = 1; i <= 3; ++i) {
    ports.push_back(free_port());
    members[raft::NodeId{i}] = "127.0.0.1:" + std::to_string(ports.back());
  }
  Cluster c;
  for (uint64_t i = 1; i <= 3; ++i) {
    node::NodeOptions o;
    o.id = raft::NodeId{i};
    o.initial_cluster = members;
    o.data_dir = dir + "/node-" + std::to_string(i);
    o.listen_peer_port = ports[i - 1];
    o.cluster_token = "peer-bench";
    c.registries.push_back(std::make_unique<observe::Registry>());
    auto n = node::Node::start(o, c.registries.back().get());
    if (!n.is_ok()) {
      std::fprintf(stderr, "error: starting node %llu: %s\n", static_cast<unsigned long long>(i),
                   n.status().to_string().c_str());
      std::exit(1);
    }
    c.nodes.push_back(std::move(n).value());
  }
  return c;
}

node::Node* wait_leader(Cluster& c) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    for (auto& n : c.nodes) {
      const node::NodeStatus st = n->status();
      if (!st.groups.empty() && st.groups[0].role == raft::Role::kLeader) return n.get();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "error: no leader within 30 s\n");
  std::exit(1);
}

void run_case(const std::string& parent, uint64_t size, uint64_t window, double seconds) {
  const std::string dir = make_data_dir(parent, "peer-bench");
  Cluster c = start_cluster(dir);
  node::Node* leader = wait_leader(c);
  const std::string command = node::encode_noop(size > 0 ? size - 1 : 0);

  std::mutex mu;
  std::condition_variable cv;
  uint64_t in_flight = 0;
  uint64_t acked = 0;
  uint64_t failed = 0;
  std::vector<uint64_t> latencies_us;
  latencies_us.reserve(1 << 20);
  const uint64_t syncs_before = leader->status().journal_syncs;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return in_flight < window; });
      if (in_flight >= window) continue;
      ++in_flight;
    }
    const auto sent = Clock::now();
    leader->propose(kGroup, command, [&, sent](base::Result<node::ProposeResult> r) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
      std::lock_guard lock(mu);
      --in_flight;
      if (r.is_ok()) {
        ++acked;
        latencies_us.push_back(static_cast<uint64_t>(us.count()));
      } else {
        ++failed;
      }
      cv.notify_one();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return in_flight == 0; });
  }
  const double elapsed = seconds_between(start, Clock::now());
  const uint64_t syncs = leader->status().journal_syncs - syncs_before;
  for (auto& n : c.nodes) n->halt();
  c.nodes.clear();
  remove_tree(dir);

  std::sort(latencies_us.begin(), latencies_us.end());
  const double eps = static_cast<double>(acked) / elapsed;
  std::printf(
      "peer: %6llu B x window %4llu: %10.0f entries/s %8.1f MB/s  p50 %6llu us  p99 %7llu us"
      "  (%llu failed; status refreshes per tick, syncs approximate)\n",
      static_cast<unsigned long long>(size), static_cast<unsigned long long>(window), eps,
      eps * static_cast<double>(size) / 1e6,
      static_cast<unsigned long long>(percentile(latencies_us, 50)),
      static_cast<unsigned long long>(percentile(latencies_us, 99)),
      static_cast<unsigned long long>(failed));
  std::printf(
      "RESULT peer size=%llu window=%llu entries=%llu seconds=%.3f entries_per_s=%.1f "
      "mb_per_s=%.2f p50_us=%llu p99_us=%llu syncs_per_s=%.1f\n",
      static_cast<unsigned long long>(size), static_cast<unsigned long long>(window),
      static_cast<unsigned long long>(acked), elapsed, eps, eps * static_cast<double>(size) / 1e6,
      static_cast<unsigned long long>(percentile(latencies_us, 50)),
      static_cast<unsigned long long>(percentile(latencies_us, 99)),
      static_cast<double>(syncs) / elapsed);
  std::fflush(stdout);
}

}  // namespace
}  // namespace meridian::bench

int main(int argc, char** argv) {
  using namespace meridian::bench;  // NOLINT(google-build-using-namespace): a main
  Flags flags(argc, argv);
  const std::string dir = flags.get("dir", "");
  const double seconds = flags.get_double("seconds", 3);
  const auto sizes = flags.get_list("sizes", {100, 4096, 65536});
  const auto windows = flags.get_list("windows", {1, 256});
  flags.check_all_used(kUsage);
  meridian::observe::init_logging(
      {meridian::observe::LogFormat::kHuman, meridian::observe::LogLevel::kWarn, 0});
  for (uint64_t size : sizes) {
    for (uint64_t window : windows) run_case(dir, size, window, seconds);
  }
  return 0;
}
