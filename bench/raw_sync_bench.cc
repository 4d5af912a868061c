// raw_sync_bench: the disk's own limit for a journal, measured in the same run as
// Meridian's storage so that storage results are read as ratios against it
// (DESIGN.md, Performance). For each block size, a loop appends one block with
// write() and makes it durable with fdatasync(), like a journal that syncs every
// record alone; it reports syncs/s and MB/s (10^6 bytes).
//
// The file grows with every block (no preallocation), as the journal's segments
// do, so each fdatasync also commits the new file size.
//
// Output: a readable line per block size, then one machine-readable line
//   RESULT raw block=<bytes> syncs=<n> seconds=<s> syncs_per_s=<x> mb_per_s=<y>
// that bench/run-storage parses.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_util.h"

namespace meridian::bench {
namespace {

constexpr const char* kUsage =
    "usage: raw_sync_bench [--dir DIR] [--seconds S] [--max-count N] [--blocks 4096,65536]\n"
    "  --dir        where to write (a new subdirectory, removed after); default: the\n"
    "               build tree, or /var/tmp if that is a memory file system\n"
    "  --seconds    time per block size (default 3)\n"
    "  --max-count  at most this many syncs per block size (default 1000000)\n";

[[noreturn]] void die_errno(const char* what, const std::string& path) {
  std::fprintf(stderr, "error: %s %s: %s\n", what, path.c_str(), std::strerror(errno));
  std::exit(1);
}

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      die_errno("write", path);
    }
    done += static_cast<size_t>(n);
  }
}

void run_block_size(const std::string& dir, uint64_t block, double seconds, uint64_t max_count) {
  const std::string path = dir + "/raw-" + std::to_string(block) + ".dat";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    die_errno("open", path);
  }
  const std::string data = random_bytes(block, block);
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  uint64_t count = 0;
  Clock::time_point now = start;
  while (count < max_count && now < deadline) {
    write_all(fd, data, path);
    if (::fdatasync(fd) != 0) {
      die_errno("fdatasync", path);
    }
    ++count;
    now = Clock::now();
  }
  const double elapsed = seconds_between(start, now);
  ::close(fd);
  ::unlink(path.c_str());
  const double syncs_per_s = static_cast<double>(count) / elapsed;
  const double mb_per_s = syncs_per_s * static_cast<double>(block) / 1e6;
  std::printf(
      "raw write+fdatasync, %6llu-byte blocks: %8.0f syncs/s  %8.1f MB/s  (%llu in %.2f s)\n",
      static_cast<unsigned long long>(block), syncs_per_s, mb_per_s,
      static_cast<unsigned long long>(count), elapsed);
  std::printf("RESULT raw block=%llu syncs=%llu seconds=%.3f syncs_per_s=%.1f mb_per_s=%.2f\n",
              static_cast<unsigned long long>(block), static_cast<unsigned long long>(count),
              elapsed, syncs_per_s, mb_per_s);
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  Flags flags(argc, argv);
  if (flags.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string parent = flags.get("dir", "");
  const double seconds = flags.get_double("seconds", 3);
  const uint64_t max_count = flags.get_u64("max-count", 1000000);
  const std::vector<uint64_t> blocks = flags.get_list("blocks", {4096, 65536});
  flags.check_all_used(kUsage);

  const std::string dir = make_data_dir(parent, "raw-sync-bench");
  std::printf("raw_sync_bench: dir %s on %s\n", dir.c_str(), describe_filesystem(dir).c_str());
  if (is_memory_filesystem(dir)) {
    std::printf("WARNING: a memory file system; fdatasync costs nothing here\n");
  }
  for (uint64_t block : blocks) {
    run_block_size(dir, block, seconds, max_count);
  }
  remove_tree(dir);
  return 0;
}

}  // namespace
}  // namespace meridian::bench

int main(int argc, char** argv) { return meridian::bench::run(argc, argv); }
