// Training (`edgeherd train-behaviour`) and held-out evaluation (`edgeherd eval-behaviour`) of
// the behaviour classifier on ground-truth tracks of simulated pens: boxes = bounding boxes of
// the visible masks, masks = the visible masks, track id = the animal's id, label = the
// simulator's behaviour. Pen seeds 9001..9999 are never used for training or validation
// (validation, which picks the smoothing constant, uses 8001..).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/classification.h"

namespace eh::animal {

struct BehaviourClipOptions {
  double minutes = 3.0;
  double min_hour = 7.0, max_hour = 19.0;  // clock time of frame 0, drawn per pen from the seed
  int min_visible_pixels = 500;            // fewer visible pixels: the animal is not observed
  // SimConfig::activity drawn per pen, log-uniform in [1, max_activity] (1: every pen as
  // deployed). Training pens only: livelier pens lie less, so the rare behaviours (running,
  // playing, sitting) get more of the samples; validation and held-out pens keep 1.
  double max_activity = 1.0;
};

// The pixel posture network (animal/posture_net.h), trained first on pens of its own so that
// the MLP learns from its outputs on pens it never saw, as it will see them when deployed.
struct PostureTrainOptions {
  int pens = 0;                  // 0: no posture network (motion/shape features only)
  // Non-empty: reuse the posture network of this behaviour model directory (config "posture",
  // weights "posture.*") instead of training one; `pens` etc. are then ignored.
  std::string from_dir;
  int first_seed = 3001;
  double minutes = 3.0;          // per pen
  // Every k-th frame (only those are drawn). Sparse on purpose: a pig keeps its posture for
  // minutes, so dense frames of few pens let the network learn the animals, not the postures.
  int every = 30;
  // SimConfig::activity of each posture pen drawn log-uniform in [1, max_activity]: livelier
  // pens lie less, so more of the crops are upright (and a few more sitting; 1: every pen as
  // deployed).
  double max_activity = 1.0;
  // Sitting animals from every k-th frame (0: every `every`-th, like the others; else a divisor
  // of `every`): sitting is the rarest posture, about 2 % of the crops. Frames are drawn every k.
  int sit_every = 0;
  int crop_size = 48;
  float margin = 0.15f;
  std::vector<int> channels{16, 32, 64, 64};
  int epochs = 6;
  int batch = 64;
  double lr = 3e-3;
  // The MLP's training pens: samples from every k-th frame only (only those are drawn); the
  // motion history still sees every frame. Validation and held-out pens use every frame.
  int mlp_every = 3;
};

struct BehaviourTrainOptions {
  std::string out_dir;
  bool overwrite = false;
  std::string embedder_dir;      // non-empty: the embedding is an input (frames are rendered)
  PostureTrainOptions posture;   // posture.pens > 0: pixel posture is an input (frames are rendered)
  int first_seed = 1, train_pens = 24;
  int first_val_seed = 8001, val_pens = 4;
  BehaviourClipOptions clip;
  std::vector<int> hidden{128, 128};
  int epochs = 12;
  int batch = 1024;
  double lr = 2e-3, weight_decay = 1e-4;
  std::vector<double> stay_grid{0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98};
  // With livelier training pens (clip.max_activity > 1): scales of the prior-shift logit bias
  // tried on the validation pens (BehaviourConfig::logit_bias).
  std::vector<double> prior_shift_grid{0.0, 0.5, 1.0};
  // Fixed-lag smoothing of the model (BehaviourConfig::lag_frames): labels final 0.5 s late.
  int lag_frames = 3;
  // Look-ahead (BehaviourConfig::lookahead_frames): 0, or lag_frames, whose frames then feed the
  // classifier instead of a backward pass.
  int lookahead_frames = 0;
  uint64_t seed = 1;
  // Torch threads, and pens simulated side by side (the model does not depend on the number).
  int threads = 2;
  bool progress = true;
  std::string command;
  // Held-out evaluation after training (0 = none): pens 9001 .. 9000 + eval_pens.
  int eval_pens = 10;
};

struct BehaviourEvalOptions {
  std::string model_dir;
  std::string embedder_dir;      // required when the model uses embeddings
  int first_seed = 9001, pens = 10;
  BehaviourClipOptions clip;
  bool smoothing = true;         // false: per-frame argmax of the classifier (stay = 0)
  std::string out_dir;           // non-empty: confusion.md, confusion.svg, pens.md, metrics.json
  bool progress = true;
  int threads = 2;               // torch threads, and pens simulated side by side (same results)
};

struct BehaviourEvalReport {
  eh::eval::ClassificationResult result;
  // 95% percentile-bootstrap interval of top-1 and macro-F1 over the pens (2000 resamples,
  // fixed seed; eval_behaviour only): how much the figures would move on other pens. A rare class (running: a few
  // bouts in 10 pens) makes macro-F1 swing by points.
  eh::eval::ClassificationInterval interval;
  // Each pen scored on its own, in pen order (eval_behaviour only): which pens hold the errors.
  std::vector<eh::eval::ClassificationResult> per_pen;
  int frames = 0, observations = 0;
  double ms_per_frame = 0;       // BehaviourStream::update per frame (embedding excluded)
  double embed_ms_per_frame = 0; // embedder per frame when used
  int pens_at_a_time = 1;        // pens evaluated side by side (they share the cores: the times above grow)
  // Observations by distance to the nearest change of the animal's true label (frames, either
  // side): within 1 s, 1-3 s, farther. At an activity boundary the label changes before (or
  // after) anything a causal classifier can see, so errors there are of another kind.
  static constexpr int kBoundaryBuckets = 3;
  static constexpr int kBoundaryEdges[2] = {6, 18};  // frames at 6 fps
  std::array<int64_t, kBoundaryBuckets> boundary_total{}, boundary_wrong{};
  static const char* boundary_bucket_name(int b);
};

struct BehaviourTrainReport {
  std::string dir;
  int train_samples = 0;
  double chosen_stay = 0;
  bool chosen_transitions = false;  // the training pens' transition matrix (else the identity)
  double chosen_prior_shift = 0;    // scale of the prior-shift logit bias
  double val_accuracy = 0, val_macro_f1 = 0;
  double data_s = 0, train_s = 0, wall_s = 0;
  // Posture network (posture.pens > 0): samples, training time, accuracy over the three groups
  // on the validation pens' observations (ground-truth boxes and masks).
  int posture_samples = 0;
  double posture_s = 0, posture_val_accuracy = 0;
  BehaviourEvalReport test;      // when eval_pens > 0
};

BehaviourTrainReport train_behaviour(const BehaviourTrainOptions& opt);
BehaviourEvalReport eval_behaviour(const BehaviourEvalOptions& opt);

// Markdown confusion matrix (rows = truth, columns = prediction) and an SVG heat map.
std::string confusion_markdown(const eh::eval::ClassificationResult& r);
std::string confusion_svg(const eh::eval::ClassificationResult& r, const std::string& title);

}  // namespace eh::animal
