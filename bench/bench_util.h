// Helpers shared by the storage benchmarks: command-line flags, the directory the
// benchmark writes in (on a real disk, never a memory file system by default),
// timing and percentiles. Plain functions and a value type; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace meridian::bench {

// Flags given as --name=value or --name value; a bare --name means "true". Unknown
// flags are an error (check_all_used), so a typo does not silently run defaults.
class Flags {
 public:
  Flags(int argc, char** argv);

  bool has(const std::string& name);
  std::string get(const std::string& name, const std::string& fallback);
  uint64_t get_u64(const std::string& name, uint64_t fallback);
  double get_double(const std::string& name, double fallback);
  // A comma-separated list of counts, e.g. --writers 1,8,64.
  std::vector<uint64_t> get_list(const std::string& name, const std::vector<uint64_t>& fallback);
  // Exits with a message naming any flag that no get/has asked about.
  void check_all_used(const char* usage) const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

// A new, empty directory for the benchmark's files: under `parent` if it is not
// empty, else under the directory of the running binary (the build tree), unless
// that is a memory file system (tmpfs, ramfs), where fdatasync costs nothing;
// then under /var/tmp. The caller removes it (remove_tree).
std::string make_data_dir(const std::string& parent, const std::string& prefix);
// The file system holding `dir`, e.g. "ext4 (/dev/vda mounted on /)".
std::string describe_filesystem(const std::string& dir);
bool is_memory_filesystem(const std::string& dir);
void remove_tree(const std::string& dir);

// `n` bytes of pseudo-random content (incompressible, so no layer can shortcut it).
std::string random_bytes(size_t n, uint64_t seed);

using Clock = std::chrono::steady_clock;
inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
// The p-th percentile (0..100, nearest rank) of `sorted` (ascending); 0 if empty.
uint64_t percentile(const std::vector<uint64_t>& sorted, double p);

}  // namespace meridian::bench
