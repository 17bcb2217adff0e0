// Binary masks as COCO run-length encoding (as in pycocotools): the mask is flattened in
// column-major order (x outer, y inner) and `counts` alternates run lengths of 0s and 1s,
// starting with 0s (so counts[0] is 0 when the first pixel is set). The sum of counts is
// height * width. The compressed string form is pycocotools' rleToString/rleFrString.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace eh::data {

struct Rle {
  int height = 0;
  int width = 0;
  std::vector<uint32_t> counts;

  int64_t area() const;  // number of foreground pixels
  bool empty() const { return area() == 0; }
  // Tight bounding box of the foreground (x, y, w, h); an empty Rect when area() == 0.
  cv::Rect bbox() const;
  bool operator==(const Rle& o) const {
    return height == o.height && width == o.width && counts == o.counts;
  }
  bool operator!=(const Rle& o) const { return !(*this == o); }
};

// mask: CV_8UC1, any non-zero pixel is foreground.
Rle rle_encode(const cv::Mat& mask);
// CV_8UC1 mask of 0 and 255. Throws eh::Error if the counts do not sum to height * width.
cv::Mat rle_decode(const Rle& rle);
// The part of the mask inside `region` (which may extend past the image: pixels outside it are
// 0), as a region-sized CV_8UC1 mask of 0 and 255, without decoding the rest of the image.
cv::Mat rle_decode_region(const Rle& rle, const cv::Rect& region);

// One pass over a label image (CV_8UC1; 0 = background, 1..num_labels = instances): the RLE of
// (labels == k) for k = 1..num_labels, as element k-1.
std::vector<Rle> rle_encode_labels(const cv::Mat& labels, int num_labels);
// The same from the transposed label image (labels_t(x, y) = labels(y, x)), which is already in
// RLE order: no transpose needed.
std::vector<Rle> rle_encode_labels_transposed(const cv::Mat& labels_t, int num_labels);

// pycocotools' compressed counts string and back. rle_from_string throws eh::Error on a
// malformed string or when the counts do not sum to height * width.
std::string rle_to_string(const Rle& rle);
Rle rle_from_string(const std::string& s, int height, int width);

// {"size": [h, w], "counts": "<compressed>"} (or a plain list of counts when !compressed).
// rle_from_json accepts both forms.
nlohmann::json rle_to_json(const Rle& rle, bool compressed = true);
Rle rle_from_json(const nlohmann::json& j);

// Foreground pixels of a AND b (same size, else eh::Error), without decoding.
int64_t rle_intersection_area(const Rle& a, const Rle& b);

}  // namespace eh::data
