// The value stored under each version key (docs/formats/kv.md):
//
//   record    := format:u8 (=1) kind:u8 body
//   put  (1)  := create_revision:varint version:varint lease:varint value{rest}
//   tombstone (2) := (nothing)
//
// Revisions and versions are positive; the lease is etcd's int64 lease id,
// stored as its two's-complement u64. The mod revision is the version key's own
// revision and the key is in the version key, so neither is repeated here.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::kv {

struct VersionRecord {
  bool tombstone = false;
  int64_t create_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
  std::string_view value;  // views the decoded bytes
};

void append_put_record(std::string* out, int64_t create_revision, int64_t version, int64_t lease,
                       std::string_view value);
std::string_view tombstone_record();
// False if `data` is not a well-formed record.
bool decode_record(std::string_view data, VersionRecord* out);
// Only the kind: cheaper than decode_record where the rest is not needed.
// False if `data` is not a well-formed record's start.
bool record_is_tombstone(std::string_view data, bool* tombstone);

}  // namespace meridian::kv
