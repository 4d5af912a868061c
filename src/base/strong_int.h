// StrongInt<Tag>: a uint64_t with a distinct type per meaning (term, log index,
// node id, ...), so that a term can never be passed where an index is wanted.
// Value type, no invariants beyond those of uint64_t; any thread.
//
// Arithmetic is limited to what those meanings need: adding or subtracting a
// plain count, and the distance between two values of the same kind.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace meridian::base {

template <class Tag>
class StrongInt {
 public:
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(uint64_t v) : v_(v) {}

  constexpr uint64_t value() const { return v_; }

  constexpr auto operator<=>(const StrongInt&) const = default;

  constexpr StrongInt operator+(uint64_t n) const { return StrongInt(v_ + n); }
  constexpr StrongInt operator-(uint64_t n) const { return StrongInt(v_ - n); }
  // Distance between two values of the same kind, e.g. the number of entries in [a, b).
  constexpr uint64_t operator-(StrongInt other) const { return v_ - other.v_; }
  constexpr StrongInt& operator++() {
    ++v_;
    return *this;
  }
  constexpr StrongInt& operator+=(uint64_t n) {
    v_ += n;
    return *this;
  }
  constexpr StrongInt& operator-=(uint64_t n) {
    v_ -= n;
    return *this;
  }

  friend std::ostream& operator<<(std::ostream& os, StrongInt s) { return os << s.v_; }

 private:
  uint64_t v_ = 0;
};

}  // namespace meridian::base

template <class Tag>
struct std::hash<meridian::base::StrongInt<Tag>> {
  size_t operator()(meridian::base::StrongInt<Tag> s) const noexcept {
    return std::hash<uint64_t>()(s.value());
  }
};
