// AdamW (Loshchilov & Hutter) with its state as plain named tensors, so a training checkpoint is
// a safetensors file like the weights (LibTorch's own optimizer archives are pickles).
#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "core/tensor_io.h"

namespace eh::distill {

struct AdamWOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.05;
};

class AdamW {
 public:
  AdamW(std::vector<std::pair<std::string, at::Tensor>> params, AdamWOptions opt);
  void zero_grad();
  void step(double lr);  // lr of this step (the schedule lives in the trainer)
  int64_t steps() const { return t_; }
  // "exp_avg.<name>", "exp_avg_sq.<name>" and "step".
  NamedTensors state() const;
  void load_state(const NamedTensors& state);  // throws naming a missing or mis-shaped entry

 private:
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::vector<at::Tensor> m_, v_;
  AdamWOptions opt_;
  int64_t t_ = 0;
};

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before.
double clip_grad_norm(const std::vector<std::pair<std::string, at::Tensor>>& params, double max_norm);

}  // namespace eh::distill
