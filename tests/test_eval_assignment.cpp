// Linear assignment solver: hand cases, forbidden pairs, rectangular / empty matrices, and a
// brute-force comparison on random small matrices.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/error.h"
#include "eval/assignment.h"

namespace {

using eh::eval::Assignment;
using eh::eval::CostMatrix;
constexpr double kInf = std::numeric_limits<double>::infinity();

CostMatrix make(std::size_t r, std::size_t c, std::initializer_list<double> v) {
  CostMatrix m(r, c);
  m.data.assign(v.begin(), v.end());
  return m;
}

TEST(EvalAssignment, SquareHandCase) {
  // [[4,1,3],[2,0,5],[3,2,2]]: the six permutations cost
  //   (0,1,2): 4+0+2=6  (0,2,1): 4+5+2=11  (1,0,2): 1+2+2=5
  //   (1,2,0): 1+5+3=9  (2,0,1): 3+2+2=7   (2,1,0): 3+0+3=6
  // so the unique optimum is row0->col1, row1->col0, row2->col2 with cost 5.
  const CostMatrix m = make(3, 3, {4, 1, 3, 2, 0, 5, 3, 2, 2});
  const Assignment a = eh::eval::solve_dense(m);
  EXPECT_EQ(a, (Assignment{{0, 1}, {1, 0}, {2, 2}}));
  EXPECT_DOUBLE_EQ(eh::eval::assignment_cost(m, a), 5.0);
}

TEST(EvalAssignment, WideAndTallRectangles) {
  // 2 x 3 [[1,2,3],[3,1,2]]: each row takes its cheapest column (0 and 1), total 2, and no other
  // choice of two distinct columns is as cheap (next best 1+2=3).
  const CostMatrix wide = make(2, 3, {1, 2, 3, 3, 1, 2});
  EXPECT_EQ(eh::eval::solve_dense(wide), (Assignment{{0, 0}, {1, 1}}));
  // The transpose (3 x 2): two of the three rows are assigned, the same pairs transposed.
  const CostMatrix tall = make(3, 2, {1, 3, 2, 1, 3, 2});
  EXPECT_EQ(eh::eval::solve_dense(tall), (Assignment{{0, 0}, {1, 1}}));
  // A tall matrix where the last row must be used: [[9,9],[9,9],[0,1]] -> row2 takes col0 (0),
  // one of the rows 0/1 takes col1 (9): total 9; any plan without row 2 costs 18.
  const CostMatrix tall2 = make(3, 2, {9, 9, 9, 9, 0, 1});
  const Assignment a = eh::eval::solve_dense(tall2);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_DOUBLE_EQ(eh::eval::assignment_cost(tall2, a), 9.0);
  EXPECT_EQ(a.back(), (std::pair<std::size_t, std::size_t>{2, 0}));
}

TEST(EvalAssignment, EmptyMatrices) {
  EXPECT_TRUE(eh::eval::solve_dense(CostMatrix(0, 0)).empty());
  EXPECT_TRUE(eh::eval::solve_dense(CostMatrix(0, 4)).empty());
  EXPECT_TRUE(eh::eval::solve_dense(CostMatrix(3, 0)).empty());
  EXPECT_TRUE(eh::eval::solve(CostMatrix(0, 0)).empty());
  EXPECT_TRUE(eh::eval::solve(CostMatrix(2, 0)).empty());
}

TEST(EvalAssignment, ConstantMatrixGivesIdentity) {
  // Every assignment of a constant matrix is optimal; like scipy we return the identity.
  const Assignment a = eh::eval::solve_dense(CostMatrix(3, 3, 0.0));
  EXPECT_EQ(a, (Assignment{{0, 0}, {1, 1}, {2, 2}}));
}

TEST(EvalAssignment, InfiniteCostsAreNeverAssigned) {
  // Column 0 is forbidden for both rows: only one pair can be made; row0->col1 (1) beats
  // row1->col1 (2).
  const CostMatrix m = make(2, 2, {kInf, 1, kInf, 2});
  EXPECT_EQ(eh::eval::solve(m), (Assignment{{0, 1}}));
  // Everything forbidden: nothing assigned.
  EXPECT_TRUE(eh::eval::solve(make(2, 2, {kInf, kInf, kInf, kInf})).empty());
  // NaN is forbidden too.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(eh::eval::solve(make(1, 2, {nan, 3})), (Assignment{{0, 1}}));
}

TEST(EvalAssignment, MaximumCardinalityBeforeCost) {
  // [[1,100],[2,inf]]: pairing row0->col0 alone costs 1 but leaves row1 unassigned; the only
  // two-pair plan is row0->col1 + row1->col0 = 102. As in py-motmetrics, more pairs win.
  const CostMatrix m = make(2, 2, {1, 100, 2, kInf});
  EXPECT_EQ(eh::eval::solve(m), (Assignment{{0, 1}, {1, 0}}));
}

TEST(EvalAssignment, DenseRejectsNonFinite) {
  EXPECT_THROW(eh::eval::solve_dense(make(1, 2, {kInf, 1})), eh::Error);
  CostMatrix bad(2, 2);
  bad.data.resize(3);
  EXPECT_THROW(eh::eval::solve(bad), eh::Error);
}

// Brute force: best (max number of allowed pairs, then min cost) over all partial injective maps.
struct Best {
  int count = -1;
  double cost = 0;
};

void brute(const CostMatrix& m, std::size_t row, std::vector<char>& used, int count, double cost, Best* best) {
  if (row == m.rows) {
    if (count > best->count || (count == best->count && cost < best->cost - 1e-12)) *best = Best{count, cost};
    return;
  }
  brute(m, row + 1, used, count, cost, best);  // row left unassigned
  for (std::size_t c = 0; c < m.cols; ++c) {
    if (used[c] || !std::isfinite(m(row, c))) continue;
    used[c] = 1;
    brute(m, row + 1, used, count + 1, cost + m(row, c), best);
    used[c] = 0;
  }
}

TEST(EvalAssignment, MatchesBruteForceOnRandomMatrices) {
  std::mt19937 g(1234);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::size_t r = 1 + g() % 5, c = 1 + g() % 5;
    const bool integer = trial % 2 == 0;  // integer costs create many ties
    const double p_forbidden = (trial % 3 == 0) ? 0.0 : 0.35;
    CostMatrix m(r, c);
    for (double& x : m.data) {
      const double u = static_cast<double>(g()) / 4294967296.0;
      if (u < p_forbidden) {
        x = kInf;
      } else {
        const double v = static_cast<double>(g()) / 4294967296.0;
        x = integer ? std::floor(v * 4) : v * 10 - 3;  // negative costs allowed
      }
    }
    Best best;
    std::vector<char> used(c, 0);
    brute(m, 0, used, 0, 0.0, &best);
    const Assignment a = eh::eval::solve(m);
    ASSERT_EQ(static_cast<int>(a.size()), best.count) << "trial " << trial;
    EXPECT_NEAR(eh::eval::assignment_cost(m, a), best.cost, 1e-9) << "trial " << trial;
    std::vector<char> rows(r, 0), cols(c, 0);
    for (std::size_t k = 0; k < a.size(); ++k) {
      const auto [i, j] = a[k];
      ASSERT_TRUE(std::isfinite(m(i, j)));
      ASSERT_FALSE(rows[i] || cols[j]);
      rows[i] = cols[j] = 1;
      if (k > 0) ASSERT_LT(a[k - 1].first, i);  // sorted by row
    }
    if (p_forbidden == 0.0) {  // dense: the plain solver agrees and assigns min(r, c) pairs
      const Assignment d = eh::eval::solve_dense(m);
      ASSERT_EQ(d.size(), std::min(r, c));
      EXPECT_NEAR(eh::eval::assignment_cost(m, d), best.cost, 1e-9);
    }
  }
}

TEST(EvalAssignment, LargerRandomMatrixIsOptimalAgainstPerturbation) {
  // 60 x 80 random costs: local optimality checks (no move to a free column and no swap of two
  // rows' columns lowers the total).
  std::mt19937 g(99);
  CostMatrix m(60, 80);
  for (double& x : m.data) x = static_cast<double>(g()) / 4294967296.0;
  const Assignment a = eh::eval::solve_dense(m);
  ASSERT_EQ(a.size(), 60u);
  std::vector<char> col_used(80, 0);
  for (const auto& [i, j] : a) col_used[j] = 1;
  for (std::size_t p = 0; p < a.size(); ++p) {
    // Moving a row to an unused column never helps.
    for (std::size_t j = 0; j < 80; ++j)
      if (!col_used[j]) EXPECT_LE(m(a[p].first, a[p].second), m(a[p].first, j) + 1e-12);
    // Swapping the columns of two rows never helps.
    for (std::size_t q = p + 1; q < a.size(); ++q) {
      const double now = m(a[p].first, a[p].second) + m(a[q].first, a[q].second);
      const double swapped = m(a[p].first, a[q].second) + m(a[q].first, a[p].second);
      EXPECT_LE(now, swapped + 1e-12);
    }
  }
}

}  // namespace
