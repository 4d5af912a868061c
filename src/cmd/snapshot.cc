// `meridian snapshot restore FILE --data-dir DIR`: makes DIR the data directory
// of a member of a new cluster whose store is the one in FILE (a snapshot
// stream saved with `etcdctl snapshot save`, api/snapshot_stream.h): the file's
// shape and SHA-256 are checked first, then its image is restored into
// DIR/kv in bounded batches (kv/mvcc_store.h, restore_from) and readied for a
// new log (begin_new_cluster). Run it once per member, with the same file,
// then start each member on its DIR with the new cluster's --initial-cluster.
// Long restores show their progress on stderr.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "api/snapshot_stream.h"
#include "base/byte_source.h"
#include "base/strings.h"
#include "cmd/commands.h"
#include "kv/mvcc_store.h"

namespace meridian::cmd {

namespace {

// The first `length` bytes of a file, reporting progress as they are read: on a
// terminal one line redrawn at each percent, otherwise a line at each tenth.
class ProgressSource final : public base::ByteSource {
 public:
  ProgressSource(const std::string& path, uint64_t length)
      : in_(path, std::ios::binary), length_(length), tty_(isatty(STDERR_FILENO) == 1) {}

  base::Result<std::string> read(size_t max_bytes) override {
    const uint64_t n = std::min<uint64_t>(max_bytes, length_ - done_);
    std::string out(n, '\0');
    if (n > 0 && !in_.read(out.data(), static_cast<std::streamsize>(n))) {
      return base::Status(base::Code::kIoError, "reading the snapshot file");
    }
    done_ += n;
    report();
    return out;
  }

 private:
  void report() {
    const int percent = length_ == 0 ? 100 : static_cast<int>(done_ * 100 / length_);
    const int step = tty_ ? 1 : 10;
    if (percent / step == shown_ / step && shown_ >= 0) return;
    shown_ = percent;
    constexpr double kMiB = 1024.0 * 1024.0;
    std::fprintf(stderr, "%srestoring %3d%% (%.1f of %.1f MiB)%s", tty_ ? "\r" : "", percent,
                 static_cast<double>(done_) / kMiB, static_cast<double>(length_) / kMiB,
                 tty_ && percent < 100 ? "" : "\n");
    std::fflush(stderr);
  }

  std::ifstream in_;
  const uint64_t length_;
  const bool tty_;
  uint64_t done_ = 0;
  int shown_ = -1;
};

int restore(const std::string& file, const std::string& data_dir) {
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec) && !std::filesystem::is_empty(data_dir, ec)) {
    std::fprintf(stderr,
                 "meridian snapshot restore: %s is not empty; a restore makes a new "
                 "member's data directory\n",
                 data_dir.c_str());
    return kExitFailure;
  }
  auto checked = api::check_snapshot_file(file);
  if (!checked.is_ok()) {
    std::fprintf(stderr, "meridian snapshot restore: %s\n", checked.status().message().c_str());
    return kExitFailure;
  }
  const uint64_t image_bytes = checked.value();
  const bool made_dir = !std::filesystem::exists(data_dir, ec);
  kv::StoreOptions options;
  options.dir = (std::filesystem::path(data_dir) / "kv").string();
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "meridian snapshot restore: %s\n", what.c_str());
    // Nothing half-restored is left to be started by mistake.
    std::filesystem::remove_all(
        made_dir ? std::filesystem::path(data_dir) : std::filesystem::path(options.dir), ec);
    return kExitFailure;
  };
  int64_t revision = 0;
  size_t leases = 0;
  {
    auto opened = kv::MvccStore::open(options);
    if (!opened.is_ok()) return fail(opened.status().message());
    std::unique_ptr<kv::MvccStore> store = std::move(opened).value();
    ProgressSource source(file, image_bytes);
    if (base::Status s = store->restore_from(source); !s.is_ok()) {
      return fail(base::cat("the image does not restore: ", s.message()));
    }
    if (base::Status s = store->begin_new_cluster(); !s.is_ok()) return fail(s.message());
    revision = store->revision();
    leases = store->leases().size();
  }
  std::printf("restored %s into %s: revision %" PRId64
              ", %zu lease(s); start this member with "
              "`meridian start --data-dir %s` and the new cluster's --initial-cluster\n",
              file.c_str(), options.dir.c_str(), revision, leases, data_dir.c_str());
  return kExitOk;
}

}  // namespace

int run_snapshot(const std::vector<std::string>& args) {
  CLI::App app("Snapshots of the etcd API's store (saved with `etcdctl snapshot save`).",
               "meridian snapshot");
  app.require_subcommand(1);
  CLI::App* restore_cmd = app.add_subcommand(
      "restore",
      "Makes --data-dir the data directory of a member of a new cluster that starts from the "
      "snapshot FILE. Run it for every member with the same file, then start the members with "
      "the new cluster's --initial-cluster.");
  std::string file;
  std::string data_dir;
  restore_cmd->add_option("FILE", file, "A snapshot saved with `etcdctl snapshot save`")
      ->required();
  restore_cmd->add_option("--data-dir", data_dir, "The new member's data directory (new or empty)")
      ->required();
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return restore(file, data_dir);
}

}  // namespace meridian::cmd
