#include "kv/snapshot_codec.h"

#include <algorithm>

#include "base/crc32c.h"
#include "base/strings.h"
#include "base/varint.h"
#include "kv/alarm_codec.h"
#include "kv/lease_codec.h"
#include "kv/member_codec.h"
#include "kv/record_codec.h"
#include "kv/store_impl.h"

namespace meridian::kv {

namespace {

constexpr uint32_t kMagic = 0x53564b4d;
constexpr uint8_t kFormat = 1;
constexpr size_t kHeaderBytes = 5;
constexpr size_t kCrcBytes = 4;
// A buffer emptied after holding a large record gives its memory back, so that
// one huge value does not keep that much allocated for the rest of the stream.
constexpr size_t kBufferKeepBytes = size_t{4} << 20;

void put_u32le(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t get_u32le(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

base::Status corrupt(std::string_view what) {
  return base::Status(base::Code::kCorruption, base::cat("kv snapshot: ", what));
}

enum class Parse : uint8_t { kOk, kNeedMore, kBad };

// The varint at in[*pos], telling an input that ends inside it (more may come)
// from an invalid one.
Parse parse_varint(std::string_view in, size_t* pos, uint64_t* v) {
  size_t p = *pos;
  if (base::get_varint(in, &p, v)) {
    *pos = p;
    return Parse::kOk;
  }
  // get_varint stops at the first byte without the high bit; if one is there,
  // the encoding itself is wrong.
  const size_t avail = in.size() - *pos;
  for (size_t i = 0; i < std::min(avail, base::kVarintBytesMax); ++i) {
    if ((static_cast<uint8_t>(in[*pos + i]) & 0x80) == 0) return Parse::kBad;
  }
  return avail >= base::kVarintBytesMax ? Parse::kBad : Parse::kNeedMore;
}

// Checks one meta record and takes its value into `out`; the names it does not
// know (the restore marker among them: an image is taken of a complete store)
// are refused.
base::Status take_meta(std::string_view key, std::string_view value, SnapshotMeta* out, int* seen) {
  bool ok = false;
  if (key == kMetaFormat) {
    ok = value.size() == 1 && value[0] == kStoreFormat;
  } else if (key == kMetaApplied) {
    ok = value.size() == 16;
    if (ok) {
      out->applied_index = read_be64(value.data());
      out->revision = static_cast<int64_t>(read_be64(value.data() + 8));
      ok = out->revision >= 1;
    }
  } else if (key == kMetaCompacted) {
    // -1: never compacted (etcd's starting point; see store_impl.h).
    ok = value.size() == 8;
    if (ok) {
      out->compacted = static_cast<int64_t>(read_be64(value.data()));
      ok = out->compacted >= -1;
    }
  } else if (key == kMetaCompactCursor) {
    ok = value.size() == 16;
    if (ok) {
      out->compact_cursor = Revision{static_cast<int64_t>(read_be64(value.data())),
                                     static_cast<int64_t>(read_be64(value.data() + 8))};
      ok = out->compact_cursor.main >= 0 && out->compact_cursor.sub >= 0;
    }
  } else {
    return corrupt(base::cat("unknown meta record ", key.substr(1)));
  }
  if (!ok) return corrupt(base::cat("bad meta record ", key.substr(1)));
  ++*seen;
  return base::Status::ok();
}

base::Status check_record(std::string_view key, std::string_view value, SnapshotMeta* meta,
                          int* metas_seen) {
  switch (key[0]) {
    case kVersionTag: {
      VersionRecord r;
      if (!is_version_key(key) || !decode_record(value, &r)) return corrupt("bad version record");
      return base::Status::ok();
    }
    case kRevisionTag: {
      Revision rev;
      if (!decode_revision_key(key, &rev) || value.empty()) return corrupt("bad revision entry");
      return base::Status::ok();
    }
    case kMetaTag:
      return take_meta(key, value, meta, metas_seen);
    case kLeaseTag: {
      int64_t id = 0;
      LeaseRecord r;
      if (!decode_lease_key(key, &id) || !decode_lease_record(value, &r)) {
        return corrupt("bad lease record");
      }
      return base::Status::ok();
    }
    case kAlarmTag: {
      Alarm a;
      if (!decode_alarm_key(key, &a) || !value.empty()) return corrupt("bad alarm record");
      return base::Status::ok();
    }
    case kMemberTag: {
      uint64_t id = 0;
      etcdserverpb::Member m;
      if (!decode_member_key(key, &id) ||
          !m.ParseFromArray(value.data(), static_cast<int>(value.size())) || m.id() != id) {
        return corrupt("bad member record");
      }
      return base::Status::ok();
    }
    case kAttachmentTag: {
      int64_t lease = 0;
      std::string_view attached;
      if (!decode_attachment_key(key, &lease, &attached) || !value.empty()) {
        return corrupt("bad lease attachment");
      }
      return base::Status::ok();
    }
    default:
      return corrupt("unknown record");
  }
}

}  // namespace

// --- encoder ---

SnapshotEncoder::SnapshotEncoder() {
  put_u32le(&out_, kMagic);
  out_.push_back(static_cast<char>(kFormat));
  extend_checksum(0);
}

void SnapshotEncoder::extend_checksum(size_t from) {
  crc_ = crc32c_extend(crc_, out_.data() + from, out_.size() - from);
}

void SnapshotEncoder::add(std::string_view key, std::string_view value) {
  MERIDIAN_ASSERT(!ended_, "a snapshot record after the end");
  MERIDIAN_ASSERT(!key.empty(), "an empty key would read as the end marker");
  const size_t from = out_.size();
  base::put_varint(&out_, key.size());
  out_.append(key);
  base::put_varint(&out_, value.size());
  out_.append(value);
  extend_checksum(from);
}

void SnapshotEncoder::end() {
  MERIDIAN_ASSERT(!ended_, "a snapshot ended twice");
  out_.push_back('\0');
  extend_checksum(out_.size() - 1);
  put_u32le(&out_, crc32c_mask(crc_));
  ended_ = true;
}

std::string SnapshotEncoder::take(size_t max_bytes) {
  const size_t n = std::min(max_bytes, pending_bytes());
  std::string piece = out_.substr(taken_, n);
  taken_ += n;
  if (taken_ == out_.size()) {
    out_.clear();
    taken_ = 0;
    if (out_.capacity() > kBufferKeepBytes) std::string().swap(out_);
  } else if (taken_ >= out_.size() / 2) {
    // Moving what is left costs no more than what was taken since the last move.
    out_.erase(0, taken_);
    taken_ = 0;
  }
  return piece;
}

std::string SnapshotEncoder::finish() && {
  end();
  if (taken_ == 0) return std::move(out_);
  return take(pending_bytes());
}

// --- decoder ---

void SnapshotDecoder::feed(std::string_view piece) {
  MERIDIAN_ASSERT(pos_ == in_.size(), "a snapshot piece fed before the last one was used");
  if (in_buf_) buf_.clear();  // all of it consumed
  if (buf_.empty()) {
    in_ = piece;
    in_buf_ = false;
  } else {
    buf_.append(piece);
    in_ = buf_;
    in_buf_ = true;
  }
  pos_ = 0;
}

base::Result<SnapshotDecoder::Step> SnapshotDecoder::need_more() {
  // Keep the unconsumed end (part of a record) for the next piece.
  if (in_buf_) {
    buf_.erase(0, pos_);
  } else {
    buf_.assign(unread());
  }
  if (buf_.capacity() > kBufferKeepBytes && buf_.capacity() > 2 * buf_.size()) buf_.shrink_to_fit();
  in_ = std::string_view();
  in_buf_ = false;
  pos_ = 0;
  return Step::kNeedMore;
}

base::Status SnapshotDecoder::fail(std::string_view what) {
  state_ = State::kFailed;
  return corrupt(what);
}

void SnapshotDecoder::consume(size_t n) {
  crc_ = crc32c_extend(crc_, in_.data() + pos_, n);
  pos_ += n;
}

base::Result<SnapshotDecoder::Step> SnapshotDecoder::next(std::string_view* key,
                                                          std::string_view* value) {
  switch (state_) {
    case State::kHeader:
      if (unread().size() < kHeaderBytes) return need_more();
      if (get_u32le(unread().data()) != kMagic) return fail("bad magic");
      if (static_cast<uint8_t>(unread()[4]) != kFormat) return fail("unknown format");
      consume(kHeaderBytes);
      state_ = State::kRecords;
      return record(key, value);
    case State::kRecords:
      return record(key, value);
    case State::kChecksum:
      return checksum();
    case State::kDone:
      if (!unread().empty()) return fail("bytes after the end");
      return Step::kEnd;
    case State::kFailed:
      break;
  }
  return corrupt("decoding after an error");
}

base::Result<SnapshotDecoder::Step> SnapshotDecoder::record(std::string_view* key,
                                                            std::string_view* value) {
  const std::string_view in = unread();
  size_t p = 0;
  uint64_t key_len = 0;
  switch (parse_varint(in, &p, &key_len)) {
    case Parse::kNeedMore:
      return need_more();
    case Parse::kBad:
      return fail("bad key length");
    case Parse::kOk:
      break;
  }
  if (key_len == 0) {  // the end marker
    consume(p);
    state_ = State::kChecksum;
    return checksum();
  }
  if (key_len > kRecordBytesMax) return fail("key too long");
  if (in.size() - p < key_len) return need_more();
  *key = in.substr(p, key_len);
  p += key_len;
  uint64_t value_len = 0;
  switch (parse_varint(in, &p, &value_len)) {
    case Parse::kNeedMore:
      return need_more();
    case Parse::kBad:
      return fail("bad value length");
    case Parse::kOk:
      break;
  }
  if (value_len > kRecordBytesMax) return fail("value too long");
  if (in.size() - p < value_len) return need_more();
  *value = in.substr(p, value_len);
  p += value_len;
  // Every key is non-empty, so an empty prev_key_ means this is the first.
  if (!prev_key_.empty() && *key <= prev_key_) return fail("records out of order");
  if (auto s = check_record(*key, *value, &meta_, &metas_seen_); !s.is_ok()) {
    state_ = State::kFailed;
    return s;
  }
  prev_key_.assign(*key);
  consume(p);
  return Step::kRecord;
}

base::Result<SnapshotDecoder::Step> SnapshotDecoder::checksum() {
  if (unread().size() < kCrcBytes) return need_more();
  if (crc32c_unmask(get_u32le(unread().data())) != crc_) return fail("checksum mismatch");
  pos_ += kCrcBytes;  // not part of what it covers
  state_ = State::kDone;
  if (metas_seen_ != 4) return fail("missing meta records");
  if (meta_.compacted > meta_.revision ||
      meta_.compact_cursor.main > std::max<int64_t>(meta_.compacted, 0)) {
    return fail("inconsistent revisions");
  }
  if (!unread().empty()) return fail("bytes after the end");
  return Step::kEnd;
}

base::Status SnapshotDecoder::finish() const {
  if (state_ != State::kDone) return corrupt("truncated");
  // next() refuses a byte after the end, but one may have been fed since.
  if (pos_ != in_.size()) return corrupt("bytes after the end");
  return base::Status::ok();
}

base::Status decode_snapshot(std::string_view data, SnapshotContents* out) {
  *out = SnapshotContents{};
  SnapshotDecoder decoder;
  decoder.feed(data);  // one piece: the records view `data` itself
  if (auto s = decoder.each_record([&](std::string_view key, std::string_view value) {
        out->records.emplace_back(key, value);
      });
      !s.is_ok()) {
    return s;
  }
  if (auto s = decoder.finish(); !s.is_ok()) return s;
  out->meta = decoder.meta();
  return base::Status::ok();
}

}  // namespace meridian::kv
