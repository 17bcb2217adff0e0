#include "store/embedding_pool.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace eh::store {

namespace {
float dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}
}  // namespace

QuantisedVector quantise(const float* v, size_t dim) {
  QuantisedVector out;
  float m = 0;
  for (size_t i = 0; i < dim; ++i) {
    if (!std::isfinite(v[i])) throw eh::Error(fmt::format("embedding: element {} is not finite", i));
    m = std::max(m, std::fabs(v[i]));
  }
  out.scale = m > 0 ? m / 127.0f : 1.0f;
  out.q.resize(dim);
  for (size_t i = 0; i < dim; ++i) {
    const float r = std::nearbyint(v[i] / out.scale);
    out.q[i] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
  }
  return out;
}

std::vector<float> dequantise(const QuantisedVector& q) {
  std::vector<float> v(q.q.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(q.q[i]) * q.scale;
  return v;
}

EmbeddingPool::EmbeddingPool(PoolOptions opt) : opt_(opt) {
  if (opt_.max_size < 1) throw eh::Error(fmt::format("embedding pool: max_size must be >= 1, got {}", opt_.max_size));
}

std::vector<float> EmbeddingPool::normalised(const float* v, size_t dim) const {
  if (dim == 0) throw eh::Error("embedding pool: empty embedding");
  if (dim_ != 0 && dim != dim_)
    throw eh::Error(fmt::format("embedding pool: embedding has {} dims, the pool holds {}-d vectors", dim, dim_));
  double n = 0;
  for (size_t i = 0; i < dim; ++i) {
    if (!std::isfinite(v[i])) throw eh::Error(fmt::format("embedding pool: element {} is not finite", i));
    n += static_cast<double>(v[i]) * v[i];
  }
  if (!(n > 0)) throw eh::Error("embedding pool: zero embedding");
  const double inv = 1.0 / std::sqrt(n);
  std::vector<float> u(dim);
  for (size_t i = 0; i < dim; ++i) u[i] = static_cast<float>(v[i] * inv);
  return u;
}

void EmbeddingPool::load(std::vector<PoolEntry> entries) {
  if (entries.size() > static_cast<size_t>(opt_.max_size))
    throw eh::Error(fmt::format("embedding pool: {} stored embeddings exceed the pool size {}", entries.size(),
                                opt_.max_size));
  e_.clear();
  unit_.clear();
  sim_.clear();
  dim_ = entries.empty() ? 0 : entries.front().vec.q.size();
  for (auto& e : entries) {
    if (e.vec.q.size() != dim_)
      throw eh::Error(fmt::format("embedding pool: stored embeddings have {} and {} dims", dim_, e.vec.q.size()));
    e_.push_back(PoolEntry{});
    unit_.emplace_back();
    sim_.emplace_back();
    set_slot(e_.size() - 1, std::move(e));
  }
}

void EmbeddingPool::set_slot(size_t slot, PoolEntry e) {
  auto u = dequantise(e.vec);
  double n = 0;
  for (float x : u) n += static_cast<double>(x) * x;
  if (n > 0)
    for (float& x : u) x = static_cast<float>(x / std::sqrt(n));
  e_[slot] = std::move(e);
  unit_[slot] = std::move(u);
  for (auto& row : sim_) row.resize(e_.size(), 0.f);
  sim_[slot].assign(e_.size(), 0.f);
  for (size_t j = 0; j < e_.size(); ++j) {
    if (unit_[j].empty()) continue;
    const float s = j == slot ? 1.f : dot(unit_[slot], unit_[j]);
    sim_[slot][j] = s;
    sim_[j][slot] = s;
  }
}

EmbeddingPool::Result EmbeddingPool::offer(const float* v, size_t dim, int64_t t) {
  const auto u = normalised(v, dim);
  PoolEntry entry;
  entry.vec = quantise(u.data(), u.size());
  entry.added_at = t;
  entry.last_seen = t;
  entry.hits = 1;
  auto uq = dequantise(entry.vec);
  {
    double n = 0;
    for (float x : uq) n += static_cast<double>(x) * x;
    for (float& x : uq) x = static_cast<float>(x / std::sqrt(n));
  }
  std::vector<float> s(e_.size());
  size_t best = 0;
  for (size_t i = 0; i < e_.size(); ++i) {
    s[i] = dot(uq, unit_[i]);
    if (s[i] > s[best]) best = i;
  }
  if (!e_.empty() && s[best] >= opt_.merge_similarity) {
    e_[best].last_seen = std::max(e_[best].last_seen, t);
    ++e_[best].hits;
    return {Action::Merged, static_cast<int>(best)};
  }
  if (dim_ == 0) dim_ = dim;
  if (e_.size() < static_cast<size_t>(opt_.max_size)) {
    e_.push_back(PoolEntry{});
    unit_.emplace_back();
    sim_.emplace_back();
    set_slot(e_.size() - 1, std::move(entry));
    return {Action::Added, static_cast<int>(e_.size() - 1)};
  }
  // Full: the closest pair among members and the new vector loses its older member.
  float pair_sim = s[best];
  size_t pi = best, pj = e_.size();  // pj == size: the new vector
  for (size_t i = 0; i < e_.size(); ++i)
    for (size_t j = i + 1; j < e_.size(); ++j)
      if (sim_[i][j] > pair_sim) {
        pair_sim = sim_[i][j];
        pi = i;
        pj = j;
      }
  size_t victim = pi;
  if (pj < e_.size()) {
    const auto older = [&](size_t a, size_t b) {
      if (e_[a].last_seen != e_[b].last_seen) return e_[a].last_seen < e_[b].last_seen;
      if (e_[a].hits != e_[b].hits) return e_[a].hits < e_[b].hits;
      return a < b;
    };
    victim = older(pi, pj) ? pi : pj;
  }
  set_slot(victim, std::move(entry));
  return {Action::Replaced, static_cast<int>(victim)};
}

float EmbeddingPool::best_similarity(const float* v, size_t dim, int* slot) const {
  if (e_.empty()) {
    if (slot) *slot = -1;
    return -2.f;
  }
  const auto u = normalised(v, dim);
  float best = -2.f;
  for (size_t i = 0; i < e_.size(); ++i) {
    const float s = dot(u, unit_[i]);
    if (s > best) {
      best = s;
      if (slot) *slot = static_cast<int>(i);
    }
  }
  return best;
}

}  // namespace eh::store
