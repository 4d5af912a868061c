// SnapshotStore. File layout and format (docs/formats/snapshot.md; all integers
// little-endian, every crc a crc32c_mask()ed CRC32C):
//
//   <dir>/<group>/<index:20 digits>-<term:20 digits>.snap   a finished snapshot
//   <dir>/<group>/<same>.snap.tmp                           one being written
//
//   snapshot   := header chunk* trailer
//   header     := magic:u32 (=0x504e534d, "MSNP") version:u8 (=1)
//                 group:u64 index:u64 term:u64 conf_state header_crc:u32
//   conf_state := node_list (voters) node_list (voters_outgoing)
//                 node_list (learners) node_list (learners_next) auto_leave:u8 (0|1)
//   node_list  := count:u32 (<= 1024) node:u64{count}
//   chunk      := len:u32 (1 .. 1 MiB) crc:u32 (over data) data:byte{len}
//   trailer    := magic:u32 (=0x454e534d, "MSNE") chunk_count:u64 data_bytes:u64
//                 trailer_crc:u32 (over the 20 bytes before it)
//
// header_crc covers every header byte before it. A record starting with the
// trailer magic is the trailer (the magic is larger than any chunk length), and
// the file ends exactly after it; anything else is kCorruption naming the file
// and offset.
//
// Locking: `mu` guards the index and is also held across every change of a
// finished snapshot's directory entry (the rename in finish(), the removals), so
// that the index always names exactly the finished files on disk. Those changes
// are rare; read() holds `mu` only to look a snapshot up, and readers then use
// their own File.
#include "storage/snapshot_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/crc32c.h"

namespace meridian::storage {
namespace {

using raft::Index;
using raft::NodeId;
using raft::Term;

constexpr uint32_t kHeaderMagic = 0x504e534d;   // "MSNP" in file byte order
constexpr uint32_t kTrailerMagic = 0x454e534d;  // "MSNE" in file byte order
constexpr uint8_t kFormatVersion = 1;
// Chunk records hold at most 1 MiB: small appends are gathered up to this size so
// that a snapshot is a few large records, and a reader never needs more memory
// than this for one chunk however large the snapshot.
constexpr size_t kChunkBytesMax = size_t{1} << 20;
static_assert(kTrailerMagic > kChunkBytesMax, "the trailer magic must not be a chunk length");
// A node list longer than this is malformed: no group has this many members (the
// same bound as raft's ConfChange codec). Bounds what a reader allocates before
// the header CRC is checked.
constexpr uint32_t kConfNodesMax = 1024;

constexpr size_t kChunkHeaderBytes = 8;   // len + crc
constexpr size_t kTrailerBytes = 24;      // magic + chunk_count + data_bytes + crc
constexpr size_t kHeaderFixedBytes = 29;  // magic + version + group + index + term
constexpr size_t kNumberDigits = 20;      // digits of UINT64_MAX
constexpr std::string_view kSnapSuffix = ".snap";
constexpr std::string_view kTmpSuffix = ".tmp";

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void set_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint32_t masked_crc(std::string_view data) { return crc32c_mask(crc32c(data)); }

Status with_context(const Status& s, const std::string& what) {
  return Status(s.code(), what + ": " + s.message());
}
Status corruption(const std::string& path, uint64_t offset, const std::string& what) {
  return Status(Code::kCorruption,
                "snapshot " + path + ": " + what + " at offset " + std::to_string(offset));
}

std::string padded(uint64_t v) {
  std::string s = std::to_string(v);
  return std::string(kNumberDigits - s.size(), '0') + s;
}
std::string snapshot_name(Index index, Term term) {
  return padded(index.value()) + "-" + padded(term.value()) + std::string(kSnapSuffix);
}

// Decimal digits only, no overflow; `canonical` also forbids leading zeros.
bool parse_decimal(std::string_view s, bool canonical, uint64_t& out) {
  if (s.empty() || (canonical && s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool parse_snapshot_name(std::string_view name, Index& index, Term& term) {
  if (name.size() != 2 * kNumberDigits + 1 + kSnapSuffix.size()) return false;
  if (name[kNumberDigits] != '-' || !name.ends_with(kSnapSuffix)) return false;
  uint64_t i = 0;
  uint64_t t = 0;
  if (!parse_decimal(name.substr(0, kNumberDigits), false, i)) return false;
  if (!parse_decimal(name.substr(kNumberDigits + 1, kNumberDigits), false, t)) return false;
  index = Index{i};
  term = Term{t};
  return true;
}

std::string encode_header(GroupId group, const raft::SnapshotMeta& meta) {
  std::string out;
  put_u32(out, kHeaderMagic);
  put_u8(out, kFormatVersion);
  put_u64(out, group.value());
  put_u64(out, meta.index.value());
  put_u64(out, meta.term.value());
  const raft::ConfState& cs = meta.conf_state;
  for (const auto* list : {&cs.voters, &cs.voters_outgoing, &cs.learners, &cs.learners_next}) {
    put_u32(out, static_cast<uint32_t>(list->size()));
    for (NodeId n : *list) put_u64(out, n.value());
  }
  put_u8(out, cs.auto_leave ? 1 : 0);
  put_u32(out, masked_crc(out));
  return out;
}

std::string encode_trailer(uint64_t chunks, uint64_t data_bytes) {
  std::string out;
  put_u32(out, kTrailerMagic);
  put_u64(out, chunks);
  put_u64(out, data_bytes);
  put_u32(out, masked_crc(out));
  MERIDIAN_ASSERT(out.size() == kTrailerBytes, "trailer is ", out.size(), " bytes");
  return out;
}

// Sequential reads of a file's header, accumulating the CRC of what was read.
class HeaderCursor {
 public:
  HeaderCursor(const File& file, const std::string& path, uint64_t size)
      : file_(file), path_(path), size_(size) {}

  // Exactly n bytes at the cursor into out, or kCorruption if the file ends first.
  Status read(size_t n, std::string& out) {
    if (n > size_ - offset_) return corruption(path_, offset_, "truncated header");
    auto r = file_.read_at(offset_, n);
    if (!r.is_ok()) return with_context(r.status(), "snapshot " + path_);
    if (r.value().size() != n) return corruption(path_, offset_, "short read in header");
    out = std::move(r).value();
    crc_ = crc32c_extend(crc_, out.data(), out.size());
    offset_ += n;
    return Status::ok();
  }
  uint64_t offset() const { return offset_; }
  uint32_t crc() const { return crc_; }

 private:
  const File& file_;
  const std::string& path_;
  uint64_t size_;
  uint64_t offset_ = 0;
  uint32_t crc_ = 0;
};

Status read_node_list(HeaderCursor& cur, const std::string& path, std::vector<NodeId>& out) {
  std::string buf;
  uint64_t at = cur.offset();
  if (Status s = cur.read(4, buf); !s.is_ok()) return s;
  uint32_t count = get_u32(buf.data());
  if (count > kConfNodesMax) {
    return corruption(path, at, "node list of " + std::to_string(count) + " entries");
  }
  if (Status s = cur.read(size_t{count} * 8, buf); !s.is_ok()) return s;
  out.clear();
  for (uint32_t i = 0; i < count; i++) out.push_back(NodeId{get_u64(buf.data() + 8 * i)});
  return Status::ok();
}

struct Header {
  GroupId group;
  raft::SnapshotMeta meta;
  uint64_t bytes = 0;  // where the first chunk starts
};

// Reads and verifies the header; checks magic and version before trusting the
// layout, and the CRC before trusting any field.
Result<Header> read_header(const File& file, const std::string& path, uint64_t size) {
  HeaderCursor cur(file, path, size);
  std::string buf;
  if (Status s = cur.read(kHeaderFixedBytes, buf); !s.is_ok()) return s;
  if (get_u32(buf.data()) != kHeaderMagic) return corruption(path, 0, "bad header magic");
  if (uint8_t v = static_cast<uint8_t>(buf[4]); v != kFormatVersion) {
    return corruption(path, 4, "unknown format version " + std::to_string(v));
  }
  Header h;
  h.group = GroupId{get_u64(buf.data() + 5)};
  h.meta.index = Index{get_u64(buf.data() + 13)};
  h.meta.term = Term{get_u64(buf.data() + 21)};
  raft::ConfState& cs = h.meta.conf_state;
  for (auto* list : {&cs.voters, &cs.voters_outgoing, &cs.learners, &cs.learners_next}) {
    if (Status s = read_node_list(cur, path, *list); !s.is_ok()) return s;
  }
  uint64_t auto_leave_at = cur.offset();
  if (Status s = cur.read(1, buf); !s.is_ok()) return s;
  uint8_t auto_leave = static_cast<uint8_t>(buf[0]);
  uint32_t crc = cur.crc();
  uint64_t crc_at = cur.offset();
  if (Status s = cur.read(4, buf); !s.is_ok()) return s;
  if (crc32c_unmask(get_u32(buf.data())) != crc) return corruption(path, crc_at, "header crc");
  if (auto_leave > 1) return corruption(path, auto_leave_at, "bad auto_leave flag");
  cs.auto_leave = auto_leave == 1;
  h.bytes = cur.offset();
  return h;
}

class Reader final : public SnapshotReader {
 public:
  Reader(std::unique_ptr<File> file, std::string path, uint64_t size, const Header& header)
      : file_(std::move(file)),
        path_(std::move(path)),
        size_(size),
        meta_(header.meta),
        offset_(header.bytes) {}

  const raft::SnapshotMeta& meta() const override { return meta_; }

  Result<std::optional<std::string>> next_chunk() override {
    if (done_) return std::optional<std::string>();
    if (!error_.is_ok()) return error_;
    auto r = next_record();
    if (!r.is_ok()) error_ = r.status();
    return r;
  }

 private:
  Result<std::optional<std::string>> next_record() {
    if (size_ - offset_ < 4) return corruption(path_, offset_, "truncated: no trailer");
    auto head = file_->read_at(offset_, std::min<uint64_t>(kTrailerBytes, size_ - offset_));
    if (!head.is_ok()) return with_context(head.status(), "snapshot " + path_);
    const std::string& h = head.value();
    if (h.size() < 4) return corruption(path_, offset_, "short read");
    uint32_t len = get_u32(h.data());
    if (len == kTrailerMagic) return read_trailer(h);
    if (len == 0 || len > kChunkBytesMax) {
      return corruption(path_, offset_, "bad chunk length " + std::to_string(len));
    }
    if (size_ - offset_ < kChunkHeaderBytes + len) {
      return corruption(path_, offset_, "truncated chunk");
    }
    auto data = file_->read_at(offset_ + kChunkHeaderBytes, len);
    if (!data.is_ok()) return with_context(data.status(), "snapshot " + path_);
    if (data.value().size() != len) return corruption(path_, offset_, "short read");
    if (crc32c_unmask(get_u32(h.data() + 4)) != crc32c(data.value())) {
      return corruption(path_, offset_, "chunk crc");
    }
    offset_ += kChunkHeaderBytes + len;
    chunks_++;
    data_bytes_ += len;
    return std::optional<std::string>(std::move(data).value());
  }

  Result<std::optional<std::string>> read_trailer(const std::string& h) {
    if (h.size() < kTrailerBytes) return corruption(path_, offset_, "truncated trailer");
    if (crc32c_unmask(get_u32(h.data() + 20)) != crc32c(std::string_view(h.data(), 20))) {
      return corruption(path_, offset_, "trailer crc");
    }
    if (get_u64(h.data() + 4) != chunks_ || get_u64(h.data() + 12) != data_bytes_) {
      return corruption(path_, offset_,
                        "trailer counts " + std::to_string(get_u64(h.data() + 4)) + " chunks, " +
                            std::to_string(get_u64(h.data() + 12)) + " bytes; read " +
                            std::to_string(chunks_) + " chunks, " + std::to_string(data_bytes_) +
                            " bytes");
    }
    if (size_ - offset_ != kTrailerBytes) {
      return corruption(path_, offset_ + kTrailerBytes, "bytes after the trailer");
    }
    done_ = true;
    return std::optional<std::string>();
  }

  std::unique_ptr<File> file_;
  std::string path_;
  uint64_t size_;  // a finished snapshot is never written again
  raft::SnapshotMeta meta_;
  uint64_t offset_;  // of the next record
  uint64_t chunks_ = 0;
  uint64_t data_bytes_ = 0;
  bool done_ = false;
  Status error_;  // the first failure; returned again by every later call
};

// The store's state; SnapshotStore::Impl is this (writers point at it).
struct Store {
  FileSystem* fs;
  std::string dir;

  mutable std::mutex mu;
  std::map<GroupId, std::map<Index, Term>> index;  // guarded by mu: finished snapshots
  std::set<GroupId> group_dirs;                    // guarded by mu: dirs known durable
  std::map<std::string, GroupId> writing;          // guarded by mu: live writers' temporary files

  std::string group_dir(GroupId g) const { return join_path(dir, std::to_string(g.value())); }
  std::string path(GroupId g, Index i, Term t) const {
    return join_path(group_dir(g), snapshot_name(i, t));
  }
  // The term of group g's snapshot at index i, if there is one; requires mu.
  std::optional<Term> term_of(GroupId g, Index i) const {
    auto git = index.find(g);
    if (git == index.end()) return std::nullopt;
    auto it = git->second.find(i);
    if (it == git->second.end()) return std::nullopt;
    return it->second;
  }
  Status load_group(GroupId g);
  Status ensure_group_dir(GroupId g);  // requires mu
  Status publish(GroupId g, const raft::SnapshotMeta& meta, const std::string& tmp);
  void writer_done(const std::string& tmp) {
    std::lock_guard lock(mu);
    writing.erase(tmp);
  }
  bool writing_group(GroupId g) const {  // requires mu
    return std::any_of(writing.begin(), writing.end(),
                       [g](const auto& w) { return w.second == g; });
  }
};

// The states of a writer: kOpen accepts appends; kSealed (the file complete and
// synced, still temporary) accepts publish() and abort(); kFailed returns its
// first error to every call (the temporary file is already gone); kDone
// (published or aborted) accepts nothing but abort().
class Writer final : public SnapshotWriter {
 public:
  Writer(Store* store, GroupId group, const raft::SnapshotMeta& meta, std::string tmp_path,
         std::unique_ptr<File> file)
      : store_(store),
        group_(group),
        meta_(meta),
        tmp_path_(std::move(tmp_path)),
        file_(std::move(file)) {
    record_.assign(kChunkHeaderBytes, '\0');
  }
  ~Writer() override { abort(); }

  Status append(std::string_view data) override {
    if (Status s = check_open("append"); !s.is_ok()) return s;
    while (!data.empty()) {
      size_t take = std::min(kChunkBytesMax - buffered(), data.size());
      if (record_.size() + take > record_.capacity()) {
        // Grow as usual, but never past one record (doubling would overshoot it).
        record_.reserve(std::min(kChunkHeaderBytes + kChunkBytesMax,
                                 std::max(2 * record_.capacity(), record_.size() + take)));
      }
      record_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (buffered() == kChunkBytesMax) {
        if (Status s = flush(); !s.is_ok()) return fail(s);
      }
    }
    return Status::ok();
  }

  Status finish() override {
    if (Status s = seal(); !s.is_ok()) return s;
    return publish();
  }

  Status seal() override {
    if (Status s = check_open("seal"); !s.is_ok()) return s;
    if (Status s = flush(); !s.is_ok()) return fail(s);
    if (Status s = file_->append(encode_trailer(chunks_, data_bytes_)); !s.is_ok()) {
      return fail(with_context(s, "snapshot " + tmp_path_));
    }
    if (Status s = file_->sync(); !s.is_ok()) return fail(with_context(s, "sync " + tmp_path_));
    file_.reset();
    state_ = State::kSealed;
    return Status::ok();
  }

  Status publish() override {
    MERIDIAN_ASSERT(state_ == State::kSealed || state_ == State::kFailed,
                    "publish() of a snapshot writer that is not sealed");
    if (state_ == State::kFailed) return check_open("publish");
    if (Status s = store_->publish(group_, meta_, tmp_path_); !s.is_ok()) return fail(s);
    state_ = State::kDone;
    store_->writer_done(tmp_path_);
    return Status::ok();
  }

  void abort() override {
    if (state_ != State::kOpen && state_ != State::kSealed) return;
    file_.reset();
    (void)store_->fs->remove(tmp_path_);  // best effort; open() removes leftovers
    state_ = State::kDone;
    store_->writer_done(tmp_path_);
  }

 private:
  enum class State : uint8_t { kOpen, kSealed, kFailed, kDone };

  size_t buffered() const { return record_.size() - kChunkHeaderBytes; }

  Status check_open(const char* op) const {
    MERIDIAN_ASSERT(state_ != State::kDone, op, "() on a finished or aborted snapshot writer");
    if (state_ == State::kFailed) {
      return Status(Code::kFailedPrecondition,
                    "snapshot writer failed earlier: " + error_.to_string());
    }
    return Status::ok();
  }

  // Writes the buffered data as one chunk record (none if nothing is buffered).
  Status flush() {
    size_t len = buffered();
    if (len == 0) return Status::ok();
    MERIDIAN_ASSERT(len <= kChunkBytesMax, "chunk of ", len, " bytes");
    std::string_view data(record_.data() + kChunkHeaderBytes, len);
    set_u32(record_.data(), static_cast<uint32_t>(len));
    set_u32(record_.data() + 4, masked_crc(data));
    if (Status s = file_->append(record_); !s.is_ok()) {
      return with_context(s, "snapshot " + tmp_path_);
    }
    chunks_++;
    data_bytes_ += len;
    record_.resize(kChunkHeaderBytes);
    return Status::ok();
  }

  // Gives up: nothing is published and the temporary file is removed (best
  // effort: open() removes it after a crash anyway).
  Status fail(Status s) {
    MERIDIAN_ASSERT(state_ == State::kOpen || state_ == State::kSealed, "fail() in state ",
                    static_cast<int>(state_));
    file_.reset();
    (void)store_->fs->remove(tmp_path_);
    state_ = State::kFailed;
    error_ = s;
    store_->writer_done(tmp_path_);
    return s;
  }

  Store* store_;
  GroupId group_;
  raft::SnapshotMeta meta_;
  std::string tmp_path_;
  std::unique_ptr<File> file_;
  // The chunk being gathered, after room for its record header: flush() fills in
  // the header and writes the record with one append. At most one chunk's size.
  std::string record_;
  uint64_t chunks_ = 0;
  uint64_t data_bytes_ = 0;
  State state_ = State::kOpen;
  Status error_;
};

// Removes crash leftovers (*.tmp) from a group directory and indexes its snapshots.
Status Store::load_group(GroupId g) {
  std::string gdir = group_dir(g);
  auto names = fs->list_dir(gdir);
  if (!names.is_ok()) return with_context(names.status(), "list " + gdir);
  bool removed = false;
  std::map<Index, Term>& snaps = index[g];
  for (const std::string& name : names.value()) {
    Index i;
    Term t;
    if (name.ends_with(kTmpSuffix)) {
      if (Status s = fs->remove(join_path(gdir, name)); !s.is_ok()) {
        return with_context(s, "remove " + join_path(gdir, name));
      }
      removed = true;
    } else if (parse_snapshot_name(name, i, t)) {
      auto [it, inserted] = snaps.emplace(i, t);
      if (!inserted) {
        // begin() refuses a second term at one index, so only an outside hand
        // makes this; guessing which one is right could serve the wrong state.
        return Status(Code::kCorruption, "snapshot dir " + gdir + ": index " +
                                             std::to_string(i.value()) + " has terms " +
                                             std::to_string(it->second.value()) + " and " +
                                             std::to_string(t.value()));
      }
    }  // anything else is not ours: left alone
  }
  if (removed) {
    if (Status s = fs->sync_dir(gdir); !s.is_ok()) return with_context(s, "sync " + gdir);
  }
  if (snaps.empty()) index.erase(g);
  group_dirs.insert(g);
  return Status::ok();
}

Status Store::ensure_group_dir(GroupId g) {
  if (group_dirs.contains(g)) return Status::ok();
  std::string gdir = group_dir(g);
  if (Status s = fs->create_dir(gdir); !s.is_ok()) return with_context(s, "create " + gdir);
  // The new directory's entry in `dir` must be durable before any snapshot in it
  // can be (file_system.h).
  if (Status s = fs->sync_dir(dir); !s.is_ok()) return with_context(s, "sync " + dir);
  group_dirs.insert(g);
  return Status::ok();
}

// Renames a synced temporary file into place, makes that durable, then indexes it.
// Holds `mu` throughout so the index never disagrees with the directory.
Status Store::publish(GroupId g, const raft::SnapshotMeta& meta, const std::string& tmp) {
  std::lock_guard lock(mu);
  std::string final_path = path(g, meta.index, meta.term);
  if (Status s = fs->rename(tmp, final_path); !s.is_ok()) {
    return with_context(s, "rename " + tmp);
  }
  std::string gdir = group_dir(g);
  if (Status s = fs->sync_dir(gdir); !s.is_ok()) {
    // The rename may or may not survive a crash, and it replaced any earlier
    // snapshot of the same name: report neither rather than one of unknown fate.
    (void)fs->remove(final_path);
    auto it = index.find(g);
    if (it != index.end()) {
      it->second.erase(meta.index);
      if (it->second.empty()) index.erase(it);
    }
    return with_context(s, "sync " + gdir);
  }
  index[g][meta.index] = meta.term;
  return Status::ok();
}

}  // namespace

struct SnapshotStore::Impl : Store {};

SnapshotStore::SnapshotStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SnapshotStore::~SnapshotStore() {
  std::lock_guard lock(impl_->mu);
  MERIDIAN_ASSERT(impl_->writing.empty(), "snapshot store closed with ", impl_->writing.size(),
                  " writers still open");
}

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::open(FileSystem* fs, const std::string& dir) {
  auto impl = std::make_unique<Impl>();
  impl->fs = fs;
  impl->dir = dir;
  if (Status s = create_dir_durably(*fs, dir); !s.is_ok()) return with_context(s, "create " + dir);
  auto names = fs->list_dir(dir);
  if (!names.is_ok()) return with_context(names.status(), "list " + dir);
  std::lock_guard lock(impl->mu);
  for (const std::string& name : names.value()) {
    uint64_t g = 0;
    // Names in canonical decimal are group directories; anything else is not ours.
    if (!parse_decimal(name, true, g)) continue;
    if (Status s = impl->load_group(GroupId{g}); !s.is_ok()) return s;
  }
  return std::unique_ptr<SnapshotStore>(new SnapshotStore(std::move(impl)));
}

Result<std::unique_ptr<SnapshotWriter>> SnapshotStore::begin(GroupId g,
                                                             const raft::SnapshotMeta& meta) {
  if (meta.index == Index{0}) {
    return Status(Code::kInvalidArgument, "snapshot at index 0 (the empty snapshot)");
  }
  const raft::ConfState& cs = meta.conf_state;
  for (const auto* list : {&cs.voters, &cs.voters_outgoing, &cs.learners, &cs.learners_next}) {
    if (list->size() > kConfNodesMax) {
      return Status(Code::kInvalidArgument,
                    "snapshot node list of " + std::to_string(list->size()) + " nodes");
    }
  }
  std::string tmp;
  {
    std::lock_guard lock(impl_->mu);
    tmp = impl_->path(g, meta.index, meta.term) + std::string(kTmpSuffix);
    if (impl_->writing.contains(tmp)) {
      return Status(Code::kFailedPrecondition,
                    "a snapshot of group " + std::to_string(g.value()) + " at index " +
                        std::to_string(meta.index.value()) + " is being written");
    }
    if (auto t = impl_->term_of(g, meta.index); t && *t != meta.term) {
      // Two committed entries at one index cannot have different terms (Raft
      // thesis §3.6, Log Matching); refuse rather than pick one.
      return Status(Code::kFailedPrecondition, "group " + std::to_string(g.value()) +
                                                   " has a snapshot at index " +
                                                   std::to_string(meta.index.value()) +
                                                   " with term " + std::to_string(t->value()));
    }
    if (Status s = impl_->ensure_group_dir(g); !s.is_ok()) return s;
    impl_->writing.emplace(tmp, g);
  }
  auto fail = [&](const Status& s, const std::string& what) {
    (void)impl_->fs->remove(tmp);
    impl_->writer_done(tmp);
    return with_context(s, what);
  };
  if (impl_->fs->exists(tmp)) {  // left by an earlier writer that could not remove it
    if (Status s = impl_->fs->remove(tmp); !s.is_ok()) return fail(s, "remove stale " + tmp);
  }
  auto file = impl_->fs->open(tmp, OpenMode::kCreate);
  if (!file.is_ok()) return fail(file.status(), "create " + tmp);
  if (Status s = file.value()->append(encode_header(g, meta)); !s.is_ok()) {
    file.value().reset();
    return fail(s, "snapshot " + tmp);
  }
  return std::unique_ptr<SnapshotWriter>(
      std::make_unique<Writer>(impl_.get(), g, meta, tmp, std::move(file).value()));
}

Result<std::unique_ptr<SnapshotReader>> SnapshotStore::read(GroupId g, Index index) const {
  std::optional<Term> term;
  {
    std::lock_guard lock(impl_->mu);
    term = impl_->term_of(g, index);
  }
  if (!term) {
    return Status(Code::kNotFound, "no snapshot of group " + std::to_string(g.value()) +
                                       " at index " + std::to_string(index.value()));
  }
  std::string path = impl_->path(g, index, *term);
  auto file = impl_->fs->open(path, OpenMode::kRead);
  if (!file.is_ok()) return with_context(file.status(), "open " + path);
  uint64_t size = file.value()->size();
  auto header = read_header(*file.value(), path, size);
  if (!header.is_ok()) return header.status();
  const Header& h = header.value();
  if (h.group != g || h.meta.index != index || h.meta.term != *term) {
    return corruption(path, 0,
                      "header names group " + std::to_string(h.group.value()) + " index " +
                          std::to_string(h.meta.index.value()) + " term " +
                          std::to_string(h.meta.term.value()));
  }
  return std::unique_ptr<SnapshotReader>(
      std::make_unique<Reader>(std::move(file).value(), path, size, h));
}

Result<std::string> SnapshotReader::read(size_t max_bytes) {
  MERIDIAN_ASSERT(max_bytes >= 1, "a read of 0 bytes");
  if (pending_pos_ == pending_.size()) {
    auto chunk = next_chunk();
    if (!chunk.is_ok()) return chunk.status();
    if (!chunk.value()) return std::string();
    pending_ = std::move(*chunk.value());
    pending_pos_ = 0;
  }
  const size_t n = std::min(max_bytes, pending_.size() - pending_pos_);
  std::string out = pending_.substr(pending_pos_, n);
  pending_pos_ += n;
  return out;
}

Result<raft::Snapshot> SnapshotStore::read_all(GroupId g, Index index) const {
  auto reader = read(g, index);
  if (!reader.is_ok()) return reader.status();
  raft::Snapshot snap;
  snap.meta = reader.value()->meta();
  for (;;) {
    auto chunk = reader.value()->next_chunk();
    if (!chunk.is_ok()) return chunk.status();
    if (!chunk.value().has_value()) break;
    snap.data += *chunk.value();
  }
  return snap;
}

std::vector<Index> SnapshotStore::list(GroupId g) const {
  std::lock_guard lock(impl_->mu);
  std::vector<Index> out;
  auto it = impl_->index.find(g);
  if (it == impl_->index.end()) return out;
  for (const auto& [index, term] : it->second) out.push_back(index);
  return out;
}

Status SnapshotStore::remove_older_than(GroupId g, Index index) {
  std::lock_guard lock(impl_->mu);
  auto git = impl_->index.find(g);
  if (git == impl_->index.end()) return Status::ok();
  std::map<Index, Term>& snaps = git->second;
  Status result;
  bool removed = false;
  while (!snaps.empty() && snaps.begin()->first < index) {
    auto [i, t] = *snaps.begin();
    std::string p = impl_->path(g, i, t);
    if (Status s = impl_->fs->remove(p); !s.is_ok() && s.code() != Code::kNotFound) {
      result = with_context(s, "remove " + p);
      break;
    }
    snaps.erase(snaps.begin());
    removed = true;
  }
  if (snaps.empty()) impl_->index.erase(git);
  if (removed) {
    std::string gdir = impl_->group_dir(g);
    if (Status s = impl_->fs->sync_dir(gdir); !s.is_ok() && result.is_ok()) {
      result = with_context(s, "sync " + gdir);
    }
  }
  return result;
}

Status SnapshotStore::remove_group(GroupId g) {
  std::lock_guard lock(impl_->mu);
  if (impl_->writing_group(g)) {
    return Status(Code::kFailedPrecondition,
                  "a snapshot of group " + std::to_string(g.value()) + " is being written");
  }
  std::string gdir = impl_->group_dir(g);
  if (!impl_->group_dirs.contains(g) && !impl_->fs->exists(gdir)) return Status::ok();
  auto names = impl_->fs->list_dir(gdir);
  if (!names.is_ok()) return with_context(names.status(), "list " + gdir);
  Status result;
  bool removed = false;
  for (const std::string& name : names.value()) {
    std::string p = join_path(gdir, name);
    if (Status s = impl_->fs->remove(p); !s.is_ok() && s.code() != Code::kNotFound) {
      result = with_context(s, "remove " + p);
      break;
    }
    removed = true;
    Index i;
    Term t;
    if (parse_snapshot_name(name, i, t) && impl_->term_of(g, i) == t) impl_->index[g].erase(i);
  }
  if (auto git = impl_->index.find(g); git != impl_->index.end() && git->second.empty()) {
    impl_->index.erase(git);
  }
  if (removed) {
    if (Status s = impl_->fs->sync_dir(gdir); !s.is_ok() && result.is_ok()) {
      result = with_context(s, "sync " + gdir);
    }
  }
  return result;
}

}  // namespace meridian::storage
