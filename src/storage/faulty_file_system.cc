// The model behind FaultyFileSystem (see the header for the contract). Choices
// the header leaves open, made here and pinned by faulty_file_system_test.cc:
//
// Namespace. Paths are split on '/'; empty and "." components are ignored and
// ".." goes up (not above a root). Absolute paths live under the root "/",
// relative ones under a second root (the working directory); both roots always
// exist and are durable. A file or directory is created only in an existing
// directory (else kNotFound); create_dir() creates missing parents like
// `mkdir -p`, and each new directory is an entry of its parent like any other.
// remove() removes a file or an empty directory. Only files can be renamed
// (directories: kInvalidArgument; nothing in Meridian renames one, and it keeps
// the tree free of cycles across crashes).
//
// Inodes. A directory entry points at an inode; an open File holds its inode, so
// renames and removals do not disturb it (like POSIX). Each directory has a
// volatile entry table (what lookups see) and a durable one (copied from it by
// sync_dir). A cross-directory rename is two entry changes, each durable only
// when its own directory is synced: a crash in between may show the file under
// both names (one inode) or under neither.
//
// File content. An inode keeps its volatile bytes, enough to rebuild its durable
// bytes, and the appends since its last successful sync, each with the offset it
// was written at. A crash rebuilds the content as:
//   durable bytes (an unsynced truncate is forgotten: the durable length stays),
//   then, with probability keep_unsynced_fraction, the first m pending appends
//   (m uniform in [0, count]), and with probability 1/2 a torn prefix (at least
//   one byte, not all) of the next one, each written back at its own offset.
// Writing at the original offset is what a kernel flushing dirty pages does:
// after "truncate to 3, append XY" on durable "ABCDEF", a crash that keeps the
// append gives "ABCXYF", not "ABCDEFXY". With no truncations since the last sync
// this is simply durable + a prefix of the appended bytes.
//
// Faults and counters. Appends are numbered from 1 over the file system's life;
// fail_after_writes and crash_at_write name the append that fails, one shot each.
// The space limit counts the volatile bytes of every file the namespace shows (a
// removed file still open does not count). fail_syncs applies to sync_dir too. An
// explicit crash() leaves the machine running at once (old Files are dead);
// crash_at_write leaves it crashed, failing every call with kIoError (exists():
// false), until restart().
//
// Every random choice comes from one splitmix64 stream seeded at construction and
// drawn in a deterministic order (entries are visited in name order), so the same
// seed and the same calls give the same result. A mutex serializes every call:
// the header asks for one thread, but a log engine reading from other threads or
// a group-commit writer thread in a test stays race-free.
#include "storage/faulty_file_system.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace meridian::storage {
namespace faulty_internal {

// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014): tiny, fast, and good enough for choosing faults; the
// constants are the published ones.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0. The modulo bias is below 2^-40 for the sizes used here.
  uint64_t below(uint64_t n) {
    MERIDIAN_ASSERT(n > 0, "below(0)");
    return next() % n;
  }
  bool chance(double p) {
    // 53 random bits as a double in [0, 1).
    return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
  }

 private:
  uint64_t state_;
};

struct PendingWrite {
  uint64_t offset;
  std::string data;
};

struct Inode;
using InodePtr = std::shared_ptr<Inode>;
using Entries = std::map<std::string, InodePtr>;

struct Inode {
  Inode(uint64_t id_in, bool is_dir_in) : id(id_in), is_dir(is_dir_in) {}

  const uint64_t id;
  const bool is_dir;

  // Files. data[0, stable_len) equals the durable content's prefix; the durable
  // bytes past it (cut by unsynced truncations) are kept in durable_tail, so a
  // sync costs nothing proportional to the file's size.
  std::string data;
  uint64_t stable_len = 0;
  std::string durable_tail;
  std::vector<PendingWrite> pending;  // unsynced appends, oldest first

  // Directories.
  Entries entries;
  Entries durable_entries;

  std::string durable_content() const { return data.substr(0, stable_len) + durable_tail; }
  void make_durable() {
    stable_len = data.size();
    durable_tail.clear();
    pending.clear();
  }
};

struct ParsedPath {
  bool absolute = false;
  std::vector<std::string> parts;
};

ParsedPath parse_path(const std::string& path) {
  ParsedPath p;
  p.absolute = !path.empty() && path.front() == '/';
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") {
      if (!p.parts.empty()) p.parts.pop_back();
    } else if (!part.empty() && part != ".") {
      p.parts.push_back(std::move(part));
    }
    start = end + 1;
  }
  return p;
}

Status error(Code code, std::string_view op, const std::string& path, std::string_view why) {
  std::string msg(op);
  msg += ' ';
  msg += path;
  msg += ": ";
  msg += why;
  return Status(code, std::move(msg));
}

Status crashed_error(std::string_view op, const std::string& path) {
  return error(Code::kIoError, op, path, "the machine has crashed (FaultyFileSystem)");
}

// Writes `bytes` into `content` at `offset` (at most its end), extending it.
void write_at(std::string& content, uint64_t offset, std::string_view bytes) {
  MERIDIAN_ASSERT(offset <= content.size(), "replayed write at ", offset, " past the end ",
                  content.size());
  if (offset + bytes.size() > content.size()) content.resize(offset + bytes.size());
  std::memcpy(content.data() + offset, bytes.data(), bytes.size());
}

// Everything behind a FaultyFileSystem and its Files. Methods ending in _locked
// expect mu to be held.
class Model {
 public:
  explicit Model(uint64_t seed)
      : rng_(seed), abs_root_(new_inode(true)), rel_root_(new_inode(true)) {}

  std::mutex mu;

  // --- state shared with FaultyFile ---------------------------------------------
  uint64_t epoch = 0;  // bumped by every crash; a File of an older epoch is dead
  bool crashed = false;
  uint64_t appends = 0;
  uint64_t fail_write_at = 0;  // the append number that fails; 0: none
  uint64_t crash_write_at = 0;
  double crash_keep_fraction = 0.5;
  uint64_t space_bytes = UINT64_MAX;
  bool fail_syncs = false;
  uint64_t syncs = 0;
  uint64_t bytes_written = 0;

  Rng& rng() { return rng_; }

  InodePtr new_inode(bool is_dir) { return std::make_shared<Inode>(next_id_++, is_dir); }

  InodePtr root(const ParsedPath& p) const { return p.absolute ? abs_root_ : rel_root_; }

  // The directory holding the path's last component, through volatile entries.
  Result<InodePtr> parent_locked(const ParsedPath& p, std::string_view op,
                                 const std::string& path) const {
    InodePtr dir = root(p);
    for (size_t i = 0; i + 1 < p.parts.size(); ++i) {
      auto it = dir->entries.find(p.parts[i]);
      if (it == dir->entries.end()) return error(Code::kNotFound, op, path, "no such directory");
      if (!it->second->is_dir) return error(Code::kIoError, op, path, "not a directory");
      dir = it->second;
    }
    return dir;
  }

  // The inode at the path, or null if the path (or a parent) does not exist.
  InodePtr lookup_locked(const ParsedPath& p) const {
    InodePtr node = root(p);
    for (const std::string& part : p.parts) {
      if (!node->is_dir) return nullptr;
      auto it = node->entries.find(part);
      if (it == node->entries.end()) return nullptr;
      node = it->second;
    }
    return node;
  }

  uint64_t stored_bytes_locked() const {
    std::map<uint64_t, uint64_t> sizes;  // by inode id: a file linked twice counts once
    collect_sizes(*abs_root_, sizes);
    collect_sizes(*rel_root_, sizes);
    uint64_t total = 0;
    for (const auto& [id, size] : sizes) total += size;
    return total;
  }

  void crash_locked(double keep_fraction) {
    MERIDIAN_ASSERT(keep_fraction >= 0.0 && keep_fraction <= 1.0, "keep_unsynced_fraction ",
                    keep_fraction, " outside [0, 1]");
    ++epoch;
    std::map<uint64_t, bool> seen;
    restore_dir(*abs_root_, keep_fraction, seen);
    restore_dir(*rel_root_, keep_fraction, seen);
  }

 private:
  static void collect_sizes(const Inode& dir, std::map<uint64_t, uint64_t>& sizes) {
    for (const auto& [name, child] : dir.entries) {
      if (child->is_dir) {
        collect_sizes(*child, sizes);
      } else {
        sizes[child->id] = child->data.size();
      }
    }
  }

  // Rebuilds a directory and everything under it from durable state. Directories
  // have one parent (they cannot be renamed), files may have two (see the top).
  void restore_dir(Inode& dir, double keep_fraction, std::map<uint64_t, bool>& seen) {
    dir.entries = dir.durable_entries;
    for (const auto& [name, child] : dir.entries) {
      if (!seen.emplace(child->id, true).second) continue;
      if (child->is_dir) {
        restore_dir(*child, keep_fraction, seen);
      } else {
        restore_file(*child, keep_fraction);
      }
    }
  }

  void restore_file(Inode& file, double keep_fraction) {
    std::string content = file.durable_content();
    if (!file.pending.empty() && rng_.chance(keep_fraction)) {
      size_t whole = rng_.below(file.pending.size() + 1);
      for (size_t i = 0; i < whole; ++i) {
        write_at(content, file.pending[i].offset, file.pending[i].data);
      }
      if (whole < file.pending.size() && rng_.chance(0.5)) {
        const PendingWrite& next = file.pending[whole];
        if (next.data.size() >= 2) {
          size_t torn = 1 + rng_.below(next.data.size() - 1);  // [1, size - 1]
          write_at(content, next.offset, std::string_view(next.data).substr(0, torn));
        }
      }
    }
    file.data = std::move(content);
    file.make_durable();
  }

  Rng rng_;
  uint64_t next_id_ = 1;
  InodePtr abs_root_;
  InodePtr rel_root_;
};

}  // namespace faulty_internal

struct FaultyFileSystem::State : faulty_internal::Model {
  using Model::Model;
};

namespace {

using faulty_internal::Entries;
using faulty_internal::Inode;
using faulty_internal::InodePtr;
using faulty_internal::Model;
using faulty_internal::parse_path;
using faulty_internal::ParsedPath;

class FaultyFile final : public File {
 public:
  FaultyFile(std::shared_ptr<Model> model, InodePtr inode, std::string path, bool writable)
      : model_(std::move(model)),
        inode_(std::move(inode)),
        path_(std::move(path)),
        writable_(writable),
        epoch_(model_->epoch),
        size_(inode_->data.size()) {}

  Status append(std::string_view data) override {
    std::lock_guard lock(model_->mu);
    if (Status s = check_alive("append to"); !s.is_ok()) return s;
    if (!writable_) return error("append to", "not open for writing");
    Model& m = *model_;
    uint64_t number = ++m.appends;
    size_t len = data.size();
    Status result;
    bool crash_now = false;
    if (number == m.crash_write_at) {
      m.crash_write_at = 0;
      crash_now = true;
      len = m.rng().below(len + 1);  // the power fails somewhere in this write
    } else if (number == m.fail_write_at) {
      m.fail_write_at = 0;
      len = len == 0 ? 0 : m.rng().below(len);  // torn: never all of it
      result = error("append to", "injected I/O error");
    }
    if (m.space_bytes != UINT64_MAX) {
      uint64_t stored = m.stored_bytes_locked();
      uint64_t room = m.space_bytes > stored ? m.space_bytes - stored : 0;
      if (len > room) {
        len = static_cast<size_t>(room);
        if (result.is_ok() && !crash_now)
          result = Status(Code::kNoSpace, "append to " + path_ + ": no space left (injected)");
      }
    }
    if (len > 0) {
      inode_->pending.push_back({inode_->data.size(), std::string(data.substr(0, len))});
      inode_->data.append(data.substr(0, len));
      m.bytes_written += len;
    }
    size_ = inode_->data.size();
    if (crash_now) {
      m.crash_locked(m.crash_keep_fraction);
      m.crashed = true;
      return faulty_internal::crashed_error("append to", path_);
    }
    return result;
  }

  Result<std::string> read_at(uint64_t offset, size_t n) const override {
    std::lock_guard lock(model_->mu);
    if (Status s = check_alive("read from"); !s.is_ok()) return s;
    const std::string& data = inode_->data;
    if (offset >= data.size()) return std::string();
    return data.substr(offset, n);
  }

  Status sync() override {
    std::lock_guard lock(model_->mu);
    if (Status s = check_alive("sync"); !s.is_ok()) return s;
    if (model_->fail_syncs) return error("sync", "injected sync failure");
    inode_->make_durable();
    ++model_->syncs;
    return Status::ok();
  }

  Status truncate(uint64_t size) override {
    std::lock_guard lock(model_->mu);
    MERIDIAN_ASSERT(size <= size_, "truncate ", path_, " to ", size, " past its size ", size_);
    if (Status s = check_alive("truncate"); !s.is_ok()) return s;
    if (!writable_) return error("truncate", "not open for writing");
    Inode& f = *inode_;
    size = std::min<uint64_t>(size, f.data.size());
    if (size < f.stable_len) {
      // Durable bytes being cut: keep them for a crash, which forgets this truncate.
      f.durable_tail = f.data.substr(size, f.stable_len - size) + f.durable_tail;
      f.stable_len = size;
    }
    f.data.resize(size);
    size_ = size;
    return Status::ok();
  }

  uint64_t size() const override {
    std::lock_guard lock(model_->mu);
    return size_;
  }

 private:
  Status error(std::string_view op, std::string_view why) const {
    return faulty_internal::error(Code::kIoError, op, path_, why);
  }
  Status check_alive(std::string_view op) const {
    if (model_->crashed || model_->epoch != epoch_) {
      return error(op, "the file was open when the machine crashed (FaultyFileSystem)");
    }
    return Status::ok();
  }

  const std::shared_ptr<Model> model_;
  const InodePtr inode_;
  const std::string path_;
  const bool writable_;
  const uint64_t epoch_;
  uint64_t size_;  // this File's view, like PosixFile's
};

}  // namespace

FaultyFileSystem::FaultyFileSystem(uint64_t seed) : state_(std::make_shared<State>(seed)) {}

FaultyFileSystem::~FaultyFileSystem() = default;

Result<std::unique_ptr<File>> FaultyFileSystem::open(const std::string& path, OpenMode mode) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return faulty_internal::crashed_error("open", path);
  ParsedPath p = parse_path(path);
  if (p.parts.empty())
    return faulty_internal::error(Code::kIoError, "open", path, "is a directory");
  auto parent = state_->parent_locked(p, "open", path);
  if (!parent.is_ok()) return parent.status();
  Inode& dir = *parent.value();
  auto it = dir.entries.find(p.parts.back());
  InodePtr inode;
  if (it != dir.entries.end()) {
    inode = it->second;
    if (inode->is_dir)
      return faulty_internal::error(Code::kIoError, "open", path, "is a directory");
    if (mode == OpenMode::kCreate) {
      return faulty_internal::error(Code::kIoError, "open", path, "file exists");
    }
  } else {
    if (mode == OpenMode::kRead || mode == OpenMode::kAppend) {
      return faulty_internal::error(Code::kNotFound, "open", path, "no such file");
    }
    inode = state_->new_inode(false);
    dir.entries.emplace(p.parts.back(), inode);
  }
  return std::unique_ptr<File>(
      std::make_unique<FaultyFile>(state_, std::move(inode), path, mode != OpenMode::kRead));
}

Status FaultyFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(state_->mu);
  const std::string both = from + " to " + to;
  if (state_->crashed) return faulty_internal::crashed_error("rename", both);
  ParsedPath src = parse_path(from);
  ParsedPath dst = parse_path(to);
  if (src.parts.empty() || dst.parts.empty()) {
    return faulty_internal::error(Code::kInvalidArgument, "rename", both, "cannot rename a root");
  }
  auto src_dir = state_->parent_locked(src, "rename", both);
  if (!src_dir.is_ok()) return src_dir.status();
  auto it = src_dir.value()->entries.find(src.parts.back());
  if (it == src_dir.value()->entries.end()) {
    return faulty_internal::error(Code::kNotFound, "rename", both, "no such file");
  }
  InodePtr inode = it->second;
  if (inode->is_dir) {
    return faulty_internal::error(Code::kInvalidArgument, "rename", both,
                                  "FaultyFileSystem renames files only");
  }
  auto dst_dir = state_->parent_locked(dst, "rename", both);
  if (!dst_dir.is_ok()) return dst_dir.status();
  Entries& dst_entries = dst_dir.value()->entries;
  auto target = dst_entries.find(dst.parts.back());
  if (target != dst_entries.end()) {
    if (target->second == inode) return Status::ok();  // POSIX: the same file, nothing to do
    if (target->second->is_dir) {
      return faulty_internal::error(Code::kIoError, "rename", both, "target is a directory");
    }
  }
  src_dir.value()->entries.erase(it);
  dst_entries[dst.parts.back()] = std::move(inode);
  return Status::ok();
}

Status FaultyFileSystem::remove(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return faulty_internal::crashed_error("remove", path);
  ParsedPath p = parse_path(path);
  if (p.parts.empty()) {
    return faulty_internal::error(Code::kInvalidArgument, "remove", path, "cannot remove a root");
  }
  auto parent = state_->parent_locked(p, "remove", path);
  if (!parent.is_ok()) return parent.status();
  Entries& entries = parent.value()->entries;
  auto it = entries.find(p.parts.back());
  if (it == entries.end())
    return faulty_internal::error(Code::kNotFound, "remove", path, "no such file");
  if (it->second->is_dir && !it->second->entries.empty()) {
    return faulty_internal::error(Code::kIoError, "remove", path, "directory not empty");
  }
  entries.erase(it);
  return Status::ok();
}

Status FaultyFileSystem::create_dir(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return faulty_internal::crashed_error("create_dir", path);
  ParsedPath p = parse_path(path);
  InodePtr dir = state_->root(p);
  for (const std::string& part : p.parts) {
    auto it = dir->entries.find(part);
    if (it == dir->entries.end()) {
      it = dir->entries.emplace(part, state_->new_inode(true)).first;
    } else if (!it->second->is_dir) {
      return faulty_internal::error(Code::kIoError, "create_dir", path, "not a directory");
    }
    dir = it->second;
  }
  return Status::ok();
}

Status FaultyFileSystem::sync_dir(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return faulty_internal::crashed_error("sync_dir", path);
  InodePtr dir = state_->lookup_locked(parse_path(path));
  if (dir == nullptr)
    return faulty_internal::error(Code::kNotFound, "sync_dir", path, "no such directory");
  if (!dir->is_dir)
    return faulty_internal::error(Code::kIoError, "sync_dir", path, "not a directory");
  if (state_->fail_syncs)
    return faulty_internal::error(Code::kIoError, "sync_dir", path, "injected sync failure");
  dir->durable_entries = dir->entries;
  return Status::ok();
}

Result<std::vector<std::string>> FaultyFileSystem::list_dir(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return faulty_internal::crashed_error("list_dir", path);
  InodePtr dir = state_->lookup_locked(parse_path(path));
  if (dir == nullptr)
    return faulty_internal::error(Code::kNotFound, "list_dir", path, "no such directory");
  if (!dir->is_dir)
    return faulty_internal::error(Code::kIoError, "list_dir", path, "not a directory");
  std::vector<std::string> names;
  names.reserve(dir->entries.size());
  for (const auto& [name, inode] : dir->entries) names.push_back(name);  // std::map: sorted
  return names;
}

bool FaultyFileSystem::exists(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return false;
  return state_->lookup_locked(parse_path(path)) != nullptr;
}

void FaultyFileSystem::crash(double keep_unsynced_fraction) {
  std::lock_guard lock(state_->mu);
  state_->crash_locked(keep_unsynced_fraction);
}

void FaultyFileSystem::restart() {
  std::lock_guard lock(state_->mu);
  state_->crashed = false;
}

bool FaultyFileSystem::crashed() const {
  std::lock_guard lock(state_->mu);
  return state_->crashed;
}

void FaultyFileSystem::fail_after_writes(uint64_t n) {
  std::lock_guard lock(state_->mu);
  state_->fail_write_at = n == 0 ? 0 : state_->appends + n;
}

void FaultyFileSystem::set_space_bytes(uint64_t n) {
  std::lock_guard lock(state_->mu);
  state_->space_bytes = n;
}

void FaultyFileSystem::fail_syncs(bool on) {
  std::lock_guard lock(state_->mu);
  state_->fail_syncs = on;
}

void FaultyFileSystem::crash_at_write(uint64_t n, double keep_unsynced_fraction) {
  std::lock_guard lock(state_->mu);
  MERIDIAN_ASSERT(keep_unsynced_fraction >= 0.0 && keep_unsynced_fraction <= 1.0,
                  "keep_unsynced_fraction ", keep_unsynced_fraction, " outside [0, 1]");
  state_->crash_write_at = n == 0 ? 0 : state_->appends + n;
  state_->crash_keep_fraction = keep_unsynced_fraction;
}

uint64_t FaultyFileSystem::syncs() const {
  std::lock_guard lock(state_->mu);
  return state_->syncs;
}

uint64_t FaultyFileSystem::bytes_written() const {
  std::lock_guard lock(state_->mu);
  return state_->bytes_written;
}

uint64_t FaultyFileSystem::stored_bytes() const {
  std::lock_guard lock(state_->mu);
  return state_->stored_bytes_locked();
}

}  // namespace meridian::storage
