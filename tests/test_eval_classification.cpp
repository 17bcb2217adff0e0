// Behaviour classification metrics on a hand case (values derived in the comments).
#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "eval/classification.h"

namespace {

using eh::eval::LabelSet;

// The hand case's labels (classes a, b, c, d), derived in HandCase below: (ground truth, prediction).
std::pair<LabelSet, LabelSet> hand_case() {
  LabelSet gt, pr;
  gt.labels = {{{1, 1}, 0}, {{1, 2}, 0}, {{2, 1}, 1}, {{2, 2}, 1}, {{3, 1}, 2}, {{3, 2}, 0}};
  pr.labels = {{{1, 1}, 0}, {{1, 2}, 1}, {{2, 1}, 1}, {{2, 2}, 1}, {{3, 1}, 0}, {{4, 1}, 2}};
  return {gt, pr};
}

TEST(EvalClassification, HandCase) {
  // Classes a, b, c, d (d never occurs). Ground truth / prediction per (frame, id):
  //   (1,1) a/a  (1,2) a/b  (2,1) b/b  (2,2) b/b  (3,1) c/a  (3,2) a/(none)  (4,1) -/c (extra)
  // Confusion (rows GT, cols prediction): a->a 1, a->b 1, b->b 2, c->a 1; a has 1 missing.
  // Correct = 1 + 2 = 3 of 6 ground-truth labels: accuracy 1/2 (the missing one counts wrong;
  // the extra prediction is ignored).
  // a: TP 1, support 3 (incl. the missing one), predicted 2 -> P = 1/2, R = 1/3,
  //    F1 = 2*1 / (2*1 + FP 1 + FN 2) = 2/5.
  // b: TP 2, support 2, predicted 3 -> P = 2/3, R = 1, F1 = 4 / (4 + 1 + 0) = 4/5.
  // c: TP 0, support 1, predicted 0 -> P = 0 (0/0 taken as 0), R = 0, F1 = 0 / (0 + 0 + 1) = 0.
  // d: absent from both -> all 0 and left out of the macro average.
  // macro-F1 over {a, b, c} = (2/5 + 4/5 + 0) / 3 = 2/5.
  const std::vector<std::string> classes = {"a", "b", "c", "d"};
  const auto [gt, pr] = hand_case();
  const auto r = eh::eval::evaluate_classification(gt, pr, classes);
  EXPECT_EQ(r.num_gt, 6);
  EXPECT_EQ(r.num_paired, 5);
  EXPECT_EQ(r.num_missing, 1);
  EXPECT_EQ(r.num_extra, 1);
  EXPECT_EQ(r.num_correct, 3);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.5);
  const std::vector<std::vector<std::int64_t>> confusion = {{1, 1, 0, 0}, {0, 2, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}};
  EXPECT_EQ(r.confusion, confusion);
  EXPECT_EQ(r.missing, (std::vector<std::int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(r.per_class[0].support, 3);
  EXPECT_EQ(r.per_class[0].predicted, 2);
  EXPECT_DOUBLE_EQ(r.per_class[0].precision, 0.5);
  EXPECT_DOUBLE_EQ(r.per_class[0].recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.per_class[0].f1, 0.4);
  EXPECT_DOUBLE_EQ(r.per_class[1].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.per_class[1].recall, 1.0);
  EXPECT_DOUBLE_EQ(r.per_class[1].f1, 0.8);
  EXPECT_DOUBLE_EQ(r.per_class[2].precision, 0.0);
  EXPECT_DOUBLE_EQ(r.per_class[2].recall, 0.0);
  EXPECT_DOUBLE_EQ(r.per_class[2].f1, 0.0);
  EXPECT_EQ(r.per_class[3].support + r.per_class[3].predicted, 0);
  EXPECT_EQ(r.macro_classes, 3);
  EXPECT_NEAR(r.macro_f1, 0.4, 1e-15);
  const auto j = eh::eval::to_json(r);
  EXPECT_EQ(j["num_correct"], 3);
  EXPECT_EQ(j["per_class"]["b"]["tp"], 2);
  EXPECT_FALSE(eh::eval::format_table(r).empty());
}

TEST(EvalClassification, PerfectAndEdinburghFixture) {
  // tests/data/eval/labels_{gt,pred}.csv (Edinburgh names, one numeric label):
  //   (1,1) eating/eating (1,2) lying/lying (2,1) eating/drinking (2,2) standing/standing
  //   (3,1) drinking/drinking (3,2) lying/8 = lying.  5 of 6 correct.
  // eating: TP 1, support 2, predicted 1 -> F1 = 2 / (2 + 0 + 1) = 2/3.
  // drinking: TP 1, support 1, predicted 2 -> F1 = 2 / (2 + 1 + 0) = 2/3.
  // standing, lying: perfect, F1 = 1. Macro over these 4 classes: (2/3 + 2/3 + 1 + 1) / 4 = 5/6.
  const auto& classes = eh::eval::edinburgh_pig_classes();
  const std::string dir = std::string(EH_TEST_DATA_DIR) + "/eval/";
  const auto gt = eh::eval::load_labels(dir + "labels_gt.csv", classes);
  const auto pr = eh::eval::load_labels(dir + "labels_pred.csv", classes);
  const auto r = eh::eval::evaluate_classification(gt, pr, classes);
  EXPECT_EQ(r.num_correct, 5);
  EXPECT_NEAR(r.accuracy, 5.0 / 6.0, 1e-15);
  EXPECT_EQ(r.macro_classes, 4);
  EXPECT_NEAR(r.macro_f1, 5.0 / 6.0, 1e-15);
  // Against itself everything is 1.
  const auto self = eh::eval::evaluate_classification(gt, gt, classes);
  EXPECT_DOUBLE_EQ(self.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(self.macro_f1, 1.0);
}

TEST(EvalClassification, RejectsOutOfRangeClassIndex) {
  LabelSet gt, pr;
  gt.source = "gt";
  gt.labels = {{{1, 1}, 5}};
  EXPECT_THROW(eh::eval::evaluate_classification(gt, pr, {"a", "b"}), eh::Error);
  EXPECT_THROW(eh::eval::evaluate_classification(gt, pr, {}), eh::Error);
}

TEST(EvalClassification, BootstrapIntervalResamplesPensAndScoresTheirSum) {
  // Pen A: two animals of class a, both right. Pen B: two of class a, both called b.
  // A resample of 2 pens is AA (p = 1/4), AB or BA (1/2) or BB (1/4):
  //   AA: top-1 1, macro-F1 1 (only a present);
  //   AB: top-1 1/2; a: TP 2, FN 2 -> F1 4/6 = 2/3; b: FP 2 -> F1 0; macro-F1 (2/3 + 0) / 2 = 1/3
  //       (not the mean of the pens' own macro-F1, 1/2: the counts are summed, then scored);
  //   BB: top-1 0, macro-F1 0.
  // A 30% interval (tails at 0.35 and 0.65 of 2000 draws) lies inside the AB mass (0.25..0.75,
  // sampling error ~0.01), so both ends are AB's values; a 95% interval spans BB to AA.
  const std::vector<std::string> classes = {"a", "b"};
  LabelSet gt, right, wrong;
  gt.labels = {{{1, 1}, 0}, {{1, 2}, 0}};
  right.labels = gt.labels;
  wrong.labels = {{{1, 1}, 1}, {{1, 2}, 1}};
  const auto pa = eh::eval::evaluate_classification(gt, right, classes), pb = eh::eval::evaluate_classification(gt, wrong, classes);
  EXPECT_DOUBLE_EQ(pb.macro_f1, 0.0);
  const auto mid = eh::eval::bootstrap_interval({pa, pb}, 2000, 7, 0.3);
  EXPECT_EQ(mid.units, 2);
  EXPECT_EQ(mid.resamples, 2000);
  EXPECT_DOUBLE_EQ(mid.accuracy_lo, 0.5);
  EXPECT_DOUBLE_EQ(mid.accuracy_hi, 0.5);
  EXPECT_NEAR(mid.macro_f1_lo, 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(mid.macro_f1_hi, 1.0 / 3.0, 1e-12);
  const auto wide = eh::eval::bootstrap_interval({pa, pb}, 2000, 7);
  EXPECT_DOUBLE_EQ(wide.accuracy_lo, 0.0);
  EXPECT_DOUBLE_EQ(wide.accuracy_hi, 1.0);
  EXPECT_DOUBLE_EQ(wide.macro_f1_lo, 0.0);
  EXPECT_DOUBLE_EQ(wide.macro_f1_hi, 1.0);
  // One pen: every draw is that pen.
  const auto one = eh::eval::bootstrap_interval({pa}, 50, 7);
  EXPECT_DOUBLE_EQ(one.accuracy_lo, 1.0);
  EXPECT_DOUBLE_EQ(one.macro_f1_hi, 1.0);
  EXPECT_THROW(eh::eval::bootstrap_interval({}, 50, 7), eh::Error);
  EXPECT_THROW(eh::eval::bootstrap_interval({pa, eh::eval::evaluate_classification(gt, right, {"a", "b", "c"})}, 50, 7), eh::Error);
}

TEST(EvalClassification, FinishFromCountsReproducesTheEvaluation) {
  // The hand case's counts alone give the same metrics (what the bootstrap relies on).
  const std::vector<std::string> classes = {"a", "b", "c", "d"};
  const auto [gt, pr] = hand_case();
  const auto r = eh::eval::evaluate_classification(gt, pr, classes);
  eh::eval::ClassificationResult c;
  c.class_names = classes;
  c.confusion = r.confusion;
  c.missing = r.missing;
  eh::eval::finish_from_counts(&c);
  EXPECT_EQ(c.num_gt, 6);
  EXPECT_EQ(c.num_missing, 1);
  EXPECT_EQ(c.num_correct, 3);
  EXPECT_DOUBLE_EQ(c.accuracy, r.accuracy);
  EXPECT_EQ(c.macro_classes, 3);
  EXPECT_DOUBLE_EQ(c.macro_f1, r.macro_f1);
  for (size_t k = 0; k < classes.size(); ++k) EXPECT_DOUBLE_EQ(c.per_class[k].f1, r.per_class[k].f1) << classes[k];
}

}  // namespace
