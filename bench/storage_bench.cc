// storage_bench: Meridian's write path on a real disk, GroupCommitter over a
// LogEngine over PosixFileSystem, driven by synchronous clients: each of W writer
// threads appends one entry at a time (one WriteBatch with one entry) and waits
// for its acknowledgement (written and fdatasync'ed) before the next. Writers walk
// the G groups round-robin, each from its own starting group. The measure is
// acknowledged appends per second; bench/run-storage sets it against the raw
// write+fdatasync limit of raw_sync_bench.
//
// A group's entries must arrive with consecutive indexes in submission order, as
// a Raft leader's would: a writer takes the group's next index and submits under
// the group's lock (submit() only queues), then waits for the acknowledgement
// outside it, so many writers of one group can still share a round.
//
// Every case (entry size x writers x groups) starts from an empty journal in a new
// directory, runs for --seconds or --max-appends acknowledged appends, whichever
// comes first, and prints a readable line and one machine-readable line:
//   RESULT storage size=<bytes> writers=<w> groups=<g> appends=<n> seconds=<s>
//          appends_per_s=<x> mb_per_s=<y> rounds_per_s=<r> batches_per_round=<b>
//          p50_us=<l> p99_us=<l>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/crc32c.h"
#include "bench_util.h"
#include "storage/group_commit.h"
#include "storage/log_engine.h"
#include "storage/posix_file_system.h"
#include "storage/write_batch.h"

namespace meridian::bench {
namespace {

using storage::GroupCommitter;
using storage::LogEngine;
using storage::Status;
using storage::WriteBatch;

constexpr const char* kUsage =
    "usage: storage_bench [--dir DIR] [--seconds S] [--max-appends N]\n"
    "                     [--sizes 4096,65536] [--writers 1,8,64] [--groups 1,16,1000]\n"
    "  --dir          where to write (a new subdirectory, removed after); default: the\n"
    "                 build tree, or /var/tmp if that is a memory file system\n"
    "  --seconds      time per case (default 3)\n"
    "  --max-appends  at most this many acknowledged appends per case (default 2000000)\n"
    "  --sizes, --writers, --groups: the cases, every combination\n";

[[noreturn]] void fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), s.to_string().c_str());
  std::exit(1);
}

// The next index of one group, taken and submitted under its lock.
struct GroupSlot {
  std::mutex mu;
  uint64_t next_index = 1;  // guarded by mu
};

// One writer's wait for its current append.
class Ack {
 public:
  GroupCommitter::Done done() {
    return [this](Status s) {
      std::lock_guard lock(mu_);
      status_ = std::move(s);
      acked_ = true;
      cv_.notify_one();
    };
  }
  Status wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return acked_; });
    acked_ = false;
    return std::move(status_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool acked_ = false;
  Status status_;
};

struct CaseSpec {
  uint64_t size = 0;
  uint64_t writers = 0;
  uint64_t groups = 0;
  double seconds = 0;
  uint64_t max_appends = 0;
};

struct Shared {
  const CaseSpec* spec = nullptr;
  GroupCommitter* committer = nullptr;
  std::vector<GroupSlot>* slots = nullptr;
  const std::string* payload = nullptr;
  std::atomic<int64_t> tickets{0};  // appends still allowed (max_appends bound)
  Clock::time_point deadline;
};

// Appends until the deadline or the shared count runs out; returns each acked
// append's latency in microseconds.
std::vector<uint64_t> writer_loop(Shared& shared, uint64_t writer) {
  std::vector<uint64_t> latencies_us;
  Ack ack;
  uint64_t group = writer % shared.spec->groups;
  while (Clock::now() < shared.deadline) {
    if (shared.tickets.fetch_sub(1) <= 0) {
      break;
    }
    std::vector<raft::Entry> entries(1);
    entries[0].term = raft::Term{1};
    entries[0].data = *shared.payload;  // the client's data is copied in, as a request's would be
    const Clock::time_point start = Clock::now();
    {
      GroupSlot& slot = (*shared.slots)[group];
      std::lock_guard lock(slot.mu);
      entries[0].index = raft::Index{slot.next_index++};
      WriteBatch batch;
      batch.append(GroupId{group + 1}, std::move(entries));
      shared.committer->submit(std::move(batch), ack.done());
    }
    Status s = ack.wait();
    if (!s.is_ok()) {
      fail("append", s);
    }
    latencies_us.push_back(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count()));
    group = (group + 1) % shared.spec->groups;
  }
  return latencies_us;
}

void run_case(const std::string& parent, const CaseSpec& spec) {
  const std::string dir = parent + "/case-" + std::to_string(spec.size) + "-" +
                          std::to_string(spec.writers) + "-" + std::to_string(spec.groups);
  storage::PosixFileSystem fs;
  auto opened = LogEngine::open(&fs, storage::LogEngineOptions{.dir = dir});
  if (!opened.is_ok()) {
    fail("open " + dir, opened.status());
  }
  std::unique_ptr<LogEngine> engine = std::move(opened).value();
  std::vector<GroupSlot> slots(spec.groups);
  const std::string payload = random_bytes(spec.size, spec.size);
  std::vector<std::vector<uint64_t>> latencies(spec.writers);
  storage::GroupCommitStats stats;
  double elapsed = 0;
  {
    GroupCommitter committer(engine.get());
    Shared shared;
    shared.spec = &spec;
    shared.committer = &committer;
    shared.slots = &slots;
    shared.payload = &payload;
    shared.tickets.store(static_cast<int64_t>(std::min<uint64_t>(spec.max_appends, INT64_MAX)));
    std::latch ready(static_cast<ptrdiff_t>(spec.writers) + 1);
    std::vector<std::thread> threads;
    for (uint64_t w = 0; w < spec.writers; ++w) {
      threads.emplace_back([&, w] {
        ready.arrive_and_wait();
        latencies[w] = writer_loop(shared, w);
      });
    }
    const Clock::time_point start = Clock::now();
    shared.deadline = start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(spec.seconds));
    ready.arrive_and_wait();  // publishes the deadline to the writers
    for (auto& t : threads) {
      t.join();
    }
    elapsed = seconds_between(start, Clock::now());
    stats = committer.stats();
  }
  engine.reset();
  remove_tree(dir);

  std::vector<uint64_t> all;
  for (const auto& l : latencies) {
    all.insert(all.end(), l.begin(), l.end());
  }
  std::sort(all.begin(), all.end());
  const auto appends = static_cast<double>(all.size());
  const double appends_per_s = appends / elapsed;
  const double mb_per_s = appends_per_s * static_cast<double>(spec.size) / 1e6;
  const double rounds_per_s = static_cast<double>(stats.rounds) / elapsed;
  const double per_round =
      stats.rounds == 0 ? 0
                        : static_cast<double>(stats.batches) / static_cast<double>(stats.rounds);
  const uint64_t p50 = percentile(all, 50);
  const uint64_t p99 = percentile(all, 99);
  std::printf(
      "storage %6llu B x %2llu writers x %4llu groups: %8.0f appends/s %8.1f MB/s %7.0f rounds/s "
      "%6.1f batches/round  p50 %6llu us  p99 %6llu us\n",
      static_cast<unsigned long long>(spec.size), static_cast<unsigned long long>(spec.writers),
      static_cast<unsigned long long>(spec.groups), appends_per_s, mb_per_s, rounds_per_s,
      per_round, static_cast<unsigned long long>(p50), static_cast<unsigned long long>(p99));
  std::printf(
      "RESULT storage size=%llu writers=%llu groups=%llu appends=%zu seconds=%.3f "
      "appends_per_s=%.1f mb_per_s=%.2f rounds_per_s=%.1f batches_per_round=%.2f p50_us=%llu "
      "p99_us=%llu\n",
      static_cast<unsigned long long>(spec.size), static_cast<unsigned long long>(spec.writers),
      static_cast<unsigned long long>(spec.groups), all.size(), elapsed, appends_per_s, mb_per_s,
      rounds_per_s, per_round, static_cast<unsigned long long>(p50),
      static_cast<unsigned long long>(p99));
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  Flags flags(argc, argv);
  if (flags.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string parent = flags.get("dir", "");
  CaseSpec spec;
  spec.seconds = flags.get_double("seconds", 3);
  spec.max_appends = flags.get_u64("max-appends", 2000000);
  const std::vector<uint64_t> sizes = flags.get_list("sizes", {4096, 65536});
  const std::vector<uint64_t> writers = flags.get_list("writers", {1, 8, 64});
  const std::vector<uint64_t> groups = flags.get_list("groups", {1, 16, 1000});
  flags.check_all_used(kUsage);

  const std::string dir = make_data_dir(parent, "storage-bench");
  std::printf("storage_bench: dir %s on %s; crc32c %s\n", dir.c_str(),
              describe_filesystem(dir).c_str(), crc32c_hardware() ? "hardware" : "software");
  if (is_memory_filesystem(dir)) {
    std::printf("WARNING: a memory file system; fdatasync costs nothing here\n");
  }
  for (uint64_t size : sizes) {
    for (uint64_t w : writers) {
      for (uint64_t g : groups) {
        spec.size = size;
        spec.writers = w;
        spec.groups = g;
        run_case(dir, spec);
      }
    }
  }
  remove_tree(dir);
  return 0;
}

}  // namespace
}  // namespace meridian::bench

int main(int argc, char** argv) { return meridian::bench::run(argc, argv); }
