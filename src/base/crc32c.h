// CRC32C (Castagnoli), the checksum of every record Meridian writes. Uses the
// SSE4.2 crc32 instruction when the CPU has it (checked once at run time) and a
// table otherwise; both give identical results. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace meridian {

// Extends `crc` (0 to start) over data. crc32c(crc32c(0, a), b) == crc32c(0, a + b).
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n);
inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data.data(), data.size()); }

// Whether the hardware path is in use (for benchmarks and logs).
bool crc32c_hardware();

namespace detail {
// The table-driven path alone, whatever the CPU (tests compare it with the hardware path).
uint32_t crc32c_extend_software(uint32_t crc, const void* data, size_t n);
}  // namespace detail

// Stored CRCs are masked (rotated and offset), so that a CRC of data that itself
// contains CRCs does not degenerate (LevelDB's reasoning).
inline uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t crc32c_unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace meridian
