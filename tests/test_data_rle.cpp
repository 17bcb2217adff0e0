// COCO RLE: hand-computed cases, round trips, label-image encoding.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/rle.h"
#include "data/rng.h"

using namespace eh::data;

namespace {

cv::Mat random_mask(Rng& rng, int h, int w) {
  cv::Mat m(h, w, CV_8UC1, cv::Scalar(0));
  const int n = static_cast<int>(rng.uniform_int(0, 4));
  for (int i = 0; i < n; ++i) {
    cv::ellipse(m, cv::Point(static_cast<int>(rng.uniform_int(0, w - 1)), static_cast<int>(rng.uniform_int(0, h - 1))),
                cv::Size(static_cast<int>(rng.uniform_int(1, w / 2 + 1)), static_cast<int>(rng.uniform_int(1, h / 2 + 1))),
                rng.uniform(0, 180), 0, 360, cv::Scalar(255), cv::FILLED);
  }
  if (rng.bernoulli(0.3)) m.at<uchar>(0, 0) = 1;  // any non-zero value is foreground
  if (rng.bernoulli(0.3)) m.at<uchar>(h - 1, w - 1) = 200;
  return m;
}

}  // namespace

TEST(DataRle, HandComputedColumnMajor) {
  // 0 1 0
  // 0 1 1     column-major: 000 | 110 | 011  ->  runs 3 zeros, 2 ones, 2 zeros, 2 ones
  // 0 0 1
  cv::Mat m = (cv::Mat_<uchar>(3, 3) << 0, 1, 0, 0, 1, 1, 0, 0, 1);
  const Rle r = rle_encode(m);
  EXPECT_EQ(r.height, 3);
  EXPECT_EQ(r.width, 3);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{3, 2, 2, 2}));
  EXPECT_EQ(r.area(), 4);
  EXPECT_EQ(r.bbox(), cv::Rect(1, 0, 2, 3));
  // pycocotools' string: counts 3 and 2 -> '3', '2'; index 2 (no delta yet) -> '2';
  // index 3: 2 - counts[1] = 0 -> '0'.
  EXPECT_EQ(rle_to_string(r), "3220");
  const cv::Mat back = rle_decode(r);
  EXPECT_EQ(cv::countNonZero(back != (m * 255)), 0);
}

TEST(DataRle, HandComputedStartsWithForeground) {
  // 1 0
  // 1 1   column-major: 1 1 | 0 1  ->  0 zeros, 2 ones, 1 zero, 1 one
  cv::Mat m = (cv::Mat_<uchar>(2, 2) << 1, 0, 1, 1);
  const Rle r = rle_encode(m);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{0, 2, 1, 1}));
  EXPECT_EQ(r.bbox(), cv::Rect(0, 0, 2, 2));
}

TEST(DataRle, HandComputedStringWithDeltasAndContinuation) {
  // counts 1, 40, 2, 45 (88 pixels = 8 x 11):
  //  1      -> '1' (49)
  //  40     -> low 5 bits 8 with continuation (8 | 0x20 = 40 -> 'X'), then 1 -> '1'
  //  2      -> '2'
  //  45-40  -> 5 -> '5'   (from index 3 on, each count is stored minus the count two before)
  Rle r{8, 11, {1, 40, 2, 45}};
  EXPECT_EQ(rle_to_string(r), "1X125");
  EXPECT_EQ(rle_from_string("1X125", 8, 11), r);
  // counts 5, 9, 30, 2, 42 (88 pixels):
  //  5 -> '5', 9 -> '9'
  //  30 = 0b11110 has the chunk's sign bit (0x10) set, so it takes a continuation: 30|0x20 -> 'n', 0 -> '0'
  //  2 - 9 = -7 -> low 5 bits 25, rest is -1 (sign bit set: done) -> 25+48 = 'I'
  //  42 - 30 = 12 -> '<'
  Rle n{8, 11, {5, 9, 30, 2, 42}};
  const std::string s = rle_to_string(n);
  EXPECT_EQ(s, "59n0I<");
  EXPECT_EQ(rle_from_string(s, 8, 11), n);
}

TEST(DataRle, RoundTripRandomMasks) {
  Rng rng(123);
  for (int it = 0; it < 200; ++it) {
    const int h = static_cast<int>(rng.uniform_int(1, 40)), w = static_cast<int>(rng.uniform_int(1, 40));
    const cv::Mat m = random_mask(rng, h, w);
    const Rle r = rle_encode(m);
    uint64_t total = 0;
    for (auto c : r.counts) total += c;
    ASSERT_EQ(total, static_cast<uint64_t>(h) * w);
    const cv::Mat d = rle_decode(r);
    ASSERT_EQ(cv::countNonZero((m != 0) != (d != 0)), 0) << "iteration " << it;
    ASSERT_EQ(r.area(), cv::countNonZero(m));
    cv::Rect bb = cv::countNonZero(m) ? cv::boundingRect(m) : cv::Rect();
    ASSERT_EQ(r.bbox(), bb) << "iteration " << it;
    ASSERT_EQ(rle_from_string(rle_to_string(r), h, w), r);
    ASSERT_EQ(rle_from_json(rle_to_json(r, true)), r);
    ASSERT_EQ(rle_from_json(rle_to_json(r, false)), r);
  }
}

TEST(DataRle, LabelImageEncodingMatchesPerLabel) {
  Rng rng(5);
  cv::Mat labels(37, 53, CV_8UC1, cv::Scalar(0));
  for (int k = 1; k <= 5; ++k)
    cv::circle(labels, cv::Point(static_cast<int>(rng.uniform_int(0, 52)), static_cast<int>(rng.uniform_int(0, 36))),
               static_cast<int>(rng.uniform_int(2, 15)), cv::Scalar(k), cv::FILLED);
  const auto all = rle_encode_labels(labels, 6);  // label 6 is absent
  ASSERT_EQ(all.size(), 6u);
  for (int k = 1; k <= 6; ++k) {
    const Rle one = rle_encode(labels == k);
    EXPECT_EQ(all[k - 1], one) << "label " << k;
  }
  EXPECT_TRUE(all[5].empty());
  for (int a = 0; a < 6; ++a)
    for (int b = a + 1; b < 6; ++b) EXPECT_EQ(rle_intersection_area(all[a], all[b]), 0);
  cv::Mat t;
  cv::transpose(labels, t);
  const auto again = rle_encode_labels_transposed(t, 6);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(again[k], all[k]);
}

TEST(DataRle, IntersectionArea) {
  cv::Mat a(20, 30, CV_8UC1, cv::Scalar(0)), b(20, 30, CV_8UC1, cv::Scalar(0));
  cv::rectangle(a, cv::Rect(2, 3, 10, 8), cv::Scalar(255), cv::FILLED);
  cv::rectangle(b, cv::Rect(7, 5, 10, 10), cv::Scalar(255), cv::FILLED);
  EXPECT_EQ(rle_intersection_area(rle_encode(a), rle_encode(b)), cv::countNonZero(a & b));
}

TEST(DataRle, MalformedInputsThrow) {
  EXPECT_THROW(rle_from_string("3220", 4, 4), eh::Error);  // sums to 9, not 16
  EXPECT_THROW(rle_from_string("3\x7f", 3, 3), eh::Error);  // invalid character
  EXPECT_THROW(rle_from_string("X", 3, 3), eh::Error);      // ends inside a count
  EXPECT_THROW(rle_decode(Rle{2, 2, {1, 1}}), eh::Error);
  EXPECT_THROW(rle_from_json(nlohmann::json{{"size", {2}}, {"counts", "0"}}), eh::Error);
  EXPECT_THROW(rle_from_json(nlohmann::json{{"size", {1, 1}}, {"counts", {-1, 2}}}), eh::Error);
  try {
    rle_from_string("3220", 4, 4);
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("sum to 9"), std::string::npos) << e.what();
  }
}

TEST(DataRle, DecodeRegionEqualsTheCropOfTheFullDecode) {
  // Regions inside, straddling every edge, and wholly outside the image; masks with runs that
  // span several columns and runs that start at pixel 0.
  Rng rng(44);
  const std::vector<cv::Rect> regions = {{3, 2, 10, 7}, {-4, -3, 9, 8}, {20, 15, 12, 9}, {-2, 5, 40, 4},
                                         {0, 0, 25, 18}, {30, 30, 5, 5}, {7, -10, 3, 40}};
  for (int trial = 0; trial < 20; ++trial) {
    cv::Mat m = random_mask(rng, 18, 25);
    if (trial % 3 == 0) cv::rectangle(m, cv::Rect(2, 0, 9, 18), cv::Scalar(255), cv::FILLED);  // runs across columns
    const Rle r = rle_encode(m);
    const cv::Mat full = rle_decode(r);
    for (const auto& reg : regions) {
      cv::Mat want(reg.size(), CV_8UC1, cv::Scalar(0));
      const cv::Rect in = reg & cv::Rect(0, 0, 25, 18);
      if (!in.empty()) full(in).copyTo(want(cv::Rect(in.x - reg.x, in.y - reg.y, in.width, in.height)));
      const cv::Mat got = rle_decode_region(r, reg);
      ASSERT_EQ(got.size(), reg.size());
      EXPECT_EQ(cv::countNonZero(got != want), 0) << "trial " << trial << " region " << reg;
    }
  }
}
