// The store's HashKV: a CRC32C over the versions a read at any revision from
// the compacted revision C to R can see, so that members holding the same
// history give the same hash whatever their physical compaction has reached:
// for each key, in key order, every version with C < revision <= R (puts and
// deletes), then its newest version at or below C if that one is a put. Each
// version adds its version key and its record (docs/formats/kv.md), which are
// the same bytes on every member.
//
// etcd hashes its own layout instead (so the values differ from etcd's), and
// leaves out a version at or below C that a later one replaced even while the
// store still holds it; both are deterministic, which is what HashKV is for:
// comparing members.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>

#include "kv/errors.h"
#include "kv/mvcc_store.h"

namespace meridian::kv {

// Scans the version keys of `db` as of `snapshot` (null: its current state)
// and hashes what is readable from `compacted` to `revision`. kCorrupt if
// RocksDB fails to read; any thread.
Errc hash_versions(rocksdb::DB& db, const rocksdb::Snapshot* snapshot, int64_t revision,
                   int64_t compacted, MvccStore::Hash* out);

}  // namespace meridian::kv
