#include "kv/record_codec.h"

#include "base/varint.h"

namespace meridian::kv {

namespace {
constexpr char kRecordFormat = 1;
constexpr char kPutKind = 1;
constexpr char kTombstoneKind = 2;
constexpr char kTombstone[] = {kRecordFormat, kTombstoneKind};
}  // namespace

void append_put_record(std::string* out, int64_t create_revision, int64_t version, int64_t lease,
                       std::string_view value) {
  out->push_back(kRecordFormat);
  out->push_back(kPutKind);
  base::put_varint(out, static_cast<uint64_t>(create_revision));
  base::put_varint(out, static_cast<uint64_t>(version));
  base::put_varint(out, static_cast<uint64_t>(lease));
  out->append(value);
}

std::string_view tombstone_record() { return std::string_view(kTombstone, sizeof kTombstone); }

bool record_is_tombstone(std::string_view data, bool* tombstone) {
  if (data.size() < 2 || data[0] != kRecordFormat) return false;
  if (data[1] == kTombstoneKind) {
    *tombstone = true;
    return data.size() == 2;
  }
  *tombstone = false;
  return data[1] == kPutKind;
}

bool decode_record(std::string_view data, VersionRecord* out) {
  if (!record_is_tombstone(data, &out->tombstone)) return false;
  if (out->tombstone) {
    *out = VersionRecord{};
    out->tombstone = true;
    return true;
  }
  size_t pos = 2;
  uint64_t create = 0;
  uint64_t version = 0;
  uint64_t lease = 0;
  if (!base::get_varint(data, &pos, &create) || !base::get_varint(data, &pos, &version) ||
      !base::get_varint(data, &pos, &lease)) {
    return false;
  }
  const auto max = static_cast<uint64_t>(INT64_MAX);
  if (create == 0 || create > max || version == 0 || version > max) return false;
  out->create_revision = static_cast<int64_t>(create);
  out->version = static_cast<int64_t>(version);
  out->lease = static_cast<int64_t>(lease);
  out->value = data.substr(pos);
  return true;
}

}  // namespace meridian::kv
