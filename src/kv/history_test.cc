// MvccStore::history (watchers catching up) and the events the listener gets.
#include <gtest/gtest.h>

#include "kv/mvcc_store.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::delete_op;
using testing::put_op;
using testing::RecordingListener;
using testing::StoreTest;

const std::string kZero(1, '\0');

// "type key@mod_revision[=value][ prev=value@mod]" per event, joined by ' '.
std::string describe(const std::vector<mvccpb::Event>& events) {
  std::string out;
  for (const auto& ev : events) {
    if (!out.empty()) out += ' ';
    out += ev.type() == mvccpb::Event::PUT ? "put " : "del ";
    out += ev.kv().key() + "@" + std::to_string(ev.kv().mod_revision());
    if (ev.type() == mvccpb::Event::PUT) out += "=" + ev.kv().value();
    if (ev.has_prev_kv()) {
      out += " prev=" + ev.prev_kv().value() + "@" + std::to_string(ev.prev_kv().mod_revision());
    }
  }
  return out;
}

class HistoryTest : public StoreTest {
 protected:
  HistoryTest() {
    put("a", "1");  // 2
    put("b", "1");  // 3
    put("a", "2");  // 4
    etcdpb::TxnRequest t;
    *t.add_success() = put_op("c", "1");
    *t.add_success() = delete_op("a");
    *t.add_success() = put_op("b", "2");
    txn(t);         // 5: c, a deleted, b
    put("a", "3");  // 6
  }

  std::string history(std::string_view key, std::string_view end, int64_t from, int64_t to,
                      bool prev, size_t max = 0, int64_t* next_out = nullptr) {
    std::vector<mvccpb::Event> events;
    int64_t next = 0;
    const Errc e = store_->history(key, end, from, to, prev, max, &events, &next);
    if (e != Errc::kOk) return errc_message(e);
    if (next_out != nullptr) *next_out = next;
    return describe(events);
  }
};

TEST_F(HistoryTest, EverythingInRevisionAndSubRevisionOrder) {
  int64_t next = 0;
  EXPECT_EQ(history(kZero, kZero, 1, 100, false, 0, &next),
            "put a@2=1 put b@3=1 put a@4=2 put c@5=1 del a@5 put b@5=2 put a@6=3");
  EXPECT_EQ(next, 7);  // to is capped at the current revision
}

TEST_F(HistoryTest, PrevKvs) {
  EXPECT_EQ(history(kZero, kZero, 4, 6, true),
            "put a@4=2 prev=1@2 put c@5=1 del a@5 prev=2@4 put b@5=2 prev=1@3 put a@6=3");
}

TEST_F(HistoryTest, KeyRanges) {
  EXPECT_EQ(history("a", "", 1, 6, false), "put a@2=1 put a@4=2 del a@5 put a@6=3");
  EXPECT_EQ(history("b", "c", 1, 6, false), "put b@3=1 put b@5=2");
  EXPECT_EQ(history("b", kZero, 4, 6, false), "put c@5=1 put b@5=2");
  EXPECT_EQ(history("x", "", 1, 6, false), "");
}

TEST_F(HistoryTest, PagesHoldWholeRevisions) {
  int64_t next = 0;
  EXPECT_EQ(history(kZero, kZero, 2, 6, false, 3, &next), "put a@2=1 put b@3=1 put a@4=2");
  EXPECT_EQ(next, 5);
  // Revision 5 has three events: with room for two it waits for the next page...
  EXPECT_EQ(history(kZero, kZero, 4, 6, false, 2, &next), "put a@4=2");
  EXPECT_EQ(next, 5);
  // ...and alone it comes whole, past the page size.
  EXPECT_EQ(history(kZero, kZero, 5, 6, false, 2, &next), "put c@5=1 del a@5 put b@5=2");
  EXPECT_EQ(next, 6);
  EXPECT_EQ(history(kZero, kZero, 6, 6, false, 2, &next), "put a@6=3");
  EXPECT_EQ(next, 7);
  EXPECT_EQ(history(kZero, kZero, 7, 10, false, 2, &next), "");
  EXPECT_EQ(next, 7);
  // A filtered page: next skips revisions without matching events.
  EXPECT_EQ(history("c", "", 2, 6, false, 1, &next), "put c@5=1");
  EXPECT_EQ(next, 7);
}

TEST_F(HistoryTest, CompactedHistory) {
  compact(5);
  EXPECT_EQ(history(kZero, kZero, 4, 6, true), errc_message(Errc::kCompacted));
  // From the compacted revision on: its events stay, without prev_kv.
  EXPECT_EQ(history(kZero, kZero, 5, 6, true), "put c@5=1 del a@5 put b@5=2 put a@6=3");
}

TEST_F(StoreTest, ListenerGetsEveryWritesEventsInOrder) {
  RecordingListener listener;
  store_->set_listener(&listener);
  put("a", "1");
  put("a", "2");
  del("a");
  del("a");  // nothing: no events
  etcdpb::TxnRequest read_only;
  *read_only.add_success() = testing::range_op("a");
  txn(read_only);  // nothing either
  compact(3);
  store_->set_listener(nullptr);
  put("b", "1");  // not seen
  const auto batches = listener.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].revision, 2);
  EXPECT_EQ(describe(batches[0].events), "put a@2=1");
  EXPECT_EQ(batches[1].revision, 3);
  EXPECT_EQ(describe(batches[1].events), "put a@3=2 prev=1@2");
  EXPECT_EQ(batches[2].revision, 4);
  EXPECT_EQ(describe(batches[2].events), "del a@4 prev=2@3");
  EXPECT_EQ(batches[2].events[0].kv().create_revision(), 0);  // a delete's kv: key, mod only
  EXPECT_EQ(batches[2].events[0].kv().version(), 0);
  EXPECT_EQ(listener.compacted(), std::vector<int64_t>{3});
  EXPECT_EQ(batches[1].events[0].kv().version(), 2);
  EXPECT_EQ(batches[1].events[0].kv().create_revision(), 2);
}

}  // namespace
}  // namespace meridian::kv
