// Box Kalman filter against numbers worked out by hand.
#include <gtest/gtest.h>

#include "track/kalman.h"

namespace {

using eh::track::BoxKalman;
using eh::track::KalmanParams;

KalmanParams absolute(double r, double init_vel, double q_pos = 0, double q_vel = 0) {
  KalmanParams p;
  p.size_adaptive = false;  // noise in pixels, so the numbers below are easy to follow
  p.r = r;
  p.init_vel = init_vel;
  p.q_pos = q_pos;
  p.q_vel = q_vel;
  return p;
}

// Box (90, 45, 20, 10) has centre (100, 50). Each coordinate is an independent 2-state
// filter [position, velocity]:
//   P0 = diag((2r)^2, init_vel^2) = diag(4, 100)                       (r = 1, init_vel = 10)
//   predict dt = 1, Q = 0:   P = [[4 + 100, 100], [100, 100]], x = [100, 0]
//   update z = 110 (centre x):  S = 104 + 1 = 105, K = [104/105, 100/105]
//     x = [100 + 10 * 104/105, 10 * 100/105] = [109.90476, 9.52381]
//     P = [[104/105, 100/105], [100/105, 100 - 100*100/105]] = [[0.990476, 0.952381], [0.952381, 4.761905]]
TEST(Kalman, HandCheckedPredictUpdate) {
  BoxKalman kf(cv::Rect2f(90, 45, 20, 10), absolute(1.0, 10.0));
  EXPECT_DOUBLE_EQ(kf.state()[0], 100);
  EXPECT_DOUBLE_EQ(kf.state()[1], 50);
  EXPECT_DOUBLE_EQ(kf.covariance()(0, 0), 4);
  EXPECT_DOUBLE_EQ(kf.covariance()(4, 4), 100);

  kf.predict(1.0);
  EXPECT_DOUBLE_EQ(kf.state()[0], 100);  // no velocity yet
  EXPECT_DOUBLE_EQ(kf.covariance()(0, 0), 104);
  EXPECT_DOUBLE_EQ(kf.covariance()(0, 4), 100);
  EXPECT_DOUBLE_EQ(kf.covariance()(4, 4), 100);

  // Measured box moved 10 px right, same size: centre (110, 50).
  kf.update(cv::Rect2f(100, 45, 20, 10));
  EXPECT_NEAR(kf.state()[0], 100 + 10 * 104.0 / 105, 1e-9);
  EXPECT_NEAR(kf.state()[4], 10 * 100.0 / 105, 1e-9);
  EXPECT_NEAR(kf.state()[1], 50, 1e-9);  // y did not move
  EXPECT_NEAR(kf.state()[5], 0, 1e-9);
  EXPECT_NEAR(kf.covariance()(0, 0), 104.0 / 105, 1e-9);
  EXPECT_NEAR(kf.covariance()(0, 4), 100.0 / 105, 1e-9);
  EXPECT_NEAR(kf.covariance()(4, 4), 100 - 100 * 100.0 / 105, 1e-9);
  // Coordinates stay independent.
  EXPECT_DOUBLE_EQ(kf.covariance()(0, 1), 0);
  EXPECT_DOUBLE_EQ(kf.covariance()(0, 5), 0);

  // Prediction over half a second moves the centre by v * dt.
  const double x = kf.state()[0], v = kf.state()[4];
  kf.predict(0.5);
  EXPECT_NEAR(kf.state()[0], x + 0.5 * v, 1e-9);
  EXPECT_NEAR(kf.box().x, x + 0.5 * v - 10, 1e-4);
}

// Process noise: Q = diag(q_pos^2 dt, q_vel^2 dt) per coordinate.
TEST(Kalman, ProcessNoiseScalesWithDt) {
  BoxKalman kf(cv::Rect2f(0, 0, 10, 10), absolute(1.0, 2.0, 3.0, 4.0));
  kf.predict(0.25);
  // P00 = 4 + 0.25^2 * 4 + 9 * 0.25;  P44 = 4 + 16 * 0.25;  P04 = 0.25 * 4
  EXPECT_NEAR(kf.covariance()(0, 0), 4 + 0.0625 * 4 + 9 * 0.25, 1e-12);
  EXPECT_NEAR(kf.covariance()(4, 4), 4 + 16 * 0.25, 1e-12);
  EXPECT_NEAR(kf.covariance()(0, 4), 0.25 * 4, 1e-12);
  kf.predict(0);  // no time: nothing changes
  EXPECT_NEAR(kf.covariance()(0, 0), 4 + 0.0625 * 4 + 9 * 0.25, 1e-12);
}

TEST(Kalman, ConstantVelocityIsLearnt) {
  KalmanParams p;  // size-adaptive defaults
  BoxKalman kf(cv::Rect2f(0, 100, 40, 20), p);
  for (int i = 1; i <= 30; ++i) {
    kf.predict(0.1);
    kf.update(cv::Rect2f(5.0f * i, 100, 40, 20));  // 50 px/s to the right
  }
  EXPECT_NEAR(kf.velocity().x, 50, 1.0);
  EXPECT_NEAR(kf.velocity().y, 0, 0.5);
  kf.predict(0.1);
  EXPECT_NEAR(kf.box().x, 155, 1.0);
  // The next measurement on the line is close in Mahalanobis terms, one far off is not.
  EXPECT_LT(kf.mahalanobis2(cv::Rect2f(155, 100, 40, 20)), 1.0);
  EXPECT_GT(kf.mahalanobis2(cv::Rect2f(100, 160, 40, 20)), 9.4877);
  kf.stop();
  EXPECT_EQ(kf.velocity().x, 0);
}

// Mahalanobis distance by hand: after construction with r = 1 (absolute), S = P + R =
// diag(4 + 1) on the measured coordinates, so a 5 px offset in x gives 25 / 5 = 5.
TEST(Kalman, MahalanobisByHand) {
  BoxKalman kf(cv::Rect2f(90, 45, 20, 10), absolute(1.0, 10.0));
  EXPECT_NEAR(kf.mahalanobis2(cv::Rect2f(95, 45, 20, 10)), 5.0, 1e-9);
  EXPECT_NEAR(kf.mahalanobis2(cv::Rect2f(90, 45, 20, 10)), 0.0, 1e-12);
}

}  // namespace
