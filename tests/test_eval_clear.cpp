// CLEAR-MOT and ID measures on hand-made sequences. Every expected value is derived in the
// comments from the definitions (py-motmetrics 1.4 conventions, see docs/eval.md), not taken from
// running the code. Boxes are 10 x 10; "A" = (0,0,10,10) and "B" = (100,0,10,10) never overlap,
// identical boxes have IoU 1 (distance 0), and A vs A shifted right by s has
// IoU = (10 - s) * 10 / (200 - (10 - s) * 10) = (10 - s) / (10 + s).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"

#include "eval/clear_mot.h"
#include "eval/evaluate.h"

namespace {

using eh::eval::Box;
using eh::eval::TrackSet;

const Box A{0, 0, 10, 10};
const Box B{100, 0, 10, 10};
const Box Z{500, 500, 10, 10};  // far from everything
Box shifted(const Box& b, double s) { return Box{b.x + s, b.y, b.w, b.h}; }

TrackSet named(const char* n) {
  TrackSet t;
  t.source = n;
  return t;
}

eh::eval::ClearAndIdentity run(const TrackSet& gt, const TrackSet& pred, double iou = 0.5) {
  eh::eval::MotOptions o;
  o.iou_threshold = iou;
  return eh::eval::compute_clear_and_identity(gt, pred, o);
}

TEST(EvalClear, PerfectTracking) {
  // Two objects over 3 frames, predicted exactly with other id numbers (7 for 1, 8 for 2).
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 3; ++f) {
    gt.add(f, 1, A);
    gt.add(f, 2, B);
    pr.add(f, 7, A);
    pr.add(f, 8, B);
  }
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  // Frame 1: Hungarian pairs 1-7 and 2-8 (distance 0; no earlier pairing, so MATCH, not SWITCH).
  // Frames 2, 3: both pairs are carried over from the previous frame. 6 matches in all.
  EXPECT_EQ(c.num_frames, 3);
  EXPECT_EQ(c.num_objects, 6);
  EXPECT_EQ(c.num_predictions, 6);
  EXPECT_EQ(c.num_matches, 6);
  EXPECT_EQ(c.num_switches, 0);
  EXPECT_EQ(c.num_false_positives, 0);
  EXPECT_EQ(c.num_misses, 0);
  EXPECT_EQ(c.num_fragmentations, 0);
  EXPECT_DOUBLE_EQ(c.mota, 1.0);      // 1 - (0 + 0 + 0) / 6
  EXPECT_DOUBLE_EQ(c.motp, 0.0);      // mean distance 1 - IoU = 0
  EXPECT_DOUBLE_EQ(c.motp_iou, 1.0);  // mean IoU = 1
  EXPECT_DOUBLE_EQ(c.recall, 1.0);    // 6 / 6
  EXPECT_DOUBLE_EQ(c.precision, 1.0); // 6 / (6 + 0)
  EXPECT_EQ(c.mostly_tracked, 2);     // each tracked 3 of 3 frames
  EXPECT_EQ(c.partially_tracked, 0);
  EXPECT_EQ(c.mostly_lost, 0);
  EXPECT_EQ(c.num_unique_objects, 2);
  // ID: trajectories 1<->7 and 2<->8 overlap in all 3 frames: IDFN = IDFP = 0, IDTP = 6.
  EXPECT_DOUBLE_EQ(r.identity.idtp, 6);
  EXPECT_DOUBLE_EQ(r.identity.idfp, 0);
  EXPECT_DOUBLE_EQ(r.identity.idfn, 0);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 1.0);  // 2 * 6 / (6 + 6)
  EXPECT_DOUBLE_EQ(r.identity.idp, 1.0);
  EXPECT_DOUBLE_EQ(r.identity.idr, 1.0);
}

TEST(EvalClear, AllMisses) {
  // Same ground truth, empty prediction (no frames at all).
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 3; ++f) {
    gt.add(f, 1, A);
    gt.add(f, 2, B);
  }
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  EXPECT_EQ(c.num_frames, 3);   // frames of either input
  EXPECT_EQ(c.num_misses, 6);   // every object in every frame
  EXPECT_EQ(c.num_false_positives, 0);
  EXPECT_EQ(c.num_detections, 0);
  EXPECT_DOUBLE_EQ(c.mota, 0.0);  // 1 - 6 / 6
  EXPECT_TRUE(std::isnan(c.motp));       // 0 / 0 detections
  EXPECT_DOUBLE_EQ(c.recall, 0.0);       // 0 / 6
  EXPECT_TRUE(std::isnan(c.precision));  // 0 / (0 + 0)
  EXPECT_EQ(c.mostly_lost, 2);           // tracked ratio 0 / 3 < 0.2
  EXPECT_EQ(c.num_fragmentations, 0);    // never tracked, so no tracked -> missed transition
  // ID: no predicted trajectory, every ground-truth frame is an ID false negative.
  EXPECT_DOUBLE_EQ(r.identity.idfn, 6);
  EXPECT_DOUBLE_EQ(r.identity.idfp, 0);
  EXPECT_DOUBLE_EQ(r.identity.idtp, 0);  // num_objects - IDFN = 6 - 6
  EXPECT_DOUBLE_EQ(r.identity.idr, 0.0); // 0 / (0 + 6)
  EXPECT_TRUE(std::isnan(r.identity.idp));  // 0 / (0 + 0)
  EXPECT_DOUBLE_EQ(r.identity.idf1, 0.0);   // 0 / (6 + 0)
}

TEST(EvalClear, AllFalsePositives) {
  // No ground truth at all; 2 predicted boxes in each of 2 frames.
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 2; ++f) {
    pr.add(f, 7, A);
    pr.add(f, 8, B);
  }
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  EXPECT_EQ(c.num_false_positives, 4);
  EXPECT_EQ(c.num_objects, 0);
  EXPECT_EQ(c.num_predictions, 4);
  EXPECT_EQ(c.mota, -std::numeric_limits<double>::infinity());  // 1 - 4 / 0 (numpy: 4/0 = inf)
  EXPECT_TRUE(std::isnan(c.recall));                              // 0 / 0
  EXPECT_DOUBLE_EQ(c.precision, 0.0);                             // 0 / (4 + 0)
  EXPECT_EQ(c.mostly_tracked + c.partially_tracked + c.mostly_lost, 0);
  EXPECT_DOUBLE_EQ(r.identity.idfp, 4);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 0.0);  // 2 * 0 / (0 + 4)
  EXPECT_DOUBLE_EQ(r.identity.idp, 0.0);   // 0 / (0 + 4)
  // JSON turns the non-finite MOTA into null.
  const auto j = eh::eval::to_json(eh::eval::evaluate_mot(gt, pr));
  EXPECT_TRUE(j["clear"]["mota"].is_null());
  EXPECT_EQ(j["clear"]["num_false_positives"], 4);
}

TEST(EvalClear, DisjointBoxesAreMissesPlusFalsePositives) {
  // One object at A, one prediction at Z, in one frame: IoU 0 < 0.5, so no pair is allowed.
  TrackSet gt = named("gt"), pr = named("pred");
  gt.add(1, 1, A);
  pr.add(1, 7, Z);
  const auto c = run(gt, pr).clear;
  EXPECT_EQ(c.num_misses, 1);
  EXPECT_EQ(c.num_false_positives, 1);
  EXPECT_DOUBLE_EQ(c.mota, -1.0);  // 1 - (1 + 0 + 1) / 1
}

TEST(EvalClear, IdSwap) {
  // Objects 1 (at A) and 2 (at B) for 4 frames; the tracker calls them 7 and 8 in frames 1-2
  // and swaps the labels in frames 3-4.
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 4; ++f) {
    gt.add(f, 1, A);
    gt.add(f, 2, B);
    pr.add(f, f <= 2 ? 7 : 8, A);
    pr.add(f, f <= 2 ? 8 : 7, B);
  }
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  // Frame 1: 1-7, 2-8 by Hungarian (MATCH). Frame 2: both carried (MATCH).
  // Frame 3: object 1's previous partner 7 is now at B, IoU(A, B) = 0, not allowed -> not kept;
  // likewise for object 2. Hungarian pairs 1-8 and 2-7: each object's last partner differs, so
  // 2 SWITCHes; each prediction id was last matched to the other object, so 2 TRANSFERs; both
  // prediction ids were matched before (no ASCEND), both objects too (no MIGRATE).
  // Frame 4: 1-8 and 2-7 carried (MATCH).
  EXPECT_EQ(c.num_matches, 6);
  EXPECT_EQ(c.num_switches, 2);
  EXPECT_EQ(c.num_transfer, 2);
  EXPECT_EQ(c.num_ascend, 0);
  EXPECT_EQ(c.num_migrate, 0);
  EXPECT_EQ(c.num_misses, 0);
  EXPECT_EQ(c.num_false_positives, 0);
  EXPECT_DOUBLE_EQ(c.mota, 0.75);  // 1 - (0 + 2 + 0) / 8
  EXPECT_DOUBLE_EQ(c.recall, 1.0); // detections = matches + switches = 8 of 8
  EXPECT_EQ(c.num_fragmentations, 0);
  EXPECT_EQ(c.mostly_tracked, 2);
  // ID: every trajectory has 4 frames; 1 overlaps 7 in frames 1-2 and 8 in frames 3-4, 2 the
  // reverse. Any one-to-one map keeps 2 + 2 = 4 of the 8 frames: IDTP = 4, IDFN = 8 - 4 = 4,
  // IDFP = 8 - 4 = 4, IDP = IDR = 4 / 8, IDF1 = 2 * 4 / (8 + 8) = 0.5.
  EXPECT_DOUBLE_EQ(r.identity.idtp, 4);
  EXPECT_DOUBLE_EQ(r.identity.idfn, 4);
  EXPECT_DOUBLE_EQ(r.identity.idfp, 4);
  EXPECT_DOUBLE_EQ(r.identity.idp, 0.5);
  EXPECT_DOUBLE_EQ(r.identity.idr, 0.5);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 0.5);
}

TEST(EvalClear, FragmentedTrack) {
  // Object 1 at A for frames 1-5; the tracker (id 7) has it in frames 1, 2, 4, 5 and outputs
  // nothing in frame 3.
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 5; ++f) {
    gt.add(f, 1, A);
    if (f != 3) pr.add(f, 7, A);
  }
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  // Frames 1, 2: MATCH. Frame 3: MISS. Frame 4: the pair 1-7 was not matched in the previous
  // update (frame 3), so it is not carried; Hungarian pairs 1-7 again, same partner as before:
  // MATCH, not SWITCH. Frame 5: carried MATCH.
  EXPECT_EQ(c.num_matches, 4);
  EXPECT_EQ(c.num_switches, 0);
  EXPECT_EQ(c.num_misses, 1);
  EXPECT_EQ(c.num_fragmentations, 1);  // tracked, tracked, MISSED, tracked, tracked: one interruption
  EXPECT_DOUBLE_EQ(c.mota, 0.8);       // 1 - 1 / 5
  EXPECT_DOUBLE_EQ(c.recall, 0.8);     // 4 / 5
  EXPECT_EQ(c.mostly_tracked, 1);      // 4 / 5 = 0.8 >= 0.8
  // ID: frames(1) = 5, frames(7) = 4, overlap 4: matching them costs (5-4) + (4-4) = 1 < 5 + 4,
  // so IDFN = 1, IDFP = 0, IDTP = 5 - 1 = 4; IDP = 4/4, IDR = 4/5, IDF1 = 8 / (5 + 4).
  EXPECT_DOUBLE_EQ(r.identity.idtp, 4);
  EXPECT_DOUBLE_EQ(r.identity.idfn, 1);
  EXPECT_DOUBLE_EQ(r.identity.idfp, 0);
  EXPECT_DOUBLE_EQ(r.identity.idp, 1.0);
  EXPECT_DOUBLE_EQ(r.identity.idr, 0.8);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 8.0 / 9.0);
}

TEST(EvalClear, MissesBeforeFirstAndAfterLastMatchAreNotFragmentations) {
  // Object tracked only in frames 2-3 of 1-4: states M, T, T, M. The span of tracked frames is
  // 2..3 and holds no miss, so no fragmentation; tracked ratio 2/4 = 0.5 -> partially tracked.
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 4; ++f) gt.add(f, 1, A);
  pr.add(2, 7, A);
  pr.add(3, 7, A);
  const auto c = run(gt, pr).clear;
  EXPECT_EQ(c.num_fragmentations, 0);
  EXPECT_EQ(c.partially_tracked, 1);
  EXPECT_EQ(c.num_misses, 2);
}

TEST(EvalClear, TrackSplitsIntoTwo) {
  // Object 1 at A for frames 1-4; the tracker calls it 7 in frames 1-2 and 9 in frames 3-4.
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 4; ++f) {
    gt.add(f, 1, A);
    pr.add(f, f <= 2 ? 7 : 9, A);
  }
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  // Frame 3: the previous partner 7 is absent; Hungarian pairs 1-9, last partner was 7 -> SWITCH,
  // and 9 was never matched before -> also an ASCEND. Prediction 9 had no previous object, so no
  // TRANSFER. Frames 1, 2, 4: MATCH.
  EXPECT_EQ(c.num_matches, 3);
  EXPECT_EQ(c.num_switches, 1);
  EXPECT_EQ(c.num_ascend, 1);
  EXPECT_EQ(c.num_transfer, 0);
  EXPECT_EQ(c.num_fragmentations, 0);
  EXPECT_DOUBLE_EQ(c.mota, 0.75);  // 1 - 1 / 4
  EXPECT_EQ(c.num_unique_predictions, 2);
  // ID: frames(1) = 4, frames(7) = frames(9) = 2, overlap(1,7) = overlap(1,9) = 2. Mapping 1 to
  // either costs (4-2) + (2-2) + 2 (the other one unmatched) = 4; IDFN = 2, IDFP = 2, IDTP = 2;
  // IDP = 2 / 4, IDR = 2 / 4, IDF1 = 2 * 2 / (4 + 4).
  EXPECT_DOUBLE_EQ(r.identity.idtp, 2);
  EXPECT_DOUBLE_EQ(r.identity.idfn, 2);
  EXPECT_DOUBLE_EQ(r.identity.idfp, 2);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 0.5);
}

TEST(EvalClear, RematchAfterOcclusionKeepsId) {
  // Object 1 (pred 7) is occluded in frames 3-4: absent from both files there. Object 2 (pred 8)
  // is visible in all 6 frames, so frames 3-4 exist.
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 6; ++f) {
    gt.add(f, 2, B);
    pr.add(f, 8, B);
    if (f <= 2 || f >= 5) {
      gt.add(f, 1, A);
      pr.add(f, 7, A);
    }
  }
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  // Frame 5: 1-7 was last matched in frame 2, not in the previous update (4), so it goes to the
  // Hungarian step, which pairs 1-7 again: the same partner as before -> MATCH, no switch.
  // Absent frames are not misses, so no fragmentation either. GT = 4 + 6 = 10, all matched.
  EXPECT_EQ(c.num_objects, 10);
  EXPECT_EQ(c.num_matches, 10);
  EXPECT_EQ(c.num_switches, 0);
  EXPECT_EQ(c.num_fragmentations, 0);
  EXPECT_DOUBLE_EQ(c.mota, 1.0);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 1.0);
}

TEST(EvalClear, RematchAfterOcclusionWithNewIdIsASwitch) {
  // As above, but after the occlusion the tracker calls object 1 "9".
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 6; ++f) {
    gt.add(f, 2, B);
    pr.add(f, 8, B);
    if (f <= 2 || f >= 5) {
      gt.add(f, 1, A);
      pr.add(f, f <= 2 ? 7 : 9, A);
    }
  }
  const auto r = run(gt, pr);
  // Frame 5: Hungarian pairs 1-9; 1's last partner was 7 -> SWITCH (no time limit on switches).
  EXPECT_EQ(r.clear.num_switches, 1);
  EXPECT_DOUBLE_EQ(r.clear.mota, 0.9);  // 1 - 1 / 10
  // ID: 1 (4 frames) overlaps 7 and 9 for 2 frames each; 2<->8 overlap 6 of 6. Best map: 2-8 and
  // 1 with one of 7/9: IDTP = 6 + 2 = 8, IDFN = 10 - 8 = 2, IDFP = 10 - 8 = 2,
  // IDF1 = 2 * 8 / (10 + 10) = 0.8.
  EXPECT_DOUBLE_EQ(r.identity.idtp, 8);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 0.8);
}

TEST(EvalClear, KeepsPreviousMatchWhenStillValid) {
  // Frame 1: object 1 at A, prediction 7 at A. Frame 2: 7 moves to A shifted by 3
  // (IoU (10-3)/(10+3) = 7/13 >= 0.5, distance 6/13) and a new prediction 8 sits exactly on A.
  // Hungarian alone would take 8 (distance 0); the still-valid pair 1-7 is kept first.
  TrackSet gt = named("gt"), pr = named("pred");
  gt.add(1, 1, A);
  gt.add(2, 1, A);
  pr.add(1, 7, A);
  pr.add(2, 7, shifted(A, 3));
  pr.add(2, 8, A);
  const auto c = run(gt, pr).clear;
  EXPECT_EQ(c.num_matches, 2);
  EXPECT_EQ(c.num_switches, 0);
  EXPECT_EQ(c.num_false_positives, 1);  // 8
  EXPECT_NEAR(c.motp, (0.0 + 6.0 / 13.0) / 2.0, 1e-15);      // mean of distances 0 and 6/13
  EXPECT_NEAR(c.motp_iou, (1.0 + 7.0 / 13.0) / 2.0, 1e-15);  // mean of IoUs 1 and 7/13
}

TEST(EvalClear, IouThresholdIsInclusiveAndConfigurable) {
  // A vs A shifted by 2: IoU = 8 / 12 = 2/3, distance 1/3.
  TrackSet gt = named("gt"), pr = named("pred");
  gt.add(1, 1, A);
  pr.add(1, 7, shifted(A, 2));
  auto c = run(gt, pr, 0.5).clear;  // 2/3 >= 0.5: matched
  EXPECT_EQ(c.num_detections, 1);
  EXPECT_NEAR(c.motp, 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(c.motp_iou, 2.0 / 3.0, 1e-15);
  c = run(gt, pr, 0.7).clear;  // 2/3 < 0.7: a miss and a false positive
  EXPECT_EQ(c.num_detections, 0);
  EXPECT_EQ(c.num_misses, 1);
  EXPECT_EQ(c.num_false_positives, 1);
  // Boundary, exactly representable: (0,0,3,10) vs (1,0,3,10): intersection 2*10 = 20,
  // union 30 + 30 - 20 = 40, IoU = 0.5 exactly, distance 0.5 <= 1 - 0.5: allowed.
  TrackSet g2 = named("gt"), p2 = named("pred");
  g2.add(1, 1, Box{0, 0, 3, 10});
  p2.add(1, 7, Box{1, 0, 3, 10});
  EXPECT_EQ(run(g2, p2, 0.5).clear.num_detections, 1);  // IoU >= threshold is inclusive
}

TEST(EvalClear, EmptyFrames) {
  // Frame 1: object 1 at A, prediction 7 at A. Frame 2: the ground truth lists the frame with no
  // object, the tracker puts 7 far away (a false positive). Frame 3: both at A again.
  // Frame 4: listed, empty in both.
  TrackSet gt = named("gt"), pr = named("pred");
  gt.add(1, 1, A);
  gt.frames[2];
  gt.add(3, 1, A);
  gt.frames[4];
  pr.add(1, 7, A);
  pr.add(2, 7, Z);
  pr.add(3, 7, A);
  pr.frames[4];
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  // Frame 2: no object -> 7 is a FP. Frame 3: 1-7 was not matched in the previous update, Hungarian
  // pairs them again, same partner -> MATCH. GT = 2, matches 2, FP 1.
  EXPECT_EQ(c.num_frames, 4);
  EXPECT_EQ(c.num_matches, 2);
  EXPECT_EQ(c.num_false_positives, 1);
  EXPECT_EQ(c.num_misses, 0);
  EXPECT_DOUBLE_EQ(c.mota, 0.5);               // 1 - 1 / 2
  EXPECT_DOUBLE_EQ(c.precision, 2.0 / 3.0);    // 2 / (2 + 1)
  // ID: frames(1) = 2, frames(7) = 3, overlap 2: IDFN = 0, IDFP = 3 - 2 = 1, IDTP = 2;
  // IDP = 2/3, IDR = 1, IDF1 = 2 * 2 / (2 + 3) = 0.8.
  EXPECT_DOUBLE_EQ(r.identity.idfp, 1);
  EXPECT_DOUBLE_EQ(r.identity.idf1, 0.8);
  EXPECT_DOUBLE_EQ(r.identity.idp, 2.0 / 3.0);
}

TEST(EvalClear, FramesPresentInOnlyOneFile) {
  // Ground truth has frames 1-3 (object 1 at A); the prediction file has frames 2-4 (7 at A in
  // 2-3, and a box at A in frame 4, which the ground truth does not contain).
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 3; ++f) gt.add(f, 1, A);
  for (int f = 2; f <= 4; ++f) pr.add(f, 7, A);
  const auto r = run(gt, pr);
  const auto& c = r.clear;
  // Frame 1 (GT only): MISS. Frames 2-3: MATCH. Frame 4 (prediction only): FP.
  EXPECT_EQ(c.num_frames, 4);
  EXPECT_EQ(c.num_misses, 1);
  EXPECT_EQ(c.num_matches, 2);
  EXPECT_EQ(c.num_false_positives, 1);
  EXPECT_NEAR(c.mota, 1.0 / 3.0, 1e-15);  // 1 - (1 + 0 + 1) / 3
  EXPECT_NEAR(c.recall, 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(c.precision, 2.0 / 3.0, 1e-15);
  EXPECT_EQ(c.num_fragmentations, 0);  // the miss comes before the first match
  EXPECT_EQ(c.partially_tracked, 1);   // 2 / 3
  // ID: frames(1) = 3, frames(7) = 3, overlap 2: IDFN = 1, IDFP = 1, IDTP = 2, IDF1 = 4 / 6.
  EXPECT_DOUBLE_EQ(r.identity.idtp, 2);
  EXPECT_NEAR(r.identity.idf1, 2.0 / 3.0, 1e-15);
}

TEST(EvalClear, IdMeasuresPreferTheLongerOverlap) {
  // Object 1 for 6 frames; prediction 7 covers frames 1-2, prediction 8 frames 3-6. The best
  // single partner of 1 is 8 (4 shared frames): IDTP = 4, IDFN = 6 - 4 = 2, IDFP = 2 (7's frames).
  TrackSet gt = named("gt"), pr = named("pred");
  for (int f = 1; f <= 6; ++f) {
    gt.add(f, 1, A);
    pr.add(f, f <= 2 ? 7 : 8, A);
  }
  const auto id = run(gt, pr).identity;
  EXPECT_DOUBLE_EQ(id.idtp, 4);
  EXPECT_DOUBLE_EQ(id.idfn, 2);
  EXPECT_DOUBLE_EQ(id.idfp, 2);
  EXPECT_NEAR(id.idf1, 8.0 / 12.0, 1e-15);  // 2 * 4 / (6 + 6)
}

TEST(EvalClear, FixtureFilesWithConfidenceFilter) {
  // tests/data/eval/gt_swap.txt: two objects for 4 frames (boxes identical to the prediction's),
  // ids swapped by the tracker in frames 3-4, plus one conf-0 box in frame 5.
  const std::string dir = std::string(EH_TEST_DATA_DIR) + "/eval/";
  const TrackSet gt = eh::eval::load_mot(dir + "gt_swap.txt");
  const TrackSet pr = eh::eval::load_mot(dir + "pred_swap.txt");
  // All rows: as IdSwap (2 switches over 8 objects) plus one miss in frame 5:
  // MOTA = 1 - (1 + 2) / 9.
  auto c = run(gt, pr).clear;
  EXPECT_EQ(c.num_switches, 2);
  EXPECT_EQ(c.num_misses, 1);
  EXPECT_NEAR(c.mota, 1.0 - 3.0 / 9.0, 1e-15);
  // Dropping conf < 1 ground truth (the MOTChallenge "ignore" flag): MOTA = 1 - 2 / 8.
  c = run(eh::eval::filter_confidence(gt, 1.0), pr).clear;
  EXPECT_EQ(c.num_misses, 0);
  EXPECT_DOUBLE_EQ(c.mota, 0.75);
}

TEST(EvalClear, AgreementIsMotWithTeacherAsGroundTruth) {
  TrackSet teacher = named("teacher"), student = named("student");
  for (int f = 1; f <= 4; ++f) {
    teacher.add(f, 1, A);
    if (f != 2) student.add(f, 5, A);
  }
  const auto a = eh::eval::evaluate_agreement(teacher, student);
  EXPECT_EQ(a.gt_source, "teacher");
  EXPECT_EQ(a.clear.num_misses, 1);
  EXPECT_DOUBLE_EQ(a.clear.mota, 0.75);  // 1 - 1 / 4
}

TEST(EvalClear, RejectsBadThreshold) {
  TrackSet gt = named("gt"), pr = named("pred");
  eh::eval::MotOptions o;
  o.iou_threshold = 1.5;
  EXPECT_THROW(eh::eval::compute_clear_and_identity(gt, pr, o), eh::Error);
}

}  // namespace
