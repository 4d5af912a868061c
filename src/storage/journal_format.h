// The journal's on-disk codec (internal to the log engine): frames, the records
// they carry (a batch of operations or a checkpoint of every group's state) and
// the per-entry checksum checked when an entry is read back. Pure functions; any
// thread. The grammar is at the top of journal_format.cc and, with the reasons,
// in docs/formats/storage.md.
//
// The codec is canonical: decode_record accepts exactly the bytes the encoders
// produce (minimal varints, booleans 0 or 1, sorted checkpoint groups), so that a
// decoded record re-encodes to the same bytes (journal_fuzz.cc checks it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "raft/types.h"
#include "storage/file_system.h"  // Status, Result, Code in this namespace
#include "storage/write_batch.h"

namespace meridian::storage {

// "MJNL" read as a little-endian u32: marks the start of every frame, so that a
// scan can find frame starts after a damaged one.
inline constexpr uint32_t kFrameMagic = 0x4c4e4a4d;
// magic:u32 payload_len:u32 crc:u32.
inline constexpr size_t kFrameHeaderBytes = 12;
// A larger frame is refused when written and implausible when read: 1 GiB keeps
// every offset inside a segment within u32 (the index stores u32 offsets) and is
// far above a group-commit round (16 MiB by default).
inline constexpr uint32_t kFramePayloadMax = 1u << 30;
// version:u8 kind:u8 time_ms:varint(>= 1 byte) count:varint(>= 1 byte).
inline constexpr uint32_t kFramePayloadMin = 4;
inline constexpr uint8_t kRecordVersion = 1;
// The checksum stored before each entry's data (see entry_checksum).
inline constexpr size_t kEntryChecksumBytes = 4;

enum class RecordKind : uint8_t {
  kBatch = 1,       // the operations of one WriteBatch
  kCheckpoint = 2,  // every group's state; the first record of every segment
};

// How one WriteBatch operation is recorded, decided by GroupIndex::plan from the
// state it applies to, so that replaying the record never needs to look anything
// up in entries that may since have been dropped (see docs/formats/storage.md).
struct OpPlan {
  bool skip = false;        // the operation changes nothing: not recorded
  uint32_t covered = 0;     // kAppend: leading entries already covered by the snapshot
  bool keep_log = false;    // kSnapshot: the log holds the snapshot's last entry
  raft::Term compact_term;  // kCompact: term of the entry at index - 1
};

// A group's state as recorded in a checkpoint.
struct GroupCheckpoint {
  GroupId group;
  raft::HardState hard_state;
  raft::SnapshotMeta snapshot;
  raft::Index first_index{1};
  raft::Term prev_term;  // term of the entry at first_index - 1
  uint64_t entry_count = 0;
  bool operator==(const GroupCheckpoint&) const = default;
};

struct DecodedOp {
  WriteBatch::Op op;
  OpPlan plan;  // covered is always 0: covered entries are not recorded
  // kAppend: offset of each entry's data from the start of the payload.
  std::vector<uint32_t> data_offsets;
};

struct Record {
  RecordKind kind = RecordKind::kBatch;
  uint64_t time_ms = 0;
  std::vector<DecodedOp> ops;           // kBatch
  std::vector<GroupCheckpoint> groups;  // kCheckpoint, ascending by group
};

// --- frames -------------------------------------------------------------------

struct FrameHeader {
  uint32_t magic = 0;
  uint32_t payload_len = 0;
  uint32_t crc = 0;
};

// Reserves a frame header at the end of `out` and returns where the frame starts;
// the caller appends the payload, then calls finish_frame.
size_t begin_frame(std::string& out);
// Fills in the header of the frame starting at out[frame_start]. The checksum
// covers where the frame lies (segment number and file offset) as well as the
// length and payload, so a frame is valid only where it was written.
void finish_frame(std::string& out, size_t frame_start, uint64_t segment, uint64_t file_offset);

FrameHeader parse_frame_header(std::string_view header);  // header.size() == 12
bool frame_length_plausible(uint32_t payload_len);
bool frame_checksum_ok(const FrameHeader& h, std::string_view payload, uint64_t segment,
                       uint64_t file_offset);

// --- records ------------------------------------------------------------------

// Appends a batch record's payload to `out`, each op as planned (plans[k] for
// batch.ops()[k]); pushes the position in `out` of each recorded entry's data.
void encode_batch(const WriteBatch& batch, const std::vector<OpPlan>& plans, std::string& out,
                  std::vector<uint32_t>& data_positions);
// Appends a checkpoint record's payload to `out`; groups must be ascending.
void encode_checkpoint(uint64_t time_ms, const std::vector<GroupCheckpoint>& groups,
                       std::string& out);
// kCorruption naming the first thing wrong if `payload` is not a record this
// codec would produce.
Result<Record> decode_record(std::string_view payload);

// The checksum of one entry, stored just before its data: it covers the group,
// index, term and type too, so a read that lands on the wrong entry fails it.
uint32_t entry_checksum(GroupId g, raft::Index index, raft::Term term, raft::EntryType type,
                        std::string_view data);

// Little-endian fixed-width helpers, shared with the engine's readers.
void put_fixed32(std::string& out, uint32_t v);
uint32_t get_fixed32(const char* p);

}  // namespace meridian::storage
