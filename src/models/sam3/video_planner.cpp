// SAM 3 video planning phase; see video_planner.h. Upstream: sam3/model/sam3_video_base.py at
// facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e (function names cited per step).
//
// Thresholds are compared the way upstream compares them: numpy float32 arrays against Python floats
// (value-based casting: in float32) and torch float tensors against Python scalars (in the tensor's dtype),
// so every threshold is used as a float here, and the torch-side comparisons go through the same ATen ops.
#include "models/sam3/video_planner.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <string>

#include "core/error.h"

namespace eh::models {

Sam3VideoPlannerConfig Sam3VideoPlannerConfig::from(Config& c) {
  Sam3VideoPlannerConfig s;
  auto i64 = [&](const char* k, int64_t& v) { v = c.get_or<int64_t>(k, v); };
  auto dbl = [&](const char* k, double& v) { v = c.get_or<double>(k, v); };
  auto bl = [&](const char* k, bool& v) { v = c.get_or<bool>(k, v); };
  dbl("assoc_iou_thresh", s.assoc_iou_thresh);
  dbl("trk_assoc_iou_thresh", s.trk_assoc_iou_thresh);
  dbl("new_det_thresh", s.new_det_thresh);
  i64("hotstart_delay", s.hotstart_delay);
  i64("hotstart_unmatch_thresh", s.hotstart_unmatch_thresh);
  i64("hotstart_dup_thresh", s.hotstart_dup_thresh);
  bl("suppress_unmatched_only_within_hotstart", s.suppress_unmatched_only_within_hotstart);
  i64("init_trk_keep_alive", s.init_trk_keep_alive);
  i64("max_trk_keep_alive", s.max_trk_keep_alive);
  i64("min_trk_keep_alive", s.min_trk_keep_alive);
  dbl("suppress_overlapping_based_on_recent_occlusion_threshold",
      s.suppress_overlapping_based_on_recent_occlusion_threshold);
  bl("decrease_trk_keep_alive_for_empty_masklets", s.decrease_trk_keep_alive_for_empty_masklets);
  bl("suppress_det_close_to_boundary", s.suppress_det_close_to_boundary);
  i64("max_num_objects", s.max_num_objects);
  i64("recondition_every_nth_frame", s.recondition_every_nth_frame);
  bl("masklet_confirmation_enable", s.masklet_confirmation_enable);
  i64("masklet_confirmation_consecutive_det_thresh", s.masklet_confirmation_consecutive_det_thresh);
  dbl("reconstruction_bbox_iou_thresh", s.reconstruction_bbox_iou_thresh);
  dbl("reconstruction_bbox_det_score", s.reconstruction_bbox_det_score);
  i64("input_mask_size", s.input_mask_size);
  bool o2o = c.get_or<bool>("o2o_matching_masklets_enable", false);
  // Settings of the video model that do not enter planning (detector-side or output-side).
  for (const char* k : {"score_threshold_detection", "det_nms_thresh", "fill_hole_area"}) c.ignore(k);
  c.finish();
  const std::string L = c.label();
  if (o2o)
    throw Error(L + ": o2o_matching_masklets_enable=true (Hungarian masklet matching) is not ported; expected false "
                    "as sam3.model_builder builds the video model");
  if (s.hotstart_delay > 0 &&
      (s.hotstart_unmatch_thresh > s.hotstart_delay || s.hotstart_dup_thresh > s.hotstart_delay))
    throw Error(L + ": hotstart_unmatch_thresh (" + std::to_string(s.hotstart_unmatch_thresh) +
                ") and hotstart_dup_thresh (" + std::to_string(s.hotstart_dup_thresh) +
                ") must be <= hotstart_delay (" + std::to_string(s.hotstart_delay) + ")");
  if (s.input_mask_size <= 0) throw Error(L + ": input_mask_size must be positive, found " + std::to_string(s.input_mask_size));
  return s;
}

at::Tensor sam3_mask_iou(const at::Tensor& a, const at::Tensor& b) {
  // sam3/perflib/masks_ops.py mask_iou: counts over flattened bool masks, union clamped to >= 1.
  const int64_t n = a.size(0), m = b.size(0);
  auto af = a.reshape({n, 1, -1}), bf = b.reshape({1, m, -1});
  auto inter = at::logical_and(af, bf).sum(2).to(at::kFloat);
  auto uni = at::logical_or(af, bf).sum(2).to(at::kFloat);
  return inter / uni.clamp_min(1);
}

at::Tensor sam3_boxes_away_from_boundary(const at::Tensor& boxes, double margin) {
  // _suppress_detections_close_to_boundary: box centres strictly inside [margin, 1 - margin].
  auto xc = (boxes.select(-1, 0) + boxes.select(-1, 2)) / 2;
  auto yc = (boxes.select(-1, 1) + boxes.select(-1, 3)) / 2;
  return xc.gt(margin) & xc.lt(1.0 - margin) & yc.gt(margin) & yc.lt(1.0 - margin);
}

namespace {

at::Tensor resize_bilinear(const at::Tensor& masks, at::IntArrayRef hw) {
  namespace F = torch::nn::functional;
  return F::interpolate(masks.unsqueeze(1), F::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{hw[0], hw[1]})
                                                .mode(torch::kBilinear)
                                                .align_corners(false))
      .squeeze(1);
}

bool contains(const std::vector<int64_t>& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// sam3/model/sam3_tracker_utils.py mask_to_box for one [H, W] bool mask: (x0, y0, x1, y1) pixel indices,
// zeros for an empty mask.
std::array<int64_t, 4> mask_box(const at::Tensor& m) {
  const int64_t h = m.size(0), w = m.size(1);
  auto a = m.contiguous().to(at::kBool);
  const bool* p = a.data_ptr<bool>();
  int64_t x0 = w, y0 = h, x1 = -1, y1 = -1;
  bool any = false;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      if (p[y * w + x]) {
        any = true;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  if (!any) return {0, 0, 0, 0};
  return {x0, y0, x1, y1};
}

void check_rows(const at::Tensor& t, int64_t dims, int64_t rows, const char* name, const std::string& want) {
  if (!t.defined() || t.dim() != dims || (rows >= 0 && t.size(0) != rows))
    throw Error(std::string("Sam3VideoPlanner::plan: ") + name + " expected " + want + ", found " +
                (t.defined() ? c10::str(t.sizes()) : std::string("undefined")));
}

}  // namespace

Sam3Association Sam3VideoPlanner::associate(const at::Tensor& det_masks_in, const at::Tensor& det_scores_in,
                                            const at::Tensor& trk_masks_in,
                                            const std::vector<int64_t>& trk_obj_ids) const {
  // _associate_det_trk (o2o_matching_masklets_enable=False: many masklets may match one detection).
  Sam3Association r;
  const int64_t n = det_masks_in.size(0), m = trk_masks_in.size(0);
  if (m != static_cast<int64_t>(trk_obj_ids.size()))
    throw Error("Sam3VideoPlanner::associate: trk_masks has " + std::to_string(m) + " rows, expected one per object (" +
                std::to_string(trk_obj_ids.size()) + ")");
  if (m == 0) {  // every detection is new, whatever its score (as upstream)
    r.new_det_inds.resize(n);
    std::iota(r.new_det_inds.begin(), r.new_det_inds.end(), 0);
    return r;
  }
  if (n == 0) {
    auto nonempty = trk_masks_in.gt(0).flatten(1).any(1).contiguous();
    for (int64_t j = 0; j < m; ++j)
      (nonempty[j].item<bool>() ? r.unmatched_trk_obj_ids : r.empty_trk_obj_ids).push_back(trk_obj_ids[j]);
    return r;
  }
  at::Tensor det_masks = det_masks_in.to(at::kFloat), trk_masks = trk_masks_in.to(at::kFloat);
  if (det_masks.sizes().slice(1) != trk_masks.sizes().slice(1)) {
    // resize to the smaller of the two (ties: detections to the tracker's size)
    if (det_masks.size(1) * det_masks.size(2) < trk_masks.size(1) * trk_masks.size(2))
      trk_masks = resize_bilinear(trk_masks, det_masks.sizes().slice(1));
    else
      det_masks = resize_bilinear(det_masks, trk_masks.sizes().slice(1));
  }
  auto trk_bin = trk_masks.gt(0);
  auto ious = sam3_mask_iou(det_masks.gt(0), trk_bin).contiguous();  // [N, M]
  auto scores = det_scores_in.to(at::kFloat).contiguous();
  const float* iou = ious.data_ptr<float>();
  const float* sc = scores.data_ptr<float>();
  const float thr = static_cast<float>(cfg_.assoc_iou_thresh), thr_trk = static_cast<float>(cfg_.trk_assoc_iou_thresh);
  const float thr_new = static_cast<float>(cfg_.new_det_thresh);
  constexpr float kHighConf = 0.8f, kHighIou = 0.8f;  // HIGH_CONF_THRESH, HIGH_IOU_THRESH

  auto nonempty = trk_bin.flatten(1).any(1).contiguous();
  for (int64_t j = 0; j < m; ++j) {
    bool matched = false;
    for (int64_t d = 0; d < n; ++d) matched = matched || iou[d * m + j] >= thr_trk;
    if (!nonempty[j].item<bool>())
      r.empty_trk_obj_ids.push_back(trk_obj_ids[j]);
    else if (!matched)
      r.unmatched_trk_obj_ids.push_back(trk_obj_ids[j]);
  }
  for (int64_t d = 0; d < n; ++d) {
    const float* row = iou + d * m;
    bool any_match = false;
    int64_t best = 0;  // first maximum, as np.argmax
    for (int64_t j = 0; j < m; ++j) {
      any_match = any_match || row[j] >= thr;
      if (row[j] > row[best]) best = j;
    }
    const bool is_new = sc[d] >= thr_new && !any_match;
    if (is_new) r.new_det_inds.push_back(d);
    auto& matched = r.det_to_matched_trk_obj_ids[d];
    for (int64_t j = 0; j < m; ++j)
      if (row[j] >= thr) matched.push_back(trk_obj_ids[j]);
    if (sc[d] >= kHighConf && !is_new && row[best] >= kHighIou) r.trk_id_to_max_iou_high_conf_det[trk_obj_ids[best]] = d;
  }
  return r;
}

std::set<int64_t> Sam3VideoPlanner::process_hotstart(int64_t frame_idx, bool reverse, const Sam3Association& a,
                                                     const std::vector<int64_t>& new_obj_ids) {
  // _process_hotstart: remove masklets that stay unmatched or duplicate another one during their first
  // hotstart_delay frames; mark masklets whose keep-alive ran out as suppressed (outputs only).
  auto& first = st_.obj_first_frame_idx;
  auto& keep = st_.trk_keep_alive;
  auto& suppressed = st_.suppressed_obj_ids[frame_idx];
  std::set<int64_t> newly;
  const int64_t diff = reverse ? frame_idx + cfg_.hotstart_delay : frame_idx - cfg_.hotstart_delay;
  auto within = [&](int64_t obj) { return reverse ? first.at(obj) < diff : first.at(obj) > diff; };

  for (int64_t id : new_obj_ids) {
    first.emplace(id, frame_idx);
    keep[id] = cfg_.init_trk_keep_alive;
  }
  std::set<int64_t> matched;
  for (const auto& [d, ids] : a.det_to_matched_trk_obj_ids) matched.insert(ids.begin(), ids.end());
  for (int64_t id : matched) keep[id] = std::min(cfg_.max_trk_keep_alive, keep[id] + 1);
  for (int64_t id : a.unmatched_trk_obj_ids) {
    st_.unmatched_frame_inds[id].push_back(frame_idx);
    keep[id] = std::max(cfg_.min_trk_keep_alive, keep[id] - 1);
  }
  if (cfg_.decrease_trk_keep_alive_for_empty_masklets)
    for (int64_t id : a.empty_trk_obj_ids) keep[id] = std::max(cfg_.min_trk_keep_alive, keep[id] - 1);

  for (const auto& [id, frames] : st_.unmatched_frame_inds) {
    if (st_.removed_obj_ids.count(id) || newly.count(id)) continue;
    if (static_cast<int64_t>(frames.size()) >= cfg_.hotstart_unmatch_thresh && within(id)) newly.insert(id);
    if (keep[id] <= 0 && !cfg_.suppress_unmatched_only_within_hotstart && !st_.removed_obj_ids.count(id) &&
        !newly.count(id))
      suppressed.insert(id);
  }

  // Duplicates: masklets matched to the same detection; the one that appeared first (ties: the earlier in the
  // matched list, as Python's min/max) is kept, the others count an overlap frame per such detection.
  for (const auto& [d, ids] : a.det_to_matched_trk_obj_ids) {
    if (ids.size() < 2) continue;
    int64_t keep_id = ids[0];
    for (int64_t id : ids)
      if (reverse ? first.at(id) > first.at(keep_id) : first.at(id) < first.at(keep_id)) keep_id = id;
    for (int64_t id : ids)
      if (id != keep_id) st_.overlap_pair_to_frame_inds[{keep_id, id}].push_back(frame_idx);
  }
  for (const auto& [pair, frames] : st_.overlap_pair_to_frame_inds) {
    const int64_t id = pair.second;
    if (st_.removed_obj_ids.count(id) || newly.count(id)) continue;
    if (within(id) && static_cast<int64_t>(frames.size()) >= cfg_.hotstart_dup_thresh) newly.insert(id);
  }
  st_.removed_obj_ids.insert(newly.begin(), newly.end());
  return newly;
}

Sam3FramePlan Sam3VideoPlanner::plan(const Sam3PlannerFrame& in) {
  // run_tracker_update_planning_phase (+ the metadata tail of _det_track_one_frame).
  torch::NoGradGuard no_grad;
  const int64_t t = in.frame_idx;
  const int64_t m = static_cast<int64_t>(st_.obj_ids.size());
  check_rows(in.det_masks, 3, -1, "det_masks", "[N, H, W] mask logits");
  const int64_t n = in.det_masks.size(0);
  check_rows(in.det_scores, 1, n, "det_scores", "[" + std::to_string(n) + "] probabilities");
  check_rows(in.det_boxes, 2, n, "det_boxes", "[" + std::to_string(n) + ", 4] normalised xyxy");
  check_rows(in.trk_masks, 3, m, "trk_masks", "[" + std::to_string(m) + ", h, w] mask logits (one per tracked object)");
  check_rows(in.trk_scores, 1, m, "trk_scores", "[" + std::to_string(m) + "] object-score logits");
  const std::vector<int64_t> prev_ids = st_.obj_ids;
  auto det_scores = in.det_scores.to(at::kFloat).contiguous();
  auto trk_scores = in.trk_scores.to(at::kFloat).contiguous();
  const float* sc = det_scores.data_ptr<float>();

  Sam3FramePlan p;
  // a) association, boundary suppression, object limit
  Sam3Association a = associate(in.det_masks, det_scores, in.trk_masks, prev_ids);
  std::vector<int64_t> new_inds = a.new_det_inds;
  if (cfg_.suppress_det_close_to_boundary && !new_inds.empty()) {
    auto idx = torch::tensor(new_inds, torch::kLong);
    auto keep = sam3_boxes_away_from_boundary(in.det_boxes.to(at::kFloat).index_select(0, idx)).contiguous();
    std::vector<int64_t> kept;
    for (size_t i = 0; i < new_inds.size(); ++i)
      if (keep[static_cast<int64_t>(i)].item<bool>()) kept.push_back(new_inds[i]);
    new_inds = kept;
  }
  const int64_t limit = cfg_.object_limit();
  if (!in.is_image_only && m + static_cast<int64_t>(new_inds.size()) > limit) {
    // _drop_new_det_with_obj_limit: keep the highest-scoring ones, in descending score order. np.argsort's
    // default sort is an insertion sort (stable) for <= 16 elements; ties then come out last index first.
    const int64_t to_keep = limit - m;
    if (to_keep < 0) throw Error("Sam3VideoPlanner::plan: " + std::to_string(m) + " objects already exceed max_num_objects");
    p.num_obj_dropped_due_to_limit = static_cast<int64_t>(new_inds.size()) - to_keep;
    if (to_keep == 0) {
      new_inds.clear();
    } else if (to_keep < static_cast<int64_t>(new_inds.size())) {
      std::vector<int64_t> order(new_inds.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return sc[new_inds[x]] < sc[new_inds[y]]; });
      std::reverse(order.begin(), order.end());
      std::vector<int64_t> kept;
      for (int64_t i = 0; i < to_keep; ++i) kept.push_back(new_inds[order[i]]);
      new_inds = kept;
    }
  }
  p.new_det_inds = new_inds;
  for (size_t i = 0; i < new_inds.size(); ++i) p.new_obj_ids.push_back(st_.max_obj_id + 1 + static_cast<int64_t>(i));

  // b) hot-start removal and keep-alive suppression
  p.removed_obj_ids = process_hotstart(t, in.reverse, a, p.new_obj_ids);
  p.output_suppressed_obj_ids = st_.suppressed_obj_ids[t];
  p.unmatched_trk_obj_ids = a.unmatched_trk_obj_ids;
  p.empty_trk_obj_ids = a.empty_trk_obj_ids;
  p.det_to_matched_trk_obj_ids = a.det_to_matched_trk_obj_ids;
  p.trk_id_to_max_iou_high_conf_det = a.trk_id_to_max_iou_high_conf_det;

  // c) reconditioning from high-confidence detections: when the masklet's box disagrees with the detection's
  // (reconstruction_bbox_iou_thresh > 0) or every recondition_every_nth_frame frames.
  auto index_of = [&](int64_t id) {
    return static_cast<int64_t>(std::find(prev_ids.begin(), prev_ids.end(), id) - prev_ids.begin());
  };
  bool by_iou = false;
  if (cfg_.reconstruction_bbox_iou_thresh > 0 && !a.trk_id_to_max_iou_high_conf_det.empty()) {
    for (const auto& [id, d] : a.trk_id_to_max_iou_high_conf_det) {
      auto mask = in.trk_masks[index_of(id)].gt(0);
      if (!mask.any().item<bool>()) continue;
      auto b = mask_box(mask);
      const float h = static_cast<float>(mask.size(0)), w = static_cast<float>(mask.size(1));
      auto trk_box = torch::tensor({b[0] / w, b[1] / h, b[2] / w, b[3] / h}, torch::kFloat).unsqueeze(0);
      auto det_box = in.det_boxes[d].to(at::kFloat).unsqueeze(0);
      // fast_diag_box_iou (sam3/model/box_ops.py)
      auto area1 = (det_box.slice(1, 2) - det_box.slice(1, 0, 2)).prod(-1);
      auto area2 = (trk_box.slice(1, 2) - trk_box.slice(1, 0, 2)).prod(-1);
      auto lt = at::max(det_box.slice(1, 0, 2), trk_box.slice(1, 0, 2));
      auto rb = at::min(det_box.slice(1, 2), trk_box.slice(1, 2));
      auto inter = (rb - lt).clamp_min(0).prod(-1);
      auto iou = (inter / (area1 + area2 - inter))[0];
      if (iou.lt(cfg_.reconstruction_bbox_iou_thresh).item<bool>() &&
          det_scores[d].ge(cfg_.reconstruction_bbox_det_score).item<bool>()) {
        by_iou = true;
        p.reconditioned_obj_ids.insert(id);
      }
    }
  }
  const bool periodic = cfg_.recondition_every_nth_frame > 0 && t % cfg_.recondition_every_nth_frame == 0 &&
                        !a.trk_id_to_max_iou_high_conf_det.empty();
  p.recondition = periodic || by_iou;
  if (p.recondition) {
    // _recondition_masklets: the detection mask at input_mask_size, binarised, for masklets the tracker is
    // confident about (object-score logit > HIGH_CONF_THRESH = 0.8).
    std::vector<at::Tensor> masks;
    for (const auto& [id, d] : a.trk_id_to_max_iou_high_conf_det) {
      if (!trk_scores[index_of(id)].gt(0.8).item<bool>()) continue;
      auto mk = resize_bilinear(in.det_masks.slice(0, d, d + 1).to(at::kFloat),
                                {cfg_.input_mask_size, cfg_.input_mask_size})[0]
                    .gt(0);
      p.recondition_obj_ids.push_back(id);
      p.recondition_det_inds.push_back(d);
      masks.push_back(mk);
    }
    p.recondition_masks = masks.empty() ? torch::zeros({0, cfg_.input_mask_size, cfg_.input_mask_size}, torch::kBool)
                                        : torch::stack(masks);
  }

  // d) suppression of overlapping masklets by recent occlusion, before memory encoding
  // (_suppress_overlapping_based_on_recent_occlusion, _get_objects_to_suppress_based_on_most_recently_occluded)
  std::map<int64_t, int64_t> last_occluded_new;
  if (m > 0) {
    p.masks_for_memory = in.trk_masks;
    if (cfg_.suppress_overlapping_based_on_recent_occlusion_threshold > 0.0) {
      constexpr int64_t kNever = -1, kAlways = 100000;  // NEVER_OCCLUDED, ALWAYS_OCCLUDED (removed by hot-start)
      std::vector<int64_t> last(m);
      for (int64_t i = 0; i < m; ++i) {
        auto it = st_.obj_id_to_last_occluded.find(prev_ids[i]);
        last[i] = it != st_.obj_id_to_last_occluded.end() ? it->second
                                                          : (p.removed_obj_ids.count(prev_ids[i]) ? kAlways : kNever);
      }
      auto bin = in.trk_masks.gt(0);
      std::vector<bool> suppress(m, false);
      if (m > 1) {
        // pairs i < j overlapping at IoU >= threshold: the more recently occluded one is suppressed (the less
        // recently one in reverse), provided the other one was occluded at some point
        auto over = sam3_mask_iou(bin, bin).ge(cfg_.suppress_overlapping_based_on_recent_occlusion_threshold).contiguous();
        const bool* ov = over.data_ptr<bool>();
        auto later = [&](int64_t x, int64_t y) { return in.reverse ? x < y : x > y; };
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = i + 1; j < m; ++j) {
            if (!ov[i * m + j]) continue;
            if (later(last[i], last[j]) && last[j] > -1) suppress[i] = true;
            if (later(last[j], last[i]) && last[i] > -1) suppress[j] = true;
          }
      }
      auto occluded = bin.flatten(1).any(1).logical_not().contiguous();
      std::vector<int64_t> rows;
      for (int64_t i = 0; i < m; ++i) {
        if (occluded[i].item<bool>() || suppress[i]) last[i] = t;
        last_occluded_new[prev_ids[i]] = last[i];
        if (suppress[i]) {
          rows.push_back(i);
          p.occlusion_suppressed_obj_ids.push_back(prev_ids[i]);
        }
      }
      if (!rows.empty()) {
        p.masks_for_memory = in.trk_masks.clone();
        p.masks_for_memory.index_fill_(0, torch::tensor(rows, torch::kLong), -10);  // NO_OBJ_LOGIT
      }
    }
  }
  st_.obj_id_to_last_occluded = last_occluded_new;

  // e) metadata: objects, scores, max id, confirmation status
  std::vector<int64_t> ids = prev_ids;
  ids.insert(ids.end(), p.new_obj_ids.begin(), p.new_obj_ids.end());
  ids.erase(std::remove_if(ids.begin(), ids.end(), [&](int64_t id) { return p.removed_obj_ids.count(id) > 0; }),
            ids.end());
  for (size_t i = 0; i < p.new_obj_ids.size(); ++i) {
    st_.obj_id_to_score[p.new_obj_ids[i]] = sc[p.new_det_inds[i]];
    st_.obj_id_to_tracker_score_frame_wise[t][p.new_obj_ids[i]] = sc[p.new_det_inds[i]];
    st_.max_obj_id = std::max(st_.max_obj_id, p.new_obj_ids[i]);
  }
  for (int64_t id : p.removed_obj_ids) {
    st_.obj_id_to_score[id] = -1e4f;
    st_.obj_id_to_tracker_score_frame_wise[t][id] = -1e4f;
    st_.obj_id_to_last_occluded.erase(id);
  }
  if (cfg_.masklet_confirmation_enable) {
    // update_masklet_confirmation_status: carried over for surviving masklets, UNCONFIRMED for new ones;
    // matched (or new) this frame -> one more consecutive detection, else back to 0.
    std::vector<int64_t> status(ids.size(), static_cast<int64_t>(Sam3MaskletStatus::Unconfirmed)), count(ids.size(), 0);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = std::find(prev_ids.begin(), prev_ids.end(), ids[i]);
      if (it != prev_ids.end()) {
        status[i] = st_.confirmation_status[it - prev_ids.begin()];
        count[i] = st_.consecutive_det_num[it - prev_ids.begin()];
      }
      bool matched = contains(p.new_obj_ids, ids[i]);
      for (const auto& [d, mids] : a.det_to_matched_trk_obj_ids) matched = matched || contains(mids, ids[i]);
      count[i] = matched ? count[i] + 1 : 0;
      if (count[i] >= cfg_.masklet_confirmation_consecutive_det_thresh)
        status[i] = static_cast<int64_t>(Sam3MaskletStatus::Confirmed);
    }
    st_.confirmation_status = status;
    st_.consecutive_det_num = count;
  }
  st_.obj_ids = ids;
  p.obj_ids = ids;

  // _det_track_one_frame: the previous objects' tracker probabilities for this frame (after the planning
  // phase, so they overwrite the -1e4 of objects removed on this frame).
  if (m > 0) {
    auto prob = trk_scores.sigmoid().contiguous();
    for (int64_t i = 0; i < m; ++i) st_.obj_id_to_tracker_score_frame_wise[t][prev_ids[i]] = prob[i].item<float>();
  }
  return p;
}

}  // namespace eh::models
