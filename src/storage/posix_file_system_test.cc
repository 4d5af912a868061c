#include "storage/posix_file_system.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/file_system_testing.h"

namespace meridian::storage {
namespace {

using testing::code_of;
using testing::names;
using testing::read;

// A fresh directory under /tmp per test, removed afterwards.
class PosixFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/meridian_posix_fs_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path(std::string_view name) const { return join_path(dir_, name); }

  std::unique_ptr<File> open_ok(const std::string& p, OpenMode mode) {
    auto f = fs_.open(p, mode);
    EXPECT_TRUE(f.is_ok()) << f.status();
    return f.is_ok() ? std::move(f).value() : nullptr;
  }

  // The whole content of a file, or "<missing>".
  std::string content(const std::string& p) {
    auto f = fs_.open(p, OpenMode::kRead);
    if (!f.is_ok()) return "<missing>";
    auto data = f.value()->read_at(0, f.value()->size());
    return data.is_ok() ? data.value() : "<error>";
  }

  PosixFileSystem fs_;
  std::string dir_;
};

TEST(JoinPath, JoinsWithExactlyOneSlash) {
  EXPECT_EQ(join_path("a", "b"), "a/b");
  EXPECT_EQ(join_path("a/", "b"), "a/b");
  EXPECT_EQ(join_path("a//", "/b"), "a/b");
  EXPECT_EQ(join_path("/", "b"), "/b");
  EXPECT_EQ(join_path("", "b"), "b");
  EXPECT_EQ(join_path("/x/y", "z.log"), "/x/y/z.log");
}

TEST_F(PosixFileSystemTest, CreateAppendReadSyncTruncateReopen) {
  std::string p = path("f");
  {
    auto f = open_ok(p, OpenMode::kCreate);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->size(), 0u);
    ASSERT_TRUE(f->append("hello ").is_ok());
    ASSERT_TRUE(f->append("world").is_ok());
    ASSERT_TRUE(f->append("").is_ok());
    EXPECT_EQ(f->size(), 11u);
    EXPECT_EQ(read(*f, 0, 11), "hello world");
    EXPECT_EQ(read(*f, 6, 3), "wor");
    ASSERT_TRUE(f->sync().is_ok());
    ASSERT_TRUE(f->truncate(5).is_ok());
    EXPECT_EQ(f->size(), 5u);
    // The next append lands at the new end, not at the old write offset.
    ASSERT_TRUE(f->append("!").is_ok());
    EXPECT_EQ(read(*f, 0, 100), "hello!");
    ASSERT_TRUE(f->sync().is_ok());
  }
  auto r = open_ok(p, OpenMode::kRead);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->size(), 6u);
  EXPECT_EQ(read(*r, 0, 6), "hello!");
  auto a = open_ok(p, OpenMode::kAppend);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->size(), 6u);
  ASSERT_TRUE(a->append("?").is_ok());
  EXPECT_EQ(read(*a, 0, 100), "hello!?");
  // A File opened earlier reads the new bytes even though its size() is its own.
  EXPECT_EQ(read(*r, 0, 100), "hello!?");
  EXPECT_EQ(r->size(), 6u);
}

TEST_F(PosixFileSystemTest, LargeAppendAndReadRoundTrip) {
  std::string data(3u << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 11));
  auto f = open_ok(path("big"), OpenMode::kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->append(data).is_ok());
  EXPECT_EQ(f->size(), data.size());
  EXPECT_EQ(read(*f, 0, data.size()), data);
  EXPECT_EQ(read(*f, 12345, 1000), data.substr(12345, 1000));
}

TEST_F(PosixFileSystemTest, ReadPastTheEndReturnsFewerBytes) {
  auto f = open_ok(path("f"), OpenMode::kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->append("abcdef").is_ok());
  EXPECT_EQ(read(*f, 4, 10), "ef");
  EXPECT_EQ(read(*f, 6, 10), "");
  EXPECT_EQ(read(*f, 100, 10), "");
  EXPECT_EQ(read(*f, 0, 0), "");
  // Asking for far more than exists does not try to allocate it.
  EXPECT_EQ(read(*f, 0, size_t{1} << 40), "abcdef");
}

TEST_F(PosixFileSystemTest, OpenModesAndTheirErrors) {
  auto missing = fs_.open(path("missing"), OpenMode::kRead);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(code_of(missing), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(path("missing")), std::string::npos)
      << missing.status();
  EXPECT_EQ(code_of(fs_.open(path("missing"), OpenMode::kAppend)), Code::kNotFound);
  EXPECT_EQ(code_of(fs_.open(path("no/such/dir/f"), OpenMode::kCreate)), Code::kNotFound);

  ASSERT_NE(open_ok(path("f"), OpenMode::kCreate), nullptr);
  auto again = fs_.open(path("f"), OpenMode::kCreate);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(code_of(again), Code::kIoError);
  ASSERT_NE(open_ok(path("f"), OpenMode::kCreateOrOpen), nullptr);
  ASSERT_NE(open_ok(path("g"), OpenMode::kCreateOrOpen), nullptr);
  EXPECT_TRUE(fs_.exists(path("g")));

  auto dir = fs_.open(dir_, OpenMode::kRead);
  ASSERT_FALSE(dir.is_ok());
  EXPECT_EQ(code_of(dir), Code::kIoError);

  auto read_only = open_ok(path("f"), OpenMode::kRead);
  ASSERT_NE(read_only, nullptr);
  EXPECT_EQ(read_only->append("x").code(), Code::kIoError);
  EXPECT_EQ(read_only->size(), 0u);
}

TEST_F(PosixFileSystemTest, OpenedDescriptorsAreCloseOnExec) {
  auto f = open_ok(path("f"), OpenMode::kCreate);
  ASSERT_NE(f, nullptr);
  // The descriptor just opened is the highest one; check every open descriptor above
  // stderr that refers to our file.
  bool found = false;
  for (int fd = 3; fd < 1024; ++fd) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
    if (ec || target != path("f")) continue;
    found = true;
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  }
  if (!found) GTEST_SKIP() << "no /proc/self/fd here";
}

TEST_F(PosixFileSystemTest, RenameAndSyncDir) {
  auto f = open_ok(path("tmp"), OpenMode::kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->append("snapshot").is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs_.rename(path("tmp"), path("final")).is_ok());
  ASSERT_TRUE(fs_.sync_dir(dir_).is_ok());
  EXPECT_FALSE(fs_.exists(path("tmp")));
  EXPECT_TRUE(fs_.exists(path("final")));
  // The open File follows its inode through the rename.
  ASSERT_TRUE(f->append("!").is_ok());
  EXPECT_EQ(content(path("final")), "snapshot!");

  // Renaming over an existing file replaces it.
  ASSERT_NE(open_ok(path("other"), OpenMode::kCreate), nullptr);
  ASSERT_TRUE(fs_.rename(path("other"), path("final")).is_ok());
  EXPECT_EQ(content(path("final")), "");

  EXPECT_EQ(fs_.rename(path("missing"), path("x")).code(), Code::kNotFound);
  EXPECT_EQ(fs_.sync_dir(path("missing")).code(), Code::kNotFound);
  EXPECT_EQ(fs_.sync_dir(path("final")).code(), Code::kIoError);  // not a directory
}

TEST_F(PosixFileSystemTest, ListDirIsSortedWithoutDotEntries) {
  for (const char* name : {"c", "a", "b10", "b2"}) {
    ASSERT_NE(open_ok(path(name), OpenMode::kCreate), nullptr);
  }
  ASSERT_TRUE(fs_.create_dir(path("sub")).is_ok());
  EXPECT_EQ(names(fs_, dir_), (std::vector<std::string>{"a", "b10", "b2", "c", "sub"}));
  EXPECT_EQ(names(fs_, path("sub")), std::vector<std::string>{});
  EXPECT_EQ(code_of(fs_.list_dir(path("missing"))), Code::kNotFound);
}

TEST_F(PosixFileSystemTest, CreateDirMakesParentsAndAcceptsExisting) {
  ASSERT_TRUE(fs_.create_dir(path("a/b/c")).is_ok());
  EXPECT_TRUE(fs_.exists(path("a/b/c")));
  ASSERT_TRUE(fs_.create_dir(path("a/b/c")).is_ok());
  ASSERT_TRUE(fs_.create_dir(path("a//b/d/")).is_ok());
  EXPECT_TRUE(fs_.exists(path("a/b/d")));
  ASSERT_NE(open_ok(path("a/file"), OpenMode::kCreate), nullptr);
  EXPECT_EQ(fs_.create_dir(path("a/file")).code(), Code::kIoError);
  EXPECT_EQ(fs_.create_dir(path("a/file/x")).code(), Code::kIoError);
  EXPECT_EQ(fs_.create_dir("").code(), Code::kInvalidArgument);
}

TEST_F(PosixFileSystemTest, RemoveFilesAndEmptyDirectories) {
  ASSERT_NE(open_ok(path("f"), OpenMode::kCreate), nullptr);
  ASSERT_TRUE(fs_.create_dir(path("d")).is_ok());
  ASSERT_NE(open_ok(path("d/g"), OpenMode::kCreate), nullptr);
  ASSERT_TRUE(fs_.remove(path("f")).is_ok());
  EXPECT_FALSE(fs_.exists(path("f")));
  EXPECT_EQ(fs_.remove(path("f")).code(), Code::kNotFound);
  EXPECT_EQ(fs_.remove(path("d")).code(), Code::kIoError);  // not empty
  ASSERT_TRUE(fs_.remove(path("d/g")).is_ok());
  ASSERT_TRUE(fs_.remove(path("d")).is_ok());
  EXPECT_FALSE(fs_.exists(path("d")));
}

// ENOSPC from a real disk would need a tiny filesystem, which needs mount
// privileges; /dev/full gives ENOSPC to every write instead, which checks the
// mapping to kNoSpace. Behaviour on a full disk is covered with FaultyFileSystem.
TEST_F(PosixFileSystemTest, NoSpaceIsReportedAsNoSpace) {
  if (!fs_.exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto f = fs_.open("/dev/full", OpenMode::kAppend);
  if (!f.is_ok()) GTEST_SKIP() << f.status();
  Status s = f.value()->append("data");
  EXPECT_EQ(s.code(), Code::kNoSpace) << s;
  EXPECT_NE(s.message().find("/dev/full"), std::string::npos) << s;
}

}  // namespace
}  // namespace meridian::storage
