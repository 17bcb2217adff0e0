// `edgeherd encode-prompt` end to end at the reduced text encoder of tests/data/sam3_text_encoder with the tiny
// vocabulary of tests/data/sam3_tokenizer: the stored prompt embedding must be the text encoder's own output for
// upstream's token ids, in the layout Sam3Detector::forward takes, with provenance checksums.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/safetensors.h"
#include "core/sha256.h"
#include "core/tensor_io.h"
#include "models/sam3/detector.h"
#include "models/sam3/prompt_embedding.h"
#include "models/sam3/text_encoder.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kEnc = fs::path(EH_TEST_DATA_DIR "/sam3_text_encoder");
const fs::path kTok = fs::path(EH_TEST_DATA_DIR "/sam3_tokenizer");

// The reduced text encoder with its token embedding grown to the tiny vocabulary's 715 tokens (the fixture's has 50):
// the fixture's rows kept, the others seeded. Everything else is the fixture's config and weights.
struct GrownEncoder {
  fs::path config, weights;
};

GrownEncoder grow_encoder(const fs::path& dir, int64_t vocab) {
  auto j = eh::read_json_file((kEnc / "config.json").string());
  j["vocab_size"] = vocab;
  GrownEncoder g{dir / "config.json", dir / "weights.safetensors"};
  std::ofstream(g.config) << j.dump(2);
  const auto f = eh::st::File::open((kEnc / "weights.safetensors").string());
  eh::NamedTensors out;
  for (const auto& info : f.tensors()) {
    auto t = eh::read_tensor(f, info).clone();
    if (info.name == "encoder.token_embedding.weight") {
      torch::manual_seed(11);
      t = torch::cat({t, torch::randn({vocab - t.size(0), t.size(1)})});
    }
    out.emplace_back(info.name, t);
  }
  eh::write_tensors(g.weights.string(), out, {}, true);
  return g;
}

nlohmann::json upstream_case(const std::string& text) {
  const auto j = eh::read_json_file((kTok / "expected.json").string());
  for (const auto& c : j["cases"])
    if (c["text"] == text) return c;
  ADD_FAILURE() << "no case " << text << " in expected.json";
  return {};
}

}  // namespace

TEST(Sam3EncodePrompt, StoresTheTextEncodersOutputForUpstreamsIds) {
  const auto d = eh::test::temp_dir("sam3_encode_prompt");
  const int64_t vocab = eh::read_json_file((kTok / "expected.json").string())["vocab_size"];
  const auto g = grow_encoder(d, vocab);
  const std::string vocab_path = (kTok / "vocab.txt.gz").string();

  eh::Config cfg = eh::Config::load(g.config.string());
  eh::models::Sam3TextEncoder enc(eh::models::Sam3TextEncoderConfig::from(cfg));
  EXPECT_EQ(eh::models::sam3_load_text_encoder(enc, g.weights.string()), "");
  enc->eval();

  // "the farmer feeds the pigs" is cut at 8 ids; the Japanese prompt has byte-level pieces (partial UTF-8 in the JSON).
  for (const std::string prompt : {"pig", "sow with piglets", "the farmer feeds the pigs",
                                   "\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xae\xe8\xb1\x9a"}) {
    SCOPED_TRACE(prompt);
    const auto model = d / ("model_" + std::to_string(prompt.size()));
    auto r = eh::test::run_cli("encode-prompt --text-encoder " + g.config.string() + "+" + g.weights.string() +
                               " --vocab " + vocab_path + " --prompt \"" + prompt + "\" --out " + model.string());
    ASSERT_EQ(r.code, 0) << r.out;

    const auto stored = eh::models::sam3_load_prompt_embedding(model.string(), /*d_model=*/32);
    const auto ids = upstream_case(prompt)["ids_8"].get<std::vector<int64_t>>();  // context 8 = the encoder's
    EXPECT_EQ(stored.prompt, prompt);
    EXPECT_EQ(stored.token_ids, ids);

    torch::NoGradGuard ng;
    const auto direct = enc->forward(torch::tensor(ids, torch::kLong).reshape({1, 8}));
    EXPECT_EQ(stored.language_features.sizes(), (std::vector<int64_t>{8, 1, 32}));  // [T, B, d]: detector's text
    EXPECT_TRUE(torch::equal(stored.language_features, direct.language_features));
    EXPECT_TRUE(torch::equal(stored.language_mask, direct.language_mask));           // [B, T]: detector's text_mask

    const auto j = eh::read_json_file((model / eh::models::kSam3PromptEmbeddingJson).string());
    EXPECT_EQ(j["prompt"], prompt);
    EXPECT_EQ(j["tokenizer"]["vocab_sha256"], eh::sha256_file_hex(vocab_path));
    EXPECT_EQ(j["tokenizer"]["vocab"], "vocab.txt.gz");
    EXPECT_EQ(j["text_encoder"]["weights_sha256"], eh::sha256_file_hex(g.weights.string()));
    EXPECT_EQ(j["text_encoder"]["config_sha256"], eh::sha256_file_hex(g.config.string()));
    EXPECT_EQ(j["token_ids"].get<std::vector<int64_t>>(), ids);
  }
}

TEST(Sam3EncodePrompt, TheDetectorTakesTheStoredEmbeddingAsItsTextInput) {
  // The reduced detector fixture has d_model 32 like the reduced text encoder: the loaded tensors go straight into
  // Sam3Detector::forward (one image, the fixture's first) and give what the encoder's own output gives.
  const fs::path kDet = fs::path(EH_TEST_DATA_DIR "/sam3_detector");
  const auto d = eh::test::temp_dir("sam3_encode_prompt_detector");
  const auto g = grow_encoder(d, 715);
  auto r = eh::test::run_cli("encode-prompt --text-encoder " + g.config.string() + "+" + g.weights.string() +
                             " --vocab " + (kTok / "vocab.txt.gz").string() + " --prompt pig --out " + (d / "m").string());
  ASSERT_EQ(r.code, 0) << r.out;
  auto dcfg = eh::Config::load((kDet / "config.json").string());
  eh::models::Sam3Detector det(eh::models::Sam3DetectorConfig::from(dcfg));
  eh::models::sam3_load_detector(det, (kDet / "weights.safetensors").string());
  det->eval();
  const auto stored = eh::models::sam3_load_prompt_embedding((d / "m").string(), det->config().d_model);

  eh::Config ecfg = eh::Config::load(g.config.string());
  eh::models::Sam3TextEncoder enc(eh::models::Sam3TextEncoderConfig::from(ecfg));
  eh::models::sam3_load_text_encoder(enc, g.weights.string());
  torch::NoGradGuard ng;
  const auto direct = enc->forward(torch::tensor(stored.token_ids, torch::kLong).reshape({1, -1}));

  const auto io = eh::st::File::open((kDet / "io.safetensors").string());
  std::vector<at::Tensor> feats;
  for (int i = 0; i < 3; ++i) feats.push_back(eh::read_tensor(io, "input.backbone_fpn." + std::to_string(i)).slice(0, 0, 1));
  const auto a = det->forward(feats, stored.language_features, stored.language_mask);
  const auto b = det->forward(feats, direct.language_features, direct.language_mask);
  EXPECT_EQ(a.pred_logits.sizes(), (std::vector<int64_t>{1, 8, 1}));
  EXPECT_TRUE(torch::equal(a.pred_logits, b.pred_logits));
  EXPECT_TRUE(torch::equal(a.pred_masks, b.pred_masks));
}

TEST(Sam3EncodePrompt, ClearErrors) {
  const auto d = eh::test::temp_dir("sam3_encode_prompt_errors");
  const std::string vocab_path = (kTok / "vocab.txt.gz").string();
  // The fixture's encoder has 50 embeddings: the tokenizer's 715 ids do not fit.
  auto r = eh::test::run_cli("encode-prompt --text-encoder " + (kEnc / "config.json").string() + "+" +
                             (kEnc / "weights.safetensors").string() + " --vocab " + vocab_path +
                             " --prompt pig --out " + (d / "m").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(vocab_path + ": the tokenizer has 715 tokens but the text encoder"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("only 50 embeddings"), std::string::npos) << r.out;

  r = eh::test::run_cli("encode-prompt --text-encoder " + (kEnc / "config.json").string() + " --vocab " + vocab_path +
                        " --prompt pig --out " + (d / "m").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("CONFIG.json+WEIGHTS.safetensors"), std::string::npos) << r.out;

  // A stored embedding whose JSON and tensors disagree, or of another width, is refused naming the file.
  const auto g = grow_encoder(d, 715);
  const auto model = d / "model";
  r = eh::test::run_cli("encode-prompt --text-encoder " + g.config.string() + "+" + g.weights.string() + " --vocab " +
                        vocab_path + " --prompt pig --out " + model.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto jpath = (model / eh::models::kSam3PromptEmbeddingJson).string();
  const auto tpath = (model / eh::models::kSam3PromptEmbeddingTensors).string();
  try {
    eh::models::sam3_load_prompt_embedding(model.string(), 256);
    ADD_FAILURE() << "no error for d_model 256";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find(tpath + ": language_features: expected shape [8, 1, 256], found [8, 1, 32]"),
              std::string::npos) << e.what();
  }
  auto j = eh::read_json_file(jpath);
  j["token_ids"][1] = 7;
  std::ofstream(jpath) << j.dump();
  try {
    eh::models::sam3_load_prompt_embedding(model.string());
    ADD_FAILURE() << "no error for edited token ids";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("token_ids differ from " + jpath), std::string::npos) << e.what();
  }
}
