#include "kv/range_reader.h"

#include "base/assert.h"
#include "kv/rocksdb_options.h"

namespace meridian::kv {

namespace {
// Older versions of a key are stepped over up to this many times before
// seeking past them: measured (100k keys of 4 versions, memtable and L0), a
// step costs about 0.3 us and a seek about 3 us, so stepping wins up to about
// ten versions, and compaction keeps most keys well below that.
constexpr int kStepsBeforeSeek = 8;
// A range that has returned this many kvs goes on without filling RocksDB's
// block cache: a scan of a million keys would otherwise push the whole cache
// out (the working set of point reads with it), and each block it reads would
// stay allocated until evicted, often in another thread's malloc arena, which
// kept a node ~300 MiB larger after one such scan. Small ranges, the common
// case (a prefix of a service's keys), still warm the cache.
constexpr uint64_t kCachedKvsMax = 10000;
}  // namespace

void KvRef::fill(mvccpb::KeyValue* kv, bool keys_only) const {
  kv->set_key(key.data(), key.size());
  if (!keys_only) kv->set_value(value.data(), value.size());
  kv->set_create_revision(create_revision);
  kv->set_mod_revision(mod_revision);
  kv->set_version(version);
  kv->set_lease(lease);
}

KeyScanner::KeyScanner(rocksdb::DB& db, std::string_view key, std::string_view range_end,
                       int64_t revision)
    : db_(db),
      bounds_(version_key_bounds(key, range_end)),
      upper_(bounds_.end),
      snapshot_(nullptr, SnapshotRelease{&db}),
      revision_(revision),
      single_key_(range_end.empty()) {
  MERIDIAN_ASSERT(revision >= 1, "scan at revision ", revision);
  rocksdb::ReadOptions ro =
      range_end.empty() ? single_key_read_options() : total_order_read_options();
  if (!single_key_) {
    snapshot_.reset(db.GetSnapshot());
    ro.snapshot = snapshot_.get();
  }
  ro.iterate_upper_bound = &upper_;
  it_.reset(db.NewIterator(ro));
}

void KeyScanner::stop_filling_cache() {
  rocksdb::ReadOptions ro = total_order_read_options();
  ro.snapshot = snapshot_.get();
  ro.iterate_upper_bound = &upper_;
  ro.fill_cache = false;
  it_.reset(db_.NewIterator(ro));
  it_->Seek(after_versions(current_));
  filling_cache_ = false;
}

void KeyScanner::skip_rest_of_key() {
  for (int i = 0; i < kStepsBeforeSeek; ++i) {
    it_->Next();
    if (!it_->Valid() || encoded_part(it_->key().ToStringView()) != current_) return;
  }
  it_->Seek(after_versions(current_));
}

const KvRef* KeyScanner::next() {
  if (started_) {
    // One key has one live version at most; and its iterator is in prefix
    // mode, where seeking past the key is not defined.
    if (single_key_) return nullptr;
    if (filling_cache_ && returned_ >= kCachedKvsMax) {
      stop_filling_cache();
    } else {
      skip_rest_of_key();
    }
  } else {
    started_ = true;
    if (bounds_.begin >= bounds_.end) return nullptr;
    it_->Seek(bounds_.begin);
  }
  while (it_->Valid()) {
    std::string_view rk = it_->key().ToStringView();
    MERIDIAN_ASSERT(rk.size() >= 3 + kRevisionBytes && rk[0] == kVersionTag, "bad version key");
    Revision rev = version_key_revision(rk);
    if (rev.main > revision_) {
      // Newer than the revision read: seek to this key's newest version at or
      // below it.
      seek_.assign(encoded_part(rk));
      const size_t encoded_size = seek_.size();
      append_inverted_revision(&seek_, Revision{revision_, kSubMax});
      it_->Seek(seek_);
      if (!it_->Valid()) break;
      rk = it_->key().ToStringView();
      // No version at or below the revision: we are at the next key already.
      if (encoded_part(rk) != std::string_view(seek_).substr(0, encoded_size)) continue;
      rev = version_key_revision(rk);
    }
    current_.assign(encoded_part(rk));
    VersionRecord record;
    MERIDIAN_ASSERT(decode_record(it_->value().ToStringView(), &record),
                    "corrupt version record at revision ", rev.main, ".", rev.sub);
    if (record.tombstone) {
      if (single_key_) break;
      skip_rest_of_key();
      continue;
    }
    ref_.key = decode_user_key(current_, &key_scratch_);
    ref_.value = record.value;
    ref_.create_revision = record.create_revision;
    ref_.mod_revision = rev.main;
    ref_.version = record.version;
    ref_.lease = record.lease;
    ++returned_;
    return &ref_;
  }
  MERIDIAN_ASSERT(it_->status().ok(), "reading the kv store: ", it_->status().ToString());
  return nullptr;
}

}  // namespace meridian::kv
