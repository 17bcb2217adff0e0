// Crops and behaviour features against hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "animal/behaviour_features.h"
#include "animal/crops.h"

using namespace eh::animal;

namespace {

int feature_index(const std::string& name) {
  const auto& n = motion_feature_names();
  for (size_t i = 0; i < n.size(); ++i)
    if (n[i] == name) return static_cast<int>(i);
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

}  // namespace

TEST(AnimalCrops, SquareAroundBoxKeepsAspectAndShowsSurroundings) {
  // Blue image, a red 100x50 box at (200, 100). Margin 0: the square is 100x100 centred on the
  // box, i.e. y from 75 to 175; at 50x50 output the box covers rows 12.5..37.5.
  cv::Mat img(300, 400, CV_8UC3, cv::Scalar(255, 0, 0));
  cv::rectangle(img, cv::Rect(200, 100, 100, 50), cv::Scalar(0, 0, 255), cv::FILLED);
  cv::Mat crop;
  ASSERT_TRUE(make_crop(img, cv::Rect2f(200, 100, 100, 50), {50, 0.0f}, &crop));
  ASSERT_EQ(crop.rows, 50);
  ASSERT_EQ(crop.cols, 50);
  EXPECT_EQ(crop.at<cv::Vec3b>(25, 25), cv::Vec3b(0, 0, 255));  // centre: the box
  EXPECT_EQ(crop.at<cv::Vec3b>(2, 25), cv::Vec3b(255, 0, 0));   // above the box: the scene, not padding
  EXPECT_EQ(crop.at<cv::Vec3b>(47, 25), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(crop.at<cv::Vec3b>(25, 2), cv::Vec3b(0, 0, 255));   // full width is the box
  const cv::Rect2f sq = crop_square(cv::Rect2f(200, 100, 100, 50), 0.1f);
  EXPECT_FLOAT_EQ(sq.width, 120.0f);
  EXPECT_FLOAT_EQ(sq.x, 190.0f);
  EXPECT_FLOAT_EQ(sq.y, 65.0f);
}

TEST(AnimalCrops, OutsideTheImageIsPaddingAndMissingBoxIsFalse) {
  cv::Mat img(100, 100, CV_8UC3, cv::Scalar(0, 255, 0));
  cv::Mat crop;
  // Box half outside on the left: the left half of the crop is padding.
  ASSERT_TRUE(make_crop(img, cv::Rect2f(-20, 30, 40, 40), {40, 0.0f}, &crop));
  const cv::Scalar pad = crop_pad_bgr();
  const cv::Vec3b padv(static_cast<uint8_t>(std::lround(pad[0])), static_cast<uint8_t>(std::lround(pad[1])),
                       static_cast<uint8_t>(std::lround(pad[2])));
  EXPECT_EQ(crop.at<cv::Vec3b>(20, 5), padv);
  EXPECT_EQ(crop.at<cv::Vec3b>(20, 35), cv::Vec3b(0, 255, 0));
  EXPECT_FALSE(make_crop(img, cv::Rect2f(200, 200, 10, 10), {40, 0.05f}, &crop));
  EXPECT_FALSE(make_crop(img, cv::Rect2f(10, 10, 0, 10), {40, 0.05f}, &crop));
  EXPECT_EQ(crop.at<cv::Vec3b>(0, 0), padv);
}

TEST(AnimalCrops, NormalisedPlanesAreRgbImagenet) {
  cv::Mat crop(2, 2, CV_8UC3, cv::Scalar(10, 20, 30));  // B, G, R
  std::vector<float> v;
  append_normalised_chw(crop, &v);
  ASSERT_EQ(v.size(), 12u);
  EXPECT_NEAR(v[0], (30 / 255.0 - 0.485) / 0.229, 1e-5);  // R plane first
  EXPECT_NEAR(v[4], (20 / 255.0 - 0.456) / 0.224, 1e-5);
  EXPECT_NEAR(v[8], (10 / 255.0 - 0.406) / 0.225, 1e-5);
  // Padding normalises to ~0.
  cv::Mat pad(1, 1, CV_8UC3, crop_pad_bgr());
  std::vector<float> p;
  append_normalised_chw(pad, &p);
  for (float x : p) EXPECT_NEAR(x, 0.0f, 0.01f);
}

TEST(AnimalFeatures, ConstantVelocityTrack) {
  // 1280x720 frame, box 100x50 moving right at 60 px/s, 6 fps, no mask.
  PenLandmarks pen = PenLandmarks::from_layout(eh::data::make_pen_layout({1280, 720}));
  auto lm = landmarks_in_pixels(pen, {1280, 720});
  TrackHistory h;
  h.lm = &lm;
  std::vector<float> f(static_cast<size_t>(num_motion_features()));
  for (int i = 0; i <= 24; ++i) h.push_and_features(i / 6.0, cv::Rect2f(100 + 10.0f * i, 300, 100, 50), -1, f.data());
  // Body length = longer box side = 100 px; speed 60 px/s = 0.6 lengths/s over every lag.
  for (auto n : {"speed_1f", "speed_0.5s", "speed_1s", "speed_3s", "speed_max_1s", "speed_mean_3s"})
    EXPECT_NEAR(f[feature_index(n)], 0.6f, 1e-4) << n;
  EXPECT_NEAR(f[feature_index("speed_std_1s")], 0.0f, 1e-4);
  EXPECT_NEAR(f[feature_index("turn_cos")], 1.0f, 1e-5);
  EXPECT_NEAR(f[feature_index("turn_sin_abs")], 0.0f, 1e-5);
  EXPECT_NEAR(f[feature_index("log_aspect")], std::log(2.0f), 1e-5);
  EXPECT_NEAR(f[feature_index("log_area_rel")], 0.0f, 1e-5);
  EXPECT_NEAR(f[feature_index("body_len_over_width")], 100.0f / 1280, 1e-6);
  EXPECT_EQ(f[feature_index("has_mask")], 0.0f);
  EXPECT_NEAR(f[feature_index("history_s")], 1.0f, 1e-6);  // 4 s of history, capped at 3 s
  EXPECT_NEAR(f[feature_index("since_moving_s")], 0.0f, 1e-6);
  const float cx = 100 + 240 + 50;
  EXPECT_NEAR(f[feature_index("cx")], cx / 1280, 1e-6);
  EXPECT_NEAR(f[feature_index("toy_dx")], (lm.toy.x - cx) / 100, 1e-4);
}

TEST(AnimalFeatures, TurnGapAndFeeder) {
  PenLandmarks pen = PenLandmarks::from_layout(eh::data::make_pen_layout({1280, 720}));
  auto lm = landmarks_in_pixels(pen, {1280, 720});
  std::vector<float> f(static_cast<size_t>(num_motion_features()));
  {
    // Right for 1 s, then down for 0.5 s: heading change of 90 degrees.
    TrackHistory h;
    h.lm = &lm;
    float x = 300, y = 300;
    for (int i = 0; i <= 9; ++i) {
      if (i > 0 && i <= 6) x += 10;
      if (i > 6) y += 10;
      h.push_and_features(i / 6.0, cv::Rect2f(x, y, 80, 80), 0.5f, f.data());
    }
    EXPECT_NEAR(f[feature_index("turn_cos")], 0.0f, 1e-5);
    EXPECT_NEAR(f[feature_index("turn_sin_abs")], 1.0f, 1e-5);
    EXPECT_EQ(f[feature_index("has_mask")], 1.0f);
    EXPECT_NEAR(f[feature_index("mask_fill")], 0.5f, 1e-6);
    // A gap of 5 s restarts the history: no motion.
    h.push_and_features(9 / 6.0 + 5, cv::Rect2f(900, 100, 80, 80), 0.5f, f.data());
    EXPECT_EQ(f[feature_index("speed_1f")], 0.0f);
    EXPECT_EQ(f[feature_index("history_s")], 0.0f);
  }
  {
    // A box overlapping the feeder is at distance 0 from it.
    TrackHistory h;
    h.lm = &lm;
    const cv::Rect2f b(lm.feeder.x, lm.feeder.y - 100, 60, 120);
    h.push_and_features(0, b, -1, f.data());
    EXPECT_EQ(f[feature_index("feeder_dist")], 0.0f);
    EXPECT_GT(f[feature_index("drinker0_dist")], 0.5f);
  }
}
