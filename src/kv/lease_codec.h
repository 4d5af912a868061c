// The store's lease records and the lease commands' own payloads
// (docs/formats/kv.md has the bytes):
//
//   lease key        := 'l' be64(id)
//   lease record     := format:u8 (=1) ttl:varint renewed:varint
//   attachment key   := 'a' be64(lease id) key          (value: empty)
//
// A lease record holds the granted TTL in seconds and the Raft index of the
// entry that granted or last renewed the lease; an attachment says that a key's
// live version carries the lease, so that a revoke finds its keys with one
// prefix scan (in key order) and the keys of other leases are never read.
// Ids are etcd's int64 lease ids as their two's-complement u64.
//
//   renew payload    := id:varint*         (the leases a keep-alive batch renews)
//   renew result     := ttl:varint*        (one per id: granted TTL, 0 if gone)
//   expiry payload   := id:varint renewed:varint
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::kv {

inline constexpr char kLeaseTag = 'l';
inline constexpr char kAttachmentTag = 'a';
// etcd's MaxLeaseTTL, in seconds: a longer grant is refused.
inline constexpr int64_t kMaxLeaseTtl = 9'000'000'000;

struct LeaseRecord {
  int64_t ttl = 0;             // granted, in seconds
  uint64_t renewed_index = 0;  // the Raft index that granted or last renewed it
  bool operator==(const LeaseRecord&) const = default;
};

std::string lease_key(int64_t id);
// False if `rocksdb_key` is not a lease key.
bool decode_lease_key(std::string_view rocksdb_key, int64_t* id);
std::string encode_lease_record(const LeaseRecord& r);
bool decode_lease_record(std::string_view data, LeaseRecord* out);

// 'a' be64(lease): every attachment of the lease starts with it.
std::string attachment_prefix(int64_t lease);
std::string attachment_key(int64_t lease, std::string_view key);
// False if `rocksdb_key` is not an attachment key; *key views it.
bool decode_attachment_key(std::string_view rocksdb_key, int64_t* lease, std::string_view* key);

// The leader's revoke of a lease it found expired: applied only if the lease
// was not renewed after `renewed_index` (the record the leader judged by).
struct LeaseExpiry {
  int64_t id = 0;
  uint64_t renewed_index = 0;
  bool operator==(const LeaseExpiry&) const = default;
};
std::string encode_lease_expiry(const LeaseExpiry& e);
bool decode_lease_expiry(std::string_view data, LeaseExpiry* out);

// A list of int64 (the renew payload and its result).
std::string encode_i64_list(const std::vector<int64_t>& values);
bool decode_i64_list(std::string_view data, std::vector<int64_t>* out);

}  // namespace meridian::kv
