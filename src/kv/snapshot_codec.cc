#include "kv/snapshot_codec.h"

#include <algorithm>

#include "base/crc32c.h"
#include "base/strings.h"
#include "base/varint.h"
#include "kv/record_codec.h"
#include "kv/store_impl.h"

namespace meridian::kv {

namespace {

constexpr uint32_t kMagic = 0x53564b4d;
constexpr uint8_t kFormat = 1;
constexpr size_t kHeaderBytes = 5;
constexpr size_t kCrcBytes = 4;

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

bool get_bytes(std::string_view in, size_t* pos, std::string_view* out) {
  uint64_t len = 0;
  if (!base::get_varint(in, pos, &len) || len > in.size() - *pos) return false;
  *out = in.substr(*pos, len);
  *pos += len;
  return true;
}

// Checks one meta record and takes its value into `out`; the names it does not
// know are refused.
base::Status take_meta(std::string_view key, std::string_view value, SnapshotContents* out,
                       int* seen) {
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

base::Status check_record(std::string_view key, std::string_view value, SnapshotContents* out,
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
      return take_meta(key, value, out, metas_seen);
    default:
      return corrupt("unknown record");
  }
}

}  // namespace

SnapshotEncoder::SnapshotEncoder() {
  put_u32le(&out_, kMagic);
  out_.push_back(static_cast<char>(kFormat));
}

void SnapshotEncoder::add(std::string_view key, std::string_view value) {
  base::put_varint(&out_, key.size());
  out_.append(key);
  base::put_varint(&out_, value.size());
  out_.append(value);
}

std::string SnapshotEncoder::finish() && {
  out_.push_back('\0');
  put_u32le(&out_, crc32c_mask(crc32c(out_)));
  return std::move(out_);
}

base::Status decode_snapshot(std::string_view data, SnapshotContents* out) {
  *out = SnapshotContents{};
  if (data.size() < kHeaderBytes + 1 + kCrcBytes) return corrupt("too short");
  if (get_u32le(data.data()) != kMagic) return corrupt("bad magic");
  if (static_cast<uint8_t>(data[4]) != kFormat) return corrupt("unknown format");
  const std::string_view body = data.substr(0, data.size() - kCrcBytes);
  if (crc32c_unmask(get_u32le(data.data() + body.size())) != crc32c(body)) {
    return corrupt("checksum mismatch");
  }
  size_t pos = kHeaderBytes;
  std::string_view prev;
  int metas_seen = 0;
  while (true) {
    std::string_view key;
    if (!get_bytes(body, &pos, &key)) return corrupt("truncated record");
    if (key.empty()) break;  // the end marker
    std::string_view value;
    if (!get_bytes(body, &pos, &value)) return corrupt("truncated record");
    if (!out->records.empty() && key <= prev) return corrupt("records out of order");
    if (auto s = check_record(key, value, out, &metas_seen); !s.is_ok()) return s;
    out->records.emplace_back(key, value);
    prev = key;
  }
  if (pos != body.size()) return corrupt("bytes after the end");
  if (metas_seen != 4) return corrupt("missing meta records");
  if (out->compacted > out->revision ||
      out->compact_cursor.main > std::max<int64_t>(out->compacted, 0)) {
    return corrupt("inconsistent revisions");
  }
  return base::Status::ok();
}

}  // namespace meridian::kv
