// A bounded, diverse set of appearance samples of one animal, for re-identification.
//
// Samples are stored L2-normalised and quantised: int8 with one float scale per sample
// (v ~= q * scale, scale = max|v| / 127) or IEEE fp16. At most `capacity` samples are kept.
// A new sample that nearly duplicates a stored one (cosine >= duplicate_similarity) is dropped.
// When the pool is full the most redundant sample goes: among the stored samples plus the new
// one, take the most similar pair and drop the member of that pair with the larger summed
// similarity to the others (if that is the new sample, it is not stored). This greedy rule
// keeps the samples spread out (different postures, lighting) instead of the last K frames.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eh::track {

enum class PoolPrecision { Int8, Fp16 };

struct PoolConfig {
  int capacity = 16;
  PoolPrecision precision = PoolPrecision::Int8;
  float duplicate_similarity = 0.985f;
};

class EmbeddingPool {
 public:
  explicit EmbeddingPool(const PoolConfig& cfg = {});

  // Normalises `v` and stores it if the rules above allow; returns true when stored. Throws
  // eh::Error when the dimension differs from earlier samples or v is all zeros/non-finite.
  bool add(const std::vector<float>& v);
  // Highest cosine similarity between `v` and a stored sample; -1 when the pool is empty.
  float max_similarity(const std::vector<float>& v) const;
  // Mean of the `k` highest cosine similarities (a steadier score than the single best).
  float top_k_similarity(const std::vector<float>& v, int k) const;

  int size() const { return count_; }
  int dim() const { return dim_; }
  int capacity() const { return cfg_.capacity; }
  std::vector<float> sample(int i) const;  // dequantised (close to unit norm)
  // Highest cosine between two stored samples (1 = the pool holds duplicates); -1 if < 2.
  float max_pairwise_similarity() const;
  std::size_t bytes() const;
  void clear();

 private:
  void store(int slot, const std::vector<float>& unit);
  float dot_stored(int slot, const std::vector<float>& unit) const;

  PoolConfig cfg_;
  int dim_ = 0;
  int count_ = 0;
  std::vector<int8_t> q8_;     // capacity x dim
  std::vector<uint16_t> q16_;  // capacity x dim (fp16 bits)
  std::vector<float> scale_;   // capacity (int8 only)
  std::vector<float> sim_;     // capacity x capacity cosine between stored samples
};

// L2-normalised copy; all zeros stays all zeros.
std::vector<float> normalised(const std::vector<float>& v);
float cosine(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace eh::track
