// The behaviour classifier network and its config (LibTorch; internal to src/animal): input
// standardisation (buffers), an MLP, 9 logits (class 0 'unknown' is never predicted), and
// optionally the pixel posture network whose log-probabilities are inputs of the MLP.
// Inputs, in order: the motion features, [3 posture log-probabilities], [the embedding],
// [the motion features of the look-ahead observation].
#pragma once
#include <torch/nn.h>

#include <string>
#include <vector>

#include "animal/behaviour_features.h"
#include "animal/posture_net.h"

namespace eh::animal {

struct BehaviourConfig {
  int embedding_dim = 0;            // 0: the embedding is not an input
  bool has_posture = false;         // the posture network's output is an input
  PostureConfig posture;
  std::vector<int> hidden{128, 128};
  PenLandmarks pen;                 // normalised image coordinates
  // Smoothing (a forward filter per track): prior = stay * (T' belief) + (1 - stay) * uniform per
  // frame at `fps`, T = `transitions` (row = from, column = to, per frame; the label sequences
  // of the training pens) or the identity when empty (a plain sticky filter).
  double stay = 0.9;
  std::vector<std::vector<double>> transitions;
  // Added to the logits (9; empty: none): the log ratio of the deployed to the training class
  // frequencies (scaled) when the training pens were livelier than deployed ones.
  std::vector<double> logit_bias;
  // Fixed-lag smoothing: each label is revised with this many later frames before it is final
  // (a deployment emits labels this late); 0: filtered labels are final.
  int lag_frames = 0;
  // Look-ahead (> 0: equal to lag_frames, and the backward pass is off): the classifier of an
  // observation also reads the motion features of its track's latest observation at most this
  // many frames later (in_lookahead; itself when there is none), so it sees a walk or a run
  // start instead of guessing it. Labels are final when that observation has come.
  int lookahead_frames = 0;
  double fps = 6.0;                 // frame rate the smoothing constant refers to
  int posture_inputs() const { return has_posture ? kPostureGroups : 0; }
  int lookahead_inputs() const { return lookahead_frames > 0 ? num_motion_features() : 0; }
  int inputs() const { return num_motion_features() + posture_inputs() + embedding_dim + lookahead_inputs(); }
  static BehaviourConfig from_json(const nlohmann::json& j, const std::string& label);
  nlohmann::json to_json() const;
};

struct BehaviourNetImpl : torch::nn::Module {
  explicit BehaviourNetImpl(const BehaviourConfig& c);
  at::Tensor forward(const at::Tensor& x);  // [N, inputs] raw features -> [N, 9] logits
  at::Tensor feat_mean, feat_std;
  torch::nn::Sequential mlp{nullptr};
  PostureNet posture{nullptr};  // "posture.*", only with has_posture
};
TORCH_MODULE(BehaviourNet);

// Whether an observation at time `later` of the same track is within the look-ahead of one at
// `t` (`frames` frames at `fps`, with a millisecond of slack for timestamps). Training and the
// stream pick the look-ahead observation with this one rule.
inline bool in_lookahead(double t, double later, int frames, double fps) {
  return later > t && later - t <= frames / fps + 1e-3;
}
// Whether the look-ahead of an observation at `t` is complete once the track has been seen at
// `newest`: nothing later can fall within it (the stream then classifies the observation).
inline bool lookahead_complete(double t, double newest, int frames, double fps) { return newest - t >= frames / fps - 1e-3; }

// The MLP's posture inputs: log-probabilities, floored so that a confident network does not
// produce unbounded inputs.
inline float posture_feature(float p) { return std::log(std::max(p, 1e-4f)); }

}  // namespace eh::animal
