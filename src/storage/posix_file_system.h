// PosixFileSystem: the production file layer, plain POSIX calls on a local disk.
// Appends go through write() on a descriptor opened with O_APPEND (looping over
// short writes and EINTR), reads through pread(), File::sync() is fdatasync(),
// and sync_dir() opens the directory and fsync()s it. Every descriptor is opened
// with O_CLOEXEC so that no child process inherits it.
//
// Errors: ENOSPC and EDQUOT are kNoSpace, ENOENT is kNotFound, anything else is
// kIoError; messages name the operation, the path and the system's reason.
//
// Beyond file_system.h: create_dir() also creates missing parents (like
// `mkdir -p`); remove() removes a file or an empty directory. A File tracks its
// own size (the bytes it saw at open plus its own appends and truncations): a
// File opened before another one appended does not see the new size, though its
// read_at() does read the new bytes.
//
// Threads: the FileSystem is stateless and may be shared by any threads. A File
// follows file_system.h (one thread at a time), except that read_at() and size()
// may run concurrently with append() on the same File (pread is positional and the
// size is atomic), which the log engine's readers rely on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace meridian::storage {

class PosixFileSystem final : public FileSystem {
 public:
  PosixFileSystem() = default;

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status create_dir(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  bool exists(const std::string& path) override;
};

}  // namespace meridian::storage
