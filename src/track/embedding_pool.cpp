#include "track/embedding_pool.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>

#include "core/error.h"

namespace eh::track {

std::vector<float> normalised(const std::vector<float>& v) {
  double n2 = 0;
  for (float x : v) n2 += static_cast<double>(x) * x;
  std::vector<float> out(v);
  if (n2 > 0) {
    const double inv = 1.0 / std::sqrt(n2);
    for (float& x : out) x = static_cast<float>(x * inv);
  }
  return out;
}

float cosine(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa <= 0 || bb <= 0) return 0;
  return static_cast<float>(ab / std::sqrt(aa * bb));
}

EmbeddingPool::EmbeddingPool(const PoolConfig& cfg) : cfg_(cfg) {
  if (cfg_.capacity < 1) throw eh::Error(fmt::format("embedding pool: capacity must be >= 1, got {}", cfg_.capacity));
}

void EmbeddingPool::clear() {
  count_ = 0;
  dim_ = 0;
  q8_.clear();
  q16_.clear();
  scale_.clear();
  sim_.clear();
  q8_.shrink_to_fit();
  q16_.shrink_to_fit();
  scale_.shrink_to_fit();
  sim_.shrink_to_fit();
}

void EmbeddingPool::store(int slot, const std::vector<float>& unit) {
  const std::size_t off = static_cast<std::size_t>(slot) * dim_;
  if (cfg_.precision == PoolPrecision::Int8) {
    float mx = 0;
    for (float x : unit) mx = std::max(mx, std::abs(x));
    const float s = mx > 0 ? mx / 127.0f : 1.0f;
    scale_[slot] = s;
    for (int i = 0; i < dim_; ++i)
      q8_[off + i] = static_cast<int8_t>(std::clamp(std::lround(unit[i] / s), -127L, 127L));
  } else {
    for (int i = 0; i < dim_; ++i) q16_[off + i] = cv::float16_t(unit[i]).bits();
  }
}

std::vector<float> EmbeddingPool::sample(int i) const {
  if (i < 0 || i >= count_) throw eh::Error(fmt::format("embedding pool: sample {} of {}", i, count_));
  std::vector<float> out(dim_);
  const std::size_t off = static_cast<std::size_t>(i) * dim_;
  if (cfg_.precision == PoolPrecision::Int8) {
    for (int k = 0; k < dim_; ++k) out[k] = q8_[off + k] * scale_[i];
  } else {
    for (int k = 0; k < dim_; ++k) out[k] = static_cast<float>(cv::float16_t::fromBits(q16_[off + k]));
  }
  return out;
}

float EmbeddingPool::dot_stored(int slot, const std::vector<float>& unit) const {
  const std::size_t off = static_cast<std::size_t>(slot) * dim_;
  double d = 0, n2 = 0;
  if (cfg_.precision == PoolPrecision::Int8) {
    for (int k = 0; k < dim_; ++k) {
      const double s = q8_[off + k];
      d += s * unit[k];
      n2 += s * s;
    }
  } else {
    for (int k = 0; k < dim_; ++k) {
      const double s = static_cast<float>(cv::float16_t::fromBits(q16_[off + k]));
      d += s * unit[k];
      n2 += s * s;
    }
  }
  return n2 > 0 ? static_cast<float>(d / std::sqrt(n2)) : 0.0f;  // cosine (unit is normalised)
}

bool EmbeddingPool::add(const std::vector<float>& v) {
  if (v.empty()) throw eh::Error("embedding pool: empty embedding");
  if (dim_ != 0 && static_cast<int>(v.size()) != dim_)
    throw eh::Error(fmt::format("embedding pool: embedding dimension {} (pool holds {})", v.size(), dim_));
  for (float x : v)
    if (!std::isfinite(x)) throw eh::Error("embedding pool: non-finite embedding value");
  const std::vector<float> unit = normalised(v);
  bool nonzero = false;
  for (float x : unit) nonzero = nonzero || x != 0;
  if (!nonzero) throw eh::Error("embedding pool: all-zero embedding");
  if (dim_ == 0) {
    dim_ = static_cast<int>(v.size());
    const std::size_t cap = static_cast<std::size_t>(cfg_.capacity);
    if (cfg_.precision == PoolPrecision::Int8) {
      q8_.assign(cap * dim_, 0);
      scale_.assign(cap, 0.0f);
    } else {
      q16_.assign(cap * dim_, 0);
    }
    sim_.assign(cap * cap, 0.0f);
  }
  const int K = cfg_.capacity;
  std::vector<float> s_new(count_);
  for (int i = 0; i < count_; ++i) {
    s_new[i] = dot_stored(i, unit);
    if (s_new[i] >= cfg_.duplicate_similarity) return false;
  }
  int slot = count_;
  if (count_ == K) {
    // Most similar pair among stored + new (index K stands for the new sample).
    auto sim = [&](int a, int b) { return a == K ? s_new[b] : (b == K ? s_new[a] : sim_[a * K + b]); };
    int pa = -1, pb = -1;
    float best = -2;
    for (int a = 0; a <= K; ++a)
      for (int b = a + 1; b <= K; ++b)
        if (sim(a, b) > best) {
          best = sim(a, b);
          pa = a;
          pb = b;
        }
    auto redundancy = [&](int a, int other) {
      double r = 0;
      for (int c = 0; c <= K; ++c)
        if (c != a && c != other) r += sim(a, c);
      return r;
    };
    const int drop = redundancy(pa, pb) >= redundancy(pb, pa) ? pa : pb;
    if (drop == K) return false;
    slot = drop;
  } else {
    ++count_;
  }
  store(slot, unit);
  // Similarities against the stored (quantised) version keep the matrix consistent with
  // later queries.
  const std::vector<float> stored = normalised(sample(slot));
  for (int i = 0; i < count_; ++i) {
    const float s = i == slot ? 1.0f : dot_stored(i, stored);
    sim_[slot * K + i] = s;
    sim_[i * K + slot] = s;
  }
  return true;
}

float EmbeddingPool::max_similarity(const std::vector<float>& v) const {
  if (count_ == 0 || static_cast<int>(v.size()) != dim_) return -1;
  const std::vector<float> unit = normalised(v);
  float best = -1;
  for (int i = 0; i < count_; ++i) best = std::max(best, dot_stored(i, unit));
  return best;
}

float EmbeddingPool::top_k_similarity(const std::vector<float>& v, int k) const {
  if (count_ == 0 || static_cast<int>(v.size()) != dim_) return -1;
  const std::vector<float> unit = normalised(v);
  std::vector<float> s(count_);
  for (int i = 0; i < count_; ++i) s[i] = dot_stored(i, unit);
  k = std::clamp(k, 1, count_);
  std::partial_sort(s.begin(), s.begin() + k, s.end(), std::greater<float>());
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += s[i];
  return static_cast<float>(sum / k);
}

float EmbeddingPool::max_pairwise_similarity() const {
  if (count_ < 2) return -1;
  const int K = cfg_.capacity;
  float best = -2;
  for (int a = 0; a < count_; ++a)
    for (int b = a + 1; b < count_; ++b) best = std::max(best, sim_[a * K + b]);
  return best;
}

std::size_t EmbeddingPool::bytes() const {
  return sizeof(*this) + q8_.capacity() * sizeof(int8_t) + q16_.capacity() * sizeof(uint16_t) +
         scale_.capacity() * sizeof(float) + sim_.capacity() * sizeof(float);
}

}  // namespace eh::track
