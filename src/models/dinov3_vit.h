// DINOv3 ViT (per-animal embedder), ported from facebookresearch/dinov3@6876159a
// dinov3/models/vision_transformer.py and dinov3/layers/{attention,block,ffn_layers,
// layer_scale,patch_embed,rope_position_encoding}.py. Module names equal the upstream
// state-dict keys, so the released checkpoints bind strictly.
#pragma once
#include <torch/nn.h>

#include <string>

#include "core/config.h"
#include "models/registry.h"

namespace eh::models {

struct DinoV3Config {
  int64_t patch_size = 16, in_chans = 3, embed_dim = 384, depth = 12, num_heads = 6, n_storage_tokens = 4;
  double ffn_ratio = 4.0, rope_base = 100.0, norm_eps = 1e-5;
  std::string rope_normalize = "separate";  // "separate" | "max" | "min"
  bool qkv_bias = true, mask_k_bias = true, proj_bias = true, ffn_bias = true, layerscale = true;
  static DinoV3Config from(Config& c);  // upstream constructor argument names
};

struct DinoV3Output {
  at::Tensor cls;       // [B, D] normalised CLS token (what model(x) returns)
  at::Tensor storage;   // [B, n_storage, D]
  at::Tensor patches;   // [B, h*w, D] normalised, row-major
  at::Tensor prenorm;   // [B, N, D] last block output
};

class DinoVisionTransformerImpl : public torch::nn::Module {
 public:
  explicit DinoVisionTransformerImpl(const DinoV3Config& cfg);
  // x: [B, in_chans, H, W] with H, W multiples of patch_size (ImageNet-normalised RGB).
  // `trace`, when given, receives the fixture's intermediates.
  DinoV3Output forward_features(const at::Tensor& x, TensorMap* trace = nullptr);
  // RoPE (sin, cos) tables for a grid of h x w patches, each [h*w, head_dim].
  std::pair<at::Tensor, at::Tensor> rope_tables(int64_t h, int64_t w) const;
  const DinoV3Config& config() const { return cfg_; }

 private:
  DinoV3Config cfg_;
  at::Tensor cls_token_, storage_tokens_, mask_token_, periods_;
  torch::nn::Conv2d patch_proj_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(DinoVisionTransformer);

// ImageNet mean/std normalisation of an RGB float image in [0,1], [B,3,H,W].
at::Tensor imagenet_normalize(const at::Tensor& rgb01);

Arch dinov3_arch();

}  // namespace eh::models
