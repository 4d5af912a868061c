// MvccStore::snapshot and restore: a round trip keeps everything (history,
// revisions, applied index, compaction), replaces what was there, and a
// damaged snapshot is refused with nothing changed.
#include <gtest/gtest.h>

#include "kv/mvcc_store.h"
#include "kv/snapshot_codec.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::keys_of;
using testing::RecordingListener;
using testing::StoreTest;
using testing::TempDir;

const std::string kZero(1, '\0');

// Everything a client can observe, at every revision from the compacted one.
std::string observable(MvccStore& s) {
  std::string out = std::to_string(s.revision()) + "/" + std::to_string(s.compact_revision()) +
                    "/" + std::to_string(s.applied_index().value()) + "\n";
  for (int64_t rev = std::max<int64_t>(1, s.compact_revision()); rev <= s.revision(); ++rev) {
    etcdpb::RangeResponse r;
    EXPECT_EQ(s.range(testing::range_request(kZero, kZero, rev), &r), Errc::kOk);
    out += r.ShortDebugString() + "\n";
  }
  std::vector<mvccpb::Event> events;
  int64_t next = 0;
  EXPECT_EQ(s.history(kZero, kZero, s.compact_revision(), s.revision(), true, 0, &events, &next),
            Errc::kOk);
  for (const auto& ev : events) out += ev.ShortDebugString() + "\n";
  return out;
}

class SnapshotTest : public StoreTest {
 protected:
  SnapshotTest() { write_compacted_history(); }
};

TEST_F(SnapshotTest, RoundTripIntoAFreshStore) {
  const std::string snap = store_->snapshot();
  TempDir other;
  auto fresh = testing::open_store(other.path());
  RecordingListener listener;
  fresh->set_listener(&listener);
  ASSERT_TRUE(fresh->restore(snap).is_ok());
  EXPECT_EQ(listener.resets(), std::vector<int64_t>{store_->revision()});
  fresh->set_listener(nullptr);
  EXPECT_EQ(observable(*fresh), observable(*store_));
  EXPECT_EQ(fresh->applied_index(), store_->applied_index());
  EXPECT_EQ(fresh->snapshot(), snap);  // the same records, the same bytes
  // It survives a restart and keeps working.
  fresh.reset();
  fresh = testing::open_store(other.path());
  EXPECT_EQ(observable(*fresh), observable(*store_));
  etcdpb::PutResponse resp;
  ASSERT_EQ(fresh->put(raft::Index{100}, testing::put_request("new", "1"), &resp), Errc::kOk);
  EXPECT_EQ(resp.header().revision(), store_->revision() + 1);
}

TEST_F(SnapshotTest, RestoreReplacesEverything) {
  const std::string snap = store_->snapshot();
  const std::string before = observable(*store_);
  // Diverge: more writes, another compaction, a higher applied index.
  put("extra", "1");
  del("k1");
  compact(store_->revision());
  ASSERT_TRUE(store_->restore(snap).is_ok());
  EXPECT_EQ(observable(*store_), before);
  EXPECT_EQ(value_at("extra"), "<none>");
  reopen();
  EXPECT_EQ(observable(*store_), before);
}

TEST_F(SnapshotTest, ADamagedSnapshotChangesNothing) {
  const std::string snap = store_->snapshot();
  TempDir other;
  auto target = testing::open_store(other.path());
  etcdpb::PutResponse resp;
  ASSERT_EQ(target->put(raft::Index{5}, testing::put_request("keep", "me"), &resp), Errc::kOk);
  const std::string before = observable(*target);
  for (size_t cut = 0; cut < snap.size(); cut += 7) {
    EXPECT_FALSE(target->restore(snap.substr(0, cut)).is_ok()) << cut;
  }
  EXPECT_FALSE(target->restore(snap + "x").is_ok());
  for (size_t i = 0; i < snap.size(); i += 5) {
    std::string bad = snap;
    bad[i] ^= 0x10;
    const base::Status s = target->restore(bad);
    EXPECT_FALSE(s.is_ok()) << i;
    EXPECT_EQ(s.code(), base::Code::kCorruption);
  }
  EXPECT_EQ(observable(*target), before);
}

TEST(SnapshotCodecTest, ChecksRecordsBehindAValidChecksum) {
  // A snapshot whose checksum is right but whose records are not is refused too.
  auto encode = [](const std::vector<std::pair<std::string, std::string>>& records) {
    SnapshotEncoder enc;
    for (const auto& [k, v] : records) enc.add(k, v);
    return std::move(enc).finish();
  };
  const std::string be8(8, '\0');
  std::string rev1 = be8;
  rev1[7] = 1;
  std::vector<std::pair<std::string, std::string>> meta = {{"mapplied", be8 + rev1},
                                                           {"mcompact_at", be8 + be8},
                                                           {"mcompacted", be8},
                                                           {"mformat", std::string(1, '\x01')}};
  SnapshotContents c;
  EXPECT_TRUE(decode_snapshot(encode(meta), &c).is_ok());
  EXPECT_EQ(c.meta.revision, 1);
  auto without = meta;
  without.erase(without.begin());
  EXPECT_FALSE(decode_snapshot(encode(without), &c).is_ok());  // missing meta
  auto unknown = meta;
  unknown.insert(unknown.begin(), {"k-not-a-version-key", "x"});
  EXPECT_FALSE(decode_snapshot(encode(unknown), &c).is_ok());
  auto bad_record = meta;
  bad_record.insert(bad_record.begin(), {version_key("a", Revision{1, 0}), "\x01\x07"});
  EXPECT_FALSE(decode_snapshot(encode(bad_record), &c).is_ok());
  auto good_record = meta;
  good_record.insert(good_record.begin(), {version_key("a", Revision{1, 0}), "\x01\x02"});
  EXPECT_TRUE(decode_snapshot(encode(good_record), &c).is_ok());
  auto unordered = meta;
  std::swap(unordered[0], unordered[1]);
  EXPECT_FALSE(decode_snapshot(encode(unordered), &c).is_ok());
  auto other_tag = meta;
  other_tag.push_back({"x", "y"});
  EXPECT_FALSE(decode_snapshot(encode(other_tag), &c).is_ok());
}

TEST_F(StoreTest, RestoreResumesAPendingCompaction) {
  for (int i = 0; i < 50; ++i) put("k", std::to_string(i));
  compact(40, /*physical=*/false);
  const std::string snap = store_->snapshot();  // maybe mid-compaction
  TempDir other;
  auto fresh = testing::open_store(other.path());
  ASSERT_TRUE(fresh->restore(snap).is_ok());
  fresh->wait_for_compaction();
  EXPECT_EQ(fresh->compact_revision(), 40);
  fresh.reset();
  const auto raw = testing::raw_contents(other.path());
  EXPECT_EQ(raw.versions.at("k"), 12);  // revisions 40 .. 51
}

TEST_F(StoreTest, SnapshotsOfTheSameHistoryAreIdentical) {
  TempDir other;
  auto twin = testing::open_store(other.path());
  for (int i = 0; i < 20; ++i) {
    const auto req = testing::put_request("k" + std::to_string(i % 4), std::to_string(i));
    put(req);
    etcdpb::PutResponse r;
    ASSERT_EQ(twin->put(raft::Index{index_}, req, &r), Errc::kOk);
  }
  EXPECT_EQ(store_->snapshot(), twin->snapshot());
  EXPECT_EQ(keys_of(get(kZero, kZero)), "k0,k1,k2,k3");
}

}  // namespace
}  // namespace meridian::kv
