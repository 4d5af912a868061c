// The file layer: every byte Meridian stores goes through these two interfaces,
// so that tests and the simulator can substitute a deterministic, fault-injecting
// implementation (faulty_file_system.h) for the real one (posix_file_system.h)
// and lose exactly what a real crash could lose.
//
// Semantics follow POSIX with the durability rules that matter for crash safety:
//   - data written to a File is durable only after File::sync() returns ok;
//   - a new, renamed or removed directory entry is durable only after
//     FileSystem::sync_dir() of its directory returns ok;
//   - after a failed sync() the state of the unsynced data is unknown (Linux may
//     have dropped it and cleared the error): callers must treat the file as lost
//     since its last successful sync, never retry and carry on.
// Errors are values: kNoSpace (ENOSPC), kIoError (EIO and anything unexpected),
// kNotFound. A File is used by one thread at a time; a FileSystem may be shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace meridian::storage {

using base::Code;
using base::Result;
using base::Status;

class File {
 public:
  virtual ~File() = default;
  // Writes all of `data` at the end of the file (the file's size grows by data.size()).
  // On error some prefix of `data` may have been written; size() tells how much.
  virtual Status append(std::string_view data) = 0;
  // Reads up to n bytes at offset; fewer only at the end of the file.
  virtual Result<std::string> read_at(uint64_t offset, size_t n) const = 0;
  // Makes everything written so far durable (fdatasync).
  virtual Status sync() = 0;
  // Cuts the file to `size` bytes (must be <= size()); durable after sync().
  virtual Status truncate(uint64_t size) = 0;
  virtual uint64_t size() const = 0;
};

enum class OpenMode : uint8_t {
  kRead,          // existing file, read only
  kAppend,        // existing file, reads and appends
  kCreate,        // new file (kIoError if it exists), reads and appends
  kCreateOrOpen,  // like kCreate, or opens an existing one for appending
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  virtual Status create_dir(const std::string& path) = 0;  // ok if it exists
  // Makes creations, renames and removals in directory `path` durable.
  virtual Status sync_dir(const std::string& path) = 0;
  // Names (not paths) of the entries in a directory, sorted.
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
};

// Joins a directory and a name with one '/'.
std::string join_path(std::string_view dir, std::string_view name);

// Creates directory `path` and any missing parents, and makes each directory it
// created durable (its entry's parent synced): a directory made by create_dir()
// alone, or whose parent was, can vanish in a crash with everything in it. Ok if
// `path` exists already.
Status create_dir_durably(FileSystem& fs, const std::string& path);

}  // namespace meridian::storage
