// Journal segments (internal to the log engine): file names, the read handle that
// entry reads share, and the frame scanner that recovery runs over each segment.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/file_system.h"
#include "storage/journal_format.h"

namespace meridian::storage {

// "00000000000000000001.log": the sequence number zero-padded to 20 digits, so
// that names sort as numbers.
std::string segment_name(uint64_t number);
// The number of a segment file name; nullopt for any other name (or number 0).
std::optional<uint64_t> parse_segment_name(std::string_view name);

// A segment opened for reading. Entry reads on any thread share it through a
// shared_ptr, so a segment collected meanwhile stays readable by a read already
// under way. Reads are serialized on a mutex because a File is used by one thread
// at a time (file_system.h); it is a different File from the one the writer
// appends to, so reads never wait for a write.
class SegmentReader {
 public:
  SegmentReader(uint64_t number, std::string name, std::unique_ptr<File> file)
      : number_(number), name_(std::move(name)), file_(std::move(file)) {}

  uint64_t number() const { return number_; }
  const std::string& name() const { return name_; }
  // Exactly n bytes at offset; kCorruption naming the file if fewer exist.
  Result<std::string> read(uint64_t offset, size_t n) const;

 private:
  const uint64_t number_;
  const std::string name_;
  mutable std::mutex mu_;
  std::unique_ptr<File> file_;  // guarded by mu_
};

// Reads the frames of one segment in order, at recovery. next() returns each
// valid frame; at the first damaged or incomplete one it stops, and bad_reason()
// says what was wrong at offset().
class FrameScanner {
 public:
  struct Frame {
    uint64_t offset = 0;       // of the frame header in the file
    std::string_view payload;  // valid until the next call
  };

  FrameScanner(const File& file, uint64_t segment, uint64_t size)
      : file_(file), segment_(segment), size_(size) {}

  // The next valid frame; nullopt when the scan stops (cleanly at the end of the
  // file, or at a bad frame: see bad_reason()). Errors are the file's.
  Result<std::optional<Frame>> next();
  // Where the next frame starts (after a stop: where the bad frame starts).
  uint64_t offset() const { return offset_; }
  // Empty if the scan reached the end of the file cleanly.
  const std::string& bad_reason() const { return bad_reason_; }
  // After a stop at a bad frame: whether a valid frame starts anywhere after its
  // first byte. A torn tail has none; damage in the middle of the data has one.
  // kCorruption if telling would take too much work (see storage.md).
  Result<bool> valid_frame_follows();

 private:
  // A view of [offset, offset + n) of the file (n <= size_ - offset); valid until
  // the next call.
  Result<std::string_view> view(uint64_t offset, size_t n);
  // Whether a valid frame starts at `offset`; adds the bytes checked to *work.
  Result<bool> frame_at(uint64_t offset, uint64_t* work);

  const File& file_;
  const uint64_t segment_;
  const uint64_t size_;
  uint64_t offset_ = 0;
  std::string bad_reason_;
  std::string window_;  // file bytes [window_start_, window_start_ + window_.size())
  uint64_t window_start_ = 0;
};

}  // namespace meridian::storage
