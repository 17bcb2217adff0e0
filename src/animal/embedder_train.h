// Training and evaluation of the per-animal embedder (`edgeherd train-embedder`) on crops of
// simulated pens: each (appearance_seed, pig id) is one identity; the same appearance seed
// with other dynamics seeds and clock times shows the same animals in other postures,
// positions and lighting. Appearance seeds 9001..9999 are never used for training: they are
// the held-out pens of the re-identification evaluation.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "animal/embedder.h"

namespace eh::animal {

struct EmbedderTrainOptions {
  std::string out_dir;           // model directory to write (config.json, weights.safetensors, card.md, loss.svg, reid.json)
  std::string config_path;       // embedder config (configs/pen_tiny_embedder.json)
  bool overwrite = false;
  // Data: appearance seeds first_pen .. first_pen + train_pens - 1 (must stay below 9001).
  int first_pen = 1;
  int train_pens = 96;
  int clips_per_pen = 3;         // dynamics seeds (and random clock times) per appearance seed
  int frames_per_clip = 2;       // sampled frames per clip
  int frame_stride = 18;         // frames between samples (3 s at 6 fps)
  float min_visibility = 0.5f;   // animals less visible than this are not used
  // Optimisation.
  int steps = 1500;
  int batch = 64;
  double lr = 1e-3, weight_decay = 0.05;
  int warmup = 100;
  float cos_scale = 20.0f, cos_margin = 0.2f;  // CosFace: s * (cos - m) for the true identity
  double posture_weight = 1.0;   // auxiliary posture cross-entropy on the embedding (0 = identity only)
  uint64_t seed = 1;
  int threads = 2;
  // Evaluation on held-out pens 9001 .. 9000 + eval_pens.
  int eval_pens = 10;
  bool progress = true;
  std::string command;           // written into card.md
};

struct ReidMetrics {
  std::string method;            // "dinov3-embedder ...", "colour-histogram ..." (evaluate_reid)
  int queries = 0;
  double rank1_pen = 0;          // the most similar of the pen's gallery animals is the right animal
  double rank1_pool = 0;         // ... among all held-out pens' animals
  double cos_same = 0, cos_diff = 0;  // mean similarity query vs gallery animal, same / different animal (same pen)
  double auc = 0;                // P(cos same > cos different) over those pairs
};

struct ReidOptions {
  int first_pen = 9001;
  int pens = 10;
  int frames = 4;                // gallery and query frames per clip
  int frame_stride = 12;
  float min_visibility = 0.5f;
  bool progress = true;
};

// Gallery: one clip per pen; queries: another clip of the same animals (other dynamics seed and
// clock time). Compares `embedder` with the colour-histogram embedding (video/appearance.h) on
// the same crops. Six rows: the embedder against per-animal gallery means, raw and centred
// (minus the pen's gallery mean, as the tracker's embedding centring does); the embedder
// against each animal's most similar gallery vector, as floats and through the store's
// embedding pool (int8, bounded: what the longitudinal store keeps); the colour histogram raw
// and centred.
std::vector<ReidMetrics> evaluate_reid(const Embedder& embedder, const ReidOptions& opt);

struct EmbedderTrainReport {
  std::string dir;
  int identities = 0, crops = 0;
  int64_t params = 0;
  double data_s = 0, train_s = 0, eval_s = 0, wall_s = 0;
  double final_loss = 0;         // mean over the last 10% of steps
  std::vector<ReidMetrics> reid;
};

// Throws eh::Error for bad options (held-out seeds in the training range, existing output
// without overwrite, bad config).
EmbedderTrainReport train_embedder(const EmbedderTrainOptions& opt);

std::string format_reid_table(const std::vector<ReidMetrics>& rows);  // markdown
nlohmann::json reid_json(const std::vector<ReidMetrics>& rows);         // array of objects, one per row

}  // namespace eh::animal
