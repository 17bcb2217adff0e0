// Constant-velocity Kalman filter on a box: state x = (cx, cy, w, h, vcx, vcy, vw, vh), centre
// and size in pixels, velocities in pixels per second; measurement z = (cx, cy, w, h).
//
//   predict(dt):  x <- F x,  P <- F P F' + Q          F = [I  dt*I; 0  I]
//   update(z):    S = H P H' + R,  K = P H' S^-1,  x <- x + K (z - H x),  P <- (I - K H) P
//
// Noise is expressed per second, so frame-rate changes and dropped frames are handled by dt:
//   Q = diag((q_pos*s)^2 dt [x4], (q_vel*s)^2 dt [x4]),  R = diag((r*s)^2 [x4]),
//   P0 = diag((2 r s)^2 [x4], (init_vel*s)^2 [x4]),
// where s is the current box scale max(w, h) when `size_adaptive`, else 1 (absolute pixels).
// Every coordinate is independent of the others (all blocks diagonal), which keeps hand checks
// easy (see tests/test_track_kalman.cpp).
#pragma once
#include <opencv2/core.hpp>

namespace eh::track {

struct KalmanParams {
  double q_pos = 0.05;     // position/size process noise, scale units per sqrt(second)
  double q_vel = 0.5;      // velocity process noise, scale units per second per sqrt(second)
  double r = 0.05;         // measurement noise, scale units
  double init_vel = 1.0;   // initial velocity std, scale units per second
  bool size_adaptive = true;
};

class BoxKalman {
 public:
  using Vec8 = cv::Vec<double, 8>;
  using Mat8 = cv::Matx<double, 8, 8>;

  BoxKalman() = default;
  BoxKalman(const cv::Rect2f& box, const KalmanParams& p);

  void predict(double dt);
  void update(const cv::Rect2f& box);
  // Squared Mahalanobis distance of a measured box to the current prediction (4 dof: the 95%
  // gate is 9.488).
  double mahalanobis2(const cv::Rect2f& box) const;
  // Sets the velocities to zero (keeps covariance): used for objects unseen for a while, whose
  // extrapolated motion is no longer informative.
  void stop();

  cv::Rect2f box() const;  // current estimate, x/y/w/h (width and height at least 1 pixel)
  cv::Point2f centre() const { return {static_cast<float>(x_[0]), static_cast<float>(x_[1])}; }
  cv::Point2f velocity() const { return {static_cast<float>(x_[4]), static_cast<float>(x_[5])}; }
  const Vec8& state() const { return x_; }
  const Mat8& covariance() const { return P_; }
  double scale() const;

 private:
  KalmanParams p_;
  Vec8 x_;
  Mat8 P_;
};

}  // namespace eh::track
