// CRC32C two ways: the SSE4.2 crc32 instruction, and slicing-by-8 tables for CPUs
// without it. Both compute the reflected CRC with polynomial 0x82F63B78 (Castagnoli;
// RFC 3720 appendix B.4), initial value and final xor 0xFFFFFFFF, so the result of
// crc32c_extend(0, ...) is the standard CRC-32C check value.
#include "base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define MERIDIAN_CRC32C_X86 1
#else
#define MERIDIAN_CRC32C_X86 0
#endif

namespace meridian {
namespace {

// Castagnoli's polynomial, bit-reversed because the CRC is computed LSB first.
constexpr uint32_t kPolynomial = 0x82F63B78u;
// Eight tables: table k maps a byte to its CRC followed by k zero bytes, so one
// step folds eight input bytes with eight independent lookups.
constexpr int kSlices = 8;
using Tables = std::array<std::array<uint32_t, 256>, kSlices>;

constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ ((c & 1u) != 0 ? kPolynomial : 0u);
    t[0][i] = c;
  }
  for (int k = 1; k < kSlices; ++k) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t prev = t[k - 1][i];
      t[k][i] = (prev >> 8) ^ t[0][prev & 0xffu];
    }
  }
  return t;
}

constexpr Tables kTables = make_tables();
// The first entries of the published CRC-32C table (RFC 3720 B.4): a check
// that the generator above is right before anything runs.
static_assert(kTables[0][1] == 0xF26B8303u);
static_assert(kTables[0][128] == kPolynomial);

// Little-endian load of four bytes, whatever the host's byte order and alignment.
inline uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

uint32_t extend_software(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t l = ~crc;
  while (n >= 8) {
    uint32_t lo = load_le32(p) ^ l;
    uint32_t hi = load_le32(p + 4);
    l = kTables[7][lo & 0xffu] ^ kTables[6][(lo >> 8) & 0xffu] ^ kTables[5][(lo >> 16) & 0xffu] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xffu] ^ kTables[2][(hi >> 8) & 0xffu] ^
        kTables[1][(hi >> 16) & 0xffu] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n, ++p) l = (l >> 8) ^ kTables[0][(l ^ *p) & 0xffu];
  return ~l;
}

#if MERIDIAN_CRC32C_X86
// One crc32 instruction per eight bytes, after single bytes up to an 8-byte
// boundary so that the wide loads are aligned.
__attribute__((target("sse4.2"))) uint32_t extend_hardware(uint32_t crc, const uint8_t* p,
                                                           size_t n) {
  uint32_t l = ~crc;
  for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0; --n, ++p) l = _mm_crc32_u8(l, *p);
  uint64_t wide = l;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word = 0;
    std::memcpy(&word, p, sizeof(word));
    wide = _mm_crc32_u64(wide, word);
  }
  l = static_cast<uint32_t>(wide);
  for (; n > 0; --n, ++p) l = _mm_crc32_u8(l, *p);
  return ~l;
}
#endif

}  // namespace

bool crc32c_hardware() {
#if MERIDIAN_CRC32C_X86
  // Asked once; __builtin_cpu_init makes the answer valid even if the first call
  // comes from a static initializer that runs before libgcc's own.
  static const bool kSupported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return kSupported;
#else
  return false;
#endif
}

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
#if MERIDIAN_CRC32C_X86
  if (crc32c_hardware()) return extend_hardware(crc, p, n);
#endif
  return extend_software(crc, p, n);
}

namespace detail {
uint32_t crc32c_extend_software(uint32_t crc, const void* data, size_t n) {
  return extend_software(crc, static_cast<const uint8_t*>(data), n);
}
}  // namespace detail

}  // namespace meridian
