// Small encoding helpers shared by the peer protocol's codecs (frame.cc, wire.cc):
// little-endian fixed-width integers, LEB128 varints, and WireReader, a bounds-
// checked cursor over a received payload. Pure functions and value types; any
// thread.
//
// WireReader has a sticky error: the first failed read records why (with the
// field's name and byte offset) and every later read returns zero without
// moving. Decoders may therefore read several fields and check ok() once, but
// must check it before using a value to size a loop or an allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/varint.h"

namespace meridian::net {

// The longest LEB128 encoding of a u64: 64 bits in groups of 7.
inline constexpr size_t kVarintBytesMax = base::kVarintBytesMax;

void put_u8(std::string* out, uint8_t v);
void put_u16(std::string* out, uint16_t v);
void put_u32(std::string* out, uint32_t v);
void put_u64(std::string* out, uint64_t v);
// LEB128, shortest form.
void put_varint(std::string* out, uint64_t v);
size_t varint_bytes(uint64_t v);

// Little-endian loads from at least 4 (8) readable bytes.
uint32_t load_u32(const char* p);
uint64_t load_u64(const char* p);

// Signed deltas as varints: 0, -1, 1, -2, ... map to 0, 1, 2, 3, ... The
// arithmetic is modulo 2^64, so any pair of u64 values has a delta that round-trips.
inline uint64_t zigzag_encode(uint64_t delta) {
  return (delta << 1) ^ (0 - (delta >> 63));  // (d << 1) ^ (d >> 63, arithmetic)
}
inline uint64_t zigzag_decode(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

class WireReader {
 public:
  // `what` names the payload in error messages ("batch", "hello", ...).
  WireReader(std::string_view in, std::string_view what) : in_(in), what_(what) {}

  uint8_t u8(const char* field);
  uint16_t u16(const char* field);
  uint32_t u32(const char* field);
  uint64_t u64(const char* field);
  // A LEB128 varint in its shortest form (an over-long one is corruption, so
  // that every value has exactly one encoding).
  uint64_t varint(const char* field);
  // A u8 that must be 0 or 1.
  bool flag(const char* field);
  // The next n bytes (a view into the input).
  std::string_view bytes(uint64_t n, const char* field);
  // A count of items that each take at least item_bytes_min bytes: fails if it
  // exceeds `max` or could not fit in the bytes left, so that a caller may size
  // an allocation by it.
  uint64_t count(const char* field, uint64_t item_bytes_min, uint64_t max);
  // Fails unless every byte was read (trailing garbage is corruption).
  bool expect_end();

  // Records `why` as the error (if none yet) and returns false.
  bool fail(std::string_view why);

  bool ok() const { return error_.empty(); }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  // kCorruption "<what>: <error>"; only when !ok().
  base::Status status() const;

 private:
  bool need(size_t n, const char* field);

  std::string_view in_;
  std::string_view what_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace meridian::net
