// Journal format, version 1 (docs/formats/storage.md). Fixed-width integers are
// little-endian; varint is LEB128 of a u64, minimal length (at most 10 bytes).
//
//   segment      := frame*                   (first frame: a checkpoint record)
//   frame        := magic:u32 (="MJNL") payload_len:u32 crc:u32 payload{payload_len}
//   crc          := mask(crc32c(segment:u64 offset:u64 payload_len:u32 payload))
//   payload      := version:u8 (=1) kind:u8 time_ms:varint body
//   body         := batch (kind 1) | checkpoint (kind 2)
//   batch        := op_count:varint op{op_count}
//   op           := type:u8 group:varint op_body
//     append     (1) := first_index:varint (>= 1) count:varint (>= 1) entry{count}
//     hard_state (2) := term:varint vote:varint commit:varint
//     snapshot   (3) := keep_log:u8 (0|1) snapshot_meta
//     compact    (4) := index:varint compact_term:varint
//     remove     (5) := (nothing)
//   entry        := term:varint type:u8 (0|1) data_len:varint entry_crc:u32 data{data_len}
//   entry_crc    := mask(crc32c(group:u64 index:u64 term:u64 type:u8 data))
//   snapshot_meta:= index:varint term:varint conf_state
//   conf_state   := nodes (voters) nodes (outgoing) nodes (learners) nodes (learners_next)
//                   auto_leave:u8 (0|1)
//   nodes        := count:varint node:varint{count}
//   checkpoint   := group_count:varint group_state{group_count}   (ascending groups)
//   group_state  := group:varint term:varint vote:varint commit:varint snapshot_meta
//                   first_index:varint (>= 1) prev_term:varint entry_count:varint
#include "storage/journal_format.h"

#include <cstring>
#include <limits>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/varint.h"

namespace meridian::storage {
namespace {

using raft::EntryType;
using raft::Index;
using raft::NodeId;
using raft::Term;

// A list of nodes longer than this is malformed: no group has this many members
// (the same bound as raft's ConfChange codec).
constexpr uint64_t kNodesMax = 1024;
// Smallest encoded entry: term, type, data_len, checksum.
constexpr uint64_t kEntryBytesMin = 1 + 1 + 1 + kEntryChecksumBytes;

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }

// Writes v little-endian at p (8 bytes); for checksum prefixes built on the stack.
char* store_u64(char* p, uint64_t v) {
  for (int i = 0; i < 8; i++) *p++ = static_cast<char>((v >> (8 * i)) & 0xff);
  return p;
}

void put_varint(std::string& out, uint64_t v) { base::put_varint(&out, v); }

void put_nodes(std::string& out, const std::vector<NodeId>& nodes) {
  put_varint(out, nodes.size());
  for (NodeId n : nodes) put_varint(out, n.value());
}

void put_snapshot_meta(std::string& out, const raft::SnapshotMeta& m) {
  put_varint(out, m.index.value());
  put_varint(out, m.term.value());
  put_nodes(out, m.conf_state.voters);
  put_nodes(out, m.conf_state.voters_outgoing);
  put_nodes(out, m.conf_state.learners);
  put_nodes(out, m.conf_state.learners_next);
  put_u8(out, m.conf_state.auto_leave ? 1 : 0);
}

void put_hard_state(std::string& out, const raft::HardState& hs) {
  put_varint(out, hs.term.value());
  put_varint(out, hs.vote.value());
  put_varint(out, hs.commit.value());
}

uint32_t position(const std::string& out) {
  MERIDIAN_ASSERT(out.size() <= std::numeric_limits<uint32_t>::max(), "buffer past u32");
  return static_cast<uint32_t>(out.size());
}

void encode_append(std::string& out, const WriteBatch::Op& op, const OpPlan& plan,
                   std::vector<uint32_t>& data_positions) {
  MERIDIAN_ASSERT(plan.covered < op.entries.size(), "append of ", op.entries.size(),
                  " entries with ", plan.covered, " covered is not recorded");
  const size_t count = op.entries.size() - plan.covered;
  put_varint(out, op.entries[plan.covered].index.value());
  put_varint(out, count);
  for (size_t k = plan.covered; k < op.entries.size(); k++) {
    const raft::Entry& e = op.entries[k];
    put_varint(out, e.term.value());
    put_u8(out, static_cast<uint8_t>(e.type));
    put_varint(out, e.data.size());
    put_fixed32(out, entry_checksum(op.group, e.index, e.term, e.type, e.data));
    data_positions.push_back(position(out));
    out += e.data;
  }
}

// Reads the grammar above from a payload; the first failure sticks and names
// what was being read.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return error_ == nullptr; }
  const char* error() const { return error_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool at_end() const { return pos_ == in_.size(); }
  void fail(const char* what) {
    if (error_ == nullptr) error_ = what;
  }

  uint8_t u8(const char* what) {
    if (!ok()) return 0;
    if (remaining() < 1) {
      fail(what);
      return 0;
    }
    return static_cast<uint8_t>(in_[pos_++]);
  }
  bool boolean(const char* what) {
    const uint8_t v = u8(what);
    if (v > 1) fail(what);
    return v == 1;
  }
  uint32_t fixed32(const char* what) {
    if (!ok()) return 0;
    if (remaining() < 4) {
      fail(what);
      return 0;
    }
    const uint32_t v = get_fixed32(in_.data() + pos_);
    pos_ += 4;
    return v;
  }
  // A minimal LEB128 varint of at most 64 bits (base/varint.h).
  uint64_t varint(const char* what) {
    if (!ok()) return 0;
    uint64_t v = 0;
    if (!base::get_varint(in_, &pos_, &v)) {
      fail(what);
      return 0;
    }
    return v;
  }
  std::string_view bytes(size_t n, const char* what) {
    if (!ok()) return {};
    if (remaining() < n) {
      fail(what);
      return {};
    }
    std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  const char* error_ = nullptr;
};

std::vector<NodeId> read_nodes(Reader& r) {
  const uint64_t count = r.varint("node count");
  if (count > kNodesMax || count > r.remaining()) r.fail("node count");
  std::vector<NodeId> nodes;
  if (!r.ok()) return nodes;
  nodes.reserve(count);
  for (uint64_t i = 0; i < count && r.ok(); i++) nodes.emplace_back(r.varint("node id"));
  return nodes;
}

raft::SnapshotMeta read_snapshot_meta(Reader& r) {
  raft::SnapshotMeta m;
  m.index = Index{r.varint("snapshot index")};
  m.term = Term{r.varint("snapshot term")};
  m.conf_state.voters = read_nodes(r);
  m.conf_state.voters_outgoing = read_nodes(r);
  m.conf_state.learners = read_nodes(r);
  m.conf_state.learners_next = read_nodes(r);
  m.conf_state.auto_leave = r.boolean("auto_leave");
  return m;
}

raft::HardState read_hard_state(Reader& r) {
  raft::HardState hs;
  hs.term = Term{r.varint("hard state term")};
  hs.vote = NodeId{r.varint("hard state vote")};
  hs.commit = Index{r.varint("hard state commit")};
  return hs;
}

void read_append(Reader& r, DecodedOp& d) {
  const uint64_t first = r.varint("append first index");
  const uint64_t count = r.varint("append count");
  if (first == 0) r.fail("append at index 0");
  if (count == 0 || count > r.remaining() / kEntryBytesMin) r.fail("append count");
  if (r.ok() && first - 1 > std::numeric_limits<uint64_t>::max() - count) {
    r.fail("append index overflow");
  }
  if (!r.ok()) return;
  d.op.entries.reserve(count);
  d.data_offsets.reserve(count);
  for (uint64_t k = 0; k < count && r.ok(); k++) {
    raft::Entry e;
    e.index = Index{first + k};
    e.term = Term{r.varint("entry term")};
    const uint8_t type = r.u8("entry type");
    if (type > static_cast<uint8_t>(EntryType::kConfChange)) r.fail("entry type");
    e.type = static_cast<EntryType>(type);
    const uint64_t len = r.varint("entry length");
    const uint32_t crc = r.fixed32("entry checksum");
    if (len > r.remaining()) r.fail("entry length");
    const size_t at = r.pos();
    std::string_view data = r.bytes(len, "entry data");
    if (!r.ok()) return;
    if (crc != entry_checksum(d.op.group, e.index, e.term, e.type, data)) {
      r.fail("entry checksum");
      return;
    }
    e.data.assign(data);
    d.op.entries.push_back(std::move(e));
    d.data_offsets.push_back(static_cast<uint32_t>(at));
  }
}

void read_op(Reader& r, DecodedOp& d) {
  const uint8_t type = r.u8("op type");
  d.op.group = GroupId{r.varint("op group")};
  if (!r.ok()) return;
  switch (type) {
    case static_cast<uint8_t>(WriteBatch::OpType::kAppend):
      d.op.type = WriteBatch::OpType::kAppend;
      read_append(r, d);
      return;
    case static_cast<uint8_t>(WriteBatch::OpType::kHardState):
      d.op.type = WriteBatch::OpType::kHardState;
      d.op.hard_state = read_hard_state(r);
      return;
    case static_cast<uint8_t>(WriteBatch::OpType::kSnapshot):
      d.op.type = WriteBatch::OpType::kSnapshot;
      d.plan.keep_log = r.boolean("snapshot keep_log");
      d.op.snapshot = read_snapshot_meta(r);
      return;
    case static_cast<uint8_t>(WriteBatch::OpType::kCompact):
      d.op.type = WriteBatch::OpType::kCompact;
      d.op.index = Index{r.varint("compact index")};
      d.plan.compact_term = Term{r.varint("compact term")};
      return;
    case static_cast<uint8_t>(WriteBatch::OpType::kRemoveGroup):
      d.op.type = WriteBatch::OpType::kRemoveGroup;
      return;
    default:
      r.fail("op type");
  }
}

void read_checkpoint(Reader& r, Record& rec) {
  const uint64_t count = r.varint("group count");
  if (count > r.remaining()) r.fail("group count");
  if (!r.ok()) return;
  rec.groups.reserve(count);
  for (uint64_t k = 0; k < count && r.ok(); k++) {
    GroupCheckpoint g;
    g.group = GroupId{r.varint("checkpoint group")};
    g.hard_state = read_hard_state(r);
    g.snapshot = read_snapshot_meta(r);
    g.first_index = Index{r.varint("checkpoint first index")};
    g.prev_term = Term{r.varint("checkpoint prev term")};
    g.entry_count = r.varint("checkpoint entry count");
    if (!r.ok()) return;
    if (g.first_index == Index{0}) r.fail("checkpoint first index 0");
    if (g.first_index.value() - 1 > std::numeric_limits<uint64_t>::max() - g.entry_count) {
      r.fail("checkpoint entry count overflow");
    }
    if (!rec.groups.empty() && rec.groups.back().group >= g.group) {
      r.fail("checkpoint groups out of order");
    }
    rec.groups.push_back(std::move(g));
  }
}

}  // namespace

void put_fixed32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t get_fixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

size_t begin_frame(std::string& out) {
  const size_t start = out.size();
  out.append(kFrameHeaderBytes, '\0');
  return start;
}

namespace {

uint32_t frame_crc(uint32_t payload_len, std::string_view payload, uint64_t segment,
                   uint64_t file_offset) {
  char prefix[20];
  char* p = store_u64(store_u64(prefix, segment), file_offset);
  for (int i = 0; i < 4; i++) *p++ = static_cast<char>((payload_len >> (8 * i)) & 0xff);
  const uint32_t crc = crc32c_extend(0, prefix, sizeof(prefix));
  return crc32c_mask(crc32c_extend(crc, payload.data(), payload.size()));
}

}  // namespace

void finish_frame(std::string& out, size_t frame_start, uint64_t segment, uint64_t file_offset) {
  MERIDIAN_ASSERT(out.size() >= frame_start + kFrameHeaderBytes, "frame without a header");
  const size_t len = out.size() - frame_start - kFrameHeaderBytes;
  MERIDIAN_ASSERT(len <= kFramePayloadMax, "frame payload of ", len, " bytes");
  std::string_view payload(out.data() + frame_start + kFrameHeaderBytes, len);
  std::string header;
  put_fixed32(header, kFrameMagic);
  put_fixed32(header, static_cast<uint32_t>(len));
  put_fixed32(header, frame_crc(static_cast<uint32_t>(len), payload, segment, file_offset));
  std::memcpy(out.data() + frame_start, header.data(), kFrameHeaderBytes);
}

FrameHeader parse_frame_header(std::string_view header) {
  MERIDIAN_ASSERT(header.size() == kFrameHeaderBytes, "frame header of ", header.size());
  return FrameHeader{.magic = get_fixed32(header.data()),
                     .payload_len = get_fixed32(header.data() + 4),
                     .crc = get_fixed32(header.data() + 8)};
}

bool frame_length_plausible(uint32_t payload_len) {
  return payload_len >= kFramePayloadMin && payload_len <= kFramePayloadMax;
}

bool frame_checksum_ok(const FrameHeader& h, std::string_view payload, uint64_t segment,
                       uint64_t file_offset) {
  if (h.magic != kFrameMagic || h.payload_len != payload.size()) return false;
  return h.crc == frame_crc(h.payload_len, payload, segment, file_offset);
}

void encode_batch(const WriteBatch& batch, const std::vector<OpPlan>& plans, std::string& out,
                  std::vector<uint32_t>& data_positions) {
  const std::vector<WriteBatch::Op>& ops = batch.ops();
  MERIDIAN_ASSERT(plans.size() == ops.size(), "plans for ", plans.size(), " of ", ops.size());
  uint64_t recorded = 0;
  for (const OpPlan& p : plans) recorded += p.skip ? 0 : 1;

  put_u8(out, kRecordVersion);
  put_u8(out, static_cast<uint8_t>(RecordKind::kBatch));
  put_varint(out, batch.time_ms());
  put_varint(out, recorded);
  for (size_t k = 0; k < ops.size(); k++) {
    const WriteBatch::Op& op = ops[k];
    const OpPlan& plan = plans[k];
    if (plan.skip) continue;
    put_u8(out, static_cast<uint8_t>(op.type));
    put_varint(out, op.group.value());
    switch (op.type) {
      case WriteBatch::OpType::kAppend:
        encode_append(out, op, plan, data_positions);
        break;
      case WriteBatch::OpType::kHardState:
        put_hard_state(out, op.hard_state);
        break;
      case WriteBatch::OpType::kSnapshot:
        put_u8(out, plan.keep_log ? 1 : 0);
        put_snapshot_meta(out, op.snapshot);
        break;
      case WriteBatch::OpType::kCompact:
        put_varint(out, op.index.value());
        put_varint(out, plan.compact_term.value());
        break;
      case WriteBatch::OpType::kRemoveGroup:
        break;
    }
  }
}

void encode_checkpoint(uint64_t time_ms, const std::vector<GroupCheckpoint>& groups,
                       std::string& out) {
  put_u8(out, kRecordVersion);
  put_u8(out, static_cast<uint8_t>(RecordKind::kCheckpoint));
  put_varint(out, time_ms);
  put_varint(out, groups.size());
  for (size_t k = 0; k < groups.size(); k++) {
    const GroupCheckpoint& g = groups[k];
    MERIDIAN_ASSERT(k == 0 || groups[k - 1].group < g.group, "checkpoint groups out of order");
    MERIDIAN_ASSERT(g.first_index >= Index{1}, "checkpoint of group ", g.group, " at index 0");
    put_varint(out, g.group.value());
    put_hard_state(out, g.hard_state);
    put_snapshot_meta(out, g.snapshot);
    put_varint(out, g.first_index.value());
    put_varint(out, g.prev_term.value());
    put_varint(out, g.entry_count);
  }
}

Result<Record> decode_record(std::string_view payload) {
  Reader r(payload);
  Record rec;
  const uint8_t version = r.u8("version");
  if (r.ok() && version != kRecordVersion)
    return Status(Code::kCorruption, "unknown record version");
  const uint8_t kind = r.u8("record kind");
  rec.time_ms = r.varint("time_ms");
  if (kind == static_cast<uint8_t>(RecordKind::kBatch)) {
    rec.kind = RecordKind::kBatch;
    const uint64_t count = r.varint("op count");
    // Every op takes at least two bytes (type and group).
    if (count > r.remaining() / 2) r.fail("op count");
    if (r.ok()) rec.ops.reserve(count);
    for (uint64_t k = 0; k < count && r.ok(); k++) {
      DecodedOp d;
      read_op(r, d);
      rec.ops.push_back(std::move(d));
    }
  } else if (kind == static_cast<uint8_t>(RecordKind::kCheckpoint)) {
    rec.kind = RecordKind::kCheckpoint;
    read_checkpoint(r, rec);
  } else {
    r.fail("record kind");
  }
  if (r.ok() && !r.at_end()) r.fail("trailing bytes");
  if (!r.ok()) return Status(Code::kCorruption, std::string("malformed record: ") + r.error());
  return rec;
}

uint32_t entry_checksum(GroupId g, raft::Index index, raft::Term term, raft::EntryType type,
                        std::string_view data) {
  char prefix[25];
  char* p = store_u64(store_u64(store_u64(prefix, g.value()), index.value()), term.value());
  *p = static_cast<char>(type);
  const uint32_t crc = crc32c_extend(0, prefix, sizeof(prefix));
  return crc32c_mask(crc32c_extend(crc, data.data(), data.size()));
}

}  // namespace meridian::storage
