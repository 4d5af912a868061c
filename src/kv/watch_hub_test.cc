#include "kv/watch_hub.h"

#include <gtest/gtest.h>
#include <malloc.h>  // mallinfo2 (glibc)
#include <stdlib.h>  // mkdtemp (POSIX)

#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "observe/metrics.h"

namespace meridian::kv {
namespace {

using etcdserverpb::WatchCreateRequest;
using etcdserverpb::WatchResponse;
using std::chrono::milliseconds;

// A stream's consumer: pops every response into a list; waits (with a generous
// deadline, never a timing assertion) for what a test expects.
class Consumer final : public WatchSink {
 public:
  explicit Consumer(WatchHub& hub) : stream_(hub.open_stream(this)) {}
  ~Consumer() override { stream_->close(); }

  WatchStream& stream() { return *stream_; }
  void on_ready() override {
    std::lock_guard lock(mu_);
    ++ready_;
    cv_.notify_all();
  }

  // Pops what is queued; returns how many responses it took.
  size_t drain(size_t max = SIZE_MAX) {
    size_t n = 0;
    WatchResponse r;
    bool fragment = false;
    while (n < max && stream_->pop(&r, &fragment)) {
      responses_.push_back(r);
      ++n;
    }
    return n;
  }

  // Drains until pred() holds; false after 20 s.
  template <class Pred>
  bool wait_for(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      drain();
      if (pred()) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, milliseconds(5));
    }
  }

  WatchResponse create(const WatchCreateRequest& req) {
    const size_t before = responses_.size();
    stream_->create(req);
    EXPECT_TRUE(wait_for([&] {
      for (size_t i = before; i < responses_.size(); ++i) {
        if (responses_[i].created()) return true;
      }
      return false;
    }));
    for (size_t i = before; i < responses_.size(); ++i) {
      if (responses_[i].created()) return responses_[i];
    }
    return WatchResponse();
  }

  // Every event delivered to `id`, in order.
  std::vector<mvccpb::Event> events(int64_t id) const {
    std::vector<mvccpb::Event> out;
    for (const auto& r : responses_) {
      if (r.watch_id() != id) continue;
      for (const auto& ev : r.events()) out.push_back(ev);
    }
    return out;
  }
  // Revision of the last event delivered to `id` (0 if none).
  int64_t last_revision(int64_t id) const {
    auto evs = events(id);
    return evs.empty() ? 0 : evs.back().kv().mod_revision();
  }
  std::vector<WatchResponse>& responses() { return responses_; }

 private:
  std::shared_ptr<WatchStream> stream_;
  std::vector<WatchResponse> responses_;
  std::mutex mu_;
  std::condition_variable cv_;
  int ready_ = 0;
};

WatchCreateRequest watch_req(const std::string& key, const std::string& end = "",
                             int64_t start = 0) {
  WatchCreateRequest r;
  r.set_key(key);
  r.set_range_end(end);
  r.set_start_revision(start);
  return r;
}

// What a write did, as the watchers should see it.
struct Written {
  int64_t revision;
  mvccpb::Event::EventType type;
  std::string key, value;
  std::string prev_value;  // "" when the key did not exist
};

bool in_range(const std::string& k, const std::string& key, const std::string& end) {
  if (end.empty()) return k == key;
  if (end == std::string(1, '\0')) return k >= key;
  return k >= key && k < end;
}

class WatchHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "watch_hub_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    StoreOptions options;
    options.dir = dir_;
    options.block_cache_bytes = 8ull << 20;
    auto store = MvccStore::open(options);
    ASSERT_TRUE(store.is_ok()) << store.status();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    stop_hub();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start_hub(WatchHubOptions options = {}) {
    hub_ = std::make_unique<WatchHub>(*store_, options);
    store_->set_listener(hub_.get());
  }
  void stop_hub() {
    if (store_) store_->set_listener(nullptr);
    hub_.reset();
  }

  int64_t put(const std::string& key, const std::string& value) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    req.set_prev_kv(true);
    etcdserverpb::PutResponse resp;
    EXPECT_EQ(store_->put(raft::Index{++index_}, req, &resp), Errc::kOk);
    log_.push_back({resp.header().revision(), mvccpb::Event::PUT, key, value,
                    resp.has_prev_kv() ? resp.prev_kv().value() : ""});
    return resp.header().revision();
  }
  int64_t del(const std::string& key) {
    etcdserverpb::DeleteRangeRequest req;
    req.set_key(key);
    req.set_prev_kv(true);
    etcdserverpb::DeleteRangeResponse resp;
    EXPECT_EQ(store_->delete_range(raft::Index{++index_}, req, &resp), Errc::kOk);
    if (resp.deleted() > 0) {
      log_.push_back(
          {resp.header().revision(), mvccpb::Event::DELETE, key, "", resp.prev_kvs(0).value()});
    }
    return resp.header().revision();
  }
  // One revision putting every key.
  int64_t txn_put(const std::vector<std::string>& keys, const std::string& value) {
    etcdserverpb::TxnRequest req;
    for (const auto& k : keys) {
      auto* put = req.add_success()->mutable_request_put();
      put->set_key(k);
      put->set_value(value);
      put->set_prev_kv(true);
    }
    etcdserverpb::TxnResponse resp;
    EXPECT_EQ(store_->txn(raft::Index{++index_}, req, &resp), Errc::kOk);
    for (int i = 0; i < resp.responses_size(); ++i) {
      const auto& p = resp.responses(i).response_put();
      log_.push_back({resp.header().revision(), mvccpb::Event::PUT, keys[i], value,
                      p.has_prev_kv() ? p.prev_kv().value() : ""});
    }
    return resp.header().revision();
  }
  void compact(int64_t revision) {
    etcdserverpb::CompactionRequest req;
    req.set_revision(revision);
    req.set_physical(true);
    etcdserverpb::CompactionResponse resp;
    ASSERT_EQ(store_->compact(raft::Index{++index_}, req, &resp), Errc::kOk);
  }

  // The writes a watcher of [key, end) must see, from revision `from`.
  std::vector<Written> expected(const std::string& key, const std::string& end,
                                int64_t from) const {
    std::vector<Written> out;
    for (const auto& w : log_) {
      if (w.revision >= from && in_range(w.key, key, end)) out.push_back(w);
    }
    return out;
  }

  // Exactly the expected events, in order, each once, with prev_kv as asked.
  static void check_events(const std::vector<mvccpb::Event>& got, const std::vector<Written>& want,
                           bool prev_kv, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) {
      const auto& ev = got[i];
      ASSERT_EQ(ev.kv().mod_revision(), want[i].revision) << what << " event " << i;
      ASSERT_EQ(ev.type(), want[i].type) << what << " event " << i;
      ASSERT_EQ(ev.kv().key(), want[i].key) << what << " event " << i;
      ASSERT_EQ(ev.kv().value(), want[i].value) << what << " event " << i;
      if (prev_kv && !want[i].prev_value.empty()) {
        ASSERT_TRUE(ev.has_prev_kv()) << what << " event " << i;
        ASSERT_EQ(ev.prev_kv().value(), want[i].prev_value) << what << " event " << i;
      } else {
        ASSERT_FALSE(ev.has_prev_kv()) << what << " event " << i;
      }
    }
  }

  std::string dir_;
  std::unique_ptr<MvccStore> store_;
  std::unique_ptr<WatchHub> hub_;
  uint64_t index_ = 0;
  std::vector<Written> log_;
};

TEST_F(WatchHubTest, CreatedFirstThenLiveEventsOfKeysAndPrefixes) {
  put("a", "0");
  start_hub();
  Consumer c(*hub_);
  const WatchResponse created = c.create(watch_req("a"));
  EXPECT_EQ(created.watch_id(), 0);
  EXPECT_EQ(created.header().revision(), store_->revision());
  EXPECT_FALSE(created.canceled());
  EXPECT_EQ(c.create(watch_req("p/", "p0")).watch_id(), 1);                 // prefix p/
  EXPECT_EQ(c.create(watch_req("m", std::string(1, '\0'))).watch_id(), 2);  // from "m"

  put("a", "1");
  put("p/x", "2");
  put("b", "3");
  put("p0", "4");  // just past the prefix
  const int64_t last = del("a");
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(0) == last; }));
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(2) == last - 1; }));
  check_events(c.events(0), expected("a", "", 3), false, "key a");
  check_events(c.events(1), expected("p/", "p0", 3), false, "prefix p/");
  check_events(c.events(2), expected("m", std::string(1, '\0'), 3), false, "from m");
  // A response's header revision covers its events.
  for (const auto& r : c.responses()) {
    if (r.events_size() == 0) continue;
    EXPECT_GE(r.header().revision(), r.events(r.events_size() - 1).kv().mod_revision());
  }
}

TEST_F(WatchHubTest, StartInThePastReadsHistoryThenLiveWithoutGapOrDuplicate) {
  start_hub();
  for (int i = 0; i < 50; ++i) put("k" + std::to_string(i % 5), "v" + std::to_string(i));
  Consumer c(*hub_);
  WatchCreateRequest req = watch_req("k", "l", 10);
  req.set_prev_kv(true);
  c.create(req);
  for (int i = 0; i < 20; ++i) put("k" + std::to_string(i % 7), "w" + std::to_string(i));
  const int64_t last = store_->revision();
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(0) == last; }));
  check_events(c.events(0), expected("k", "l", 10), true, "from 10");
}

TEST_F(WatchHubTest, FiltersAndPrevKvApplyPerWatcher) {
  start_hub();
  put("f", "old");
  Consumer c(*hub_);
  WatchCreateRequest no_delete = watch_req("f");
  no_delete.add_filters(WatchCreateRequest::NODELETE);
  c.create(no_delete);  // 0
  WatchCreateRequest no_put = watch_req("f");
  no_put.add_filters(WatchCreateRequest::NOPUT);
  no_put.set_prev_kv(true);
  c.create(no_put);  // 1
  WatchCreateRequest prev = watch_req("f");
  prev.set_prev_kv(true);
  c.create(prev);  // 2
  const int64_t p = put("f", "new");
  const int64_t d = del("f");
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(1) == d && c.last_revision(2) == d; }));
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(0) == p; }));

  auto only_puts = c.events(0);
  ASSERT_EQ(only_puts.size(), 1u);
  EXPECT_EQ(only_puts[0].type(), mvccpb::Event::PUT);
  EXPECT_FALSE(only_puts[0].has_prev_kv());  // not asked for
  auto only_deletes = c.events(1);
  ASSERT_EQ(only_deletes.size(), 1u);
  EXPECT_EQ(only_deletes[0].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(only_deletes[0].prev_kv().value(), "new");
  auto both = c.events(2);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].prev_kv().value(), "old");
  EXPECT_EQ(both[1].prev_kv().value(), "new");
}

TEST_F(WatchHubTest, RefusesDuplicateIdsAndEmptyRangesAsEtcd) {
  start_hub();
  Consumer c(*hub_);
  WatchCreateRequest with_id = watch_req("x");
  with_id.set_watch_id(7);
  EXPECT_EQ(c.create(with_id).watch_id(), 7);
  const WatchResponse dup = c.create(with_id);
  EXPECT_EQ(dup.watch_id(), -1);
  EXPECT_TRUE(dup.canceled());
  EXPECT_EQ(dup.cancel_reason(), "mvcc: duplicate watch ID provided on the WatchStream");
  const WatchResponse empty = c.create(watch_req("b", "a"));
  EXPECT_TRUE(empty.canceled());
  EXPECT_EQ(empty.cancel_reason(), "mvcc: watcher range is empty");
  // Automatic ids skip the ones in use.
  EXPECT_EQ(c.create(watch_req("y")).watch_id(), 0);
}

TEST_F(WatchHubTest, CancelAnswersOnceAndStopsEvents) {
  start_hub();
  Consumer c(*hub_);
  c.create(watch_req("c"));
  c.create(watch_req("c"));
  c.stream().cancel(0);
  c.stream().cancel(0);   // unknown now: no answer, as etcd
  c.stream().cancel(42);  // never existed
  const int64_t r = put("c", "v");
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(1) == r; }));
  EXPECT_TRUE(c.events(0).empty());
  int canceled = 0;
  for (const auto& resp : c.responses()) canceled += resp.canceled() ? 1 : 0;
  EXPECT_EQ(canceled, 1);
}

TEST_F(WatchHubTest, ProgressRequestAnswersWithTheNotifiedRevision) {
  start_hub();
  Consumer c(*hub_);
  c.create(watch_req("p"));
  const int64_t r = put("q", "v");
  c.stream().request_progress();
  ASSERT_TRUE(
      c.wait_for([&] { return !c.responses().empty() && c.responses().back().watch_id() == -1; }));
  EXPECT_EQ(c.responses().back().header().revision(), r);
  EXPECT_EQ(c.responses().back().events_size(), 0);
}

TEST_F(WatchHubTest, ProgressRequestWaitsUntilEveryWatcherCaughtUp) {
  WatchHubOptions options;
  options.stream_queue_bytes = 2048;
  start_hub(options);
  for (int i = 0; i < 200; ++i) put("h", std::string(100, 'x'));
  Consumer c(*hub_);
  c.stream().create(watch_req("h", "", 1));  // far behind; queue too small for it all
  c.stream().request_progress();
  const int64_t last = store_->revision();
  ASSERT_TRUE(
      c.wait_for([&] { return !c.responses().empty() && c.responses().back().watch_id() == -1; }));
  // The progress response came only after every event up to its revision.
  EXPECT_EQ(c.last_revision(0), last);
  EXPECT_EQ(c.responses().back().header().revision(), last);
  check_events(c.events(0), expected("h", "", 1), false, "h");
}

TEST_F(WatchHubTest, ProgressNotifyAfterAQuietInterval) {
  WatchHubOptions options;
  options.progress_interval = milliseconds(20);
  start_hub(options);
  Consumer c(*hub_);
  WatchCreateRequest req = watch_req("n");
  req.set_progress_notify(true);
  c.create(req);
  c.create(watch_req("quiet"));  // did not ask: never notified
  ASSERT_TRUE(c.wait_for([&] {
    for (const auto& r : c.responses()) {
      if (!r.created() && r.watch_id() == 0 && r.events_size() == 0) return true;
    }
    return false;
  }));
  for (const auto& r : c.responses()) {
    if (r.watch_id() == 1) {
      EXPECT_TRUE(r.created());
    }
  }
}

TEST_F(WatchHubTest, CompactedStartIsCanceledWithTheCompactRevision) {
  start_hub();
  for (int i = 0; i < 10; ++i) put("z", std::to_string(i));
  compact(6);
  Consumer c(*hub_);
  c.stream().create(watch_req("z", "", 3));
  ASSERT_TRUE(c.wait_for([&] { return c.responses().size() >= 2; }));
  EXPECT_TRUE(c.responses()[0].created());
  EXPECT_TRUE(c.responses()[1].canceled());
  EXPECT_EQ(c.responses()[1].compact_revision(), 6);
  // At the compacted revision itself history is still there.
  c.stream().create(watch_req("z", "", 6));
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(1) == store_->revision(); }));
  check_events(c.events(1), expected("z", "", 6), false, "z from 6");
}

TEST_F(WatchHubTest, CompactionWhileBehindCancelsTheWatcher) {
  WatchHubOptions options;
  options.stream_queue_bytes = 4096;
  start_hub(options);
  Consumer c(*hub_);
  c.create(watch_req("s"));
  // Nobody reads: the queue fills and the watcher falls behind.
  for (int i = 0; i < 100; ++i) put("s", std::string(200, 'v'));
  EXPECT_GT(hub_->stats().fell_behind, 0u);
  EXPECT_EQ(hub_->stats().unsynced_watchers, 1u);
  compact(store_->revision());
  ASSERT_TRUE(c.wait_for([&] { return c.responses().back().compact_revision() != 0; }));
  EXPECT_TRUE(c.responses().back().canceled());
  EXPECT_EQ(c.responses().back().compact_revision(), store_->revision());
  // What it did get has no gap.
  auto evs = c.events(0);
  ASSERT_FALSE(evs.empty());
  for (size_t i = 0; i < evs.size(); ++i) EXPECT_EQ(evs[i].kv().mod_revision(), 2 + int64_t(i));
}

// A stream read less often than revisions come: each watcher's waiting
// revisions leave in one response (fewer messages for a client that is behind),
// in order, and never ahead of a control response queued between them.
TEST_F(WatchHubTest, ABehindWatcherGetsItsWaitingRevisionsInOneResponse) {
  start_hub();
  {
    Consumer c(*hub_);
    c.create(watch_req("j"));       // 0
    c.create(watch_req("j", "k"));  // 1
    const size_t before = c.responses().size();
    int64_t last = 0;
    for (int i = 0; i < 5; ++i) last = put("j", std::to_string(i));
    EXPECT_EQ(c.drain(), 2u);
    ASSERT_EQ(c.responses().size(), before + 2);
    // One response each, in either order (watchers of one revision are not ordered).
    EXPECT_EQ(c.responses()[before].watch_id() + c.responses()[before + 1].watch_id(), 1);
    for (size_t i = before; i < before + 2; ++i) {
      EXPECT_EQ(c.responses()[i].events_size(), 5);
      EXPECT_EQ(c.responses()[i].header().revision(), last);
    }
    check_events(c.events(0), expected("j", "", 2), false, "key j");
    check_events(c.events(1), expected("j", "k", 2), false, "range j..k");
    EXPECT_EQ(hub_->stats().joined_items, 8u);

    // A progress response between two revisions keeps them apart.
    const int64_t first = put("j", "a");
    c.stream().request_progress();
    const int64_t second = put("j", "b");
    const size_t mark = c.responses().size();
    EXPECT_EQ(c.drain(), 5u);
    const auto& rs = c.responses();
    ASSERT_EQ(rs.size(), mark + 5);
    const int64_t revisions[] = {first, first, first, second, second};
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(rs[mark + i].watch_id() == -1, i == 2) << i;  // progress in the middle
      EXPECT_EQ(rs[mark + i].header().revision(), revisions[i]) << i;
      EXPECT_EQ(rs[mark + i].events_size(), i == 2 ? 0 : 1) << i;
    }
  }

  // With no room for a second revision in a response, each goes alone.
  stop_hub();
  WatchHubOptions options;
  options.response_merge_bytes = 0;
  start_hub(options);
  Consumer one(*hub_);
  one.create(watch_req("j"));
  const size_t created = one.responses().size();
  for (int i = 0; i < 3; ++i) put("j", std::to_string(i));
  EXPECT_EQ(one.drain(), 3u);
  EXPECT_EQ(one.responses().size(), created + 3);
  EXPECT_EQ(hub_->stats().joined_items, 0u);
}

// The heart of the hub: a consumer far slower than the writer. Its watchers fall
// back to history, catch up while writes continue, and every watcher still sees
// each of its events once, in order, whole revisions per response.
TEST_F(WatchHubTest, SlowConsumerCatchesUpWithoutGapOrDuplicateUnderConcurrentWrites) {
  WatchHubOptions options;
  options.stream_queue_bytes = 8192;
  options.history_batch_events = 40;
  options.recent_revisions_max = 64;
  start_hub(options);
  Consumer slow(*hub_);
  WatchCreateRequest prefix = watch_req("k/", "k0");
  prefix.set_prev_kv(true);
  slow.create(prefix);                               // 0: every write
  slow.create(watch_req("k/3"));                     // 1: one key
  slow.create(watch_req("k/1", std::string(1, 0)));  // 2: from k/1
  Consumer fast(*hub_);
  fast.create(watch_req("k/", "k0"));  // 0, on another stream

  constexpr int kWrites = 3000;
  std::atomic<bool> half_written{false};
  std::atomic<bool> done{false};
  std::thread writer([&] {  // the only writer of the store and of log_ meanwhile
    std::mt19937 rng(1);
    for (int i = 0; i < kWrites; ++i) {
      const std::string key = "k/" + std::to_string(rng() % 10);
      if (i % 10 == 3) {
        txn_put({"k/t" + std::to_string(i % 3), key + "x", "k/3"}, std::to_string(i));
      } else if (i % 7 == 0) {
        put(key, "to delete");
        del(key);
      } else {
        put(key, std::string(64 + rng() % 64, static_cast<char>('a' + i % 26)));
      }
      if (i == kWrites / 2) half_written = true;
    }
    done = true;
  });
  // The fast one keeps up all along; the slow one reads nothing until half is
  // written, then reads in small bites while the writer goes on.
  while (!half_written) {
    fast.drain();
    std::this_thread::yield();
  }
  while (!done) {
    slow.drain(3);
    fast.drain();
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  writer.join();
  const int64_t last = store_->revision();
  ASSERT_TRUE(slow.wait_for([&] { return slow.last_revision(0) == last; }));
  ASSERT_TRUE(fast.wait_for([&] { return fast.last_revision(0) == last; }));
  const WatchHubStats st = hub_->stats();
  EXPECT_GT(st.fell_behind, 0u);
  std::printf("fell behind %llu times; catch-up steps: %llu from history, %llu from memory\n",
              static_cast<unsigned long long>(st.fell_behind),
              static_cast<unsigned long long>(st.history_reads),
              static_cast<unsigned long long>(st.recent_catch_ups));

  check_events(slow.events(0), expected("k/", "k0", 2), true, "slow prefix");
  check_events(slow.events(1), expected("k/3", "", 2), false, "slow key");
  check_events(slow.events(2), expected("k/1", std::string(1, 0), 2), false, "slow from-key");
  check_events(fast.events(0), expected("k/", "k0", 2), false, "fast prefix");

  // No revision is split across responses.
  std::map<int64_t, int> per_revision;
  for (const auto& w : expected("k/", "k0", 2)) ++per_revision[w.revision];
  for (const auto& r : slow.responses()) {
    if (r.watch_id() != 0) continue;
    std::map<int64_t, int> here;
    for (const auto& ev : r.events()) ++here[ev.kv().mod_revision()];
    for (const auto& [rev, n] : here) EXPECT_EQ(n, per_revision[rev]) << "revision " << rev;
  }
  EXPECT_EQ(hub_->stats().unsynced_watchers, 0u);
}

TEST_F(WatchHubTest, ResetResyncsEveryWatcherFromHistory) {
  start_hub();
  Consumer c(*hub_);
  c.create(watch_req("r", "s"));         // 0
  c.create(watch_req("r1", "", 10000));  // 1: starts in the future
  for (int i = 0; i < 20; ++i) put("r" + std::to_string(i % 5), std::to_string(i));
  // A snapshot of the same history installed again, as a follower installs one:
  // the store tells the hub its state was replaced.
  ASSERT_TRUE(store_->restore(store_->snapshot()).is_ok());
  for (int i = 0; i < 20; ++i) put("r" + std::to_string(i % 5), "after" + std::to_string(i));
  const int64_t last = store_->revision();
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(0) == last; }));
  check_events(c.events(0), expected("r", "s", 2), false, "after reset");
  EXPECT_TRUE(c.events(1).empty());
  ASSERT_TRUE(c.wait_for([&] { return hub_->stats().unsynced_watchers == 0; }));
}

TEST_F(WatchHubTest, WritesBeforeTheListenerWasSetComeFromHistory) {
  hub_ = std::make_unique<WatchHub>(*store_, WatchHubOptions{});  // not installed yet
  Consumer c(*hub_);
  c.create(watch_req("l", "m"));
  for (int i = 0; i < 10; ++i) put("l" + std::to_string(i), "early");
  store_->set_listener(hub_.get());
  for (int i = 0; i < 10; ++i) put("l" + std::to_string(i), "late");
  const int64_t last = store_->revision();
  ASSERT_TRUE(c.wait_for([&] { return c.last_revision(0) == last; }));
  check_events(c.events(0), expected("l", "m", 2), false, "late listener");
}

TEST_F(WatchHubTest, ManyKeyAndRangeWatchersEachGetExactlyTheirEvents) {
  start_hub();
  auto key = [](int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "key/%04d", i);
    return std::string(buf);
  };
  std::vector<std::unique_ptr<Consumer>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(std::make_unique<Consumer>(*hub_));
  struct Spec {
    Consumer* stream;
    int64_t id;
    std::string key, end;
  };
  std::vector<Spec> specs;
  std::mt19937 rng(3);
  auto add = [&](const std::string& k, const std::string& end) {
    Consumer* s = streams[specs.size() % streams.size()].get();
    s->stream().create(watch_req(k, end));
    specs.push_back({s, -1, k, end});
  };
  for (int i = 0; i < 2000; ++i) add(key(i), "");
  for (int i = 0; i < 200; ++i) {
    const int a = static_cast<int>(rng() % 2500);
    const int b = a + 1 + static_cast<int>(rng() % 300);
    if (i % 10 == 0) {
      add(key(a), std::string(1, '\0'));  // from key
    } else if (i % 10 == 1) {
      add("key/0" + std::to_string(a % 10), "key/0" + std::to_string(a % 10 + 1));  // prefix
    } else {
      add(key(a), key(b));
    }
  }
  // Ids are assigned per stream in creation order.
  std::vector<int64_t> next_id(streams.size(), 0);
  for (size_t i = 0; i < specs.size(); ++i) specs[i].id = next_id[i % streams.size()]++;
  for (int i = 0; i < 1500; ++i) {
    const std::string k = key(static_cast<int>(rng() % 2600));
    if (i % 5 == 4) {
      del(k);
    } else {
      put(k, std::to_string(i));
    }
  }
  std::map<Consumer*, size_t> want_total;
  for (const Spec& s : specs) want_total[s.stream] += expected(s.key, s.end, 2).size();
  for (auto& s : streams) {
    ASSERT_TRUE(s->wait_for([&] {
      size_t n = 0;
      for (const auto& r : s->responses()) n += r.events_size();
      return n >= want_total[s.get()];
    }));
  }
  for (const Spec& s : specs) {
    check_events(s.stream->events(s.id), expected(s.key, s.end, 2), false, s.key + ".." + s.end);
  }
}

// Not a benchmark with thresholds: prints what an idle watcher costs and what a
// put costs with many watchers, and checks that a put reaches only its watcher.
TEST_F(WatchHubTest, IdleWatchersAreSmallAndAPutTouchesOnlyItsWatchers) {
  start_hub();
  constexpr int kWatchers = 10000;
  constexpr int kPuts = 2000;
  auto time_puts = [&](const std::string& prefix) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kPuts; ++i) put(prefix + std::to_string(i * 5), "v");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    return std::chrono::duration<double, std::micro>(elapsed).count() / kPuts;
  };
  const double us_without = time_puts("none/");
  Consumer c(*hub_);
  const size_t heap_before = mallinfo2().uordblks;
  const uint64_t rss_before = observe::process_rss_bytes();
  for (int i = 0; i < kWatchers; ++i) c.stream().create(watch_req("idle/" + std::to_string(i)));
  const uint64_t rss_after = observe::process_rss_bytes();
  const size_t heap_after_create = mallinfo2().uordblks;
  c.drain();  // the "created" responses
  c.responses().clear();
  c.responses().shrink_to_fit();
  const size_t heap_idle = mallinfo2().uordblks;
  std::printf(
      "%d idle watchers: %.0f heap bytes each (%.0f with their queued created "
      "responses), rss +%.0f bytes each\n",
      kWatchers, double(heap_idle - heap_before) / kWatchers,
      double(heap_after_create - heap_before) / kWatchers,
      double(rss_after - rss_before) / kWatchers);

  const uint64_t delivered = hub_->stats().events_delivered;
  const double us_with = time_puts("idle/");
  std::printf(
      "put (store write included): %.1f us with no watcher, %.1f us with %d watchers "
      "(each put reaching one)\n",
      us_without, us_with, kWatchers);
  EXPECT_EQ(hub_->stats().events_delivered - delivered, static_cast<uint64_t>(kPuts));
}

}  // namespace
}  // namespace meridian::kv
