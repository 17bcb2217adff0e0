// Behaviour classification metrics: top-1 accuracy, per-class precision / recall / F1, macro-F1
// and the confusion matrix, for any number of classes (the Edinburgh Pig set has 9).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace eh::eval {

// unknown, not_moving, moving, running, eating, drinking, playing, standing, lying (index 0..8).
const std::vector<std::string>& edinburgh_pig_classes();

// Per-animal, per-frame labels: (frame, id) -> class index.
struct LabelSet {
  std::string source;
  std::map<std::pair<std::int64_t, std::int64_t>, int> labels;
};

// Reads a labels CSV: one `frame,id,label` per line, where label is a class index
// (0 <= label < class_names.size()) or a class name (matched case-insensitively). An optional
// header line `frame,id,label` is skipped, as are empty lines and lines starting with '#'.
// Malformed lines (wrong column count, non-integer frame/id, unknown label, the same (frame, id)
// twice) throw eh::Error("FILE:LINE: column N (NAME): ...").
LabelSet read_labels(std::istream& in, const std::string& source, const std::vector<std::string>& class_names);
LabelSet load_labels(const std::string& path, const std::vector<std::string>& class_names);

struct ClassMetrics {
  std::int64_t support = 0;    // ground-truth labels of this class
  std::int64_t predicted = 0;  // predictions of this class (paired with a ground-truth label)
  std::int64_t tp = 0;
  double precision = 0, recall = 0, f1 = 0;  // 0 where the ratio is 0 / 0
};

struct ClassificationResult {
  std::vector<std::string> class_names;
  // confusion[g][p]: ground-truth class g predicted as p, over the (frame, id) keys in both files.
  std::vector<std::vector<std::int64_t>> confusion;
  std::vector<std::int64_t> missing;  // per ground-truth class: keys with no prediction
  std::int64_t num_gt = 0;            // ground-truth labels
  std::int64_t num_paired = 0;        // ground-truth labels that have a prediction
  std::int64_t num_missing = 0;       // ground-truth labels without a prediction (counted wrong)
  std::int64_t num_extra = 0;         // predictions for keys not in the ground truth (ignored)
  std::int64_t num_correct = 0;
  double accuracy = 0;                // num_correct / num_gt
  std::vector<ClassMetrics> per_class;
  int macro_classes = 0;              // classes present in ground truth or prediction
  double macro_f1 = 0;                // mean F1 over those classes
};

ClassificationResult evaluate_classification(const LabelSet& gt, const LabelSet& pred,
                                             const std::vector<std::string>& class_names);

// Fills every count and metric of `r` from its confusion matrix and missing counts (num_extra is
// kept): what evaluate_classification computes after pairing the labels. Used to score sums of
// results (bootstrap_interval).
void finish_from_counts(ClassificationResult* r);

// Percentile bootstrap interval of top-1 and macro-F1 over independent units (pens): each of
// `resamples` draws takes as many units as there are, with replacement, sums their counts and
// scores the sum. Animals and frames within a pen are not independent, so the pen is the unit.
struct ClassificationInterval {
  int units = 0, resamples = 0;
  double level = 0.95;
  double accuracy_lo = 0, accuracy_hi = 0, macro_f1_lo = 0, macro_f1_hi = 0;
};
ClassificationInterval bootstrap_interval(const std::vector<ClassificationResult>& units, int resamples, std::uint64_t seed,
                                          double level = 0.95);

nlohmann::json to_json(const ClassificationResult& r);
std::string format_table(const ClassificationResult& r);

}  // namespace eh::eval
