#include "kv/store_hash.h"

#include <memory>
#include <string>

#include "base/assert.h"
#include "base/crc32c.h"
#include "kv/key_codec.h"
#include "kv/record_codec.h"
#include "kv/rocksdb_options.h"

namespace meridian::kv {

Errc hash_versions(rocksdb::DB& db, const rocksdb::Snapshot* snapshot, int64_t revision,
                   int64_t compacted, MvccStore::Hash* out) {
  rocksdb::ReadOptions ro = total_order_read_options();
  ro.snapshot = snapshot;
  ro.fill_cache = false;  // a whole-store scan must not push out what reads use
  const std::string end(1, kVersionTag + 1);
  const rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro));

  uint32_t crc = 0;
  uint64_t versions = 0;
  std::string kept;  // the encoded key whose newest version at or below C is done
  for (it->Seek(std::string(1, kVersionTag)); it->Valid(); it->Next()) {
    const std::string_view k = it->key().ToStringView();
    const std::string_view encoded = encoded_part(k);
    if (encoded == kept) continue;  // older than that version: compacted away or soon
    const int64_t main = version_key_revision(k).main;
    if (main > revision) continue;  // newer than the hash's revision
    const std::string_view record = it->value().ToStringView();
    if (main <= compacted) {
      kept.assign(encoded);
      bool tombstone = false;
      MERIDIAN_ASSERT(record_is_tombstone(record, &tombstone), "corrupt version record");
      if (tombstone) continue;  // compaction drops it
    }
    crc = crc32c_extend(crc, k.data(), k.size());
    crc = crc32c_extend(crc, record.data(), record.size());
    ++versions;
  }
  if (!it->status().ok()) return Errc::kCorrupt;
  out->hash = crc;
  out->revision = revision;
  out->compact_revision = compacted;
  out->versions = versions;
  return Errc::kOk;
}

}  // namespace meridian::kv
