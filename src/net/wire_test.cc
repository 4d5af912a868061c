#include "net/wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "net/codec_util.h"
#include "net/transport_testing.h"

namespace meridian::net {
namespace {

using base::Code;
using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Term;

constexpr NodeId kFrom{7};
constexpr NodeId kTo{9};
constexpr uint8_t kTypeCount = static_cast<uint8_t>(MessageType::kTransferLeader) + 1;

// Small values most of the time (the common case), any u64 sometimes, zero often
// enough that every field is absent in some messages.
uint64_t random_value(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return 0;
    case 1:
      return rng() % 100;
    case 2:
      return rng() % 1000000;
    default:
      return rng() >> (rng() % 64);
  }
}

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

Message random_message(std::mt19937_64& rng, MessageType type) {
  Message m;
  m.type = type;
  m.from = kFrom;
  m.to = kTo;
  m.term = Term{random_value(rng)};
  m.log_term = Term{random_value(rng)};
  m.index = Index{random_value(rng)};
  const size_t entries = rng() % 3 == 0 ? rng() % 6 : 0;
  const bool consecutive = rng() % 2 == 0;
  for (size_t i = 0; i < entries; i++) {
    Entry e;
    e.index = consecutive ? m.index + 1 + i : Index{random_value(rng)};
    e.term = Term{random_value(rng)};
    e.type = rng() % 4 == 0 ? EntryType::kConfChange : EntryType::kNormal;
    e.data = random_bytes(rng, rng() % 3 == 0 ? 0 : rng() % 200);
    m.entries.push_back(std::move(e));
  }
  m.commit = Index{random_value(rng)};
  m.commit_term = Term{random_value(rng)};
  m.reject = rng() % 2 == 0;
  m.reject_hint = Index{random_value(rng)};
  m.force = rng() % 2 == 0;
  m.target = NodeId{random_value(rng)};
  if (rng() % 2 == 0) m.context = random_bytes(rng, 1 + rng() % 20);
  return m;
}

MessageType random_batch_type(std::mt19937_64& rng) {
  for (;;) {
    auto t = static_cast<MessageType>(rng() % kTypeCount);
    if (t != MessageType::kSnapshot) return t;
  }
}

void expect_same(const Message& a, const Message& b, const std::string& where = "") {
  SCOPED_TRACE(where);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.term, b.term);
  EXPECT_EQ(a.log_term, b.log_term);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.entries, b.entries);
  EXPECT_EQ(a.commit, b.commit);
  EXPECT_EQ(a.commit_term, b.commit_term);
  EXPECT_EQ(a.reject, b.reject);
  EXPECT_EQ(a.reject_hint, b.reject_hint);
  EXPECT_EQ(a.force, b.force);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.context, b.context);
  ASSERT_EQ(a.snapshot == nullptr, b.snapshot == nullptr);
  if (a.snapshot) {
    EXPECT_EQ(*a.snapshot, *b.snapshot);
  }
}

// The test's own statement of which messages ride in the coalesced sections.
bool plain_heartbeat(const Message& m) {
  bool rest_default = m.log_term == Term{0} && m.index == Index{0} && m.entries.empty() &&
                      m.commit_term == Term{0} && !m.reject && m.reject_hint == Index{0} &&
                      !m.force && m.target == raft::kNoNode && m.context.empty();
  return rest_default && (m.type == MessageType::kHeartbeat ||
                          (m.type == MessageType::kHeartbeatResponse && m.commit == Index{0}));
}

// The order decode_batch returns: coalesced heartbeats, then coalesced responses,
// then everything else, each in the order sent.
std::vector<Envelope> wire_order(const std::vector<Envelope>& batch) {
  std::vector<Envelope> out;
  for (int section = 0; section < 3; section++) {
    for (const Envelope& env : batch) {
      const Message& m = env.message;
      int s = !plain_heartbeat(m) ? 2 : m.type == MessageType::kHeartbeat ? 0 : 1;
      if (s == section) out.push_back(env);
    }
  }
  return out;
}

void expect_round_trip(const std::vector<Envelope>& batch) {
  const std::string payload = encode_batch(batch);
  auto decoded = decode_batch(payload, kFrom, kTo);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status();
  const std::vector<Envelope> want = wire_order(batch);
  ASSERT_EQ(decoded.value().size(), want.size());
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_EQ(decoded.value()[i].group, want[i].group) << i;
    expect_same(decoded.value()[i].message, want[i].message, "message " + std::to_string(i));
  }
  // The encoding is a function of the decoded messages.
  EXPECT_EQ(encode_batch(decoded.value()), encode_batch(want));
}

Message heartbeat(Term term, Index commit) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = kFrom;
  m.to = kTo;
  m.term = term;
  m.commit = commit;
  return m;
}

// --- handshake ------------------------------------------------------------------

TEST(Hello, RoundTrip) {
  Hello h{kProtocolVersion, 0x1234567890abcdefULL, NodeId{3}, NodeId{0xffffffffffffffffULL}};
  const std::string p = encode_hello(h);
  EXPECT_EQ(p.size(), 30u);
  EXPECT_EQ(p.substr(0, 4), "MRDN");
  auto d = decode_hello(p);
  ASSERT_TRUE(d.is_ok()) << d.status();
  EXPECT_EQ(d.value(), h);
}

TEST(Hello, BadMagic) {
  std::string p = encode_hello(Hello{});
  p[0] = 'G';
  auto d = decode_hello(p);
  ASSERT_FALSE(d.is_ok());
  EXPECT_EQ(d.status().code(), Code::kCorruption);
  EXPECT_EQ(d.status().message(), "not a Meridian peer (bad magic)");
  auto http = decode_hello("GET / HTTP/1.1\r\n");
  ASSERT_FALSE(http.is_ok());
  EXPECT_EQ(http.status().message(), "not a Meridian peer (bad magic)");
}

TEST(Hello, OtherVersionIsReturnedForTheTransportToRefuse) {
  std::string p;
  put_u32(&p, kHelloMagic);
  put_u16(&p, 7);
  p += "whatever version 7 says";
  auto d = decode_hello(p);
  ASSERT_TRUE(d.is_ok()) << d.status();
  EXPECT_EQ(d.value().version, 7);
}

TEST(Hello, TruncatedOrTrailingBytesAreCorruption) {
  const std::string p = encode_hello(Hello{kProtocolVersion, 5, NodeId{1}, NodeId{2}});
  for (size_t n = 0; n < p.size(); n++) {
    auto d = decode_hello(p.substr(0, n));
    ASSERT_FALSE(d.is_ok()) << n;
    EXPECT_EQ(d.status().code(), Code::kCorruption);
  }
  EXPECT_FALSE(decode_hello(p + "x").is_ok());
}

TEST(HelloAck, RoundTripAndTruncation) {
  for (const HelloAck& a : {HelloAck{true, ""}, HelloAck{false, "cluster id mismatch: 1 != 2"},
                            HelloAck{false, std::string(300, 'r')}}) {
    const std::string p = encode_hello_ack(a);
    auto d = decode_hello_ack(p);
    ASSERT_TRUE(d.is_ok()) << d.status();
    EXPECT_EQ(d.value(), a);
    for (size_t n = 0; n < p.size(); n++) EXPECT_FALSE(decode_hello_ack(p.substr(0, n)).is_ok());
    EXPECT_FALSE(decode_hello_ack(p + "x").is_ok());
  }
  std::string bad = encode_hello_ack(HelloAck{true, ""});
  bad[4] = 2;  // accepted is 0 or 1
  EXPECT_FALSE(decode_hello_ack(bad).is_ok());
  bad[0] = 'X';
  EXPECT_EQ(decode_hello_ack(bad).status().message(), "not a Meridian peer (bad magic)");
}

// --- batches --------------------------------------------------------------------

TEST(Batch, EmptyBatch) {
  const std::string p = encode_batch({});
  EXPECT_EQ(p.size(), 3u);
  auto d = decode_batch(p, kFrom, kTo);
  ASSERT_TRUE(d.is_ok());
  EXPECT_TRUE(d.value().empty());
}

TEST(Batch, RoundTripsEveryTypeWithRandomFields) {
  std::mt19937_64 rng(11);
  for (uint8_t t = 0; t < kTypeCount; t++) {
    if (static_cast<MessageType>(t) == MessageType::kSnapshot) continue;
    SCOPED_TRACE(raft::message_type_name(static_cast<MessageType>(t)));
    for (int round = 0; round < 50; round++) {
      std::vector<Envelope> batch;
      for (int i = 0; i < 8; i++) {
        batch.push_back(
            Envelope{GroupId{random_value(rng)}, random_message(rng, static_cast<MessageType>(t))});
      }
      expect_round_trip(batch);
    }
  }
}

TEST(Batch, RoundTripsMessagesWithOnlySomeFields) {
  // One field set at a time, to catch a field that is written but not read.
  std::mt19937_64 rng(12);
  for (int field = 0; field < 12; field++) {
    for (uint8_t t = 0; t < kTypeCount; t++) {
      if (static_cast<MessageType>(t) == MessageType::kSnapshot) continue;
      Message full = random_message(rng, static_cast<MessageType>(t));
      Message m;
      m.type = full.type;
      m.from = kFrom;
      m.to = kTo;
      switch (field) {
        case 0:
          m.term = Term{12345};
          break;
        case 1:
          m.log_term = Term{3};
          break;
        case 2:
          m.index = Index{1ULL << 63};
          break;
        case 3:
          m.entries = {Entry{Term{1}, Index{0}, EntryType::kNormal, "prop"}};
          break;
        case 4:
          m.commit = Index{~0ULL};
          break;
        case 5:
          m.reject = true;
          break;
        case 6:
          m.reject_hint = Index{77};
          break;
        case 7:
          m.commit_term = Term{5};
          break;
        case 8:
          m.force = true;
          break;
        case 9:
          m.target = NodeId{4};
          break;
        case 10:
          m.context = std::string(1, '\0');
          break;
        default:
          break;  // nothing set
      }
      expect_round_trip({Envelope{GroupId{1}, m}});
    }
  }
}

TEST(Batch, MixesGroupsAndTypes) {
  std::mt19937_64 rng(13);
  std::vector<Envelope> batch;
  for (int i = 0; i < 400; i++) {
    GroupId g{1 + rng() % 50};
    if (rng() % 3 == 0) {
      batch.push_back(Envelope{g, heartbeat(Term{rng() % 10}, Index{rng() % 1000})});
    } else {
      batch.push_back(Envelope{g, random_message(rng, random_batch_type(rng))});
    }
  }
  expect_round_trip(batch);
}

TEST(Batch, DecodedMessagesAreFromThePeerToTheReceiver) {
  Message m = heartbeat(Term{2}, Index{3});
  m.from = NodeId{100};  // not on the wire
  m.to = NodeId{200};
  auto d = decode_batch(encode_batch({Envelope{GroupId{1}, m}}), NodeId{5}, NodeId{6});
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d.value()[0].message.from, NodeId{5});
  EXPECT_EQ(d.value()[0].message.to, NodeId{6});
}

TEST(Batch, HeartbeatsAreCoalescedCompactly) {
  std::vector<Envelope> batch;
  for (uint64_t g = 1; g <= 1000; g++) {
    batch.push_back(Envelope{GroupId{g}, heartbeat(Term{3 + g % 5}, Index{100000 + g})});
  }
  const std::string p = encode_batch(batch);
  // group (2 bytes) + term (1) + commit (3): 6 bytes each.
  EXPECT_LE(p.size(), 1000u * 6 + 8);
  expect_round_trip(batch);

  std::vector<Envelope> responses;
  for (uint64_t g = 1; g <= 1000; g++) {
    Message r;
    r.type = MessageType::kHeartbeatResponse;
    r.term = Term{9};
    responses.push_back(Envelope{GroupId{g}, r});
  }
  EXPECT_LE(encode_batch(responses).size(), 1000u * 3 + 8);
}

TEST(Batch, HeartbeatWithContextKeepsItsContext) {
  Message m = heartbeat(Term{4}, Index{10});
  m.context = "read-42";
  Message r = m;
  r.type = MessageType::kHeartbeatResponse;
  r.commit = Index{0};
  std::vector<Envelope> batch = {Envelope{GroupId{1}, heartbeat(Term{4}, Index{9})},
                                 Envelope{GroupId{2}, m}, Envelope{GroupId{3}, r}};
  expect_round_trip(batch);
  auto d = decode_batch(encode_batch(batch), kFrom, kTo);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d.value()[1].message.context, "read-42");
  EXPECT_EQ(d.value()[2].message.context, "read-42");
}

TEST(Batch, AppendsAreCompact) {
  Message m;
  m.type = MessageType::kAppend;
  m.term = Term{12};
  m.log_term = Term{12};
  m.index = Index{5000000};
  m.commit = Index{4999990};
  size_t data = 0;
  for (uint64_t i = 1; i <= 10; i++) {
    m.entries.push_back(Entry{Term{12}, m.index + i, EntryType::kNormal, std::string(100, 'd')});
    data += 100;
  }
  // group 1, type 1, fields 1, term 1, log_term 1, index 4, count 1, commit 4;
  // per entry: index delta 1, term 1, type 1, length 1.
  EXPECT_EQ(encode_batch({Envelope{GroupId{1}, m}}).size(), 3 + 14 + 10 * 4 + data);

  Message ack;
  ack.type = MessageType::kAppendResponse;
  ack.term = Term{12};
  ack.index = Index{5000010};
  // counts 3, group 1, type 1, fields 1, term 1, index 4.
  EXPECT_EQ(encode_batch({Envelope{GroupId{1}, ack}}).size(), 3u + 8);
}

TEST(Batch, TruncatedAnywhereIsCorruption) {
  std::mt19937_64 rng(14);
  std::vector<Envelope> batch;
  for (int i = 0; i < 30; i++) {
    batch.push_back(Envelope{GroupId{rng() % 5}, random_message(rng, random_batch_type(rng))});
    batch.push_back(Envelope{GroupId{rng() % 5}, heartbeat(Term{1}, Index{2})});
  }
  const std::string p = encode_batch(batch);
  for (size_t n = 0; n < p.size(); n++) {
    auto d = decode_batch(std::string_view(p).substr(0, n), kFrom, kTo);
    ASSERT_FALSE(d.is_ok()) << n;
    EXPECT_EQ(d.status().code(), Code::kCorruption);
  }
  auto trailing = decode_batch(p + '\0', kFrom, kTo);
  ASSERT_FALSE(trailing.is_ok());
  EXPECT_EQ(trailing.status().code(), Code::kCorruption);
}

// A batch of just one full message, written by hand.
std::string one_message(uint8_t type, uint64_t fields, const std::string& values) {
  std::string p;
  put_varint(&p, 0);  // heartbeats
  put_varint(&p, 0);  // responses
  put_varint(&p, 1);  // messages
  put_varint(&p, 1);  // group
  put_u8(&p, type);
  put_varint(&p, fields);
  return p + values;
}

TEST(Batch, MalformedMessagesAreCorruption) {
  auto corrupt = [](const std::string& p) {
    auto d = decode_batch(p, kFrom, kTo);
    return !d.is_ok() && d.status().code() == Code::kCorruption;
  };
  EXPECT_FALSE(corrupt(one_message(0, 0, "")));  // a valid, empty kAppend
  EXPECT_TRUE(corrupt(one_message(kTypeCount, 0, "")));
  EXPECT_TRUE(corrupt(one_message(255, 0, "")));
  EXPECT_TRUE(corrupt(one_message(static_cast<uint8_t>(MessageType::kSnapshot), 0, "")));
  EXPECT_TRUE(corrupt(one_message(0, 1u << 11, "")));             // unknown field bit
  EXPECT_TRUE(corrupt(one_message(0, 1, std::string(1, '\0'))));  // term present but zero
  EXPECT_TRUE(corrupt(one_message(0, 1, "\x81\x00")));            // over-long varint
  EXPECT_TRUE(corrupt(one_message(0, 1, std::string(10, '\xff') + '\x01')));  // > 64 bits
  EXPECT_TRUE(corrupt(one_message(0, 1u << 10, std::string(1, '\0'))));       // empty context
  EXPECT_TRUE(corrupt(one_message(0, 1u << 10,
                                  "\x05"
                                  "abc")));                             // short context
  EXPECT_TRUE(corrupt(one_message(0, 1u << 3, std::string(1, '\0'))));  // zero entries
  // One entry: index delta 0, term 1, type 2 (unknown), no data.
  EXPECT_TRUE(corrupt(one_message(0, 1u << 3, std::string("\x01\x00\x01\x02\x00", 5))));
  EXPECT_FALSE(corrupt(one_message(0, 1u << 3, std::string("\x01\x00\x01\x01\x00", 5))));
}

TEST(Batch, HugeCountsFailWithoutAllocating) {
  for (int section = 0; section < 3; section++) {
    std::string p;
    for (int s = 0; s < section; s++) put_varint(&p, 0);
    put_varint(&p, 1ULL << 40);
    p += "abc";
    auto d = decode_batch(p, kFrom, kTo);
    ASSERT_FALSE(d.is_ok());
    EXPECT_EQ(d.status().code(), Code::kCorruption);
  }
  // Entry count far beyond the bytes present.
  auto d = decode_batch(one_message(0, 1u << 3, "\xff\xff\xff\xff\x0f"), kFrom, kTo);
  EXPECT_FALSE(d.is_ok());
}

TEST(Batch, LimitsAreEnforced) {
  std::vector<Envelope> batch;
  for (uint64_t g = 0; g < 10; g++)
    batch.push_back(Envelope{GroupId{g}, heartbeat(Term{1}, Index{1})});
  Message app;
  app.type = MessageType::kAppend;
  for (uint64_t i = 1; i <= 5; i++)
    app.entries.push_back(Entry{Term{1}, Index{i}, EntryType::kNormal, "x"});
  batch.push_back(Envelope{GroupId{1}, app});
  batch.push_back(Envelope{GroupId{2}, app});
  const std::string p = encode_batch(batch);
  EXPECT_TRUE(decode_batch(p, kFrom, kTo, DecodeLimits{12, 10}).is_ok());
  EXPECT_FALSE(decode_batch(p, kFrom, kTo, DecodeLimits{11, 10}).is_ok());
  EXPECT_FALSE(decode_batch(p, kFrom, kTo, DecodeLimits{9, 10}).is_ok());
  auto d = decode_batch(p, kFrom, kTo, DecodeLimits{12, 9});
  ASSERT_FALSE(d.is_ok());
  EXPECT_EQ(d.status().code(), Code::kCorruption);
}

TEST(BatchDeathTest, SnapshotMessagesNeverGoInABatch) {
  Message m;
  m.type = MessageType::kSnapshot;
  m.snapshot = std::make_shared<raft::Snapshot>();
  EXPECT_DEATH((void)encode_batch({Envelope{GroupId{1}, m}}), "snapshot chunks");
}

// --- snapshots ------------------------------------------------------------------

Message snapshot_message(std::mt19937_64& rng, size_t bytes) {
  Message m;
  m.type = MessageType::kSnapshot;
  m.from = kFrom;
  m.to = kTo;
  m.term = Term{8};
  auto s = std::make_shared<raft::Snapshot>();
  s->meta.index = Index{1000 + rng() % 1000};
  s->meta.term = Term{7};
  s->meta.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  s->meta.conf_state.voters_outgoing = {NodeId{1}, NodeId{4}};
  s->meta.conf_state.learners = {NodeId{5}};
  s->meta.conf_state.learners_next = {NodeId{4}};
  s->meta.conf_state.auto_leave = true;
  s->data = random_bytes(rng, bytes);
  m.snapshot = std::move(s);
  return m;
}

// Every chunk of a snapshot message whose data is in the message.
std::vector<SnapshotChunk> split_snapshot(GroupId g, uint64_t id, const Message& m,
                                          uint64_t chunk_bytes) {
  SnapshotSplitter splitter(g, id, Envelope{g, m}, chunk_bytes);
  std::vector<SnapshotChunk> out;
  while (!splitter.done()) {
    auto c = splitter.next();
    EXPECT_TRUE(c.is_ok()) << c.status();
    if (!c.is_ok()) break;
    out.push_back(std::move(c).value());
  }
  return out;
}

// The message of a completed snapshot (null while it is not complete).
std::shared_ptr<Message> whole_of(const base::Result<std::optional<Envelope>>& r) {
  if (!r.is_ok() || !r.value()) return nullptr;
  return std::make_shared<Message>(r.value()->message);
}

TEST(Snapshot, SplitEncodeDecodeAssemble) {
  std::mt19937_64 rng(21);
  constexpr uint64_t kChunk = 1000;
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{999}, size_t{1000}, size_t{1001}, size_t{5432}}) {
    SCOPED_TRACE(size);
    const Message m = snapshot_message(rng, size);
    auto chunks = split_snapshot(GroupId{3}, 17, m, kChunk);
    EXPECT_EQ(chunks.size(), std::max<size_t>(1, (size + kChunk - 1) / kChunk));
    SnapshotAssembler assembler(1 << 20, 4);
    std::shared_ptr<Message> whole;
    for (size_t i = 0; i < chunks.size(); i++) {
      EXPECT_EQ(chunks[i].header != nullptr, i == 0);
      EXPECT_EQ(chunks[i].last, i + 1 == chunks.size());
      EXPECT_LE(chunks[i].data.size(), kChunk);
      const std::string p = encode_snapshot_chunk(chunks[i]);
      auto c = decode_snapshot_chunk(p, kFrom, kTo);
      ASSERT_TRUE(c.is_ok()) << c.status();
      EXPECT_EQ(encode_snapshot_chunk(c.value()), p);
      EXPECT_EQ(c.value().group, GroupId{3});
      auto r = assembler.add(std::move(c).value());
      ASSERT_TRUE(r.is_ok()) << r.status();
      EXPECT_EQ(r.value().has_value(), i + 1 == chunks.size());
      if (r.value()) {
        EXPECT_EQ(r.value()->group, GroupId{3});
        EXPECT_EQ(r.value()->received, nullptr);
        whole = whole_of(r);
      }
    }
    ASSERT_NE(whole, nullptr);
    expect_same(*whole, m);
    EXPECT_EQ(assembler.partial(), 0u);
  }
}

TEST(Snapshot, SeveralMegabytes) {
  std::mt19937_64 rng(22);
  const Message m = snapshot_message(rng, (5 << 20) + 3);
  auto chunks = split_snapshot(GroupId{1}, 1, m, 1 << 20);
  ASSERT_EQ(chunks.size(), 6u);
  SnapshotAssembler assembler(64 << 20, 1);
  std::shared_ptr<Message> whole;
  for (const SnapshotChunk& chunk : chunks) {
    auto c = decode_snapshot_chunk(encode_snapshot_chunk(chunk), kFrom, kTo);
    ASSERT_TRUE(c.is_ok());
    auto r = assembler.add(std::move(c).value());
    ASSERT_TRUE(r.is_ok()) << r.status();
    whole = whole_of(r);
  }
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(*whole->snapshot, *m.snapshot);
}

TEST(Snapshot, HeaderKeepsEveryMessageField) {
  std::mt19937_64 rng(23);
  Message m = random_message(rng, MessageType::kSnapshot);
  m.snapshot = snapshot_message(rng, 10).snapshot;
  auto chunks = split_snapshot(GroupId{2}, 5, m, 4);
  SnapshotAssembler assembler(100, 1);
  std::shared_ptr<Message> whole;
  for (const SnapshotChunk& chunk : chunks) {
    auto c = decode_snapshot_chunk(encode_snapshot_chunk(chunk), kFrom, kTo);
    ASSERT_TRUE(c.is_ok()) << c.status();
    whole = whole_of(assembler.add(std::move(c).value()));
  }
  ASSERT_NE(whole, nullptr);
  expect_same(*whole, m);
}

TEST(Snapshot, AnImageIsReadOneChunkAheadOfWhatWasSent) {
  std::mt19937_64 rng(25);
  Message m = snapshot_message(rng, 0);
  const std::string data = random_bytes(rng, 10 * 100 + 37);
  auto image = std::make_shared<testing::ScriptedImage>(data);
  SnapshotSplitter splitter(GroupId{4}, 2, Envelope{GroupId{4}, m, image}, 100);
  SnapshotAssembler assembler(1 << 20, 1);
  std::shared_ptr<Message> whole;
  uint64_t sent = 0;
  while (!splitter.done()) {
    auto c = splitter.next();
    ASSERT_TRUE(c.is_ok()) << c.status();
    sent += c.value().data.size();
    // Never more than the chunk handed out plus the one after it.
    EXPECT_LE(image->read_so_far(), sent + 100);
    auto r = assembler.add(std::move(c).value());
    ASSERT_TRUE(r.is_ok()) << r.status();
    whole = whole_of(r);
  }
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(whole->snapshot->meta, m.snapshot->meta);
  EXPECT_TRUE(whole->snapshot->data == data);
}

TEST(Snapshot, AnImageThatFailsEndsTheSnapshotWithItsError) {
  std::mt19937_64 rng(26);
  Message m = snapshot_message(rng, 0);
  auto image = std::make_shared<testing::ScriptedImage>(random_bytes(rng, 1000), 300);
  SnapshotSplitter splitter(GroupId{4}, 2, Envelope{GroupId{4}, m, image}, 100);
  base::Status error;
  int chunks = 0;
  while (!splitter.done()) {
    auto c = splitter.next();
    if (!c.is_ok()) {
      error = c.status();
      break;
    }
    ++chunks;
    EXPECT_FALSE(c.value().last);
  }
  EXPECT_TRUE(splitter.done());
  EXPECT_EQ(error.code(), Code::kIoError);
  EXPECT_NE(error.message().find("the disk went away"), std::string::npos);
  EXPECT_EQ(chunks, 2);  // the third chunk's read-ahead failed
}

TEST(Snapshot, TruncatedChunksAreCorruption) {
  std::mt19937_64 rng(24);
  for (const SnapshotChunk& chunk : split_snapshot(GroupId{9}, 3, snapshot_message(rng, 30), 20)) {
    const std::string p = encode_snapshot_chunk(chunk);
    for (size_t n = 0; n < p.size(); n++) {
      auto c = decode_snapshot_chunk(std::string_view(p).substr(0, n), kFrom, kTo);
      ASSERT_FALSE(c.is_ok()) << n;
      EXPECT_EQ(c.status().code(), Code::kCorruption);
    }
    EXPECT_FALSE(decode_snapshot_chunk(p + "z", kFrom, kTo).is_ok());
  }
}

TEST(Snapshot, MalformedChunksAreCorruption) {
  auto chunk = [](uint64_t offset, uint8_t last, const std::string& rest) {
    std::string p;
    put_varint(&p, 1);  // group
    put_varint(&p, 1);  // id
    put_varint(&p, offset);
    p.push_back(static_cast<char>(last));
    return decode_snapshot_chunk(p + rest, kFrom, kTo);
  };
  EXPECT_TRUE(chunk(7, 1,
                    "\x03"
                    "abc")
                  .is_ok());
  // A last flag other than 0 or 1.
  EXPECT_FALSE(chunk(7, 2,
                     "\x03"
                     "abc")
                   .is_ok());
  // A first chunk whose message is not a kSnapshot: a kAppend body, empty meta.
  const std::string empty_meta("\x00\x00\x00\x00\x00\x00\x00", 7);
  EXPECT_FALSE(chunk(0, 1, std::string("\x00\x00", 2) + empty_meta + '\0').is_ok());
  const std::string snap_body("\x08\x00", 2);
  EXPECT_TRUE(chunk(0, 1, snap_body + empty_meta + '\0').is_ok());
  // Too many voters, and auto_leave other than 0/1.
  std::string many = snap_body + std::string("\x00\x00", 2);
  put_varint(&many, 1025);
  EXPECT_FALSE(chunk(0, 1, many + std::string(1025, '\x01') + std::string(4, '\0')).is_ok());
  EXPECT_FALSE(chunk(0, 1, snap_body + std::string("\x00\x00\x00\x00\x00\x00\x02\x00", 8)).is_ok());
}

class AssemblerTest : public ::testing::Test {
 protected:
  std::vector<SnapshotChunk> chunks(GroupId g, uint64_t id, size_t bytes, uint64_t chunk_bytes) {
    return split_snapshot(g, id, snapshot_message(rng_, bytes), chunk_bytes);
  }
  std::mt19937_64 rng_{31};
};

TEST_F(AssemblerTest, TooBig) {
  SnapshotAssembler a(100, 4);
  auto c = chunks(GroupId{1}, 1, 101, 50);
  ASSERT_TRUE(a.add(c[0]).is_ok());
  ASSERT_TRUE(a.add(c[1]).is_ok());
  auto r = a.add(c[2]);  // byte 101
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_EQ(a.partial(), 0u);
  auto fits = chunks(GroupId{1}, 2, 100, 50);
  ASSERT_TRUE(a.add(fits[0]).is_ok());
  auto done = a.add(fits[1]);
  ASSERT_TRUE(done.is_ok()) << done.status();
  EXPECT_TRUE(done.value().has_value());
}

TEST_F(AssemblerTest, WrongOffsetOrIdOrMissingStart) {
  auto c = chunks(GroupId{1}, 1, 300, 100);
  {
    SnapshotAssembler a(1000, 4);
    ASSERT_TRUE(a.add(c[0]).is_ok());
    EXPECT_FALSE(a.add(c[2]).is_ok());  // skips a chunk
    EXPECT_EQ(a.partial(), 0u);         // the partial one is dropped
  }
  {
    SnapshotAssembler a(1000, 4);
    ASSERT_TRUE(a.add(c[0]).is_ok());
    SnapshotChunk other = c[1];
    other.id = 2;
    EXPECT_FALSE(a.add(other).is_ok());
  }
  {
    SnapshotAssembler a(1000, 4);
    ASSERT_TRUE(a.add(c[0]).is_ok());
    ASSERT_TRUE(a.add(c[1]).is_ok());
    EXPECT_FALSE(a.add(c[1]).is_ok());  // a repeat
  }
  {
    SnapshotAssembler a(1000, 4);
    EXPECT_FALSE(a.add(c[1]).is_ok());  // no first chunk
  }
  {
    SnapshotAssembler a(1000, 4);
    SnapshotChunk headless = c[0];
    headless.header = nullptr;
    EXPECT_FALSE(a.add(headless).is_ok());
  }
}

TEST_F(AssemblerTest, ANewSnapshotReplacesAPartialOne) {
  SnapshotAssembler a(1000, 4);
  auto old_chunks = chunks(GroupId{1}, 1, 300, 100);
  ASSERT_TRUE(a.add(old_chunks[0]).is_ok());
  ASSERT_TRUE(a.add(old_chunks[1]).is_ok());
  auto fresh = chunks(GroupId{1}, 2, 150, 100);
  ASSERT_TRUE(a.add(fresh[0]).is_ok());
  EXPECT_EQ(a.partial(), 1u);
  EXPECT_FALSE(a.add(old_chunks[2]).is_ok());  // the old one is gone
  ASSERT_TRUE(a.add(fresh[0]).is_ok());
  auto r = a.add(fresh[1]);
  ASSERT_TRUE(r.is_ok()) << r.status();
  auto whole = whole_of(r);
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(whole->snapshot->data, fresh[0].data + fresh[1].data);
  EXPECT_EQ(a.partial(), 0u);
}

TEST_F(AssemblerTest, InterleavedGroupsAndTheGroupLimit) {
  SnapshotAssembler a(1000, 2);
  auto g1 = chunks(GroupId{1}, 1, 200, 100);
  auto g2 = chunks(GroupId{2}, 1, 200, 100);
  auto g3 = chunks(GroupId{3}, 1, 200, 100);
  ASSERT_TRUE(a.add(g1[0]).is_ok());
  ASSERT_TRUE(a.add(g2[0]).is_ok());
  EXPECT_EQ(a.partial(), 2u);
  auto refused = a.add(g3[0]);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), Code::kCorruption);
  auto done1 = a.add(g1[1]);
  ASSERT_TRUE(done1.is_ok());
  ASSERT_TRUE(done1.value().has_value());
  EXPECT_EQ(a.partial(), 1u);
  ASSERT_TRUE(a.add(g3[0]).is_ok());  // room again
  auto done2 = a.add(g2[1]);
  ASSERT_TRUE(done2.is_ok());
  EXPECT_TRUE(done2.value().has_value());
}

TEST_F(AssemblerTest, WithASinkTheDataIsStoredAndTheMessageCarriesNone) {
  testing::MemorySink sink;
  SnapshotAssembler a(1000, 4, &sink);
  const Message m = snapshot_message(rng_, 250);
  auto c = split_snapshot(GroupId{5}, 1, m, 100);
  ASSERT_EQ(c.size(), 3u);
  ASSERT_TRUE(a.add(c[0]).is_ok());
  ASSERT_TRUE(a.add(c[1]).is_ok());
  auto r = a.add(c[2]);
  ASSERT_TRUE(r.is_ok()) << r.status();
  ASSERT_TRUE(r.value().has_value());
  const Envelope& e = *r.value();
  EXPECT_EQ(e.group, GroupId{5});
  EXPECT_EQ(e.message.snapshot->meta, m.snapshot->meta);
  EXPECT_TRUE(e.message.snapshot->data.empty());
  ASSERT_NE(e.received, nullptr);
  EXPECT_TRUE(sink.kept.empty());  // stored, not kept until Raft takes it
  ASSERT_TRUE(e.received->keep().is_ok());
  ASSERT_EQ(sink.kept.size(), 1u);
  EXPECT_TRUE(sink.kept[0] == m.snapshot->data);
  ASSERT_EQ(sink.begun.size(), 1u);
  EXPECT_EQ(sink.begun[0], std::make_pair(GroupId{5}, m.snapshot->meta.index));
  EXPECT_EQ(sink.discarded, 0);
}

TEST_F(AssemblerTest, ASinkThatFailsRefusesTheSnapshotAndAReplacedOneIsDiscarded) {
  testing::MemorySink sink;
  SnapshotAssembler a(1000, 4, &sink);
  auto c = chunks(GroupId{5}, 1, 250, 100);
  ASSERT_TRUE(a.add(c[0]).is_ok());
  auto fresh = chunks(GroupId{5}, 2, 250, 100);
  ASSERT_TRUE(a.add(fresh[0]).is_ok());  // replaces the first
  EXPECT_EQ(sink.discarded, 1);
  sink.fail_appends = true;
  auto r = a.add(fresh[1]);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("disk full"), std::string::npos);
  EXPECT_EQ(sink.discarded, 2);
  EXPECT_EQ(a.partial(), 0u);
  sink.fail_begin = true;
  EXPECT_FALSE(a.add(c[0]).is_ok());
  EXPECT_EQ(a.partial(), 0u);
}

}  // namespace
}  // namespace meridian::net
