// SAM 3 detector with box and point prompts (the geometry encoder's coordinate, ROI-align / grid-sample
// and position-encoding paths) against the upstream fixture in tests/data/sam3_geometry (written by
// tools/fixtures/sam3_geometry/gen.py with the real torchvision), and ROI-align against
// torchvision.ops.roi_align and a hand-computed case. Tolerance: the fixture README's
// 1e-4 + 1e-4*|ref|, never widened here.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "core/tensor_io.h"
#include "models/sam3/detector.h"
#include "models/sam3/roi_align.h"
#include "test_util.h"

namespace fs = std::filesystem;
using eh::models::Sam3GeometricPrompt;

namespace {

const fs::path kDir = fs::path(EH_TEST_DATA_DIR "/sam3_geometry");

class Sam3GeometryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDir / "io_mixed.safetensors")) GTEST_SKIP() << "fixture missing: " << kDir;
  }
};

eh::test::CliResult parity(const std::string& io) {
  return eh::test::run_cli("parity --arch sam3_detector --config " + (kDir / "config.json").string() + " --weights " +
                           (kDir / "weights.safetensors").string() + " --io " + (kDir / io).string() +
                           " --atol 1e-4 --rtol 1e-4");
}

// The parity table row of `name` says PASS (so it was compared, not skipped or missing).
bool passed(const std::string& out, const std::string& name) {
  auto p = out.find(name + " ");
  if (p == std::string::npos) return false;
  auto e = out.find('\n', p);
  return out.substr(p, e - p).find("PASS") != std::string::npos;
}

bool close(const at::Tensor& a, const at::Tensor& b, double tol = 1e-4) {
  return a.sizes() == b.sizes() && ((a - b).abs() <= tol + tol * b.abs()).all().item<bool>();
}

struct Case {
  std::vector<at::Tensor> feats;
  at::Tensor text, mask;
  Sam3GeometricPrompt geo;
};

Case load_case(const std::string& io) {
  auto f = eh::st::File::open((kDir / io).string());
  Case c;
  for (int i = 0; i < 3; ++i) c.feats.push_back(eh::read_tensor(f, "input.backbone_fpn." + std::to_string(i)));
  c.text = eh::read_tensor(f, "input.language_features");
  c.mask = eh::read_tensor(f, "input.language_mask");
  c.geo = {eh::read_tensor(f, "input.boxes"),  eh::read_tensor(f, "input.box_labels"),
           eh::read_tensor(f, "input.box_mask"), eh::read_tensor(f, "input.points"),
           eh::read_tensor(f, "input.point_labels"), eh::read_tensor(f, "input.point_mask")};
  return c;
}

eh::models::Sam3Detector load_net() {
  auto cfg = eh::Config::load((kDir / "config.json").string());
  eh::models::Sam3Detector net(eh::models::Sam3DetectorConfig::from(cfg));
  eh::load_state_dict(*net, (kDir / "weights.safetensors").string());
  net->eval();
  return net;
}

}  // namespace

// `edgeherd parity` on one case: every output and intermediate within tolerance, and the named rows compared.
void expect_parity(const std::string& io, const std::vector<std::string>& rows) {
  auto r = parity(io);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(" 0 failed, 0 skipped"), std::string::npos) << r.out;
  for (const auto& k : rows) EXPECT_TRUE(passed(r.out, k)) << k << "\n" << r.out;
}

TEST_F(Sam3GeometryTest, BoxesOnlyParity) {
  // Two boxes per image, one negative, one reaching past the image border; the text prompt alongside.
  expect_parity("io_boxes.safetensors",
                {"intermediate.geometry_encoder.boxes_roi_align", "intermediate.geometry_encoder.boxes_pos_enc",
                 "intermediate.geometry_encoder.boxes_embed", "intermediate.geometry_encoder.sequence",
                 "intermediate.geometry_encoder", "intermediate.geometry_encoder.mask", "intermediate.prompt_mask",
                 "output.pred_logits", "output.pred_masks"});
}

TEST_F(Sam3GeometryTest, PointsOnlyParity) {
  // Three points per image (negatives, points near the border for grid-sample's zero padding), one padded.
  expect_parity("io_points.safetensors",
                {"intermediate.geometry_encoder.points_pool", "intermediate.geometry_encoder.points_pos_enc",
                 "intermediate.geometry_encoder.points_embed", "intermediate.geometry_encoder.sequence",
                 "intermediate.geometry_encoder.mask", "output.pred_logits", "output.pred_boxes"});
}

TEST_F(Sam3GeometryTest, BoxesPointsAndTextOnAPaddedBatchParity) {
  // Batch of 3 with padding in boxes, points and text; one image has no valid box.
  expect_parity("io_mixed.safetensors",
                {"intermediate.geometry_encoder.boxes_roi_align", "intermediate.geometry_encoder.points_pool",
                 "intermediate.geometry_encoder.sequence", "intermediate.geometry_encoder.mask", "intermediate.prompt",
                 "intermediate.prompt_mask", "intermediate.encoder.memory", "output.pred_logits", "output.pred_boxes",
                 "output.pred_masks", "output.semantic_seg"});
}

TEST_F(Sam3GeometryTest, RoiAlignMatchesTorchvision) {
  // torchvision.ops.roi_align on 7 rois (ordinary, whole map, sub-pixel, partly / wholly outside, zero
  // width) for aligned False/True, sampling_ratio -1/2, spatial_scale 1/0.5 with output 5/3.
  auto f = eh::st::File::open((kDir / "roi_align.safetensors").string());
  auto x = eh::read_tensor(f, "input.x");
  auto rois = eh::read_tensor(f, "input.rois");
  int n = 0;
  double worst = 0;
  for (int aligned = 0; aligned < 2; ++aligned)
    for (int ratio : {-1, 2})
      for (auto [scale, size] : {std::pair<double, int>{1.0, 5}, {0.5, 3}}) {
        const std::string k = "output.aligned" + std::to_string(aligned) + "_ratio" + std::to_string(ratio) + "_scale" +
                              (scale == 1.0 ? "1" : "0.5") + "_size" + std::to_string(size);
        auto ref = eh::read_tensor(f, k);
        auto got = eh::models::roi_align(x, rois, size, scale, ratio, aligned != 0);
        EXPECT_TRUE(close(got, ref)) << k << " max |diff| " << (got - ref).abs().max().item<double>();
        worst = std::max(worst, (got - ref).abs().max().item<double>());
        ++n;
      }
  EXPECT_EQ(n, 8);
  std::ostringstream w;
  w << std::scientific << worst;
  RecordProperty("max_abs_diff", w.str());
  // float64 gives the same values (torchvision's kernel is templated on the dtype alike).
  auto ref = eh::read_tensor(f, "output.aligned0_ratio-1_scale1_size5");
  EXPECT_TRUE(close(eh::models::roi_align(x.to(torch::kDouble), rois.to(torch::kDouble), 5).to(torch::kFloat), ref));
}

TEST(Sam3RoiAlign, HandComputedLinearMap) {
  // f(y, x) = x + 10 y on a 5x5 map: bilinear sampling of a linear map is exact, so each bin is f at its
  // sample points' mean. roi (1, 1) - (3, 3), 2x2 bins of 1 px, adaptive grid ceil(2 / 2) = 1 sample per
  // bin at the bin centre: aligned=False samples x, y in {1.5, 2.5}; aligned=True shifts the roi by
  // -0.5 px: {1, 2}.
  auto ys = torch::arange(5, torch::kFloat).view({5, 1}), xs = torch::arange(5, torch::kFloat).view({1, 5});
  auto map = (xs + 10 * ys).view({1, 1, 5, 5});
  auto rois = torch::tensor({0.f, 1.f, 1.f, 3.f, 3.f}).view({1, 5});
  auto a = eh::models::roi_align(map, rois, 2, 1.0, -1, false);
  auto b = eh::models::roi_align(map, rois, 2, 1.0, -1, true);
  EXPECT_TRUE(torch::allclose(a.view({4}), torch::tensor({16.5f, 17.5f, 26.5f, 27.5f}))) << a;
  EXPECT_TRUE(torch::allclose(b.view({4}), torch::tensor({11.f, 12.f, 21.f, 22.f}))) << b;
  // A 0.2 px roi is grown to 1 px without `aligned`: centre sample at x = 2.1 + 0.5, y = 1 + 0.5 -> 17.6.
  auto c = eh::models::roi_align(map, torch::tensor({0.f, 2.1f, 1.f, 2.3f, 1.2f}).view({1, 5}), 1);
  EXPECT_NEAR(c.item<float>(), 2.6f + 15.f, 1e-5);
  // Samples beyond the border clamp within 1 px and are zero further out: roi (4, 4) - (6, 6), one bin
  // with 2x2 samples at 4.5 and 5.5: 4.5 clamps to 4 (f = 44), 5.5 > 5 is zero -> (44 + 0 + 0 + 0) / 4.
  auto d = eh::models::roi_align(map, torch::tensor({0.f, 4.f, 4.f, 6.f, 6.f}).view({1, 5}), 1);
  EXPECT_NEAR(d.item<float>(), 11.f, 1e-5);
  try {
    eh::models::roi_align(map, torch::zeros({1, 4}), 2);
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rois must be [K, 5] (image index, x1, y1, x2, y2), found [1, 4]"), std::string::npos)
        << e.what();
  }
}

TEST_F(Sam3GeometryTest, UpstreamUsesRoiAlignWithoutAlignedAndTheFixtureTellsTheDifference) {
  // Upstream calls roi_align with torchvision's defaults (aligned=False). The same boxes pooled with
  // aligned=True miss the fixture's ROI-align intermediate by far more than the tolerance.
  auto net = load_net();
  auto c = load_case("io_boxes.safetensors");
  auto f = eh::st::File::open((kDir / "io_boxes.safetensors").string());
  auto ref = eh::read_tensor(f, "intermediate.geometry_encoder.boxes_roi_align");
  eh::models::TensorMap trace;
  torch::NoGradGuard g;
  net->forward(c.feats, c.text, c.mask, c.geo, &trace);
  const auto& ours = trace.at("intermediate.geometry_encoder.boxes_roi_align");
  EXPECT_TRUE(close(ours, ref));
  // Rebuild the rois the encoder used (xyxy in feature pixels, image-major) and pool with aligned=True.
  const int64_t B = c.geo.boxes.size(0), N = c.geo.boxes.size(1), H = c.feats[2].size(2);
  auto u = c.geo.boxes.unbind(-1);
  auto xyxy = torch::stack({u[0] - 0.5 * u[2], u[1] - 0.5 * u[3], u[0] + 0.5 * u[2], u[1] + 0.5 * u[3]}, -1) * H;
  auto rois = torch::cat({torch::arange(B, torch::kFloat).repeat_interleave(N).unsqueeze(1), xyxy.reshape({B * N, 4})}, 1);
  // The pooled map: img_pre_norm (LayerNorm over channels) of level 2.
  auto* ln = net->named_modules()["geometry_encoder.img_pre_norm"]->as<torch::nn::LayerNormImpl>();
  auto fmap = ln->forward(c.feats[2].flatten(2).transpose(1, 2)).transpose(1, 2).reshape(c.feats[2].sizes());
  EXPECT_TRUE(close(eh::models::roi_align(fmap, rois, 7, 1.0, -1, false), ref));
  auto wrong = eh::models::roi_align(fmap, rois, 7, 1.0, -1, true);
  EXPECT_GT((wrong - ref).abs().max().item<double>(), 1e-2);
}

TEST_F(Sam3GeometryTest, PaddedPromptsDoNotChangeTheOutputs) {
  // Padded boxes and points (mask true) reach the geometry tokens' padded slots only: changing their
  // coordinates and labels leaves every output as it was (the masks reach every attention and the pooling).
  auto net = load_net();
  auto c = load_case("io_mixed.safetensors");
  torch::NoGradGuard g;
  auto a = net->forward(c.feats, c.text, c.mask, c.geo);
  auto geo = c.geo;
  geo.boxes = geo.boxes.clone().masked_fill(geo.box_mask.unsqueeze(-1), 0.9);
  geo.box_labels = geo.box_labels.clone().masked_fill(geo.box_mask, 0);
  geo.points = geo.points.clone().masked_fill(geo.point_mask.unsqueeze(-1), 0.05);
  geo.point_labels = geo.point_labels.clone().masked_fill(geo.point_mask, 0);
  auto b = net->forward(c.feats, c.text, c.mask, geo);
  EXPECT_TRUE(close(b.pred_logits, a.pred_logits, 1e-5));
  EXPECT_TRUE(close(b.pred_boxes, a.pred_boxes, 1e-5));
  EXPECT_TRUE(close(b.pred_masks, a.pred_masks, 1e-5));
  EXPECT_TRUE(close(b.semantic_seg, a.semantic_seg, 1e-5));
  // ... while a valid prompt's label does change them.
  geo = c.geo;
  geo.box_labels = 1 - geo.box_labels;
  auto d = net->forward(c.feats, c.text, c.mask, geo);
  EXPECT_GT((d.pred_logits - a.pred_logits).abs().max().item<double>(), 1e-3);
}

TEST_F(Sam3GeometryTest, DefaultsAndTextOnlyAreUpstreamsPromptDefaults) {
  // Undefined labels = all positive and an undefined mask = all valid (Prompt._init_box / _init_point);
  // an empty Sam3GeometricPrompt is the text-only call.
  auto net = load_net();
  auto c = load_case("io_boxes.safetensors");
  torch::NoGradGuard g;
  Sam3GeometricPrompt explicit_geo{c.geo.boxes, torch::ones({2, 2}, torch::kLong), torch::zeros({2, 2}, torch::kBool), {}, {}, {}};
  Sam3GeometricPrompt default_geo{c.geo.boxes, {}, {}, {}, {}, {}};
  auto a = net->forward(c.feats, c.text, c.mask, explicit_geo);
  auto b = net->forward(c.feats, c.text, c.mask, default_geo);
  EXPECT_TRUE(torch::equal(a.pred_logits, b.pred_logits));
  EXPECT_TRUE(torch::equal(a.pred_masks, b.pred_masks));
  auto t0 = net->forward(c.feats, c.text, c.mask);
  auto t1 = net->forward(c.feats, c.text, c.mask, Sam3GeometricPrompt{});
  EXPECT_TRUE(torch::equal(t0.pred_logits, t1.pred_logits));
  EXPECT_FALSE(torch::equal(t0.pred_logits, a.pred_logits));
}

TEST_F(Sam3GeometryTest, BadPromptsAreClearErrors) {
  auto net = load_net();
  auto c = load_case("io_mixed.safetensors");
  torch::NoGradGuard g;
  auto expect_error = [&](Sam3GeometricPrompt geo, const std::string& msg) {
    try {
      net->forward(c.feats, c.text, c.mask, geo);
      ADD_FAILURE() << "expected an error containing: " << msg;
    } catch (const eh::Error& e) {
      EXPECT_NE(std::string(e.what()).find(msg), std::string::npos) << e.what();
    }
  };
  auto geo = c.geo;
  geo.boxes = torch::zeros({3, 2, 3});
  expect_error(geo, "sam3_detector: boxes must be float [3, N, 4] (batch-first, normalized cx, cy, w, h), found float32 [3, 2, 3]");
  geo = c.geo;
  geo.points = torch::zeros({2, 2, 2});
  expect_error(geo, "sam3_detector: points must be float [3, N, 2] (batch-first, normalized x, y), found float32 [2, 2, 2]");
  geo = c.geo;
  geo.point_labels = torch::full({3, 2}, 2, torch::kLong);
  expect_error(geo, "point_labels must be 0 (negative) or 1 (positive), found values in [2, 2]");
  geo = c.geo;
  geo.box_mask = torch::zeros({3, 2}, torch::kLong);
  expect_error(geo, "box_mask must be bool [3, 2] (true = padding), found int64 [3, 2]");
  geo = c.geo;
  geo.box_mask = torch::tensor({true, false, false, false, false, false}).view({3, 2});
  expect_error(geo, "box_mask must be right-padded (valid boxes first, then padding) in every row");
  geo = c.geo;
  geo.box_labels = torch::ones({3, 3}, torch::kLong);
  expect_error(geo, "box_labels must be int64 [3, 2] (1 positive, 0 negative), found int64 [3, 3]");
  expect_error(Sam3GeometricPrompt{{}, torch::ones({3, 2}, torch::kLong), {}, {}, {}, {}},
               "sam3_detector: boxes: box_labels / box_mask given without boxes");
}
