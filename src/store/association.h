// Outcome association: do an animal's behaviour and activity trajectories go with its health,
// reproduction or growth outcomes? (docs/association.md)
//
// For every animal the store's daily totals become daily features (lying, eating, drinking,
// standing, moving, playing, sitting fractions of the classified time; distance per observed
// hour; active fraction). For an event outcome (values 0/1 with an onset day) each feature's
// change is mean(after onset, response window) - mean(baseline window before onset); controls
// use the median onset of the cases. Cases and controls are compared per feature (difference in
// means with a bootstrap CI, Hedges' g with an analytic CI, a two-sided permutation p-value,
// Benjamini-Hochberg q-values over all tests of the run, Holm-adjusted p-values), and an
// L2-regularised logistic regression on all change features gives a cross-validated AUC with a
// bootstrap CI and a label-permutation p-value. A continuous outcome (any value outside {0, 1},
// e.g. growth) is correlated (Pearson r, Fisher CI, permutation p) with each feature's level
// before the onset (or over the whole record). Everything random uses a fixed seed.
#pragma once
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/codec.h"

namespace eh::store {

class Store;

// ---- statistics primitives -----------------------------------------------------------------

// Area under the ROC curve (Mann-Whitney with mid-ranks: a tie between a positive and a
// negative counts 1/2). labels: 1 positive, 0 negative. NaN when a class is empty.
double auc(const std::vector<double>& scores, const std::vector<int>& labels);

struct LogisticModel {
  std::vector<double> w;        // on standardised features
  double b = 0;
  std::vector<double> mean, sd;  // standardisation of the training data
  int iterations = 0;
};
// Minimises -loglik + l2/2 |w|^2 (intercept not penalised) by Newton's method on standardised
// features. Throws eh::Error on ragged X, labels other than 0/1 or l2 < 0.
LogisticModel fit_logistic(const std::vector<std::vector<double>>& X, const std::vector<int>& y, double l2);
double predict(const LogisticModel& m, const std::vector<double>& x);  // probability of 1
// Out-of-fold predicted probabilities from stratified k-fold CV (folds <= 1 or >= n: leave one
// out). Fold assignment is shuffled with `seed`.
std::vector<double> cv_predictions(const std::vector<std::vector<double>>& X, const std::vector<int>& y, double l2,
                                   int folds, uint64_t seed);

std::vector<double> benjamini_hochberg(const std::vector<double>& p);
std::vector<double> holm(const std::vector<double>& p);

double mean(const std::vector<double>& v);
double variance(const std::vector<double>& v);  // unbiased
// Hedges' g of a vs b (a - b over the pooled SD, small-sample corrected); NaN when undefined.
double hedges_g(const std::vector<double>& a, const std::vector<double>& b);
// Analytic 95% CI of g (Hedges & Olkin normal approximation).
std::pair<double, double> hedges_g_ci(double g, size_t n1, size_t n0, double z = 1.959963985);
// Two-sided permutation p-value of mean(a) - mean(b): (1 + #{|perm| >= |obs|}) / (1 + B).
double permutation_p(const std::vector<double>& a, const std::vector<double>& b, int permutations, uint64_t seed);
// Percentile bootstrap CI of mean(a) - mean(b), resampling within a and within b.
std::pair<double, double> bootstrap_diff_ci(const std::vector<double>& a, const std::vector<double>& b,
                                            int resamples, uint64_t seed, double level = 0.95);
double pearson_r(const std::vector<double>& x, const std::vector<double>& y);

// ---- data ----------------------------------------------------------------------------------

enum Feature : int {
  kLyingFrac = 0,
  kEatingFrac,
  kDrinkingFrac,
  kStandingFrac,
  kMovingFrac,   // moving + running
  kPlayingFrac,
  kSittingFrac,  // not_moving
  kDistancePerH,
  kActiveFrac,
  kNumFeatures
};
const std::array<const char*, kNumFeatures>& feature_names();

struct DailyPoint {
  int day = 0;            // days since the study's day 0
  double observed_h = 0;
  std::array<double, kNumFeatures> f{};  // NaN where undefined
};

struct AnimalSeries {
  int64_t animal_id = 0;
  std::string tag;
  std::vector<DailyPoint> days;  // sorted by day
};

DailyPoint daily_point(const DailyRecord& d, int day_index);
// Every animal's daily features; day 0 = the earliest day in the store (returned in *day0,
// unix seconds of its 00:00 UTC).
std::vector<AnimalSeries> load_series(Store& s, int64_t* day0);

struct OutcomeLabel {
  std::string animal;       // as written in the file (id or tag)
  int64_t animal_id = 0;    // resolved
  std::string outcome;      // lameness, illness, reproduction, growth, ...
  double value = 0;
  std::optional<double> onset_day;  // days since day 0
  std::string note;
  int line = 0;             // in the CSV (0: from the store)
};

// CSV with a header naming at least animal_id (or animal), outcome (or kind) and value; optional
// onset_day (integer day index since day 0, or an ISO date YYYY-MM-DD, converted with day0) and
// note; other columns are ignored. Throws eh::Error naming file and line on a bad row.
std::vector<OutcomeLabel> read_outcomes_csv(const std::string& path, int64_t day0);
// Resolves `animal` to ids: an integer is an id, anything else is looked up as a tag.
void resolve_animals(std::vector<OutcomeLabel>& labels, Store& s);
std::vector<OutcomeLabel> outcomes_from_store(Store& s, int64_t day0);

// ---- analysis ------------------------------------------------------------------------------

struct AssociationOptions {
  int baseline_days = 7;       // window before the onset
  int response_days = 7;       // window from the onset on
  int min_days = 3;            // days needed in each window
  double min_observed_h = 2;   // a day observed for less is skipped
  int permutations = 10000;
  int bootstrap = 2000;
  int auc_permutations = 200;
  uint64_t seed = 1;
  double alpha = 0.05;
  // Which adjusted p-value decides `significant`: Benjamini-Hochberg q (false discovery rate,
  // the default) or Holm (family-wise error: stricter, for "is anything there at all").
  enum class Correction { BenjaminiHochberg, Holm } correction = Correction::BenjaminiHochberg;
  double l2 = 1.0;             // logistic regression penalty
  int folds = 0;               // 0: leave-one-out up to loo_max_n animals, else 5-fold stratified
  int loo_max_n = 60;
  bool clean_controls = true;  // controls exclude animals positive for any other event outcome
  bool unlisted_controls = false;  // animals without a label for an outcome count as its controls
  int small_n = 10;            // warn below this many per group
};

struct FeatureTest {
  std::string outcome, feature;  // feature e.g. "lying_frac.change" or "lying_frac.level"
  std::string type;              // "event" or "continuous"
  int n_case = 0, n_control = 0; // event: cases / controls; continuous: n_case = n
  double mean_case = NAN, mean_control = NAN;
  double diff = NAN, diff_lo = NAN, diff_hi = NAN;        // event: mean difference, bootstrap CI
  double effect = NAN, effect_lo = NAN, effect_hi = NAN;  // Hedges' g (event) or Pearson r
  double p = NAN, q = NAN, p_holm = NAN;
  bool significant = false;   // adjusted p (options.correction) < alpha
  std::vector<std::string> warnings;
};

struct ModelResult {
  std::string outcome;
  int n_case = 0, n_control = 0;
  std::vector<std::string> features;
  std::vector<double> coef;     // full-data fit, per standardised feature
  std::string cv;               // "leave-one-out" or "5-fold stratified"
  double auc = NAN, auc_lo = NAN, auc_hi = NAN, auc_p = NAN;
  std::vector<std::string> warnings;
};

struct AssociationReport {
  AssociationOptions options;
  int n_animals = 0;
  std::vector<FeatureTest> tests;
  std::vector<ModelResult> models;
  std::vector<std::string> warnings;
};

AssociationReport associate(const std::vector<AnimalSeries>& series, const std::vector<OutcomeLabel>& labels,
                            const AssociationOptions& opt);
nlohmann::json to_json(const AssociationReport& r);
std::string format_table(const AssociationReport& r);

}  // namespace eh::store
