#include "node/identity.h"

#include <cinttypes>
#include <cstdio>

#include "base/strings.h"

namespace meridian::node {

using base::cat;
using base::Code;
using base::Result;
using base::Status;

namespace {
constexpr const char* kFileName = "meridian.id";
}

Result<std::optional<Identity>> read_identity(storage::FileSystem* fs, const std::string& dir) {
  const std::string path = storage::join_path(dir, kFileName);
  if (!fs->exists(path)) return std::optional<Identity>();
  auto file = fs->open(path, storage::OpenMode::kRead);
  if (!file.is_ok()) return file.status();
  auto text = file.value()->read_at(0, 4096);
  if (!text.is_ok()) return text.status();
  unsigned format = 0;
  uint64_t cluster = 0;
  uint64_t node = 0;
  if (std::sscanf(text.value().c_str(), "format %u\ncluster %" SCNu64 "\nnode %" SCNu64, &format,
                  &cluster, &node) != 3 ||
      format != 1) {
    return Status(Code::kCorruption, cat(path, " is not a Meridian identity file"));
  }
  return std::optional<Identity>(Identity{cluster, raft::NodeId{node}});
}

Status write_identity(storage::FileSystem* fs, const std::string& dir, const Identity& id) {
  const std::string path = storage::join_path(dir, kFileName);
  const std::string tmp = path + ".tmp";
  if (fs->exists(tmp)) {
    if (Status s = fs->remove(tmp); !s.is_ok()) return s;
  }
  auto file = fs->open(tmp, storage::OpenMode::kCreate);
  if (!file.is_ok()) return file.status();
  const std::string text =
      cat("format 1\ncluster ", id.cluster_id, "\nnode ", id.node.value(), "\n");
  if (Status s = file.value()->append(text); !s.is_ok()) return s;
  if (Status s = file.value()->sync(); !s.is_ok()) return s;
  if (Status s = fs->rename(tmp, path); !s.is_ok()) return s;
  return fs->sync_dir(dir);
}

}  // namespace meridian::node
