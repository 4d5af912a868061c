// The RocksDB options of the MVCC store, with the reason for each
// (rocksdb_options.cc). Pure; any thread.
#pragma once

#include <rocksdb/options.h>

#include "kv/mvcc_store.h"

namespace meridian::kv {

rocksdb::Options rocksdb_options(const StoreOptions& options);

// The options' prefix extractor maps a version key to its encoded key (all its
// versions share it), so that a bloom filter over prefixes tells whether a key
// has any version in a memtable or table file without searching it. Only
// iterators over one key use it (ReadOptions::prefix_same_as_start); every
// other iterator must set total_order_seek (readers_options() does).
rocksdb::ReadOptions single_key_read_options();
rocksdb::ReadOptions total_order_read_options();

}  // namespace meridian::kv
