// CLEAR-MOT (Bernardin & Stiefelhagen 2008) and the ID measures (Ristani et al. 2016) with the
// conventions of py-motmetrics 1.4 (MOTAccumulator + metrics.py); see docs/eval.md.
#pragma once
#include <cstdint>

#include "eval/mot.h"

namespace eh::eval {

struct MotOptions {
  // A ground-truth box and a predicted box may be matched only if IoU >= iou_threshold, i.e.
  // if the py-motmetrics distance 1 - IoU <= 1 - iou_threshold.
  double iou_threshold = 0.5;
};

struct ClearMotResult {
  std::int64_t num_frames = 0;          // frames present in either input
  std::int64_t num_objects = 0;         // ground-truth boxes over all frames ("GT")
  std::int64_t num_predictions = 0;     // predicted boxes over all frames
  std::int64_t num_unique_objects = 0;  // distinct ground-truth ids
  std::int64_t num_unique_predictions = 0;
  std::int64_t num_matches = 0;         // matched pairs that kept their id ("MATCH" events)
  std::int64_t num_switches = 0;        // matched pairs whose prediction id changed ("SWITCH")
  std::int64_t num_detections = 0;      // num_matches + num_switches
  std::int64_t num_false_positives = 0;
  std::int64_t num_misses = 0;
  std::int64_t num_fragmentations = 0;  // tracked -> missed transitions inside a track's span
  std::int64_t num_transfer = 0;        // a prediction id moved to another object
  std::int64_t num_ascend = 0;          // switch to a prediction id never matched before
  std::int64_t num_migrate = 0;         // transfer to an object never matched before
  std::int64_t mostly_tracked = 0;      // tracked ratio >= 0.8
  std::int64_t partially_tracked = 0;   // 0.2 <= ratio < 0.8
  std::int64_t mostly_lost = 0;         // ratio < 0.2
  double mota = 0;      // 1 - (misses + switches + false positives) / num_objects
  double motp = 0;      // mean (1 - IoU) over matched pairs (py-motmetrics' MOTP; lower is better)
  double motp_iou = 0;  // mean IoU over matched pairs (higher is better)
  double recall = 0;    // num_detections / num_objects
  double precision = 0; // num_detections / (num_detections + num_false_positives)
};

struct IdentityResult {
  double idtp = 0, idfp = 0, idfn = 0;
  double idp = 0, idr = 0, idf1 = 0;
};

struct ClearAndIdentity {
  ClearMotResult clear;
  IdentityResult identity;
};

// Frames are the union of the frame ids of both inputs, in increasing order. Undefined ratios
// (division by zero) follow numpy: x / 0 is +-inf for x != 0 and NaN for 0 / 0.
ClearAndIdentity compute_clear_and_identity(const TrackSet& gt, const TrackSet& pred, const MotOptions& opt = {});

// a / b with numpy's quiet semantics for b == 0.
double quiet_divide(double a, double b);

}  // namespace eh::eval
