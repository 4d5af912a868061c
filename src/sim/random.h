// Rng: the simulator's only source of randomness, a xoshiro256** generator
// (Blackman & Vigna, 2018) seeded through splitmix64. Everything random in a run
// (delays, drops, crashes, client choices, replica election seeds) is drawn from
// one Rng seeded by the run's seed, in the single order the event loop imposes,
// so the same seed replays the same run bit for bit.
//
// Value type owned by whoever draws from it; single-threaded. Never touches
// std::random_device or global state, and uses none of the standard library's
// distributions (their output is implementation-defined): bounded draws use
// rejection sampling, exact and portable.
#pragma once

#include <cstdint>

#include "base/assert.h"

namespace meridian::sim {

// splitmix64 (Steele, Lea & Flood, 2014): one step; used to expand a seed.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);  // the golden-ratio increment
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = splitmix64(sm);
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0. Rejection of the short first bucket (draws below
  // 2^64 mod n) makes the modulo unbiased; at most half the draws are rejected.
  uint64_t below(uint64_t n) {
    MERIDIAN_ASSERT(n > 0, "Rng::below(0)");
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    uint64_t x = next_u64();
    while (x < threshold) x = next_u64();
    return x % n;
  }

  // Uniform in [lo, hi] (inclusive); lo <= hi.
  uint64_t range(uint64_t lo, uint64_t hi) {
    MERIDIAN_ASSERT(lo <= hi, "Rng::range(", lo, ", ", hi, ")");
    if (hi - lo == UINT64_MAX) return next_u64();
    return lo + below(hi - lo + 1);
  }

  // True with probability ppm / 1,000,000. Probabilities are integers in parts per
  // million so that no floating-point rounding enters a run's decisions.
  bool chance_ppm(uint32_t ppm) { return below(kPpmOne) < ppm; }

  // A fresh seed for a sub-generator (e.g. a replica's own election randomness).
  uint64_t fork_seed() { return next_u64(); }

  static constexpr uint32_t kPpmOne = 1'000'000;

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

}  // namespace meridian::sim
