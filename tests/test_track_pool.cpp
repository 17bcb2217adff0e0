// Per-animal embedding pool: bounded, diverse, quantised.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "track/embedding_pool.h"

namespace {

using eh::track::EmbeddingPool;
using eh::track::PoolConfig;
using eh::track::PoolPrecision;

std::vector<float> randn(std::mt19937& rng, int d) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(d);
  for (auto& x : v) x = n(rng);
  return v;
}

std::vector<float> near(std::mt19937& rng, const std::vector<float>& c, float noise) {
  auto v = c;
  auto e = randn(rng, static_cast<int>(c.size()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] += noise * e[i];
  return v;
}

TEST(EmbeddingPool, StaysBoundedAndBytesDoNotGrow) {
  for (auto prec : {PoolPrecision::Int8, PoolPrecision::Fp16}) {
    PoolConfig cfg;
    cfg.capacity = 8;
    cfg.precision = prec;
    EmbeddingPool pool(cfg);
    std::mt19937 rng(1);
    pool.add(randn(rng, 64));
    const std::size_t bytes = pool.bytes();
    for (int i = 0; i < 5000; ++i) pool.add(randn(rng, 64));
    EXPECT_EQ(pool.size(), 8);
    EXPECT_EQ(pool.bytes(), bytes);  // storage is allocated once for `capacity` samples
  }
}

TEST(EmbeddingPool, StorageIsQuantised) {
  PoolConfig i8;
  i8.capacity = 16;
  PoolConfig f16 = i8;
  f16.precision = PoolPrecision::Fp16;
  EmbeddingPool a(i8), b(f16);
  std::mt19937 rng(2);
  a.add(randn(rng, 384));
  b.add(randn(rng, 384));
  // 384-d: int8 = 384 bytes + a scale per sample, fp16 = 768 bytes per sample (float32 would be 1536).
  EXPECT_LT(a.bytes(), 16u * 384u + 16u * 4u + 16u * 16u * 4u + 512u);
  EXPECT_LT(b.bytes(), 16u * 768u + 16u * 16u * 4u + 512u);
  // Round trip close to the unit vector.
  std::mt19937 r2(3);
  const auto v = randn(r2, 384);
  EmbeddingPool c(i8), d(f16);
  c.add(v);
  d.add(v);
  EXPECT_GT(c.max_similarity(v), 0.999f);
  EXPECT_GT(d.max_similarity(v), 0.9999f);
}

// A stream dominated by one appearance (an animal lying still for minutes) must not push out
// the rarer ones (standing, under IR light): the pool keeps one sample per mode first.
TEST(EmbeddingPool, KeepsDiverseSamples) {
  std::mt19937 rng(4);
  const int D = 32;
  std::vector<std::vector<float>> modes;
  for (int k = 0; k < 6; ++k) modes.push_back(randn(rng, D));
  PoolConfig cfg;
  cfg.capacity = 6;
  EmbeddingPool pool(cfg);
  // One sample of each rare mode, then thousands of the dominant mode 0.
  for (int k = 1; k < 6; ++k) pool.add(near(rng, modes[k], 0.05f));
  for (int i = 0; i < 3000; ++i) pool.add(near(rng, modes[0], 0.2f));
  EXPECT_EQ(pool.size(), 6);
  for (int k = 0; k < 6; ++k) EXPECT_GT(pool.max_similarity(modes[k]), 0.95f) << "mode " << k << " was pushed out";
  // No two stored samples are near duplicates.
  EXPECT_LT(pool.max_pairwise_similarity(), 0.9f);

  // A last-K buffer would hold only mode 0: compare with what the pool keeps.
  int mode0 = 0;
  for (int i = 0; i < pool.size(); ++i)
    if (eh::track::cosine(pool.sample(i), modes[0]) > 0.9f) ++mode0;
  EXPECT_EQ(mode0, 1);
}

TEST(EmbeddingPool, DropsNearDuplicates) {
  EmbeddingPool pool;
  std::vector<float> v(16, 0.0f);
  v[3] = 1;
  EXPECT_TRUE(pool.add(v));
  auto w = v;
  w[4] = 0.01f;  // cosine 0.99995
  EXPECT_FALSE(pool.add(w));
  EXPECT_EQ(pool.size(), 1);
}

TEST(EmbeddingPool, SimilarityQueries) {
  std::mt19937 rng(6);
  PoolConfig cfg;
  cfg.capacity = 4;
  EmbeddingPool pool(cfg);
  const auto a = randn(rng, 48), b = randn(rng, 48);
  EXPECT_EQ(pool.max_similarity(a), -1.0f);
  pool.add(a);
  pool.add(near(rng, a, 0.4f));
  EXPECT_GT(pool.max_similarity(near(rng, a, 0.1f)), 0.9f);
  EXPECT_LT(pool.max_similarity(b), 0.5f);
  EXPECT_LE(pool.top_k_similarity(a, 2), pool.max_similarity(a) + 1e-6f);
}

TEST(EmbeddingPool, BadInput) {
  EmbeddingPool pool;
  EXPECT_THROW(pool.add({}), eh::Error);
  EXPECT_THROW(pool.add(std::vector<float>(8, 0.0f)), eh::Error);
  pool.add(std::vector<float>(8, 1.0f));
  EXPECT_THROW(pool.add(std::vector<float>(9, 1.0f)), eh::Error);
  EXPECT_THROW(pool.add({1.0f, std::nanf(""), 0, 0, 0, 0, 0, 0}), eh::Error);
  PoolConfig bad;
  bad.capacity = 0;
  EXPECT_THROW(EmbeddingPool{bad}, eh::Error);
}

}  // namespace
