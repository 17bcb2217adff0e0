// Whole-sequence checks: a long synthetic sequence (3000 frames x 30 objects) evaluates
// correctly (no timing is asserted here; `edgeherd bench --suite metrics` times it), invariants
// that hold for any input, and the JSON / table renderings.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/evaluate.h"

namespace {

using eh::eval::TrackSet;

TEST(EvalSequence, LongPerfectSequence) {
  const TrackSet gt = eh::eval::make_synthetic_sequence({3000, 30, 7});
  ASSERT_EQ(gt.num_detections(), 90000u);
  TrackSet pred = gt;
  pred.source = "copy";
  const auto r = eh::eval::evaluate_mot(gt, pred);
  // Perfect tracking: every box matched with IoU 1, no switch, no error.
  EXPECT_EQ(r.clear.num_frames, 3000);
  EXPECT_EQ(r.clear.num_objects, 90000);
  EXPECT_EQ(r.clear.num_matches, 90000);
  EXPECT_EQ(r.clear.num_switches, 0);
  EXPECT_DOUBLE_EQ(r.clear.mota, 1.0);
  // Identical boxes: intersection and areas are the same products, so IoU is exactly 1.
  EXPECT_DOUBLE_EQ(r.clear.motp, 0.0);
  EXPECT_EQ(r.clear.mostly_tracked, 30);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 1.0);
  EXPECT_DOUBLE_EQ(r.hota.HOTA, 1.0);
  EXPECT_DOUBLE_EQ(r.hota.LocA, 1.0);
}

TEST(EvalSequence, LongPerturbedSequenceInvariants) {
  const TrackSet gt = eh::eval::make_synthetic_sequence({3000, 30, 7});
  const TrackSet pred = eh::eval::perturb(gt, {});
  const auto r = eh::eval::evaluate_mot(gt, pred);
  const auto& c = r.clear;
  // Every GT box is matched, switched or missed; every predicted box matched, switched or FP.
  EXPECT_EQ(c.num_matches + c.num_switches + c.num_misses, c.num_objects);
  EXPECT_EQ(c.num_matches + c.num_switches + c.num_false_positives, c.num_predictions);
  EXPECT_EQ(c.mostly_tracked + c.partially_tracked + c.mostly_lost, c.num_unique_objects);
  // The perturbation drops ~2% of boxes, adds one far-away false positive per frame (3000) and
  // renames every 5th object each 500 frames, so all of these are strictly between 0 and 1.
  EXPECT_EQ(c.num_false_positives, 3000);
  EXPECT_GT(c.num_switches, 0);
  EXPECT_GT(c.mota, 0.9);
  EXPECT_LT(c.mota, 1.0);
  EXPECT_GT(r.identity.idf1, 0.8);
  EXPECT_LT(r.identity.idf1, 1.0);
  EXPECT_GT(r.hota.HOTA, 0.5);
  EXPECT_LT(r.hota.HOTA, 1.0);
  // IDTP can never exceed the number of matched pairs of any frame-by-frame assignment.
  EXPECT_LE(r.identity.idtp, static_cast<double>(c.num_detections));
  for (int a = 0; a < eh::eval::HotaResult::kNumAlphas; ++a) {
    EXPECT_DOUBLE_EQ(r.hota.tp[a] + r.hota.fn[a], static_cast<double>(c.num_objects));
    EXPECT_DOUBLE_EQ(r.hota.tp[a] + r.hota.fp[a], static_cast<double>(c.num_predictions));
    if (a > 0) EXPECT_LE(r.hota.tp[a], r.hota.tp[a - 1]);  // stricter alpha, fewer matches
  }
}

TEST(EvalSequence, JsonAndTable) {
  const TrackSet gt = eh::eval::make_synthetic_sequence({20, 3, 1});
  const auto r = eh::eval::evaluate_mot(gt, eh::eval::perturb(gt, {1.0, 0.1, 1, 5, 3}));
  const nlohmann::json j = eh::eval::to_json(r);
  EXPECT_EQ(j["clear"]["num_objects"], 60);
  EXPECT_EQ(j["hota"]["per_alpha"]["alpha"].size(), 19u);
  EXPECT_DOUBLE_EQ(j["clear"]["mota"].get<double>(), r.clear.mota);
  EXPECT_DOUBLE_EQ(j["identity"]["idf1"].get<double>(), r.identity.idf1);
  EXPECT_DOUBLE_EQ(j["hota"]["HOTA"].get<double>(), r.hota.HOTA);
  const std::string table = eh::eval::format_table(r);
  EXPECT_NE(table.find("MOTA"), std::string::npos);
  EXPECT_NE(table.find("IDF1"), std::string::npos);
  EXPECT_NE(table.find("HOTA"), std::string::npos);
}

}  // namespace
