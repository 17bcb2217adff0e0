// The student encoder substitutes the teacher trunk: same output shape as the teacher for any
// frame size, gradients reach every parameter (it is trained by distillation), and the
// full-size parameter count is what docs/student.md states.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/state_dict.h"
#include "models/student_encoder.h"
#include "test_util.h"

using namespace eh::models;

namespace {
StudentConfig reduced() {
  StudentConfig s;
  s.trunk.embed_dims = {16, 32, 48, 64};
  s.trunk.depths = {1, 1, 1, 1};
  s.trunk.num_heads = {1, 1, 2, 2};
  s.trunk.window_sizes = {4, 4, 4, 4};
  s.trunk.num_classes = 0;
  s.fpn_channels = 32;
  s.fuse_channels = 48;
  s.input_size = 128;
  s.out_channels = 64;
  s.out_grid = 18;
  return s;
}
}  // namespace

TEST(Student, OutputMatchesTeacherGridForAnyFrameSize) {
  StudentEncoder m(reduced());
  m->eval();
  torch::NoGradGuard g;
  for (auto hw : {std::pair<int, int>{126, 126}, {90, 160}, {128, 128}}) {
    auto y = m->forward(torch::randn({2, 3, hw.first, hw.second}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 64, 18, 18}));
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  }
}

TEST(Student, GradientsReachEveryParameter) {
  StudentEncoder m(reduced());
  m->train();
  auto y = m->forward(torch::randn({2, 3, 128, 128}));
  y.pow(2).mean().backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(Student, FullSizeParameterCount) {
  StudentEncoder m(StudentConfig::full_size());
  auto c = eh::count_elements(*m);
  // TinyViT-21M without head/norm_head: 20,689,968 (fixture README).
  // FPN on stages 1-3 (192, 384, 576 -> 256): laterals (192+384+576)*256 + 3*256, outputs
  // 3*(256*256*9 + 256). Fusion: fuse 1x1 (3*256 -> 512) 768*512+512, dw 3x3 512*9+512,
  // GroupNorm 2*512, proj 1x1 (512 -> 1024) 512*1024+1024.
  const int64_t fpn = (192 + 384 + 576) * 256 + 3 * 256 + 3 * (256 * 256 * 9 + 256);
  const int64_t fusion = (768 * 512 + 512) + (512 * 9 + 512) + 2 * 512 + (512 * 1024 + 1024);
  EXPECT_EQ(c.params, 20689968 + fpn + fusion);
}

TEST(Student, BadFrameIsAClearError) {
  StudentEncoder m(reduced());
  torch::NoGradGuard g;
  try {
    m->forward(torch::zeros({1, 1, 64, 64}));
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 1, 64, 64]"), std::string::npos);
  }
}
