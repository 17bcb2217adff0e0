// SAM 3 detector heads against the upstream fixture in tests/data/sam3_detector (written by
// tools/fixtures/sam3_detector/gen.py) through `edgeherd parity` / `edgeherd manifest`. Tolerance:
// the fixture README's 1e-4 + 1e-4*|ref|, never widened here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor_io.h"
#include "models/manifest_compare.h"
#include "models/sam3/components.h"
#include "models/sam3/detector.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(EH_TEST_DATA_DIR "/sam3_detector");
const fs::path kFull = fs::path(EH_TEST_DATA_DIR "/sam3_backbone/manifest_full.tsv");

class Sam3DetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDir / "io.safetensors")) GTEST_SKIP() << "fixture missing: " << kDir;
  }
};

std::string parity_args() {
  return "parity --arch sam3_detector --config " + (kDir / "config.json").string() + " --weights " +
         (kDir / "weights.safetensors").string() + " --io " + (kDir / "io.safetensors").string();
}

}  // namespace

TEST_F(Sam3DetectorTest, ParityAtReadmeTolerance) {
  // Every output (scores, boxes, presence, masks, semantic map, queries) and every intermediate
  // (geometry tokens, prompt, encoder layer/memory, box-RPB bias, decoder layer, hs, reference boxes,
  // presence logits, pixel decoder, instance embedding) at 1e-4 + 1e-4*|ref|.
  auto r = eh::test::run_cli(parity_args() + " --atol 1e-4 --rtol 1e-4");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 0 failed, 0 skipped"), std::string::npos) << r.out;
}

namespace {
// The fixture's weights with one tensor edited, written to `dir`; returns the `edgeherd parity` output for them.
eh::test::CliResult parity_with_edited_weight(const fs::path& dir, const std::string& key,
                                              const std::function<at::Tensor(at::Tensor)>& edit) {
  auto w = eh::st::File::open((kDir / "weights.safetensors").string());
  eh::NamedTensors out;
  bool found = false;
  for (const auto& t : w.tensors()) {
    auto x = eh::read_tensor(w, t.name).clone();
    if (t.name == key) {
      x = edit(x);
      found = true;
    }
    out.emplace_back(t.name, x);
  }
  EXPECT_TRUE(found) << key;
  const auto path = dir / "weights_edited.safetensors";
  eh::write_tensors(path.string(), out, {}, true);
  return eh::test::run_cli("parity --arch sam3_detector --config " + (kDir / "config.json").string() + " --weights " +
                           path.string() + " --io " + (kDir / "io.safetensors").string() + " --atol 1e-4 --rtol 1e-4");
}

bool row_fails(const std::string& table, const std::string& tensor) {
  std::istringstream in(table);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(tensor + " ", 0) == 0) return line.find("FAIL") != std::string::npos;
  return false;
}
}  // namespace

TEST_F(Sam3DetectorTest, ParityFailsForAPerturbedWeight) {
  // Deliberate mistake: one weight of the last decoder layer's FFN off by 1e-2 (its weights are ~0.1). The check
  // must catch it: the decoder's outputs fail while what comes before the decoder still passes.
  auto d = eh::test::temp_dir("sam3_det_perturbed");
  auto r = parity_with_edited_weight(d, "transformer.decoder.layers.1.linear2.weight", [](at::Tensor x) {
    x.index_put_({3, 5}, x.index({3, 5}) + 1e-2);
    return x;
  });
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(row_fails(r.out, "output.pred_boxes")) << r.out;
  EXPECT_TRUE(row_fails(r.out, "output.queries")) << r.out;
  EXPECT_FALSE(row_fails(r.out, "intermediate.encoder.layers.0")) << r.out;
  EXPECT_NE(r.out.find("FAIL\n"), std::string::npos) << r.out;  // the summary line
}

TEST_F(Sam3DetectorTest, ParityFailsForSwappedAttentionHeads) {
  // Deliberate mistake: the query projections of heads 0 and 1 of the first fusion-encoder self-attention swapped
  // (d_model 32, 4 heads: rows 0-7 and 8-15 of in_proj_weight), as a head-order slip in a port would do.
  auto d = eh::test::temp_dir("sam3_det_heads");
  auto r = parity_with_edited_weight(d, "transformer.encoder.layers.0.self_attn.in_proj_weight", [](at::Tensor x) {
    using torch::indexing::Slice;
    auto h0 = x.index({Slice(0, 8)}).clone();
    x.index_put_({Slice(0, 8)}, x.index({Slice(8, 16)}));
    x.index_put_({Slice(8, 16)}, h0);
    return x;
  });
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(row_fails(r.out, "intermediate.encoder.layers.0")) << r.out;
  EXPECT_TRUE(row_fails(r.out, "output.pred_logits")) << r.out;
  EXPECT_TRUE(row_fails(r.out, "output.pred_masks")) << r.out;
}

TEST_F(Sam3DetectorTest, FullSizeManifestIsTheDetectorSliceOfSam3Pt) {
  // The keys of sam3.pt under detector. that are not the backbone, prefix stripped, in order.
  auto full = eh::models::read_manifest(kFull.string());
  std::ostringstream slice;
  int64_t params = 0;
  int n = 0;
  for (const auto& e : full.entries) {
    if (e.key.rfind("detector.", 0) != 0 || e.key.rfind("detector.backbone.", 0) == 0) continue;
    slice << e.key.substr(9) << "\t" << e.shape << "\t" << e.dtype << "\n";
    params += eh::models::manifest_numel(e.shape);
    ++n;
  }
  EXPECT_EQ(n, 76 + 283 + 28 + 10);
  auto d = eh::test::temp_dir("sam3_det_manifest");
  std::ofstream(d / "ref.tsv") << "# params=" << params << "\n" << slice.str();
  auto r = eh::test::run_cli("manifest --arch sam3_detector --config " + (kDir / "config_full.json").string() + " --out " +
                             (d / "ours.tsv").string() + " --compare " + (d / "ref.tsv").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("manifest matches"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sam3_detector: 32745270 parameters"), std::string::npos) << r.out;
}

TEST_F(Sam3DetectorTest, FullConfigHelperEqualsTheReleasedConfig) {
  auto cfg = eh::Config::load((kDir / "config_full.json").string());
  auto a = eh::models::Sam3DetectorConfig::from(cfg);
  auto b = eh::models::sam3_full_detector_config();
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.dim_feedforward, b.dim_feedforward);
  EXPECT_EQ(a.num_encoder_layers, b.num_encoder_layers);
  EXPECT_EQ(a.num_decoder_layers, b.num_decoder_layers);
  EXPECT_EQ(a.num_geometry_layers, b.num_geometry_layers);
  EXPECT_EQ(a.num_queries, b.num_queries);
  EXPECT_EQ(a.resolution, b.resolution);
  EXPECT_EQ(a.stride, b.stride);
  EXPECT_EQ(a.presence_token, b.presence_token);
  EXPECT_EQ(a.supervise_joint_box_scores, b.supervise_joint_box_scores);
  EXPECT_EQ(a.prompt_mlp_hidden_dim, b.prompt_mlp_hidden_dim);
}

TEST_F(Sam3DetectorTest, ReducedComponentCountsMatchHandDerivedNumbers) {
  // d = 32, heads 4, FFN 64, 2 fusion / 2 decoder / 2 geometry layers, 8 queries, score MLP hidden 64.
  auto r = eh::test::run_cli("manifest --arch sam3_detector --config " + (kDir / "config.json").string() + " --components");
  ASSERT_EQ(r.code, 0) << r.out;
  auto lin = [](int64_t a, int64_t b) { return a * b + b; };
  const int64_t d = 32, F = 64, ln = 2 * d, mha = lin(d, 3 * d) + lin(d, d);
  const int64_t enc_layer = 2 * mha + lin(d, F) + lin(F, d) + 3 * ln;
  const int64_t geo = 2 * d + d + lin(2, d) + 2 * lin(d, d) + lin(4, d) + (d * d * 49 + d) + lin(d + 2, d) + lin(d, d) +
                      2 * ln + 2 * enc_layer + ln;
  const int64_t dec_layer = 3 * mha + 4 * ln + lin(d, F) + lin(F, d);
  const int64_t box = 2 * lin(d, d) + lin(d, 4), presence = 2 * lin(d, d) + lin(d, 1) + ln;
  const int64_t dec_rest = 2 * dec_layer + ln + 8 * d + 8 * 4 + 2 * (lin(2, d) + lin(d, 4)) + d + lin(2 * d, d) + lin(d, d);
  const int64_t score = lin(d, 64) + lin(64, d) + ln + 2 * lin(d, d);
  const int64_t seg = 3 * (d * d * 9 + d + ln) + 3 * lin(d, d) + mha + ln + (d + 1) + (d * d + d);
  auto has_row = [&](const std::string& name, int64_t v) {
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line))
      if (line.find(name) != std::string::npos && line.find(" " + std::to_string(v) + " ") != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has_row("geometry/prompt encoder", geo)) << geo << "\n" << r.out;
  EXPECT_TRUE(has_row("fusion encoder", 2 * enc_layer)) << r.out;
  EXPECT_TRUE(has_row("box head", box)) << r.out;
  EXPECT_TRUE(has_row("presence head", presence)) << r.out;
  EXPECT_TRUE(has_row("decoder (rest", dec_rest)) << r.out;
  EXPECT_TRUE(has_row("score head", score)) << r.out;
  EXPECT_TRUE(has_row("segmentation head", seg)) << r.out;
  const int64_t total = geo + 2 * enc_layer + box + presence + dec_rest + score + seg;
  EXPECT_TRUE(has_row("total", total)) << r.out;
  EXPECT_EQ(total, 191886);  // the fixture README's count (upstream's state dict)
}

TEST_F(Sam3DetectorTest, BadInputsAreClearErrors) {
  auto cfg = eh::Config::load((kDir / "config.json").string());
  eh::models::Sam3Detector net(eh::models::Sam3DetectorConfig::from(cfg));
  torch::NoGradGuard g;
  std::vector<at::Tensor> feats = {torch::zeros({1, 32, 24, 24}), torch::zeros({1, 32, 12, 12}), torch::zeros({1, 32, 6, 6})};
  auto text = torch::zeros({4, 1, 32});
  auto mask = torch::zeros({1, 4}, torch::kBool);
  auto r = net->forward(feats, text, mask);
  EXPECT_EQ(r.pred_masks.sizes(), (std::vector<int64_t>{1, 8, 24, 24}));
  EXPECT_EQ(r.pred_boxes.sizes(), (std::vector<int64_t>{1, 8, 4}));
  try {
    net->forward({feats[0], torch::zeros({1, 32, 10, 10}), feats[2]}, text, mask);
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("level 1 must be [1, 32, 12, 12], found [1, 32, 10, 10]"), std::string::npos)
        << e.what();
  }
  try {
    net->forward(feats, torch::zeros({4, 1, 16}), mask);
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("text features must be [T, 1, 32]"), std::string::npos) << e.what();
  }
  auto j = nlohmann::json::parse(std::ifstream(kDir / "config.json"));
  j["num_querys"] = 8;
  auto d = eh::test::temp_dir("sam3_det_cfg");
  std::ofstream(d / "bad.json") << j.dump();
  auto rr = eh::test::run_cli("manifest --arch sam3_detector --config " + (d / "bad.json").string());
  EXPECT_NE(rr.code, 0);
  EXPECT_NE(rr.out.find("num_querys"), std::string::npos) << rr.out;
}

TEST_F(Sam3DetectorTest, LoadsTheDetectorPartOfAVideoOrImageCheckpoint) {
  // Synthetic checkpoints holding the fixture's detector weights among other groups, in video naming
  // (detector.* + tracker.*) and image naming (no prefix); the loaded detector must reproduce the
  // fixture's outputs exactly as when bound from weights.safetensors.
  auto cfg = eh::Config::load((kDir / "config.json").string());
  const auto dc = eh::models::Sam3DetectorConfig::from(cfg);
  auto w = eh::st::File::open((kDir / "weights.safetensors").string());
  eh::NamedTensors video, image, no_seg;
  video.emplace_back("detector.backbone.vision_backbone.trunk.pos_embed", torch::zeros({1, 5, 8}));
  image.emplace_back("backbone.vision_backbone.trunk.pos_embed", torch::zeros({1, 5, 8}));
  for (const auto& t : w.tensors()) {
    auto x = eh::read_tensor(w, t.name);
    video.emplace_back("detector." + t.name, x);
    image.emplace_back(t.name, x);
    if (t.name.rfind("segmentation_head.", 0) != 0) no_seg.emplace_back("detector." + t.name, x);
  }
  video.emplace_back("tracker.no_mem_embed", torch::zeros({1, 1, 8}));
  no_seg.emplace_back("tracker.no_mem_embed", torch::zeros({1, 1, 8}));
  auto d = eh::test::temp_dir("sam3_det_load");
  eh::write_tensors((d / "video.safetensors").string(), video);
  eh::write_tensors((d / "image.safetensors").string(), image);
  eh::write_tensors((d / "noseg.safetensors").string(), no_seg);

  auto io = eh::st::File::open((kDir / "io.safetensors").string());
  std::vector<at::Tensor> feats;
  for (int i = 0; i < 3; ++i) feats.push_back(eh::read_tensor(io, "input.backbone_fpn." + std::to_string(i)));
  auto text = eh::read_tensor(io, "input.language_features");
  auto mask = eh::read_tensor(io, "input.language_mask");
  auto ref = eh::read_tensor(io, "output.pred_masks");
  torch::NoGradGuard g;
  for (const auto& [file, prefix] : {std::pair<std::string, std::string>{"video.safetensors", "detector."},
                                     {"image.safetensors", ""}}) {
    eh::models::Sam3Detector net(dc);
    net->eval();
    EXPECT_EQ(eh::models::sam3_load_detector(net, (d / file).string()), prefix);
    auto out = net->forward(feats, text, mask);
    EXPECT_LE((out.pred_masks - ref).abs().max().item<double>(), 1e-4) << file;
  }
  eh::models::Sam3Detector net(dc);
  try {
    eh::models::sam3_load_detector(net, (d / "noseg.safetensors").string());
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("noseg.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("detector.segmentation_head.* (28 keys, e.g. detector.segmentation_head.pixel_decoder.conv_layers.0.weight)"),
              std::string::npos)
        << m;
  }
}
