// Small building blocks shared by several ported architectures, named as upstream names them.
#pragma once
#include <torch/nn.h>

namespace eh::models {

// timm/DINOv3 LayerScale: x * gamma (key "<name>.gamma").
struct LayerScaleImpl : torch::nn::Module {
  at::Tensor gamma;
  explicit LayerScaleImpl(int64_t dim, double init = 1e-5) { gamma = register_parameter("gamma", torch::full({dim}, init)); }
  at::Tensor forward(const at::Tensor& x) { return x * gamma; }
};
TORCH_MODULE(LayerScale);

// fc1 -> exact (erf) GELU -> fc2 (keys "<name>.fc1.*", "<name>.fc2.*").
struct MlpImpl : torch::nn::Module {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  MlpImpl(int64_t in, int64_t hidden, int64_t out, bool bias = true) {
    fc1 = register_module("fc1", torch::nn::Linear(torch::nn::LinearOptions(in, hidden).bias(bias)));
    fc2 = register_module("fc2", torch::nn::Linear(torch::nn::LinearOptions(hidden, out).bias(bias)));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2(torch::gelu(fc1(x))); }
};
TORCH_MODULE(Mlp);

inline torch::nn::LayerNorm layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// Half-split rotation used by RoPE: cat(-x[..., d/2:], x[..., :d/2]).
inline at::Tensor rotate_half(const at::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return torch::cat({-halves[1], halves[0]}, -1);
}

}  // namespace eh::models
