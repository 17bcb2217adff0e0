#include "data/rle.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "core/error.h"

namespace eh::data {

namespace {

void check_total(const Rle& r, const char* what) {
  uint64_t total = 0;
  for (uint32_t c : r.counts) total += c;
  if (total != static_cast<uint64_t>(r.height) * static_cast<uint64_t>(r.width))
    throw Error(std::string(what) + ": RLE counts sum to " + std::to_string(total) +
                " but size is " + std::to_string(r.height) + "x" + std::to_string(r.width) +
                " = " + std::to_string(static_cast<uint64_t>(r.height) * r.width));
}

}  // namespace

int64_t Rle::area() const {
  int64_t a = 0;
  for (size_t i = 1; i < counts.size(); i += 2) a += counts[i];
  return a;
}

cv::Rect Rle::bbox() const {
  if (height <= 0 || width <= 0) return {};
  int64_t p = 0;
  int xmin = width, xmax = -1, ymin = height, ymax = -1;
  for (size_t i = 0; i < counts.size(); ++i) {
    const int64_t n = counts[i];
    if ((i & 1) && n > 0) {
      const int64_t first = p, last = p + n - 1;
      const int x0 = static_cast<int>(first / height), y0 = static_cast<int>(first % height);
      const int x1 = static_cast<int>(last / height), y1 = static_cast<int>(last % height);
      xmin = std::min(xmin, x0);
      xmax = std::max(xmax, x1);
      if (x0 == x1) {
        ymin = std::min(ymin, y0);
        ymax = std::max(ymax, y1);
      } else {
        // The run wraps over a column end: rows y0..h-1 of x0 and 0..y1 of x1.
        ymin = 0;
        ymax = height - 1;
      }
    }
    p += n;
  }
  if (xmax < 0) return {};
  return {xmin, ymin, xmax - xmin + 1, ymax - ymin + 1};
}

Rle rle_encode(const cv::Mat& mask) {
  if (mask.empty()) return {};
  if (mask.type() != CV_8UC1) throw Error("rle_encode: mask must be CV_8UC1");
  Rle r;
  r.height = mask.rows;
  r.width = mask.cols;
  cv::Mat t;
  cv::transpose(mask, t);  // rows of t are the columns of mask: row-major scan = column-major
  uint8_t prev = 0;
  uint32_t run = 0;
  for (int y = 0; y < t.rows; ++y) {
    const uint8_t* row = t.ptr<uint8_t>(y);
    for (int x = 0; x < t.cols; ++x) {
      const uint8_t v = row[x] ? 1 : 0;
      if (v != prev) {
        r.counts.push_back(run);
        run = 0;
        prev = v;
      }
      ++run;
    }
  }
  r.counts.push_back(run);
  return r;
}

cv::Mat rle_decode(const Rle& rle) {
  check_total(rle, "rle_decode");
  cv::Mat t(rle.width, rle.height, CV_8UC1, cv::Scalar(0));  // transposed, filled linearly
  uint8_t* d = t.ptr<uint8_t>(0);
  size_t p = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    if (i & 1) std::fill(d + p, d + p + rle.counts[i], uint8_t(255));
    p += rle.counts[i];
  }
  cv::Mat m;
  cv::transpose(t, m);
  return m;
}

cv::Mat rle_decode_region(const Rle& rle, const cv::Rect& region) {
  check_total(rle, "rle_decode_region");
  cv::Mat out(std::max(0, region.height), std::max(0, region.width), CV_8UC1, cv::Scalar(0));
  if (out.empty()) return out;
  const int64_t H = rle.height;
  const int x0 = std::max(0, region.x), x1 = std::min(rle.width, region.x + region.width);
  const int y0 = std::max(0, region.y), y1 = std::min(rle.height, region.y + region.height);
  if (x1 <= x0 || y1 <= y0) return out;
  int64_t p = 0;
  const int64_t end = static_cast<int64_t>(x1) * H;  // runs past the region's last column do not matter
  for (size_t i = 0; i < rle.counts.size() && p < end; ++i) {
    const int64_t len = rle.counts[i];
    if (i & 1) {
      // A run of 1s from p to p + len (column-major): visit it column by column.
      for (int64_t q = std::max(p, static_cast<int64_t>(x0) * H); q < p + len && q < end;) {
        const int x = static_cast<int>(q / H), y = static_cast<int>(q % H);
        const int64_t stop = std::min(p + len, (static_cast<int64_t>(x) + 1) * H);  // this column's part
        const int ya = std::max(y, y0), yb = std::min(static_cast<int>(y + (stop - q)), y1);
        for (int yy = ya; yy < yb; ++yy) out.at<uint8_t>(yy - region.y, x - region.x) = 255;
        q = stop;
      }
    }
    p += len;
  }
  return out;
}

std::vector<Rle> rle_encode_labels(const cv::Mat& labels, int num_labels) {
  if (labels.type() != CV_8UC1) throw Error("rle_encode_labels: labels must be CV_8UC1");
  cv::Mat t;
  cv::transpose(labels, t);
  return rle_encode_labels_transposed(t, num_labels);
}

std::vector<Rle> rle_encode_labels_transposed(const cv::Mat& t, int num_labels) {
  if (t.type() != CV_8UC1) throw Error("rle_encode_labels: labels must be CV_8UC1");
  if (num_labels < 0 || num_labels > 255) throw Error("rle_encode_labels: num_labels out of range");
  std::vector<Rle> out(num_labels);
  // start[k]: position where label k's current run (of 0s or 1s) began.
  std::vector<int64_t> start(num_labels + 1, 0);
  for (auto& r : out) {
    r.height = t.cols;
    r.width = t.rows;
  }
  const int64_t total = static_cast<int64_t>(t.rows) * t.cols;
  int prev = 0;
  int64_t p = 0;
  for (int y = 0; y < t.rows; ++y) {
    const uint8_t* row = t.ptr<uint8_t>(y);
    for (int x = 0; x < t.cols; ++x, ++p) {
      const int v = row[x] <= num_labels ? row[x] : 0;
      if (v == prev) continue;
      if (prev > 0) {  // prev's run of 1s ends here
        out[prev - 1].counts.push_back(static_cast<uint32_t>(p - start[prev]));
        start[prev] = p;
      }
      if (v > 0) {  // v's run of 0s ends here
        out[v - 1].counts.push_back(static_cast<uint32_t>(p - start[v]));
        start[v] = p;
      }
      prev = v;
    }
  }
  for (int k = 1; k <= num_labels; ++k) {
    out[k - 1].counts.push_back(static_cast<uint32_t>(total - start[k]));
  }
  return out;
}

std::string rle_to_string(const Rle& rle) {
  std::string s;
  s.reserve(rle.counts.size() * 2);
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    long long x = rle.counts[i];
    if (i > 2) x -= static_cast<long long>(rle.counts[i - 2]);
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift (C++20-defined; every supported compiler does this)
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

Rle rle_from_string(const std::string& s, int height, int width) {
  Rle r;
  r.height = height;
  r.width = width;
  size_t p = 0;
  while (p < s.size()) {
    long long x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= s.size()) throw Error("RLE string ends inside a count at character " + std::to_string(p));
      const int c = static_cast<unsigned char>(s[p]) - 48;
      if (c < 0 || c > 63) throw Error("RLE string has an invalid character at position " + std::to_string(p));
      if (k > 12) throw Error("RLE string has an over-long count at position " + std::to_string(p));
      x |= static_cast<long long>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= static_cast<long long>(~0ULL << (5 * k));
    }
    if (r.counts.size() > 2) x += static_cast<long long>(r.counts[r.counts.size() - 2]);
    if (x < 0 || x > 0xFFFFFFFFLL) throw Error("RLE string decodes to an invalid count " + std::to_string(x));
    r.counts.push_back(static_cast<uint32_t>(x));
  }
  check_total(r, "rle_from_string");
  return r;
}

nlohmann::json rle_to_json(const Rle& rle, bool compressed) {
  nlohmann::json j;
  j["size"] = {rle.height, rle.width};
  if (compressed)
    j["counts"] = rle_to_string(rle);
  else
    j["counts"] = rle.counts;
  return j;
}

Rle rle_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("size") || !j.contains("counts"))
    throw Error("RLE JSON must be an object with 'size' and 'counts'");
  const auto& size = j["size"];
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() || !size[1].is_number_integer())
    throw Error("RLE 'size' must be [height, width]");
  const int h = size[0].get<int>(), w = size[1].get<int>();
  if (h < 0 || w < 0) throw Error("RLE 'size' must not be negative");
  const auto& c = j["counts"];
  if (c.is_string()) return rle_from_string(c.get<std::string>(), h, w);
  if (!c.is_array()) throw Error("RLE 'counts' must be a string or a list of integers");
  Rle r;
  r.height = h;
  r.width = w;
  r.counts.reserve(c.size());
  for (const auto& v : c) {
    if (!v.is_number_integer() || v.get<long long>() < 0) throw Error("RLE 'counts' must hold non-negative integers");
    r.counts.push_back(v.get<uint32_t>());
  }
  check_total(r, "rle_from_json");
  return r;
}

int64_t rle_intersection_area(const Rle& a, const Rle& b) {
  if (a.height != b.height || a.width != b.width) throw Error("rle_intersection_area: sizes differ");
  size_t ia = 0, ib = 0;
  int64_t ra = a.counts.empty() ? 0 : a.counts[0], rb = b.counts.empty() ? 0 : b.counts[0];
  int64_t inter = 0;
  while (ia < a.counts.size() && ib < b.counts.size()) {
    const int64_t step = std::min(ra, rb);
    if ((ia & 1) && (ib & 1)) inter += step;
    ra -= step;
    rb -= step;
    while (ra == 0 && ++ia < a.counts.size()) ra = a.counts[ia];
    while (rb == 0 && ++ib < b.counts.size()) rb = b.counts[ib];
  }
  return inter;
}

}  // namespace eh::data
