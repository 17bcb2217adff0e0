#include "eval/assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace eh::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::ptrdiff_t kNone = -1;

// Shortest augmenting path solver on an n_rows x n_cols matrix with n_rows <= n_cols and only
// finite entries. Rows are added one at a time; for each, a Dijkstra-like search over reduced
// costs (cost - u[row] - v[col]) finds the cheapest path to a free column, then the dual
// potentials are updated and the path is flipped. The visiting order, the reverse-filled list of
// candidate columns and the "prefer a free column on ties" rule follow Crouse's pseudocode as
// scipy implements it, so ties are broken the same way.
class AugmentingPathSolver {
 public:
  AugmentingPathSolver(std::size_t n_rows, std::size_t n_cols, const double* cost)
      : nr_(n_rows), nc_(n_cols), cost_(cost), u_(n_rows, 0.0), v_(n_cols, 0.0),
        dist_(n_cols, kInf), pred_(n_cols, kNone), col_of_row_(n_rows, kNone),
        row_of_col_(n_cols, kNone), row_seen_(n_rows, 0), col_done_(n_cols, 0), todo_(n_cols) {}

  // Returns col_of_row (every row assigned). Throws if some row cannot be assigned.
  const std::vector<std::ptrdiff_t>& run() {
    for (std::size_t r = 0; r < nr_; ++r) {
      double path_len = 0.0;
      const std::ptrdiff_t sink = search(r, &path_len);
      if (sink == kNone) throw Error("linear assignment: cost matrix is infeasible");
      update_potentials(r, path_len);
      flip_path(r, sink);
    }
    return col_of_row_;
  }

 private:
  std::ptrdiff_t search(std::size_t start_row, double* path_len) {
    std::fill(row_seen_.begin(), row_seen_.end(), 0);
    std::fill(col_done_.begin(), col_done_.end(), 0);
    std::fill(dist_.begin(), dist_.end(), kInf);
    std::size_t n_todo = nc_;
    for (std::size_t k = 0; k < nc_; ++k) todo_[k] = nc_ - 1 - k;  // reversed: identity on ties

    double reached = 0.0;  // length of the shortest path found so far
    std::size_t row = start_row;
    for (;;) {
      row_seen_[row] = 1;
      double best = kInf;
      std::size_t best_k = 0;
      bool have_best = false;
      const double* crow = cost_ + row * nc_;
      for (std::size_t k = 0; k < n_todo; ++k) {
        const std::size_t col = todo_[k];
        const double reduced = reached + crow[col] - u_[row] - v_[col];
        if (reduced < dist_[col]) {
          dist_[col] = reduced;
          pred_[col] = static_cast<std::ptrdiff_t>(row);
        }
        if (dist_[col] < best || (dist_[col] == best && row_of_col_[col] == kNone)) {
          best = dist_[col];
          best_k = k;
          have_best = true;
        }
      }
      reached = best;
      if (!have_best || best == kInf) return kNone;
      const std::size_t col = todo_[best_k];
      col_done_[col] = 1;
      todo_[best_k] = todo_[--n_todo];
      if (row_of_col_[col] == kNone) {
        *path_len = reached;
        return static_cast<std::ptrdiff_t>(col);
      }
      row = static_cast<std::size_t>(row_of_col_[col]);
    }
  }

  void update_potentials(std::size_t start_row, double path_len) {
    u_[start_row] += path_len;
    for (std::size_t r = 0; r < nr_; ++r) {
      if (row_seen_[r] && r != start_row) u_[r] += path_len - dist_[static_cast<std::size_t>(col_of_row_[r])];
    }
    for (std::size_t c = 0; c < nc_; ++c) {
      if (col_done_[c]) v_[c] -= path_len - dist_[c];
    }
  }

  void flip_path(std::size_t start_row, std::ptrdiff_t sink) {
    std::ptrdiff_t col = sink;
    for (;;) {
      const std::ptrdiff_t row = pred_[static_cast<std::size_t>(col)];
      row_of_col_[static_cast<std::size_t>(col)] = row;
      std::swap(col_of_row_[static_cast<std::size_t>(row)], col);
      if (static_cast<std::size_t>(row) == start_row) break;
    }
  }

  std::size_t nr_, nc_;
  const double* cost_;
  std::vector<double> u_, v_, dist_;
  std::vector<std::ptrdiff_t> pred_, col_of_row_, row_of_col_;
  std::vector<char> row_seen_, col_done_;
  std::vector<std::size_t> todo_;
};

void check_shape(const CostMatrix& cost) {
  if (cost.data.size() != cost.rows * cost.cols) {
    throw Error("linear assignment: cost matrix of " + std::to_string(cost.rows) + " x " +
                std::to_string(cost.cols) + " holds " + std::to_string(cost.data.size()) + " values");
  }
}

}  // namespace

Assignment solve_dense(const CostMatrix& cost) {
  check_shape(cost);
  Assignment out;
  if (cost.rows == 0 || cost.cols == 0) return out;
  for (double x : cost.data) {
    if (!std::isfinite(x)) throw Error("linear assignment: solve_dense needs finite costs (use solve for forbidden pairs)");
  }
  const bool transpose = cost.cols < cost.rows;
  std::vector<double> t;
  const double* m = cost.data.data();
  std::size_t nr = cost.rows, nc = cost.cols;
  if (transpose) {
    t.resize(cost.data.size());
    for (std::size_t r = 0; r < cost.rows; ++r)
      for (std::size_t c = 0; c < cost.cols; ++c) t[c * cost.rows + r] = cost.data[r * cost.cols + c];
    m = t.data();
    std::swap(nr, nc);
  }
  AugmentingPathSolver solver(nr, nc, m);
  const auto& col_of_row = solver.run();
  out.reserve(nr);
  for (std::size_t r = 0; r < nr; ++r) {
    const auto c = static_cast<std::size_t>(col_of_row[r]);
    if (transpose) {
      out.emplace_back(c, r);
    } else {
      out.emplace_back(r, c);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Assignment solve(const CostMatrix& cost) {
  check_shape(cost);
  if (cost.rows == 0 || cost.cols == 0) return {};
  // Largest magnitude among allowed entries.
  double max_abs = -1.0;
  bool any_forbidden = false;
  for (double x : cost.data) {
    if (std::isfinite(x)) {
      max_abs = std::max(max_abs, std::fabs(x));
    } else {
      any_forbidden = true;
    }
  }
  if (!any_forbidden) return solve_dense(cost);
  if (max_abs < 0) return {};  // nothing allowed
  // With allowed costs in [-c, c], an assignment using one forbidden entry (cost L) and r - 1
  // allowed ones costs at least L - (r - 1) c, while one of r allowed entries costs at most r c;
  // L = 2 r c + 1 > (2 r - 1) c makes every extra allowed edge worth more than any cost saving,
  // so the optimum is a maximum-cardinality matching of allowed pairs of least cost.
  const double r = static_cast<double>(std::min(cost.rows, cost.cols));
  const double c = max_abs + 1.0;
  const double large = 2.0 * r * c + 1.0;
  CostMatrix finite = cost;
  for (double& x : finite.data) {
    if (!std::isfinite(x)) x = large;
  }
  Assignment all = solve_dense(finite);
  Assignment out;
  out.reserve(all.size());
  for (const auto& [row, col] : all) {
    if (std::isfinite(cost(row, col))) out.emplace_back(row, col);
  }
  return out;
}

double assignment_cost(const CostMatrix& cost, const Assignment& a) {
  double s = 0.0;
  for (const auto& [r, c] : a) s += cost(r, c);
  return s;
}

}  // namespace eh::eval
