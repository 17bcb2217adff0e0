// Linear assignment (min-cost bipartite matching) for the evaluation metrics.
//
// The solver is the shortest-augmenting-path form of the Hungarian / Jonker-Volgenant method
// (Crouse 2016, "On implementing 2D rectangular assignment algorithms"): O(r^2 c) for an r x c
// matrix with r <= c, rectangular and empty matrices allowed. It follows the same search order
// and tie-breaking as scipy.optimize.linear_sum_assignment, so where several assignments are
// optimal it picks the one the Python reference tools (py-motmetrics, TrackEval) pick.
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

namespace eh::eval {

// A dense row-major cost matrix. +infinity (or NaN) marks a forbidden pair.
struct CostMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<double> data;  // rows * cols, row-major

  CostMatrix() = default;
  CostMatrix(std::size_t r, std::size_t c, double fill = 0.0) : rows(r), cols(c), data(r * c, fill) {}
  double& operator()(std::size_t r, std::size_t c) { return data[r * cols + c]; }
  double operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
};

using Assignment = std::vector<std::pair<std::size_t, std::size_t>>;  // (row, col), rows ascending

// Plain linear sum assignment on a matrix of finite costs: every row (if rows <= cols) or every
// column (otherwise) is assigned, minimising the total. Throws eh::Error on NaN or infinite
// entries. Result sorted by row. Mirrors scipy's linear_sum_assignment bit for bit.
Assignment solve_dense(const CostMatrix& cost);

// Assignment with forbidden pairs (+inf or NaN). Finds, among the matchings that use only
// allowed pairs, one of maximum cardinality and, among those, one of minimum total cost; forbidden
// pairs are never returned. (Implemented as py-motmetrics does: forbidden entries are replaced by
// a constant large enough that using one more allowed edge always wins, then solve_dense, then
// the forbidden pairs are dropped.) Result sorted by row.
Assignment solve(const CostMatrix& cost);

// Sum of cost(r, c) over an assignment.
double assignment_cost(const CostMatrix& cost, const Assignment& a);

}  // namespace eh::eval
