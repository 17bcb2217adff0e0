#include "track/assignment.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace eh::track {

namespace {

// Hungarian algorithm for n <= m (rows <= cols); a[i][j] 1-based internally.
std::vector<std::pair<std::size_t, std::size_t>> solve_rows_le_cols(const Costs& c) {
  const std::size_t n = c.rows, m = c.cols;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0), v(m + 1, 0), minv(m + 1);
  std::vector<std::size_t> p(m + 1, 0), way(m + 1, 0);
  std::vector<char> used(m + 1);
  for (std::size_t i = 1; i <= n; ++i) {
    p[0] = i;
    std::size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const std::size_t i0 = p[j0];
      double delta = inf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = c(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (std::size_t j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const std::size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t j = 1; j <= m; ++j)
    if (p[j] != 0) out.emplace_back(p[j] - 1, j - 1);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> hungarian(const Costs& c) {
  if (c.v.size() != c.rows * c.cols) throw eh::Error("track::hungarian: matrix size does not match rows x cols");
  for (double x : c.v)
    if (!std::isfinite(x)) throw eh::Error("track::hungarian: non-finite cost");
  if (c.rows == 0 || c.cols == 0) return {};
  if (c.rows <= c.cols) return solve_rows_le_cols(c);
  Costs t(c.cols, c.rows, 0.0);
  for (std::size_t r = 0; r < c.rows; ++r)
    for (std::size_t k = 0; k < c.cols; ++k) t(k, r) = c(r, k);
  auto res = solve_rows_le_cols(t);
  for (auto& pr : res) std::swap(pr.first, pr.second);
  std::sort(res.begin(), res.end());
  return res;
}

std::vector<std::pair<std::size_t, std::size_t>> assign(const Costs& c, double unmatched_cost) {
  if (c.v.size() != c.rows * c.cols) throw eh::Error("track::assign: matrix size does not match rows x cols");
  const std::size_t n = c.rows, m = c.cols;
  if (n == 0 || m == 0) return {};
  // Augmented square matrix: [C  Du; Dv  0] where Du (n x n) and Dv (m x m) hold the price of
  // leaving a row/column unmatched on their diagonals. Forbidden pairs get a cost above any
  // alternative, and are filtered out afterwards.
  double big = 2 * std::abs(unmatched_cost) + 1;
  for (double x : c.v)
    if (std::isfinite(x)) big = std::max(big, std::abs(x) + 1);
  big *= 4 * static_cast<double>(n + m);
  const std::size_t N = n + m;
  Costs a(N, N, big);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      const double x = c(i, j);
      a(i, j) = std::isfinite(x) ? x : big;
    }
  for (std::size_t i = 0; i < n; ++i) a(i, m + i) = unmatched_cost;
  for (std::size_t j = 0; j < m; ++j) a(n + j, j) = unmatched_cost;
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t i = 0; i < n; ++i) a(n + j, m + i) = 0;
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (const auto& [r, k] : solve_rows_le_cols(a))
    if (r < n && k < m && std::isfinite(c(r, k)) && c(r, k) <= 2 * unmatched_cost) out.emplace_back(r, k);
  return out;
}

}  // namespace eh::track
