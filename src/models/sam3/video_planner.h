// Per-frame planning of the SAM 3 video model: from the detector's outputs and the tracker's propagated
// masklets on one frame, decide which detections become new objects, which masklets are matched, unmatched,
// removed (hot-start), suppressed (keep-alive, recent occlusion) or reconditioned from a detection, and keep
// the per-video metadata this needs. Port of `Sam3VideoBase.run_tracker_update_planning_phase` and what it
// calls (`_associate_det_trk`, `_suppress_detections_close_to_boundary`, `_drop_new_det_with_obj_limit`,
// `_process_hotstart`, the reconditioning decision and `_recondition_masklets`' mask,
// `_suppress_overlapping_based_on_recent_occlusion` / `_get_objects_to_suppress_based_on_most_recently_occluded`,
// `update_masklet_confirmation_status`, `_initialize_metadata`) plus the metadata tail of
// `_det_track_one_frame` (tracker scores per frame), sam3/model/sam3_video_base.py at
// facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e.
//
// One process: upstream's rank-0 planning and broadcast collapse into one call and every object lives on
// "GPU 0". The planner only decides; running the tracker (adding objects, `add_new_mask` for reconditioning,
// the memory encoder on `masks_for_memory`, removing objects) is the caller's job, as upstream's execution
// phase.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "core/config.h"

namespace eh::models {

// Constructor arguments of `Sam3VideoBase` that the planning phase reads. Defaults are those of
// `sam3.model_builder.build_sam3_video_model` (apply_temporal_disambiguation=True); fields the builder leaves
// alone keep the `Sam3VideoBase.__init__` defaults.
struct Sam3VideoPlannerConfig {
  double assoc_iou_thresh = 0.1;      // a detection matches a masklet at IoU >= this (new-object test)
  double trk_assoc_iou_thresh = 0.5;  // a masklet is matched by a detection at IoU >= this (unmatched test)
  double new_det_thresh = 0.7;        // a detection needs score >= this to become a new object
  int64_t hotstart_delay = 15;
  int64_t hotstart_unmatch_thresh = 8;
  int64_t hotstart_dup_thresh = 8;
  bool suppress_unmatched_only_within_hotstart = true;
  int64_t init_trk_keep_alive = 30, max_trk_keep_alive = 30, min_trk_keep_alive = -1;
  double suppress_overlapping_based_on_recent_occlusion_threshold = 0.7;  // 0: off
  bool decrease_trk_keep_alive_for_empty_masklets = false;
  bool suppress_det_close_to_boundary = false;
  int64_t max_num_objects = -1;  // -1: no limit (upstream: 10000)
  int64_t recondition_every_nth_frame = 16;  // <= 0: off
  bool masklet_confirmation_enable = false;
  int64_t masklet_confirmation_consecutive_det_thresh = 3;
  double reconstruction_bbox_iou_thresh = 0.0, reconstruction_bbox_det_score = 0.0;
  // tracker.input_mask_size (low_res_mask_size * 4 = 1152 for the released tracker): the resolution of the
  // binary detection mask handed to `add_new_mask` when a masklet is reconditioned.
  int64_t input_mask_size = 1152;

  // Upstream argument names (plus input_mask_size); unknown fields are errors; the constructor's asserts
  // (hot-start thresholds <= delay when the delay is on) are checked.
  static Sam3VideoPlannerConfig from(Config& c);
  int64_t object_limit() const { return max_num_objects > 0 ? max_num_objects : 10000; }
};

// `MaskletConfirmationStatus` values.
enum class Sam3MaskletStatus : int64_t { Unconfirmed = 1, Confirmed = 2 };

// One frame's inputs, as upstream's planning phase receives them.
struct Sam3PlannerFrame {
  int64_t frame_idx = 0;
  bool reverse = false;
  bool is_image_only = false;  // skips the object limit, as upstream
  // Detector outputs kept above score_threshold_detection (after NMS): mask logits [N, H, W], probabilities
  // [N], boxes [N, 4] normalised xyxy.
  at::Tensor det_masks, det_scores, det_boxes;
  // Tracker outputs for the objects of `Sam3VideoPlanner::obj_ids()` in that order (after hole filling, as
  // `_propogate_tracker_one_frame_local_gpu` returns them): mask logits [M, h, w], object-score logits [M].
  at::Tensor trk_masks, trk_scores;
};

// What upstream's planning phase decides for one frame (`tracker_update_plan` plus what the execution and
// memory steps take from it).
struct Sam3FramePlan {
  std::vector<int64_t> new_det_inds;  // new_det_fa_inds: detection rows that start new objects
  std::vector<int64_t> new_obj_ids;   // new_det_obj_ids, same order
  std::vector<int64_t> unmatched_trk_obj_ids;  // non-empty masklets matched by no detection
  std::vector<int64_t> empty_trk_obj_ids;      // masklets with an empty mask
  std::map<int64_t, std::vector<int64_t>> det_to_matched_trk_obj_ids;  // every detection row -> masklets
  std::map<int64_t, int64_t> trk_id_to_max_iou_high_conf_det;          // masklet -> one detection row
  std::set<int64_t> removed_obj_ids;  // obj_ids_newly_removed (hot-start)
  int64_t num_obj_dropped_due_to_limit = 0;
  // Reconditioning: `reconditioned_obj_ids` is upstream's set (bbox-IoU path only, it selects which outputs
  // take the detection mask); `recondition` says whether `_recondition_masklets` runs; `recondition_obj_ids`
  // / `recondition_det_inds` / `recondition_masks` ([K, S, S] bool, S = input_mask_size) are the
  // `add_new_mask` calls it makes (masklets whose tracker object score logit is > 0.8).
  std::set<int64_t> reconditioned_obj_ids;
  bool recondition = false;
  std::vector<int64_t> recondition_obj_ids, recondition_det_inds;
  at::Tensor recondition_masks;
  // Masklets suppressed by recent occlusion on this frame, and the tracker masks the memory encoder gets
  // (those rows set to -10); undefined when there are no masklets.
  std::vector<int64_t> occlusion_suppressed_obj_ids;
  at::Tensor masks_for_memory;
  // rank0_metadata["suppressed_obj_ids"][frame_idx]: outputs hidden, still tracked (keep-alive <= 0).
  std::set<int64_t> output_suppressed_obj_ids;
  std::vector<int64_t> obj_ids;  // the objects after this frame (obj_ids_all_gpu)
};

// The per-video metadata (`_initialize_metadata`, world size 1).
struct Sam3VideoPlannerState {
  std::vector<int64_t> obj_ids;  // obj_ids_all_gpu
  int64_t max_obj_id = -1;
  std::map<int64_t, float> obj_id_to_score;
  std::map<int64_t, std::map<int64_t, float>> obj_id_to_tracker_score_frame_wise;  // frame -> obj -> score
  std::map<int64_t, int64_t> obj_id_to_last_occluded;
  // rank0_metadata
  std::map<int64_t, int64_t> obj_first_frame_idx;
  std::map<int64_t, std::vector<int64_t>> unmatched_frame_inds;
  std::map<int64_t, int64_t> trk_keep_alive;
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> overlap_pair_to_frame_inds;
  std::set<int64_t> removed_obj_ids;
  std::map<int64_t, std::set<int64_t>> suppressed_obj_ids;  // frame -> objects
  // masklet_confirmation (aligned with obj_ids; kept only when masklet_confirmation_enable)
  std::vector<int64_t> confirmation_status, consecutive_det_num;
};

// The result of `_associate_det_trk`.
struct Sam3Association {
  std::vector<int64_t> new_det_inds, unmatched_trk_obj_ids, empty_trk_obj_ids;
  std::map<int64_t, std::vector<int64_t>> det_to_matched_trk_obj_ids;
  std::map<int64_t, int64_t> trk_id_to_max_iou_high_conf_det;
};

// IoU of binary masks [N, H, W] x [M, H, W] -> [N, M] float (`sam3.perflib.masks_ops.mask_iou`: an empty union
// counts as 1).
at::Tensor sam3_mask_iou(const at::Tensor& a, const at::Tensor& b);

// Keep-flags of normalised xyxy boxes whose centre is more than `margin` inside the image
// (`_suppress_detections_close_to_boundary`).
at::Tensor sam3_boxes_away_from_boundary(const at::Tensor& boxes, double margin = 0.025);

class Sam3VideoPlanner {
 public:
  explicit Sam3VideoPlanner(Sam3VideoPlannerConfig cfg = {}) : cfg_(cfg) {}
  const Sam3VideoPlannerConfig& config() const { return cfg_; }
  const Sam3VideoPlannerState& state() const { return st_; }
  const std::vector<int64_t>& obj_ids() const { return st_.obj_ids; }

  // Plans one frame and updates the metadata. Throws eh::Error when the tracker rows do not match obj_ids().
  Sam3FramePlan plan(const Sam3PlannerFrame& in);

  // `_associate_det_trk` alone (det/trk mask logits, det probabilities, the masklets' ids).
  Sam3Association associate(const at::Tensor& det_masks, const at::Tensor& det_scores, const at::Tensor& trk_masks,
                            const std::vector<int64_t>& trk_obj_ids) const;

 private:
  std::set<int64_t> process_hotstart(int64_t frame_idx, bool reverse, const Sam3Association& a,
                                     const std::vector<int64_t>& new_obj_ids);
  Sam3VideoPlannerConfig cfg_;
  Sam3VideoPlannerState st_;
};

}  // namespace eh::models
