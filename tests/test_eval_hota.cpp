// HOTA on hand-made sequences, with every expected value derived in the comments from the
// definitions as TrackEval implements them (docs/eval.md). Boxes as in test_eval_clear.cpp:
// A = (0,0,10,10), B far from A; A shifted right by s has IoU (10 - s) / (10 + s) with A.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/hota.h"

namespace {

using eh::eval::Box;
using eh::eval::HotaResult;
using eh::eval::TrackSet;

const Box A{0, 0, 10, 10};
const Box B{100, 0, 10, 10};
Box shifted(const Box& b, double s) { return Box{b.x + s, b.y, b.w, b.h}; }
constexpr int kA = HotaResult::kNumAlphas;

TEST(EvalHota, AlphaGrid) {
  const auto a = eh::eval::hota_alphas();
  ASSERT_EQ(a.size(), 19u);
  EXPECT_DOUBLE_EQ(a[0], 0.05);
  EXPECT_DOUBLE_EQ(a[9], 0.5);
  EXPECT_DOUBLE_EQ(a[18], 0.95);
}

TEST(EvalHota, PerfectTrackingIsOne) {
  // Two objects, 3 frames, exact boxes. Every frame: similarity [[1,0],[0,1]]; the normalised
  // potential of each true pair is 1 / (1 + 1 - 1) = 1 per frame, so alignment(1,7) = 3 /
  // (3 + 3 - 3) = 1. Every alpha: TP = 6, FN = FP = 0 -> DetA = 1; matches(1,7) = matches(2,8) = 3,
  // AssA = (3 * 3/(3+3-3) + 3 * 1) / 6 = 1; LocA = 6 / 6 = 1; HOTA = sqrt(1 * 1) = 1.
  TrackSet gt, pr;
  for (int f = 1; f <= 3; ++f) {
    gt.add(f, 1, A);
    gt.add(f, 2, B);
    pr.add(f, 7, A);
    pr.add(f, 8, B);
  }
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  for (int a = 0; a < kA; ++a) {
    EXPECT_DOUBLE_EQ(h.tp[a], 6);
    EXPECT_DOUBLE_EQ(h.hota[a], 1.0);
  }
  EXPECT_DOUBLE_EQ(h.HOTA, 1.0);
  EXPECT_DOUBLE_EQ(h.DetA, 1.0);
  EXPECT_DOUBLE_EQ(h.AssA, 1.0);
  EXPECT_DOUBLE_EQ(h.LocA, 1.0);
  EXPECT_DOUBLE_EQ(h.HOTA0, 1.0);
}

TEST(EvalHota, EmptyInputs) {
  // No prediction: TrackEval returns FN = number of GT boxes at every alpha, LocA = 1, and 0 for
  // everything else. No ground truth: FP = number of predicted boxes, LocA = 1.
  TrackSet gt, none;
  for (int f = 1; f <= 3; ++f) gt.add(f, 1, A);
  HotaResult h = eh::eval::compute_hota(gt, none);
  EXPECT_DOUBLE_EQ(h.fn[0], 3);
  EXPECT_DOUBLE_EQ(h.HOTA, 0.0);
  EXPECT_DOUBLE_EQ(h.DetA, 0.0);
  EXPECT_DOUBLE_EQ(h.AssA, 0.0);
  EXPECT_DOUBLE_EQ(h.LocA, 1.0);
  h = eh::eval::compute_hota(none, gt);
  EXPECT_DOUBLE_EQ(h.fp[18], 3);
  EXPECT_DOUBLE_EQ(h.HOTA, 0.0);
  EXPECT_DOUBLE_EQ(h.LocA, 1.0);
}

TEST(EvalHota, SingleImperfectBoxAtEachAlpha) {
  // One frame, object 1 at A, prediction 7 at A shifted by 2: IoU = 8/12 = 2/3.
  // alpha_i = 0.05 (i + 1). For alpha <= 0.65 (i = 0..12, 13 values) the pair counts:
  //   TP 1, DetA = 1, AssA = 1 * (1 / (1 + 1 - 1)) / 1 = 1, HOTA = 1, LocA = 2/3.
  // For alpha >= 0.70 (i = 13..18, 6 values): TP 0, FN 1, FP 1, DetA = 0, AssA = 0 / max(1, 0) = 0,
  //   HOTA = 0, LocA = max(1e-10, 0) / max(1e-10, 0) = 1.
  // Means: HOTA = DetA = AssA = 13/19; LocA = (13 * 2/3 + 6) / 19 = 44/57.
  TrackSet gt, pr;
  gt.add(1, 1, A);
  pr.add(1, 7, shifted(A, 2));
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  for (int a = 0; a < kA; ++a) {
    const bool matched = a <= 12;
    EXPECT_DOUBLE_EQ(h.tp[a], matched ? 1 : 0) << a;
    EXPECT_DOUBLE_EQ(h.fn[a], matched ? 0 : 1) << a;
    EXPECT_DOUBLE_EQ(h.fp[a], matched ? 0 : 1) << a;
    EXPECT_DOUBLE_EQ(h.deta[a], matched ? 1 : 0) << a;
    EXPECT_DOUBLE_EQ(h.assa[a], matched ? 1 : 0) << a;
    EXPECT_NEAR(h.loca[a], matched ? 2.0 / 3.0 : 1.0, 1e-15) << a;
  }
  EXPECT_NEAR(h.HOTA, 13.0 / 19.0, 1e-15);
  EXPECT_NEAR(h.DetA, 13.0 / 19.0, 1e-15);
  EXPECT_NEAR(h.AssA, 13.0 / 19.0, 1e-15);
  EXPECT_NEAR(h.LocA, 44.0 / 57.0, 1e-15);
  EXPECT_NEAR(h.LocA0, 2.0 / 3.0, 1e-15);
}

TEST(EvalHota, IdSwapHalvesAssociation) {
  // Objects 1 (A), 2 (B), 4 frames; predictions 7/8 swap labels after frame 2 (as in the CLEAR
  // test). Each frame has similarity 1 on the true pairs, so normalised potentials are 1 per
  // frame: potential(1,7) = potential(1,8) = potential(2,7) = potential(2,8) = 2; every id
  // appears 4 times; alignment = 2 / (4 + 4 - 2) = 1/3 for each of those pairs and 0 otherwise,
  // so each frame matches the IoU-1 pairs. Every alpha: TP = 8, FN = FP = 0: DetA = 1.
  // matches = 2 for each of the 4 pairs; AssA = 4 * 2 * (2 / (4 + 4 - 2)) / 8 = 1/3;
  // AssRe = 4 * 2 * (2 / 4) / 8 = 1/2; AssPr likewise 1/2; HOTA = sqrt(1 * 1/3).
  TrackSet gt, pr;
  for (int f = 1; f <= 4; ++f) {
    gt.add(f, 1, A);
    gt.add(f, 2, B);
    pr.add(f, f <= 2 ? 7 : 8, A);
    pr.add(f, f <= 2 ? 8 : 7, B);
  }
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  EXPECT_DOUBLE_EQ(h.DetA, 1.0);
  EXPECT_NEAR(h.AssA, 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(h.AssRe, 0.5, 1e-15);
  EXPECT_NEAR(h.AssPr, 0.5, 1e-15);
  EXPECT_NEAR(h.HOTA, std::sqrt(1.0 / 3.0), 1e-15);
  EXPECT_DOUBLE_EQ(h.LocA, 1.0);
}

TEST(EvalHota, TrackSplitIntoTwo) {
  // Object 1 at A for 4 frames, predicted as 7 (frames 1-2) then 9 (frames 3-4).
  // TP = 4 every alpha: DetA = 1. matches(1,7) = matches(1,9) = 2; gt count 4, tracker counts 2:
  // AssA = (2 * 2/(4+2-2) + 2 * 2/(4+2-2)) / 4 = 1/2; AssRe = (2 * 2/4 + 2 * 2/4) / 4 = 1/2;
  // AssPr = (2 * 2/2 + 2 * 2/2) / 4 = 1; HOTA = sqrt(1/2).
  TrackSet gt, pr;
  for (int f = 1; f <= 4; ++f) {
    gt.add(f, 1, A);
    pr.add(f, f <= 2 ? 7 : 9, A);
  }
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  EXPECT_DOUBLE_EQ(h.DetA, 1.0);
  EXPECT_DOUBLE_EQ(h.AssA, 0.5);
  EXPECT_DOUBLE_EQ(h.AssRe, 0.5);
  EXPECT_DOUBLE_EQ(h.AssPr, 1.0);
  EXPECT_NEAR(h.HOTA, std::sqrt(0.5), 1e-15);
}

TEST(EvalHota, FragmentedTrack) {
  // Object 1 at A for 5 frames; prediction 7 in frames 1, 2, 4, 5 only.
  // Frame 3 has no prediction: FN += 1. TP = 4, FN = 1, FP = 0: DetA = 4/5, DetRe = 4/5, DetPr = 1.
  // matches(1,7) = 4, counts 5 and 4: AssA = 4 * (4 / (5 + 4 - 4)) / 4 = 4/5; AssRe = 4/5;
  // AssPr = 4 * (4/4) / 4 = 1. HOTA = sqrt(4/5 * 4/5) = 4/5.
  TrackSet gt, pr;
  for (int f = 1; f <= 5; ++f) {
    gt.add(f, 1, A);
    if (f != 3) pr.add(f, 7, A);
  }
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  EXPECT_DOUBLE_EQ(h.tp[5], 4);
  EXPECT_DOUBLE_EQ(h.fn[5], 1);
  EXPECT_DOUBLE_EQ(h.DetA, 0.8);
  EXPECT_DOUBLE_EQ(h.DetRe, 0.8);
  EXPECT_DOUBLE_EQ(h.DetPr, 1.0);
  EXPECT_DOUBLE_EQ(h.AssA, 0.8);
  EXPECT_DOUBLE_EQ(h.AssPr, 1.0);
  EXPECT_NEAR(h.HOTA, 0.8, 1e-15);
}

TEST(EvalHota, FramesPresentInOnlyOneFile) {
  // GT frames 1-3 (object 1 at A), prediction frames 2-4 (7 at A). Frame 1: FN; frame 4: FP;
  // frames 2-3: TP. DetA = 2 / (2 + 1 + 1) = 1/2. matches(1,7) = 2, counts 3 and 3:
  // AssA = 2 * (2 / (3 + 3 - 2)) / 2 = 1/2. HOTA = 1/2.
  TrackSet gt, pr;
  for (int f = 1; f <= 3; ++f) gt.add(f, 1, A);
  for (int f = 2; f <= 4; ++f) pr.add(f, 7, A);
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  EXPECT_DOUBLE_EQ(h.DetA, 0.5);
  EXPECT_DOUBLE_EQ(h.AssA, 0.5);
  EXPECT_DOUBLE_EQ(h.HOTA, 0.5);
}

TEST(EvalHota, EmptyFrameInGroundTruth) {
  // Frame 1: 1 and 7 at A; frame 2: no object, 7 elsewhere (FP); frame 3: 1 and 7 at A.
  // TP = 2, FP = 1: DetA = 2/3. matches(1,7) = 2, counts 2 and 3: AssA = 2 * (2 / (2+3-2)) / 2
  // = 2/3. HOTA = sqrt(2/3 * 2/3) = 2/3.
  TrackSet gt, pr;
  gt.add(1, 1, A);
  gt.frames[2];
  gt.add(3, 1, A);
  pr.add(1, 7, A);
  pr.add(2, 7, B);
  pr.add(3, 7, A);
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  EXPECT_NEAR(h.DetA, 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(h.AssA, 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(h.HOTA, 2.0 / 3.0, 1e-15);
}

TEST(EvalHota, GlobalAlignmentPrefersTheConsistentId) {
  // Frames 1-3: object 1 at A with prediction 7 on it, object 2 at B with prediction 8 on it.
  // Frame 4: only object 1 (at A); prediction 7 at A shifted by +3 (IoU 7/13 ~ 0.538) and
  // prediction 8 at A shifted by -2 (IoU 8/12 = 2/3). Matching on IoU alone would take 8.
  //
  // Frame 4 similarities [7/13, 2/3]; row sum 47/39; column sums equal the entries, so each
  // normalised potential is s / (47/39): 21/47 for (1,7) and 26/47 for (1,8).
  // Potentials: (1,7) = 3 + 21/47 = 162/47, (1,8) = 26/47, (2,8) = 3. Counts: gt 1 -> 4, gt 2 -> 3,
  // pred 7 -> 4, pred 8 -> 4. Alignment (1,7) = (162/47) / (8 - 162/47) = 162/214 ~ 0.757,
  // (1,8) = (26/47) / (8 - 26/47) = 26/350 ~ 0.074. Scores: (1,7) ~ 0.757 * 0.538 = 0.41 beats
  // (1,8) ~ 0.074 * 0.667 = 0.05, so frame 4 pairs 1 with 7.
  //
  // alpha <= 0.50 (i = 0..9, 10 values; 7/13 >= alpha): TP = 6 + 1 = 7, FN = 0, FP = 1 (8 in
  //   frame 4). DetA = 7/8. matches (1,7) = 4, (2,8) = 3:
  //   AssA = (4 * 4/(4+4-4) + 3 * 3/(3+4-3)) / 7 = (4 + 9/4) / 7 = 25/28. LocA = (6 + 7/13) / 7 = 85/91.
  // alpha >= 0.55 (9 values): frame 4 unmatched: TP = 6, FN = 1, FP = 2. DetA = 6/9 = 2/3.
  //   matches (1,7) = 3, (2,8) = 3: AssA = (3 * 3/(4+4-3) + 3 * 3/(3+4-3)) / 6 = (9/5 + 9/4) / 6
  //   = 0.675. LocA = 6/6 = 1.
  // (Had frame 4 paired 1 with 8, alphas 0.55..0.65 would have TP = 7.)
  TrackSet gt, pr;
  for (int f = 1; f <= 3; ++f) {
    gt.add(f, 1, A);
    gt.add(f, 2, B);
    pr.add(f, 7, A);
    pr.add(f, 8, B);
  }
  gt.add(4, 1, A);
  pr.add(4, 7, shifted(A, 3));
  pr.add(4, 8, shifted(A, -2));
  const HotaResult h = eh::eval::compute_hota(gt, pr);
  const double low_hota = std::sqrt(7.0 / 8.0 * 25.0 / 28.0), high_hota = std::sqrt(2.0 / 3.0 * 0.675);
  for (int a = 0; a < kA; ++a) {
    const bool low = a <= 9;
    EXPECT_DOUBLE_EQ(h.tp[a], low ? 7 : 6) << a;
    EXPECT_DOUBLE_EQ(h.fn[a], low ? 0 : 1) << a;
    EXPECT_DOUBLE_EQ(h.fp[a], low ? 1 : 2) << a;
    EXPECT_NEAR(h.deta[a], low ? 7.0 / 8.0 : 2.0 / 3.0, 1e-15) << a;
    EXPECT_NEAR(h.assa[a], low ? 25.0 / 28.0 : 0.675, 1e-15) << a;
    EXPECT_NEAR(h.loca[a], low ? 85.0 / 91.0 : 1.0, 1e-15) << a;
    EXPECT_NEAR(h.hota[a], low ? low_hota : high_hota, 1e-15) << a;
  }
  EXPECT_NEAR(h.HOTA, (10 * low_hota + 9 * high_hota) / 19, 1e-15);
  EXPECT_NEAR(h.DetA, (10 * 7.0 / 8.0 + 9 * 2.0 / 3.0) / 19, 1e-15);
  EXPECT_NEAR(h.AssA, (10 * 25.0 / 28.0 + 9 * 0.675) / 19, 1e-15);
}

}  // namespace
