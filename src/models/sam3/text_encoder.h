// SAM 3 text encoder: `sam3.model.text_encoder_ve.VETextEncoder` (facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e, sam3/model/text_encoder_ve.py; built by
// sam3/model_builder.py `_create_text_encoder`: width 1024, 24 layers, 16 heads, context 32,
// vocabulary 49408, d_model 256) from token ids: token embedding + learned positions, causal
// pre-norm transformer (GELU MLP), ln_final, then `resizer` to d_model. Module names equal the keys
// under `detector.backbone.language_backbone.` in sam3.pt. The input is the tokenizer's ids (0 = padding):
// models/sam3/tokenizer.h (BPE) makes them from text, models/sam3/prompt_embedding.h stores the result.
#pragma once
#include <torch/nn.h>

#include "core/config.h"
#include "models/registry.h"

namespace eh::models {

struct Sam3TextEncoderConfig {
  int64_t d_model = 256, width = 1024, heads = 16, layers = 24, context_length = 32, vocab_size = 49408;
  double mlp_ratio = 4.0;
  int64_t output_dim = 512;  // text_projection's width (a parameter of the checkpoint; unused by SAM 3's forward)
  static Sam3TextEncoderConfig from(Config& c);
};

struct Sam3TextOutput {
  at::Tensor language_mask;      // [B, T] bool, true = padding (token id 0)
  at::Tensor language_features;  // [T, B, d_model] seq-first, after the resizer
  at::Tensor language_embeds;    // [T, B, width] token embeddings before the transformer
};

class Sam3TextEncoderImpl : public torch::nn::Module {
 public:
  explicit Sam3TextEncoderImpl(const Sam3TextEncoderConfig& cfg);
  // ids: [B, T] int64, T <= context_length. `trace` receives "intermediate.*".
  Sam3TextOutput forward(const at::Tensor& ids, TensorMap* trace = nullptr);
  const Sam3TextEncoderConfig& config() const { return cfg_; }

 private:
  Sam3TextEncoderConfig cfg_;
  std::shared_ptr<torch::nn::Module> encoder_;
  torch::nn::Linear resizer_{nullptr};
};
TORCH_MODULE(Sam3TextEncoder);

// Binds the text encoder's weights from safetensors: the converted video checkpoint (keys under
// `detector.backbone.language_backbone.`), the image model's (`backbone.language_backbone.`) or the encoder's own
// keys (no prefix, as the fixture). Strict under the prefix found; returns it.
std::string sam3_load_text_encoder(Sam3TextEncoder& net, const std::string& path);

Arch sam3_text_encoder_arch();

}  // namespace eh::models
