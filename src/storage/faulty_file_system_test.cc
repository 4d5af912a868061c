#include "storage/faulty_file_system.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "storage/file_system_testing.h"

namespace meridian::storage {
namespace {

using testing::code_of;
using testing::names;
using testing::read;

// Stands in for a File that failed to open, so that a broken model fails the
// test with messages instead of crashing it.
class BrokenFile final : public File {
 public:
  Status append(std::string_view) override { return broken(); }
  Result<std::string> read_at(uint64_t, size_t) const override { return broken(); }
  Status sync() override { return broken(); }
  Status truncate(uint64_t) override { return broken(); }
  uint64_t size() const override { return 0; }

 private:
  static Status broken() { return Status(Code::kIoError, "the test could not open this file"); }
};

// Opens a file, failing the test (not stopping it) on an error.
std::unique_ptr<File> open_ok(FileSystem& fs, const std::string& path, OpenMode mode) {
  auto f = fs.open(path, mode);
  EXPECT_TRUE(f.is_ok()) << path << ": " << f.status();
  if (!f.is_ok()) return std::make_unique<BrokenFile>();
  return std::move(f).value();
}

// The whole content of a file, or "<missing>".
std::string content(FileSystem& fs, const std::string& path) {
  auto f = fs.open(path, OpenMode::kRead);
  if (!f.is_ok()) {
    EXPECT_EQ(code_of(f), Code::kNotFound) << f.status();
    return "<missing>";
  }
  auto data = f.value()->read_at(0, f.value()->size());
  EXPECT_TRUE(data.is_ok()) << data.status();
  return data.is_ok() ? data.value() : "<error>";
}

// A durable empty file "/d/f" in a durable directory.
std::unique_ptr<File> make_durable_file(FaultyFileSystem& fs, const std::string& path = "/d/f") {
  EXPECT_TRUE(fs.create_dir("/d").is_ok());
  EXPECT_TRUE(fs.sync_dir("/").is_ok());
  auto f = open_ok(fs, path, OpenMode::kCreate);
  EXPECT_TRUE(fs.sync_dir("/d").is_ok());
  return f;
}

void expect_dead(File& f) {
  EXPECT_EQ(f.append("x").code(), Code::kIoError);
  EXPECT_EQ(f.sync().code(), Code::kIoError);
  EXPECT_EQ(f.truncate(0).code(), Code::kIoError);
  auto r = f.read_at(0, 1);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(code_of(r), Code::kIoError);
}

TEST(FaultyFileSystem, SyncedDataSurvivesACrashAndUnsyncedDataCanBeLost) {
  FaultyFileSystem fs(1);
  auto f = make_durable_file(fs);
  ASSERT_TRUE(f->append("synced ").is_ok());
  ASSERT_TRUE(f->append("data").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(f->append(" unsynced").is_ok());
  EXPECT_EQ(content(fs, "/d/f"), "synced data unsynced");
  fs.crash(0.0);
  EXPECT_FALSE(fs.crashed());  // an explicit crash reboots at once
  EXPECT_EQ(content(fs, "/d/f"), "synced data");
  expect_dead(*f);
  // The file carries on from its durable state.
  auto g = open_ok(fs, "/d/f", OpenMode::kAppend);
  EXPECT_EQ(g->size(), 11u);
  ASSERT_TRUE(g->append("!").is_ok());
  EXPECT_EQ(content(fs, "/d/f"), "synced data!");
}

TEST(FaultyFileSystem, FractionZeroAlwaysLosesEveryUnsyncedAppend) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    FaultyFileSystem fs(seed);
    auto f = make_durable_file(fs);
    ASSERT_TRUE(f->append("kept").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(f->append("lost").is_ok());
    fs.crash(0.0);
    ASSERT_EQ(content(fs, "/d/f"), "kept") << "seed " << seed;
  }
}

TEST(FaultyFileSystem, CrashKeepsOnlyInOrderPrefixesOfWhatWasAppended) {
  const std::vector<std::string> appends = {"aaaa", "bbbbbb", "cc", "dddddddd", "eee"};
  std::string all = "durable|";
  std::set<size_t> boundaries = {all.size()};
  for (const std::string& a : appends) {
    all += a;
    boundaries.insert(all.size());
  }
  std::set<size_t> whole_lengths_seen;
  int torn_seen = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    FaultyFileSystem fs(seed);
    auto f = make_durable_file(fs);
    ASSERT_TRUE(f->append("durable|").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    for (const std::string& a : appends) ASSERT_TRUE(f->append(a).is_ok());
    fs.crash(1.0);
    std::string got = content(fs, "/d/f");
    // Never beyond what was appended, never out of order, never less than durable.
    ASSERT_LE(got.size(), all.size()) << "seed " << seed;
    ASSERT_EQ(got, all.substr(0, got.size())) << "seed " << seed;
    ASSERT_GE(got.size(), std::string("durable|").size()) << "seed " << seed;
    if (boundaries.count(got.size()) != 0) {
      whole_lengths_seen.insert(got.size());
    } else {
      ++torn_seen;
    }
  }
  EXPECT_EQ(whole_lengths_seen, boundaries);  // every number of whole appends, 0 to 5
  EXPECT_GT(torn_seen, 20);                   // and torn last appends
}

TEST(FaultyFileSystem, TheFractionIsTheChanceOfKeepingAnything) {
  int kept = 0;
  constexpr int kSeeds = 400;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    FaultyFileSystem fs(seed);
    auto f = make_durable_file(fs);
    ASSERT_TRUE(f->append("x").is_ok());
    fs.crash(0.25);
    if (content(fs, "/d/f") == "x") ++kept;
  }
  // Kept with probability 0.25 * (chance of at least one whole append = 1/2).
  EXPECT_GT(kept, kSeeds / 8 / 2);
  EXPECT_LT(kept, kSeeds / 8 * 2);
}

TEST(FaultyFileSystem, ANewFileVanishesUnlessItsDirectoryIsSynced) {
  FaultyFileSystem fs(2);
  ASSERT_TRUE(fs.create_dir("/d").is_ok());
  ASSERT_TRUE(fs.sync_dir("/").is_ok());
  auto kept = open_ok(fs, "/d/kept", OpenMode::kCreate);
  ASSERT_TRUE(kept->append("data").is_ok());
  ASSERT_TRUE(kept->sync().is_ok());
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  // Created after the sync_dir: its data is durable, its name is not.
  auto orphan = open_ok(fs, "/d/orphan", OpenMode::kCreate);
  ASSERT_TRUE(orphan->append("data").is_ok());
  ASSERT_TRUE(orphan->sync().is_ok());
  auto unsynced = open_ok(fs, "/d/unsynced", OpenMode::kCreate);
  ASSERT_TRUE(unsynced->append("data").is_ok());
  EXPECT_EQ(names(fs, "/d"), (std::vector<std::string>{"kept", "orphan", "unsynced"}));
  fs.crash(1.0);
  EXPECT_EQ(content(fs, "/d/kept"), "data");
  EXPECT_FALSE(fs.exists("/d/orphan"));
  EXPECT_FALSE(fs.exists("/d/unsynced"));
  EXPECT_EQ(names(fs, "/d"), std::vector<std::string>{"kept"});
}

TEST(FaultyFileSystem, ANewDirectoryNeedsItsParentSynced) {
  FaultyFileSystem fs(3);
  ASSERT_TRUE(fs.create_dir("/a/b").is_ok());
  auto f = open_ok(fs, "/a/b/f", OpenMode::kCreate);
  ASSERT_TRUE(f->append("x").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs.sync_dir("/a/b").is_ok());
  ASSERT_TRUE(fs.sync_dir("/a").is_ok());
  fs.crash(1.0);  // "/" was never synced, so "a" and everything under it is gone
  EXPECT_FALSE(fs.exists("/a"));

  ASSERT_TRUE(fs.create_dir("/a/b").is_ok());
  f = open_ok(fs, "/a/b/f", OpenMode::kCreate);
  ASSERT_TRUE(f->append("x").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs.sync_dir("/a/b").is_ok());
  ASSERT_TRUE(fs.sync_dir("/a").is_ok());
  ASSERT_TRUE(fs.sync_dir("/").is_ok());
  fs.crash(1.0);
  EXPECT_EQ(content(fs, "/a/b/f"), "x");
}

TEST(FaultyFileSystem, ARenameWithoutSyncDirIsUndoneByACrash) {
  FaultyFileSystem fs(4);
  auto f = make_durable_file(fs, "/d/tmp");
  ASSERT_TRUE(f->append("snapshot").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs.rename("/d/tmp", "/d/final").is_ok());
  EXPECT_FALSE(fs.exists("/d/tmp"));
  EXPECT_EQ(content(fs, "/d/final"), "snapshot");
  fs.crash(1.0);
  EXPECT_EQ(content(fs, "/d/tmp"), "snapshot");
  EXPECT_FALSE(fs.exists("/d/final"));

  ASSERT_TRUE(fs.rename("/d/tmp", "/d/final").is_ok());
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  fs.crash(1.0);
  EXPECT_FALSE(fs.exists("/d/tmp"));
  EXPECT_EQ(content(fs, "/d/final"), "snapshot");
}

TEST(FaultyFileSystem, ARenameOverAFileIsUndoneByACrashWithTheOldFileBack) {
  FaultyFileSystem fs(5);
  auto old_file = make_durable_file(fs, "/d/current");
  ASSERT_TRUE(old_file->append("old").is_ok());
  ASSERT_TRUE(old_file->sync().is_ok());
  auto new_file = open_ok(fs, "/d/next", OpenMode::kCreate);
  ASSERT_TRUE(new_file->append("new").is_ok());
  ASSERT_TRUE(new_file->sync().is_ok());
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  ASSERT_TRUE(fs.rename("/d/next", "/d/current").is_ok());
  EXPECT_EQ(content(fs, "/d/current"), "new");
  fs.crash(1.0);
  EXPECT_EQ(content(fs, "/d/current"), "old");
  EXPECT_EQ(content(fs, "/d/next"), "new");
}

TEST(FaultyFileSystem, ACrossDirectoryRenameIsDurableOnlyPerDirectory) {
  FaultyFileSystem fs(6);
  auto f = make_durable_file(fs, "/d/f");
  ASSERT_TRUE(f->append("data").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs.create_dir("/e").is_ok());
  ASSERT_TRUE(fs.sync_dir("/").is_ok());
  ASSERT_TRUE(fs.rename("/d/f", "/e/g").is_ok());
  ASSERT_TRUE(fs.sync_dir("/e").is_ok());  // the new name is durable, the removal is not
  fs.crash(1.0);
  EXPECT_EQ(content(fs, "/d/f"), "data");
  EXPECT_EQ(content(fs, "/e/g"), "data");
}

TEST(FaultyFileSystem, ARemoveWithoutSyncDirIsUndoneByACrash) {
  FaultyFileSystem fs(7);
  auto f = make_durable_file(fs);
  ASSERT_TRUE(f->append("data").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs.remove("/d/f").is_ok());
  EXPECT_FALSE(fs.exists("/d/f"));
  fs.crash(1.0);
  EXPECT_EQ(content(fs, "/d/f"), "data");
  ASSERT_TRUE(fs.remove("/d/f").is_ok());
  ASSERT_TRUE(fs.sync_dir("/d").is_ok());
  fs.crash(1.0);
  EXPECT_FALSE(fs.exists("/d/f"));
}

TEST(FaultyFileSystem, AnOpenFileFollowsItsInodeThroughRenameAndRemove) {
  FaultyFileSystem fs(8);
  auto f = make_durable_file(fs, "/d/a");
  ASSERT_TRUE(f->append("one").is_ok());
  ASSERT_TRUE(fs.rename("/d/a", "/d/b").is_ok());
  ASSERT_TRUE(f->append("two").is_ok());
  EXPECT_EQ(content(fs, "/d/b"), "onetwo");
  ASSERT_TRUE(fs.remove("/d/b").is_ok());
  ASSERT_TRUE(f->append("three").is_ok());
  EXPECT_EQ(read(*f, 0, 100), "onetwothree");
  EXPECT_FALSE(fs.exists("/d/b"));
}

// The choice documented in faulty_file_system.cc: an unsynced truncate is lost, and
// surviving appends are written back at the offsets they were written at.
TEST(FaultyFileSystem, AnUnsyncedTruncateIsLostAndSurvivingAppendsLandWhereTheyWere) {
  {
    FaultyFileSystem fs(9);
    auto f = make_durable_file(fs);
    ASSERT_TRUE(f->append("ABCDEF").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    ASSERT_TRUE(f->truncate(3).is_ok());
    EXPECT_EQ(f->size(), 3u);
    EXPECT_EQ(content(fs, "/d/f"), "ABC");
    fs.crash(1.0);
    EXPECT_EQ(content(fs, "/d/f"), "ABCDEF");
  }
  std::set<std::string> outcomes;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    FaultyFileSystem fs(seed);
    auto f = make_durable_file(fs);
    ASSERT_TRUE(f->append("ABCDEF").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    ASSERT_TRUE(f->truncate(3).is_ok());
    ASSERT_TRUE(f->append("XY").is_ok());
    EXPECT_EQ(content(fs, "/d/f"), "ABCXY");
    fs.crash(1.0);
    outcomes.insert(content(fs, "/d/f"));
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"ABCDEF", "ABCXEF", "ABCXYF"}));

  FaultyFileSystem fs(10);
  auto f = make_durable_file(fs);
  ASSERT_TRUE(f->append("ABCDEF").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(f->truncate(2).is_ok());
  ASSERT_TRUE(f->sync().is_ok());  // a synced truncate is durable
  fs.crash(1.0);
  EXPECT_EQ(content(fs, "/d/f"), "AB");
}

TEST(FaultyFileSystem, TruncatingAppendedBytesBelowTheDurableLengthKeepsTheDurableBytes) {
  FaultyFileSystem fs(11);
  auto f = make_durable_file(fs);
  ASSERT_TRUE(f->append("0123").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(f->append("4567").is_ok());
  ASSERT_TRUE(f->truncate(6).is_ok());  // cuts only unsynced bytes
  ASSERT_TRUE(f->truncate(2).is_ok());  // and now durable ones
  ASSERT_TRUE(f->append("ab").is_ok());
  EXPECT_EQ(content(fs, "/d/f"), "01ab");
  fs.crash(0.0);
  EXPECT_EQ(content(fs, "/d/f"), "0123");
}

TEST(FaultyFileSystem, NoSpaceWritesWhatFitsAndFreedSpaceCanBeReused) {
  FaultyFileSystem fs(12);
  auto f = make_durable_file(fs);
  auto g = open_ok(fs, "/d/g", OpenMode::kCreate);
  fs.set_space_bytes(10);
  ASSERT_TRUE(f->append("123456").is_ok());
  Status s = f->append("789abc");
  EXPECT_EQ(s.code(), Code::kNoSpace) << s;
  EXPECT_EQ(f->size(), 10u);
  EXPECT_EQ(content(fs, "/d/f"), "123456789a");
  EXPECT_EQ(fs.stored_bytes(), 10u);
  EXPECT_EQ(g->append("x").code(), Code::kNoSpace);  // the space is shared
  EXPECT_EQ(g->size(), 0u);
  ASSERT_TRUE(f->truncate(8).is_ok());
  ASSERT_TRUE(g->append("xy").is_ok());
  EXPECT_EQ(fs.stored_bytes(), 10u);
  ASSERT_TRUE(fs.remove("/d/g").is_ok());
  EXPECT_EQ(fs.stored_bytes(), 8u);
  fs.set_space_bytes(UINT64_MAX);
  ASSERT_TRUE(f->append(std::string(1000, 'z')).is_ok());
}

TEST(FaultyFileSystem, FailAfterWritesTearsThatWriteOnly) {
  std::set<uint64_t> torn_sizes;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    FaultyFileSystem fs(seed);
    auto f = make_durable_file(fs);
    fs.fail_after_writes(3);
    ASSERT_TRUE(f->append("one").is_ok());
    ASSERT_TRUE(f->append("two").is_ok());
    Status s = f->append("three-three");
    ASSERT_EQ(s.code(), Code::kIoError) << s;
    std::string got = content(fs, "/d/f");
    ASSERT_EQ(got.size(), f->size());
    ASSERT_LT(got.size(), std::string("onetwothree-three").size()) << "seed " << seed;
    ASSERT_EQ(got, std::string("onetwothree-three").substr(0, got.size()));
    ASSERT_GE(got.size(), 6u);
    torn_sizes.insert(got.size());
    ASSERT_TRUE(f->append("four").is_ok()) << "one shot";
  }
  EXPECT_GT(torn_sizes.size(), 3u);  // the cut point varies with the seed
}

TEST(FaultyFileSystem, FailSyncsMakesNothingDurable) {
  FaultyFileSystem fs(13);
  auto f = make_durable_file(fs);
  ASSERT_TRUE(f->append("durable").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  EXPECT_EQ(fs.syncs(), 1u);
  fs.fail_syncs(true);
  ASSERT_TRUE(f->append(" lost").is_ok());
  EXPECT_EQ(f->sync().code(), Code::kIoError);
  auto g = open_ok(fs, "/d/g", OpenMode::kCreate);
  EXPECT_EQ(fs.sync_dir("/d").code(), Code::kIoError);
  EXPECT_EQ(fs.syncs(), 1u);
  fs.crash(0.0);
  EXPECT_EQ(content(fs, "/d/f"), "durable");
  EXPECT_FALSE(fs.exists("/d/g"));
  fs.fail_syncs(false);
  auto h = open_ok(fs, "/d/f", OpenMode::kAppend);
  ASSERT_TRUE(h->append("!").is_ok());
  ASSERT_TRUE(h->sync().is_ok());
  fs.crash(0.0);
  EXPECT_EQ(content(fs, "/d/f"), "durable!");
}

TEST(FaultyFileSystem, CrashAtWriteFailsEveryCallUntilRestart) {
  FaultyFileSystem fs(14);
  auto f = make_durable_file(fs);
  ASSERT_TRUE(f->append("synced").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  fs.crash_at_write(2, 0.0);
  ASSERT_TRUE(f->append("-first").is_ok());
  EXPECT_FALSE(fs.crashed());
  EXPECT_EQ(f->append("-second").code(), Code::kIoError);
  EXPECT_TRUE(fs.crashed());
  expect_dead(*f);
  EXPECT_EQ(code_of(fs.open("/d/f", OpenMode::kRead)), Code::kIoError);
  EXPECT_EQ(code_of(fs.open("/d/new", OpenMode::kCreate)), Code::kIoError);
  EXPECT_EQ(fs.create_dir("/e").code(), Code::kIoError);
  EXPECT_EQ(fs.sync_dir("/d").code(), Code::kIoError);
  EXPECT_EQ(fs.rename("/d/f", "/d/g").code(), Code::kIoError);
  EXPECT_EQ(fs.remove("/d/f").code(), Code::kIoError);
  EXPECT_EQ(code_of(fs.list_dir("/d")), Code::kIoError);
  EXPECT_FALSE(fs.exists("/d/f"));
  fs.restart();
  EXPECT_FALSE(fs.crashed());
  expect_dead(*f);  // Files from before the crash stay dead after the restart
  EXPECT_EQ(content(fs, "/d/f"), "synced");
  auto g = open_ok(fs, "/d/f", OpenMode::kAppend);
  ASSERT_TRUE(g->append("-again").is_ok());  // one shot: no second crash
  EXPECT_EQ(content(fs, "/d/f"), "synced-again");
}

TEST(FaultyFileSystem, CrashAtWriteCanKeepATornPrefixOfTheInterruptedWrite) {
  const std::string all = "synced-first-second-write";
  std::set<size_t> lengths;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    FaultyFileSystem fs(seed);
    auto f = make_durable_file(fs);
    ASSERT_TRUE(f->append("synced").is_ok());
    ASSERT_TRUE(f->sync().is_ok());
    fs.crash_at_write(2, 1.0);
    ASSERT_TRUE(f->append("-first").is_ok());
    ASSERT_EQ(f->append("-second-write").code(), Code::kIoError);
    fs.restart();
    std::string got = content(fs, "/d/f");
    ASSERT_EQ(got, all.substr(0, got.size())) << "seed " << seed;
    ASSERT_GE(got.size(), 6u);
    lengths.insert(got.size());
  }
  EXPECT_TRUE(lengths.count(6) == 1);   // nothing unsynced kept
  EXPECT_TRUE(lengths.count(12) == 1);  // the first append whole
  // Some part of the interrupted write made it to the disk.
  EXPECT_GT(*lengths.rbegin(), 12u);
}

// A scenario with every kind of random choice; its outcome is a function of the seed.
std::string run_scenario(uint64_t seed) {
  FaultyFileSystem fs(seed);
  auto f = make_durable_file(fs);
  auto g = open_ok(fs, "/d/g", OpenMode::kCreate);
  EXPECT_TRUE(fs.sync_dir("/d").is_ok());
  fs.fail_after_writes(4);
  for (int i = 0; i < 6; ++i) {
    (void)f->append("f" + std::to_string(i) + "-abcdefghij");
    (void)g->append("g" + std::to_string(i) + "-klmnopqrst");
    if (i == 2) {
      EXPECT_TRUE(f->sync().is_ok());
    }
  }
  fs.crash(0.7);
  fs.crash_at_write(1, 0.7);
  auto h = open_ok(fs, "/d/f", OpenMode::kAppend);
  (void)h->append("interrupted-write");
  fs.restart();
  return content(fs, "/d/f") + "|" + content(fs, "/d/g");
}

TEST(FaultyFileSystem, TheSameSeedGivesTheSameResult) {
  std::set<std::string> distinct;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    std::string first = run_scenario(seed);
    EXPECT_EQ(run_scenario(seed), first) << "seed " << seed;
    distinct.insert(first);
  }
  EXPECT_GT(distinct.size(), 5u);  // and the seed matters
}

TEST(FaultyFileSystem, PathsDirectoriesAndOpenModes) {
  FaultyFileSystem fs(15);
  EXPECT_EQ(code_of(fs.open("/nodir/f", OpenMode::kCreate)), Code::kNotFound);
  EXPECT_EQ(code_of(fs.open("a/b", OpenMode::kCreateOrOpen)), Code::kNotFound);
  EXPECT_EQ(code_of(fs.open("/missing", OpenMode::kRead)), Code::kNotFound);
  EXPECT_EQ(code_of(fs.open("/missing", OpenMode::kAppend)), Code::kNotFound);
  ASSERT_TRUE(fs.create_dir("a").is_ok());
  ASSERT_TRUE(fs.create_dir("a").is_ok());  // ok if it exists
  open_ok(fs, "a/b", OpenMode::kCreate);
  EXPECT_EQ(code_of(fs.open("a/b", OpenMode::kCreate)), Code::kIoError);
  open_ok(fs, "a/b", OpenMode::kCreateOrOpen);
  open_ok(fs, "./a//b", OpenMode::kRead);
  open_ok(fs, "a/x/../b", OpenMode::kRead);
  EXPECT_FALSE(fs.exists("/a/b"));  // relative and absolute paths are separate trees
  EXPECT_TRUE(fs.exists("a/b"));
  EXPECT_TRUE(fs.exists("a"));
  EXPECT_TRUE(fs.exists("/"));
  EXPECT_EQ(code_of(fs.open("a", OpenMode::kRead)), Code::kIoError);  // a directory
  EXPECT_EQ(fs.create_dir("a/b").code(), Code::kIoError);             // a file
  EXPECT_EQ(code_of(fs.open("a/b/c", OpenMode::kCreate)), Code::kIoError);

  ASSERT_TRUE(fs.create_dir("/x/y/z").is_ok());  // parents too
  EXPECT_TRUE(fs.exists("/x/y/z"));
  for (const char* name : {"/x/c", "/x/a", "/x/b10", "/x/b2"}) {
    open_ok(fs, name, OpenMode::kCreate);
  }
  EXPECT_EQ(names(fs, "/x"), (std::vector<std::string>{"a", "b10", "b2", "c", "y"}));
  EXPECT_EQ(code_of(fs.list_dir("/nope")), Code::kNotFound);
  EXPECT_EQ(code_of(fs.list_dir("/x/a")), Code::kIoError);
  EXPECT_EQ(fs.remove("/x/y").code(), Code::kIoError);  // not empty
  ASSERT_TRUE(fs.remove("/x/y/z").is_ok());
  ASSERT_TRUE(fs.remove("/x/y").is_ok());
  EXPECT_EQ(fs.remove("/x/y").code(), Code::kNotFound);
  EXPECT_EQ(fs.rename("/x", "/w").code(), Code::kInvalidArgument);
  EXPECT_EQ(fs.rename("/x/missing", "/x/q").code(), Code::kNotFound);
  EXPECT_EQ(fs.rename("/x/a", "/nodir/q").code(), Code::kNotFound);
  ASSERT_TRUE(fs.rename("/x/a", "/x/a").is_ok());
  EXPECT_TRUE(fs.exists("/x/a"));
  EXPECT_EQ(fs.sync_dir("/nope").code(), Code::kNotFound);
  EXPECT_EQ(fs.sync_dir("/x/a").code(), Code::kIoError);
}

TEST(FaultyFileSystem, ReadsAndCounters) {
  FaultyFileSystem fs(16);
  auto f = make_durable_file(fs);
  ASSERT_TRUE(f->append("abcdef").is_ok());
  EXPECT_EQ(read(*f, 4, 10), "ef");
  EXPECT_EQ(read(*f, 6, 10), "");
  EXPECT_EQ(read(*f, 100, 10), "");
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  EXPECT_EQ(fs.syncs(), 2u);
  EXPECT_EQ(fs.bytes_written(), 6u);
  EXPECT_EQ(fs.stored_bytes(), 6u);
  auto r = open_ok(fs, "/d/f", OpenMode::kRead);
  EXPECT_EQ(r->append("x").code(), Code::kIoError);
  EXPECT_EQ(r->truncate(0).code(), Code::kIoError);
  EXPECT_EQ(fs.bytes_written(), 6u);
}

TEST(FaultyFileSystem, FilesMayOutliveTheFileSystem) {
  std::unique_ptr<File> f;
  {
    FaultyFileSystem fs(17);
    f = make_durable_file(fs);
    ASSERT_TRUE(f->append("x").is_ok());
  }
  ASSERT_TRUE(f->append("y").is_ok());
  EXPECT_EQ(read(*f, 0, 2), "xy");
}

}  // namespace
}  // namespace meridian::storage
