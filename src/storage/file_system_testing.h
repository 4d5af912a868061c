// Helpers for tests of FileSystem implementations: each turns an error into a
// value that fails the comparison it is used in, so that a broken implementation
// fails the test with a message instead of stopping it. Test-only.
#pragma once

#include <string>
#include <vector>

#include "storage/file_system.h"

namespace meridian::storage::testing {

// The code a Result holds (kOk for a value).
template <class T>
Code code_of(const Result<T>& r) {
  return r.is_ok() ? Code::kOk : r.status().code();
}

// read_at's bytes, or an error marker.
inline std::string read(const File& f, uint64_t offset, size_t n) {
  auto r = f.read_at(offset, n);
  return r.is_ok() ? r.value() : "<error: " + r.status().to_string() + ">";
}

// list_dir's names, or an error marker.
inline std::vector<std::string> names(FileSystem& fs, const std::string& path) {
  auto r = fs.list_dir(path);
  return r.is_ok() ? r.value()
                   : std::vector<std::string>{"<error: " + r.status().to_string() + ">"};
}

}  // namespace meridian::storage::testing
