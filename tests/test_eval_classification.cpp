// Behaviour classification metrics on a hand case (values derived in the comments).
#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "eval/classification.h"

namespace {

using eh::eval::LabelSet;

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
  LabelSet gt, pr;
  gt.labels = {{{1, 1}, 0}, {{1, 2}, 0}, {{2, 1}, 1}, {{2, 2}, 1}, {{3, 1}, 2}, {{3, 2}, 0}};
  pr.labels = {{{1, 1}, 0}, {{1, 2}, 1}, {{2, 1}, 1}, {{2, 2}, 1}, {{3, 1}, 0}, {{4, 1}, 2}};
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

}  // namespace
