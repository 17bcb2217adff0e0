#include "perception/instance_head.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/tensor_io.h"

namespace eh::perception {

HeadConfig HeadConfig::from(Config& c) {
  HeadConfig h;
  h.in_channels = c.get<int64_t>("in_channels");
  h.channels = c.get_or<int64_t>("channels", h.channels);
  h.levels = c.get_or<int64_t>("levels", h.levels);
  if (h.in_channels < 1 || h.channels < 1) throw Error(c.label() + ": in_channels and channels must be positive");
  if (h.levels < 1 || h.levels > 4) throw Error(c.label() + ": levels must be 1..4, found " + std::to_string(h.levels));
  c.finish();
  return h;
}

namespace {
torch::nn::GroupNorm group_norm(int64_t ch) {
  int64_t g = 8;
  while (ch % g) g /= 2;
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(g, ch));
}
}  // namespace

InstanceHeadImpl::InstanceHeadImpl(const HeadConfig& cfg) : cfg_(cfg) {
  using torch::nn::Conv2dOptions;
  conv1_ = register_module("conv1", torch::nn::Conv2d(Conv2dOptions(cfg.in_channels, cfg.channels, 3).padding(1)));
  norm1_ = register_module("norm1", group_norm(cfg.channels));
  conv2_ = register_module("conv2", torch::nn::Conv2d(Conv2dOptions(cfg.channels, cfg.channels, 3).padding(1)));
  norm2_ = register_module("norm2", group_norm(cfg.channels));
  out_ = register_module("out", torch::nn::Conv2d(Conv2dOptions(cfg.channels, 4, 1)));
  // Centre prior 0.1 (CenterNet's focal-loss initialisation), offsets start at zero.
  torch::NoGradGuard g;
  out_->bias.zero_();
  out_->bias[kCentre].fill_(-std::log((1 - 0.1) / 0.1));
  out_->weight.mul_(0.1);
}

at::Tensor InstanceHeadImpl::forward(const std::vector<at::Tensor>& levels) {
  if (static_cast<int64_t>(levels.size()) < cfg_.levels)
    throw Error("instance head: needs " + std::to_string(cfg_.levels) + " neck levels, got " + std::to_string(levels.size()));
  auto x = levels[0];
  if (x.dim() != 4 || x.size(1) != cfg_.in_channels)
    throw Error("instance head: expected [B, " + std::to_string(cfg_.in_channels) + ", h, w] neck maps, found " +
                shape_str(x.sizes()));
  namespace F = torch::nn::functional;
  for (int64_t i = 1; i < cfg_.levels; ++i)
    x = x + F::interpolate(levels[i], F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                          .mode(torch::kBilinear)
                                          .align_corners(false));
  x = torch::relu(norm1_(conv1_(x)));
  x = torch::relu(norm2_(conv2_(x)));
  return out_(x);
}

}  // namespace eh::perception
