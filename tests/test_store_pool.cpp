// Embedding pool: quantisation error bound, boundedness, diversity, merging, persistence.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

#include "core/error.h"
#include "store/embedding_pool.h"
#include "store/recorder.h"
#include "test_util.h"

namespace es = eh::store;

namespace {

std::vector<float> unit(size_t dim, std::mt19937_64& rng) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(dim);
  double s = 0;
  for (auto& x : v) {
    x = n(rng);
    s += static_cast<double>(x) * x;
  }
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

std::vector<float> noisy(const std::vector<float>& c, float sigma, std::mt19937_64& rng) {
  std::normal_distribution<float> n(0, sigma / std::sqrt(static_cast<float>(c.size())));
  auto v = c;
  for (auto& x : v) x += n(rng);
  return v;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST(StorePool, QuantisationErrorIsBounded) {
  std::mt19937_64 rng(3);
  double worst_cos = 1;
  for (int k = 0; k < 200; ++k) {
    const auto v = unit(384, rng);
    const auto q = es::quantise(v.data(), v.size());
    const auto d = es::dequantise(q);
    float maxabs = 0;
    for (float x : v) maxabs = std::max(maxabs, std::fabs(x));
    EXPECT_FLOAT_EQ(q.scale, maxabs / 127.0f);
    for (size_t i = 0; i < v.size(); ++i) EXPECT_LE(std::fabs(v[i] - d[i]), q.scale * 0.5f * 1.0001f + 1e-9f);
    worst_cos = std::min(worst_cos, cosine(v, d));
  }
  // Per-element error <= scale/2 bounds the cosine loss; in practice it is tiny.
  EXPECT_GT(worst_cos, 0.9999);
  // What re-identification sees: similarities between quantised vectors move very little.
  double worst_shift = 0;
  for (int k = 0; k < 200; ++k) {
    const auto a = unit(384, rng);
    auto b = noisy(a, 0.8f, rng);  // a related vector (same animal, other pose)
    if (k % 2) b = unit(384, rng);  // or an unrelated one
    const auto qa = es::dequantise(es::quantise(a.data(), a.size()));
    const auto qb = es::dequantise(es::quantise(b.data(), b.size()));
    worst_shift = std::max(worst_shift, std::fabs(cosine(qa, qb) - cosine(a, b)));
  }
  std::cout << "quantisation: worst cosine to original " << worst_cos << ", worst similarity shift " << worst_shift
            << "\n";
  EXPECT_LT(worst_shift, 2e-3);
  // Extremes are exact; the zero vector survives; non-finite input is refused.
  const std::vector<float> e = {1.0f, -1.0f, 0.0f, 0.5f};
  EXPECT_EQ(es::dequantise(es::quantise(e.data(), e.size()))[0], 1.0f);
  EXPECT_EQ(es::dequantise(es::quantise(e.data(), e.size()))[1], -1.0f);
  const std::vector<float> z(8, 0.0f);
  EXPECT_EQ(es::dequantise(es::quantise(z.data(), z.size())), z);
  const std::vector<float> bad = {1.0f, NAN};
  EXPECT_THROW(es::quantise(bad.data(), bad.size()), eh::Error);
}

TEST(StorePool, StaysBoundedAndCoversAllAppearances) {
  std::mt19937_64 rng(5);
  std::vector<std::vector<float>> centres;
  for (int c = 0; c < 8; ++c) centres.push_back(unit(64, rng));
  es::EmbeddingPool pool(es::PoolOptions{8, 0.98f});
  // 2000 offers, most from cluster 0 (the animal lying in its usual spot), a few of each other.
  std::discrete_distribution<int> which({60, 5, 5, 5, 5, 5, 5, 10});
  for (int k = 0; k < 2000; ++k) {
    const auto v = noisy(centres[static_cast<size_t>(which(rng))], 0.3f, rng);
    pool.offer(v.data(), v.size(), k);
    ASSERT_LE(pool.size(), 8u);
  }
  EXPECT_EQ(pool.size(), 8u);
  // Every appearance cluster keeps a member (the frequent one does not crowd the others out).
  for (size_t c = 0; c < centres.size(); ++c)
    EXPECT_GT(pool.best_similarity(centres[c].data(), centres[c].size()), 0.85f) << "cluster " << c;
  // And members are recent: the pool follows the animal.
  int64_t oldest = 1 << 30;
  for (const auto& e : pool.entries()) oldest = std::min(oldest, e.last_seen);
  EXPECT_GT(oldest, 1000);
}

TEST(StorePool, NearDuplicatesMergeAndDimensionsAreChecked) {
  std::mt19937_64 rng(9);
  es::EmbeddingPool pool(es::PoolOptions{4, 0.97f});
  const auto v = unit(32, rng);
  EXPECT_EQ(pool.offer(v.data(), v.size(), 10).action, es::EmbeddingPool::Action::Added);
  auto scaled = v;
  for (auto& x : scaled) x *= 3;  // same direction: a duplicate
  const auto r = pool.offer(scaled.data(), scaled.size(), 20);
  EXPECT_EQ(r.action, es::EmbeddingPool::Action::Merged);
  EXPECT_EQ(pool.entries()[0].hits, 2u);
  EXPECT_EQ(pool.entries()[0].last_seen, 20);
  const std::vector<float> other(16, 1.0f), zero(32, 0.0f);
  EXPECT_THROW(pool.offer(other.data(), other.size(), 30), eh::Error);
  EXPECT_THROW(pool.offer(zero.data(), zero.size(), 30), eh::Error);
}

TEST(StorePool, PersistsThroughTheRecorder) {
  const auto dir = eh::test::temp_dir("pool_persist");
  const std::string path = (dir / "s.db").string();
  std::mt19937_64 rng(11);
  std::vector<std::vector<float>> seen;
  es::RecorderOptions ro;
  ro.pool = es::PoolOptions{6, 0.97f};
  std::vector<es::PoolEntry> before;
  {
    es::Store s(path);
    es::Recorder rec(s, ro);
    for (int k = 0; k < 50; ++k) {
      seen.push_back(unit(384, rng));
      rec.offer_embedding(4, 1704067200.0 + k, seen.back().data(), 384);
    }
    before = rec.pool(4)->entries();
    EXPECT_EQ(before.size(), 6u);
  }
  es::Store s(path);
  const auto stored = s.embeddings(4);
  ASSERT_EQ(stored.size(), 6u);
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].slot, static_cast<int>(i));
    EXPECT_EQ(stored[i].entry.vec.q, before[i].vec.q);
    EXPECT_EQ(stored[i].entry.vec.scale, before[i].vec.scale);
    EXPECT_EQ(stored[i].entry.last_seen, before[i].last_seen);
  }
  // A new recorder continues from the stored pool and stays bounded.
  es::Recorder rec(s, ro);
  for (int k = 0; k < 20; ++k) {
    const auto v = unit(384, rng);
    rec.offer_embedding(4, 1704070000.0 + k, v.data(), 384);
  }
  EXPECT_EQ(rec.pool(4)->size(), 6u);
  rec.flush();
  EXPECT_EQ(s.embeddings(4).size(), 6u);
}
