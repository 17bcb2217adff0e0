// Crops and behaviour features against hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "animal/behaviour_features.h"
#include "animal/crops.h"
#include "core/error.h"
#include "data/rle.h"

using namespace eh::animal;

namespace {

int feature_index(const std::string& name) {
  const auto& n = motion_feature_names();
  for (size_t i = 0; i < n.size(); ++i)
    if (n[i] == name) return static_cast<int>(i);
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

// One track's history on the 1280x720 pen and the buffer its features are written to.
class AnimalFeatures : public ::testing::Test {
 protected:
  AnimalFeatures() { h.lm = &lm; }
  const TrackHistory::Landmarks lm =
      landmarks_in_pixels(PenLandmarks::from_layout(eh::data::make_pen_layout({1280, 720})), {1280, 720});
  TrackHistory h;
  std::vector<float> f = std::vector<float>(static_cast<size_t>(num_motion_features()));
};

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

TEST(AnimalCrops, MaskCropIsAlignedWithTheImageCrop) {
  // A mask painted white into a black image and cropped by make_crop must give the same
  // pixels as make_mask_crop on the mask's RLE: inside, on the edges and past the image.
  cv::Mat m(120, 160, CV_8UC1, cv::Scalar(0));
  cv::ellipse(m, cv::Point(40, 60), cv::Size(30, 18), 25, 0, 360, cv::Scalar(255), cv::FILLED);
  cv::rectangle(m, cv::Rect(120, 0, 40, 30), cv::Scalar(255), cv::FILLED);
  const eh::data::Rle r = eh::data::rle_encode(m);
  cv::Mat bgr;
  cv::cvtColor(m, bgr, cv::COLOR_GRAY2BGR);
  for (const cv::Rect2f box : {cv::Rect2f(12, 40, 56, 40), cv::Rect2f(130, -5, 40, 30), cv::Rect2f(2.5f, 3.7f, 17.2f, 9.1f)}) {
    for (const CropOptions opt : {CropOptions{32, 0.05f}, CropOptions{48, 0.2f}}) {
      cv::Mat c3, c1, want;
      ASSERT_TRUE(make_crop(bgr, box, opt, &c3));
      ASSERT_TRUE(make_mask_crop(r, box, opt, &c1));
      ASSERT_EQ(c1.type(), CV_8UC1);
      cv::extractChannel(c3, want, 0);
      // make_crop pads with the ImageNet grey, make_mask_crop with 0: compare inside the image.
      const cv::Rect2f sq = crop_square(box, opt.margin);
      for (int y = 0; y < opt.size; ++y)
        for (int x = 0; x < opt.size; ++x) {
          const float ix = sq.x + (x + 0.5f) * sq.width / opt.size, iy = sq.y + (y + 0.5f) * sq.height / opt.size;
          if (ix < 1 || iy < 1 || ix > 159 || iy > 119) continue;
          EXPECT_EQ(c1.at<uint8_t>(y, x), want.at<uint8_t>(y, x)) << box << " " << x << "," << y;
        }
    }
  }
  cv::Mat c1;
  EXPECT_FALSE(make_mask_crop(r, cv::Rect2f(500, 500, 10, 10), {32, 0.05f}, &c1));
  EXPECT_EQ(cv::countNonZero(c1), 0);
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

TEST_F(AnimalFeatures, ConstantVelocityTrack) {
  // 1280x720 frame, box 100x50 moving right at 60 px/s, 6 fps, no mask.
  for (int i = 0; i <= 24; ++i) h.push_and_features(i / 6.0, cv::Rect2f(100 + 10.0f * i, 300, 100, 50), MaskShape{}, f.data());
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

TEST_F(AnimalFeatures, TurnGapAndFeeder) {
  {
    // Right for 1 s, then down for 0.5 s: heading change of 90 degrees (the fixture's history).
    float x = 300, y = 300;
    for (int i = 0; i <= 9; ++i) {
      if (i > 0 && i <= 6) x += 10;
      if (i > 6) y += 10;
      h.push_and_features(i / 6.0, cv::Rect2f(x, y, 80, 80), MaskShape{0.5f}, f.data());
    }
    EXPECT_NEAR(f[feature_index("turn_cos")], 0.0f, 1e-5);
    EXPECT_NEAR(f[feature_index("turn_sin_abs")], 1.0f, 1e-5);
    EXPECT_EQ(f[feature_index("has_mask")], 1.0f);
    EXPECT_NEAR(f[feature_index("mask_fill")], 0.5f, 1e-6);
    // A gap of 5 s restarts the history: no motion.
    h.push_and_features(9 / 6.0 + 5, cv::Rect2f(900, 100, 80, 80), MaskShape{0.5f}, f.data());
    EXPECT_EQ(f[feature_index("speed_1f")], 0.0f);
    EXPECT_EQ(f[feature_index("history_s")], 0.0f);
  }
  {
    // A box overlapping the feeder is at distance 0 from it (a fresh history).
    TrackHistory fresh;
    fresh.lm = &lm;
    const cv::Rect2f b(lm.feeder.x, lm.feeder.y - 100, 60, 120);
    fresh.push_and_features(0, b, MaskShape{}, f.data());
    EXPECT_EQ(f[feature_index("feeder_dist")], 0.0f);
    EXPECT_GT(f[feature_index("drinker0_dist")], 0.5f);
  }
}

// ---- mask shape (animal/mask_shape.h): hand-computed moments of simple masks.

TEST(AnimalMaskShape, AxisAlignedRectangle) {
  // 40 x 10 filled rectangle: pixel-area variances w^2/12 and h^2/12 (each pixel counted with
  // its extent), so elongation = 10/40, major sd = 40/sqrt(12), compactness = 3/pi.
  cv::Mat m = cv::Mat::zeros(30, 50, CV_8UC1);
  m(cv::Rect(5, 12, 40, 10)).setTo(255);
  const auto s = mask_shape(eh::data::rle_encode(m), cv::Rect2f(5, 12, 40, 10));
  EXPECT_NEAR(s.fill, 1.0f, 1e-6);
  EXPECT_NEAR(s.elong, 0.25f, 1e-5);
  EXPECT_NEAR(s.major, 40 / std::sqrt(12.0f), 1e-4);
  EXPECT_NEAR(s.compact, 3 / M_PI, 1e-5);
  // The box only scales the fill.
  EXPECT_NEAR(mask_shape(eh::data::rle_encode(m), cv::Rect2f(0, 0, 80, 10)).fill, 0.5f, 1e-6);
}

TEST(AnimalMaskShape, RunsWrappingAcrossColumnsAndEmptyMasks) {
  // Columns 3..6 of a 10-row image set completely: one run of 40 pixels continuing at the top of
  // every next column. Variances 4^2/12 (x) and 10^2/12 (y).
  cv::Mat m = cv::Mat::zeros(10, 12, CV_8UC1);
  m(cv::Rect(3, 0, 4, 10)).setTo(255);
  const auto rle = eh::data::rle_encode(m);
  ASSERT_EQ(rle.counts.size(), 3u);  // 0s, one run of 40 ones, 0s
  const auto s = mask_shape(rle, cv::Rect2f(3, 0, 4, 10));
  EXPECT_NEAR(s.elong, 0.4f, 1e-5);
  EXPECT_NEAR(s.major, 10 / std::sqrt(12.0f), 1e-4);
  EXPECT_FALSE(mask_shape(eh::data::rle_encode(cv::Mat::zeros(10, 12, CV_8UC1)), cv::Rect2f(0, 0, 4, 4)).has_mask());
  EXPECT_FALSE(mask_shape(rle, cv::Rect2f(3, 0, 0, 10)).has_mask());
}

TEST(AnimalMaskShape, EllipseIsRotationInvariant) {
  // A filled ellipse with semi-axes a = 60 and b = 20: sd along the axes a/2 and b/2, so
  // elongation b/a and compactness 1, whatever its angle (up to pixelisation). cv::ellipse sets
  // the pixels at +-a inclusive, so the drawn semi-axes are a + 0.5 and b + 0.5.
  for (double angle : {0.0, 30.0, 45.0, 90.0, 137.0}) {
    cv::Mat m = cv::Mat::zeros(200, 200, CV_8UC1);
    cv::ellipse(m, cv::Point(100, 100), cv::Size(60, 20), angle, 0, 360, cv::Scalar(255), cv::FILLED);
    const auto s = mask_shape(eh::data::rle_encode(m), cv::Rect2f(0, 0, 200, 200));
    EXPECT_NEAR(s.elong, 20.5f / 60.5f, 0.005f) << angle;
    EXPECT_NEAR(s.compact, 1.0f, 0.02f) << angle;
    // Exactly the eigenvalues of OpenCV's central moments of the decoded image (+1/12 per axis).
    const cv::Moments mo = cv::moments(m, true);
    const double cxx = mo.mu20 / mo.m00 + 1.0 / 12, cyy = mo.mu02 / mo.m00 + 1.0 / 12, cxy = mo.mu11 / mo.m00;
    const double l1 = (cxx + cyy) / 2 + std::sqrt((cxx - cyy) * (cxx - cyy) / 4 + cxy * cxy);
    EXPECT_NEAR(s.major, std::sqrt(l1), 1e-3) << angle;
    // Centroid at the drawn centre; axis at the drawn angle (cv::ellipse turns clockwise on
    // screen, i.e. towards +y), as a direction modulo 180 degrees.
    EXPECT_NEAR(s.cx, 100.0f, 0.05f) << angle;
    EXPECT_NEAR(s.cy, 100.0f, 0.05f) << angle;
    const double want = angle > 90 ? angle - 180 : angle;
    EXPECT_NEAR(s.angle * 180 / M_PI, want, 0.5) << angle;
  }
}

// ---- body-aligned crops (animal/crops.h)

namespace {

// A grey 1280x720 image with one "pig": a filled 160 x 60 ellipse centred at `c` whose axis
// points at `deg` (towards +y), red at the head end (the outer 40 pixels along the axis) and
// green elsewhere; its mask is the ellipse.
struct DrawnPig {
  cv::Mat img, mask;
};
DrawnPig draw_pig(cv::Point2f c, double deg) {
  DrawnPig p{cv::Mat(720, 1280, CV_8UC3, cv::Scalar(128, 128, 128)), cv::Mat::zeros(720, 1280, CV_8UC1)};
  cv::ellipse(p.mask, cv::RotatedRect(c, cv::Size2f(160, 60), static_cast<float>(deg)), cv::Scalar(255), cv::FILLED);
  p.img.setTo(cv::Scalar(0, 200, 0), p.mask);
  const double r = deg * M_PI / 180;
  const cv::Point2f head = c + cv::Point2f(static_cast<float>(std::cos(r)), static_cast<float>(std::sin(r))) * 60.0f;
  cv::Mat head_mask = cv::Mat::zeros(720, 1280, CV_8UC1);
  cv::circle(head_mask, head, 25, cv::Scalar(255), cv::FILLED);
  p.img.setTo(cv::Scalar(0, 0, 220), head_mask & p.mask);
  return p;
}

}  // namespace

TEST(AnimalCrops, BodyAlignedCropTurnsTheAxisOntoX) {
  // Whatever the heading, the body lies along the crop's middle row with the head at one end:
  // at 0 degrees on the right, at 180 on the left; the crops of headings d and d + 180 are each
  // other turned by half a turn.
  const CropOptions opt{48, 0.05f};
  auto crop_at = [&](double deg) {
    const DrawnPig p = draw_pig({640.3f, 360.7f}, deg);
    const auto rle = eh::data::rle_encode(p.mask);
    const BodyFrame b = body_frame(&rle, cv::Rect2f(cv::boundingRect(p.mask)));
    EXPECT_NEAR(b.centre.x, 640.3f, 1.5f) << deg;
    EXPECT_NEAR(b.length, 160.0f, 2.0f) << deg;  // 4 sd of a filled ellipse = its length
    cv::Mat crop;
    EXPECT_TRUE(make_aligned_crop(p.img, b, opt, &crop));
    return crop;
  };
  auto red = [](const cv::Mat& c, int x, int y) { return c.at<cv::Vec3b>(y, x)[2]; };
  auto green = [](const cv::Mat& c, int x, int y) { return c.at<cv::Vec3b>(y, x)[1]; };
  for (double deg : {0.0, 27.0, 90.0, 143.0, 200.0, 305.0}) {
    const cv::Mat c = crop_at(deg);
    // Body along row 24: green in the middle, grey (128) above and below the 60 / 160 width.
    EXPECT_GT(green(c, 24, 24), 150) << deg;
    EXPECT_NEAR(green(c, 24, 3), 128, 6) << deg;
    EXPECT_NEAR(green(c, 24, 44), 128, 6) << deg;
    // Head red at one end, the other end green.
    const cv::Mat flipped = crop_at(deg + 180);
    const bool head_right = red(c, 40, 24) > 150;
    EXPECT_NE(head_right, red(c, 7, 24) > 150) << deg;
    EXPECT_NE(head_right, red(flipped, 40, 24) > 150) << deg;
    cv::Mat turned;
    cv::flip(flipped, turned, -1);
    EXPECT_LT(cv::norm(c, turned, cv::NORM_L1) / c.total() / 3, 6.0) << deg;
  }
  // Heading 0 has its head on the right.
  EXPECT_GT(red(crop_at(0), 40, 24), 150);
  // Degenerate frames and squares off the image give padding and false.
  cv::Mat crop;
  EXPECT_FALSE(make_aligned_crop(cv::Mat(720, 1280, CV_8UC3), BodyFrame{{640, 360}, 0, 0}, opt, &crop));
  EXPECT_FALSE(make_aligned_crop(cv::Mat(720, 1280, CV_8UC3), BodyFrame{{-500, 360}, 0.5f, 100}, opt, &crop));
  EXPECT_EQ(crop.at<cv::Vec3b>(0, 0), cv::Vec3b(static_cast<uint8_t>(crop_pad_bgr()[0] + 0.5),
                                                 static_cast<uint8_t>(crop_pad_bgr()[1] + 0.5),
                                                 static_cast<uint8_t>(crop_pad_bgr()[2] + 0.5)));
}

TEST(AnimalCrops, BodyAlignedMaskCropMatchesTheImageCrop) {
  // The mask under the same turned square covers exactly the pig's pixels of the image crop
  // (up to the resampled edge); padding outside it leaves the pig and removes the floor.
  const CropOptions opt{48, 0.05f};
  const DrawnPig p = draw_pig({400.0f, 300.0f}, 35);
  const auto rle = eh::data::rle_encode(p.mask);
  const BodyFrame b = body_frame(&rle, cv::Rect2f(cv::boundingRect(p.mask)));
  cv::Mat crop, mask;
  ASSERT_TRUE(make_aligned_crop(p.img, b, opt, &crop));
  ASSERT_TRUE(make_aligned_mask_crop(rle, b, opt, &mask));
  int inside = 0, off_edge = 0, agree = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) {
      const uint8_t m = mask.at<uint8_t>(y, x);
      if (m > 0 && m < 255) continue;  // the resampled edge
      ++off_edge;
      inside += m == 255;
      agree += (m == 255) != (crop.at<cv::Vec3b>(y, x) == cv::Vec3b(128, 128, 128));  // pig = not floor
    }
  EXPECT_GT(inside, 300);  // a 160 x 60 ellipse in a 176-pixel square, at 48 x 48: ~ 400 pixels
  EXPECT_EQ(agree, off_edge);
  pad_outside_mask(mask, &crop);
  const cv::Vec3b pad(static_cast<uint8_t>(crop_pad_bgr()[0] + 0.5), static_cast<uint8_t>(crop_pad_bgr()[1] + 0.5),
                      static_cast<uint8_t>(crop_pad_bgr()[2] + 0.5));
  EXPECT_EQ(crop.at<cv::Vec3b>(3, 24), pad);            // floor above the body
  EXPECT_GT(crop.at<cv::Vec3b>(24, 24)[1], 150);        // the body stays
  // The mask's image must be the crop's size and type.
  cv::Mat small(10, 10, CV_8UC1);
  EXPECT_THROW(pad_outside_mask(small, &crop), eh::Error);
}

TEST(AnimalCrops, BodyFrameWithoutMaskFollowsTheBox) {
  const BodyFrame wide = body_frame(nullptr, cv::Rect2f(100, 50, 80, 30));
  EXPECT_FLOAT_EQ(wide.centre.x, 139.5f);  // pixel indices: the box covers pixels 100..179
  EXPECT_FLOAT_EQ(wide.centre.y, 64.5f);
  EXPECT_FLOAT_EQ(wide.angle, 0.0f);
  EXPECT_FLOAT_EQ(wide.length, 80.0f);
  const eh::data::Rle empty = eh::data::rle_encode(cv::Mat::zeros(200, 300, CV_8UC1));
  const BodyFrame tall = body_frame(&empty, cv::Rect2f(100, 50, 30, 80));
  EXPECT_NEAR(tall.angle, M_PI / 2, 1e-6);
  EXPECT_FLOAT_EQ(tall.length, 80.0f);
}

TEST_F(AnimalFeatures, MaskOutlineFeatures) {
  // Standing for 2 s (elongation 0.3), then lying wider (0.45): the relative feature shows the
  // change against the 3 s median; 4 major sd over the box's long side is the body length ratio.
  for (int i = 0; i <= 12; ++i) h.push_and_features(i / 6.0, cv::Rect2f(300, 300, 200, 80), MaskShape{0.7f, 0.3f, 50.0f, 0.9f}, f.data());
  EXPECT_NEAR(f[feature_index("mask_elong")], 0.3f, 1e-6);
  EXPECT_NEAR(f[feature_index("mask_elong_rel")], 0.0f, 1e-6);
  EXPECT_NEAR(f[feature_index("mask_major_over_len")], 1.0f, 1e-6);  // 4 * 50 / 200
  EXPECT_NEAR(f[feature_index("mask_compact")], 0.9f, 1e-6);
  h.push_and_features(13 / 6.0, cv::Rect2f(300, 300, 200, 80), MaskShape{0.8f, 0.45f, 48.0f, 0.95f}, f.data());
  EXPECT_NEAR(f[feature_index("mask_elong")], 0.45f, 1e-6);
  EXPECT_NEAR(f[feature_index("mask_elong_rel")], 0.15f, 1e-6);
  // Without a mask every outline feature is 0.
  h.push_and_features(14 / 6.0, cv::Rect2f(300, 300, 200, 80), MaskShape{}, f.data());
  for (auto n : {"mask_elong", "mask_elong_rel", "mask_major_over_len", "mask_compact", "has_mask"}) EXPECT_EQ(f[feature_index(n)], 0.0f) << n;
}

TEST_F(AnimalFeatures, OutlineAgainstTheAnimalsOwnWalkingOutline) {
  // Still, never seen walking: no reference.
  h.push_and_features(0, cv::Rect2f(300, 300, 200, 80), MaskShape{0.5f, 0.4f, 50.0f, 0.9f}, f.data());
  EXPECT_EQ(f[feature_index("elong_vs_walking")], 0.0f);
  EXPECT_EQ(f[feature_index("walking_ref_age")], 1.0f);
  // Walks right at 1 body length/s for 2 s with elongation 0.3 (mask area 0.5 * 200 * 80).
  for (int i = 1; i <= 12; ++i)
    h.push_and_features(i / 6.0, cv::Rect2f(300 + 200 * i / 6.0f, 300, 200, 80), MaskShape{0.5f, 0.3f, 50.0f, 0.9f}, f.data());
  EXPECT_NEAR(f[feature_index("elong_vs_walking")], 0.0f, 1e-5);
  EXPECT_NEAR(f[feature_index("walking_ref_age")], 0.0f, 1e-6);
  // Lies down where it stopped, wider (0.45) and with a larger mask, 10 s later and after a
  // gap that restarts the motion history: the walking outline is still the reference.
  const cv::Rect2f lying(700, 300, 200, 100);
  h.push_and_features(12 / 6.0 + 10, lying, MaskShape{0.6f, 0.45f, 48.0f, 0.95f}, f.data());
  EXPECT_NEAR(f[feature_index("elong_vs_walking")], 0.15f, 1e-5);
  EXPECT_NEAR(f[feature_index("log_area_vs_walking")], std::log(0.6f * 200 * 100 / (0.5f * 200 * 80)), 1e-5);
  EXPECT_NEAR(f[feature_index("walking_ref_age")], 10.0f / 600, 1e-6);
}

TEST_F(AnimalFeatures, OutlineJitterOverTwoAndTenSeconds) {
  // A pig at the trough whose head bobs: the box's height alternates 100 / 110 px and the mask's
  // major standard deviation 50 / 52 px every frame; the width (200 px = the body length) stays.
  for (int i = 0; i < 30; ++i) {
    const bool up = i % 2;
    h.push_and_features(i / 6.0, cv::Rect2f(300, 300, 200, up ? 110.0f : 100.0f), MaskShape{0.7f, 0.4f, up ? 52.0f : 50.0f, 0.9f},
                        f.data());
  }
  // The last 2 s hold 13 frames (7 low, 6 high): sd = 10 * sqrt(7 * 6) / 13 px; mask length = 4 sd.
  const double sd = 10 * std::sqrt(42.0) / 13;
  EXPECT_NEAR(f[feature_index("box_w_std_2s")], 0.0f, 1e-6);
  EXPECT_NEAR(f[feature_index("box_h_std_2s")], sd / 200, 1e-5);
  EXPECT_NEAR(f[feature_index("mask_len_std_2s")], 4 * (sd / 5) / 200, 1e-5);
  // Standing still: no jitter.
  for (int i = 30; i < 45; ++i) h.push_and_features(i / 6.0, cv::Rect2f(300, 300, 200, 100), MaskShape{0.7f, 0.4f, 50.0f, 0.9f}, f.data());
  for (auto n : {"box_w_std_2s", "box_h_std_2s", "mask_len_std_2s"}) EXPECT_NEAR(f[feature_index(n)], 0.0f, 1e-6) << n;
  // The 10 s window still holds all 45 frames: 30 at 100 px (50 px), 15 at 110 px (52 px).
  const double sd10 = std::sqrt(30.0 * 15) / 45;  // per unit of the step
  EXPECT_NEAR(f[feature_index("box_w_std_10s")], 0.0f, 1e-6);
  EXPECT_NEAR(f[feature_index("box_h_std_10s")], 10 * sd10 / 200, 1e-5);
  EXPECT_NEAR(f[feature_index("mask_len_std_10s")], 4 * 2 * sd10 / 200, 1e-5);
  // 10 s later only the still frames are left.
  for (int i = 45; i < 110; ++i) h.push_and_features(i / 6.0, cv::Rect2f(300, 300, 200, 100), MaskShape{0.7f, 0.4f, 50.0f, 0.9f}, f.data());
  for (auto n : {"box_w_std_10s", "box_h_std_10s", "mask_len_std_10s"}) EXPECT_NEAR(f[feature_index(n)], 0.0f, 1e-6) << n;
}
