// SplitMix64: a tiny, fast, seedable PRNG. The core never draws randomness itself; every
// generator is seeded from a value the caller passed in, so runs are repeatable in tests.
#pragma once

#include <cstdint>

namespace router {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed = 0) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound); bound 0 gives 0. The modulo bias is negligible for our small bounds.
  uint64_t below(uint64_t bound) { return bound == 0 ? 0 : next() % bound; }

  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t state_;
};

}  // namespace router
