// SAM 3 parameter counts per component (from key lists) against numbers derived by hand from the
// architecture (layer sizes written out below, not read from the files), and the checkpoint-kind
// check (video vs image model) on small synthetic safetensors files.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/manifest_compare.h"
#include "models/sam3/components.h"
#include "test_util.h"

namespace fs = std::filesystem;
using eh::models::Manifest;
using eh::models::Sam3Components;

namespace {

const fs::path kData = fs::path(EH_TEST_DATA_DIR);

// Hand formulas: Linear(a, b) with bias, LayerNorm(d), nn.MultiheadAttention(d) (packed in_proj + out_proj).
int64_t lin(int64_t a, int64_t b) { return a * b + b; }
int64_t ln(int64_t d) { return 2 * d; }
int64_t mha(int64_t d) { return lin(d, 3 * d) + lin(d, d); }
int64_t conv(int64_t in, int64_t out, int64_t k) { return in * out * k * k + out; }
int64_t convT2(int64_t in, int64_t out) { return in * out * 4 + out; }  // ConvTranspose2d k=2

// PE ViT trunk: patch conv without bias, pos_embed (P*P+1) x D, ln_pre, blocks of
// norm1 + qkv + proj + norm2 + fc1 + fc2.
int64_t trunk_params(int64_t D, int64_t depth, int64_t hidden, int64_t P) {
  const int64_t block = ln(D) + lin(D, 3 * D) + lin(D, D) + ln(D) + lin(D, hidden) + lin(hidden, D);
  return D * 3 * 14 * 14 + (P * P + 1) * D + ln(D) + depth * block;
}
// One neck (scales 4, 2, 1, 0.5) from trunk width C to d_model d.
int64_t neck_params(int64_t C, int64_t d) {
  const int64_t tail = conv(d, d, 3);
  return (convT2(C, C / 2) + convT2(C / 2, C / 4) + conv(C / 4, d, 1) + tail) + (convT2(C, C / 2) + conv(C / 2, d, 1) + tail) +
         2 * (conv(C, d, 1) + tail);
}

const eh::models::Sam3ComponentRow& row(const Sam3Components& c, const std::string& prefix, int level) {
  for (const auto& r : c.rows)
    if (r.prefix == prefix && r.level == level) return r;
  throw std::runtime_error("no row " + prefix);
}

Manifest manifest_of(const fs::path& safetensors) {
  Manifest m;
  auto f = eh::st::File::open(safetensors.string());
  for (const auto& t : f.tensors()) {
    std::string s = "[";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
    m.entries.push_back({t.name, s + "]", "float32"});
  }
  return m;
}

void write_keys(const fs::path& p, const std::vector<std::string>& keys) {
  eh::st::Writer w;
  float v = 0;
  for (const auto& k : keys) w.add(k, eh::st::DType::F32, {1}, &v, sizeof v);
  w.write(p.string());
}

}  // namespace

TEST(Sam3Components, FullVideoModelMatchesHandDerivedCounts) {
  auto full = eh::models::read_manifest((kData / "sam3_backbone/manifest_full.tsv").string());
  auto c = eh::models::sam3_component_counts(full);
  EXPECT_TRUE(c.unassigned.empty());
  const std::string vb = "detector.backbone.vision_backbone.";
  EXPECT_EQ(row(c, vb + "trunk.", 1).params, trunk_params(1024, 32, 4736, 24));
  EXPECT_EQ(row(c, vb + "trunk.", 1).params, 446237696);
  // 32 complex64 RoPE tables: 28 windowed [576, 32] and 4 global [5184, 32].
  EXPECT_EQ(row(c, vb + "trunk.", 1).buffers, 28 * 576 * 32 + 4 * 5184 * 32);
  EXPECT_EQ(row(c, vb + "convs.", 1).params, neck_params(1024, 256));
  EXPECT_EQ(row(c, vb + "sam2_convs.", 1).params, neck_params(1024, 256));
  EXPECT_EQ(row(c, vb, 0).params, trunk_params(1024, 32, 4736, 24) + 2 * neck_params(1024, 256));

  // Text encoder (VETextEncoder width 1024, 24 layers, heads 16, context 32, vocab 49408, proj 512) + resizer to 256.
  const int64_t W = 1024;
  const int64_t resblock = mha(W) + ln(W) + ln(W) + lin(W, 4 * W) + lin(4 * W, W);
  const int64_t text = 49408 * W + 32 * W + W * 512 + ln(W) + 24 * resblock + lin(W, 256);
  EXPECT_EQ(row(c, "detector.backbone.language_backbone.", 0).params, text);
  EXPECT_EQ(text, 353724672);

  // Detector parts at d = 256, FFN 2048.
  const int64_t d = 256, F = 2048;
  const int64_t enc_layer = 2 * mha(d) + lin(d, F) + lin(F, d) + 3 * ln(d);
  const int64_t geo = 2 * d /*label_embed*/ + d /*cls*/ + lin(2, d) + lin(d, d) + lin(d, d) + lin(4, d) + conv(d, d, 7) +
                      lin(d + 2, d) + lin(d, d) /*final_proj*/ + ln(d) + ln(d) /*img_pre_norm*/ + 3 * enc_layer + ln(d);
  EXPECT_EQ(row(c, "detector.geometry_encoder.", 1).params, geo);
  EXPECT_EQ(row(c, "detector.transformer.encoder.", 1).params, 6 * enc_layer);
  const int64_t dec_layer = 3 * mha(d) + 4 * ln(d) + lin(d, F) + lin(F, d);
  const int64_t box_head = lin(d, d) + lin(d, d) + lin(d, 4);
  const int64_t presence_head = lin(d, d) + lin(d, d) + lin(d, 1) + ln(d);
  const int64_t rpb = lin(2, d) + lin(d, 8);  // boxRPB MLP(2, d, n_heads=8, 2)
  const int64_t dec_rest = 6 * dec_layer + ln(d) + 200 * d + 200 * 4 + 2 * rpb + d /*presence_token*/ +
                           lin(2 * d, d) + lin(d, d) /*ref_point_head*/;
  EXPECT_EQ(row(c, "detector.transformer.decoder.bbox_embed.", 1).params, box_head);
  EXPECT_EQ(row(c, "detector.transformer.decoder.presence_token_", 1).params, presence_head);
  EXPECT_EQ(row(c, "detector.transformer.decoder.", 1).params, dec_rest);
  const int64_t score = lin(d, F) + lin(F, d) + ln(d) + lin(d, d) + lin(d, d);
  EXPECT_EQ(row(c, "detector.dot_prod_scoring.", 1).params, score);
  const int64_t seg = 3 * (conv(d, d, 3) + ln(d) /*GroupNorm affine*/) + 3 * lin(d, d) + mha(d) + ln(d) + conv(d, 1, 1) +
                      conv(d, d, 1);
  EXPECT_EQ(row(c, "detector.segmentation_head.", 1).params, seg);
  EXPECT_EQ(row(c, "detector.", 0).params, geo + 6 * enc_layer + box_head + presence_head + dec_rest + score + seg);
  EXPECT_EQ(row(c, "detector.", 0).params, 32745270);  // docs/sam3.md

  // The tracker is not ported; its rows partition tracker.* and the total is the manifest's.
  const auto& trk = row(c, "tracker.", 0);
  EXPECT_EQ(trk.params, 11743362);
  EXPECT_EQ(trk.buffers, 2 * 128);  // sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix [2, 128]
  int64_t parts = 0;
  for (const auto& r : c.rows)
    if (r.level == 1 && r.prefix.rfind("tracker.", 0) == 0) parts += r.params + r.buffers;
  EXPECT_EQ(parts, trk.params + trk.buffers);
  EXPECT_EQ(c.total_params, full.params);  // "# params=860055224" written by upstream's state_dict
  EXPECT_EQ(c.total_keys, 1465);
}

TEST(Sam3Components, ReducedBackboneMatchesHandDerivedCounts) {
  // tests/data/sam3_backbone: embed 128, depth 4, mlp hidden int(128*1.2) = 153, 2x2 (+cls)
  // position grid, d_model 16, both necks. The arch's keys sit under detector.backbone.vision_backbone.
  auto m = manifest_of(kData / "sam3_backbone/weights.safetensors");
  auto c = eh::models::sam3_component_counts(m, eh::models::sam3_arch_root("sam3_backbone"));
  EXPECT_TRUE(c.unassigned.empty());
  const std::string vb = "detector.backbone.vision_backbone.";
  EXPECT_EQ(row(c, vb + "trunk.", 1).params, trunk_params(128, 4, 153, 2));
  EXPECT_EQ(row(c, vb + "convs.", 1).params, neck_params(128, 16));
  EXPECT_EQ(row(c, vb + "sam2_convs.", 1).params, neck_params(128, 16));
  EXPECT_EQ(c.total_params, 677924);  // the fixture README's count
  EXPECT_EQ(trunk_params(128, 4, 153, 2) + 2 * neck_params(128, 16), 677924);
}

TEST(Sam3Components, ManifestCommandPrintsTheTable) {
  auto r = eh::test::run_cli("manifest --components --key-list " + (kData / "sam3_backbone/manifest_full.tsv").string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"trunk (PE ViT)", "446237696", "text encoder", "353724672", "fusion encoder", "segmentation head",
                        "tracker", "11743362", "860055224"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.out.find("not a SAM 3 component"), std::string::npos) << r.out;
}

TEST(Sam3Components, ReleasedGroupTableIsTheManifest) {
  auto full = eh::models::read_manifest((kData / "sam3_backbone/manifest_full.tsv").string());
  for (const auto& g : eh::models::sam3_released_group_keys()) {
    int64_t n = 0;
    bool example = false;
    for (const auto& e : full.entries)
      if (e.key.rfind(g.prefix, 0) == 0) {
        ++n;
        example |= e.key == g.example;
      }
    EXPECT_EQ(n, g.keys) << g.prefix;
    EXPECT_TRUE(example) << g.example;
  }
}

// ---- checkpoint kind ---------------------------------------------------------------------------

namespace {
// Tiny stand-ins with the right key groups (one key per group is enough for the check).
const std::vector<std::string> kVideo = {
    "detector.backbone.vision_backbone.trunk.pos_embed", "detector.backbone.vision_backbone.convs.0.conv_1x1.weight",
    "detector.backbone.vision_backbone.sam2_convs.0.conv_1x1.weight",
    "detector.backbone.language_backbone.encoder.positional_embedding", "detector.geometry_encoder.cls_embed.weight",
    "detector.transformer.decoder.query_embed.weight", "detector.segmentation_head.semantic_seg_head.weight",
    "detector.dot_prod_scoring.hs_proj.weight", "tracker.maskmem_tpos_enc", "tracker.no_mem_embed"};
const std::vector<std::string> kImage = {
    "backbone.vision_backbone.trunk.pos_embed",      "backbone.vision_backbone.convs.0.conv_1x1.weight",
    "backbone.language_backbone.encoder.positional_embedding", "geometry_encoder.cls_embed.weight",
    "transformer.decoder.query_embed.weight",        "segmentation_head.semantic_seg_head.weight",
    "dot_prod_scoring.hs_proj.weight"};

std::string error_of(const fs::path& p, eh::models::Sam3ModelKind k, const std::vector<std::string>& expected = {}) {
  try {
    eh::models::sam3_check_checkpoint_file(p.string(), k, expected);
  } catch (const eh::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Sam3Checkpoint, VideoModelFromImageCheckpointNamesTheTracker) {
  auto d = eh::test::temp_dir("sam3_ckpt");
  write_keys(d / "image.safetensors", kImage);
  write_keys(d / "video.safetensors", kVideo);
  EXPECT_EQ(error_of(d / "video.safetensors", eh::models::Sam3ModelKind::Video), "");
  EXPECT_EQ(error_of(d / "image.safetensors", eh::models::Sam3ModelKind::Image), "");

  const std::string e = error_of(d / "image.safetensors", eh::models::Sam3ModelKind::Video);
  ASSERT_FALSE(e.empty());
  EXPECT_NE(e.find((d / "image.safetensors").string()), std::string::npos) << e;
  EXPECT_NE(e.find("is the SAM 3 image model"), std::string::npos) << e;
  EXPECT_NE(e.find("the SAM 3 video model needs"), std::string::npos) << e;
  // Every video-model group is absent in image naming; the tracker with its released key count.
  EXPECT_NE(e.find("tracker.* (309 keys, e.g. tracker.maskmem_tpos_enc)"), std::string::npos) << e;
  EXPECT_NE(e.find("detector.backbone.vision_backbone.sam2_convs.* (22 keys"), std::string::npos) << e;
  EXPECT_NE(e.find("detector.transformer.* (283 keys"), std::string::npos) << e;
}

TEST(Sam3Checkpoint, ImageModelFromVideoCheckpointNamesItsGroupsAndTheConversion) {
  auto d = eh::test::temp_dir("sam3_ckpt2");
  write_keys(d / "video.safetensors", kVideo);
  const std::string e = error_of(d / "video.safetensors", eh::models::Sam3ModelKind::Image);
  ASSERT_FALSE(e.empty());
  EXPECT_NE(e.find("is the SAM 3 video model"), std::string::npos) << e;
  EXPECT_NE(e.find("the SAM 3 image model needs backbone.vision_backbone.trunk.* (420 keys"), std::string::npos) << e;
  EXPECT_NE(e.find("transformer.* (283 keys, e.g. transformer.encoder.layers.0.self_attn.in_proj_weight)"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("tracker.* ("), std::string::npos) << e;  // the image model needs no tracker
  EXPECT_NE(e.find("--prefix detector. --strip-prefix"), std::string::npos) << e;
}

TEST(Sam3Checkpoint, DetectorOnlyCheckpointLacksOnlyTheTracker) {
  auto d = eh::test::temp_dir("sam3_ckpt3");
  std::vector<std::string> det(kVideo.begin(), kVideo.end() - 2);
  write_keys(d / "det.safetensors", det);
  const std::string e = error_of(d / "det.safetensors", eh::models::Sam3ModelKind::Video);
  EXPECT_NE(e.find("detector alone"), std::string::npos) << e;
  EXPECT_NE(e.find("missing 1 key group, 309 keys"), std::string::npos) << e;
  // With the expected key list of a reduced model, counts and examples come from it.
  const std::vector<std::string> expected = {"detector.geometry_encoder.cls_embed.weight", "tracker.a", "tracker.b.weight",
                                             "tracker.c"};
  const std::string e2 = error_of(d / "det.safetensors", eh::models::Sam3ModelKind::Video, expected);
  EXPECT_NE(e2.find("tracker.* (3 keys, e.g. tracker.a)"), std::string::npos) << e2;
}

TEST(Sam3Checkpoint, CommandLineCheck) {
  auto d = eh::test::temp_dir("sam3_ckpt4");
  write_keys(d / "image.safetensors", kImage);
  auto r = eh::test::run_cli("manifest --checkpoint " + (d / "image.safetensors").string() + " --model video");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("tracker.* (309 keys"), std::string::npos) << r.out;
  r = eh::test::run_cli("manifest --checkpoint " + (d / "image.safetensors").string() + " --model image");
  EXPECT_EQ(r.code, 0) << r.out;
}
