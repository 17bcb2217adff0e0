#include "eval/numeric.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace eh::eval {

double iou_motmetrics(const Box& a, const Box& b) {
  // py-motmetrics 1.4 distances.boxiou: corners min = (x, y), max = (x + w, y + h); the
  // intersection and both areas are products of clipped corner differences; IoU is 0 when the
  // intersection is 0.
  const double ax1 = a.x + a.w, ay1 = a.y + a.h;
  const double bx1 = b.x + b.w, by1 = b.y + b.h;
  const double iw = std::max(std::min(ax1, bx1) - std::max(a.x, b.x), 0.0);
  const double ih = std::max(std::min(ay1, by1) - std::max(a.y, b.y), 0.0);
  const double inter = iw * ih;
  if (inter == 0.0) return 0.0;
  const double area_a = std::max(ax1 - a.x, 0.0) * std::max(ay1 - a.y, 0.0);
  const double area_b = std::max(bx1 - b.x, 0.0) * std::max(by1 - b.y, 0.0);
  return inter / (area_a + area_b - inter);
}

double iou_trackeval(const Box& a, const Box& b) {
  constexpr double eps = std::numeric_limits<double>::epsilon();
  const double ax0 = a.x, ay0 = a.y, ax1 = a.x + a.w, ay1 = a.y + a.h;
  const double bx0 = b.x, by0 = b.y, bx1 = b.x + b.w, by1 = b.y + b.h;
  double inter = std::max(std::min(ax1, bx1) - std::max(ax0, bx0), 0.0) *
                 std::max(std::min(ay1, by1) - std::max(ay0, by0), 0.0);
  const double area_a = (ax1 - ax0) * (ay1 - ay0);
  const double area_b = (bx1 - bx0) * (by1 - by0);
  double uni = area_a + area_b - inter;
  if (area_a <= eps || area_b <= eps) inter = 0.0;
  if (uni <= eps) {
    inter = 0.0;
    uni = 1.0;
  }
  return inter / uni;
}

namespace {
constexpr std::size_t kBlock = 128;  // numpy's PW_BLOCKSIZE
}

double numpy_sum(const double* v, std::size_t n) {
  if (n < 8) {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) s += v[i];
    return s;
  }
  if (n <= kBlock) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = v[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += v[i + j];
    }
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) s += v[i];
    return s;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_sum(v, n2) + numpy_sum(v + n2, n - n2);
}

namespace {

using Entry = std::pair<std::uint64_t, double>;

// Same recursion as numpy_sum over [lo, lo + n), visiting only the non-zero entries in
// [first, last). Adding an exact zero never changes a partial sum, so skipping them is exact.
double sparse_rec(const Entry* first, const Entry* last, std::uint64_t lo, std::uint64_t n) {
  if (first == last) return 0.0;
  if (n < 8) {
    double s = 0.0;
    for (const Entry* e = first; e != last; ++e) s += e->second;
    return s;
  }
  if (n <= kBlock) {
    double r[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const std::uint64_t unrolled_end = lo + (n - (n % 8));
    const Entry* e = first;
    for (; e != last && e->first < unrolled_end; ++e) r[(e->first - lo) % 8] += e->second;
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; e != last; ++e) s += e->second;
    return s;
  }
  std::uint64_t n2 = n / 2;
  n2 -= n2 % 8;
  const Entry* mid = std::lower_bound(first, last, lo + n2,
                                      [](const Entry& a, std::uint64_t idx) { return a.first < idx; });
  return sparse_rec(first, mid, lo, n2) + sparse_rec(mid, last, lo + n2, n - n2);
}

}  // namespace

double numpy_sum_sparse(const std::vector<Entry>& entries, std::uint64_t n) {
  return sparse_rec(entries.data(), entries.data() + entries.size(), 0, n);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(std::floor(pos));
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

}  // namespace eh::eval
