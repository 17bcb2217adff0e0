// The tracker's assignment solver against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"
#include "track/assignment.h"

namespace {

using eh::track::Costs;

// Minimum over all partial matchings of sum(pairs) + u * (unmatched rows + unmatched cols).
double brute(const Costs& c, double u, bool complete) {
  const std::size_t n = c.rows, m = c.cols;
  double best = std::numeric_limits<double>::infinity();
  std::vector<int> col_of(n, -1);
  std::vector<char> used(m, 0);
  std::function<void(std::size_t, double, std::size_t)> rec = [&](std::size_t r, double acc, std::size_t matched) {
    if (r == n) {
      if (complete && matched != std::min(n, m)) return;
      best = std::min(best, acc + (complete ? 0.0 : u * static_cast<double>((n - matched) + (m - matched))));
      return;
    }
    rec(r + 1, acc, matched);  // leave row r unmatched
    for (std::size_t k = 0; k < m; ++k)
      if (!used[k] && std::isfinite(c(r, k))) {
        used[k] = 1;
        rec(r + 1, acc + c(r, k), matched + 1);
        used[k] = 0;
      }
  };
  rec(0, 0.0, 0);
  return best;
}

TEST(Assignment, HungarianMatchesBruteForce) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> U(0, 1);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t n = 1 + rng() % 5, m = 1 + rng() % 5;
    Costs c(n, m);
    for (auto& x : c.v) x = std::round(U(rng) * 20) / 4;  // ties happen
    const auto a = eh::track::hungarian(c);
    ASSERT_EQ(a.size(), std::min(n, m));
    double total = 0;
    std::vector<char> rows(n, 0), cols(m, 0);
    for (auto [r, k] : a) {
      EXPECT_FALSE(rows[r]++);
      EXPECT_FALSE(cols[k]++);
      total += c(r, k);
    }
    EXPECT_NEAR(total, brute(c, 0, true), 1e-9) << "trial " << trial;
  }
}

TEST(Assignment, UnmatchedPriceMatchesBruteForce) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> U(0, 1);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t n = rng() % 5, m = rng() % 5;
    Costs c(n, m);
    for (auto& x : c.v) x = U(rng) < 0.25 ? eh::track::kForbidden : U(rng) * 2;
    const double u = 0.2 + U(rng);
    const auto a = eh::track::assign(c, u);
    double total = u * static_cast<double>(n + m - 2 * a.size());
    for (auto [r, k] : a) {
      ASSERT_TRUE(std::isfinite(c(r, k)));
      EXPECT_LE(c(r, k), 2 * u);
      total += c(r, k);
    }
    EXPECT_NEAR(total, brute(c, u, false), 1e-9) << "trial " << trial;
  }
}

// ByteTrack-style trade-off: one excellent pair beats two mediocre ones.
TEST(Assignment, PrefersOneGoodPairOverTwoPoorOnes) {
  Costs c(2, 2);
  c(0, 0) = 0.7;
  c(1, 1) = 0.7;
  c(0, 1) = 0.1;
  c(1, 0) = eh::track::kForbidden;
  // Unmatched price u: (0, 1) alone costs 0.1 + 2u (row 1 and column 0 left), both diagonal
  // pairs cost 1.4. u = 0.4: 0.9 < 1.4, one pair; u = 0.7: 1.5 > 1.4, two pairs.
  const auto a = eh::track::assign(c, 0.4);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].first, 0u);
  EXPECT_EQ(a[0].second, 1u);
  const auto b = eh::track::assign(c, 0.7);
  EXPECT_EQ(b.size(), 2u);
}

TEST(Assignment, EmptyAndInvalid) {
  EXPECT_TRUE(eh::track::assign(Costs(0, 3), 1).empty());
  EXPECT_TRUE(eh::track::hungarian(Costs(4, 0)).empty());
  Costs bad(1, 1, std::numeric_limits<double>::quiet_NaN());
  EXPECT_THROW(eh::track::hungarian(bad), eh::Error);
  EXPECT_TRUE(eh::track::assign(bad, 1).empty());  // NaN = forbidden
}

}  // namespace
