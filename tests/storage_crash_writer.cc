// storage_crash_writer: the process that storage_crash_test kills with SIGKILL.
//
//   storage_crash_writer --mode write  --dir DIR --seed S [--threads T] [--groups G]
//   storage_crash_writer --mode verify --dir DIR --seed S
//
// write: opens the LogEngine in DIR/journal on the real disk (PosixFileSystem),
// which recovers; verifies it as below; then T threads append forever through one
// GroupCommitter, each to its own groups (group g belongs to thread g % T), until
// the process is killed. Each batch is 1-4 entries of one group plus that group's
// hard state with commit = the batch's last index (so the hard state and entries
// of a batch must survive together). After a batch is acknowledged, the thread
// writes one line per entry, "ack <group> <index> <crc32c of the data>", to
// DIR/acks.log (opened with O_APPEND, one write() per line). The ack log is not
// synced: a SIGKILL loses nothing the kernel already took, and the parent reads it
// after the kill.
//
// verify: reads the ack log and the engine and checks that
//   - every acknowledged (group, index) is in the log with its exact data;
//   - every entry served, acknowledged or not, has exactly the deterministic data
//     of its (group, index): no torn or corrupt entry is ever served;
//   - each group's log is contiguous from index 1, and its hard state commit lies
//     between its highest acknowledged index and its last index.
// Entries beyond the acknowledged ones are allowed (written, killed before the ack).
// The last line of the ack log may be cut short by the kill; it is ignored. Prints
// one summary line; exits 1 with the reasons on any failure.
//
// Entry data is a pure function of (group, index, seed), so any run can check
// what any earlier run wrote.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/crc32c.h"
#include "storage/group_commit.h"
#include "storage/log_engine.h"
#include "storage/posix_file_system.h"
#include "storage/write_batch.h"

namespace meridian::storage {
namespace {

constexpr uint64_t kEntryBytesMax = 6000;  // spans page boundaries, so writes cross pages
// Small segments, so that kills also land around segment roll-overs.
constexpr uint64_t kSegmentBytes = 1ull << 20;
constexpr uint64_t kReadBytesMax = 1ull << 20;  // per entries() call while verifying
// A safety net: a writer whose parent vanished without killing it stops by itself.
constexpr unsigned kWriterLifetimeSeconds = 600;

struct Options {
  std::string mode;
  std::string dir;
  uint64_t seed = 0;
  uint64_t threads = 4;
  uint64_t groups = 8;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: storage_crash_writer --mode write|verify --dir DIR --seed S "
               "[--threads T] [--groups G]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--mode") {
      o.mode = value;
    } else if (flag == "--dir") {
      o.dir = value;
    } else if (flag == "--seed") {
      o.seed = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--threads") {
      o.threads = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--groups") {
      o.groups = std::strtoull(value.c_str(), nullptr, 10);
    } else {
      usage();
    }
  }
  if (argc % 2 != 1 || (o.mode != "write" && o.mode != "verify") || o.dir.empty() ||
      o.threads == 0 || o.groups < o.threads) {
    usage();
  }
  return o;
}

uint64_t mix(uint64_t x) {
  // splitmix64's finalizer: every input bit affects every output bit.
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The data of entry (g, i) under `seed`: 0 to kEntryBytesMax pseudo-random bytes.
std::string entry_data(uint64_t g, uint64_t i, uint64_t seed) {
  uint64_t x = mix(mix(mix(seed) ^ g) ^ i);
  const size_t n = (x % 16 == 0) ? 0 : x % (kEntryBytesMax + 1);  // some empty entries
  std::string out(n, '\0');
  for (size_t k = 0; k < n; ++k) {
    if (k % 8 == 0) {
      x = mix(x);
    }
    out[k] = static_cast<char>(x >> (8 * (k % 8)));
  }
  return out;
}

// How many entries the batch starting at index i of group g holds (1-4).
uint64_t batch_entries(uint64_t g, uint64_t i, uint64_t seed) {
  return 1 + mix(seed ^ (g << 32) ^ i) % 4;
}

std::string journal_dir(const Options& o) { return o.dir + "/journal"; }
std::string ack_log_path(const Options& o) { return o.dir + "/acks.log"; }

struct VerifyResult {
  uint64_t groups = 0;
  uint64_t entries = 0;
  uint64_t acked = 0;
  std::vector<std::string> failures;
};

// Highest acknowledged index of each group, from the ack log; checks each line's CRC.
std::map<uint64_t, uint64_t> read_acks(const Options& o, VerifyResult& r) {
  std::map<uint64_t, uint64_t> acked;
  std::ifstream in(ack_log_path(o), std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  size_t pos = 0;
  for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    std::istringstream line(text.substr(pos, nl - pos));
    std::string word;
    uint64_t g = 0;
    uint64_t i = 0;
    uint32_t crc = 0;
    if (!(line >> word >> g >> i >> crc) || word != "ack") {
      r.failures.push_back("bad ack line: '" + text.substr(pos, nl - pos) + "'");
      continue;
    }
    if (crc != crc32c(entry_data(g, i, o.seed))) {
      r.failures.push_back("ack line with a wrong checksum: '" + text.substr(pos, nl - pos) + "'");
    }
    acked[g] = std::max(acked[g], i);
    ++r.acked;
  }
  return acked;  // text after the last '\n' is a line the kill cut short
}

void verify_group(const LogEngine& engine, GroupId g, uint64_t acked_max, const Options& o,
                  VerifyResult& r) {
  const std::string name = "group " + std::to_string(g.value());
  const uint64_t first = engine.first_index(g).value();
  const uint64_t last = engine.last_index(g).value();
  if (first != 1) {
    r.failures.push_back(name + ": first index " + std::to_string(first) + ", expected 1");
    return;
  }
  if (last < acked_max) {
    r.failures.push_back(name + ": last index " + std::to_string(last) + " but " +
                         std::to_string(acked_max) + " was acknowledged");
  }
  const uint64_t commit = engine.hard_state(g).commit.value();
  if (commit < acked_max || commit > last) {
    r.failures.push_back(name + ": hard state commit " + std::to_string(commit) +
                         " outside [acked " + std::to_string(acked_max) + ", last " +
                         std::to_string(last) + "]");
  }
  uint64_t next = 1;
  while (next <= last) {
    auto got = engine.entries(g, raft::Index{next}, raft::Index{last + 1}, kReadBytesMax);
    if (!got.is_ok()) {
      r.failures.push_back(name + ": reading from " + std::to_string(next) + ": " +
                           got.status().to_string());
      return;
    }
    for (const raft::Entry& e : got.value()) {
      if (e.index.value() != next || e.term != raft::Term{1} ||
          e.data != entry_data(g.value(), next, o.seed)) {
        r.failures.push_back(name + ": entry " + std::to_string(next) +
                             " is not what was written (index " + std::to_string(e.index.value()) +
                             ", " + std::to_string(e.data.size()) + " bytes)");
        return;
      }
      ++next;
      ++r.entries;
    }
  }
}

VerifyResult verify(const LogEngine& engine, const Options& o) {
  VerifyResult r;
  std::map<uint64_t, uint64_t> acked = read_acks(o, r);
  for (const auto& [g, index] : acked) {
    if (!engine.has_group(GroupId{g})) {
      r.failures.push_back("group " + std::to_string(g) + " was acknowledged up to " +
                           std::to_string(index) + " but is missing");
    }
  }
  for (GroupId g : engine.groups()) {
    ++r.groups;
    auto it = acked.find(g.value());
    verify_group(engine, g, it == acked.end() ? 0 : it->second, o, r);
  }
  return r;
}

std::unique_ptr<LogEngine> open_engine(FileSystem* fs, const Options& o) {
  auto engine = LogEngine::open(
      fs, LogEngineOptions{.dir = journal_dir(o), .segment_bytes_max = kSegmentBytes});
  if (!engine.is_ok()) {
    std::fprintf(stderr, "FAIL: open %s: %s\n", journal_dir(o).c_str(),
                 engine.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(engine).value();
}

// One line, one write(): with O_APPEND concurrent lines never interleave.
void write_ack(int fd, uint64_t g, uint64_t i, uint32_t crc) {
  char line[96];
  const int n =
      std::snprintf(line, sizeof line, "ack %llu %llu %u\n", static_cast<unsigned long long>(g),
                    static_cast<unsigned long long>(i), crc);
  if (::write(fd, line, static_cast<size_t>(n)) != n) {
    std::fprintf(stderr, "FAIL: write to the ack log: %s\n", std::strerror(errno));
    std::_Exit(1);
  }
}

[[noreturn]] void append_forever(GroupCommitter& committer, const LogEngine& engine, int ack_fd,
                                 const Options& o, uint64_t thread) {
  std::map<uint64_t, uint64_t> next;  // group -> next index
  for (uint64_t g = thread; g < o.groups; g += o.threads) {
    next[g + 1] = engine.last_index(GroupId{g + 1}).value() + 1;
  }
  for (;;) {
    for (auto& [g, index] : next) {
      const uint64_t n = batch_entries(g, index, o.seed);
      std::vector<raft::Entry> entries;
      for (uint64_t k = 0; k < n; ++k) {
        entries.push_back(raft::Entry{raft::Term{1}, raft::Index{index + k},
                                      raft::EntryType::kNormal, entry_data(g, index + k, o.seed)});
      }
      WriteBatch batch;
      batch.append(GroupId{g}, std::move(entries));
      batch.set_hard_state(
          GroupId{g}, raft::HardState{raft::Term{1}, raft::kNoNode, raft::Index{index + n - 1}});
      Status s = committer.write_sync(std::move(batch));
      if (!s.is_ok()) {
        std::fprintf(stderr, "FAIL: append to group %llu at %llu: %s\n",
                     static_cast<unsigned long long>(g), static_cast<unsigned long long>(index),
                     s.to_string().c_str());
        std::_Exit(1);
      }
      for (uint64_t k = 0; k < n; ++k) {
        write_ack(ack_fd, g, index + k, crc32c(entry_data(g, index + k, o.seed)));
      }
      index += n;
    }
  }
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  PosixFileSystem fs;
  std::unique_ptr<LogEngine> engine = open_engine(&fs, o);
  const VerifyResult r = verify(*engine, o);
  for (const std::string& f : r.failures) {
    std::fprintf(stderr, "FAIL: %s\n", f.c_str());
  }
  if (!r.failures.empty()) {
    return 1;
  }
  if (o.mode == "verify") {
    std::printf("%llu groups, %llu entries, %llu acknowledged: ok\n",
                static_cast<unsigned long long>(r.groups),
                static_cast<unsigned long long>(r.entries),
                static_cast<unsigned long long>(r.acked));
    return 0;
  }

  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  ::alarm(kWriterLifetimeSeconds);
  const int ack_fd =
      ::open(ack_log_path(o).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (ack_fd < 0) {
    std::fprintf(stderr, "FAIL: open %s: %s\n", ack_log_path(o).c_str(), std::strerror(errno));
    return 1;
  }
  GroupCommitter committer(engine.get());
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] { append_forever(committer, *engine, ack_fd, o, t); });
  }
  for (auto& t : threads) {
    t.join();  // never returns: the writers loop until the process is killed
  }
  return 0;
}

}  // namespace
}  // namespace meridian::storage

int main(int argc, char** argv) { return meridian::storage::run(argc, argv); }
