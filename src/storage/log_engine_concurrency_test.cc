// LogEngine reads on several threads while one writer appends, compacts, rotates
// segments and collects them, on the real file system (PosixFileSystem in a
// temporary directory). Meant to be run under ThreadSanitizer as well.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/log_engine.h"
#include "storage/log_model_testing.h"
#include "storage/posix_file_system.h"

namespace meridian::storage {
namespace {

using raft::Entry;
using raft::Index;
using raft::Term;

constexpr uint64_t kGroups = 8;

// The data of entry i of group g: a function of both, so readers can check it.
std::string data_of(GroupId g, Index i) {
  return testing::make_data(g.value() * 7919 + i.value(), 50 + (i.value() * 37) % 900);
}

TEST(LogEngineConcurrencyTest, ReadersSeeConsistentEntriesWhileTheWriterWrites) {
  char tmpl[] = "/tmp/meridian-log-engine-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  PosixFileSystem fs;
  auto opened = LogEngine::open(
      &fs, LogEngineOptions{.dir = dir + "/journal", .segment_bytes_max = 64 << 10});
  ASSERT_TRUE(opened.is_ok()) << opened.status();
  std::unique_ptr<LogEngine> engine = std::move(opened).value();

  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> problems{0};
  auto reader = [&](uint64_t seed) {
    uint64_t x = seed;
    while (!done.load()) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const GroupId g{1 + (x >> 33) % kGroups};
      const Index first = engine->first_index(g);
      const Index last = engine->last_index(g);
      if (last < first) continue;
      // Old entries (from files) and new ones (from the cache) alike.
      const Index lo = (x >> 20) % 2 == 0 ? first : first + (last - first) / 2;
      auto es = engine->entries(g, lo, last + 1, 64 << 10);
      if (!es.is_ok()) {
        // Compaction may pass lo after first_index() was read; nothing else.
        if (es.status().code() != Code::kCompacted) problems++;
        continue;
      }
      Index want = lo;
      for (const Entry& e : es.value()) {
        if (e.index != want || e.term != Term{1} || e.data != data_of(g, e.index)) problems++;
        ++want;
      }
      auto t = engine->term(g, lo);
      if (!t.is_ok() && t.status().code() != Code::kCompacted) problems++;
      reads++;
    }
  };
  std::vector<std::thread> readers;
  for (uint64_t r = 0; r < 3; r++) readers.emplace_back(reader, r + 1);

  std::vector<Index> next(kGroups + 1, Index{1});
  for (uint64_t round = 1; round <= 1500; round++) {
    WriteBatch b;
    for (uint64_t g = 1 + round % 3; g <= kGroups; g += 3) {
      std::vector<Entry> es;
      for (int k = 0; k < 4; k++) {
        es.push_back(
            Entry{Term{1}, next[g], raft::EntryType::kNormal, data_of(GroupId{g}, next[g])});
        ++next[g];
      }
      b.append(GroupId{g}, std::move(es));
      if (round % 50 == 0 && next[g] > Index{100}) b.compact(GroupId{g}, next[g] - 100);
    }
    ASSERT_TRUE(engine->write(b).is_ok());
    ASSERT_TRUE(engine->sync().is_ok());
    if (round % 25 == 0) {
      ASSERT_TRUE(engine->collect_garbage().is_ok());
    }
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(problems.load(), 0u);
  EXPECT_GT(reads.load(), 100u);
  EXPECT_GT(engine->stats().segments_removed, 0u);
  engine.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meridian::storage
