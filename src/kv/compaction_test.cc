// Compaction: the compacted revision is recorded at once and refuses older
// reads; the background deletion keeps exactly the newest version at or below
// it per key (none if that is a tombstone) and the index from it on; it works
// in bounded chunks that never let an older version show through, and resumes
// after a restart.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <functional>
#include <thread>

#include "kv/compactor.h"
#include "kv/etcd_model_testing.h"
#include "kv/mvcc_store.h"
#include "kv/record_codec.h"
#include "kv/rocksdb_options.h"
#include "kv/store_impl.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::keys_of;
using testing::range_request;
using testing::raw_contents;
using testing::StoreTest;
using testing::with_raw_db;

const std::string kZero(1, '\0');

TEST_F(StoreTest, CompactRefusesOldAndFutureRevisions) {
  put("a", "1");
  put("a", "2");
  etcdpb::CompactionRequest req;
  etcdpb::CompactionResponse resp;
  req.set_revision(4);
  EXPECT_EQ(store_->compact(next_index(), req, &resp), Errc::kFutureRevision);
  req.set_revision(0);  // etcd: accepted once on a never-compacted store
  EXPECT_EQ(store_->compact(next_index(), req, &resp), Errc::kOk);
  EXPECT_EQ(store_->compact(next_index(), req, &resp), Errc::kCompacted);
  req.set_revision(2);
  ASSERT_EQ(store_->compact(next_index(), req, &resp), Errc::kOk);
  EXPECT_EQ(resp.header().revision(), 3);
  EXPECT_EQ(store_->compact_revision(), 2);
  EXPECT_EQ(store_->compact(next_index(), req, &resp), Errc::kCompacted);  // again
  req.set_revision(1);
  EXPECT_EQ(store_->compact(next_index(), req, &resp), Errc::kCompacted);
  req.set_revision(3);
  EXPECT_EQ(store_->compact(next_index(), req, &resp), Errc::kOk);
  EXPECT_EQ(store_->applied_index(), raft::Index{index_});
  EXPECT_EQ(store_->revision(), 3);  // compaction makes no revision
}

TEST_F(StoreTest, CompactionKeepsTheNewestVersionAndDropsTombstones) {
  put("a", "1");  // 2
  put("a", "2");  // 3
  put("b", "1");  // 4
  del("b");       // 5
  put("c", "1");  // 6
  put("a", "3");  // 7
  put("d", "1");  // 8
  del("d");       // 9
  compact(7);
  EXPECT_EQ(value_at("a", 7), "3");
  EXPECT_EQ(value_at("c", 7), "1");
  EXPECT_EQ(value_at("b", 7), "<none>");
  EXPECT_EQ(value_at("d", 8), "1");
  etcdpb::RangeResponse r;
  EXPECT_EQ(store_->range(range_request("a", "", 6), &r), Errc::kCompacted);
  store_.reset();
  const auto raw = raw_contents(dir_.path());
  // a: the version at 7 only; b: nothing (tombstone at 5 <= 7); c: 6;
  // d: its put at 8 and tombstone at 9 (both above 7).
  EXPECT_EQ(raw.versions, (std::map<std::string, int>{{"a", 1}, {"c", 1}, {"d", 2}}));
  EXPECT_EQ(raw.tombstones, (std::map<std::string, int>{{"d", 1}}));
  ASSERT_EQ(raw.index.size(), 3u);  // revisions 7, 8 and 9
  EXPECT_EQ(raw.index[0].main, 7);
}

TEST_F(StoreTest, ATombstoneAtTheCompactedRevisionGoesButItsEventStays) {
  put("a", "1");  // 2
  put("a", "2");  // 3
  del("a");       // 4
  compact(4);
  std::vector<mvccpb::Event> events;
  int64_t next = 0;
  ASSERT_EQ(store_->history("a", "", 4, 4, true, 0, &events, &next), Errc::kOk);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(events[0].kv().mod_revision(), 4);
  EXPECT_FALSE(events[0].has_prev_kv());  // compacted
  store_.reset();
  const auto raw = raw_contents(dir_.path());
  EXPECT_TRUE(raw.versions.empty());
  ASSERT_EQ(raw.index.size(), 1u);
}

TEST_F(StoreTest, RecompactionAndRecreatedKeys) {
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) put("k" + std::to_string(i % 7), std::to_string(round * 20 + i));
    del("k3");
    put("k3", "again");
    compact(store_->revision() - 3, round % 2 == 0);
  }
  store_->wait_for_compaction();
  const int64_t c = store_->compact_revision();
  const auto at_c = get(kZero, kZero, c);
  const auto now = get(kZero, kZero);
  EXPECT_EQ(at_c.count(), 7);
  EXPECT_EQ(now.count(), 7);
  EXPECT_EQ(value_at("k3"), "again");
  EXPECT_EQ(get("k3").kvs(0).version(), 1);
  store_.reset();
  const auto raw = raw_contents(dir_.path());
  for (const auto& [k, n] : raw.versions) EXPECT_LE(n, 4) << k;
  for (const Revision& rev : raw.index) EXPECT_GE(rev.main, c);
}

// Writes meta records straight into a closed store's RocksDB.
// Version records of `key` in the raw DB, newest first: (revision, tombstone).
std::vector<std::pair<int64_t, bool>> raw_versions(rocksdb::DB& db, std::string_view key) {
  std::vector<std::pair<int64_t, bool>> out;
  const std::string prefix = encoded_key(key);
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    bool tombstone = false;
    EXPECT_TRUE(record_is_tombstone(it->value().ToStringView(), &tombstone));
    out.emplace_back(version_key_revision(it->key().ToStringView()).main, tombstone);
  }
  return out;
}

TEST_F(StoreTest, ChunksNeverLetAnOlderVersionShowAndResumeAfterRestart) {
  // One key with many versions, then deleted; another with many versions kept.
  for (int i = 0; i < 2500; ++i) put("many", std::to_string(i));
  del("many");
  for (int i = 0; i < 700; ++i) put("kept", std::to_string(i));
  const int64_t target = store_->revision() - 10;
  store_.reset();
  // As if the node crashed right after recording the compaction.
  with_raw_db(dir_.path(), [&](rocksdb::DB& db) {
    rocksdb::WriteBatch batch;
    put_meta_i64(&batch, kMetaCompacted, target);
    ASSERT_TRUE(db.Write(rocksdb::WriteOptions(), &batch).ok());
    Revision cursor;
    int chunks = 0;
    for (; chunks < 3; ++chunks) {
      cursor = compact_chunk(db, cursor, target, 400);
      ASSERT_NE(cursor, (Revision{target, 0})) << "finished too early";
      // Either the tombstone is still there on top, or nothing of the key is.
      const auto v = raw_versions(db, "many");
      if (!v.empty()) {
        EXPECT_TRUE(v.front().second) << "an old version of a deleted key is visible";
      }
    }
  });
  // Reopen: the compaction resumes on its own.
  store_ = testing::open_store(dir_.path());
  EXPECT_EQ(store_->compact_revision(), target);
  store_->wait_for_compaction();
  EXPECT_EQ(value_at("many", target), "<none>");
  EXPECT_EQ(value_at("kept", target), "689");
  EXPECT_EQ(value_at("kept"), "699");
  store_.reset();
  const auto raw = raw_contents(dir_.path());
  EXPECT_EQ(raw.versions, (std::map<std::string, int>{{"kept", 11}}));
  EXPECT_EQ(raw.index.size(), 11u);  // revisions target .. target + 10
}

TEST_F(StoreTest, ReadersRunWhileCompactionDeletes) {
  // Readers at the current revision and at the compacted one must always see
  // the same answer, whatever the background deletion has done so far.
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 50; ++i) put("key" + std::to_string(i), std::to_string(round));
  }
  const auto expected_now = get(kZero, kZero).SerializeAsString();
  const int64_t target = store_->revision() - 25;
  const auto expected_at_target = get(kZero, kZero, target).SerializeAsString();
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        etcdpb::RangeResponse now;
        etcdpb::RangeResponse old;
        if (store_->range(range_request(kZero, kZero), &now) != Errc::kOk ||
            now.SerializeAsString() != expected_now ||
            store_->range(range_request(kZero, kZero, target), &old) != Errc::kOk ||
            old.SerializeAsString() != expected_at_target) {
          wrong.fetch_add(1);
        }
        reads.fetch_add(1);
      }
    });
  }
  compact(target, /*physical=*/true);
  while (reads.load() < 20) std::this_thread::yield();
  EXPECT_EQ(wrong.load(), 0);
  stop.store(true);
  for (auto& t : readers) t.join();
  store_.reset();
  EXPECT_EQ(raw_contents(dir_.path()).versions.at("key0"), 1);
}

// Defragment gives back what compaction left on disk, and a cancelled one stops.
TEST_F(StoreTest, DefragmentGivesBackTheSpaceOfCompactedVersions) {
  const std::string value(1024, 'd');
  for (int i = 0; i < 3000; ++i) put("d" + std::to_string(i % 10), value);
  compact(store_->revision());  // physical: every version but the last ten is gone
  const uint64_t before = store_->size_bytes();
  EXPECT_GT(before, 2'000'000u);  // the deleted versions still take their space
  std::atomic<bool> cancelled{true};
  const base::Status refused = store_->defragment(&cancelled);
  EXPECT_EQ(refused.code(), base::Code::kUnavailable) << refused;
  const base::Status done = store_->defragment(nullptr);
  ASSERT_TRUE(done.is_ok()) << done;
  const uint64_t after = store_->size_bytes();
  EXPECT_LT(after, before / 10) << "before " << before << ", after " << after;
  EXPECT_EQ(value_at("d3"), value);
  EXPECT_EQ(get("d", "e").kvs_size(), 10);
}

}  // namespace
}  // namespace meridian::kv
