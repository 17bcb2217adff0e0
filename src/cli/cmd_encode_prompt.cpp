// edgeherd encode-prompt: tokenize a text prompt, run SAM 3's text encoder once and store the embedding in a model
// directory (models/sam3/prompt_embedding.h), so the deployed detector needs neither the text encoder nor the vocabulary.
#include <filesystem>
#include <iostream>

#include "cli/command.h"
#include "core/config.h"
#include "core/error.h"
#include "models/sam3/prompt_embedding.h"
#include "models/sam3/text_encoder.h"
#include "models/sam3/tokenizer.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string text_encoder, vocab, prompt, out;
};

eh::cli::Registrar reg({"encode-prompt", "Encode a text prompt with SAM 3's tokenizer + text encoder and store it for the detector",
                        [](CLI::App& app) {
  auto a = std::make_shared<Args>();
  app.add_option("--text-encoder", a->text_encoder,
                 "CONFIG.json+WEIGHTS.safetensors of arch sam3_text_encoder (weights: the encoder's own keys or a "
                 "converted sam3.pt)")->required();
  app.add_option("--vocab", a->vocab, "BPE vocabulary (bpe_simple_vocab_16e6.txt.gz of the SAM 3 release)")
      ->required()->check(CLI::ExistingFile);
  app.add_option("--prompt", a->prompt, "Text prompt, e.g. \"pig\"")->required();
  app.add_option("--out", a->out, "Model directory to write prompt_embedding.{safetensors,json} into")->required();
  return [a]() {
    const auto plus = a->text_encoder.find('+');
    if (plus == std::string::npos || plus == 0 || plus + 1 == a->text_encoder.size())
      throw eh::UsageError("--text-encoder must be CONFIG.json+WEIGHTS.safetensors, got '" + a->text_encoder + "'");
    const std::string cfg_path = a->text_encoder.substr(0, plus), weights = a->text_encoder.substr(plus + 1);
    for (const auto& f : {cfg_path, weights})
      if (!fs::exists(f)) throw eh::UsageError("--text-encoder: no such file " + f);

    auto cfg = eh::Config::load(cfg_path);
    eh::models::Sam3TextEncoder enc(eh::models::Sam3TextEncoderConfig::from(cfg));
    const std::string prefix = eh::models::sam3_load_text_encoder(enc, weights);
    enc->eval();
    const eh::models::Sam3Tokenizer tok(a->vocab, enc->config().context_length);
    if (tok.vocab_size() > enc->config().vocab_size)
      throw eh::Error(a->vocab + ": the tokenizer has " + std::to_string(tok.vocab_size()) + " tokens but the text encoder (" +
                      cfg_path + ") only " + std::to_string(enc->config().vocab_size) + " embeddings");

    const auto e = eh::models::sam3_encode_prompt(*enc, tok, a->prompt);
    eh::models::sam3_save_prompt_embedding(a->out, e, tok, {a->vocab, cfg_path, weights, prefix});
    int64_t n = 0;
    for (int64_t id : e.token_ids) n += id != 0;
    std::cout << "prompt \"" << a->prompt << "\": " << n << " tokens (context " << e.token_ids.size() << "), embedding "
              << e.language_features.size(0) << "x" << e.language_features.size(1) << "x" << e.language_features.size(2)
              << " -> " << (fs::path(a->out) / eh::models::kSam3PromptEmbeddingTensors).string() << "\n";
    return 0;
  };
}});

}  // namespace
