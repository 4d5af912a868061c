// The log engine: recovery, the write path and garbage collection, plus reads.
// The format and the reasons behind it: docs/formats/storage.md.
//
// Write path (writer thread): plan the batch against the index (nothing is written
// for an invalid batch), encode it as one frame, start a new segment first if the
// active one is full (the new segment opens with a checkpoint frame), append the
// bytes with one File::append, and only then apply the batch to the index under
// the exclusive lock, so a failed append leaves the index as it was.
#include "storage/log_engine.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "base/assert.h"
#include "storage/group_index.h"
#include "storage/journal_format.h"
#include "storage/segment.h"

namespace meridian::storage {
namespace {

using raft::Index;
using raft::Term;

// Data offsets in the index are u32, so no frame may end past this in a segment.
constexpr uint64_t kSegmentBytesLimit = std::numeric_limits<uint32_t>::max();
// A smaller segment_bytes_max is allowed (tests use tiny ones to rotate often); a
// larger one could not keep offsets within u32 with a full frame after it.
constexpr uint64_t kSegmentBytesMaxLimit = 1ull << 31;
// entries() merges reads of entries that lie at most this far apart in one file
// into one pread: reading a page of bytes nobody asked for is cheaper than
// another system call.
constexpr uint64_t kReadGapBytesMax = 4096;

Status at_file(const std::string& path, uint64_t offset, const Status& s) {
  return Status(s.code(),
                "file " + path + " offset " + std::to_string(offset) + ": " + s.message());
}

// Whether one more entry of `size` bytes fits after n entries of `total` bytes
// within max_bytes; the first always does (raft::MemoryStorage::entries' rule, so a
// single oversized entry still makes progress). Written to avoid overflow at
// max_bytes = UINT64_MAX.
bool fits(uint64_t total, uint64_t size, uint64_t max_bytes, size_t n) {
  return n == 0 || (total <= max_bytes && size <= max_bytes - total);
}

}  // namespace

struct LogEngine::Impl {
  FileSystem* fs = nullptr;
  LogEngineOptions options;

  // Readers hold mu shared; the writer holds it exclusively only while it
  // changes the index or the set of segments.
  mutable std::shared_mutex mu;
  GroupIndex index;                                            // guarded by mu
  std::map<uint64_t, std::shared_ptr<SegmentReader>> readers;  // guarded by mu

  // The writer thread's own state.
  struct Active {
    uint64_t number = 0;
    std::unique_ptr<File> file;
    uint64_t size = 0;
    uint64_t synced_size = 0;  // bytes known durable
    bool dirty = false;        // appended or truncated since the last sync
  };
  std::optional<Active> active;
  std::map<uint64_t, uint64_t> sizes;  // every segment's size in bytes
  uint64_t next_number = 1;
  bool dir_dirty = false;  // a segment was created since the directory was synced
  Status failure;          // why the engine failed

  std::atomic<bool> failed{false};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> segments{0};
  std::atomic<uint64_t> segments_removed{0};
  std::atomic<uint64_t> journal_bytes{0};

  std::string path_of(uint64_t number) const {
    return join_path(options.dir, segment_name(number));
  }

  Status fail(const Status& cause) {
    if (!failed.load()) {
      failure = cause;
      failed.store(true);
    }
    return Status(Code::kIoError, "log engine failed: " + cause.message());
  }
  Status failed_status() const {
    return Status(Code::kIoError, "log engine failed earlier: " + failure.message());
  }

  void set_size(uint64_t number, uint64_t size) {
    uint64_t& s = sizes[number];
    journal_bytes.fetch_add(size - s);  // wraps correctly when shrinking
    s = size;
  }
  Status sync_file(File& f) {
    Status s = f.sync();
    if (s.is_ok()) syncs.fetch_add(1);
    return s;
  }

  Status recover();
  Status replay_segment(uint64_t number, bool last);
  Status replay_frame(uint64_t number, const FrameScanner::Frame& f, bool first,
                      const std::string& path);
  Status start_segment();
  Status write(const WriteBatch& batch);
  // Appends to the active segment; on kNoSpace, cuts what was written.
  Status append(const std::string& bytes);
  // Applies a written batch to the index; data positions are relative to the
  // batch frame at frame_offset.
  void apply(const WriteBatch& batch, const std::vector<OpPlan>& plans,
             const std::vector<uint32_t>& positions, uint64_t frame_offset);
  Status sync();
  Status collect_garbage();
  bool checkpoint_after_durable(uint64_t number) const;
  Status read_entries(GroupId g, std::vector<raft::Entry>& out,
                      std::vector<std::pair<size_t, EntryMeta>>& pending,
                      const std::vector<std::shared_ptr<SegmentReader>>& files) const;
};

// --- recovery ---------------------------------------------------------------

Status LogEngine::Impl::replay_frame(uint64_t number, const FrameScanner::Frame& f, bool first,
                                     const std::string& path) {
  Result<Record> rec = decode_record(f.payload);
  if (!rec.is_ok()) return at_file(path, f.offset, rec.status());
  const Record& r = rec.value();
  if (first != (r.kind == RecordKind::kCheckpoint)) {
    return at_file(path, f.offset,
                   Status(Code::kCorruption, first ? "a segment must open with a checkpoint"
                                                   : "a checkpoint after a segment's start"));
  }
  if (r.kind == RecordKind::kCheckpoint) {
    index.apply_checkpoint(r.groups);
    return Status::ok();
  }
  const uint64_t payload_offset = f.offset + kFrameHeaderBytes;
  std::vector<uint32_t> offsets;
  for (const DecodedOp& d : r.ops) {
    offsets.clear();
    for (uint32_t rel : d.data_offsets) {
      offsets.push_back(static_cast<uint32_t>(payload_offset + rel));
    }
    Status s = index.apply(d.op, d.plan, static_cast<uint32_t>(number), offsets, r.time_ms);
    if (!s.is_ok()) return at_file(path, f.offset, s);
  }
  return Status::ok();
}

Status LogEngine::Impl::replay_segment(uint64_t number, bool last) {
  const std::string path = path_of(number);
  if (number > kSegmentBytesLimit) {
    return Status(Code::kCorruption, "file " + path + ": segment number too large");
  }
  Result<std::unique_ptr<File>> opened = fs->open(path, last ? OpenMode::kAppend : OpenMode::kRead);
  if (!opened.is_ok()) return opened.status();
  std::unique_ptr<File> file = std::move(opened).value();
  uint64_t size = file->size();
  if (size > kSegmentBytesLimit) {
    return Status(Code::kCorruption, "file " + path + ": larger than a segment can be");
  }
  FrameScanner scanner(*file, number, size);
  for (bool first = true;; first = false) {
    Result<std::optional<FrameScanner::Frame>> f = scanner.next();
    if (!f.is_ok()) return f.status();
    if (!f.value().has_value()) break;
    if (Status s = replay_frame(number, *f.value(), first, path); !s.is_ok()) return s;
  }
  if (!scanner.bad_reason().empty()) {
    const Status bad(Code::kCorruption, scanner.bad_reason());
    if (!last) return at_file(path, scanner.offset(), bad);
    Result<bool> follows = scanner.valid_frame_follows();
    if (!follows.is_ok()) return at_file(path, scanner.offset(), follows.status());
    if (follows.value()) {
      return at_file(path, scanner.offset(),
                     Status(Code::kCorruption,
                            scanner.bad_reason() + " (a valid frame follows: not a torn tail)"));
    }
    // A torn tail: the last write before a crash, never acknowledged (a write is
    // acknowledged only after the sync that follows it). Cut it off for good.
    size = scanner.offset();
    if (Status s = file->truncate(size); !s.is_ok()) return s;
    if (Status s = sync_file(*file); !s.is_ok()) return s;
  }
  set_size(number, size);
  std::unique_ptr<File> reader;
  if (last) {
    Result<std::unique_ptr<File>> r = fs->open(path, OpenMode::kRead);
    if (!r.is_ok()) return r.status();
    reader = std::move(r).value();
    active = Active{.number = number,
                    .file = std::move(file),
                    .size = size,
                    .synced_size = size,
                    .dirty = false};
  } else {
    reader = std::move(file);
  }
  readers[number] = std::make_shared<SegmentReader>(number, path, std::move(reader));
  return Status::ok();
}

Status LogEngine::Impl::recover() {
  // The directory's own entry (and its parents', if they are new too) must be
  // durable before anything in it counts.
  if (Status s = create_dir_durably(*fs, options.dir); !s.is_ok()) return s;
  Result<std::vector<std::string>> names = fs->list_dir(options.dir);
  if (!names.is_ok()) return names.status();
  std::vector<uint64_t> numbers;
  for (const std::string& name : names.value()) {
    // Other files (none today) are left alone.
    if (std::optional<uint64_t> n = parse_segment_name(name)) numbers.push_back(*n);
  }
  std::sort(numbers.begin(), numbers.end());
  for (size_t k = 0; k < numbers.size(); k++) {
    if (Status s = replay_segment(numbers[k], k + 1 == numbers.size()); !s.is_ok()) return s;
  }
  if (Status s = index.check_complete(); !s.is_ok()) return s;
  // What was read may be in the page cache only: the previous process may have
  // died between a write and its sync. Make it durable before anything is served
  // (Raft would otherwise acknowledge entries a power loss could still take).
  // Segments before the last were synced before their successor was created.
  if (active.has_value()) {
    if (Status s = sync_file(*active->file); !s.is_ok()) return s;
  }
  if (Status s = fs->sync_dir(options.dir); !s.is_ok()) return s;
  next_number = numbers.empty() ? 1 : numbers.back() + 1;
  segments.store(sizes.size());
  return Status::ok();
}

// --- writes -------------------------------------------------------------------

Status LogEngine::Impl::start_segment() {
  // Everything in older segments must be durable before a newer one exists, so
  // that after a crash only the last segment can end in a torn frame.
  if (active.has_value() && active->dirty) {
    if (Status s = sync_file(*active->file); !s.is_ok()) return fail(s);
    active->dirty = false;
    active->synced_size = active->size;
  }
  const uint64_t number = next_number;
  MERIDIAN_ASSERT(number <= kSegmentBytesLimit, "segment number ", number, " past u32");
  const std::string path = path_of(number);
  Result<std::unique_ptr<File>> created = fs->open(path, OpenMode::kCreate);
  if (!created.is_ok()) {
    if (created.status().code() == Code::kNoSpace) return created.status();
    return fail(created.status());
  }
  Result<std::unique_ptr<File>> reader = fs->open(path, OpenMode::kRead);
  if (!reader.is_ok()) return fail(reader.status());
  next_number++;
  dir_dirty = true;
  {
    std::unique_lock lock(mu);
    readers[number] = std::make_shared<SegmentReader>(number, path, std::move(reader).value());
  }
  active = Active{.number = number, .file = std::move(created).value()};
  set_size(number, 0);
  segments.store(sizes.size());
  return Status::ok();
}

Status LogEngine::Impl::write(const WriteBatch& batch) {
  if (failed.load()) return failed_status();
  std::vector<OpPlan> plans;
  if (Status s = index.plan(batch, plans); !s.is_ok()) return s;
  if (std::all_of(plans.begin(), plans.end(), [](const OpPlan& p) { return p.skip; })) {
    return Status::ok();  // nothing would change
  }

  std::string frame;
  frame.reserve(kFrameHeaderBytes + batch.size_bytes() + 64);  // size_bytes() estimates it
  std::vector<uint32_t> positions;
  const size_t frame_start = begin_frame(frame);
  encode_batch(batch, plans, frame, positions);
  if (frame.size() - kFrameHeaderBytes > kFramePayloadMax) {
    return Status(Code::kInvalidArgument, "batch of " + std::to_string(frame.size()) +
                                              " bytes is larger than a frame can be");
  }
  if (!active.has_value() || active->size >= options.segment_bytes_max ||
      active->size + frame.size() > kSegmentBytesLimit) {
    if (Status s = start_segment(); !s.is_ok()) return s;
  }
  // A segment opens with a checkpoint of every group, so that older segments
  // are needed only for the live entries they hold.
  std::string bytes;
  if (active->size == 0) {
    const size_t cp_start = begin_frame(bytes);
    encode_checkpoint(batch.time_ms(), index.checkpoint(), bytes);
    MERIDIAN_ASSERT(bytes.size() - kFrameHeaderBytes <= kFramePayloadMax, "checkpoint of ",
                    bytes.size(), " bytes");
    finish_frame(bytes, cp_start, active->number, 0);
  }
  const uint64_t frame_offset = active->size + bytes.size();
  MERIDIAN_ASSERT(frame_offset + frame.size() <= kSegmentBytesLimit, "frame ends past u32");
  finish_frame(frame, frame_start, active->number, frame_offset);
  if (bytes.empty()) {
    bytes = std::move(frame);
  } else {
    bytes += frame;
  }
  if (Status s = append(bytes); !s.is_ok()) return s;
  apply(batch, plans, positions, frame_offset);
  return Status::ok();
}

Status LogEngine::Impl::append(const std::string& bytes) {
  const uint64_t before = active->size;
  if (Status s = active->file->append(bytes); !s.is_ok()) {
    if (s.code() != Code::kNoSpace) return fail(s);
    // The file layer may have written a prefix: cut it, and make the cut durable
    // so that no crash can bring that prefix back.
    Status undo = active->file->truncate(before);
    if (undo.is_ok()) undo = sync_file(*active->file);
    if (!undo.is_ok()) return fail(undo);
    active->dirty = false;
    active->synced_size = before;
    return s;
  }
  active->size += bytes.size();
  active->dirty = true;
  set_size(active->number, active->size);
  writes.fetch_add(1);
  bytes_written.fetch_add(bytes.size());
  return Status::ok();
}

void LogEngine::Impl::apply(const WriteBatch& batch, const std::vector<OpPlan>& plans,
                            const std::vector<uint32_t>& positions, uint64_t frame_offset) {
  std::unique_lock lock(mu);
  std::vector<uint32_t> offsets;
  size_t next_position = 0;
  const auto segment = static_cast<uint32_t>(active->number);
  for (size_t k = 0; k < plans.size(); k++) {
    if (plans[k].skip) continue;
    const WriteBatch::Op& op = batch.ops()[k];
    offsets.clear();
    if (op.type == WriteBatch::OpType::kAppend) {
      for (size_t e = plans[k].covered; e < op.entries.size(); e++) {
        offsets.push_back(static_cast<uint32_t>(frame_offset + positions[next_position++]));
      }
    }
    Status s = index.apply(op, plans[k], segment, offsets, batch.time_ms());
    MERIDIAN_ASSERT(s.is_ok(), "a planned operation failed to apply: ", s);
  }
  MERIDIAN_ASSERT(next_position == positions.size(), "entries recorded ", positions.size(),
                  ", applied ", next_position);
}

Status LogEngine::Impl::sync() {
  if (failed.load()) return failed_status();
  if (active.has_value() && active->dirty) {
    // A failed sync is never retried: the kernel may have dropped the dirty pages
    // and cleared the error (file_system.h), so later data could not be trusted.
    if (Status s = sync_file(*active->file); !s.is_ok()) return fail(s);
    active->dirty = false;
    active->synced_size = active->size;
  }
  if (dir_dirty) {
    if (Status s = fs->sync_dir(options.dir); !s.is_ok()) return fail(s);
    dir_dirty = false;
  }
  return Status::ok();
}

// Whether a segment after `number` opens with a durable checkpoint, which then
// holds everything `number` held but its entries.
bool LogEngine::Impl::checkpoint_after_durable(uint64_t number) const {
  for (auto it = sizes.upper_bound(number); it != sizes.end(); ++it) {
    const bool is_active = active.has_value() && it->first == active->number;
    // Segments before the active one were synced whole before it was created.
    if (is_active ? active->synced_size > 0 : it->second > 0) return true;
  }
  return false;
}

Status LogEngine::Impl::collect_garbage() {
  if (failed.load()) return failed_status();
  std::vector<uint64_t> dead;
  for (const auto& [number, size] : sizes) {
    if (active.has_value() && number == active->number) continue;
    if (index.live_entries(static_cast<uint32_t>(number)) > 0) continue;
    if (!checkpoint_after_durable(number)) continue;
    dead.push_back(number);
  }
  if (dead.empty()) return Status::ok();
  for (uint64_t number : dead) {
    if (Status s = fs->remove(path_of(number)); !s.is_ok()) return fail(s);
    {
      std::unique_lock lock(mu);
      readers.erase(number);
    }
    set_size(number, 0);
    sizes.erase(number);
    segments_removed.fetch_add(1);
  }
  segments.store(sizes.size());
  if (Status s = fs->sync_dir(options.dir); !s.is_ok()) return fail(s);
  return Status::ok();
}

// --- reads --------------------------------------------------------------------

// Reads the data of the entries in `pending` (position in `out`, where it lies)
// from their segment files, a run of neighbours with one read, and checks each
// entry's checksum.
Status LogEngine::Impl::read_entries(
    GroupId g, std::vector<raft::Entry>& out, std::vector<std::pair<size_t, EntryMeta>>& pending,
    const std::vector<std::shared_ptr<SegmentReader>>& files) const {
  size_t k = 0;
  while (k < pending.size()) {
    size_t end = k + 1;
    while (end < pending.size()) {
      const EntryMeta& prev = pending[end - 1].second;
      const EntryMeta& next = pending[end].second;
      const uint64_t prev_end = uint64_t{prev.offset} + prev.size;
      if (next.segment != prev.segment || next.offset < prev_end + kEntryChecksumBytes ||
          next.offset - prev_end > kReadGapBytesMax) {
        break;
      }
      end++;
    }
    const EntryMeta& head = pending[k].second;
    const EntryMeta& tail = pending[end - 1].second;
    const uint64_t start = head.offset - kEntryChecksumBytes;
    const uint64_t len = uint64_t{tail.offset} + tail.size - start;
    const SegmentReader& file = *files[k];
    Result<std::string> bytes = file.read(start, static_cast<size_t>(len));
    if (!bytes.is_ok()) return bytes.status();
    for (size_t j = k; j < end; j++) {
      const EntryMeta& m = pending[j].second;
      raft::Entry& e = out[pending[j].first];
      const size_t at = m.offset - start;
      const uint32_t stored = get_fixed32(bytes.value().data() + at - kEntryChecksumBytes);
      e.data.assign(bytes.value(), at, m.size);
      if (stored != entry_checksum(g, e.index, e.term, e.type, e.data)) {
        return Status(Code::kCorruption,
                      "file " + file.name() + " offset " + std::to_string(m.offset) +
                          ": checksum mismatch in entry " + std::to_string(e.index.value()) +
                          " of group " + std::to_string(g.value()));
      }
    }
    k = end;
  }
  return Status::ok();
}

// --- LogEngine ------------------------------------------------------------------

Result<std::unique_ptr<LogEngine>> LogEngine::open(FileSystem* fs,
                                                   const LogEngineOptions& options) {
  MERIDIAN_ASSERT(fs != nullptr, "LogEngine::open without a file system");
  if (options.dir.empty()) return Status(Code::kInvalidArgument, "no journal directory");
  if (options.segment_bytes_max == 0 || options.segment_bytes_max > kSegmentBytesMaxLimit) {
    return Status(Code::kInvalidArgument, "segment_bytes_max must be in [1, 2 GiB], not " +
                                              std::to_string(options.segment_bytes_max));
  }
  auto impl = std::make_unique<Impl>();
  impl->fs = fs;
  impl->options = options;
  if (Status s = impl->recover(); !s.is_ok()) return s;
  return std::unique_ptr<LogEngine>(new LogEngine(std::move(impl)));
}

LogEngine::LogEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LogEngine::~LogEngine() = default;

Status LogEngine::write(const WriteBatch& batch) { return impl_->write(batch); }
Status LogEngine::sync() { return impl_->sync(); }
Status LogEngine::collect_garbage() { return impl_->collect_garbage(); }
bool LogEngine::failed() const { return impl_->failed.load(); }

std::vector<GroupId> LogEngine::groups() const {
  std::shared_lock lock(impl_->mu);
  std::vector<GroupId> out;
  out.reserve(impl_->index.groups().size());
  for (const auto& [g, gs] : impl_->index.groups()) out.push_back(g);
  return out;
}

bool LogEngine::has_group(GroupId g) const {
  std::shared_lock lock(impl_->mu);
  return impl_->index.find(g) != nullptr;
}

raft::HardState LogEngine::hard_state(GroupId g) const {
  std::shared_lock lock(impl_->mu);
  const GroupState* gs = impl_->index.find(g);
  return gs != nullptr ? gs->hard_state : raft::HardState{};
}

raft::SnapshotMeta LogEngine::snapshot_meta(GroupId g) const {
  std::shared_lock lock(impl_->mu);
  const GroupState* gs = impl_->index.find(g);
  return gs != nullptr ? gs->snapshot : raft::SnapshotMeta{};
}

Index LogEngine::first_index(GroupId g) const {
  std::shared_lock lock(impl_->mu);
  const GroupState* gs = impl_->index.find(g);
  return gs != nullptr ? gs->first : Index{1};
}

Index LogEngine::last_index(GroupId g) const {
  std::shared_lock lock(impl_->mu);
  const GroupState* gs = impl_->index.find(g);
  return gs != nullptr ? gs->last() : Index{0};
}

Result<Term> LogEngine::term(GroupId g, Index i) const {
  std::shared_lock lock(impl_->mu);
  const GroupState* gs = impl_->index.find(g);
  const Index first = gs != nullptr ? gs->first : Index{1};
  const Index last = gs != nullptr ? gs->last() : Index{0};
  if (i > last) return Status(Code::kUnavailable, "term past the last stored index");
  if (i + 1 < first) return Status(Code::kCompacted, "term below the first stored index");
  if (i + 1 == first) return gs != nullptr ? gs->prev_term : Term{0};
  return Term{gs->at(i).term};
}

Result<std::vector<raft::Entry>> LogEngine::entries(GroupId g, Index lo, Index hi,
                                                    uint64_t max_bytes) const {
  if (lo > hi) {
    return Status(Code::kInvalidArgument, "entries: lo " + std::to_string(lo.value()) + " > hi " +
                                              std::to_string(hi.value()));
  }
  std::vector<raft::Entry> out;
  std::vector<std::pair<size_t, EntryMeta>> pending;  // entries to read from files
  std::vector<std::shared_ptr<SegmentReader>> files;  // pending[k]'s segment
  {
    std::shared_lock lock(impl_->mu);
    const GroupState* gs = impl_->index.find(g);
    const Index first = gs != nullptr ? gs->first : Index{1};
    const Index last = gs != nullptr ? gs->last() : Index{0};
    if (lo < first) return Status(Code::kCompacted, "entries below the first stored index");
    if (hi > last + 1) return Status(Code::kUnavailable, "entries past the last stored index");
    if (lo == hi) return out;
    // The cache holds the data of the newest gs->recent.size() entries.
    const Index cached_from = last + 1 - gs->recent.size();
    uint64_t total = 0;
    for (Index i = lo; i < hi; ++i) {
      const EntryMeta& m = gs->at(i);
      const uint64_t size = m.size + raft::Entry::kHeaderBytes;
      if (!fits(total, size, max_bytes, out.size())) break;
      total += size;
      raft::Entry e{.term = Term{m.term}, .index = i, .type = m.type, .data = {}};
      if (i >= cached_from) {
        e.data = gs->recent[i - cached_from];
      } else {
        auto it = impl_->readers.find(m.segment);
        MERIDIAN_ASSERT(it != impl_->readers.end(), "entry ", i, " of group ", g, " in segment ",
                        m.segment, " that is gone");
        pending.emplace_back(out.size(), m);
        files.push_back(it->second);
      }
      out.push_back(std::move(e));
    }
  }
  if (Status s = impl_->read_entries(g, out, pending, files); !s.is_ok()) return s;
  return out;
}

Index LogEngine::retention_point(GroupId g, uint64_t bytes_max, uint64_t cutoff_ms) const {
  std::shared_lock lock(impl_->mu);
  const GroupState* gs = impl_->index.find(g);
  if (gs == nullptr) return Index{1};
  if (bytes_max == 0 && cutoff_ms == 0) return gs->first;
  Index point = gs->last() + 1;
  uint64_t total = 0;
  while (point > gs->first) {
    const EntryMeta& m = gs->at(point - 1);
    if (bytes_max != 0 && (total > bytes_max || m.size > bytes_max - total)) break;
    if (cutoff_ms != 0 && m.time_ms < cutoff_ms) break;
    total += m.size;
    point = point - 1;
  }
  return point;
}

LogEngineStats LogEngine::stats() const {
  return LogEngineStats{.writes = impl_->writes.load(),
                        .syncs = impl_->syncs.load(),
                        .bytes_written = impl_->bytes_written.load(),
                        .segments = impl_->segments.load(),
                        .segments_removed = impl_->segments_removed.load(),
                        .journal_bytes = impl_->journal_bytes.load()};
}

}  // namespace meridian::storage
