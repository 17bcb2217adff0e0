// A bounded, diversity-preserving pool of appearance embeddings per animal, stored quantised
// (int8 with one float scale per vector).
//
// Vectors are L2-normalised before quantisation: scale = max|u_i| / 127 and q_i = round(u_i /
// scale), so every element is off by at most scale / 2 (for a 384-d unit vector the cosine
// similarity to the original is typically > 0.9999). When the pool is full, a new vector either
// merges into a near-duplicate (similarity >= merge_similarity: only last_seen and hits change)
// or takes a slot from the closest pair among pool + new: the older (by last_seen) of that pair
// goes, so the pool stays spread out over appearance and drifts with the animal (growth, dirt).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eh::store {

struct QuantisedVector {
  float scale = 0;
  std::vector<int8_t> q;
};

// Quantises `v` as it is (no normalisation). Throws eh::Error on non-finite values.
QuantisedVector quantise(const float* v, size_t dim);
std::vector<float> dequantise(const QuantisedVector& q);

struct PoolEntry {
  QuantisedVector vec;  // of the L2-normalised embedding
  int64_t added_at = 0;
  int64_t last_seen = 0;
  uint32_t hits = 1;
};

struct PoolOptions {
  int max_size = 32;
  float merge_similarity = 0.97f;  // cosine; at or above it a new vector is a duplicate
};

class EmbeddingPool {
 public:
  enum class Action { Added, Replaced, Merged };
  struct Result {
    Action action = Action::Added;
    int slot = 0;
  };

  explicit EmbeddingPool(PoolOptions opt = {});

  // Replaces the content (e.g. from the database); slots are indices. Throws eh::Error on
  // mismatched dimensions or more entries than max_size.
  void load(std::vector<PoolEntry> entries);
  // Offers an embedding seen at time t (unix seconds). Throws eh::Error on a zero or non-finite
  // vector or a dimension different from the pool's.
  Result offer(const float* v, size_t dim, int64_t t);
  // Highest cosine similarity of `v` to a pool member (-2 when empty); *slot receives its index.
  float best_similarity(const float* v, size_t dim, int* slot = nullptr) const;

  const std::vector<PoolEntry>& entries() const { return e_; }
  size_t size() const { return e_.size(); }
  size_t dim() const { return dim_; }
  const PoolOptions& options() const { return opt_; }

 private:
  std::vector<float> normalised(const float* v, size_t dim) const;
  void set_slot(size_t slot, PoolEntry e);

  PoolOptions opt_;
  size_t dim_ = 0;
  std::vector<PoolEntry> e_;
  std::vector<std::vector<float>> unit_;  // dequantised members (what similarities use)
  std::vector<std::vector<float>> sim_;   // pairwise cosine between members
};

}  // namespace eh::store
