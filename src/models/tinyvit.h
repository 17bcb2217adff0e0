// TinyViT (student trunk), ported from microsoft/Cream@4a13c409 TinyViT/models/tiny_vit.py.
// Module names equal the upstream state-dict keys; the non-persistent attention_bias_idxs
// are computed here (closed form |dy|*ws + |dx|), never read from a checkpoint.
#pragma once
#include <torch/nn.h>

#include <array>
#include <vector>

#include "core/config.h"
#include "models/registry.h"

namespace eh::models {

struct TinyViTConfig {
  int64_t img_size = 512, in_chans = 3, num_classes = 1000, local_conv_size = 3;
  std::vector<int64_t> embed_dims{96, 192, 384, 576}, depths{2, 2, 6, 2}, num_heads{3, 6, 12, 18},
      window_sizes{16, 16, 32, 16};
  double mlp_ratio = 4.0, mbconv_expand_ratio = 4.0;
  static TinyViTConfig from(Config& c);
};

class TinyViTImpl : public torch::nn::Module {
 public:
  explicit TinyViTImpl(const TinyViTConfig& cfg);
  // Four NCHW stage maps (strides 4, 8, 16, 32). H and W must be multiples of 32.
  std::vector<at::Tensor> forward_stages(const at::Tensor& x, TensorMap* trace = nullptr);
  // Classification head on the last stage map: head(norm_head(mean over tokens)).
  at::Tensor forward_head(const at::Tensor& stage3, TensorMap* trace = nullptr);
  const TinyViTConfig& config() const { return cfg_; }

 private:
  TinyViTConfig cfg_;
  torch::nn::Sequential patch_embed_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm norm_head_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(TinyViT);

Arch tinyvit_arch();

}  // namespace eh::models
