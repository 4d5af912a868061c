// Peer protocol payloads, version 2 (docs/formats/peer.md). Fixed-width integers
// are little endian; varint is LEB128 of a u64 in its shortest form.
//
//   hello       := magic:u32 (="MRDN") version:u16 cluster_id:u64 from:u64 to:u64
//   hello_ack   := magic:u32 accepted:u8 (0|1) reason_len:varint reason{reason_len}
//
//   batch       := hb_count:varint heartbeat{hb_count}
//                  hbr_count:varint heartbeat_response{hbr_count}
//                  msg_count:varint message{msg_count}
//   heartbeat   := group:varint term:varint commit:varint
//   heartbeat_response := group:varint term:varint
//   message     := group:varint body
//   body        := type:u8 (0..13, not kSnapshot in a batch) fields:varint
//                  [term:varint] [log_term:varint] [index:varint] [entries]
//                  [commit:varint] [reject_hint:varint] [commit_term:varint]
//                  [target:varint] [context]          (each present iff its bit is set)
//   fields      := bit 0 term, 1 log_term, 2 index, 3 entries, 4 commit, 5 reject,
//                  6 reject_hint, 7 commit_term, 8 force, 9 target, 10 context
//   entries     := count:varint (>= 1) entry{count}
//   entry       := index_delta:varint term:varint type:u8 (0|1) data_len:varint data
//   index_delta := zigzag(index - expected); expected = message index + 1 for the
//                  first entry, the previous entry's index + 1 after it
//   context     := len:varint (>= 1) bytes{len}
//
//   chunk       := group:varint id:varint offset:varint last:u8 (0|1)
//                  [body snapshot_meta]  (iff offset == 0; body type kSnapshot)
//                  data_len:varint data{data_len}
//   snapshot_meta := index:varint term:varint nodes (voters) nodes (voters_outgoing)
//                  nodes (learners) nodes (learners_next) auto_leave:u8 (0|1)
//   nodes       := count:varint (<= 1024) node:varint{count}
//
// A present varint field is never zero (absent means zero), so every message has
// exactly one body encoding.
#include "net/wire.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "net/codec_util.h"

namespace meridian::net {
namespace {

using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Term;

// Bits of a message's `fields` varint, in the order their values follow. The
// fields of appends and their responses (the hot path) are in the low 7 bits, so
// their mask is one byte.
enum FieldBit : uint64_t {
  kFieldTerm = 1u << 0,
  kFieldLogTerm = 1u << 1,
  kFieldIndex = 1u << 2,
  kFieldEntries = 1u << 3,
  kFieldCommit = 1u << 4,
  kFieldReject = 1u << 5,  // flag: no value
  kFieldRejectHint = 1u << 6,
  kFieldCommitTerm = 1u << 7,
  kFieldForce = 1u << 8,  // flag: no value
  kFieldTarget = 1u << 9,
  kFieldContext = 1u << 10,
};
constexpr uint64_t kFieldsAll = (1u << 11) - 1;

// Smallest encodings, for checking counts against the bytes left.
constexpr uint64_t kHeartbeatBytesMin = 3;          // group, term, commit
constexpr uint64_t kHeartbeatResponseBytesMin = 2;  // group, term
constexpr uint64_t kMessageBytesMin = 3;            // group, type, fields
constexpr uint64_t kEntryBytesMin = 4;              // index_delta, term, type, data_len
// A node list longer than this is malformed: no group has so many members (the
// same bound as the journal's and raft's ConfChange codecs).
constexpr uint64_t kConfNodesMax = 1024;

// Every value of raft::MessageType. Without a default case, -Wswitch (an error
// here) flags this function when raft gains a message type the codec lacks.
bool known_message_type(uint8_t t) {
  switch (static_cast<MessageType>(t)) {
    case MessageType::kAppend:
    case MessageType::kAppendResponse:
    case MessageType::kVote:
    case MessageType::kVoteResponse:
    case MessageType::kPreVote:
    case MessageType::kPreVoteResponse:
    case MessageType::kHeartbeat:
    case MessageType::kHeartbeatResponse:
    case MessageType::kSnapshot:
    case MessageType::kTimeoutNow:
    case MessageType::kPropose:
    case MessageType::kReadIndex:
    case MessageType::kReadIndexResponse:
    case MessageType::kTransferLeader:
      return true;
  }
  return false;
}

// Whether every field but type, term and commit has its default value.
bool only_term_and_commit(const Message& m) {
  return m.log_term == Term{0} && m.index == Index{0} && m.entries.empty() &&
         m.commit_term == Term{0} && !m.reject && m.reject_hint == Index{0} && !m.force &&
         m.target == raft::kNoNode && !m.snapshot && m.context.empty();
}

// The coalesced sections hold heartbeats and their responses without a ReadIndex
// context; anything else about them goes as a full message.
bool coalesced_heartbeat(const Message& m) {
  return m.type == MessageType::kHeartbeat && only_term_and_commit(m);
}
bool coalesced_heartbeat_response(const Message& m) {
  return m.type == MessageType::kHeartbeatResponse && only_term_and_commit(m) &&
         m.commit == Index{0};
}

void put_nodes(std::string* out, const std::vector<NodeId>& nodes) {
  MERIDIAN_ASSERT(nodes.size() <= kConfNodesMax, "a node list of ", nodes.size(), " nodes");
  put_varint(out, nodes.size());
  for (NodeId n : nodes) put_varint(out, n.value());
}

void encode_entries(std::string* out, const Message& m) {
  put_varint(out, m.entries.size());
  Index expected = m.index + 1;
  for (const Entry& e : m.entries) {
    put_varint(out, zigzag_encode(e.index - expected));
    put_varint(out, e.term.value());
    put_u8(out, static_cast<uint8_t>(e.type));
    put_varint(out, e.data.size());
    out->append(e.data);
    expected = e.index + 1;
  }
}

void encode_body(std::string* out, const Message& m) {
  uint64_t fields = 0;
  if (m.term != Term{0}) fields |= kFieldTerm;
  if (m.log_term != Term{0}) fields |= kFieldLogTerm;
  if (m.index != Index{0}) fields |= kFieldIndex;
  if (!m.entries.empty()) fields |= kFieldEntries;
  if (m.commit != Index{0}) fields |= kFieldCommit;
  if (m.reject) fields |= kFieldReject;
  if (m.reject_hint != Index{0}) fields |= kFieldRejectHint;
  if (m.commit_term != Term{0}) fields |= kFieldCommitTerm;
  if (m.force) fields |= kFieldForce;
  if (m.target != raft::kNoNode) fields |= kFieldTarget;
  if (!m.context.empty()) fields |= kFieldContext;

  put_u8(out, static_cast<uint8_t>(m.type));
  put_varint(out, fields);
  if (fields & kFieldTerm) put_varint(out, m.term.value());
  if (fields & kFieldLogTerm) put_varint(out, m.log_term.value());
  if (fields & kFieldIndex) put_varint(out, m.index.value());
  if (fields & kFieldEntries) encode_entries(out, m);
  if (fields & kFieldCommit) put_varint(out, m.commit.value());
  if (fields & kFieldRejectHint) put_varint(out, m.reject_hint.value());
  if (fields & kFieldCommitTerm) put_varint(out, m.commit_term.value());
  if (fields & kFieldTarget) put_varint(out, m.target.value());
  if (fields & kFieldContext) {
    put_varint(out, m.context.size());
    out->append(m.context);
  }
}

void encode_snapshot_meta(std::string* out, const raft::SnapshotMeta& meta) {
  put_varint(out, meta.index.value());
  put_varint(out, meta.term.value());
  put_nodes(out, meta.conf_state.voters);
  put_nodes(out, meta.conf_state.voters_outgoing);
  put_nodes(out, meta.conf_state.learners);
  put_nodes(out, meta.conf_state.learners_next);
  put_u8(out, meta.conf_state.auto_leave ? 1 : 0);
}

// A field whose presence bit is set: absent encodes zero, so zero here is corruption.
uint64_t present_varint(WireReader& r, const char* field) {
  const uint64_t v = r.varint(field);
  if (r.ok() && v == 0) r.fail(std::string(field) + " is present but zero");
  return v;
}

bool decode_entries(WireReader& r, Message* m, uint64_t* entries_left) {
  const uint64_t n = r.count("entry count", kEntryBytesMin, *entries_left);
  if (!r.ok()) return false;
  if (n == 0) return r.fail("entry count is present but zero");
  *entries_left -= n;
  m->entries.resize(static_cast<size_t>(n));
  Index expected = m->index + 1;
  for (Entry& e : m->entries) {
    e.index = expected + zigzag_decode(r.varint("entry index"));
    e.term = Term{r.varint("entry term")};
    const uint8_t type = r.u8("entry type");
    const uint64_t len = r.varint("entry data length");
    e.data = std::string(r.bytes(len, "entry data"));
    if (!r.ok()) return false;
    if (type > static_cast<uint8_t>(EntryType::kConfChange)) {
      return r.fail("unknown entry type " + std::to_string(type));
    }
    e.type = static_cast<EntryType>(type);
    expected = e.index + 1;
  }
  return true;
}

// Decodes a body into *m (from and to are left as they are).
bool decode_body(WireReader& r, Message* m, uint64_t* entries_left) {
  const uint8_t type = r.u8("message type");
  const uint64_t fields = r.varint("message fields");
  if (!r.ok()) return false;
  if (!known_message_type(type)) return r.fail("unknown message type " + std::to_string(type));
  if ((fields & ~kFieldsAll) != 0)
    return r.fail("unknown message fields " + std::to_string(fields));
  m->type = static_cast<MessageType>(type);
  if (fields & kFieldTerm) m->term = Term{present_varint(r, "term")};
  if (fields & kFieldLogTerm) m->log_term = Term{present_varint(r, "log_term")};
  if (fields & kFieldIndex) m->index = Index{present_varint(r, "index")};
  if ((fields & kFieldEntries) && !decode_entries(r, m, entries_left)) return false;
  if (fields & kFieldCommit) m->commit = Index{present_varint(r, "commit")};
  m->reject = (fields & kFieldReject) != 0;
  if (fields & kFieldRejectHint) m->reject_hint = Index{present_varint(r, "reject_hint")};
  if (fields & kFieldCommitTerm) m->commit_term = Term{present_varint(r, "commit_term")};
  m->force = (fields & kFieldForce) != 0;
  if (fields & kFieldTarget) m->target = NodeId{present_varint(r, "target")};
  if (fields & kFieldContext) {
    const uint64_t len = present_varint(r, "context length");
    m->context = std::string(r.bytes(len, "context"));
  }
  return r.ok();
}

bool decode_nodes(WireReader& r, const char* field, std::vector<NodeId>* nodes) {
  const uint64_t n = r.count(field, 1, kConfNodesMax);
  if (!r.ok()) return false;
  nodes->reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; i++) nodes->push_back(NodeId{r.varint(field)});
  return r.ok();
}

bool decode_snapshot_meta(WireReader& r, raft::SnapshotMeta* meta) {
  meta->index = Index{r.varint("snapshot index")};
  meta->term = Term{r.varint("snapshot term")};
  ConfState& cs = meta->conf_state;
  if (!decode_nodes(r, "voters", &cs.voters)) return false;
  if (!decode_nodes(r, "voters_outgoing", &cs.voters_outgoing)) return false;
  if (!decode_nodes(r, "learners", &cs.learners)) return false;
  if (!decode_nodes(r, "learners_next", &cs.learners_next)) return false;
  cs.auto_leave = r.flag("auto_leave");
  return r.ok();
}

// A rough size of the batch's encoding, to allocate once.
size_t estimate_batch_bytes(const std::vector<Envelope>& batch) {
  size_t bytes = 3 * kVarintBytesMax;
  for (const Envelope& env : batch) {
    bytes += 32 + env.message.context.size();
    for (const Entry& e : env.message.entries) bytes += 16 + e.data.size();
  }
  return bytes;
}

}  // namespace

std::string encode_hello(const Hello& h) {
  std::string out;
  put_u32(&out, kHelloMagic);
  put_u16(&out, h.version);
  put_u64(&out, h.cluster_id);
  put_u64(&out, h.from.value());
  put_u64(&out, h.to.value());
  return out;
}

base::Result<Hello> decode_hello(std::string_view payload) {
  WireReader r(payload, "hello");
  const uint32_t magic = r.u32("magic");
  if (!r.ok()) return r.status();
  if (magic != kHelloMagic) {
    return base::Status(base::Code::kCorruption, "not a Meridian peer (bad magic)");
  }
  Hello h;
  h.version = r.u16("version");
  if (!r.ok()) return r.status();
  // Another version lays out the rest its own way: return the version alone, for
  // the transport to refuse the connection with a clear reason.
  if (h.version != kProtocolVersion) return h;
  h.cluster_id = r.u64("cluster_id");
  h.from = raft::NodeId{r.u64("from")};
  h.to = raft::NodeId{r.u64("to")};
  if (!r.expect_end()) return r.status();
  return h;
}

std::string encode_hello_ack(const HelloAck& a) {
  std::string out;
  put_u32(&out, kHelloMagic);
  put_u8(&out, a.accepted ? 1 : 0);
  put_varint(&out, a.reason.size());
  out.append(a.reason);
  return out;
}

base::Result<HelloAck> decode_hello_ack(std::string_view payload) {
  WireReader r(payload, "hello ack");
  const uint32_t magic = r.u32("magic");
  if (!r.ok()) return r.status();
  if (magic != kHelloMagic) {
    return base::Status(base::Code::kCorruption, "not a Meridian peer (bad magic)");
  }
  HelloAck a;
  a.accepted = r.flag("accepted");
  const uint64_t len = r.varint("reason length");
  a.reason = std::string(r.bytes(len, "reason"));
  if (!r.expect_end()) return r.status();
  return a;
}

std::string encode_batch(const std::vector<Envelope>& batch) {
  std::string out;
  out.reserve(estimate_batch_bytes(batch));
  size_t heartbeats = 0;
  size_t responses = 0;
  for (const Envelope& env : batch) {
    const Message& m = env.message;
    MERIDIAN_ASSERT(m.type != MessageType::kSnapshot,
                    "kSnapshot messages go as snapshot chunks, not in a batch (group ", env.group,
                    ")");
    MERIDIAN_ASSERT(!m.snapshot, "a ", raft::message_type_name(m.type),
                    " message with a snapshot (group ", env.group, ")");
    if (coalesced_heartbeat(m)) heartbeats++;
    if (coalesced_heartbeat_response(m)) responses++;
  }
  put_varint(&out, heartbeats);
  for (const Envelope& env : batch) {
    if (!coalesced_heartbeat(env.message)) continue;
    put_varint(&out, env.group.value());
    put_varint(&out, env.message.term.value());
    put_varint(&out, env.message.commit.value());
  }
  put_varint(&out, responses);
  for (const Envelope& env : batch) {
    if (!coalesced_heartbeat_response(env.message)) continue;
    put_varint(&out, env.group.value());
    put_varint(&out, env.message.term.value());
  }
  put_varint(&out, batch.size() - heartbeats - responses);
  for (const Envelope& env : batch) {
    if (coalesced_heartbeat(env.message) || coalesced_heartbeat_response(env.message)) continue;
    put_varint(&out, env.group.value());
    encode_body(&out, env.message);
  }
  return out;
}

base::Result<std::vector<Envelope>> decode_batch(std::string_view payload, raft::NodeId from,
                                                 raft::NodeId to, const DecodeLimits& limits) {
  WireReader r(payload, "batch");
  std::vector<Envelope> batch;
  auto add = [&](GroupId group, MessageType type) -> Message& {
    Envelope& env = batch.emplace_back();
    env.group = group;
    env.message.type = type;
    env.message.from = from;
    env.message.to = to;
    return env.message;
  };
  uint64_t messages_left = limits.max_messages;
  uint64_t entries_left = limits.max_entries;

  const uint64_t heartbeats = r.count("heartbeat count", kHeartbeatBytesMin, messages_left);
  if (!r.ok()) return r.status();
  messages_left -= heartbeats;
  batch.reserve(static_cast<size_t>(heartbeats));
  for (uint64_t i = 0; i < heartbeats; i++) {
    Message& m = add(GroupId{r.varint("heartbeat group")}, MessageType::kHeartbeat);
    m.term = Term{r.varint("heartbeat term")};
    m.commit = Index{r.varint("heartbeat commit")};
  }
  const uint64_t responses =
      r.count("heartbeat response count", kHeartbeatResponseBytesMin, messages_left);
  if (!r.ok()) return r.status();
  messages_left -= responses;
  for (uint64_t i = 0; i < responses; i++) {
    Message& m =
        add(GroupId{r.varint("heartbeat response group")}, MessageType::kHeartbeatResponse);
    m.term = Term{r.varint("heartbeat response term")};
  }
  const uint64_t messages = r.count("message count", kMessageBytesMin, messages_left);
  if (!r.ok()) return r.status();
  for (uint64_t i = 0; i < messages; i++) {
    Message& m = add(GroupId{r.varint("message group")}, MessageType::kAppend);
    if (!decode_body(r, &m, &entries_left)) return r.status();
    if (m.type == MessageType::kSnapshot) {
      return base::Status(base::Code::kCorruption,
                          "batch: a kSnapshot message (snapshots go as chunks)");
    }
  }
  if (!r.expect_end()) return r.status();
  return batch;
}

namespace {

// The data of a snapshot held in memory, handed out in slices without a copy of
// the whole.
class SnapshotDataSource final : public base::ByteSource {
 public:
  explicit SnapshotDataSource(std::shared_ptr<const raft::Snapshot> snapshot)
      : snapshot_(std::move(snapshot)) {}
  base::Result<std::string> read(size_t max_bytes) override {
    const std::string& data = snapshot_->data;
    const size_t n = std::min(max_bytes, data.size() - pos_);
    std::string out = data.substr(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::shared_ptr<const raft::Snapshot> snapshot_;
  size_t pos_ = 0;
};

}  // namespace

SnapshotSplitter::SnapshotSplitter(GroupId group, uint64_t id, const Envelope& e,
                                   uint64_t chunk_bytes)
    : group_(group), id_(id), chunk_bytes_(chunk_bytes) {
  const Message& m = e.message;
  MERIDIAN_ASSERT(m.type == MessageType::kSnapshot, "a snapshot splitter for a ",
                  raft::message_type_name(m.type), " message");
  MERIDIAN_ASSERT(m.snapshot != nullptr, "a kSnapshot message without its snapshot");
  MERIDIAN_ASSERT(chunk_bytes >= 1, "chunks of 0 bytes");
  MERIDIAN_ASSERT(e.image == nullptr || m.snapshot->data.empty(),
                  "a snapshot with both an image and data");
  auto header = std::make_shared<Message>(m);
  header->snapshot = std::make_shared<raft::Snapshot>(raft::Snapshot{m.snapshot->meta, {}});
  header_ = std::move(header);
  source_ = e.image ? e.image : std::make_shared<SnapshotDataSource>(m.snapshot);
}

base::Result<SnapshotChunk> SnapshotSplitter::next() {
  MERIDIAN_ASSERT(!done_, "next() after the last chunk");
  auto fail = [&](const base::Status& s) {
    done_ = true;
    source_.reset();
    return base::Status(s.code(), "reading the snapshot to send: " + s.message());
  };
  if (!started_) {
    auto first = source_->read(static_cast<size_t>(chunk_bytes_));
    if (!first.is_ok()) return fail(first.status());
    ahead_ = std::move(first).value();
    started_ = true;
  }
  SnapshotChunk c;
  c.group = group_;
  c.id = id_;
  c.offset = offset_;
  c.data = std::move(ahead_);
  ahead_.clear();
  if (offset_ == 0) c.header = header_;
  if (!c.data.empty()) {
    // One chunk ahead: the chunk is the last one when nothing follows it.
    auto next = source_->read(static_cast<size_t>(chunk_bytes_));
    if (!next.is_ok()) return fail(next.status());
    ahead_ = std::move(next).value();
  }
  c.last = ahead_.empty();
  offset_ += c.data.size();
  if (c.last) {
    done_ = true;
    source_.reset();
  }
  return c;
}

std::string encode_snapshot_chunk(const SnapshotChunk& c) {
  MERIDIAN_ASSERT((c.offset == 0) == (c.header != nullptr),
                  "the message goes with the chunk at offset 0 and only there (offset ", c.offset,
                  ")");
  std::string out;
  out.reserve(c.data.size() + 64);
  put_varint(&out, c.group.value());
  put_varint(&out, c.id);
  put_varint(&out, c.offset);
  out.push_back(c.last ? 1 : 0);
  if (c.header) {
    const Message& m = *c.header;
    MERIDIAN_ASSERT(m.type == MessageType::kSnapshot, "a chunk's header is a ",
                    raft::message_type_name(m.type), " message");
    MERIDIAN_ASSERT(m.snapshot != nullptr, "a chunk's header without snapshot metadata");
    MERIDIAN_ASSERT(m.snapshot->data.empty(), "a chunk's header carries data (it goes in chunks)");
    encode_body(&out, m);
    encode_snapshot_meta(&out, m.snapshot->meta);
  }
  put_varint(&out, c.data.size());
  out.append(c.data);
  return out;
}

base::Result<SnapshotChunk> decode_snapshot_chunk(std::string_view payload, raft::NodeId from,
                                                  raft::NodeId to) {
  WireReader r(payload, "snapshot chunk");
  SnapshotChunk c;
  c.group = GroupId{r.varint("group")};
  c.id = r.varint("id");
  c.offset = r.varint("offset");
  const uint8_t last = r.u8("last");
  if (!r.ok()) return r.status();
  if (last > 1) {
    return base::Status(base::Code::kCorruption,
                        "snapshot chunk: last flag " + std::to_string(last) + " (0 or 1)");
  }
  c.last = last == 1;
  if (c.offset == 0) {
    auto m = std::make_shared<Message>();
    m->from = from;
    m->to = to;
    uint64_t entries_left = DecodeLimits{}.max_entries;
    if (!decode_body(r, m.get(), &entries_left)) return r.status();
    if (m->type != MessageType::kSnapshot) {
      return base::Status(base::Code::kCorruption, std::string("snapshot chunk: the header is a ") +
                                                       raft::message_type_name(m->type) +
                                                       " message");
    }
    raft::SnapshotMeta meta;
    if (!decode_snapshot_meta(r, &meta)) return r.status();
    m->snapshot = std::make_shared<raft::Snapshot>(raft::Snapshot{std::move(meta), {}});
    c.header = std::move(m);
  }
  const uint64_t len = r.varint("data length");
  if (!r.ok()) return r.status();
  c.data = std::string(r.bytes(len, "data"));
  if (!r.expect_end()) return r.status();
  return c;
}

// --- SnapshotAssembler --------------------------------------------------------

struct SnapshotAssembler::Partial {
  GroupId group;
  uint64_t id = 0;
  uint64_t received = 0;  // data bytes so far
  std::shared_ptr<const raft::Message> header;
  std::unique_ptr<SnapshotSpool> spool;  // with a sink
  std::string data;                      // without one
};

SnapshotAssembler::SnapshotAssembler(uint64_t max_snapshot_bytes, size_t max_groups,
                                     SnapshotSink* sink)
    : max_snapshot_bytes_(max_snapshot_bytes), max_groups_(max_groups), sink_(sink) {}

SnapshotAssembler::~SnapshotAssembler() = default;

size_t SnapshotAssembler::partial() const { return partial_.size(); }

base::Result<std::optional<Envelope>> SnapshotAssembler::add(SnapshotChunk chunk) {
  auto it = std::find_if(partial_.begin(), partial_.end(),
                         [&](const auto& p) { return p->group == chunk.group; });
  // Any error drops the group's partial snapshot: the connection closes and the
  // sender starts the snapshot over.
  auto refuse = [&](std::string why) {
    if (it != partial_.end()) partial_.erase(it);
    return base::Status(base::Code::kCorruption,
                        "snapshot for group " + std::to_string(chunk.group.value()) + ": " + why);
  };
  if (chunk.offset == 0) {
    const auto& h = chunk.header;
    if (!h || h->type != MessageType::kSnapshot || !h->snapshot) {
      return refuse("the first chunk lacks its kSnapshot message");
    }
    if (it != partial_.end()) {
      partial_.erase(it);  // a newer snapshot (or a restart of it) replaces this one
      it = partial_.end();
    } else if (partial_.size() >= max_groups_) {
      return refuse("more than " + std::to_string(max_groups_) + " partial snapshots at once");
    }
    auto p = std::make_unique<Partial>();
    p->group = chunk.group;
    p->id = chunk.id;
    p->header = std::move(chunk.header);
    if (sink_ != nullptr) {
      auto spool = sink_->begin(chunk.group, p->header->snapshot->meta);
      if (!spool.is_ok()) return refuse("cannot store it: " + spool.status().to_string());
      p->spool = std::move(spool).value();
    }
    partial_.push_back(std::move(p));
    it = partial_.end() - 1;
  } else {
    if (it == partial_.end()) {
      return refuse("a chunk at offset " + std::to_string(chunk.offset) + " without a first chunk");
    }
    const Partial& p = **it;
    if (chunk.header || chunk.id != p.id || chunk.offset != p.received) {
      return refuse("chunk (id " + std::to_string(chunk.id) + ", offset " +
                    std::to_string(chunk.offset) + ") does not continue the one in progress (id " +
                    std::to_string(p.id) + ", offset " + std::to_string(p.received) + ")");
    }
  }
  Partial& p = **it;
  if (chunk.data.size() > max_snapshot_bytes_ - p.received) {
    return refuse("more than the limit of " + std::to_string(max_snapshot_bytes_) + " bytes");
  }
  p.received += chunk.data.size();
  if (p.spool) {
    if (base::Status s = p.spool->append(chunk.data); !s.is_ok()) {
      return refuse("cannot store it: " + s.to_string());
    }
  } else if (p.data.empty()) {
    p.data = std::move(chunk.data);
  } else {
    p.data.append(chunk.data);
  }
  if (!chunk.last) return std::optional<Envelope>();

  Envelope e;
  e.group = p.group;
  e.message = *p.header;
  if (p.spool) {
    auto received = p.spool->finish();
    if (!received.is_ok()) return refuse("cannot store it: " + received.status().to_string());
    e.received = std::move(received).value();
  } else {
    e.message.snapshot = std::make_shared<raft::Snapshot>(
        raft::Snapshot{p.header->snapshot->meta, std::move(p.data)});
  }
  partial_.erase(it);
  return std::optional<Envelope>(std::move(e));
}

}  // namespace meridian::net
