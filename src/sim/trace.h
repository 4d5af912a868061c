// Trace: the simulator's record of what happened in a run, one line per event
// ("t=12.345ms n2 -> n3 kAppend term=4 index=17 entries=2 commit=15").
//
// Keeps the last `capacity` lines in a ring buffer (printed when a run fails),
// optionally echoes every line live (--trace), and folds every line ever added
// into a 64-bit FNV-1a hash: two runs of the same seed must produce the same
// hash, which is how determinism is tested. Owned by the Cluster; single-threaded.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "base/strong_int.h"
#include "sim/event_queue.h"

namespace meridian::sim {

// Appends the decimal or textual form of each argument to `out`. Cheaper than an
// ostringstream, which matters: a run formats tens of thousands of lines.
inline void append_field(std::string& out, std::string_view s) { out.append(s); }
inline void append_field(std::string& out, const char* s) { out.append(s); }
inline void append_field(std::string& out, const std::string& s) { out.append(s); }
inline void append_field(std::string& out, char c) { out.push_back(c); }
inline void append_field(std::string& out, bool b) { out.append(b ? "true" : "false"); }
template <std::integral T>
void append_field(std::string& out, T v) {
  char buf[24];  // enough for any 64-bit integer with its sign
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}
template <class Tag>
void append_field(std::string& out, base::StrongInt<Tag> v) {
  append_field(out, v.value());
}

template <class... Args>
std::string cat(const Args&... args) {
  std::string out;
  (append_field(out, args), ...);
  return out;
}

class Trace {
 public:
  // The ring holds enough to see the lead-up to a failure (a few election rounds)
  // without the cost of keeping a whole run.
  static constexpr size_t kCapacityDefault = 2000;

  explicit Trace(size_t capacity = kCapacityDefault, bool live = false)
      : capacity_(capacity), live_(live) {
    ring_.reserve(capacity_);
  }

  void add(SimTime t, std::string_view line) {
    std::string full = "t=";
    append_time(full, t);
    full.push_back(' ');
    full.append(line);
    for (unsigned char c : full) hash_ = (hash_ ^ c) * kFnvPrime;
    hash_ = (hash_ ^ '\n') * kFnvPrime;
    ++lines_;
    if (live_) std::printf("%s\n", full.c_str());
    if (ring_.size() < capacity_) {
      ring_.push_back(std::move(full));
    } else {
      ring_[next_] = std::move(full);
      next_ = (next_ + 1) % capacity_;
    }
  }

  // The retained lines, oldest first, newline-terminated.
  std::string dump() const {
    std::string out;
    for (size_t k = 0; k < ring_.size(); ++k) {
      out.append(ring_[(next_ + k) % ring_.size()]);
      out.push_back('\n');
    }
    return out;
  }

  uint64_t hash() const { return hash_; }
  uint64_t lines() const { return lines_; }

  // "12.345ms": milliseconds with microsecond precision.
  static void append_time(std::string& out, SimTime t) {
    const uint64_t us = t.value();
    append_field(out, us / kMicrosPerMilli);
    out.push_back('.');
    const uint64_t frac = us % kMicrosPerMilli;
    if (frac < 100) out.push_back('0');
    if (frac < 10) out.push_back('0');
    append_field(out, frac);
    out.append("ms");
  }

 private:
  static constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;  // FNV-1a 64-bit basis
  static constexpr uint64_t kFnvPrime = 0x100000001b3ull;        // FNV-1a 64-bit prime

  size_t capacity_;
  bool live_;
  std::vector<std::string> ring_;
  size_t next_ = 0;  // oldest line once the ring is full
  uint64_t hash_ = kFnvOffset;
  uint64_t lines_ = 0;
};

}  // namespace meridian::sim
