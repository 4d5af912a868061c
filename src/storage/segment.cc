#include "storage/segment.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "base/assert.h"

namespace meridian::storage {
namespace {

constexpr size_t kNameDigits = 20;  // UINT64_MAX has 20 decimal digits
constexpr std::string_view kNameSuffix = ".log";
// Recovery reads segments through a window of this size: large enough that the
// system call cost vanishes, small enough to hold for any segment size.
constexpr size_t kWindowBytes = 1 << 20;
// valid_frame_follows checks checksums of candidate frames after a bad one. Each
// check costs up to the candidate's length, and the bytes after a torn frame are
// entry data that a client chose, so the total is bounded: 1 GiB of checksums is
// well under a second with the hardware CRC, and ordinary tails need a tiny part.
constexpr uint64_t kFollowCheckBytesMax = 1ull << 30;

std::string cat_reason(const std::string& name, uint64_t offset, const std::string& what) {
  return "file " + name + " offset " + std::to_string(offset) + ": " + what;
}

}  // namespace

std::string segment_name(uint64_t number) {
  char buf[kNameDigits + 1];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(number));
  return std::string(buf) + std::string(kNameSuffix);
}

std::optional<uint64_t> parse_segment_name(std::string_view name) {
  if (name.size() != kNameDigits + kNameSuffix.size()) return std::nullopt;
  if (name.substr(kNameDigits) != kNameSuffix) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < kNameDigits; i++) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (v == 0) return std::nullopt;
  return v;
}

Result<std::string> SegmentReader::read(uint64_t offset, size_t n) const {
  Result<std::string> r = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return file_->read_at(offset, n);
  }();
  if (!r.is_ok()) return r;
  if (r.value().size() != n) {
    return Status(Code::kCorruption, cat_reason(name_, offset,
                                                "short read: " + std::to_string(r.value().size()) +
                                                    " of " + std::to_string(n) + " bytes"));
  }
  return r;
}

Result<std::string_view> FrameScanner::view(uint64_t offset, size_t n) {
  MERIDIAN_ASSERT(offset <= size_ && n <= size_ - offset, "view past the end of the segment");
  if (offset >= window_start_ && offset + n <= window_start_ + window_.size()) {
    return std::string_view(window_).substr(offset - window_start_, n);
  }
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(std::max(n, kWindowBytes), size_ - offset));
  Result<std::string> r = file_.read_at(offset, want);
  if (!r.is_ok()) return r.status();
  if (r.value().size() < n) {
    return Status(Code::kIoError, "segment " + std::to_string(segment_) + " offset " +
                                      std::to_string(offset) + ": read " +
                                      std::to_string(r.value().size()) + " of " +
                                      std::to_string(n) + " bytes within its size");
  }
  window_ = std::move(r).value();
  window_start_ = offset;
  return std::string_view(window_).substr(0, n);
}

Result<std::optional<FrameScanner::Frame>> FrameScanner::next() {
  if (!bad_reason_.empty() || offset_ == size_) return std::optional<Frame>();
  auto stop = [&](std::string reason) {
    bad_reason_ = std::move(reason);
    return std::optional<Frame>();
  };
  if (size_ - offset_ < kFrameHeaderBytes) return stop("incomplete frame header");
  Result<std::string_view> hv = view(offset_, kFrameHeaderBytes);
  if (!hv.is_ok()) return hv.status();
  const FrameHeader h = parse_frame_header(hv.value());
  if (h.magic == 0 && h.payload_len == 0 && h.crc == 0) return stop("zero header");
  if (h.magic != kFrameMagic) return stop("bad frame magic");
  if (!frame_length_plausible(h.payload_len)) {
    return stop("implausible frame length " + std::to_string(h.payload_len));
  }
  if (h.payload_len > size_ - offset_ - kFrameHeaderBytes) return stop("incomplete frame");
  Result<std::string_view> pv = view(offset_ + kFrameHeaderBytes, h.payload_len);
  if (!pv.is_ok()) return pv.status();
  if (!frame_checksum_ok(h, pv.value(), segment_, offset_)) return stop("frame checksum mismatch");
  Frame f{.offset = offset_, .payload = pv.value()};
  offset_ += kFrameHeaderBytes + h.payload_len;
  return std::optional<Frame>(f);
}

Result<bool> FrameScanner::frame_at(uint64_t offset, uint64_t* work) {
  if (size_ - offset < kFrameHeaderBytes) return false;
  Result<std::string_view> hv = view(offset, kFrameHeaderBytes);
  if (!hv.is_ok()) return hv.status();
  const FrameHeader h = parse_frame_header(hv.value());
  if (h.magic != kFrameMagic || !frame_length_plausible(h.payload_len)) return false;
  if (h.payload_len > size_ - offset - kFrameHeaderBytes) return false;
  *work += h.payload_len;
  if (*work > kFollowCheckBytesMax) {
    return Status(Code::kCorruption,
                  "too many frame candidates after a bad frame to tell a torn tail from damage");
  }
  Result<std::string_view> pv = view(offset + kFrameHeaderBytes, h.payload_len);
  if (!pv.is_ok()) return pv.status();
  return frame_checksum_ok(h, pv.value(), segment_, offset);
}

Result<bool> FrameScanner::valid_frame_follows() {
  MERIDIAN_ASSERT(!bad_reason_.empty(), "valid_frame_follows without a bad frame");
  char magic[4];
  for (int i = 0; i < 4; i++) magic[i] = static_cast<char>((kFrameMagic >> (8 * i)) & 0xff);
  const std::string_view pattern(magic, sizeof(magic));
  uint64_t work = 0;
  uint64_t pos = offset_ + 1;
  while (pos < size_ && size_ - pos >= kFrameHeaderBytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kWindowBytes, size_ - pos));
    Result<std::string_view> v = view(pos, n);
    if (!v.is_ok()) return v.status();
    const size_t at = v.value().find(pattern);
    if (at == std::string_view::npos) {
      if (pos + n == size_) break;
      pos += n - (pattern.size() - 1);  // a match may straddle two windows
      continue;
    }
    Result<bool> found = frame_at(pos + at, &work);
    if (!found.is_ok() || found.value()) return found;
    pos += at + 1;
  }
  return false;
}

}  // namespace meridian::storage
