// The distillation loss against an independent scalar-loop implementation, and its gradient
// against double-precision central finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "distill/loss.h"

using namespace eh::distill;

namespace {

// Straightforward loops over tokens, written from the formulas in docs/distillation.md.
double naive_total(const at::Tensor& s, const at::Tensor& t, const std::vector<at::Tensor>& sn,
                   const std::vector<at::Tensor>& tn, const at::Tensor& idx, const LossConfig& c, double dir_w,
                   double scale_w, double parts[4]) {
  auto S = s.accessor<double, 4>(), T = t.accessor<double, 4>();
  const int64_t B = s.size(0), C = s.size(1), H = s.size(2), W = s.size(3);
  double dir = 0, sc = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        double dot = 0, ns = 0, nt = 0;
        for (int64_t ch = 0; ch < C; ++ch) {
          dot += S[b][ch][y][x] * T[b][ch][y][x];
          ns += S[b][ch][y][x] * S[b][ch][y][x];
          nt += T[b][ch][y][x] * T[b][ch][y][x];
        }
        ns = std::sqrt(ns);
        nt = std::sqrt(nt);
        dir += 1 - dot / std::max(ns * nt, c.eps);
        double d = std::log(ns + c.eps) - std::log(nt + c.eps);
        sc += d * d;
      }
  dir /= B * H * W;
  sc /= B * H * W;
  const int64_t K = idx.size(0);
  auto I = idx.accessor<int64_t, 1>();
  double st = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) {
        auto cosine = [&](const decltype(S)& X, int64_t p, int64_t q) {
          double dot = 0, np = 0, nq = 0;
          for (int64_t ch = 0; ch < C; ++ch) {
            double a = X[b][ch][p / W][p % W], e = X[b][ch][q / W][q % W];
            dot += a * e;
            np += a * a;
            nq += e * e;
          }
          return dot / (std::max(std::sqrt(np), c.eps) * std::max(std::sqrt(nq), c.eps));
        };
        double d = cosine(S, I[i], I[j]) - cosine(T, I[i], I[j]);
        st += d * d;
      }
  st /= B * K * K;
  double ds = 0;
  for (size_t l = 0; l < sn.size(); ++l) {
    for (int64_t b = 0; b < B; ++b) {
      double num = (sn[l][b] - tn[l][b]).pow(2).sum().item<double>(), den = tn[l][b].pow(2).sum().item<double>() + c.eps;
      ds += num / den / B;
    }
  }
  ds /= sn.size();
  parts[0] = dir;
  parts[1] = sc;
  parts[2] = st;
  parts[3] = ds;
  return dir_w * (c.w_direction * dir + c.w_structure * st) + scale_w * (c.w_scale * sc + c.w_downstream * ds);
}

struct Setup {
  at::Tensor s, t, idx, neck1, neck2;
  LossConfig cfg;
  std::vector<at::Tensor> necks(const at::Tensor& x) const {
    // Frozen "necks": a 1x1 conv and a strided 3x3 conv, so term 4 depends on the student map.
    return {torch::conv2d(x, neck1), torch::conv2d(x, neck2, {}, 2, 1)};
  }
};

Setup make_setup() {
  torch::manual_seed(11);
  auto opt = torch::TensorOptions().dtype(torch::kDouble);
  Setup u;
  u.s = torch::randn({2, 6, 4, 5}, opt);
  u.t = torch::randn({2, 6, 4, 5}, opt) * 3;
  u.idx = torch::tensor({0, 7, 13, 19, 4}, torch::kLong);
  u.neck1 = torch::randn({3, 6, 1, 1}, opt);
  u.neck2 = torch::randn({4, 6, 3, 3}, opt);
  u.cfg.w_direction = 1.0;
  u.cfg.w_scale = 0.7;
  u.cfg.w_structure = 1.3;
  u.cfg.w_downstream = 0.5;
  u.cfg.warmup_steps = 10;
  u.cfg.ramp_steps = 4;
  return u;
}

}  // namespace

TEST(DistillLoss, ScheduleIsDirectionThenScale) {
  LossConfig c;
  c.warmup_steps = 10;
  c.ramp_steps = 4;
  EXPECT_EQ(schedule_at(c, 0).scale_group, 0);
  EXPECT_EQ(schedule_at(c, 9).scale_group, 0);
  EXPECT_DOUBLE_EQ(schedule_at(c, 10).scale_group, 0.25);  // (10-10+1)/4
  EXPECT_DOUBLE_EQ(schedule_at(c, 13).scale_group, 1.0);
  EXPECT_EQ(schedule_at(c, 0).direction_group, 1);
  c.scale_first = true;
  EXPECT_EQ(schedule_at(c, 0).direction_group, 0);
  EXPECT_EQ(schedule_at(c, 0).scale_group, 1);
}

TEST(DistillLoss, MatchesIndependentLoops) {
  auto u = make_setup();
  for (int64_t step : {0, 11, 50}) {
    auto L = distill_loss(u.s, u.t, u.necks(u.s), u.necks(u.t), u.idx, u.cfg, step);
    auto sch = schedule_at(u.cfg, step);
    double parts[4];
    double ref = naive_total(u.s, u.t, u.necks(u.s), u.necks(u.t), u.idx, u.cfg, sch.direction_group, sch.scale_group, parts);
    EXPECT_NEAR(L.direction.item<double>(), parts[0], 1e-12);
    EXPECT_NEAR(L.scale.item<double>(), parts[1], 1e-12);
    EXPECT_NEAR(L.structure.item<double>(), parts[2], 1e-12);
    EXPECT_NEAR(L.downstream.item<double>(), parts[3], 1e-12);
    EXPECT_NEAR(L.total.item<double>(), ref, 1e-12);
  }
}

TEST(DistillLoss, GradientMatchesFiniteDifferences) {
  auto u = make_setup();
  const int64_t step = 12;  // inside the ramp: both groups active with fractional weight
  auto s = u.s.clone().requires_grad_(true);
  auto L = distill_loss(s, u.t, u.necks(s), u.necks(u.t), u.idx, u.cfg, step);
  L.total.backward();
  auto g = s.grad();
  const double h = 1e-6;
  auto flat = u.s.flatten();
  double worst = 0;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    auto plus = u.s.clone(), minus = u.s.clone();
    plus.view(-1)[i] += h;
    minus.view(-1)[i] -= h;
    double fp = distill_loss(plus, u.t, u.necks(plus), u.necks(u.t), u.idx, u.cfg, step).total.item<double>();
    double fm = distill_loss(minus, u.t, u.necks(minus), u.necks(u.t), u.idx, u.cfg, step).total.item<double>();
    double fd = (fp - fm) / (2 * h);
    worst = std::max(worst, std::abs(fd - g.view(-1)[i].item<double>()));
  }
  // Central differences in double: truncation O(h^2) ~ 1e-12, rounding ~ 1e-16/h ~ 1e-10.
  EXPECT_LT(worst, 1e-7);
}

TEST(DistillLoss, ZeroWhenStudentEqualsTeacher) {
  auto u = make_setup();
  auto L = distill_loss(u.t, u.t, u.necks(u.t), u.necks(u.t), u.idx, u.cfg, 100);
  EXPECT_NEAR(L.total.item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(mean_cosine(u.t, u.t), 1.0, 1e-12);
}

TEST(DistillLoss, ShapeMismatchIsAClearError) {
  auto u = make_setup();
  try {
    distill_loss(u.s, u.t.slice(2, 0, 3), {}, {}, u.idx, u.cfg, 0);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 6, 4, 5]"), std::string::npos) << e.what();
  }
}
