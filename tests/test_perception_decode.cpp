// Decoding of the dense instance head on hand-made maps, the targets it is trained on, and the
// detection score: no network involved.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/rle.h"
#include "perception/decode.h"
#include "perception/pen_model.h"
#include "perception/seg_eval.h"

using namespace eh::perception;

namespace {

cv::Mat zeros(int h, int w) { return cv::Mat(h, w, CV_32FC1, cv::Scalar(0)); }

double iou(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat i, u;
  cv::bitwise_and(a, b, i);
  cv::bitwise_or(a, b, u);
  return static_cast<double>(cv::countNonZero(i)) / std::max(1, cv::countNonZero(u));
}

}  // namespace

TEST(PerceptionDecode, PeaksAreLocalMaximaAboveThresholdBestFirst) {
  cv::Mat c = zeros(10, 12);
  c.at<float>(2, 2) = 0.9f;
  c.at<float>(2, 3) = 0.8f;  // inside the 3x3 neighbourhood of (2,2): suppressed
  c.at<float>(7, 9) = 0.6f;
  c.at<float>(5, 5) = 0.2f;  // below threshold
  DecodeOptions o;
  o.nms_kernel = 3;
  o.centre_threshold = 0.3f;
  auto p = find_peaks(c, o);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_FLOAT_EQ(p[0].score, 0.9f);
  EXPECT_FLOAT_EQ(p[0].at.x, 2.5f);
  EXPECT_FLOAT_EQ(p[0].at.y, 2.5f);
  EXPECT_FLOAT_EQ(p[1].score, 0.6f);
  EXPECT_FLOAT_EQ(p[1].at.x, 9.5f);
  EXPECT_FLOAT_EQ(p[1].at.y, 7.5f);
  o.max_instances = 1;
  EXPECT_EQ(find_peaks(c, o).size(), 1u);
  // A plateau of equal values is one peak.
  cv::Mat q = zeros(6, 6);
  q.at<float>(3, 2) = q.at<float>(3, 3) = 0.7f;
  EXPECT_EQ(find_peaks(q, o).size(), 1u);
}

TEST(PerceptionDecode, TouchingInstancesAreSeparatedByTheirOffsets) {
  // Head 10 x 20 cells for a 40 x 80 frame (4 px per cell), work at full frame size.
  // Instance A: cells x 2..9, y 2..7, centre (6, 5); instance B touches it: x 10..17, centre (14, 5).
  const int H = 10, W = 20;
  HeadMaps m{zeros(H, W), zeros(H, W), zeros(H, W), zeros(H, W)};
  auto fill = [&](int x0, int x1, float cx, float cy) {
    for (int y = 2; y <= 7; ++y)
      for (int x = x0; x <= x1; ++x) {
        m.foreground.at<float>(y, x) = 1;
        m.dx.at<float>(y, x) = cx - (x + 0.5f);
        m.dy.at<float>(y, x) = cy - (y + 0.5f);
      }
  };
  fill(2, 9, 6.0f, 5.0f);
  fill(10, 17, 14.0f, 5.0f);
  m.centre.at<float>(4, 5) = 0.95f;   // cell centre (5.5, 4.5)
  m.centre.at<float>(4, 13) = 0.75f;  // cell centre (13.5, 4.5)
  DecodeOptions o;
  o.work_scale = 1.0f;
  o.min_area = 1;
  auto d = decode(m, cv::Size(80, 40), o);
  ASSERT_EQ(d.size(), 2u);
  ASSERT_EQ(d.rles.size(), 2u);
  d.validate("decoded");
  // Bilinear upsampling of the hard-edged foreground puts the 0.5 level at the cell edge, so
  // each instance covers its cells: A = frame x 8..39, y 8..31; B = x 40..71. The outer corner
  // pixels fall out: there the foreground is 0.625 * 0.625 = 0.39 < 0.5 (A loses its two left
  // corners, B its two right ones; the shared edge has foreground on both sides).
  EXPECT_FLOAT_EQ(d.scores[0], 0.95f);
  EXPECT_EQ(d.boxes[0], cv::Rect2f(8, 8, 32, 24));
  EXPECT_EQ(d.rles[0].area(), 32 * 24 - 2);
  EXPECT_FLOAT_EQ(d.scores[1], 0.75f);
  EXPECT_EQ(d.boxes[1], cv::Rect2f(40, 8, 32, 24));
  EXPECT_EQ(d.rles[1].area(), 32 * 24 - 2);
  const cv::Mat a = eh::data::rle_decode(d.rles[0]);
  EXPECT_EQ(a.at<uint8_t>(8, 8), 0);     // outer corner
  EXPECT_NE(a.at<uint8_t>(8, 39), 0);    // corner on the shared edge
  EXPECT_NE(a.at<uint8_t>(20, 39), 0);   // last column of A ...
  EXPECT_EQ(a.at<uint8_t>(20, 40), 0);   // ... first of B
  // Without offsets both halves would go to whichever peak is nearer the pixel itself: the
  // offsets, not proximity, make the split (a pixel of A next to B's peak still votes for A).
  EXPECT_EQ(eh::data::rle_intersection_area(d.rles[0], d.rles[1]), 0);

  // min_area drops small instances; no peak above threshold gives nothing.
  o.min_area = 32 * 24 + 1;
  EXPECT_EQ(decode(m, cv::Size(80, 40), o).size(), 0u);
  o.min_area = 1;
  o.centre_threshold = 0.99f;
  EXPECT_EQ(decode(m, cv::Size(80, 40), o).size(), 0u);
}

TEST(PerceptionDecode, LargestComponentDropsADetachedPieceThatVotedAcrossAGap) {
  // Head 10 x 20 cells for a 40 x 80 frame (4 px per cell). Instance A: cells x 2..7, y 2..7,
  // centre (5, 5). A detached 2 x 2 blob at cells x 16..17, y 6..7 also votes for A's centre
  // (a neighbour's edge whose offsets point the wrong way).
  const int H = 10, W = 20;
  HeadMaps m{zeros(H, W), zeros(H, W), zeros(H, W), zeros(H, W)};
  auto fill = [&](int x0, int x1, int y0, int y1) {
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        m.foreground.at<float>(y, x) = 1;
        m.dx.at<float>(y, x) = 5.0f - (x + 0.5f);
        m.dy.at<float>(y, x) = 5.0f - (y + 0.5f);
      }
  };
  fill(2, 7, 2, 7);
  fill(16, 17, 6, 7);
  m.centre.at<float>(4, 4) = 0.9f;
  DecodeOptions o;
  o.work_scale = 1.0f;
  o.min_area = 1;
  auto all = decode(m, cv::Size(80, 40), o);
  ASSERT_EQ(all.size(), 1u);
  // The blob stretches A's box to frame x 72 (cell 18's left edge).
  EXPECT_EQ(all.boxes[0], cv::Rect2f(8, 8, 64, 24));
  o.largest_component = true;
  auto kept = decode(m, cv::Size(80, 40), o);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept.boxes[0], cv::Rect2f(8, 8, 24, 24));  // A's own cells x 2..7, y 2..7
  // What was dropped is exactly the blob (its bilinear footprint at frame size).
  const int blob = all.rles[0].area() - kept.rles[0].area();
  EXPECT_GT(blob, 0);
  EXPECT_LE(blob, 8 * 8);
  EXPECT_EQ(eh::data::rle_intersection_area(all.rles[0], kept.rles[0]), kept.rles[0].area());
}

TEST(PerceptionDecode, RejectsInconsistentMaps) {
  HeadMaps m{zeros(4, 4), zeros(4, 4), zeros(4, 5), zeros(4, 4)};
  EXPECT_THROW(decode(m, cv::Size(16, 16), DecodeOptions{}), eh::Error);
  HeadMaps n{zeros(4, 4), zeros(4, 4), zeros(4, 4), zeros(4, 4)};
  EXPECT_THROW(decode(n, cv::Size(0, 16), DecodeOptions{}), eh::Error);
  EXPECT_THROW(make_targets(cv::Mat(4, 4, CV_32FC1), cv::Size(2, 2)), eh::Error);
}

TEST(PerceptionDecode, TargetsHoldCentroidsHeatmapAndOffsets) {
  // 40 x 40 frame, 10 x 10 head (4 px per cell). Instance 1: frame x 0..15, y 0..7 (centroid
  // (8, 4) px = (2, 1) cells). Instance 2: x 16..39, y 20..39 (centroid (28, 30) px = (7, 7.5) cells).
  cv::Mat lab(40, 40, CV_8UC1, cv::Scalar(0));
  lab(cv::Rect(0, 0, 16, 8)).setTo(1);
  lab(cv::Rect(16, 20, 24, 20)).setTo(2);
  auto t = make_targets(lab, cv::Size(10, 10), 1.0f);
  EXPECT_FLOAT_EQ(t.foreground.at<float>(0, 0), 1);
  EXPECT_FLOAT_EQ(t.foreground.at<float>(3, 0), 0);
  // Cell (x=0, y=0) centre (0.5, 0.5): offset to (2, 1) = (1.5, 0.5).
  EXPECT_FLOAT_EQ(t.dx.at<float>(0, 0), 1.5f);
  EXPECT_FLOAT_EQ(t.dy.at<float>(0, 0), 0.5f);
  // Cell (x=9, y=9) of instance 2: (9.5, 9.5) -> (7, 7.5) = (-2.5, -2).
  EXPECT_FLOAT_EQ(t.dx.at<float>(9, 9), -2.5f);
  EXPECT_FLOAT_EQ(t.dy.at<float>(9, 9), -2.0f);
  EXPECT_FLOAT_EQ(t.dx.at<float>(3, 0), 0);  // background
  // Heatmap: 1 at the cell holding the centroid, exp(-d^2 / 2) around it.
  EXPECT_FLOAT_EQ(t.centre.at<float>(1, 2), 1.0f);
  EXPECT_FLOAT_EQ(t.centre.at<float>(7, 7), 1.0f);
  EXPECT_NEAR(t.centre.at<float>(1, 3), std::exp(-0.5f), 1e-6);
  EXPECT_NEAR(t.centre.at<float>(2, 3), std::exp(-1.0f), 1e-6);
  EXPECT_FLOAT_EQ(t.centre.at<float>(9, 0), 0.0f);
}

TEST(PerceptionDecode, DecodingPerfectTargetsRecoversTouchingInstances) {
  // Three pig-like ellipses at 1280 x 720, two of them overlapping (the upper one hides part of
  // the lower one, as in a huddle), one apart. Decoding the exact targets must give each back.
  cv::Mat lab(720, 1280, CV_8UC1, cv::Scalar(0));
  cv::ellipse(lab, cv::Point(400, 300), cv::Size(110, 60), 20, 0, 360, cv::Scalar(1), -1);
  cv::ellipse(lab, cv::Point(560, 340), cv::Size(110, 55), -10, 0, 360, cv::Scalar(2), -1);
  cv::ellipse(lab, cv::Point(1000, 500), cv::Size(100, 60), 80, 0, 360, cv::Scalar(3), -1);
  auto t = make_targets(lab, cv::Size(96, 96), 2.0f);
  HeadMaps m{t.foreground, t.centre, t.dx, t.dy};
  DecodeOptions o;  // defaults: work at 1/4 frame size
  auto d = decode(m, lab.size(), o);
  ASSERT_EQ(d.size(), 3u);
  // What the head's resolution allows: each instance quantised to cells (nearest down, nearest up).
  cv::Mat cells, back;
  cv::resize(lab, cells, cv::Size(96, 96), 0, 0, cv::INTER_NEAREST);
  cv::resize(cells, back, lab.size(), 0, 0, cv::INTER_NEAREST);
  std::vector<bool> seen(4, false);
  for (size_t i = 0; i < d.size(); ++i) {
    cv::Mat mi = eh::data::rle_decode(d.rles[i]);
    double best = 0;
    int which = 0;
    for (int k = 1; k <= 3; ++k) {
      const double v = iou(mi, lab == k);
      if (v > best) best = v, which = k;
    }
    ASSERT_GT(which, 0);
    EXPECT_FALSE(seen[which]) << "instance " << which << " decoded twice";
    seen[which] = true;
    // Decoding loses at most a little against the cell quantisation of the targets themselves
    // (bilinear foreground at 1/4 frame size, boundary pixels voting across the touching edge).
    const double bound = iou(back == which, lab == which);
    EXPECT_GT(best, bound - 0.03) << "instance " << which << " quantised IoU " << bound;
    EXPECT_GT(bound, 0.8);
  }
}

TEST(PerceptionDecode, DetectionScoreMatchesByMaskIou) {
  auto box = [](int x, int y, int w, int h) {
    cv::Mat m(20, 20, CV_8UC1, cv::Scalar(0));
    m(cv::Rect(x, y, w, h)).setTo(255);
    return eh::data::rle_encode(m);
  };
  // gt: A (0,0,10,10), B (10,10,10,10). pred: P1 = A shifted by 1 column (IoU 90/110),
  // P2 far from everything, P3 = B exactly.
  std::vector<eh::data::Rle> gt = {box(0, 0, 10, 10), box(10, 10, 10, 10)};
  std::vector<eh::data::Rle> pred = {box(1, 0, 10, 10), box(0, 15, 5, 5), box(10, 10, 10, 10)};
  auto s = score_detections(pred, gt, 0.5);
  EXPECT_EQ(s.gt, 2);
  EXPECT_EQ(s.predictions, 3);
  EXPECT_EQ(s.matched, 2);
  EXPECT_NEAR(s.mean_mask_iou(), (90.0 / 110.0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(s.precision(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(s.recall(), 1.0, 1e-12);
  EXPECT_EQ(score_detections(pred, gt, 0.95).matched, 1);
}

TEST(PerceptionDecode, StudentDecodeOverridesOnlyTheFieldsItNames) {
  eh::perception::PenModelConfig teacher;
  teacher.json = {{"decode", {{"centre_threshold", 0.4}, {"foreground_threshold", 0.45}, {"min_area", 300}}}};
  eh::Config t(teacher.json.at("decode"), "teacher decode");
  teacher.decode = eh::perception::DecodeOptions::from(t);

  const eh::Config plain(nlohmann::json{{"out_grid", 16}}, "student/config.json");
  const auto same = eh::perception::student_decode(teacher, plain);
  EXPECT_FLOAT_EQ(same.centre_threshold, 0.4f);
  EXPECT_EQ(same.min_area, 300);

  const eh::Config over(nlohmann::json{{"decode", {{"centre_threshold", 0.3}}}}, "student/config.json");
  const auto o = eh::perception::student_decode(teacher, over);
  EXPECT_FLOAT_EQ(o.centre_threshold, 0.3f);
  EXPECT_FLOAT_EQ(o.foreground_threshold, 0.45f);  // the teacher's
  EXPECT_EQ(o.min_area, 300);
  EXPECT_EQ(o.nms_kernel, eh::perception::DecodeOptions{}.nms_kernel);

  const eh::Config bad(nlohmann::json{{"decode", {{"nms_kernel", 4}}}}, "student/config.json");
  try {
    eh::perception::student_decode(teacher, bad);
    FAIL() << "an even nms_kernel was accepted";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("student/config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nms_kernel"), std::string::npos) << e.what();
  }
  const eh::Config typo(nlohmann::json{{"decode", {{"centre_treshold", 0.3}}}}, "student/config.json");
  EXPECT_THROW(eh::perception::student_decode(teacher, typo), eh::Error);
}
