// Per-track, per-frame input features of the behaviour model (no LibTorch): short-term motion
// from the track's own history, box shape relative to the track's recent median, the mask's
// fill and outline (animal/mask_shape.h), and the position relative to the pen's feeder, drinkers and toy. Shared by training
// (ground-truth tracks) and BehaviourStream (tracker output), so both see identical features.
#pragma once
#include <deque>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "animal/mask_shape.h"
#include "data/simulator.h"

namespace eh::animal {

// Pen landmarks in normalised image coordinates (x / width, y / height).
struct PenLandmarks {
  cv::Rect2f feeder;
  std::vector<cv::Point2f> drinkers;
  cv::Point2f toy;
  static PenLandmarks from_layout(const eh::data::PenLayout& l);
  static PenLandmarks from_json(const nlohmann::json& j, const std::string& label);  // throws naming the field
  nlohmann::json to_json() const;
};

// Number of motion/shape/position features (without the embedding).
int num_motion_features();
// Names of those features, in order (docs and the model card).
const std::vector<std::string>& motion_feature_names();

// One track's recent history.
class TrackHistory {
 public:
  // Appends an observation (time in seconds, box in pixels, the mask's shape; MaskShape{} when
  // there is no mask) and writes the features of this observation to `out`
  // (num_motion_features()). A gap of more than `reset_gap_s` since the previous observation
  // starts a fresh history.
  void push_and_features(double t, const cv::Rect2f& box, const MaskShape& shape, float* out);
  double last_time() const { return h_.empty() ? -1e300 : h_.back().t; }

  struct Landmarks {  // in pixels, for the frame size the stream was made with
    cv::Rect2f feeder;
    std::vector<cv::Point2f> drinkers;
    cv::Point2f toy;
    cv::Size frame;
  };
  const Landmarks* lm = nullptr;  // set by the owner before use
  double reset_gap_s = 1.5;

 private:
  struct Obs {
    double t;
    float cx, cy, w, h;
    MaskShape shape;
  };
  std::deque<Obs> h_;
  double last_moving_t_ = -1;  // time of the last frame speed above 0.25 body lengths/s (capped at 60 s)
  // The animal's outline while walking (it is upright then): its own reference for posture,
  // as body proportions differ between animals. Kept across history restarts (same animal).
  struct WalkRef {
    double t = -1;  // last update; < 0: never seen walking
    float elong = 0, log_area = 0;
  } walk_;
};

TrackHistory::Landmarks landmarks_in_pixels(const PenLandmarks& n, cv::Size frame);

}  // namespace eh::animal
