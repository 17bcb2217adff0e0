// Bad input to the backbones: each a clear error, never a crash or a silent crop.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "models/dinov3_vit.h"
#include "models/tinyvit.h"

using namespace eh::models;

namespace {
DinoV3Config tiny_dino() {
  DinoV3Config c;
  c.embed_dim = 64;
  c.depth = 1;
  c.num_heads = 1;
  return c;
}
TinyViTConfig tiny_vit() {
  TinyViTConfig c;
  c.embed_dims = {16, 32, 32, 32};
  c.depths = {1, 1, 1, 1};
  c.num_heads = {1, 1, 1, 1};
  c.window_sizes = {4, 4, 4, 4};
  c.num_classes = 0;
  return c;
}
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const eh::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(BackboneInputs, DinoV3RejectsBadShapes) {
  DinoVisionTransformer m(tiny_dino());
  torch::NoGradGuard g;
  EXPECT_NE(error_of([&] { m->forward_features(torch::zeros({1, 1, 32, 32})); }).find("[B>0, 3, H, W]"), std::string::npos);
  EXPECT_NE(error_of([&] { m->forward_features(torch::zeros({0, 3, 32, 32})); }).find("found [0, 3, 32, 32]"), std::string::npos);
  EXPECT_NE(error_of([&] { m->forward_features(torch::zeros({1, 3, 40, 32})); }).find("not a multiple of the patch size 16"),
            std::string::npos);
  auto out = m->forward_features(torch::zeros({2, 3, 32, 48}));
  EXPECT_EQ(out.patches.sizes(), (std::vector<int64_t>{2, 6, 64}));
}

TEST(BackboneInputs, TinyViTRejectsBadShapesAndRunsNonSquare) {
  TinyViT m(tiny_vit());
  m->eval();
  torch::NoGradGuard g;
  EXPECT_NE(error_of([&] { m->forward_stages(torch::zeros({1, 4, 64, 64})); }).find("[B>0, 3, H, W]"), std::string::npos);
  EXPECT_NE(error_of([&] { m->forward_stages(torch::zeros({1, 3, 80, 64})); }).find("multiple of 32"), std::string::npos);
  EXPECT_NE(error_of([&] { m->forward_head(torch::zeros({1, 32, 2, 2})); }).find("num_classes=0"), std::string::npos);
  auto st = m->forward_stages(torch::zeros({1, 3, 96, 64}));
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st[3].sizes(), (std::vector<int64_t>{1, 32, 3, 2}));  // windows padded at every stage
}
