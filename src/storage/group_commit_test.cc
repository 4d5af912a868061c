// GroupCommitter over a real LogEngine on a FaultyFileSystem. The file system is
// single-threaded; here only the committer's writer thread touches it while a
// committer runs, and the test thread touches it (faults, reads) only while the
// writer is idle or held in a completion, ordered by the committer's or the gate's
// mutex.
//
// Rounds are made deterministic with a Gate: the writer is held inside the
// completion of a first batch while others are submitted, so that all of those
// are queued when the writer takes its next round.
#include "storage/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/faulty_file_system.h"
#include "storage/log_engine.h"
#include "storage/write_batch.h"

namespace meridian::storage {
namespace {

using raft::Entry;
using raft::Index;
using raft::Term;

constexpr size_t kPayloadBytes = 100;

// Deterministic content of entry (g, i), so a read-back can check every byte.
std::string payload(GroupId g, Index i) {
  std::string s = "g" + std::to_string(g.value()) + "/i" + std::to_string(i.value()) + "/";
  while (s.size() < kPayloadBytes) {
    s.push_back(static_cast<char>('a' + (s.size() * 7 + g.value() + i.value()) % 26));
  }
  return s;
}

Entry make_entry(GroupId g, Index i) {
  return Entry{Term{1}, i, raft::EntryType::kNormal, payload(g, i)};
}

WriteBatch append_batch(GroupId g, Index i) {
  WriteBatch b;
  b.append(g, {make_entry(g, i)});
  return b;
}

// Counts completions and lets a thread wait for a number of them.
class Completions {
 public:
  GroupCommitter::Done expect_ok() {
    return [this](const Status& s) {
      EXPECT_TRUE(s.is_ok()) << s;
      add();
    };
  }
  void add() {
    std::lock_guard lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  void wait_for(uint64_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return count_ >= n; });
  }
  uint64_t count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t count_ = 0;
};

// Holds the writer thread inside a completion until opened.
class Gate {
 public:
  GroupCommitter::Done hold() {
    return [this](const Status& s) {
      EXPECT_TRUE(s.is_ok()) << s;
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
    };
  }
  void wait_entered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = LogEngine::open(&fs_, LogEngineOptions{.dir = "journal"});
    ASSERT_TRUE(engine.is_ok()) << engine.status();
    engine_ = std::move(engine).value();
  }

  // Every entry 1..last of group g is there with its exact content.
  void expect_group(GroupId g, uint64_t last) {
    ASSERT_EQ(engine_->last_index(g), Index{last}) << "group " << g;
    auto got = engine_->entries(g, Index{1}, Index{last + 1}, UINT64_MAX);
    ASSERT_TRUE(got.is_ok()) << got.status();
    ASSERT_EQ(got.value().size(), last);
    for (uint64_t i = 1; i <= last; ++i) {
      EXPECT_EQ(got.value()[i - 1], make_entry(g, Index{i})) << "group " << g << " index " << i;
    }
  }

  // Holds the writer in the completion of a first append to `g` (index 1).
  void hold_writer(GroupCommitter& gc, Gate& gate, GroupId g) {
    gc.submit(append_batch(g, Index{1}), gate.hold());
    gate.wait_entered();
  }

  FaultyFileSystem fs_{42};
  std::unique_ptr<LogEngine> engine_;
};

TEST_F(GroupCommitTest, ManyThreadsManyGroupsAllCompleteAndReadBack) {
  constexpr int kThreads = 8;
  constexpr uint64_t kGroupsPerThread = 6;
  constexpr uint64_t kAppendsPerGroup = 40;
  Completions done;
  {
    GroupCommitter gc(engine_.get());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      // Each thread owns its groups, so each group's indexes arrive in order.
      // Even threads wait for every append; odd ones submit and move on.
      threads.emplace_back([&, t] {
        for (uint64_t i = 1; i <= kAppendsPerGroup; ++i) {
          for (uint64_t k = 0; k < kGroupsPerThread; ++k) {
            GroupId g{1 + t * kGroupsPerThread + k};
            if (t % 2 == 0) {
              Status s = gc.write_sync(append_batch(g, Index{i}));
              EXPECT_TRUE(s.is_ok()) << s;
              done.add();
            } else {
              gc.submit(append_batch(g, Index{i}), done.expect_ok());
            }
          }
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    done.wait_for(kThreads * kGroupsPerThread * kAppendsPerGroup);
    EXPECT_EQ(gc.stats().batches, kThreads * kGroupsPerThread * kAppendsPerGroup);
  }
  for (uint64_t g = 1; g <= kThreads * kGroupsPerThread; ++g) {
    expect_group(GroupId{g}, kAppendsPerGroup);
  }
}

TEST_F(GroupCommitTest, ConcurrentWritersShareRounds) {
  constexpr int kThreads = 8;
  constexpr uint64_t kAppends = 200;
  const uint64_t engine_syncs_before = engine_->stats().syncs;
  GroupCommitter gc(engine_.get());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 1; i <= kAppends; ++i) {
        Status s = gc.write_sync(append_batch(GroupId{static_cast<uint64_t>(t) + 1}, Index{i}));
        EXPECT_TRUE(s.is_ok()) << s;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  GroupCommitStats stats = gc.stats();
  EXPECT_EQ(stats.batches, kThreads * kAppends);
  EXPECT_LT(stats.rounds, stats.batches) << "no two writers ever shared a sync";
  EXPECT_EQ(engine_->stats().syncs - engine_syncs_before, stats.rounds);
}

TEST_F(GroupCommitTest, BatchesQueuedDuringARoundShareTheNextSync) {
  constexpr uint64_t kGroups = 16;
  Gate gate;
  Completions done;
  GroupCommitter gc(engine_.get());
  hold_writer(gc, gate, GroupId{1000});
  std::vector<std::thread> threads;
  for (uint64_t g = 1; g <= kGroups; ++g) {
    threads.emplace_back(
        [&, g] { gc.submit(append_batch(GroupId{g}, Index{1}), done.expect_ok()); });
  }
  for (auto& th : threads) {
    th.join();
  }
  gate.open();
  done.wait_for(kGroups);
  EXPECT_EQ(gc.stats().rounds, 2u) << "the held round, then one round for all " << kGroups;
  EXPECT_EQ(gc.stats().batches, kGroups + 1);
  for (uint64_t g = 1; g <= kGroups; ++g) {
    expect_group(GroupId{g}, 1);
  }
}

// A round is one journal record; an invalid batch (here an append that leaves a
// gap in its group's log) must fail alone, not take other groups' batches of the
// same round with it.
TEST_F(GroupCommitTest, InvalidBatchFailsAloneInItsRound) {
  Gate gate;
  GroupCommitter gc(engine_.get());
  hold_writer(gc, gate, GroupId{1000});
  std::vector<Status> results(3);
  std::promise<void> all;
  std::atomic<int> left{3};
  auto record = [&](size_t i) {
    return [&, i](const Status& st) {
      results[i] = st;
      if (--left == 0) all.set_value();
    };
  };
  gc.submit(append_batch(GroupId{1}, Index{1}), record(0));
  gc.submit(append_batch(GroupId{2}, Index{5}), record(1));  // gap: group 2 is empty
  gc.submit(append_batch(GroupId{3}, Index{1}), record(2));
  gate.open();
  all.get_future().wait();
  EXPECT_TRUE(results[0].is_ok()) << results[0];
  EXPECT_EQ(results[1].code(), Code::kInvalidArgument) << results[1];
  EXPECT_TRUE(results[2].is_ok()) << results[2];
  expect_group(GroupId{1}, 1);
  expect_group(GroupId{3}, 1);
  EXPECT_EQ(engine_->last_index(GroupId{2}), Index{0});
}

TEST_F(GroupCommitTest, RoundBytesMaxSplitsRoundsButAlwaysTakesOneBatch) {
  const uint64_t batch_bytes = append_batch(GroupId{1}, Index{1}).size_bytes();
  ASSERT_GT(batch_bytes, 0u);
  Gate gate;
  Completions done;
  // Three batches per round; a larger one goes alone.
  GroupCommitter gc(engine_.get(), GroupCommitOptions{.round_bytes_max = 3 * batch_bytes});
  hold_writer(gc, gate, GroupId{1000});
  for (uint64_t i = 1; i <= 10; ++i) {
    gc.submit(append_batch(GroupId{1}, Index{i}), done.expect_ok());
  }
  WriteBatch big;
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 5; ++i) {
    entries.push_back(make_entry(GroupId{2}, Index{i}));
  }
  big.append(GroupId{2}, std::move(entries));
  ASSERT_GT(big.size_bytes(), 3 * batch_bytes);
  gc.submit(std::move(big), done.expect_ok());
  gate.open();
  done.wait_for(11);
  // 1 (held) + 4 (ten batches, three at a time) + 1 (the large batch alone).
  EXPECT_EQ(gc.stats().rounds, 6u);
  expect_group(GroupId{1}, 10);
  expect_group(GroupId{2}, 5);
}

TEST_F(GroupCommitTest, BackPressureBlocksSubmittersUntilRoundsFinish) {
  const uint64_t batch_bytes = append_batch(GroupId{1}, Index{1}).size_bytes();
  Gate gate;
  Completions done;
  GroupCommitter gc(engine_.get(), GroupCommitOptions{.queued_bytes_max = 3 * batch_bytes});
  hold_writer(gc, gate, GroupId{1000});
  // The held round's bytes were released before its completion ran, so three more
  // batches fit; the fourth submit must wait until the writer moves on.
  std::atomic<uint64_t> submitted{0};
  std::thread submitter([&] {
    for (uint64_t i = 1; i <= 10; ++i) {
      gc.submit(append_batch(GroupId{1}, Index{i}), done.expect_ok());
      submitted.fetch_add(1);
    }
  });
  while (submitted.load() < 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(submitted.load(), 3u) << "submit() did not block at queued_bytes_max";
  gate.open();
  submitter.join();
  done.wait_for(10);
  expect_group(GroupId{1}, 10);
}

TEST_F(GroupCommitTest, BackPressureUnderManyWritersAllComplete) {
  constexpr int kThreads = 8;
  constexpr uint64_t kAppends = 100;
  const uint64_t batch_bytes = append_batch(GroupId{1}, Index{1}).size_bytes();
  Completions done;
  {
    GroupCommitter gc(engine_.get(), GroupCommitOptions{.round_bytes_max = 4 * batch_bytes,
                                                        .queued_bytes_max = 2 * batch_bytes});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t i = 1; i <= kAppends; ++i) {
          gc.submit(append_batch(GroupId{static_cast<uint64_t>(t) + 1}, Index{i}),
                    done.expect_ok());
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
  }  // the destructor drains what is still queued
  EXPECT_EQ(done.count(), kThreads * kAppends);
  for (int t = 0; t < kThreads; ++t) {
    expect_group(GroupId{static_cast<uint64_t>(t) + 1}, kAppends);
  }
}

TEST_F(GroupCommitTest, FailedSyncFailsEveryBatchOfTheRound) {
  constexpr uint64_t kBatches = 10;
  Gate gate;
  std::vector<Status> results(kBatches);
  Completions done;
  GroupCommitter gc(engine_.get());
  hold_writer(gc, gate, GroupId{1000});
  fs_.fail_syncs(true);  // the writer is held in a completion: it touches no file
  for (uint64_t i = 0; i < kBatches; ++i) {
    gc.submit(append_batch(GroupId{i + 1}, Index{1}), [&, i](const Status& s) {
      results[i] = s;
      done.add();
    });
  }
  gate.open();
  done.wait_for(kBatches);
  for (uint64_t i = 0; i < kBatches; ++i) {
    EXPECT_EQ(results[i].code(), Code::kIoError) << "batch " << i << ": " << results[i];
  }
  EXPECT_EQ(gc.stats().rounds, 2u) << "one sync for the whole failed round";
  // After a failed sync the engine has failed: every later write fails too.
  EXPECT_TRUE(engine_->failed());
  fs_.fail_syncs(false);
  EXPECT_FALSE(gc.write_sync(append_batch(GroupId{1}, Index{2})).is_ok());
}

TEST_F(GroupCommitTest, NoSpaceFailsEveryBatchOfTheRoundAndLaterRoundsSucceed) {
  constexpr uint64_t kBatches = 10;
  Gate gate;
  std::vector<Status> results(kBatches);
  Completions done;
  GroupCommitter gc(engine_.get());
  hold_writer(gc, gate, GroupId{1000});
  // Room for less than one batch more, so the merged round cannot fit.
  fs_.set_space_bytes(fs_.stored_bytes() + kPayloadBytes / 2);
  for (uint64_t i = 0; i < kBatches; ++i) {
    gc.submit(append_batch(GroupId{i + 1}, Index{1}), [&, i](const Status& s) {
      results[i] = s;
      done.add();
    });
  }
  gate.open();
  done.wait_for(kBatches);
  for (uint64_t i = 0; i < kBatches; ++i) {
    EXPECT_EQ(results[i].code(), Code::kNoSpace) << "batch " << i << ": " << results[i];
  }
  EXPECT_EQ(gc.stats().rounds, 1u) << "a failed write is not synced";
  // kNoSpace leaves the journal as it was: the same appends succeed once there is room.
  EXPECT_FALSE(engine_->failed());
  fs_.set_space_bytes(UINT64_MAX);
  for (uint64_t i = 0; i < kBatches; ++i) {
    EXPECT_EQ(engine_->last_index(GroupId{i + 1}), Index{0});
    Status s = gc.write_sync(append_batch(GroupId{i + 1}, Index{1}));
    EXPECT_TRUE(s.is_ok()) << s;
  }
  for (uint64_t i = 0; i < kBatches; ++i) {
    expect_group(GroupId{i + 1}, 1);
  }
}

TEST_F(GroupCommitTest, CompletionsRunInSubmissionOrder) {
  constexpr int kThreads = 6;
  constexpr uint64_t kAppends = 150;
  const uint64_t batch_bytes = append_batch(GroupId{1}, Index{1}).size_bytes();
  std::mutex submit_mu;
  uint64_t next_ticket = 0;      // guarded by submit_mu
  uint64_t next_completion = 0;  // writer thread only
  Completions done;
  {
    // Small rounds and a small queue, so there are many rounds and blocked submitters.
    GroupCommitter gc(engine_.get(), GroupCommitOptions{.round_bytes_max = 5 * batch_bytes,
                                                        .queued_bytes_max = 12 * batch_bytes});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        GroupId g{static_cast<uint64_t>(t) + 1};
        for (uint64_t i = 1; i <= kAppends; ++i) {
          // The ticket is taken in the same critical section as the submit, so
          // ticket order is submission order.
          std::lock_guard lock(submit_mu);
          const uint64_t ticket = next_ticket++;
          gc.submit(append_batch(g, Index{i}), [&, ticket](const Status& s) {
            EXPECT_TRUE(s.is_ok()) << s;
            EXPECT_EQ(ticket, next_completion) << "completed out of submission order";
            next_completion = ticket + 1;
            done.add();
          });
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
  }
  EXPECT_EQ(done.count(), kThreads * kAppends);
}

TEST_F(GroupCommitTest, DestructorCompletesEverythingQueued) {
  constexpr uint64_t kBatches = 300;
  Completions done;
  {
    GroupCommitter gc(engine_.get());
    for (uint64_t i = 1; i <= kBatches; ++i) {
      gc.submit(append_batch(GroupId{7}, Index{i}), done.expect_ok());
    }
  }
  EXPECT_EQ(done.count(), kBatches);
  expect_group(GroupId{7}, kBatches);
}

TEST_F(GroupCommitTest, EmptyBatchCompletesWithoutIo) {
  GroupCommitter gc(engine_.get());
  Status s = gc.write_sync(WriteBatch{});
  EXPECT_TRUE(s.is_ok()) << s;
  EXPECT_EQ(gc.stats().rounds, 0u);
  EXPECT_EQ(gc.stats().batches, 1u);
  EXPECT_EQ(engine_->stats().writes, 0u);
}

TEST_F(GroupCommitTest, MergedRoundKeepsTheLatestTimeStamp) {
  // Two batches with different stamps in one round: the merged write carries the
  // later one, so age retention never drops an entry earlier than its own stamp asks.
  Gate gate;
  Completions done;
  GroupCommitter gc(engine_.get());
  hold_writer(gc, gate, GroupId{1000});
  WriteBatch early = append_batch(GroupId{1}, Index{1});
  early.set_time_ms(1000);
  WriteBatch late = append_batch(GroupId{2}, Index{1});
  late.set_time_ms(5000);
  gc.submit(std::move(early), done.expect_ok());
  gc.submit(std::move(late), done.expect_ok());
  gate.open();
  done.wait_for(2);
  // A cutoff before both stamps keeps both entries.
  EXPECT_EQ(engine_->retention_point(GroupId{1}, 0, 2000), Index{1});
  EXPECT_EQ(engine_->retention_point(GroupId{2}, 0, 2000), Index{1});
}

}  // namespace
}  // namespace meridian::storage

namespace meridian::storage {
namespace {

TEST_F(GroupCommitTest, ObserverSeesOneDurationPerSync) {
  std::atomic<uint64_t> observed{0};
  {
    GroupCommitter gc(engine_.get(),
                      GroupCommitOptions{.observe_sync = [&](std::chrono::nanoseconds d) {
                        EXPECT_GE(d.count(), 0);
                        observed.fetch_add(1);
                      }});
    for (uint64_t i = 1; i <= 5; ++i) {
      ASSERT_TRUE(gc.write_sync(append_batch(GroupId{1}, Index{i})).is_ok());
    }
    EXPECT_EQ(observed.load(), gc.stats().rounds);
  }
  EXPECT_EQ(observed.load(), 5u);
}

TEST_F(GroupCommitTest, GarbageCollectionRunsOnTheWriterAndRemovesDeadSegments) {
  // Small segments, so the appends below span many of them.
  auto engine = LogEngine::open(&fs_, LogEngineOptions{.dir = "gc", .segment_bytes_max = 4096});
  ASSERT_TRUE(engine.is_ok()) << engine.status();
  GroupCommitter gc(engine.value().get());
  for (uint64_t i = 1; i <= 200; ++i) {
    ASSERT_TRUE(gc.write_sync(append_batch(GroupId{1}, Index{i})).is_ok());
  }
  const uint64_t before = engine.value()->stats().segments;
  WriteBatch compact;
  compact.compact(GroupId{1}, Index{200});
  ASSERT_TRUE(gc.write_sync(std::move(compact)).is_ok());
  gc.request_garbage_collection();
  // The request is served before the next round, so after this write it is done.
  ASSERT_TRUE(gc.write_sync(append_batch(GroupId{1}, Index{201})).is_ok());
  EXPECT_LT(engine.value()->stats().segments, before);
  EXPECT_GT(engine.value()->stats().segments_removed, 0u);
  EXPECT_EQ(gc.stats().gc_failures, 0u);
  EXPECT_EQ(gc.stats().queued, 0u);
}

}  // namespace
}  // namespace meridian::storage
