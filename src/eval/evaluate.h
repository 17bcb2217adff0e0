// One call that evaluates a tracker output against ground truth with every MOT metric, and the
// renderings used by `edgeherd eval` (a text table and JSON).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "eval/clear_mot.h"
#include "eval/hota.h"
#include "eval/mot.h"

namespace eh::eval {

struct MotReport {
  std::string gt_source, pred_source;
  double iou_threshold = 0.5;
  ClearMotResult clear;
  IdentityResult identity;
  HotaResult hota;
};

// CLEAR-MOT + ID measures (py-motmetrics conventions) and HOTA (TrackEval) of `pred` against `gt`.
MotReport evaluate_mot(const TrackSet& gt, const TrackSet& pred, const MotOptions& opt = {});

// Student-vs-teacher agreement: the same metrics with the teacher's tracks taken as ground truth
// (how "MOTA against the SAM 3 teacher" is measured).
MotReport evaluate_agreement(const TrackSet& teacher, const TrackSet& student, const MotOptions& opt = {});

// JSON: {"gt", "pred", "iou_threshold", "clear": {...}, "identity": {...}, "hota": {... "per_alpha": {...}}}.
// Non-finite values (e.g. MOTA with no ground truth) are written as null.
nlohmann::json to_json(const MotReport& r);

// Human-readable summary table (a few lines, fixed-width columns).
std::string format_table(const MotReport& r);

// Ratio as JSON: a number, or null when it is NaN or infinite.
nlohmann::json json_number(double v);

}  // namespace eh::eval
