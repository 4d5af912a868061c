// LogEngine under faults, on a FaultyFileSystem: crashes at every write of a
// workload, crashes with unsynced data, torn tails, damaged bytes, a full disk,
// I/O errors and failed syncs.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/faulty_file_system.h"
#include "storage/journal_format.h"
#include "storage/log_engine.h"
#include "storage/log_model_testing.h"
#include "storage/segment.h"

namespace meridian::storage {
namespace {

using raft::Entry;
using raft::HardState;
using raft::Index;
using raft::NodeId;
using raft::Term;
using testing::LogModel;
using testing::WorkloadGenerator;

constexpr char kDir[] = "journal";

std::unique_ptr<LogEngine> open_engine(FileSystem* fs, uint64_t segment_bytes_max) {
  auto opened =
      LogEngine::open(fs, LogEngineOptions{.dir = kDir, .segment_bytes_max = segment_bytes_max});
  EXPECT_TRUE(opened.is_ok()) << opened.status();
  if (!opened.is_ok()) return nullptr;
  return std::move(opened).value();
}

// A batch valid after any state of the workloads below (which use groups 1..4).
WriteBatch probe_batch() {
  WriteBatch b;
  b.set_hard_state(GroupId{100}, HardState{Term{3}, NodeId{1}, Index{1}});
  b.append(GroupId{100}, {Entry{Term{3}, Index{1}, raft::EntryType::kNormal, "probe"}});
  return b;
}

// Runs a workload until its end or the first failure. states[k] is the model
// after k batches; `written` batches were written, the first `synced` of them
// covered by a successful sync.
struct WorkloadRun {
  std::vector<LogModel> states{LogModel{}};
  size_t written = 0;
  size_t synced = 0;
  bool failed = false;
};

WorkloadRun run_workload(FileSystem* fs, uint64_t seed, size_t batches,
                         uint64_t segment_bytes_max) {
  WorkloadRun run;
  std::unique_ptr<LogEngine> engine = open_engine(fs, segment_bytes_max);
  if (engine == nullptr) {
    run.failed = true;
    return run;
  }
  WorkloadGenerator gen(seed);
  for (size_t k = 1; k <= batches; k++) {
    const WriteBatch b = gen.next();
    run.states.push_back(gen.model());
    if (!engine->write(b).is_ok()) {
      run.failed = true;
      return run;
    }
    run.written = k;
    // Usually a sync per write, as the GroupCommitter does; sometimes two writes
    // share one (FaultyFileSystem writes back unsynced appends in order).
    if (k % 5 == 3) continue;
    if (!engine->sync().is_ok()) {
      run.failed = true;
      return run;
    }
    run.synced = k;
    if (k % 4 == 0 && !engine->collect_garbage().is_ok()) {
      run.failed = true;
      return run;
    }
  }
  return run;
}

// The index j in [lo, hi] with states[j] == got, or -1.
int matching_state(const WorkloadRun& run, const LogModel& got, size_t lo, size_t hi) {
  for (size_t j = lo; j <= hi && j < run.states.size(); j++) {
    if (run.states[j] == got) return static_cast<int>(j);
  }
  return -1;
}

// The key crash test: for every N, the machine loses power in the middle of the
// N-th append of the workload (with none, some or all unsynced data surviving).
// The journal must reopen to the state after some prefix of the batches that
// contains every batch synced before the crash, and take new writes after it.
TEST(LogEngineCrashTest, CrashAtEveryWriteRecoversAPrefixWithEverySyncedBatch) {
  constexpr size_t kBatches = 120;
  constexpr uint64_t kSegmentBytes = 3000;  // rotations and collections happen often
  constexpr double kKeepFractions[] = {0.0, 0.5, 1.0};
  size_t crashes = 0;
  for (double keep : kKeepFractions) {
    for (uint64_t n = 1;; n++) {
      SCOPED_TRACE("crash at write " + std::to_string(n) + ", keep " + std::to_string(keep));
      FaultyFileSystem fs(n * 7919 + static_cast<uint64_t>(keep * 10));
      fs.crash_at_write(n, keep);
      const uint64_t seed = 42;
      const WorkloadRun run = run_workload(&fs, seed, kBatches, kSegmentBytes);
      if (!fs.crashed()) {
        ASSERT_FALSE(run.failed);
        ASSERT_EQ(run.written, kBatches);
        break;
      }
      crashes++;
      fs.restart();
      std::unique_ptr<LogEngine> engine = open_engine(&fs, kSegmentBytes);
      ASSERT_NE(engine, nullptr);
      const LogModel got = LogModel::read(*engine);
      const size_t attempted = run.written + 1;  // the write that crashed
      const int j = matching_state(run, got, run.synced, attempted);
      ASSERT_GE(j, 0) << "recovered a state that is no prefix in [" << run.synced << ", "
                      << attempted << "]; vs synced: " << got.diff(run.states[run.synced]);

      // The recovered journal takes writes and keeps them across a reopen.
      ASSERT_TRUE(engine->write(probe_batch()).is_ok());
      ASSERT_TRUE(engine->sync().is_ok());
      ASSERT_TRUE(engine->collect_garbage().is_ok());
      LogModel expected = run.states[static_cast<size_t>(j)];
      expected.apply(probe_batch());
      engine = open_engine(&fs, kSegmentBytes);
      ASSERT_NE(engine, nullptr);
      const LogModel again = LogModel::read(*engine);
      ASSERT_TRUE(again == expected) << again.diff(expected);
    }
  }
  EXPECT_GT(crashes, 3 * kBatches / 2);
}

TEST(LogEngineCrashTest, UnsyncedBatchIsLostOrKeptWholeNeverPartly) {
  size_t lost = 0;
  size_t kept = 0;
  for (uint64_t seed = 1; seed <= 60; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    FaultyFileSystem fs(seed);
    std::unique_ptr<LogEngine> engine = open_engine(&fs, 64ull << 20);
    ASSERT_NE(engine, nullptr);
    WorkloadGenerator gen(seed, 4, 2000);  // large batches, so tears fall inside them
    for (int k = 0; k < 10; k++) {
      ASSERT_TRUE(engine->write(gen.next()).is_ok());
      ASSERT_TRUE(engine->sync().is_ok());
    }
    const LogModel synced = gen.model();
    ASSERT_TRUE(engine->write(gen.next()).is_ok());
    const LogModel unsynced = gen.model();
    fs.crash(0.7);
    engine = open_engine(&fs, 64ull << 20);
    ASSERT_NE(engine, nullptr);
    const LogModel got = LogModel::read(*engine);
    if (got == synced) {
      lost++;
    } else {
      ASSERT_TRUE(got == unsynced) << got.diff(unsynced);
      kept++;
    }
  }
  EXPECT_GT(lost, 0u);
  EXPECT_GT(kept, 0u);
}

TEST(LogEngineCrashTest, RecoveryMakesWhatItReadDurable) {
  // The process dies after a write and before its sync, the machine stays up: the
  // next process reads the batch from the page cache and serves it, so it must be
  // durable before a later power loss could take it back.
  FaultyFileSystem fs(4);
  std::unique_ptr<LogEngine> engine = open_engine(&fs, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->write(probe_batch()).is_ok());
  engine = open_engine(&fs, 64ull << 20);  // a new process; no sync in between
  ASSERT_NE(engine, nullptr);
  ASSERT_EQ(engine->last_index(GroupId{100}), Index{1});
  fs.crash(0.0);  // power loss: every unsynced byte is gone
  engine = open_engine(&fs, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->last_index(GroupId{100}), Index{1});
  EXPECT_EQ(engine->hard_state(GroupId{100}).term, Term{3});
}

// --- damaged files ---------------------------------------------------------------

std::string read_file(FileSystem& fs, const std::string& path) {
  auto f = fs.open(path, OpenMode::kRead);
  EXPECT_TRUE(f.is_ok());
  auto bytes = f.value()->read_at(0, f.value()->size());
  EXPECT_TRUE(bytes.is_ok());
  return bytes.value();
}

void write_file(FileSystem& fs, const std::string& path, const std::string& content) {
  auto f = fs.open(path, OpenMode::kAppend);
  ASSERT_TRUE(f.is_ok());
  ASSERT_TRUE(f.value()->truncate(0).is_ok());
  ASSERT_TRUE(f.value()->append(content).is_ok());
  ASSERT_TRUE(f.value()->sync().is_ok());
}

// Offsets of the frames in a segment's bytes.
std::vector<uint64_t> frame_offsets(const std::string& bytes) {
  std::vector<uint64_t> out;
  uint64_t at = 0;
  while (at + kFrameHeaderBytes <= bytes.size()) {
    out.push_back(at);
    at += kFrameHeaderBytes + get_fixed32(bytes.data() + at + 4);
  }
  return out;
}

std::string segment_path(uint64_t n) { return join_path(kDir, segment_name(n)); }

class DamageTest : public ::testing::Test {
 protected:
  // Writes and syncs `n` batches of the workload.
  void write_batches(size_t n, uint64_t segment_bytes_max = 64ull << 20) {
    segment_bytes_max_ = segment_bytes_max;
    std::unique_ptr<LogEngine> engine = open_engine(&fs_, segment_bytes_max);
    ASSERT_NE(engine, nullptr);
    for (size_t k = 0; k < n; k++) {
      ASSERT_TRUE(engine->write(gen_.next()).is_ok());
      ASSERT_TRUE(engine->sync().is_ok());
    }
  }
  Result<std::unique_ptr<LogEngine>> reopen() {
    return LogEngine::open(&fs_,
                           LogEngineOptions{.dir = kDir, .segment_bytes_max = segment_bytes_max_});
  }
  void expect_corruption_at(uint64_t segment, uint64_t offset) {
    auto opened = reopen();
    ASSERT_FALSE(opened.is_ok());
    EXPECT_EQ(opened.status().code(), Code::kCorruption);
    const std::string where =
        "file " + segment_path(segment) + " offset " + std::to_string(offset) + ":";
    EXPECT_NE(opened.status().message().find(where), std::string::npos)
        << opened.status().message() << " does not name " << where;
  }

  FaultyFileSystem fs_{3};
  WorkloadGenerator gen_{11};
  uint64_t segment_bytes_max_ = 64ull << 20;
};

TEST_F(DamageTest, TornTailIsTruncatedAndLaterAppendsWork) {
  write_batches(8);
  const std::string path = segment_path(1);
  const std::string clean = read_file(fs_, path);
  // Half of a copy of the last frame: a write cut short by a crash.
  const uint64_t last = frame_offsets(clean).back();
  const std::string torn = clean.substr(last, (clean.size() - last) / 2);
  write_file(fs_, path, clean + torn);

  auto opened = reopen();
  ASSERT_TRUE(opened.is_ok()) << opened.status();
  std::unique_ptr<LogEngine> engine = std::move(opened).value();
  EXPECT_EQ(read_file(fs_, path), clean);
  EXPECT_TRUE(LogModel::read(*engine) == gen_.model());

  WriteBatch more = gen_.next();
  ASSERT_TRUE(engine->write(more).is_ok());
  ASSERT_TRUE(engine->sync().is_ok());
  engine.reset();
  opened = reopen();
  ASSERT_TRUE(opened.is_ok()) << opened.status();
  EXPECT_TRUE(LogModel::read(*opened.value()) == gen_.model());
}

TEST_F(DamageTest, ZeroedTailIsTruncated) {
  // Some file systems extend a file before its data reaches the disk: a crash
  // then leaves zeros where the last write was going.
  write_batches(5);
  const std::string path = segment_path(1);
  const std::string clean = read_file(fs_, path);
  write_file(fs_, path, clean + std::string(5000, '\0'));
  auto opened = reopen();
  ASSERT_TRUE(opened.is_ok()) << opened.status();
  EXPECT_EQ(read_file(fs_, path), clean);
  EXPECT_TRUE(LogModel::read(*opened.value()) == gen_.model());
}

TEST_F(DamageTest, DamageInAnOlderSegmentIsCorruption) {
  write_batches(60, /*segment_bytes_max=*/2000);
  const std::string path = segment_path(1);
  std::string bytes = read_file(fs_, path);
  const std::vector<uint64_t> frames = frame_offsets(bytes);
  ASSERT_GE(frames.size(), 2u);
  const uint64_t frame = frames.back();  // even the last frame of a non-last segment
  bytes[frame + kFrameHeaderBytes + 3] ^= 0x20;
  write_file(fs_, path, bytes);
  expect_corruption_at(1, frame);
}

TEST_F(DamageTest, DamageInTheMiddleOfTheLastSegmentIsCorruption) {
  write_batches(10);
  const std::string path = segment_path(1);
  std::string bytes = read_file(fs_, path);
  const std::vector<uint64_t> frames = frame_offsets(bytes);
  ASSERT_GE(frames.size(), 5u);
  const uint64_t frame = frames[3];
  bytes[frame + kFrameHeaderBytes + 5] ^= 0x01;
  write_file(fs_, path, bytes);
  expect_corruption_at(1, frame);
}

TEST_F(DamageTest, DamagedLengthInTheMiddleIsCorruptionNotATornTail) {
  // A damaged length hides where the next frame starts; the scan for any valid
  // frame after it still finds one, so the frames after it are not cut off.
  write_batches(10);
  const std::string path = segment_path(1);
  std::string bytes = read_file(fs_, path);
  const std::vector<uint64_t> frames = frame_offsets(bytes);
  const uint64_t frame = frames[4];
  bytes[frame + 7] = static_cast<char>(0x7f);  // length now far past the end of the file
  write_file(fs_, path, bytes);
  expect_corruption_at(1, frame);
}

TEST_F(DamageTest, DamagedHeaderMagicInTheMiddleIsCorruption) {
  write_batches(10);
  const std::string path = segment_path(1);
  std::string bytes = read_file(fs_, path);
  const uint64_t frame = frame_offsets(bytes)[2];
  bytes[frame] = 'X';
  write_file(fs_, path, bytes);
  expect_corruption_at(1, frame);
}

TEST_F(DamageTest, DamagedLastFrameIsTakenForATornTail) {
  // The documented limit of the rule: damage to the very last frame looks the
  // same as a torn write, so that frame is cut off (it is the newest write; with
  // one sync per write it was acknowledged only if its sync returned).
  write_batches(6);
  const LogModel before_last = [&] {
    WorkloadGenerator g(11);
    LogModel m;
    for (int k = 0; k < 5; k++) m.apply(g.next());
    return m;
  }();
  const std::string path = segment_path(1);
  std::string bytes = read_file(fs_, path);
  const uint64_t frame = frame_offsets(bytes).back();
  bytes[frame + kFrameHeaderBytes + 2] ^= 0x10;
  write_file(fs_, path, bytes);
  auto opened = reopen();
  ASSERT_TRUE(opened.is_ok()) << opened.status();
  EXPECT_TRUE(LogModel::read(*opened.value()) == before_last);
}

TEST_F(DamageTest, MissingSegmentWithLiveEntriesIsCorruption) {
  // Group 1 never compacts, so every segment holds live entries of it; losing one
  // (an operator's mistake, a broken disk) must not pass for an intact log.
  segment_bytes_max_ = 2000;
  std::unique_ptr<LogEngine> engine = open_engine(&fs_, segment_bytes_max_);
  ASSERT_NE(engine, nullptr);
  for (uint64_t k = 0; k < 20; k++) {
    WriteBatch b;
    b.append(GroupId{1},
             {Entry{Term{1}, Index{1 + k}, raft::EntryType::kNormal, std::string(500, 'e')}});
    ASSERT_TRUE(engine->write(b).is_ok());
    ASSERT_TRUE(engine->sync().is_ok());
  }
  engine.reset();
  ASSERT_TRUE(fs_.exists(segment_path(3)));
  ASSERT_TRUE(fs_.remove(segment_path(2)).is_ok());
  auto opened = reopen();
  ASSERT_FALSE(opened.is_ok());
  EXPECT_EQ(opened.status().code(), Code::kCorruption) << opened.status();
  EXPECT_NE(opened.status().message().find("group 1: entries"), std::string::npos)
      << opened.status();
}

TEST_F(DamageTest, EntryDamagedAfterOpenFailsItsChecksumOnRead) {
  // Entries read back from files are checked again (a disk may rot after
  // recovery checked the frame); the write path's checks are not the only ones.
  std::unique_ptr<LogEngine> engine = open_engine(&fs_, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  const GroupId g{1};
  for (uint64_t k = 0; k < 10; k++) {
    WriteBatch b;
    std::vector<Entry> es;
    for (uint64_t i = 0; i < 100; i++) {
      es.push_back(Entry{Term{1}, Index{1 + k * 100 + i}, raft::EntryType::kNormal,
                         std::string(1000, static_cast<char>('a' + i % 26))});
    }
    b.append(g, std::move(es));
    ASSERT_TRUE(engine->write(b).is_ok());
    ASSERT_TRUE(engine->sync().is_ok());
  }
  // Entry 1 left the cache long ago. Its data is the 'a's at the start of the
  // first batch frame.
  const std::string path = segment_path(1);
  std::string bytes = read_file(fs_, path);
  const size_t at = bytes.find(std::string(1000, 'a'));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] = 'b';
  write_file(fs_, path, bytes);
  auto es = engine->entries(g, Index{1}, Index{2}, UINT64_MAX);
  ASSERT_FALSE(es.is_ok());
  EXPECT_EQ(es.status().code(), Code::kCorruption);
  EXPECT_NE(es.status().message().find("entry 1 of group 1"), std::string::npos) << es.status();
  // Newer entries, still cached, read fine.
  EXPECT_TRUE(engine->entries(g, Index{1000}, Index{1001}, UINT64_MAX).is_ok());
}

// --- full disk, I/O errors, failed syncs ------------------------------------------

TEST(LogEngineFaultTest, NoSpaceLeavesStateUnchangedAndLaterWritesSucceed) {
  FaultyFileSystem fs(5);
  std::unique_ptr<LogEngine> engine = open_engine(&fs, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  WorkloadGenerator gen(5, 4, 2000);
  for (int k = 0; k < 10; k++) {
    ASSERT_TRUE(engine->write(gen.next()).is_ok());
    ASSERT_TRUE(engine->sync().is_ok());
  }
  const LogModel before = gen.model();
  const uint64_t stored = fs.stored_bytes();
  WriteBatch big;
  big.append(GroupId{50},
             {Entry{Term{1}, Index{1}, raft::EntryType::kNormal, std::string(5000, 'x')}});
  fs.set_space_bytes(stored + 100);  // room for a prefix of the frame only
  EXPECT_EQ(engine->write(big).code(), Code::kNoSpace);
  EXPECT_FALSE(engine->failed());
  EXPECT_EQ(fs.stored_bytes(), stored) << "the prefix written must be cut off";
  EXPECT_TRUE(LogModel::read(*engine) == before);
  EXPECT_EQ(engine->write(big).code(), Code::kNoSpace);

  fs.set_space_bytes(UINT64_MAX);
  ASSERT_TRUE(engine->write(big).is_ok());
  ASSERT_TRUE(engine->sync().is_ok());
  LogModel after = before;
  after.apply(big);
  EXPECT_TRUE(LogModel::read(*engine) == after);
  // A crash now keeps exactly that: the cut-off prefixes never come back.
  fs.crash(1.0);
  engine = open_engine(&fs, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  const LogModel got = LogModel::read(*engine);
  EXPECT_TRUE(got == after) << got.diff(after);
}

TEST(LogEngineFaultTest, NoSpaceRollbackIsDurable) {
  // The cut of a partly written frame is synced: a crash right after a full disk
  // finds the journal byte for byte as it was before the failed write.
  for (uint64_t seed = 1; seed <= 20; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    FaultyFileSystem fs(seed);
    std::unique_ptr<LogEngine> engine = open_engine(&fs, 64ull << 20);
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(engine->write(probe_batch()).is_ok());
    ASSERT_TRUE(engine->sync().is_ok());
    const std::string before = read_file(fs, segment_path(1));
    fs.set_space_bytes(fs.stored_bytes() + 50);
    WriteBatch big;
    big.append(GroupId{7},
               {Entry{Term{1}, Index{1}, raft::EntryType::kNormal, std::string(1000, 'z')}});
    ASSERT_EQ(engine->write(big).code(), Code::kNoSpace);
    fs.crash(1.0);
    EXPECT_EQ(read_file(fs, segment_path(1)), before);
  }
}

TEST(LogEngineFaultTest, NoSpaceForANewSegmentsFirstWrite) {
  FaultyFileSystem fs(6);
  std::unique_ptr<LogEngine> engine = open_engine(&fs, /*segment_bytes_max=*/100);
  ASSERT_NE(engine, nullptr);
  WorkloadGenerator gen(6);
  ASSERT_TRUE(engine->write(gen.next()).is_ok());
  ASSERT_TRUE(engine->sync().is_ok());
  const LogModel before = gen.model();
  fs.set_space_bytes(fs.stored_bytes() + 10);  // the next write starts segment 2
  WriteBatch b = gen.next();
  EXPECT_EQ(engine->write(b).code(), Code::kNoSpace);
  EXPECT_TRUE(LogModel::read(*engine) == before);
  fs.set_space_bytes(UINT64_MAX);
  ASSERT_TRUE(engine->write(b).is_ok());
  ASSERT_TRUE(engine->sync().is_ok());
  ASSERT_TRUE(engine->collect_garbage().is_ok());
  engine = open_engine(&fs, 100);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(LogModel::read(*engine) == gen.model());
}

TEST(LogEngineFaultTest, IoErrorOnWriteFailsTheEngineButReadsWork) {
  FaultyFileSystem fs(7);
  std::unique_ptr<LogEngine> engine = open_engine(&fs, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  WorkloadGenerator gen(7);
  for (int k = 0; k < 10; k++) {
    ASSERT_TRUE(engine->write(gen.next()).is_ok());
    ASSERT_TRUE(engine->sync().is_ok());
  }
  const LogModel before = gen.model();
  fs.fail_after_writes(1);
  EXPECT_EQ(engine->write(gen.next()).code(), Code::kIoError);
  EXPECT_TRUE(engine->failed());
  EXPECT_EQ(engine->write(probe_batch()).code(), Code::kIoError);
  EXPECT_EQ(engine->sync().code(), Code::kIoError);
  EXPECT_EQ(engine->collect_garbage().code(), Code::kIoError);
  EXPECT_TRUE(LogModel::read(*engine) == before);
  // A restart recovers what was synced; the torn write is cut off.
  engine = open_engine(&fs, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(LogModel::read(*engine) == before);
  EXPECT_FALSE(engine->failed());
}

TEST(LogEngineFaultTest, FailedSyncIsNeverRetried) {
  FaultyFileSystem fs(8);
  std::unique_ptr<LogEngine> engine = open_engine(&fs, 64ull << 20);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->write(probe_batch()).is_ok());
  fs.fail_syncs(true);
  EXPECT_EQ(engine->sync().code(), Code::kIoError);
  EXPECT_TRUE(engine->failed());
  fs.fail_syncs(false);
  const uint64_t syncs = fs.syncs();
  EXPECT_EQ(engine->sync().code(), Code::kIoError);
  EXPECT_EQ(engine->write(probe_batch()).code(), Code::kIoError);
  EXPECT_EQ(fs.syncs(), syncs) << "no sync may follow a failed one";
  // Reads still answer from what was written.
  EXPECT_EQ(engine->last_index(GroupId{100}), Index{1});
  auto es = engine->entries(GroupId{100}, Index{1}, Index{2}, UINT64_MAX);
  ASSERT_TRUE(es.is_ok());
  EXPECT_EQ(es.value()[0].data, "probe");
}

}  // namespace
}  // namespace meridian::storage
