// The journal codec, segment names and the recovery frame scanner.
#include "storage/journal_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/faulty_file_system.h"
#include "storage/segment.h"

namespace meridian::storage {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::NodeId;
using raft::Term;

WriteBatch every_op_batch() {
  WriteBatch b;
  b.set_time_ms(1234567);
  b.append(GroupId{1}, {Entry{Term{2}, Index{5}, EntryType::kNormal, "hello"},
                        Entry{Term{2}, Index{6}, EntryType::kConfChange, std::string(300, 'c')},
                        Entry{Term{3}, Index{7}, EntryType::kNormal, ""}});
  b.set_hard_state(GroupId{1}, raft::HardState{Term{3}, NodeId{2}, Index{6}});
  raft::SnapshotMeta meta;
  meta.index = Index{1000};
  meta.term = Term{9};
  meta.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{300}};
  meta.conf_state.voters_outgoing = {NodeId{1}};
  meta.conf_state.learners = {NodeId{4}};
  meta.conf_state.learners_next = {NodeId{2}};
  meta.conf_state.auto_leave = true;
  b.install_snapshot(GroupId{1ull << 40}, meta);
  b.compact(GroupId{7}, Index{UINT64_MAX});
  b.remove_group(GroupId{0});
  return b;
}

std::vector<OpPlan> plans_for(const WriteBatch& b) {
  std::vector<OpPlan> plans(b.ops().size());
  plans[2].keep_log = true;
  plans[3].compact_term = Term{UINT64_MAX};
  return plans;
}

TEST(JournalFormatTest, BatchRoundTripsWithDataOffsets) {
  const WriteBatch b = every_op_batch();
  const std::vector<OpPlan> plans = plans_for(b);
  std::string payload;
  std::vector<uint32_t> positions;
  encode_batch(b, plans, payload, positions);
  ASSERT_EQ(positions.size(), 3u);

  Result<Record> r = decode_record(payload);
  ASSERT_TRUE(r.is_ok()) << r.status();
  const Record& rec = r.value();
  EXPECT_EQ(rec.kind, RecordKind::kBatch);
  EXPECT_EQ(rec.time_ms, 1234567u);
  ASSERT_EQ(rec.ops.size(), b.ops().size());
  for (size_t k = 0; k < rec.ops.size(); k++) {
    const WriteBatch::Op& want = b.ops()[k];
    const WriteBatch::Op& got = rec.ops[k].op;
    EXPECT_EQ(got.type, want.type);
    EXPECT_EQ(got.group, want.group);
    EXPECT_EQ(got.entries, want.entries);
    EXPECT_EQ(got.hard_state, want.hard_state);
    EXPECT_EQ(got.snapshot, want.snapshot);
    EXPECT_EQ(got.index, want.index);
    EXPECT_EQ(rec.ops[k].plan.keep_log, plans[k].keep_log);
    EXPECT_EQ(rec.ops[k].plan.compact_term, plans[k].compact_term);
  }
  EXPECT_EQ(rec.ops[0].data_offsets, positions);
  for (size_t e = 0; e < positions.size(); e++) {
    const std::string& data = b.ops()[0].entries[e].data;
    EXPECT_EQ(payload.substr(positions[e], data.size()), data);
    // The entry checksum sits just before the data.
    EXPECT_EQ(get_fixed32(payload.data() + positions[e] - kEntryChecksumBytes),
              entry_checksum(GroupId{1}, Index{5 + e}, b.ops()[0].entries[e].term,
                             b.ops()[0].entries[e].type, data));
  }
}

TEST(JournalFormatTest, SkippedOpsAndCoveredEntriesAreNotRecorded) {
  WriteBatch b;
  b.append(GroupId{1}, {Entry{Term{1}, Index{1}, EntryType::kNormal, "a"},
                        Entry{Term{1}, Index{2}, EntryType::kNormal, "b"}});
  b.compact(GroupId{1}, Index{1});
  std::vector<OpPlan> plans(2);
  plans[0].covered = 1;
  plans[1].skip = true;
  std::string payload;
  std::vector<uint32_t> positions;
  encode_batch(b, plans, payload, positions);
  Result<Record> r = decode_record(payload);
  ASSERT_TRUE(r.is_ok()) << r.status();
  ASSERT_EQ(r.value().ops.size(), 1u);
  ASSERT_EQ(r.value().ops[0].op.entries.size(), 1u);
  EXPECT_EQ(r.value().ops[0].op.entries[0].index, Index{2});
  EXPECT_EQ(r.value().ops[0].op.entries[0].data, "b");
}

TEST(JournalFormatTest, CheckpointRoundTrips) {
  std::vector<GroupCheckpoint> groups(3);
  for (size_t k = 0; k < groups.size(); k++) {
    groups[k].group = GroupId{k * 1000};
    groups[k].hard_state = raft::HardState{Term{k}, NodeId{k + 1}, Index{k * 7}};
    groups[k].snapshot.index = Index{k * 5};
    groups[k].snapshot.term = Term{k};
    groups[k].snapshot.conf_state.voters = {NodeId{1}, NodeId{k + 2}};
    groups[k].first_index = Index{k * 5 + 1};
    groups[k].prev_term = Term{k};
    groups[k].entry_count = k * 100;
  }
  std::string payload;
  encode_checkpoint(99, groups, payload);
  Result<Record> r = decode_record(payload);
  ASSERT_TRUE(r.is_ok()) << r.status();
  EXPECT_EQ(r.value().kind, RecordKind::kCheckpoint);
  EXPECT_EQ(r.value().time_ms, 99u);
  EXPECT_EQ(r.value().groups, groups);
}

std::string valid_payload() {
  const WriteBatch b = every_op_batch();
  std::string payload;
  std::vector<uint32_t> positions;
  encode_batch(b, plans_for(b), payload, positions);
  return payload;
}

TEST(JournalFormatTest, EveryTruncationOfARecordIsRejected) {
  const std::string payload = valid_payload();
  for (size_t n = 0; n < payload.size(); n++) {
    EXPECT_EQ(decode_record(payload.substr(0, n)).status().code(), Code::kCorruption) << n;
  }
}

TEST(JournalFormatTest, RejectsWhatTheEncoderNeverWrites) {
  auto rejects = [](const std::string& p, const std::string& why) {
    Result<Record> r = decode_record(p);
    ASSERT_FALSE(r.is_ok()) << why;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status();
  };
  const std::string v1k1 = std::string("\x01\x01", 2);
  rejects(std::string("\x02\x01\x00\x00", 4), "unknown record version");
  rejects(std::string("\x01\x03\x00\x00", 4), "record kind");
  rejects(v1k1 + std::string("\x00\x00\x00", 3), "trailing bytes");
  // time_ms 0 written in two bytes: not minimal.
  rejects(v1k1 + std::string("\x80\x00\x00", 3), "time_ms");
  // A varint past 64 bits.
  rejects(v1k1 + std::string(9, '\xff') + std::string("\x02\x00", 2), "time_ms");
  // Op type 9.
  rejects(v1k1 + std::string("\x00\x01\x09\x01", 4), "op type");
  // Append at index 0, and an append of no entries.
  rejects(v1k1 + std::string("\x00\x01\x01\x01\x00\x01", 6), "append at index 0");
  rejects(v1k1 + std::string("\x00\x01\x01\x01\x01\x00", 6), "append count");
  // keep_log 2.
  rejects(v1k1 + std::string("\x00\x01\x03\x01\x02", 5), "keep_log");
  // Checkpoint groups out of order.
  std::vector<GroupCheckpoint> groups(2);
  groups[0].group = GroupId{2};
  groups[1].group = GroupId{3};
  std::string cp;
  encode_checkpoint(0, groups, cp);
  const size_t second = cp.find('\x03', 4);  // the second group's id
  ASSERT_NE(second, std::string::npos);
  cp[second] = '\x02';
  rejects(cp, "out of order");
}

TEST(JournalFormatTest, EntryChecksumIsChecked) {
  std::string payload = valid_payload();
  const size_t at = payload.find("hello");
  ASSERT_NE(at, std::string::npos);
  payload[at] = 'j';
  EXPECT_NE(decode_record(payload).status().message().find("entry checksum"), std::string::npos);
}

TEST(JournalFormatTest, EntryChecksumCoversGroupIndexTermAndType) {
  const uint32_t base = entry_checksum(GroupId{1}, Index{2}, Term{3}, EntryType::kNormal, "d");
  EXPECT_NE(base, entry_checksum(GroupId{9}, Index{2}, Term{3}, EntryType::kNormal, "d"));
  EXPECT_NE(base, entry_checksum(GroupId{1}, Index{9}, Term{3}, EntryType::kNormal, "d"));
  EXPECT_NE(base, entry_checksum(GroupId{1}, Index{2}, Term{9}, EntryType::kNormal, "d"));
  EXPECT_NE(base, entry_checksum(GroupId{1}, Index{2}, Term{3}, EntryType::kConfChange, "d"));
  EXPECT_NE(base, entry_checksum(GroupId{1}, Index{2}, Term{3}, EntryType::kNormal, "e"));
}

TEST(JournalFormatTest, FrameIsValidOnlyWhereItWasWritten) {
  std::string frame;
  const size_t start = begin_frame(frame);
  frame += valid_payload();
  finish_frame(frame, start, 3, 4096);
  const FrameHeader h = parse_frame_header(std::string_view(frame).substr(0, kFrameHeaderBytes));
  const std::string_view payload = std::string_view(frame).substr(kFrameHeaderBytes);
  EXPECT_EQ(h.magic, kFrameMagic);
  EXPECT_EQ(h.payload_len, payload.size());
  EXPECT_TRUE(frame_checksum_ok(h, payload, 3, 4096));
  EXPECT_FALSE(frame_checksum_ok(h, payload, 3, 4097));
  EXPECT_FALSE(frame_checksum_ok(h, payload, 4, 4096));
  EXPECT_FALSE(frame_checksum_ok(h, payload.substr(1), 3, 4096));
  std::string flipped(payload);
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(frame_checksum_ok(h, flipped, 3, 4096));
  EXPECT_FALSE(frame_length_plausible(0));
  EXPECT_FALSE(frame_length_plausible(kFramePayloadMax + 1));
  EXPECT_TRUE(frame_length_plausible(kFramePayloadMin));
}

TEST(SegmentTest, NamesSortAsNumbersAndParseBack) {
  EXPECT_EQ(segment_name(1), "00000000000000000001.log");
  EXPECT_EQ(segment_name(UINT64_MAX), "18446744073709551615.log");
  EXPECT_LT(segment_name(9), segment_name(10));
  EXPECT_EQ(parse_segment_name(segment_name(123456789)), 123456789u);
  EXPECT_EQ(parse_segment_name(segment_name(UINT64_MAX)), UINT64_MAX);
  EXPECT_FALSE(parse_segment_name("00000000000000000000.log"));
  EXPECT_FALSE(parse_segment_name("0000000000000000001.log"));
  EXPECT_FALSE(parse_segment_name("00000000000000000001.tmp"));
  EXPECT_FALSE(parse_segment_name("0000000000000000000a.log"));
  EXPECT_FALSE(parse_segment_name("99999999999999999999.log"));  // past u64
  EXPECT_FALSE(parse_segment_name("00000000000000000001.log.tmp"));
}

// A segment of `frames` valid frames of checkpoint records, and the offsets.
std::string make_segment(uint64_t number, int frames, std::vector<uint64_t>& offsets) {
  std::string bytes;
  for (int k = 0; k < frames; k++) {
    offsets.push_back(bytes.size());
    const size_t start = begin_frame(bytes);
    std::vector<GroupCheckpoint> groups(static_cast<size_t>(k + 1));
    for (size_t g = 0; g < groups.size(); g++) groups[g].group = GroupId{g};
    encode_checkpoint(static_cast<uint64_t>(k), groups, bytes);
    finish_frame(bytes, start, number, start);
  }
  return bytes;
}

class FrameScannerTest : public ::testing::Test {
 protected:
  // Scans `bytes` as segment 5; returns the offsets of the valid frames.
  std::vector<uint64_t> scan(const std::string& bytes) {
    auto f = fs_.open("seg", OpenMode::kCreateOrOpen);
    EXPECT_TRUE(f.is_ok());
    file_ = std::move(f).value();
    EXPECT_TRUE(file_->truncate(0).is_ok());
    EXPECT_TRUE(file_->append(bytes).is_ok());
    scanner_ = std::make_unique<FrameScanner>(*file_, 5, bytes.size());
    std::vector<uint64_t> out;
    for (;;) {
      auto next = scanner_->next();
      EXPECT_TRUE(next.is_ok());
      if (!next.value().has_value()) break;
      out.push_back(next.value()->offset);
      EXPECT_TRUE(decode_record(next.value()->payload).is_ok());
    }
    return out;
  }

  FaultyFileSystem fs_{1};
  std::unique_ptr<File> file_;
  std::unique_ptr<FrameScanner> scanner_;
};

TEST_F(FrameScannerTest, ReadsEveryFrameOfACleanSegment) {
  std::vector<uint64_t> offsets;
  const std::string bytes = make_segment(5, 6, offsets);
  EXPECT_EQ(scan(bytes), offsets);
  EXPECT_TRUE(scanner_->bad_reason().empty());
  EXPECT_EQ(scanner_->offset(), bytes.size());
}

TEST_F(FrameScannerTest, StopsAtATornFrameWithNothingValidAfterIt) {
  std::vector<uint64_t> offsets;
  const std::string bytes = make_segment(5, 6, offsets);
  const std::string torn = bytes.substr(0, bytes.size() - 3);
  EXPECT_EQ(scan(torn), std::vector<uint64_t>(offsets.begin(), offsets.end() - 1));
  EXPECT_EQ(scanner_->bad_reason(), "incomplete frame");
  EXPECT_EQ(scanner_->offset(), offsets.back());
  EXPECT_FALSE(scanner_->valid_frame_follows().value());
}

TEST_F(FrameScannerTest, FindsAValidFrameAfterADamagedOne) {
  std::vector<uint64_t> offsets;
  std::string bytes = make_segment(5, 6, offsets);
  bytes[offsets[2] + 5] = '\x7f';  // the length of frame 2: far past the end
  EXPECT_EQ(scan(bytes), std::vector<uint64_t>(offsets.begin(), offsets.begin() + 2));
  EXPECT_EQ(scanner_->offset(), offsets[2]);
  EXPECT_TRUE(scanner_->valid_frame_follows().value());
}

TEST_F(FrameScannerTest, FramesWrittenForAnotherSegmentDoNotCount) {
  // The same bytes written as segment 6 are not valid frames of segment 5, so a
  // copy of old frames (or frames inside entry data) cannot pass for live ones.
  std::vector<uint64_t> offsets;
  const std::string other = make_segment(6, 3, offsets);
  EXPECT_TRUE(scan(other).empty());
  EXPECT_EQ(scanner_->bad_reason(), "frame checksum mismatch");
  EXPECT_FALSE(scanner_->valid_frame_follows().value());
}

TEST_F(FrameScannerTest, ZeroHeaderEndsTheData) {
  std::vector<uint64_t> offsets;
  const std::string bytes = make_segment(5, 2, offsets);
  EXPECT_EQ(scan(bytes + std::string(64, '\0')).size(), 2u);
  EXPECT_EQ(scanner_->bad_reason(), "zero header");
  EXPECT_FALSE(scanner_->valid_frame_follows().value());
}

TEST(WriteBatchTest, MergeKeepsOrderSizesAndTheLatestTime) {
  WriteBatch a;
  a.set_time_ms(10);
  a.set_hard_state(GroupId{1}, raft::HardState{Term{1}, NodeId{1}, Index{0}});
  WriteBatch b;
  b.set_time_ms(20);
  b.append(GroupId{2}, {Entry{Term{1}, Index{1}, EntryType::kNormal, std::string(100, 'x')}});
  b.remove_group(GroupId{3});
  const uint64_t size = a.size_bytes() + b.size_bytes();
  EXPECT_GE(b.size_bytes(), 100u);
  a.merge(std::move(b));
  ASSERT_EQ(a.ops().size(), 3u);
  EXPECT_EQ(a.ops()[0].type, WriteBatch::OpType::kHardState);
  EXPECT_EQ(a.ops()[1].type, WriteBatch::OpType::kAppend);
  EXPECT_EQ(a.ops()[2].type, WriteBatch::OpType::kRemoveGroup);
  EXPECT_EQ(a.size_bytes(), size);
  EXPECT_EQ(a.time_ms(), 20u);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): merge empties it
  WriteBatch empty;
  empty.merge(std::move(a));
  EXPECT_EQ(empty.ops().size(), 3u);
}

}  // namespace
}  // namespace meridian::storage
