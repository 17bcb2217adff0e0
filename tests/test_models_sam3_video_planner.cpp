// SAM 3 video planning (Sam3VideoPlanner) against upstream's own Sam3VideoBase planning phase, replayed frame
// by frame over the synthetic sequences in tests/data/sam3_video_planner (tools/fixtures/sam3_video_planner/gen.py):
// every frame's plan and the metadata after it must be equal -- ids, sets, maps exactly, and the floats too
// (scores are copied or come out of the same fp32 ops; masks are thresholded or copied), see the README.
// Plus deliberate mistakes (other thresholds must change some frame's plan) and hand-computed IoU matching.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor_io.h"
#include "models/sam3/video_planner.h"

namespace fs = std::filesystem;
using eh::models::Sam3FramePlan;
using eh::models::Sam3PlannerFrame;
using eh::models::Sam3VideoPlanner;
using eh::models::Sam3VideoPlannerConfig;
using nlohmann::json;

namespace {

const fs::path kDir = fs::path(EH_TEST_DATA_DIR "/sam3_video_planner");

json load_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

Sam3VideoPlannerConfig load_config(const std::string& scenario, const json& patch = json::object()) {
  json j = load_json(kDir / ("config_" + scenario + ".json"));
  for (auto it = patch.begin(); it != patch.end(); ++it) j[it.key()] = it.value();
  eh::Config c(j, "config_" + scenario + ".json");
  return Sam3VideoPlannerConfig::from(c);
}

std::vector<int64_t> ints(const json& j) { return j.get<std::vector<int64_t>>(); }
template <class T>
std::vector<int64_t> vec(const T& s) { return std::vector<int64_t>(s.begin(), s.end()); }
std::map<int64_t, int64_t> int_map(const json& j) {
  std::map<int64_t, int64_t> m;
  for (auto it = j.begin(); it != j.end(); ++it) m[std::stoll(it.key())] = it.value().get<int64_t>();
  return m;
}
std::map<int64_t, float> float_map(const json& j) {
  std::map<int64_t, float> m;
  for (auto it = j.begin(); it != j.end(); ++it) m[std::stoll(it.key())] = static_cast<float>(it.value().get<double>());
  return m;
}

// Compares one frame; appends a description of every difference to `diff`.
void compare(const json& ref, const Sam3FramePlan& p, const Sam3VideoPlanner& planner, const at::Tensor& trk_masks,
             const eh::st::File& io, std::ostringstream& diff) {
  const std::string pre = "f" + std::to_string(ref["frame_idx"].get<int64_t>()) + ".";
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) diff << pre << what << " differs; ";
  };
  check(ints(ref["new_det_inds"]) == p.new_det_inds, "new_det_inds");
  check(ints(ref["new_obj_ids"]) == p.new_obj_ids, "new_obj_ids");
  check(ints(ref["unmatched_trk_obj_ids"]) == p.unmatched_trk_obj_ids, "unmatched_trk_obj_ids");
  check(ints(ref["empty_trk_obj_ids"]) == p.empty_trk_obj_ids, "empty_trk_obj_ids");
  std::map<int64_t, std::vector<int64_t>> d2t;
  for (auto it = ref["det_to_matched_trk_obj_ids"].begin(); it != ref["det_to_matched_trk_obj_ids"].end(); ++it)
    d2t[std::stoll(it.key())] = ints(it.value());
  check(d2t == p.det_to_matched_trk_obj_ids, "det_to_matched_trk_obj_ids");
  check(int_map(ref["trk_id_to_max_iou_high_conf_det"]) == p.trk_id_to_max_iou_high_conf_det,
        "trk_id_to_max_iou_high_conf_det");
  check(ints(ref["removed_obj_ids"]) == vec(p.removed_obj_ids), "removed_obj_ids");
  check(ref["num_obj_dropped_due_to_limit"].get<int64_t>() == p.num_obj_dropped_due_to_limit,
        "num_obj_dropped_due_to_limit");
  check(ints(ref["reconditioned_obj_ids"]) == vec(p.reconditioned_obj_ids), "reconditioned_obj_ids");
  check(ref["recondition"].get<bool>() == p.recondition, "recondition");
  check(ints(ref["recondition_obj_ids"]) == p.recondition_obj_ids, "recondition_obj_ids");
  if (io.contains(pre + "recondition_masks"))
    check(p.recondition_masks.defined() && torch::equal(eh::read_tensor(io, pre + "recondition_masks"), p.recondition_masks),
          "recondition_masks");
  check(ints(ref["occlusion_suppressed_obj_ids"]) == p.occlusion_suppressed_obj_ids, "occlusion_suppressed_obj_ids");
  if (ref["has_masks_for_memory"].get<bool>()) {
    at::Tensor want = io.contains(pre + "masks_for_memory") ? eh::read_tensor(io, pre + "masks_for_memory") : trk_masks;
    check(p.masks_for_memory.defined() && torch::equal(want, p.masks_for_memory), "masks_for_memory");
  } else {
    check(!p.masks_for_memory.defined(), "masks_for_memory (none expected)");
  }
  check(ints(ref["output_suppressed_obj_ids"]) == vec(p.output_suppressed_obj_ids), "output_suppressed_obj_ids");
  check(ref["num_obj_tracked"].get<int64_t>() == static_cast<int64_t>(p.obj_ids.size()), "num_obj_tracked");

  const auto& s = ref["state"];
  const auto& st = planner.state();
  const int64_t t = ref["frame_idx"].get<int64_t>();
  check(ints(s["obj_ids"]) == st.obj_ids && st.obj_ids == p.obj_ids, "state.obj_ids");
  check(s["max_obj_id"].get<int64_t>() == st.max_obj_id, "state.max_obj_id");
  check(float_map(s["obj_id_to_score"]) == st.obj_id_to_score, "state.obj_id_to_score");
  auto fw = st.obj_id_to_tracker_score_frame_wise.find(t);
  check(float_map(s["tracker_scores_this_frame"]) ==
            (fw == st.obj_id_to_tracker_score_frame_wise.end() ? std::map<int64_t, float>{} : fw->second),
        "state.tracker_scores_this_frame");
  check(int_map(s["obj_id_to_last_occluded"]) == st.obj_id_to_last_occluded, "state.obj_id_to_last_occluded");
  check(int_map(s["obj_first_frame_idx"]) == st.obj_first_frame_idx, "state.obj_first_frame_idx");
  std::map<int64_t, std::vector<int64_t>> unm;
  for (auto it = s["unmatched_frame_inds"].begin(); it != s["unmatched_frame_inds"].end(); ++it)
    unm[std::stoll(it.key())] = ints(it.value());
  check(unm == st.unmatched_frame_inds, "state.unmatched_frame_inds");
  check(int_map(s["trk_keep_alive"]) == st.trk_keep_alive, "state.trk_keep_alive");
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> ov;
  for (const auto& e : s["overlap_pair_to_frame_inds"]) ov[{e[0].get<int64_t>(), e[1].get<int64_t>()}] = ints(e[2]);
  check(ov == st.overlap_pair_to_frame_inds, "state.overlap_pair_to_frame_inds");
  check(ints(s["removed_obj_ids"]) == vec(st.removed_obj_ids), "state.removed_obj_ids");
  if (s.contains("confirmation_status")) {
    check(ints(s["confirmation_status"]) == st.confirmation_status, "state.confirmation_status");
    check(ints(s["consecutive_det_num"]) == st.consecutive_det_num, "state.consecutive_det_num");
  }
}

struct Replay {
  int64_t frames = 0;             // frames replayed
  int64_t first_diff_frame = -1;  // frame_idx of the first differing plan, -1: none
  std::string diff;
};

// Replays a scenario through the C++ planner; stops at the first frame whose plan differs (the stored tracker
// rows belong to upstream's objects, so a diverged planner cannot go on).
Replay replay(const std::string& scenario, const Sam3VideoPlannerConfig& cfg) {
  const json plans = load_json(kDir / ("plans_" + scenario + ".json"));
  const auto io = eh::st::File::open((kDir / ("io_" + scenario + ".safetensors")).string());
  Sam3VideoPlanner planner(cfg);
  Replay r;
  for (const auto& ref : plans["frames"]) {
    const std::string pre = "f" + std::to_string(ref["frame_idx"].get<int64_t>()) + ".";
    Sam3PlannerFrame in;
    in.frame_idx = ref["frame_idx"].get<int64_t>();
    in.reverse = plans["reverse"].get<bool>();
    in.det_masks = eh::read_tensor(io, pre + "det_masks");
    in.det_scores = eh::read_tensor(io, pre + "det_scores");
    in.det_boxes = eh::read_tensor(io, pre + "det_boxes");
    in.trk_masks = eh::read_tensor(io, pre + "trk_masks");
    in.trk_scores = eh::read_tensor(io, pre + "trk_scores");
    ++r.frames;
    std::ostringstream diff;
    if (static_cast<int64_t>(planner.obj_ids().size()) != in.trk_masks.size(0)) {
      diff << pre << "object count " << planner.obj_ids().size() << " vs upstream's " << in.trk_masks.size(0);
    } else {
      const at::Tensor trk_before = in.trk_masks.clone();
      Sam3FramePlan p = planner.plan(in);
      compare(ref, p, planner, trk_before, io, diff);
      if (!torch::equal(trk_before, in.trk_masks)) diff << pre << "input trk_masks modified; ";
    }
    if (!diff.str().empty()) {
      r.first_diff_frame = in.frame_idx;
      r.diff = diff.str();
      return r;
    }
  }
  return r;
}

class Sam3VideoPlannerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(kDir / "plans_builder.json")) GTEST_SKIP() << "fixture missing: " << kDir;
  }
};

TEST_P(Sam3VideoPlannerTest, EveryFramesPlanEqualsUpstream) {
  const Replay r = replay(GetParam(), load_config(GetParam()));
  EXPECT_GE(r.frames, 12);
  EXPECT_EQ(r.first_diff_frame, -1) << r.diff;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Sam3VideoPlannerTest, ::testing::Values("builder", "variant", "reverse"));

// The fixture covers what it is meant to (so the replay above is not vacuous).
TEST(Sam3VideoPlanner, FixtureExercisesTheHeuristics) {
  if (!fs::exists(kDir / "plans_builder.json")) GTEST_SKIP() << "fixture missing: " << kDir;
  std::map<std::string, int64_t> seen;
  for (const char* s : {"builder", "variant", "reverse"}) {
    const json plans = load_json(kDir / ("plans_" + std::string(s) + ".json"));
    for (const auto& f : plans["frames"]) {
      seen["new"] += !f["new_obj_ids"].empty();
      seen["unmatched"] += !f["unmatched_trk_obj_ids"].empty();
      seen["empty"] += !f["empty_trk_obj_ids"].empty();
      seen["removed"] += !f["removed_obj_ids"].empty();
      seen["dropped"] += f["num_obj_dropped_due_to_limit"].get<int64_t>() > 0;
      seen["recondition_calls"] += !f["recondition_obj_ids"].empty();
      seen["reconditioned_by_box"] += !f["reconditioned_obj_ids"].empty();
      seen["occlusion"] += !f["occlusion_suppressed_obj_ids"].empty();
      seen["keep_alive"] += !f["output_suppressed_obj_ids"].empty();
      bool dup = false;
      for (const auto& e : f["det_to_matched_trk_obj_ids"]) dup = dup || e.size() >= 2;
      seen["many_to_one"] += dup;
      if (f["state"].contains("confirmation_status"))
        for (const auto& v : f["state"]["confirmation_status"]) seen["confirmed"] += v.get<int64_t>() == 2;
    }
  }
  for (const char* k : {"new", "unmatched", "empty", "removed", "dropped", "recondition_calls", "reconditioned_by_box",
                        "occlusion", "keep_alive", "many_to_one", "confirmed"})
    EXPECT_GT(seen[k], 0) << k;
}

// Deliberate mistakes: a planner with another threshold must disagree with upstream on some frame.
TEST(Sam3VideoPlanner, OtherThresholdsGiveAnotherPlan) {
  if (!fs::exists(kDir / "plans_builder.json")) GTEST_SKIP() << "fixture missing: " << kDir;
  for (const auto& [scenario, patch] : std::vector<std::pair<std::string, json>>{
           {"builder", {{"assoc_iou_thresh", 0.3}}},
           {"builder", {{"trk_assoc_iou_thresh", 0.7}}},
           {"builder", {{"new_det_thresh", 0.9}}},
           {"builder", {{"hotstart_dup_thresh", 9}}},
           {"builder", {{"suppress_overlapping_based_on_recent_occlusion_threshold", 0.0}}},
           {"variant", {{"max_num_objects", 9}}},
           {"variant", {{"suppress_det_close_to_boundary", false}}},
           {"variant", {{"reconstruction_bbox_iou_thresh", 0.5}}},
           {"reverse", {{"min_trk_keep_alive", -3}}},
       }) {
    const Replay r = replay(scenario, load_config(scenario, patch));
    EXPECT_GE(r.first_diff_frame, 0) << scenario << " with " << patch.dump() << " still matches upstream";
  }
}

// Mask logits from a 0/1 pattern (1 -> +1, 0 -> -1).
at::Tensor logits(const std::vector<std::vector<int>>& rows) {
  std::vector<float> v;
  for (const auto& r : rows)
    for (int x : r) v.push_back(x ? 1.f : -1.f);
  return torch::tensor(v).reshape({1, static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
}

TEST(Sam3VideoPlanner, HandComputedAssociation) {
  // 4x4 masks. det0: columns 0-1 (8 px); det1: column 3 + rows 0-1 of column 2 (6 px); det2: row 3 (4 px),
  // score 0.9; det3: same as det2 with score 0.6; det4: column 0 only (4 px) score 0.95.
  // trk0 (id 10): columns 0-2 (12 px); trk1 (id 11): column 3 (4 px); trk2 (id 12): empty; trk3 (id 13): rows 0-1
  // of column 0 and 1 (4 px).
  auto det = torch::cat({logits({{1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}}),
                         logits({{0, 0, 1, 1}, {0, 0, 1, 1}, {0, 0, 0, 1}, {0, 0, 0, 1}}),
                         logits({{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {1, 1, 1, 1}}),
                         logits({{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {1, 1, 1, 1}}),
                         logits({{1, 0, 0, 0}, {1, 0, 0, 0}, {1, 0, 0, 0}, {1, 0, 0, 0}})});
  auto trk = torch::cat({logits({{1, 1, 1, 0}, {1, 1, 1, 0}, {1, 1, 1, 0}, {1, 1, 1, 0}}),
                         logits({{0, 0, 0, 1}, {0, 0, 0, 1}, {0, 0, 0, 1}, {0, 0, 0, 1}}),
                         logits({{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}}),
                         logits({{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}})});
  auto scores = torch::tensor({0.9f, 0.95f, 0.9f, 0.6f, 0.95f});
  // IoUs: det0/trk0 8/12, det0/trk3 4/8; det1/trk0 2/16, det1/trk1 4/6, det1/trk3 0; det2/trk0 3/13, det2/trk1 1/7;
  // det4/trk0 4/12, det4/trk3 2/6; everything with the empty trk2 is 0 (0 / max(union, 1)).
  auto iou = eh::models::sam3_mask_iou(det.gt(0), trk.gt(0));
  const float want[5][4] = {{8.f / 12, 0, 0, 4.f / 8}, {2.f / 16, 4.f / 6, 0, 0}, {3.f / 13, 1.f / 7, 0, 0},
                            {3.f / 13, 1.f / 7, 0, 0}, {4.f / 12, 0, 0, 2.f / 6}};
  for (int d = 0; d < 5; ++d)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(iou[d][j].item<float>(), want[d][j]) << d << "," << j;
  EXPECT_EQ(eh::models::sam3_mask_iou(trk.slice(0, 2, 3).gt(0), trk.slice(0, 2, 3).gt(0)).item<float>(), 0.f);

  Sam3VideoPlannerConfig cfg;  // assoc 0.1, trk_assoc 0.5, new_det 0.7
  Sam3VideoPlanner planner(cfg);
  auto a = planner.associate(det, scores, trk, {10, 11, 12, 13});
  // det0 (0.667, 0.5) -> {10, 13}; det1 (0.125, 0.667) -> {10, 11}; det2/det3 (0.23, 0.14) -> {10, 11};
  // det4 (0.333, 0.333) -> {10, 13}: every detection matches something at >= 0.1, so none is new.
  EXPECT_TRUE(a.new_det_inds.empty());
  EXPECT_EQ(a.det_to_matched_trk_obj_ids.at(0), (std::vector<int64_t>{10, 13}));
  EXPECT_EQ(a.det_to_matched_trk_obj_ids.at(1), (std::vector<int64_t>{10, 11}));
  EXPECT_EQ(a.det_to_matched_trk_obj_ids.at(3), (std::vector<int64_t>{10, 11}));
  // trk0 and trk1 reach 0.5 (det0, det1), trk3 reaches 0.5 exactly with det0; trk2 is empty.
  EXPECT_TRUE(a.unmatched_trk_obj_ids.empty());
  EXPECT_EQ(a.empty_trk_obj_ids, (std::vector<int64_t>{12}));
  EXPECT_TRUE(a.trk_id_to_max_iou_high_conf_det.empty());  // no IoU reaches 0.8

  // Stricter: assoc 0.3 and trk_assoc 0.6. det2 (0.23) and det3 match nothing: det2 (0.9) is new, det3 (0.6 < 0.7)
  // is not; trk3 (best 0.5) becomes unmatched.
  cfg.assoc_iou_thresh = 0.3;
  cfg.trk_assoc_iou_thresh = 0.6;
  auto b = Sam3VideoPlanner(cfg).associate(det, scores, trk, {10, 11, 12, 13});
  EXPECT_EQ(b.new_det_inds, (std::vector<int64_t>{2}));
  EXPECT_EQ(b.det_to_matched_trk_obj_ids.at(0), (std::vector<int64_t>{10, 13}));
  EXPECT_EQ(b.det_to_matched_trk_obj_ids.at(1), (std::vector<int64_t>{11}));
  EXPECT_TRUE(b.det_to_matched_trk_obj_ids.at(2).empty());
  EXPECT_EQ(b.det_to_matched_trk_obj_ids.at(4), (std::vector<int64_t>{10, 13}));
  EXPECT_EQ(b.unmatched_trk_obj_ids, (std::vector<int64_t>{13}));

  // A detection equal to a masklet (IoU 1 >= 0.8) with score >= 0.8 maps that masklet to it; the later of two
  // such detections wins.
  auto c = planner.associate(torch::cat({trk.slice(0, 1, 2), trk.slice(0, 1, 2)}), torch::tensor({0.85f, 0.9f}), trk,
                             {10, 11, 12, 13});
  EXPECT_EQ(c.trk_id_to_max_iou_high_conf_det, (std::map<int64_t, int64_t>{{11, 1}}));

  // No masklets: every detection is new, even below new_det_thresh. No detections: non-empty masklets unmatched.
  auto d = planner.associate(det, scores, trk.slice(0, 0, 0), {});
  EXPECT_EQ(d.new_det_inds, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  auto e = planner.associate(det.slice(0, 0, 0), scores.slice(0, 0, 0), trk, {10, 11, 12, 13});
  EXPECT_EQ(e.unmatched_trk_obj_ids, (std::vector<int64_t>{10, 11, 13}));
  EXPECT_EQ(e.empty_trk_obj_ids, (std::vector<int64_t>{12}));
}

TEST(Sam3VideoPlanner, BoundaryObjectLimitAndErrors) {
  // centres at x 0.02 (dropped), x 0.03 (kept), 0.5 (kept), y 0.98 (dropped); the margin is 0.025
  auto boxes = torch::tensor({0.0f, 0.4f, 0.04f, 0.6f, 0.0f, 0.4f, 0.06f, 0.6f, 0.4f, 0.4f, 0.6f, 0.6f, 0.4f, 0.96f,
                              0.6f, 1.0f})
                   .reshape({4, 4});
  auto keep = eh::models::sam3_boxes_away_from_boundary(boxes);
  EXPECT_EQ(vec(std::vector<bool>{keep[0].item<bool>(), keep[1].item<bool>(), keep[2].item<bool>(), keep[3].item<bool>()}),
            (std::vector<int64_t>{0, 1, 1, 0}));

  // object limit 2 with 3 new detections on an empty video: the two highest scores, in descending order
  Sam3VideoPlannerConfig cfg;
  cfg.max_num_objects = 2;
  Sam3VideoPlanner planner(cfg);
  Sam3PlannerFrame in;
  in.det_masks = torch::ones({3, 4, 4});
  in.det_scores = torch::tensor({0.8f, 0.95f, 0.9f});
  in.det_boxes = torch::tensor({0.4f, 0.4f, 0.6f, 0.6f}).repeat({3, 1});
  in.trk_masks = torch::zeros({0, 4, 4});
  in.trk_scores = torch::zeros({0});
  auto p = planner.plan(in);
  EXPECT_EQ(p.new_det_inds, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(p.new_obj_ids, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(p.num_obj_dropped_due_to_limit, 1);
  // the next frame must bring one tracker row per object
  in.frame_idx = 1;
  EXPECT_THROW(planner.plan(in), eh::Error);

  auto bad = [](json j) {
    eh::Config c(std::move(j), "bad.json");
    return Sam3VideoPlannerConfig::from(c);
  };
  EXPECT_THROW(bad({{"o2o_matching_masklets_enable", true}}), eh::Error);
  EXPECT_THROW(bad({{"assoc_iou_thresh_typo", 0.1}}), eh::Error);
  EXPECT_THROW(bad({{"hotstart_delay", 4}, {"hotstart_unmatch_thresh", 5}}), eh::Error);
  EXPECT_NO_THROW(bad({{"score_threshold_detection", 0.5}, {"det_nms_thresh", 0.1}}));
}

}  // namespace
