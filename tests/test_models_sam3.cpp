// SAM 3 vision backbone (PE ViT trunk + detector/tracker necks) against the upstream fixture in
// tests/data/sam3_backbone (written by tools/fixtures/sam3_backbone/gen.py), through the same
// `edgeherd parity` / `edgeherd manifest` commands users run. The tolerance is the fixture
// README's (1e-4 + 1e-4*|ref|); it is never widened here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <torch/torch.h>

#include "core/config.h"
#include "models/manifest_compare.h"
#include "models/sam3/neck.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(EH_TEST_DATA_DIR "/sam3_backbone");
constexpr const char* kPrefix = "detector.backbone.vision_backbone.";

int64_t numel(const std::string& shape) {  // "[a, b, c]"
  int64_t n = 1;
  std::string s = shape.substr(1, shape.size() - 2);
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) n *= std::stoll(tok);
  return n;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class Sam3Backbone : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDir / "io.safetensors")) GTEST_SKIP() << "fixture missing: " << kDir;
  }
};

}  // namespace

TEST_F(Sam3Backbone, ParityAtReadmeTolerance) {
  // README: |ours - ref| <= 1e-4 + 1e-4*|ref| on every output and intermediate (fp32 vs fp64 of
  // the reference <= 6e-6).
  auto r = eh::test::run_cli("parity --arch sam3_backbone --config " + (kDir / "config.json").string() + " --weights " +
                             (kDir / "weights.safetensors").string() + " --io " + (kDir / "io.safetensors").string() +
                             " --atol 1e-4 --rtol 1e-4");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 0 failed, 0 skipped"), std::string::npos) << r.out;  // every reference tensor compared
}

TEST_F(Sam3Backbone, FullSizeManifestMatchesUpstreamVisionBackbone) {
  // manifest_vision_backbone.tsv = the detector.backbone.vision_backbone.* rows of the full video
  // model's manifest_full.tsv, prefix stripped, without the complex64 RoPE buffers.
  auto out = eh::test::temp_dir("sam3_manifest") / "ours.tsv";
  auto r = eh::test::run_cli("manifest --arch sam3_backbone --config " + (kDir / "config_full.json").string() +
                             " --out " + out.string() + " --compare " + (kDir / "manifest_vision_backbone.tsv").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("manifest matches"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sam3_backbone: 461841920 parameters"), std::string::npos) << r.out;

  // Parameter count of the full trunk (PE ViT-L+/14 @1008), from our manifest.
  auto ours = eh::models::read_manifest(out.string());
  int64_t trunk = 0, convs = 0, sam2 = 0;
  for (const auto& e : ours.entries) {
    if (e.key.rfind("trunk.", 0) == 0) trunk += numel(e.shape);
    if (e.key.rfind("convs.", 0) == 0) convs += numel(e.shape);
    if (e.key.rfind("sam2_convs.", 0) == 0) sam2 += numel(e.shape);
  }
  EXPECT_EQ(trunk, 446237696);
  EXPECT_EQ(convs, 7802112);
  EXPECT_EQ(sam2, 7802112);
}

TEST_F(Sam3Backbone, VisionBackboneManifestIsTheSliceOfTheFullVideoModel) {
  auto full = eh::models::read_manifest((kDir / "manifest_full.tsv").string());
  auto vb = eh::models::read_manifest((kDir / "manifest_vision_backbone.tsv").string());
  EXPECT_EQ(full.params, 860055224);  // detector.* + tracker.* of build_sam3_video_model()
  std::vector<eh::models::ManifestEntry> slice;
  int complex_rope = 0;
  bool has_tracker = false;
  for (const auto& e : full.entries) {
    has_tracker |= e.key.rfind("tracker.", 0) == 0;
    if (e.key.rfind(kPrefix, 0) != 0) continue;
    if (e.dtype == "complex64") {
      EXPECT_NE(e.key.find(".attn.freqs_cis"), std::string::npos) << e.key;
      ++complex_rope;
      continue;
    }
    slice.push_back({e.key.substr(std::string(kPrefix).size()), e.shape, e.dtype});
  }
  EXPECT_TRUE(has_tracker);
  EXPECT_EQ(complex_rope, 32);  // one per trunk block
  ASSERT_EQ(slice.size(), vb.entries.size());
  int64_t params = 0;
  for (size_t i = 0; i < slice.size(); ++i) {
    EXPECT_EQ(slice[i].key, vb.entries[i].key);
    EXPECT_EQ(slice[i].shape, vb.entries[i].shape) << slice[i].key;
    EXPECT_EQ(slice[i].dtype, vb.entries[i].dtype) << slice[i].key;
    params += numel(slice[i].shape);
  }
  EXPECT_EQ(params, vb.params);
}

TEST_F(Sam3Backbone, FullConfigHelperEqualsTheReleasedConfig) {
  // sam3_full_backbone_config() (for benchmarks with random weights) is what config_full.json says.
  auto cfg = eh::Config::load((kDir / "config_full.json").string());
  auto a = eh::models::Sam3BackboneConfig::from(cfg);
  auto b = eh::models::sam3_full_backbone_config();
  const auto &ta = a.trunk, &tb = b.trunk;
  EXPECT_EQ(ta.img_size, tb.img_size);
  EXPECT_EQ(ta.patch_size, tb.patch_size);
  EXPECT_EQ(ta.embed_dim, tb.embed_dim);
  EXPECT_EQ(ta.depth, tb.depth);
  EXPECT_EQ(ta.num_heads, tb.num_heads);
  EXPECT_EQ(ta.mlp_hidden(), 4736);
  EXPECT_EQ(tb.mlp_hidden(), 4736);
  EXPECT_EQ(ta.window_size, tb.window_size);
  EXPECT_EQ(ta.global_att_blocks, tb.global_att_blocks);
  EXPECT_EQ(ta.pretrain_img_size, tb.pretrain_img_size);
  EXPECT_EQ(ta.rope_pt_size, tb.rope_pt_size);
  EXPECT_EQ(ta.use_interp_rope, tb.use_interp_rope);
  EXPECT_EQ(ta.use_rope, tb.use_rope);
  EXPECT_EQ(ta.bias_patch_embed, tb.bias_patch_embed);
  EXPECT_EQ(ta.ln_pre, tb.ln_pre);
  EXPECT_EQ(ta.ln_post, tb.ln_post);
  EXPECT_EQ(ta.qkv_bias, tb.qkv_bias);
  EXPECT_EQ(ta.pretrain_use_cls_token, tb.pretrain_use_cls_token);
  EXPECT_EQ(a.d_model, b.d_model);
  EXPECT_EQ(a.scale_factors, b.scale_factors);
  EXPECT_EQ(a.add_sam2_neck, b.add_sam2_neck);
  EXPECT_EQ(a.position_encoding.num_pos_feats, b.position_encoding.num_pos_feats);
  EXPECT_DOUBLE_EQ(a.position_encoding.temperature, b.position_encoding.temperature);
  EXPECT_DOUBLE_EQ(a.position_encoding.scale, b.position_encoding.scale);
}

TEST_F(Sam3Backbone, UnknownConfigFieldsAreErrors) {
  auto j = nlohmann::json::parse(slurp(kDir / "config.json"));
  j["trunk"]["window_sise"] = 3;  // typo in the nested trunk arguments
  auto d = eh::test::temp_dir("sam3_cfg");
  std::ofstream(d / "bad.json") << j.dump();
  auto r = eh::test::run_cli("manifest --arch sam3_backbone --config " + (d / "bad.json").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("window_sise"), std::string::npos) << r.out;

  auto k = nlohmann::json::parse(slurp(kDir / "config.json"));
  k["scalp"] = 1;  // a SAM3VLBackbone argument, not a neck one
  std::ofstream(d / "bad2.json") << k.dump();
  r = eh::test::run_cli("manifest --arch sam3_backbone --config " + (d / "bad2.json").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("scalp"), std::string::npos) << r.out;
}

TEST_F(Sam3Backbone, WrongInputSizeIsAClearError) {
  auto cfg = eh::Config::load((kDir / "config.json").string());
  eh::models::Sam3DualViTDetNeck net(eh::models::Sam3BackboneConfig::from(cfg));
  torch::NoGradGuard g;
  try {
    net->forward(torch::zeros({1, 3, 84, 84}));  // 6x6 patches; the global RoPE is built for 5x5
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("img_size 70"), std::string::npos) << e.what();
  }
  auto r = net->forward(torch::zeros({1, 3, 70, 70}), nullptr, /*levels=*/3);  // scalp=1 as SAM3VLBackbone
  EXPECT_EQ(r.sam3_out.size(), 3u);
  EXPECT_EQ(r.sam2_out.size(), 3u);
  EXPECT_EQ(r.sam3_out[0].sizes(), (std::vector<int64_t>{1, 16, 20, 20}));
}
