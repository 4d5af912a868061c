// ByteSource: bytes read in pieces, in order. A snapshot image can be far larger
// than memory (a multi-gigabyte key space), so it is never held whole: its
// owner produces it piece by piece (a state machine's image on the leader, a
// stored snapshot file on a follower) and its consumer (the peer transport, a
// restore) pulls as much as it can use at a time.
//
// Threads: one consumer at a time; an implementation says which threads.
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"

namespace meridian::base {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The next bytes: at most max_bytes (>= 1), and at least one unless the
  // source has ended, which an empty string says (again on every later call).
  // An error ends the source; what was read before it is not to be used.
  virtual Result<std::string> read(size_t max_bytes) = 0;
};

// A source over bytes already in memory (small images, tests).
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<std::string> read(size_t max_bytes) override;

 private:
  std::string data_;
  size_t pos_ = 0;
};

// Everything a source still holds, in one string; kFailedPrecondition (and
// nothing returned) if that is more than max_bytes.
Result<std::string> read_all(ByteSource& source, size_t max_bytes, size_t piece_bytes = 1 << 20);

}  // namespace meridian::base
