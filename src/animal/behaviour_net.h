// The behaviour classifier network and its config (LibTorch; internal to src/animal): input
// standardisation (buffers), an MLP, 9 logits (class 0 'unknown' is never predicted).
#pragma once
#include <torch/nn.h>

#include <string>
#include <vector>

#include "animal/behaviour_features.h"

namespace eh::animal {

struct BehaviourConfig {
  int embedding_dim = 0;            // 0: the embedding is not an input
  std::vector<int> hidden{128, 128};
  PenLandmarks pen;                 // normalised image coordinates
  double stay = 0.9;                // smoothing: probability mass kept on the previous belief per frame at `fps`
  double fps = 6.0;                 // frame rate the smoothing constant refers to
  int inputs() const { return num_motion_features() + embedding_dim; }
  static BehaviourConfig from_json(const nlohmann::json& j, const std::string& label);
  nlohmann::json to_json() const;
};

struct BehaviourNetImpl : torch::nn::Module {
  explicit BehaviourNetImpl(const BehaviourConfig& c);
  at::Tensor forward(const at::Tensor& x);  // [N, inputs] raw features -> [N, 9] logits
  at::Tensor feat_mean, feat_std;
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(BehaviourNet);

}  // namespace eh::animal
