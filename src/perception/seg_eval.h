// Scoring a segmenter on held-out simulated pens (library function behind `edgeherd
// eval-segmenter`; the demo calls it): the segmenter runs through video::Session + tracker like
// in production; tracks are scored against the simulator's identities (MOTA, IDF1, HOTA), the
// raw detections against the ground-truth instances (precision, recall and mean mask IoU of
// matched pairs), and, with two variants, the second's tracks against the first's (agreement:
// the teacher's tracks as ground truth).
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "video/session.h"

namespace eh::perception {

struct SegEvalOptions {
  std::string model_dir;
  std::vector<std::string> variants = {"teacher", "student"};
  std::vector<std::string> sims = {"sim:seed=9001,frames=720"};  // simulator specs (video::parse_sim_spec)
  video::SessionConfig session;
  double match_iou = 0.5;  // detection matching (mask IoU)
  // Called every frame: (variant, sim, frames done, frames total).
  std::function<void(const std::string&, const std::string&, int64_t, int64_t)> progress;
};

struct DetectionScore {
  int64_t gt = 0, predictions = 0, matched = 0;
  double mask_iou_sum = 0;
  double precision() const { return predictions ? double(matched) / predictions : 0; }
  double recall() const { return gt ? double(matched) / gt : 0; }
  double mean_mask_iou() const { return matched ? mask_iou_sum / matched : 0; }
};

struct SegEvalRun {
  std::string variant, sim;
  int64_t frames = 0;
  eh::eval::MotReport mot;       // tracks vs ground truth
  DetectionScore detections;
  double ms_per_frame = 0;       // segment() wall time (model + decoding), median over frames
  double ms_per_frame_mean = 0;
  int64_t params = 0;
  std::size_t weight_bytes = 0;
  int64_t activation_peak_bytes = 0;  // peak of the tensors one frame allocates (PeakMemoryMeter)
  int64_t peak_bytes() const { return static_cast<int64_t>(weight_bytes) + activation_peak_bytes; }
  eh::eval::TrackSet tracks;     // kept for agreement
};

struct SegEvalResult {
  std::vector<SegEvalRun> runs;  // per sim, per variant (in the given order)
  // Per sim when two variants were given: variants[1]'s tracks against variants[0]'s.
  std::vector<std::pair<std::string, eh::eval::MotReport>> agreement;
  nlohmann::ordered_json to_json() const;
  std::string table() const;  // human-readable
};

// Greedy one-to-one matching of predicted and ground-truth masks by IoU (>= min_iou), best first.
DetectionScore score_detections(const std::vector<eh::data::Rle>& pred, const std::vector<eh::data::Rle>& gt, double min_iou);

// Throws eh::UsageError for a source that is not a simulator spec or a seed outside 9001..9999
// (the held-out pens), eh::Error for a bad model directory.
SegEvalResult evaluate_segmenter(const SegEvalOptions& opt);

}  // namespace eh::perception
