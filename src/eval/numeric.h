// Small numeric helpers that make our sums and overlaps agree bit for bit with the Python
// reference implementations (py-motmetrics, TrackEval), which sum with numpy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace eh::eval {

// An axis-aligned box: top-left corner (x, y), width w, height h (MOTChallenge layout).
struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};

// Intersection over union as py-motmetrics 1.4 computes it (distances.boxiou: areas from the
// corners x + w, y + h; 0 when the boxes do not intersect).
double iou_motmetrics(const Box& a, const Box& b);

// Intersection over union as TrackEval computes it (boxes converted to corners first, areas
// from the corners; a box of area <= eps or a union <= eps gives 0).
double iou_trackeval(const Box& a, const Box& b);

// Sum of `v` in numpy's order (pairwise summation with an 8-way unrolled base case), i.e. what
// np.sum / pandas' Series.sum returns for a contiguous float64 array.
double numpy_sum(const double* v, std::size_t n);
inline double numpy_sum(const std::vector<double>& v) { return numpy_sum(v.data(), v.size()); }

// numpy_sum of a virtual array of length n that is zero except at the given (index, value)
// entries, which must be sorted by index with unique indices. O(k log n) for k entries.
double numpy_sum_sparse(const std::vector<std::pair<std::uint64_t, double>>& entries, std::uint64_t n);

// The q-quantile (0 <= q <= 1) of v, linear between order statistics (numpy's default); NaN
// when v is empty.
double percentile(std::vector<double> v, double q);

}  // namespace eh::eval
