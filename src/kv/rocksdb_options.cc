#include "kv/rocksdb_options.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <algorithm>

#include "kv/key_codec.h"

namespace meridian::kv {

namespace {

constexpr uint64_t kMiB = 1ull << 20;

// A version key's prefix: its encoded key, 'k' escaped(key) 0x00 0x01
// (key_codec.h). Other keys (meta, revision index) are out of the domain.
class EncodedKeyPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "meridian.kv.EncodedKeyPrefix.1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), prefix_size(key));
  }
  bool InDomain(const rocksdb::Slice& key) const override { return prefix_size(key) > 0; }

 private:
  // Bytes up to and including the terminator; 0 if there is none.
  static size_t prefix_size(const rocksdb::Slice& key) {
    if (key.empty() || key[0] != kVersionTag) return 0;
    for (size_t i = 1; i + 1 < key.size(); ++i) {
      if (key[i] != '\0') continue;
      if (key[i + 1] == '\x01') return i + 2;
      ++i;  // an escaped zero byte: 0x00 0xff
    }
    return 0;
  }
};

}  // namespace

rocksdb::ReadOptions single_key_read_options() {
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  return ro;
}

rocksdb::ReadOptions total_order_read_options() {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  return ro;
}

rocksdb::Options rocksdb_options(const StoreOptions& options) {
  rocksdb::Options o;
  o.create_if_missing = true;
  // Writes arrive one small batch per applied entry; a 64 MiB memtable absorbs
  // a burst of ~200k small puts before a flush, and three of them let a flush
  // run while writes continue (the apply thread must never stall on one).
  o.write_buffer_size = 64 * kMiB;
  o.max_write_buffer_number = 3;
  // Leveled compaction with dynamic level sizes keeps space amplification near
  // 1.1 whatever the data size (etcd users watch the db size).
  o.level_compaction_dynamic_level_bytes = true;
  o.target_file_size_base = 64 * kMiB;
  o.max_bytes_for_level_base = 256 * kMiB;
  // Flushes and compactions share two background threads: the machine's cores
  // are also the Raft, network and client-port threads'.
  o.max_background_jobs = 2;
  // Compactions (the low-priority pool) at background priority, as the store's
  // own compactor (base/thread_priority.h); flushes stay at normal priority,
  // since writes stall when memtables cannot be flushed.
  o.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW);
  // Write dirty pages back steadily rather than in bursts at file close.
  o.bytes_per_sync = kMiB;
  o.wal_bytes_per_sync = kMiB;
  // LZ4 costs little CPU (on the background threads, at flush and compaction)
  // and typical etcd values (JSON, protobuf) shrink well; without it, none.
  const auto supported = rocksdb::GetSupportedCompressions();
  const bool lz4 =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
  o.compression = lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  // One writer (the apply thread; the compactor's small batches are rare):
  // concurrent memtable inserts buy nothing, and turning them off allows insert
  // hints. The hint per tag byte makes the inserts that follow the previous one
  // of their kind cheap: revision-index keys only ever grow, meta records are
  // rewritten in place, and version keys of sequential user keys come in order.
  o.allow_concurrent_memtable_write = false;
  o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
  // Prefix blooms (see rocksdb_options.h): a put of a new key, the commonest
  // write, then reads no memtable skiplist and no table index to learn that the
  // key has no version. 3% of the memtable is about 10 bits per prefix at
  // typical key and value sizes.
  o.prefix_extractor.reset(new EncodedKeyPrefix());
  o.memtable_prefix_bloom_size_ratio = 0.03;
  // The WAL buffer goes to the file from a background thread (wal_flusher.h),
  // not with a write(2) per applied entry.
  o.manual_wal_flush = true;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.keep_log_file_num = 4;

  rocksdb::BlockBasedTableOptions t;
  if (options.block_cache_bytes > 0) {
    t.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  } else {
    t.no_block_cache = true;
  }
  // Ranges read many consecutive keys: 16 KiB blocks halve the per-block cost
  // of scans compared with the default 4 KiB at little cost to point reads.
  t.block_size = 16 * 1024;
  // Prefix blooms only: the store never looks up a whole version key.
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.whole_key_filtering = false;
  // Index and filter blocks live in the cache (bounded memory), with L0's
  // pinned since every read consults them.
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace meridian::kv
