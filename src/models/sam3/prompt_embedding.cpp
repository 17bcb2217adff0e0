#include "models/sam3/prompt_embedding.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_file.h"
#include "core/safetensors.h"
#include "core/sha256.h"
#include "core/tensor_io.h"
#include "models/sam3/text_encoder.h"
#include "models/sam3/tokenizer.h"

namespace fs = std::filesystem;

namespace eh::models {

Sam3PromptEmbedding sam3_encode_prompt(Sam3TextEncoderImpl& encoder, const Sam3Tokenizer& tokenizer,
                                       const std::string& prompt) {
  const int64_t C = encoder.config().context_length;  // VETextEncoder calls the tokenizer with its own context
  Sam3PromptEmbedding e;
  e.prompt = prompt;
  e.token_ids = tokenizer(prompt, C);
  torch::NoGradGuard g;
  auto ids = torch::tensor(e.token_ids, torch::kLong).reshape({1, C});
  auto out = encoder.forward(ids);
  e.language_features = out.language_features.contiguous();
  e.language_mask = out.language_mask.contiguous();
  return e;
}

void sam3_save_prompt_embedding(const std::string& dir, const Sam3PromptEmbedding& e, const Sam3Tokenizer& tokenizer,
                                const Sam3PromptProvenance& prov) {
  fs::create_directories(dir);
  const int64_t T = static_cast<int64_t>(e.token_ids.size());
  auto ids = torch::tensor(e.token_ids, torch::kLong).reshape({1, T});
  const std::string tensors = (fs::path(dir) / kSam3PromptEmbeddingTensors).string();
  write_tensors(tensors,
                {{"language_features", e.language_features}, {"language_mask", e.language_mask}, {"token_ids", ids}},
                {{"format", kSam3PromptEmbeddingFormat}, {"prompt", e.prompt}}, /*overwrite=*/true);
  std::vector<int64_t> body;
  for (int64_t id : e.token_ids)
    if (id != 0) body.push_back(id);
  std::vector<std::string> pieces;
  for (int64_t id : body) pieces.push_back(tokenizer.decode({id}));
  nlohmann::json j = {
      {"format", kSam3PromptEmbeddingFormat},
      {"prompt", e.prompt},
      {"tensors", kSam3PromptEmbeddingTensors},
      {"language_features",
       {{"shape", e.language_features.sizes().vec()}, {"dtype", dtype_str(e.language_features.scalar_type())},
        {"meaning", "text encoder output after the resizer, seq-first [T, 1, d_model]: Sam3Detector's text"}}},
      {"language_mask",
       {{"shape", e.language_mask.sizes().vec()}, {"dtype", dtype_str(e.language_mask.scalar_type())},
        {"meaning", "true = padding (token id 0): Sam3Detector's text_mask"}}},
      {"context_length", T},
      {"token_ids", e.token_ids},
      {"tokens", pieces},
      {"tokenizer",
       {{"vocab", fs::path(prov.vocab_path).filename().string()},
        {"vocab_sha256", sha256_file_hex(prov.vocab_path)},
        {"vocab_size", tokenizer.vocab_size()}}},
      {"text_encoder",
       {{"config", fs::path(prov.text_encoder_config).filename().string()},
        {"config_sha256", sha256_file_hex(prov.text_encoder_config)},
        {"weights", fs::path(prov.text_encoder_weights).filename().string()},
        {"weights_sha256", sha256_file_hex(prov.text_encoder_weights)},
        {"weights_prefix", prov.weights_prefix}}},
  };
  const auto path = fs::path(dir) / kSam3PromptEmbeddingJson;
  std::ofstream f(path);
  f << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";  // a piece may be part of a UTF-8 character
  if (!f) throw Error(path.string() + ": cannot write");
}

Sam3PromptEmbedding sam3_load_prompt_embedding(const std::string& dir, int64_t d_model) {
  const std::string jpath = (fs::path(dir) / kSam3PromptEmbeddingJson).string();
  const std::string tpath = (fs::path(dir) / kSam3PromptEmbeddingTensors).string();
  const auto j = read_json_file(jpath);
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!j.contains(key)) throw Error(jpath + ": missing field '" + key + "'");
    return j.at(key);
  };
  if (field("format") != kSam3PromptEmbeddingFormat)
    throw Error(jpath + ": format: expected \"" + std::string(kSam3PromptEmbeddingFormat) + "\", found " +
                field("format").dump());
  Sam3PromptEmbedding e;
  if (!field("prompt").is_string()) throw Error(jpath + ": prompt: expected a string, found " + field("prompt").dump());
  e.prompt = field("prompt").get<std::string>();
  e.token_ids = field("token_ids").get<std::vector<int64_t>>();
  const int64_t T = static_cast<int64_t>(e.token_ids.size());

  const auto f = st::File::open(tpath);
  auto tensor = [&](const std::string& name, at::ScalarType dtype, const std::vector<int64_t>& shape) {
    const auto& info = f.at(name);
    auto t = read_tensor(f, info);
    if (t.scalar_type() != dtype) throw Error(tpath + ": " + name + ": expected dtype " + dtype_str(dtype) + ", found " + dtype_str(t.scalar_type()));
    bool ok = t.dim() == static_cast<int64_t>(shape.size());
    for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || t.size(static_cast<int64_t>(i)) == shape[i];
    if (!ok) {
      std::string want = "[";
      for (size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + (shape[i] < 0 ? std::string("d_model") : std::to_string(shape[i]));
      throw Error(tpath + ": " + name + ": expected shape " + want + "], found " + shape_str(t.sizes()));
    }
    return t.clone();
  };
  e.language_features = tensor("language_features", at::kFloat, {T, 1, d_model > 0 ? d_model : -1});
  e.language_mask = tensor("language_mask", at::kBool, {1, T});
  auto ids = tensor("token_ids", at::kLong, {1, T});
  if (!torch::equal(ids.reshape({T}), torch::tensor(e.token_ids, torch::kLong)))
    throw Error(tpath + ": token_ids differ from " + jpath + "'s token_ids (the two files are not from one encode-prompt run)");
  if (!torch::equal(e.language_mask, ids.eq(0)))
    throw Error(tpath + ": language_mask is not token_ids == 0");
  return e;
}

}  // namespace eh::models
