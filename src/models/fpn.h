// torchvision.ops.FeaturePyramidNetwork (pytorch/vision@5e8e2f12, v0.14.1,
// torchvision/ops/feature_pyramid_network.py) without extra blocks or norm: lateral 1x1
// convs, legacy-nearest top-down upsampling of the running merged map, 3x3 output convs.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "core/config.h"
#include "models/registry.h"

namespace eh::models {

struct FpnConfig {
  std::vector<int64_t> in_channels_list{96, 192, 384, 576};
  int64_t out_channels = 256;
  static FpnConfig from(Config& c);
};

class FeaturePyramidNetworkImpl : public torch::nn::Module {
 public:
  explicit FeaturePyramidNetworkImpl(const FpnConfig& cfg);
  // Inputs highest resolution first; outputs in the same order. `tag` prefixes trace keys.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& feats, TensorMap* trace = nullptr,
                                  const std::string& tag = "");

 private:
  torch::nn::ModuleList inner_{nullptr}, layer_{nullptr};
};
TORCH_MODULE(FeaturePyramidNetwork);

Arch fpn_arch();

}  // namespace eh::models
