// Reading the keys of a range as they were at one revision.
//
// KvSource is a stream of live key-values in key order (what a Range answers
// from); KeyScanner is the store's: it walks the version keys of the range with
// one RocksDB iterator, and for each user key lands on its newest version at or
// below the revision (skipping newer ones with one seek, and older ones with a
// few steps, or a seek past them when there are many), so reading at the
// current revision costs about one step per version.
// A scanner belongs to one thread; the views it returns last until next().
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <string_view>

#include "etcd/mvcc/mvccpb/kv.pb.h"
#include "kv/key_codec.h"
#include "kv/record_codec.h"

namespace meridian::kv {

// One live key-value; views valid until the source's next call.
struct KvRef {
  std::string_view key;
  std::string_view value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;

  // Bytes this kv counts for against StoreOptions::max_range_bytes.
  uint64_t size_bytes(bool keys_only) const { return key.size() + (keys_only ? 0 : value.size()); }
  void fill(mvccpb::KeyValue* kv, bool keys_only) const;
};

class KvSource {
 public:
  virtual ~KvSource() = default;
  // The next live key-value, or null at the end.
  virtual const KvRef* next() = 0;
};

class KeyScanner final : public KvSource {
 public:
  // Keys of etcd's range forms (key, range_end) at `revision` (>= 1), read from
  // `db`'s current state.
  KeyScanner(rocksdb::DB& db, std::string_view key, std::string_view range_end, int64_t revision);
  const KvRef* next() override;

 private:
  // Moves the iterator past the versions of current_, to the next user key.
  void skip_rest_of_key();
  // Continues the scan, from the key after current_, on an iterator that leaves
  // RocksDB's block cache as it is.
  void stop_filling_cache();

  struct SnapshotRelease {
    rocksdb::DB* db;
    void operator()(const rocksdb::Snapshot* s) const { db->ReleaseSnapshot(s); }
  };

  rocksdb::DB& db_;
  VersionKeyBounds bounds_;
  rocksdb::Slice upper_;
  // A range reads one snapshot, whichever iterator it is on (a compaction
  // between the two must not show). Declared before it_, so released after it.
  std::unique_ptr<const rocksdb::Snapshot, SnapshotRelease> snapshot_;
  std::unique_ptr<rocksdb::Iterator> it_;
  uint64_t returned_ = 0;  // kvs returned
  bool filling_cache_ = true;
  int64_t revision_;
  bool single_key_;  // a range of one key: done after its kv
  bool started_ = false;
  std::string seek_;
  std::string current_;  // encoded key of the kv returned last
  std::string key_scratch_;
  KvRef ref_;
};

}  // namespace meridian::kv
