#include "track/kalman.h"

#include <algorithm>
#include <cmath>

namespace eh::track {

namespace {
using Vec4 = cv::Vec<double, 4>;
using Mat4 = cv::Matx<double, 4, 4>;
using Mat48 = cv::Matx<double, 4, 8>;
using Mat84 = cv::Matx<double, 8, 4>;

Vec4 measurement(const cv::Rect2f& b) {
  return Vec4(b.x + 0.5 * b.width, b.y + 0.5 * b.height, b.width, b.height);
}

Mat48 H() {
  Mat48 h = Mat48::zeros();
  for (int i = 0; i < 4; ++i) h(i, i) = 1;
  return h;
}
}  // namespace

BoxKalman::BoxKalman(const cv::Rect2f& box, const KalmanParams& p) : p_(p) {
  const Vec4 z = measurement(box);
  for (int i = 0; i < 4; ++i) {
    x_[i] = z[i];
    x_[i + 4] = 0;
  }
  const double s = scale();
  P_ = Mat8::zeros();
  for (int i = 0; i < 4; ++i) {
    P_(i, i) = (2 * p_.r * s) * (2 * p_.r * s);
    P_(i + 4, i + 4) = (p_.init_vel * s) * (p_.init_vel * s);
  }
}

double BoxKalman::scale() const {
  if (!p_.size_adaptive) return 1.0;
  return std::max({x_[2], x_[3], 1.0});
}

void BoxKalman::predict(double dt) {
  if (!(dt > 0)) return;
  Mat8 F = Mat8::eye();
  for (int i = 0; i < 4; ++i) F(i, i + 4) = dt;
  x_ = F * x_;
  x_[2] = std::max(x_[2], 1.0);
  x_[3] = std::max(x_[3], 1.0);
  const double s = scale();
  Mat8 Q = Mat8::zeros();
  for (int i = 0; i < 4; ++i) {
    Q(i, i) = (p_.q_pos * s) * (p_.q_pos * s) * dt;
    Q(i + 4, i + 4) = (p_.q_vel * s) * (p_.q_vel * s) * dt;
  }
  P_ = F * P_ * F.t() + Q;
}

void BoxKalman::update(const cv::Rect2f& box) {
  const Mat48 h = H();
  const double s = scale();
  Mat4 R = Mat4::zeros();
  for (int i = 0; i < 4; ++i) R(i, i) = (p_.r * s) * (p_.r * s);
  const Mat4 S = h * P_ * h.t() + R;
  const Mat84 K = P_ * h.t() * S.inv(cv::DECOMP_CHOLESKY);
  const Vec4 y = measurement(box) - h * x_;
  x_ = x_ + K * y;
  P_ = (Mat8::eye() - K * h) * P_;
  P_ = 0.5 * (P_ + P_.t());  // keep it symmetric against round-off
  x_[2] = std::max(x_[2], 1.0);
  x_[3] = std::max(x_[3], 1.0);
}

double BoxKalman::mahalanobis2(const cv::Rect2f& box) const {
  const Mat48 h = H();
  const double s = scale();
  Mat4 R = Mat4::zeros();
  for (int i = 0; i < 4; ++i) R(i, i) = (p_.r * s) * (p_.r * s);
  const Mat4 S = h * P_ * h.t() + R;
  const Vec4 y = measurement(box) - h * x_;
  const Vec4 Si_y = S.inv(cv::DECOMP_CHOLESKY) * y;
  return y.dot(Si_y);
}

void BoxKalman::stop() {
  for (int i = 4; i < 8; ++i) x_[i] = 0;
}

cv::Rect2f BoxKalman::box() const {
  const double w = std::max(x_[2], 1.0), h = std::max(x_[3], 1.0);
  return cv::Rect2f(static_cast<float>(x_[0] - 0.5 * w), static_cast<float>(x_[1] - 0.5 * h), static_cast<float>(w),
                    static_cast<float>(h));
}

}  // namespace eh::track
