// The RocksDB keys of the MVCC store (docs/formats/kv.md has the bytes):
//
//   version key  := 'k' escaped(key) 0x00 0x01 inverted(main) inverted(sub)
//   revision key := 'r' be64(main) be64(sub)
//   meta key     := 'm' name
//
//   escaped(key) := key with every 0x00 byte written as 0x00 0xff
//   inverted(x)  := be64(~x)                (x >= 0, so newer sorts first)
//
// The escape plus the 0x00 0x01 terminator is an order-preserving, prefix-free
// encoding of the key ("encoded key" below), so version keys sort by user key
// first and, under one key, newest revision first: reading a key at revision R
// is one seek to encoded(key) inverted(R, max), and the first RocksDB key after
// every version of a key is encoded(key) with its last byte 0x01 raised to 0x02.
// Pure functions; any thread.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace meridian::kv {

// A point in the store's history: the main revision of a write request and the
// position of one change inside it.
struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  auto operator<=>(const Revision&) const = default;
};

inline constexpr char kVersionTag = 'k';
inline constexpr char kRevisionTag = 'r';
inline constexpr char kMetaTag = 'm';
// Bytes of the (main, sub) pair at the end of a version key and in a revision key.
inline constexpr size_t kRevisionBytes = 16;
inline constexpr int64_t kSubMax = std::numeric_limits<int64_t>::max();

// 'k' escaped(key) 0x00 0x01: the prefix every version of `key` shares.
void append_encoded_key(std::string* out, std::string_view key);
std::string encoded_key(std::string_view key);
// encoded_key(key) inverted(rev): the version key of `key` at `rev`.
std::string version_key(std::string_view key, Revision rev);
void append_inverted_revision(std::string* out, Revision rev);

// The encoded-key part of a version key (all but the last 16 bytes); two
// version keys belong to the same user key exactly when these are equal.
inline std::string_view encoded_part(std::string_view version_key) {
  return version_key.substr(0, version_key.size() - kRevisionBytes);
}
// The revision at the end of a version key (which must be one).
Revision version_key_revision(std::string_view version_key);
// True if `rocksdb_key` is well formed as a version key (tag, escapes, terminator).
bool is_version_key(std::string_view rocksdb_key);
// The user key of an encoded key (as returned by encoded_part). Keys without a
// zero byte need no copy: the result then views `encoded`; otherwise it is
// written to *scratch and views that.
std::string_view decode_user_key(std::string_view encoded, std::string* scratch);

// The first RocksDB key after every version of the user key whose encoded key is
// `encoded` (its last byte, 0x01, raised to 0x02).
std::string after_versions(std::string_view encoded);
// RocksDB bounds [begin, end) of the version keys of etcd's range forms:
// range_end empty: the key alone; "\0": every key >= key; else [key, range_end)
// (empty when range_end <= key).
struct VersionKeyBounds {
  std::string begin;
  std::string end;
};
VersionKeyBounds version_key_bounds(std::string_view key, std::string_view range_end);
// Whether user key `k` lies in etcd's range (key, range_end) (same forms).
bool key_in_range(std::string_view k, std::string_view key, std::string_view range_end);

std::string revision_key(Revision rev);
// False if `rocksdb_key` is not a revision key.
bool decode_revision_key(std::string_view rocksdb_key, Revision* rev);

// Big-endian fixed-width integers (meta values, revision keys).
void append_be64(std::string* out, uint64_t v);
uint64_t read_be64(const char* p);

}  // namespace meridian::kv
