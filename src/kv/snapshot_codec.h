// The MVCC store's snapshot: every RocksDB record of the store (version keys,
// revision index, meta) in key order, checksummed (docs/formats/kv.md):
//
//   snapshot := magic:u32le (0x53564b4d, "MKVS" in file order) format:u8 (=1)
//               record* end:u8 (=0) crc:u32le
//   record   := key_len:varint (>= 1) key value_len:varint value
//   crc      := mask(crc32c(every byte before it))
//
// A snapshot can be larger than memory, so both ends work in pieces: the
// encoder hands out its bytes as they are produced (take()), and the decoder
// is fed pieces of any size and yields one record at a time. The decoder checks
// every record: keys strictly ascending, each a well-formed version key (with a
// well-formed record), revision-index entry or known meta record, the meta
// records all present and consistent, the checksum at the very end and nothing
// after it.
//
// Value types with no shared state; one thread at a time each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kv/key_codec.h"

namespace meridian::kv {

class SnapshotEncoder {
 public:
  SnapshotEncoder();  // the header is the first pending bytes
  void add(std::string_view key, std::string_view value);
  // Appends the end marker and the checksum; nothing may be added after it.
  void end();
  bool ended() const { return ended_; }

  // Bytes encoded and not yet taken.
  size_t pending_bytes() const { return out_.size() - taken_; }
  // Takes up to max_bytes of them, oldest first. The encoder keeps at most about
  // what is pending (taken bytes are dropped as they go).
  std::string take(size_t max_bytes);
  // end(), then everything pending: the whole snapshot if nothing was taken.
  std::string finish() &&;

 private:
  void extend_checksum(size_t from);

  std::string out_;
  size_t taken_ = 0;  // out_[0, taken_) was handed out
  uint32_t crc_ = 0;  // over everything appended so far
  bool ended_ = false;
};

// The meta records' values.
struct SnapshotMeta {
  uint64_t applied_index = 0;
  int64_t revision = 0;
  int64_t compacted = 0;  // -1: never compacted (store_impl.h)
  Revision compact_cursor;
};

// Decodes a snapshot fed in pieces:
//
//   SnapshotDecoder d;
//   for each piece: d.feed(piece);
//                   while (next(&k, &v) is kRecord) use k, v;  // until kNeedMore
//   at the end of the input: d.finish()  (kCorruption if the snapshot is incomplete)
//
// A piece is viewed, not copied, until next() returns kNeedMore: then the part
// of a record it ends with is copied, so the decoder holds at most one partial
// record plus the current piece. After kEnd, a further non-empty piece makes
// next() fail ("bytes after the end").
class SnapshotDecoder {
 public:
  enum class Step : uint8_t { kRecord, kNeedMore, kEnd };

  // Call only when next() has asked for more (or before the first next()).
  void feed(std::string_view piece);
  // The next record (its views are valid until the next call of feed or next),
  // kNeedMore, or kEnd once the end marker, checksum and meta checks passed.
  // kCorruption if the snapshot is invalid; the decoder is then of no more use.
  base::Result<Step> next(std::string_view* key, std::string_view* value);
  // next() until it needs more or ends, handing each record to `fn`; the error
  // of next() if it fails.
  template <typename Fn>
  base::Status each_record(Fn&& fn) {
    for (;;) {
      std::string_view key;
      std::string_view value;
      auto step = next(&key, &value);
      if (!step.is_ok()) return step.status();
      if (step.value() != Step::kRecord) return base::Status::ok();
      fn(key, value);
    }
  }
  // The input ended: kCorruption unless next() returned kEnd with nothing after.
  base::Status finish() const;

  // Valid after kEnd.
  const SnapshotMeta& meta() const { return meta_; }
  // Bytes the decoder holds copied (a partial record, and the piece after it).
  size_t buffered_bytes() const { return buf_.size(); }

  // A record's key and value lengths from one request each, which gRPC keeps
  // in an int: a longer one is corrupt (and would otherwise be buffered whole
  // while the decoder waited for its end).
  static constexpr uint64_t kRecordBytesMax = uint64_t{1} << 31;

 private:
  enum class State : uint8_t { kHeader, kRecords, kChecksum, kDone, kFailed };

  base::Result<Step> record(std::string_view* key, std::string_view* value);
  base::Result<Step> checksum();
  base::Result<Step> need_more();
  base::Status fail(std::string_view what);
  void consume(size_t n);
  std::string_view unread() const { return in_.substr(pos_); }

  State state_ = State::kHeader;
  std::string buf_;       // a partial record carried over, then the piece after it
  std::string_view in_;   // the input being decoded: a fed piece, or buf_
  bool in_buf_ = false;   // in_ views buf_
  size_t pos_ = 0;        // bytes of in_ consumed
  uint32_t crc_ = 0;      // over every byte consumed before the checksum
  std::string prev_key_;  // to check the order
  int metas_seen_ = 0;
  SnapshotMeta meta_;
};

struct SnapshotContents {
  std::vector<std::pair<std::string_view, std::string_view>> records;  // view the input
  SnapshotMeta meta;
};

// kCorruption if `data` is not a valid snapshot.
base::Status decode_snapshot(std::string_view data, SnapshotContents* out);

}  // namespace meridian::kv
