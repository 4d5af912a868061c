// HashKV: members with the same history hash alike at every revision, whatever
// their physical compaction has reached; later writes do not change the hash
// of an earlier revision; and a different history hashes differently.
#include "kv/store_hash.h"

#include <gtest/gtest.h>

#include "kv/compactor.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::StoreTest;
using testing::TempDir;
using testing::with_raw_db;

// Overwrites, deletes (one re-created, one not), and a transaction writing two
// keys in one revision.
void write_history(MvccStore& store, uint64_t* index) {
  auto next = [&] { return raft::Index{++*index}; };
  etcdpb::PutResponse put;
  etcdpb::DeleteRangeResponse del;
  for (int i = 0; i < 30; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    ASSERT_EQ(store.put(next(), testing::put_request(key, "v" + std::to_string(i)), &put),
              Errc::kOk);
  }
  ASSERT_EQ(store.delete_range(next(), testing::delete_request("k3"), &del), Errc::kOk);
  ASSERT_EQ(store.delete_range(next(), testing::delete_request("k5"), &del), Errc::kOk);
  ASSERT_EQ(store.put(next(), testing::put_request("k5", "back"), &put), Errc::kOk);
  etcdpb::TxnRequest txn;
  *txn.add_success() = testing::put_op("k0", "t0");
  *txn.add_success() = testing::put_op("z", "t1");
  etcdpb::TxnResponse txn_resp;
  ASSERT_EQ(store.txn(next(), txn, &txn_resp), Errc::kOk);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(store.put(next(), testing::put_request("k1", "w" + std::to_string(i)), &put),
              Errc::kOk);
  }
}

uint32_t hash_at(const MvccStore& store, int64_t revision) {
  MvccStore::Hash h;
  EXPECT_EQ(store.hash_kv(revision, &h), Errc::kOk) << "revision " << revision;
  return h.hash;
}

TEST_F(StoreTest, HashKvIsTheSameOnMembersWithTheSameHistory) {
  write_history(*store_, &index_);
  TempDir other_dir;
  auto other = testing::open_store(other_dir.path());
  uint64_t other_index = 0;
  write_history(*other, &other_index);
  const int64_t last = store_->revision();
  ASSERT_EQ(other->revision(), last);
  for (int64_t r = 2; r <= last; ++r) EXPECT_EQ(hash_at(*store_, r), hash_at(*other, r)) << r;
  MvccStore::Hash current;
  ASSERT_EQ(store_->hash_kv(0, &current), Errc::kOk);
  EXPECT_EQ(current.revision, last);
  EXPECT_EQ(current.hash, hash_at(*store_, last));
  EXPECT_GT(current.versions, 40u);

  // Later writes leave earlier revisions' hashes alone, and change the latest.
  const uint32_t before = hash_at(*store_, last);
  put("k2", "later");
  EXPECT_EQ(hash_at(*store_, last), before);
  EXPECT_EQ(hash_at(*store_, last), hash_at(*other, last));
  // A different write at the same revision: a different hash.
  etcdpb::PutResponse put_resp;
  ASSERT_EQ(other->put(raft::Index{++other_index}, testing::put_request("k2", "other"), &put_resp),
            Errc::kOk);
  EXPECT_NE(hash_at(*store_, last + 1), hash_at(*other, last + 1));

  // etcd's errors for revisions it cannot hash.
  MvccStore::Hash h;
  EXPECT_EQ(store_->hash_kv(last + 5, &h), Errc::kFutureRevision);
  compact(10);
  EXPECT_EQ(store_->hash_kv(10, &h), Errc::kCompacted);
  EXPECT_EQ(store_->hash_kv(9, &h), Errc::kCompacted);
  ASSERT_EQ(store_->hash_kv(11, &h), Errc::kOk);
  EXPECT_EQ(h.compact_revision, 10);
}

TEST_F(StoreTest, HashKvDoesNotDependOnHowFarPhysicalCompactionGot) {
  write_history(*store_, &index_);
  const int64_t last = store_->revision();
  const int64_t target = last - 12;  // k3's tombstone and k5's re-creation are below it
  store_.reset();
  with_raw_db(dir_.path(), [&](rocksdb::DB& db) {
    MvccStore::Hash whole;  // nothing deleted yet
    ASSERT_EQ(hash_versions(db, nullptr, last, target, &whole), Errc::kOk);
    MvccStore::Hash uncompacted;
    ASSERT_EQ(hash_versions(db, nullptr, last, 0, &uncompacted), Errc::kOk);
    EXPECT_NE(whole.hash, uncompacted.hash);  // the compacted revision matters
    EXPECT_LT(whole.versions, uncompacted.versions);
    // Delete in small chunks, hashing after each: always the same.
    Revision cursor;
    int chunks = 0;
    while (cursor != Revision{target, 0}) {
      cursor = compact_chunk(db, cursor, target, 3);
      ++chunks;
      MvccStore::Hash h;
      ASSERT_EQ(hash_versions(db, nullptr, last, target, &h), Errc::kOk);
      ASSERT_EQ(h.hash, whole.hash) << "after chunk " << chunks;
      ASSERT_EQ(h.versions, whole.versions) << "after chunk " << chunks;
      ASSERT_LT(chunks, 1000) << "compaction does not finish";
    }
    EXPECT_GT(chunks, 3);
  });
}

}  // namespace
}  // namespace meridian::kv
