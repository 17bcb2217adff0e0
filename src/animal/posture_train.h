// Training of the pixel posture network (animal/posture_net.h) on crops of simulated pens:
// internal to train_behaviour (LibTorch).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "animal/behaviour_train.h"
#include "animal/posture_net.h"

namespace eh::animal {

struct PostureTrainResult {
  PostureConfig cfg;
  PostureNet net{nullptr};                      // eval mode
  int samples = 0;
  std::array<int, kPostureGroups> counts{};     // samples per group
  double data_s = 0, train_s = 0;
  std::vector<double> loss;                     // per step
};

// Pens first_seed .. first_seed + pens - 1, clock time of frame 0 anywhere in the day (night
// infrared included); every `every`-th frame, every animal with at least
// clip.min_visible_pixels visible. Boxes are jittered by a few percent and half of the masks are
// coarsened to a quarter of the crop's resolution, as a segmenter's are; photometric
// augmentation; class-weighted cross-entropy (1 / sqrt(frequency)); AdamW with cosine decay.
// The pens are drawn `threads` at a time; the crops and the network do not depend on it.
PostureTrainResult train_posture(const PostureTrainOptions& o, const BehaviourClipOptions& clip, uint64_t seed, int threads,
                                 bool progress);

// The posture network of a behaviour model directory (what --posture-from reuses); throws
// eh::Error naming the file when it has none.
PostureTrainResult load_trained_posture(const std::string& model_dir);

}  // namespace eh::animal
