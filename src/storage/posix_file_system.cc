#include "storage/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <utility>

namespace meridian::storage {
namespace {

// A system call interrupted by a signal is retried, but not forever: a signal
// storm that long is a bug elsewhere, and failing beats spinning.
constexpr int kInterruptsMax = 1000;
// read_at() grows its buffer by at most this much beyond the size it knows, so a
// request for far more than the file holds does not allocate it all up front.
constexpr size_t kReadChunkBytes = 1u << 20;

Status errno_status(int err, std::string_view op, const std::string& path) {
  Code code = Code::kIoError;
  if (err == ENOSPC || err == EDQUOT) {
    code = Code::kNoSpace;
  } else if (err == ENOENT) {
    code = Code::kNotFound;
  }
  std::string msg(op);
  msg += ' ';
  msg += path;
  msg += ": ";
  msg += std::system_category().message(err);  // thread-safe, unlike strerror()
  return Status(code, std::move(msg));
}

// Runs `call` (a system call returning -1 and errno on failure) again while it is
// interrupted by a signal, at most kInterruptsMax times.
template <class Call>
auto retry_interrupted(Call call) {
  auto r = call();
  for (int i = 0; i < kInterruptsMax && r < 0 && errno == EINTR; ++i) r = call();
  return r;
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~PosixFile() override {
    // Errors from close() are not reported: durability was decided by sync().
    ::close(fd_);
  }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status append(std::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t r =
          retry_interrupted([&] { return ::write(fd_, data.data() + done, data.size() - done); });
      if (r <= 0) {
        // write() returns 0 only when asked for 0 bytes; treat it as an error
        // rather than loop on it.
        return errno_status(r < 0 ? errno : EIO, "append to", path_);
      }
      done += static_cast<size_t>(r);
      // Counted as it goes, so that after a failure size() says what was written.
      size_.fetch_add(static_cast<uint64_t>(r), std::memory_order_release);
    }
    return Status::ok();
  }

  Result<std::string> read_at(uint64_t offset, size_t n) const override {
    uint64_t known = size();
    std::string out;
    out.resize(offset < known ? static_cast<size_t>(std::min<uint64_t>(n, known - offset)) : 0);
    size_t got = 0;
    while (got < n) {
      if (got == out.size()) out.resize(got + std::min(n - got, kReadChunkBytes));
      ssize_t r = retry_interrupted([&] {
        return ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
      });
      if (r < 0) return errno_status(errno, "read from", path_);
      if (r == 0) break;  // end of file
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }

  Status sync() override {
    if (retry_interrupted([&] { return ::fdatasync(fd_); }) != 0) {
      return errno_status(errno, "sync", path_);
    }
    return Status::ok();
  }

  Status truncate(uint64_t size) override {
    MERIDIAN_ASSERT(size <= this->size(), "truncate ", path_, " to ", size, " past its size ",
                    this->size());
    if (retry_interrupted([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return errno_status(errno, "truncate", path_);
    }
    // O_APPEND makes the next write land at the new end; no seek needed.
    size_.store(size, std::memory_order_release);
    return Status::ok();
  }

  uint64_t size() const override { return size_.load(std::memory_order_acquire); }

 private:
  const int fd_;
  const std::string path_;
  std::atomic<uint64_t> size_;
};

int open_flags(OpenMode mode) {
  switch (mode) {
    case OpenMode::kRead:
      return O_RDONLY;
    case OpenMode::kAppend:
      return O_RDWR | O_APPEND;
    case OpenMode::kCreate:
      return O_RDWR | O_APPEND | O_CREAT | O_EXCL;
    case OpenMode::kCreateOrOpen:
      return O_RDWR | O_APPEND | O_CREAT;
  }
  MERIDIAN_ASSERT(false, "unknown OpenMode ", static_cast<int>(mode));
  return 0;
}

// mkdir of one directory; an existing directory is fine, an existing file is not.
Status make_one_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return Status::ok();
  int err = errno;
  if (err == EEXIST) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::ok();
    return Status(Code::kIoError, "create_dir " + path + ": exists and is not a directory");
  }
  return errno_status(err, "create_dir", path);
}

}  // namespace

Result<std::unique_ptr<File>> PosixFileSystem::open(const std::string& path, OpenMode mode) {
  // 0644: the owner writes, others may read (operators inspect the files).
  int fd =
      retry_interrupted([&] { return ::open(path.c_str(), open_flags(mode) | O_CLOEXEC, 0644); });
  if (fd < 0) return errno_status(errno, "open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = errno_status(errno, "stat", path);
    ::close(fd);
    return s;
  }
  // O_RDONLY opens a directory without complaint; a File of one would be useless.
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status(Code::kIoError, "open " + path + ": is a directory");
  }
  return std::unique_ptr<File>(
      std::make_unique<PosixFile>(fd, path, static_cast<uint64_t>(st.st_size)));
}

Status PosixFileSystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return errno_status(errno, "rename", from + " to " + to);
  return Status::ok();
}

Status PosixFileSystem::remove(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return Status::ok();
  int err = errno;
  // Linux says EISDIR for a directory, POSIX allows EPERM.
  if (err == EISDIR || err == EPERM) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (::rmdir(path.c_str()) == 0) return Status::ok();
      err = errno;
    }
  }
  return errno_status(err, "remove", path);
}

Status PosixFileSystem::create_dir(const std::string& path) {
  if (path.empty()) return Status(Code::kInvalidArgument, "create_dir: empty path");
  // Parents first (skipping a leading '/'), then the directory itself.
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (path[slash - 1] == '/') continue;  // "a//b"
    Status s = make_one_dir(path.substr(0, slash));
    if (!s.is_ok()) return s;
  }
  return make_one_dir(path);
}

Status PosixFileSystem::sync_dir(const std::string& path) {
  int fd =
      retry_interrupted([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) return errno_status(errno, "open directory", path);
  Status s;
  if (retry_interrupted([&] { return ::fsync(fd); }) != 0)
    s = errno_status(errno, "sync_dir", path);
  ::close(fd);
  return s;
}

Result<std::vector<std::string>> PosixFileSystem::list_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return errno_status(errno, "list_dir", path);
  std::vector<std::string> names;
  while (true) {
    errno = 0;  // readdir() returns null both at the end and on error
    const dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    std::string_view name(e->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return errno_status(err, "list_dir", path);
  std::sort(names.begin(), names.end());
  return names;
}

bool PosixFileSystem::exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace meridian::storage
