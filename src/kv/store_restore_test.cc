// MvccStore::restore_from(): an image read in pieces replaces the store, in
// bounded batches; an image that fails partway leaves the store marked
// restoring (empty, applied index 0) until a restore succeeds, and a restart
// starts it afresh.
#include <rocksdb/db.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "kv/kv_state_machine.h"
#include "kv/mvcc_store.h"
#include "kv/store_impl.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::RecordingListener;
using testing::StoreTest;
using testing::TempDir;

const std::string kZero(1, '\0');

// Passes on another source's bytes in pieces of at most piece_bytes, noting
// the largest read asked for; with fail_after set, fails with kUnavailable
// once that many bytes were passed on.
class PieceSource final : public base::ByteSource {
 public:
  PieceSource(base::ByteSource& inner, size_t piece_bytes) : inner_(inner), piece_(piece_bytes) {}
  base::Result<std::string> read(size_t max_bytes) override {
    asked_max_ = std::max(asked_max_, max_bytes);
    if (fail_after && passed_ >= *fail_after) {
      return base::Status(base::Code::kUnavailable, "connection lost");
    }
    auto r = inner_.read(std::min(max_bytes, piece_));
    if (r.is_ok()) passed_ += r.value().size();
    return r;
  }
  size_t asked_max() const { return asked_max_; }
  std::optional<size_t> fail_after;

 private:
  base::ByteSource& inner_;
  const size_t piece_;
  size_t asked_max_ = 0;
  size_t passed_ = 0;
};

class RestoreFromTest : public StoreTest {
 protected:
  RestoreFromTest() {
    write_compacted_history();
    put("after", "compaction");
  }

  // Makes the store's image larger than several restore batches.
  void grow(int values = 40, size_t value_bytes = 256 << 10) {
    for (int i = 0; i < values; ++i) put("big" + std::to_string(i), std::string(value_bytes, 'v'));
  }

  // Expects `target` to hold exactly what store_ does.
  void expect_same(MvccStore& target) {
    EXPECT_EQ(target.snapshot(), store_->snapshot());
    EXPECT_EQ(target.revision(), store_->revision());
    EXPECT_EQ(target.compact_revision(), store_->compact_revision());
    EXPECT_EQ(target.applied_index(), store_->applied_index());
    EXPECT_FALSE(target.restoring());
  }

  // A target store with state of its own.
  std::unique_ptr<MvccStore> open_target() {
    auto s = testing::open_store(target_dir_.path());
    etcdpb::PutResponse resp;
    EXPECT_EQ(s->put(raft::Index{500}, testing::put_request("mine", "1"), &resp), Errc::kOk);
    return s;
  }

  TempDir target_dir_;
};

TEST_F(RestoreFromTest, IntoAFreshStore) {
  TempDir other;
  auto fresh = testing::open_store(other.path());
  RecordingListener listener;
  fresh->set_listener(&listener);
  auto image = store_->image();
  ASSERT_TRUE(fresh->restore_from(*image).is_ok());
  EXPECT_EQ(listener.resets(), std::vector<int64_t>{store_->revision()});
  fresh->set_listener(nullptr);
  expect_same(*fresh);
  fresh.reset();
  fresh = testing::open_store(other.path());
  expect_same(*fresh);
}

TEST_F(RestoreFromTest, ReplacesANonEmptyStoreAcrossManyBatches) {
  grow();
  auto target = open_target();
  auto image = store_->image();
  ASSERT_TRUE(target->restore_from(*image).is_ok());
  expect_same(*target);
  EXPECT_GE(target->last_restore_stats().batches, 3u);
  target.reset();
  target = testing::open_store(target_dir_.path());
  expect_same(*target);
  // The compaction state came along: compact(10) again is refused, a newer one works.
  etcdpb::CompactionRequest c;
  c.set_revision(10);
  etcdpb::CompactionResponse resp;
  EXPECT_EQ(target->compact(raft::Index{1000}, c, &resp), Errc::kCompacted);
}

TEST_F(RestoreFromTest, BatchesAndBuffersStayBounded) {
  grow();
  auto image = store_->image();
  PieceSource source(*image, 300 << 10);  // pieces that cut records in two
  auto target = open_target();
  ASSERT_TRUE(target->restore_from(source).is_ok());
  expect_same(*target);
  const MvccStore::RestoreStats st = target->last_restore_stats();
  const size_t record_max = (256 << 10) + 64;  // the largest record, with its key and lengths
  EXPECT_LE(source.asked_max(), kRestorePieceBytes);
  EXPECT_GE(st.batches, 3u);
  EXPECT_LE(st.batch_bytes_max, kRestoreBatchBytes + record_max);
  EXPECT_GT(st.buffered_bytes_max, 0u);  // records were cut
  EXPECT_LE(st.buffered_bytes_max, (300 << 10) + record_max);
}

TEST_F(RestoreFromTest, ManySmallRecordsFromTinyPieces) {
  for (int i = 0; i < 20000; ++i) put("key" + std::to_string(i), "v");
  auto image = store_->image();
  PieceSource source(*image, 4096);
  auto target = open_target();
  ASSERT_TRUE(target->restore_from(source).is_ok());
  expect_same(*target);
  EXPECT_GT(target->last_restore_stats().records, 40000u);  // versions and index entries
  EXPECT_LE(target->last_restore_stats().buffered_bytes_max, 4096u + 64u);
}

TEST_F(RestoreFromTest, ASmallDamagedImageChangesNothing) {
  // Within the first batch nothing is written until the image has been checked.
  const std::string snap = store_->snapshot();
  auto target = open_target();
  const std::string before = target->snapshot();
  for (const std::string& bad : {snap.substr(0, snap.size() / 2), snap.substr(0, snap.size() - 1),
                                 snap + "x", std::string("garbage")}) {
    base::StringSource source(bad);
    const base::Status s = target->restore_from(source);
    EXPECT_EQ(s.code(), base::Code::kCorruption) << s;
    EXPECT_FALSE(target->restoring());
  }
  EXPECT_EQ(target->snapshot(), before);
}

// Whether the RocksDB directory of a closed store holds the restore marker.
bool has_marker(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string v;
  return db->Get(rocksdb::ReadOptions(), kMetaRestoring, &v).ok();
}

TEST_F(RestoreFromTest, ALargeDamagedImageLeavesTheStoreRestoringUntilARestoreSucceeds) {
  grow();
  const std::string snap = store_->snapshot();
  ASSERT_GT(snap.size(), 2 * kRestoreBatchBytes);
  std::string bad_crc = snap;
  bad_crc.back() ^= 1;
  std::string flipped = snap;
  flipped[snap.size() / 2] ^= 0x10;
  for (const std::string& bad : {snap.substr(0, snap.size() - 3), bad_crc, flipped, snap + "x"}) {
    auto target = open_target();
    RecordingListener listener;
    target->set_listener(&listener);
    base::StringSource source(bad);
    const base::Status s = target->restore_from(source);
    EXPECT_EQ(s.code(), base::Code::kCorruption) << s;
    // Marked restoring: empty, nothing applied, nothing synced.
    EXPECT_TRUE(target->restoring());
    EXPECT_EQ(target->applied_index(), raft::Index{0});
    EXPECT_EQ(target->revision(), 1);
    EXPECT_EQ(listener.resets(), std::vector<int64_t>{1});
    EXPECT_EQ(testing::keys_of([&] {
                etcdpb::RangeResponse r;
                EXPECT_EQ(target->range(testing::range_request(kZero, kZero), &r), Errc::kOk);
                return r;
              }()),
              "");
    EXPECT_EQ(target->sync(raft::Index{7}).code(), base::Code::kFailedPrecondition);
    target->set_listener(nullptr);
    target.reset();
    EXPECT_TRUE(has_marker(target_dir_.path()));
    // Reopened: started afresh at applied index 0, the marker gone.
    target = testing::open_store(target_dir_.path());
    EXPECT_EQ(target->applied_index(), raft::Index{0});
    EXPECT_EQ(target->revision(), 1);
    EXPECT_FALSE(target->restoring());
    target.reset();
    EXPECT_FALSE(has_marker(target_dir_.path()));
  }
  // A good restore after a failed one, without a restart in between.
  auto target = open_target();
  base::StringSource bad(snap.substr(0, snap.size() - 3));
  ASSERT_FALSE(target->restore_from(bad).is_ok());
  ASSERT_TRUE(target->restoring());
  auto image = store_->image();
  ASSERT_TRUE(target->restore_from(*image).is_ok());
  expect_same(*target);
  target.reset();
  EXPECT_FALSE(has_marker(target_dir_.path()));
  target = testing::open_store(target_dir_.path());
  expect_same(*target);
}

TEST_F(RestoreFromTest, ASourceErrorIsReturned) {
  grow();
  const std::string snap = store_->snapshot();
  // Early: nothing was written, nothing changed.
  {
    auto target = open_target();
    base::StringSource inner(snap);
    PieceSource source(inner, 1 << 20);
    source.fail_after = 1 << 20;
    EXPECT_EQ(target->restore_from(source).code(), base::Code::kUnavailable);
    EXPECT_FALSE(target->restoring());
    EXPECT_EQ(target->applied_index(), raft::Index{500});
  }
  // Late: the store is left restoring.
  auto target = open_target();
  base::StringSource inner(snap);
  PieceSource source(inner, 1 << 20);
  source.fail_after = snap.size() - 10;
  EXPECT_EQ(target->restore_from(source).code(), base::Code::kUnavailable);
  EXPECT_TRUE(target->restoring());
}

TEST_F(RestoreFromTest, StateMachineReportsNothingAppliedWhileRestoring) {
  grow();
  const std::string snap = store_->snapshot();
  KvStateMachine sm(open_target());
  EXPECT_EQ(sm.durable_applied_index(), raft::Index{500});
  base::StringSource bad(snap.substr(0, snap.size() - 1));
  EXPECT_EQ(sm.restore_from(bad).code(), base::Code::kCorruption);
  EXPECT_EQ(sm.durable_applied_index(), raft::Index{0});
  auto image = store_->image();
  ASSERT_TRUE(sm.restore_from(*image).is_ok());
  EXPECT_EQ(sm.durable_applied_index(), raft::Index{static_cast<uint64_t>(index_)});
  EXPECT_EQ(sm.snapshot(), snap);
}

TEST_F(RestoreFromTest, TheStringRestoreChecksEverythingFirst) {
  grow();
  const std::string snap = store_->snapshot();
  auto target = open_target();
  const std::string before = target->snapshot();
  EXPECT_EQ(target->restore(snap.substr(0, snap.size() - 1)).code(), base::Code::kCorruption);
  EXPECT_FALSE(target->restoring());
  EXPECT_EQ(target->snapshot(), before);
  ASSERT_TRUE(target->restore(snap).is_ok());
  expect_same(*target);
  EXPECT_GE(target->last_restore_stats().batches, 3u);
}

}  // namespace
}  // namespace meridian::kv
