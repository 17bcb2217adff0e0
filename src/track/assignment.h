// Small linear-assignment solver for the tracker (Hungarian method with potentials,
// shortest augmenting paths, O(n^2 m) for n <= m). The tracker's matrices are tiny (tracks x
// instances of one frame), so clarity wins over speed.
//
// The evaluation module has its own scipy-compatible solver (eval/assignment.h); the tracker
// does not use it because it needs a different objective: leaving a row or a column unmatched
// has a finite price, so a poor pair is dropped instead of forced (ByteTrack's lapjv with
// cost_limit).
#pragma once
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace eh::track {

constexpr double kForbidden = std::numeric_limits<double>::infinity();

// Row-major rows x cols cost matrix.
struct Costs {
  std::size_t rows = 0, cols = 0;
  std::vector<double> v;
  Costs() = default;
  Costs(std::size_t r, std::size_t c, double fill = kForbidden) : rows(r), cols(c), v(r * c, fill) {}
  double& operator()(std::size_t r, std::size_t c) { return v[r * cols + c]; }
  double operator()(std::size_t r, std::size_t c) const { return v[r * cols + c]; }
};

// Minimum-cost complete assignment of a finite matrix (every row when rows <= cols, else every
// column). Returns (row, col) pairs sorted by row.
std::vector<std::pair<std::size_t, std::size_t>> hungarian(const Costs& c);

// Minimises  sum(cost of chosen pairs) + unmatched_cost * (unmatched rows + unmatched cols).
// A pair is chosen only if that lowers the total, i.e. a pair costing more than
// 2 * unmatched_cost is never chosen; non-finite entries are never chosen. Sorted by row.
std::vector<std::pair<std::size_t, std::size_t>> assign(const Costs& c, double unmatched_cost);

}  // namespace eh::track
