// Deterministic random numbers for the simulator. std::mt19937_64's output sequence is fixed by
// the C++ standard, but std::*_distribution are implementation-defined, so every distribution
// here is written out from raw 64-bit draws: the same seed gives the same numbers with any
// standard library.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>

namespace eh::data {

// SplitMix64 step (Steele, Lea, Flood 2014): a good mixer for deriving independent seeds.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Seed of sub-stream `stream` of `seed` (e.g. one stream for dynamics, one per pig appearance),
// so that adding draws to one stream never shifts another.
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  return splitmix64(splitmix64(seed) ^ splitmix64(stream * 0xD1B54A32D192ED03ULL + 1));
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 1) : eng_(seed) {}

  uint64_t next_u64() { return eng_(); }

  // Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(eng_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }

  // Uniform integer in [lo, hi] (inclusive), unbiased (rejection sampling).
  int64_t uniform_int(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;  // 0 means all 2^64 values
    if (range == 0) return static_cast<int64_t>(eng_());
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
    uint64_t x;
    do {
      x = eng_();
    } while (x >= limit);
    return lo + static_cast<int64_t>(x % range);
  }

  bool bernoulli(double p) { return uniform01() < p; }

  // Standard normal, Marsaglia polar method (uses only sqrt and log).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform01() - 1.0;
      v = 2.0 * uniform01() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }

  // Exponential with the given mean.
  double exponential(double mean) { return -mean * std::log1p(-uniform01()); }

  // Log-normal parameterised by its mean and coefficient of variation.
  double lognormal_mean_cv(double mean, double cv) {
    const double s2 = std::log1p(cv * cv);
    const double mu = std::log(mean) - 0.5 * s2;
    return std::exp(mu + std::sqrt(s2) * normal());
  }

  // Index drawn with probability proportional to w[i] (w[i] >= 0). Returns n-1 if all are 0.
  size_t categorical(const double* w, size_t n) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += w[i] > 0 ? w[i] : 0;
    if (total <= 0) return n - 1;
    double r = uniform01() * total;
    for (size_t i = 0; i < n; ++i) {
      const double wi = w[i] > 0 ? w[i] : 0;
      if (r < wi) return i;
      r -= wi;
    }
    for (size_t i = n; i-- > 0;)
      if (w[i] > 0) return i;
    return n - 1;
  }

 private:
  std::mt19937_64 eng_;
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace eh::data
