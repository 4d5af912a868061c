#include "kv/lease_codec.h"

#include "base/varint.h"
#include "kv/key_codec.h"

namespace meridian::kv {

namespace {
constexpr char kLeaseRecordFormat = 1;
constexpr size_t kIdBytes = 8;

std::string tagged_id(char tag, int64_t id) {
  std::string out;
  out.reserve(1 + kIdBytes);
  out.push_back(tag);
  append_be64(&out, static_cast<uint64_t>(id));
  return out;
}
}  // namespace

std::string lease_key(int64_t id) { return tagged_id(kLeaseTag, id); }

bool decode_lease_key(std::string_view rocksdb_key, int64_t* id) {
  if (rocksdb_key.size() != 1 + kIdBytes || rocksdb_key[0] != kLeaseTag) return false;
  *id = static_cast<int64_t>(read_be64(rocksdb_key.data() + 1));
  return true;
}

std::string encode_lease_record(const LeaseRecord& r) {
  std::string out(1, kLeaseRecordFormat);
  base::put_varint(&out, static_cast<uint64_t>(r.ttl));
  base::put_varint(&out, r.renewed_index);
  return out;
}

bool decode_lease_record(std::string_view data, LeaseRecord* out) {
  if (data.empty() || data[0] != kLeaseRecordFormat) return false;
  size_t pos = 1;
  uint64_t ttl = 0;
  uint64_t renewed = 0;
  if (!base::get_varint(data, &pos, &ttl) || !base::get_varint(data, &pos, &renewed)) return false;
  if (pos != data.size() || ttl > static_cast<uint64_t>(INT64_MAX)) return false;
  *out = LeaseRecord{static_cast<int64_t>(ttl), renewed};
  return true;
}

std::string attachment_prefix(int64_t lease) { return tagged_id(kAttachmentTag, lease); }

std::string attachment_key(int64_t lease, std::string_view key) {
  std::string out = attachment_prefix(lease);
  out.append(key);
  return out;
}

bool decode_attachment_key(std::string_view rocksdb_key, int64_t* lease, std::string_view* key) {
  // A key is never empty (etcd refuses empty keys), so neither is the suffix.
  if (rocksdb_key.size() <= 1 + kIdBytes || rocksdb_key[0] != kAttachmentTag) return false;
  *lease = static_cast<int64_t>(read_be64(rocksdb_key.data() + 1));
  *key = rocksdb_key.substr(1 + kIdBytes);
  return true;
}

std::string encode_lease_expiry(const LeaseExpiry& e) {
  std::string out;
  base::put_varint(&out, static_cast<uint64_t>(e.id));
  base::put_varint(&out, e.renewed_index);
  return out;
}

bool decode_lease_expiry(std::string_view data, LeaseExpiry* out) {
  size_t pos = 0;
  uint64_t id = 0;
  uint64_t renewed = 0;
  if (!base::get_varint(data, &pos, &id) || !base::get_varint(data, &pos, &renewed)) return false;
  if (pos != data.size()) return false;
  *out = LeaseExpiry{static_cast<int64_t>(id), renewed};
  return true;
}

std::string encode_i64_list(const std::vector<int64_t>& values) {
  std::string out;
  out.reserve(values.size() * 4);
  for (int64_t v : values) base::put_varint(&out, static_cast<uint64_t>(v));
  return out;
}

bool decode_i64_list(std::string_view data, std::vector<int64_t>* out) {
  out->clear();
  size_t pos = 0;
  while (pos < data.size()) {
    uint64_t v = 0;
    if (!base::get_varint(data, &pos, &v)) return false;
    out->push_back(static_cast<int64_t>(v));
  }
  return true;
}

}  // namespace meridian::kv
