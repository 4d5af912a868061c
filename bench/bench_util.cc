#include "bench_util.h"

#include <sys/statfs.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace meridian::bench {

namespace {

// f_type values from statfs(2) / <linux/magic.h>, for the names we print.
struct FsMagic {
  int64_t magic;
  const char* name;
  bool memory;  // contents live in RAM: fdatasync is free, the numbers mean nothing
};
constexpr FsMagic kFsMagics[] = {
    {0xEF53, "ext2/3/4", false},      {0x58465342, "xfs", false},  {0x9123683E, "btrfs", false},
    {0x2FC12FC1, "zfs", false},       {0xF2F52010, "f2fs", false}, {0x6969, "nfs", false},
    {0x794C7630, "overlayfs", false}, {0x01021994, "tmpfs", true}, {0x858458F6, "ramfs", true},
};

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  std::exit(2);
}

const FsMagic* find_magic(const std::string& dir) {
  struct statfs st {};
  if (statfs(dir.c_str(), &st) != 0) {
    die("statfs " + dir + ": " + std::strerror(errno));
  }
  for (const FsMagic& m : kFsMagics) {
    if (static_cast<int64_t>(st.f_type) == m.magic) {
      return &m;
    }
  }
  return nullptr;
}

// The /proc/mounts line whose mount point is the longest prefix of `dir`:
// {source, mount point, type}.
std::vector<std::string> mount_of(const std::string& dir) {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  std::vector<std::string> best;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string source;
    std::string point;
    std::string type;
    fields >> source >> point >> type;
    const bool under =
        dir == point || point == "/" ||
        (dir.starts_with(point) && dir.size() > point.size() && dir[point.size()] == '/');
    if (under && (best.empty() || point.size() >= best[1].size())) {
      best = {source, point, type};
    }
  }
  return best;
}

std::string make_temp_dir(const std::string& parent, const std::string& prefix) {
  std::string tmpl = parent + "/" + prefix + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    die("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  return tmpl;
}

}  // namespace

Flags::Flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--")) {
      die("unexpected argument '" + arg + "' (flags are --name=value)");
    }
    arg = arg.substr(2);
    if (auto eq = arg.find('='); eq != std::string::npos) {
      values_[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (i + 1 < argc && !std::string(argv[i + 1]).starts_with("--")) {
      values_[arg] = argv[++i];
    } else {
      values_[arg] = "true";
    }
    used_[arg.substr(0, arg.find('='))] = false;
  }
}

bool Flags::has(const std::string& name) {
  used_[name] = true;
  return values_.count(name) != 0;
}

std::string Flags::get(const std::string& name, const std::string& fallback) {
  return has(name) ? values_[name] : fallback;
}

uint64_t Flags::get_u64(const std::string& name, uint64_t fallback) {
  if (!has(name)) {
    return fallback;
  }
  char* end = nullptr;
  uint64_t v = std::strtoull(values_[name].c_str(), &end, 10);
  if (end == values_[name].c_str() || *end != '\0') {
    die("--" + name + " wants a count, got '" + values_[name] + "'");
  }
  return v;
}

double Flags::get_double(const std::string& name, double fallback) {
  if (!has(name)) {
    return fallback;
  }
  char* end = nullptr;
  double v = std::strtod(values_[name].c_str(), &end);
  if (end == values_[name].c_str() || *end != '\0' || !(v > 0)) {
    die("--" + name + " wants a positive number, got '" + values_[name] + "'");
  }
  return v;
}

std::vector<uint64_t> Flags::get_list(const std::string& name,
                                      const std::vector<uint64_t>& fallback) {
  if (!has(name)) {
    return fallback;
  }
  std::vector<uint64_t> out;
  std::istringstream items(values_[name]);
  std::string item;
  while (std::getline(items, item, ',')) {
    char* end = nullptr;
    uint64_t v = std::strtoull(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v == 0) {
      die("--" + name + " wants positive counts separated by commas, got '" + values_[name] + "'");
    }
    out.push_back(v);
  }
  return out;
}

void Flags::check_all_used(const char* usage) const {
  for (const auto& [name, used] : used_) {
    if (!used) {
      std::fprintf(stderr, "unknown flag --%s\n%s", name.c_str(), usage);
      std::exit(2);
    }
  }
}

std::string make_data_dir(const std::string& parent, const std::string& prefix) {
  if (!parent.empty()) {
    std::filesystem::create_directories(parent);
    return make_temp_dir(parent, prefix);
  }
  std::error_code ec;
  std::string exe_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().string();
  if (!ec && !exe_dir.empty() && !is_memory_filesystem(exe_dir)) {
    return make_temp_dir(exe_dir, prefix);
  }
  return make_temp_dir("/var/tmp", prefix);
}

std::string describe_filesystem(const std::string& dir) {
  const FsMagic* magic = find_magic(dir);
  std::vector<std::string> mount = mount_of(std::filesystem::canonical(dir).string());
  if (mount.empty()) {
    return magic != nullptr ? magic->name : "an unknown file system";
  }
  return mount[2] + " (" + mount[0] + " mounted on " + mount[1] + ")";
}

bool is_memory_filesystem(const std::string& dir) {
  const FsMagic* magic = find_magic(dir);
  return magic != nullptr && magic->memory;
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) {
    std::fprintf(stderr, "warning: could not remove %s: %s\n", dir.c_str(), ec.message().c_str());
  }
}

std::string random_bytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (char& c : out) {
    // xorshift64: fast, and enough to defeat compression or deduplication.
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 56);
  }
  return out;
}

uint64_t percentile(const std::vector<uint64_t>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[rank == 0 ? 0 : rank - 1];
}

}  // namespace meridian::bench
