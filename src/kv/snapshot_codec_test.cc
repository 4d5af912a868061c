// The snapshot codec in pieces: the encoder hands out the bytes of a whole
// encoding, and the decoder fed any split of a snapshot yields the records
// decode_snapshot does, with the same checks.
#include "kv/snapshot_codec.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/varint.h"

namespace meridian::kv {
namespace {

using Records = std::vector<std::pair<std::string, std::string>>;

std::string be64(uint64_t v) {
  std::string out;
  append_be64(&out, v);
  return out;
}

// The meta records of a store at revision `revision`, in key order.
Records meta(int64_t revision = 3) {
  return {{"mapplied", be64(9) + be64(static_cast<uint64_t>(revision))},
          {"mcompact_at", be64(0) + be64(0)},
          {"mcompacted", be64(static_cast<uint64_t>(-1))},
          {"mformat", std::string(1, '\x01')}};
}

Records sample() {
  // A put (format 1, kind 1, create revision 2, version 1, lease 0) and a tombstone.
  Records r = {{version_key("a", Revision{2, 0}), std::string("\x01\x01\x02\x01\x00value-a", 12)},
               {version_key("b", Revision{3, 0}), "\x01\x02"}};
  for (auto& m : meta()) r.push_back(m);
  r.push_back({revision_key(Revision{2, 0}), "a"});
  r.push_back({revision_key(Revision{3, 0}), "b"});
  return r;
}

std::string encode(const Records& records) {
  SnapshotEncoder enc;
  for (const auto& [k, v] : records) enc.add(k, v);
  return std::move(enc).finish();
}

// Decodes `data` fed in pieces of `piece` bytes: the records, or the error.
base::Result<Records> decode_in_pieces(std::string_view data, size_t piece) {
  SnapshotDecoder d;
  Records out;
  for (size_t pos = 0; pos < data.size(); pos += piece) {
    // Each piece is a copy that dies before the next: the decoder must not keep views of it.
    const std::string copy(data.substr(pos, piece));
    d.feed(copy);
    while (true) {
      std::string_view k;
      std::string_view v;
      auto step = d.next(&k, &v);
      if (!step.is_ok()) return step.status();
      if (step.value() != SnapshotDecoder::Step::kRecord) break;
      out.emplace_back(k, v);
    }
  }
  if (auto s = d.finish(); !s.is_ok()) return s;
  return out;
}

TEST(SnapshotEncoderTest, TakingInPiecesGivesTheWholeEncoding) {
  const std::string whole = encode(sample());
  for (size_t max : {size_t{1}, size_t{3}, size_t{64}}) {
    SnapshotEncoder enc;
    std::string taken = enc.take(max);  // part of the header
    for (const auto& [k, v] : sample()) {
      enc.add(k, v);
      taken += enc.take(max);
    }
    enc.end();
    while (enc.pending_bytes() > 0) taken += enc.take(max);
    EXPECT_EQ(taken, whole) << max;
  }
}

TEST(SnapshotDecoderTest, AnySplitYieldsTheSameRecords) {
  const std::string data = encode(sample());
  for (size_t piece = 1; piece <= data.size(); ++piece) {
    auto r = decode_in_pieces(data, piece);
    ASSERT_TRUE(r.is_ok()) << piece << ": " << r.status();
    EXPECT_EQ(r.value(), sample()) << piece;
  }
  SnapshotContents c;
  ASSERT_TRUE(decode_snapshot(data, &c).is_ok());
  EXPECT_EQ(c.records.size(), sample().size());
  EXPECT_EQ(c.meta.applied_index, 9u);
  EXPECT_EQ(c.meta.revision, 3);
  EXPECT_EQ(c.meta.compacted, -1);
}

TEST(SnapshotDecoderTest, EveryDamageIsCorruptionInAnySplit) {
  const std::string data = encode(sample());
  std::vector<std::string> bad = {data + "x", data + std::string(1, '\0')};
  for (size_t cut = 0; cut < data.size(); ++cut) bad.push_back(data.substr(0, cut));
  for (size_t i = 0; i < data.size(); ++i) {
    std::string flipped = data;
    flipped[i] ^= 0x01;
    bad.push_back(flipped);
  }
  for (const std::string& b : bad) {
    for (size_t piece : {size_t{1}, size_t{7}, b.size() + 1}) {
      auto r = decode_in_pieces(b, piece);
      ASSERT_FALSE(r.is_ok()) << piece;
      EXPECT_EQ(r.status().code(), base::Code::kCorruption);
    }
  }
}

TEST(SnapshotDecoderTest, RefusesTheRestoreMarker) {
  // An image is taken of a complete store only; a marker in one is damage.
  Records r = meta();
  r.push_back({"mrestoring", ""});
  std::sort(r.begin(), r.end());
  SnapshotContents c;
  const base::Status s = decode_snapshot(encode(r), &c);
  EXPECT_EQ(s.code(), base::Code::kCorruption);
  EXPECT_NE(s.message().find("unknown meta record"), std::string::npos) << s;
}

TEST(SnapshotDecoderTest, RefusesAHugeLengthWithoutWaitingForIt) {
  // A damaged length must fail at once, not make the decoder buffer the rest.
  std::string data = encode(meta()).substr(0, 5);  // the header
  base::put_varint(&data, uint64_t{1} << 40);
  SnapshotDecoder d;
  d.feed(data);
  std::string_view k;
  std::string_view v;
  auto step = d.next(&k, &v);
  ASSERT_FALSE(step.is_ok());
  EXPECT_EQ(step.status().code(), base::Code::kCorruption);
}

TEST(SnapshotDecoderTest, RefusesALengthInALongerFormThanNeeded) {
  std::string data = encode(meta()).substr(0, 5);
  data += std::string("\x81\x00", 2);  // 1, in two bytes
  SnapshotDecoder d;
  d.feed(data);
  std::string_view k;
  std::string_view v;
  EXPECT_FALSE(d.next(&k, &v).is_ok());
}

TEST(SnapshotDecoderTest, HoldsAtMostAPartialRecordAndAPiece) {
  Records r = {{version_key("big", Revision{2, 0}),
                std::string("\x01\x01\x02\x01\x00", 5) + std::string(10000, 'v')}};
  for (auto& m : meta()) r.push_back(m);
  const std::string data = encode(r);
  SnapshotDecoder d;
  size_t held_max = 0;
  for (size_t pos = 0; pos < data.size(); pos += 100) {
    const std::string piece = data.substr(pos, 100);
    d.feed(piece);
    held_max = std::max(held_max, d.buffered_bytes());
    std::string_view k;
    std::string_view v;
    while (true) {
      auto step = d.next(&k, &v);
      ASSERT_TRUE(step.is_ok()) << step.status();
      if (step.value() != SnapshotDecoder::Step::kRecord) break;
    }
  }
  EXPECT_TRUE(d.finish().is_ok());
  EXPECT_LE(held_max, 10100u + 100u);  // the big record (with its key) and one piece
  EXPECT_GE(held_max, 10000u);
}

}  // namespace
}  // namespace meridian::kv
