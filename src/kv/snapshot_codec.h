// The MVCC store's snapshot: every RocksDB record of the store (version keys,
// revision index, meta) in key order, checksummed (docs/formats/kv.md):
//
//   snapshot := magic:u32le (0x53564b4d, "MKVS" in file order) format:u8 (=1)
//               record* end:u8 (=0) crc:u32le
//   record   := key_len:varint (>= 1) key value_len:varint value
//   crc      := mask(crc32c(every byte before it))
//
// The decoder checks the checksum, then every record: keys strictly ascending,
// each a well-formed version key (with a well-formed record), revision-index
// entry or known meta record, and the meta records all present and consistent.
// Pure functions; any thread.
#pragma once

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
  SnapshotEncoder();
  void add(std::string_view key, std::string_view value);
  std::string finish() &&;

 private:
  std::string out_;
};

struct SnapshotContents {
  std::vector<std::pair<std::string_view, std::string_view>> records;  // view the input
  uint64_t applied_index = 0;
  int64_t revision = 0;
  int64_t compacted = 0;
  Revision compact_cursor;
};

// kCorruption if `data` is not a valid snapshot.
base::Status decode_snapshot(std::string_view data, SnapshotContents* out);

}  // namespace meridian::kv
