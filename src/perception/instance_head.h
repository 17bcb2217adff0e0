// Dense instance head on the SAM 3 detector-neck levels (Panoptic-DeepLab / CenterNet style):
// per position of the finest level, a foreground logit, a centre-heatmap logit and the offset
// from the position to its instance's centre. Touching pigs in a huddle share foreground but
// vote for different centres, so decoding (decode.h) separates them. Design: docs/perception.md.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "core/config.h"

namespace eh::perception {

struct HeadConfig {
  int64_t in_channels = 32;  // the neck's d_model
  int64_t channels = 32;     // width of the head's convolutions
  int64_t levels = 3;        // neck levels fused (finest first: 4x, 2x, 1x)
  static HeadConfig from(Config& c);
};

// Output channels of the head map [B, 4, h, w].
enum HeadChannel : int64_t { kForeground = 0, kCentre = 1, kOffsetX = 2, kOffsetY = 3 };

class InstanceHeadImpl : public torch::nn::Module {
 public:
  explicit InstanceHeadImpl(const HeadConfig& cfg);
  // levels: neck outputs, finest first ([B, in_channels, h * 2^-i, w * 2^-i]); the first
  // cfg.levels are fused at the finest resolution. Returns logits/offsets [B, 4, h, w]; offsets
  // are in cells of the finest level.
  at::Tensor forward(const std::vector<at::Tensor>& levels);
  const HeadConfig& config() const { return cfg_; }

 private:
  HeadConfig cfg_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, out_{nullptr};
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(InstanceHead);

}  // namespace eh::perception
