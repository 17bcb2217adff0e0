// SAM 3 text encoder (from token ids) against tests/data/sam3_text_encoder (written by
// tools/fixtures/sam3_text_encoder/gen.py) through `edgeherd parity` / `edgeherd manifest`, at the
// fixture README's 1e-4 + 1e-4*|ref|. The BPE tokenizer is tested in test_models_sam3_tokenizer.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "models/manifest_compare.h"
#include "models/sam3/components.h"
#include "models/sam3/text_encoder.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {
const fs::path kDir = fs::path(EH_TEST_DATA_DIR "/sam3_text_encoder");
const fs::path kFull = fs::path(EH_TEST_DATA_DIR "/sam3_backbone/manifest_full.tsv");
}  // namespace

TEST(Sam3TextEncoder, ParityAtReadmeTolerance) {
  auto r = eh::test::run_cli("parity --arch sam3_text_encoder --config " + (kDir / "config.json").string() +
                             " --weights " + (kDir / "weights.safetensors").string() + " --io " +
                             (kDir / "io.safetensors").string() + " --atol 1e-4 --rtol 1e-4");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5 compared, 0 failed, 0 skipped"), std::string::npos) << r.out;
}

TEST(Sam3TextEncoder, FullSizeManifestIsTheLanguageBackboneOfSam3Pt) {
  const std::string pre = "detector.backbone.language_backbone.";
  auto full = eh::models::read_manifest(kFull.string());
  std::ostringstream slice;
  int64_t params = 0;
  for (const auto& e : full.entries) {
    if (e.key.rfind(pre, 0) != 0) continue;
    slice << e.key.substr(pre.size()) << "\t" << e.shape << "\t" << e.dtype << "\n";
    params += eh::models::manifest_numel(e.shape);
  }
  auto d = eh::test::temp_dir("sam3_text_manifest");
  std::ofstream(d / "ref.tsv") << "# params=" << params << "\n" << slice.str();
  auto r = eh::test::run_cli("manifest --arch sam3_text_encoder --config " + (kDir / "config_full.json").string() +
                             " --out " + (d / "ours.tsv").string() + " --compare " + (d / "ref.tsv").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("manifest matches"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sam3_text_encoder: 353724672 parameters"), std::string::npos) << r.out;
}

TEST(Sam3TextEncoder, ReducedCountAndBadIds) {
  // width 64, 3 layers, context 8, vocabulary 50, text_projection 64x512, resizer to 32.
  const int64_t w = 64, hid = 256;
  const int64_t block = (3 * w * w + 3 * w) + (w * w + w) + 4 * w + (w * hid + hid) + (hid * w + w);
  const int64_t expect = 8 * w + w * 512 + 50 * w + 3 * block + 2 * w + (w * 32 + 32);
  auto r = eh::test::run_cli("manifest --arch sam3_text_encoder --config " + (kDir / "config.json").string() +
                             " --components");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("sam3_text_encoder: " + std::to_string(expect) + " parameters"), std::string::npos) << r.out;
  EXPECT_EQ(expect, 188640);  // the fixture README's count

  auto cfg = eh::Config::load((kDir / "config.json").string());
  eh::models::Sam3TextEncoder net(eh::models::Sam3TextEncoderConfig::from(cfg));
  torch::NoGradGuard g;
  for (auto bad : {torch::full({1, 9}, 1, torch::kLong), torch::full({1, 4}, 50, torch::kLong), torch::zeros({1, 4})}) {
    try {
      net->forward(bad);
      ADD_FAILURE() << "expected an error for " << bad.sizes();
    } catch (const eh::Error& e) {
      EXPECT_NE(std::string(e.what()).find("sam3_text_encoder:"), std::string::npos) << e.what();
    }
  }
}
