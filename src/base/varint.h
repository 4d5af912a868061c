// LEB128 varints, the one encoding of variable-length integers in every Meridian
// format (journal records, peer messages): 7 bits per byte, low bits first, the
// high bit set on every byte but the last; at most 10 bytes, the tenth holding
// only bit 63. Decoding accepts only the shortest encoding, so every value has
// exactly one. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::base {

inline constexpr size_t kVarintBytesMax = 10;

inline void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Decodes the varint at in[*pos] into *v and advances *pos past it. False (with
// *pos unspecified) if the input ends first, the value passes 64 bits, or the
// encoding is longer than needed.
inline bool get_varint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (size_t i = 0; i < kVarintBytesMax; i++) {
    if (*pos >= in.size()) return false;
    const auto byte = static_cast<uint8_t>(in[(*pos)++]);
    // The tenth byte can only hold bit 63.
    if (i == kVarintBytesMax - 1 && byte > 1) return false;
    *v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      // A last byte of zero after the first means a longer encoding than needed.
      return i == 0 || byte != 0;
    }
  }
  return false;
}

}  // namespace meridian::base
