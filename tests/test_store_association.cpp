// Outcome association: statistics hand cases, and planted / null effects on synthetic
// longitudinal data where the truth is known.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <random>

#include "core/error.h"
#include "store/association.h"
#include "store/store.h"
#include "test_util.h"

namespace es = eh::store;

// ---- hand cases ------------------------------------------------------------------------------

TEST(StoreAssocStats, AucHandCases) {
  EXPECT_DOUBLE_EQ(es::auc({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}), 1.0);  // perfect ranking
  EXPECT_DOUBLE_EQ(es::auc({0.9, 0.8, 0.2, 0.1}, {0, 0, 1, 1}), 0.0);  // reversed
  EXPECT_DOUBLE_EQ(es::auc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}), 0.5);  // all tied
  EXPECT_DOUBLE_EQ(es::auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
  EXPECT_DOUBLE_EQ(es::auc({0.5, 0.5, 0.2, 0.9}, {1, 0, 0, 1}), 0.875);  // one tied pair counts 1/2
  EXPECT_TRUE(std::isnan(es::auc({0.1, 0.2}, {1, 1})));
  EXPECT_THROW(es::auc({0.1, 0.2}, {1, 2}), eh::Error);
}

TEST(StoreAssocStats, MultipleComparisonHandCases) {
  const std::vector<double> p = {0.01, 0.04, 0.03, 0.005};
  const auto q = es::benjamini_hochberg(p);
  const std::vector<double> want_q = {0.02, 0.04, 0.04, 0.02};
  const auto h = es::holm(p);
  const std::vector<double> want_h = {0.03, 0.06, 0.06, 0.02};
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_NEAR(q[i], want_q[i], 1e-12);
    EXPECT_NEAR(h[i], want_h[i], 1e-12);
  }
  EXPECT_DOUBLE_EQ(es::benjamini_hochberg({0.9})[0], 0.9);
  EXPECT_DOUBLE_EQ(es::holm({0.6, 0.7})[1], 1.0);
}

TEST(StoreAssocStats, EffectSizesAndPermutation) {
  EXPECT_NEAR(es::hedges_g({1, 2, 3}, {4, 5, 6}), -2.4, 1e-12);  // d = -3, J = 0.8
  const auto ci = es::hedges_g_ci(-2.4, 3, 3);
  EXPECT_LT(ci.first, -2.4);
  EXPECT_GT(ci.second, -2.4);
  EXPECT_TRUE(std::isnan(es::hedges_g({1, 1}, {1, 1})));
  // Well separated groups of 5: the exact two-sided p is 2 / C(10, 5) = 0.0079.
  const double p = es::permutation_p({10, 11, 12, 13, 14}, {0, 1, 2, 3, 4}, 20000, 1);
  EXPECT_NEAR(p, 2.0 / 252, 0.003);
  EXPECT_GT(es::permutation_p({1, 2, 3, 4}, {1.5, 2.5, 3.5, 2}, 5000, 1), 0.5);
  const auto bci = es::bootstrap_diff_ci({10, 11, 12, 13, 14}, {0, 1, 2, 3, 4}, 2000, 1);
  EXPECT_LT(bci.first, 10.0);
  EXPECT_GT(bci.second, 10.0);
  EXPECT_GT(bci.first, 7.0);
  EXPECT_NEAR(es::pearson_r({1, 2, 3, 4}, {2, 4, 6, 8}), 1.0, 1e-12);
  EXPECT_NEAR(es::pearson_r({1, 2, 3, 4}, {8, 6, 4, 2}), -1.0, 1e-12);
}

TEST(StoreAssocStats, LogisticRegressionOptimumAndCv) {
  // Symmetric data: the fit is symmetric, p(0) + p(1) = 1.
  const std::vector<std::vector<double>> X = {{0}, {0}, {0}, {1}, {1}, {1}};
  const std::vector<int> y = {0, 0, 1, 0, 1, 1};
  const auto m = es::fit_logistic(X, y, 1.0);
  EXPECT_GT(m.w[0], 0);
  EXPECT_NEAR(es::predict(m, {0}) + es::predict(m, {1}), 1.0, 1e-9);
  // Optimality (KKT) on a random problem: the gradient of the penalised loss is ~0.
  std::mt19937_64 rng(4);
  std::normal_distribution<double> n(0, 1);
  std::vector<std::vector<double>> Z;
  std::vector<int> t;
  for (int i = 0; i < 80; ++i) {
    Z.push_back({n(rng), n(rng), n(rng)});
    t.push_back(Z.back()[0] - 0.5 * Z.back()[1] + 0.7 * n(rng) > 0 ? 1 : 0);
  }
  const double l2 = 0.5;
  const auto f = es::fit_logistic(Z, t, l2);
  double g0 = 0;
  std::vector<double> g(3, 0);
  for (size_t i = 0; i < Z.size(); ++i) {
    const double r = es::predict(f, Z[i]) - t[i];
    g0 += r;
    for (size_t j = 0; j < 3; ++j) g[j] += r * (Z[i][j] - f.mean[j]) / f.sd[j];
  }
  EXPECT_NEAR(g0, 0, 1e-6);
  for (size_t j = 0; j < 3; ++j) EXPECT_NEAR(g[j] + l2 * f.w[j], 0, 1e-6);
  EXPECT_GT(f.w[0], 0);
  EXPECT_LT(f.w[1], 0);
  // A huge penalty leaves the prevalence.
  const auto flat = es::fit_logistic(Z, t, 1e9);
  double prev = 0;
  for (int v : t) prev += v;
  prev /= t.size();
  EXPECT_NEAR(es::predict(flat, Z[0]), prev, 1e-3);
  // Perfectly separable data stays finite thanks to L2, and CV ranks it perfectly.
  std::vector<std::vector<double>> S;
  std::vector<int> s;
  for (int i = 0; i < 20; ++i) {
    S.push_back({static_cast<double>(i)});
    s.push_back(i >= 10);
  }
  const auto sep = es::fit_logistic(S, s, 0.1);
  EXPECT_TRUE(std::isfinite(sep.w[0]));
  // (Leave-one-out is slightly pessimistic at the class boundary.)
  EXPECT_GE(es::auc(es::cv_predictions(S, s, 0.1, 0, 1), s), 0.95);
  EXPECT_GE(es::auc(es::cv_predictions(S, s, 0.1, 5, 1), s), 0.95);
  // Labels unrelated to the feature: CV AUC near or below chance.
  EXPECT_LT(es::auc(es::cv_predictions(S, {1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0}, 1.0, 0, 1),
                    {1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0}),
            0.7);
  EXPECT_THROW(es::fit_logistic({{1}, {2, 3}}, {0, 1}, 1), eh::Error);
}

// ---- synthetic longitudinal data -------------------------------------------------------------

namespace {

struct Synthetic {
  std::vector<es::AnimalSeries> series;
  std::vector<es::OutcomeLabel> labels;
};

struct SynthOptions {
  int n_lame = 10, n_ill = 10, n_control = 20;
  int n_null_cases = 8;      // "reproduction": random healthy animals, no effect planted
  int days = 60;
  double lame_lying = 0.05;  // lying fraction up after onset (from standing and moving)
  double lame_distance = 0.25;  // distance per hour down by this fraction
  double ill_eating = 0.03;  // eating fraction down (to lying)
  uint64_t seed = 1;
};

// Daily behaviour budgets of a pen, planted lameness and illness from each case's onset day,
// with animal-level variation, a common trend and day-to-day noise.
Synthetic make_synthetic(const SynthOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> N(0, 1);
  std::uniform_real_distribution<double> U(0, 1);
  Synthetic out;
  const int n = o.n_lame + o.n_ill + o.n_control;
  std::vector<int> kind(static_cast<size_t>(n), 0);  // 1 lame, 2 ill
  for (int i = 0; i < o.n_lame; ++i) kind[static_cast<size_t>(i)] = 1;
  for (int i = o.n_lame; i < o.n_lame + o.n_ill; ++i) kind[static_cast<size_t>(i)] = 2;
  std::shuffle(kind.begin(), kind.end(), rng);
  std::vector<int> healthy;
  for (int i = 0; i < n; ++i) if (kind[static_cast<size_t>(i)] == 0) healthy.push_back(i);
  std::shuffle(healthy.begin(), healthy.end(), rng);
  std::vector<bool> null_case(static_cast<size_t>(n), false);
  for (int k = 0; k < o.n_null_cases && k < static_cast<int>(healthy.size()); ++k)
    null_case[static_cast<size_t>(healthy[static_cast<size_t>(k)])] = true;

  for (int i = 0; i < n; ++i) {
    es::AnimalSeries a;
    a.animal_id = i + 1;
    const double onset = std::floor(25 + 15 * U(rng));
    const double lying0 = 0.70 + 0.03 * N(rng), eating0 = 0.12 + 0.015 * N(rng), drinking0 = 0.02 + 0.004 * N(rng);
    const double moving0 = 0.05 + 0.01 * N(rng), playing0 = 0.012 + 0.004 * N(rng), sitting0 = 0.025 + 0.006 * N(rng);
    const double dist0 = 60 * std::exp(0.2 * N(rng)), trend = 0.001 + 0.0004 * N(rng);
    for (int d = 0; d < o.days; ++d) {
      double lying = lying0 + trend * d + 0.025 * N(rng), eating = eating0 + 0.012 * N(rng);
      double drinking = drinking0 + 0.003 * N(rng), moving = moving0 + 0.008 * N(rng);
      double playing = playing0 + 0.003 * N(rng), sitting = sitting0 + 0.005 * N(rng);
      double dist = dist0 * std::exp(0.12 * N(rng));
      if (d >= onset && kind[static_cast<size_t>(i)] == 1) {
        lying += o.lame_lying;
        moving -= 0.4 * o.lame_lying;
        dist *= 1 - o.lame_distance;
      }
      if (d >= onset && kind[static_cast<size_t>(i)] == 2) {
        eating -= o.ill_eating;
        lying += o.ill_eating;
      }
      auto clamp0 = [](double v) { return std::max(v, 0.0); };
      es::DailyRecord r;
      r.observed_s = static_cast<uint64_t>(3600 * (20 + 4 * U(rng) - 2));
      const double obs = static_cast<double>(r.observed_s);
      r.behaviour_s[es::kLying] = static_cast<uint64_t>(obs * clamp0(lying));
      r.behaviour_s[es::kEating] = static_cast<uint64_t>(obs * clamp0(eating));
      r.behaviour_s[es::kDrinking] = static_cast<uint64_t>(obs * clamp0(drinking));
      r.behaviour_s[es::kMoving] = static_cast<uint64_t>(obs * clamp0(moving));
      r.behaviour_s[es::kPlaying] = static_cast<uint64_t>(obs * clamp0(playing));
      r.behaviour_s[es::kNotMoving] = static_cast<uint64_t>(obs * clamp0(sitting));
      uint64_t used = 0;
      for (auto v : r.behaviour_s) used += v;
      r.behaviour_s[es::kStanding] = r.observed_s > used ? r.observed_s - used : 0;
      r.observed_s = std::max(r.observed_s, used);
      r.distance_m = dist * obs / 3600;
      r.active_s = static_cast<uint64_t>(obs * clamp0(moving + playing) * 0.9);
      a.days.push_back(es::daily_point(r, d));
    }
    out.series.push_back(std::move(a));
    auto label = [&](const char* outcome, bool pos) {
      es::OutcomeLabel l;
      l.animal = std::to_string(i + 1);
      l.animal_id = i + 1;
      l.outcome = outcome;
      l.value = pos ? 1 : 0;
      if (pos) l.onset_day = onset;
      out.labels.push_back(l);
    };
    label("lameness", kind[static_cast<size_t>(i)] == 1);
    label("illness", kind[static_cast<size_t>(i)] == 2);
    if (o.n_null_cases > 0) label("reproduction", null_case[static_cast<size_t>(i)]);
  }
  return out;
}

const es::FeatureTest& find(const es::AssociationReport& r, const std::string& outcome, const std::string& feature) {
  for (const auto& t : r.tests)
    if (t.outcome == outcome && t.feature == feature + ".change") return t;
  throw std::runtime_error("no test " + outcome + " / " + feature);
}

const es::ModelResult& model(const es::AssociationReport& r, const std::string& outcome) {
  for (const auto& m : r.models)
    if (m.outcome == outcome) return m;
  throw std::runtime_error("no model " + outcome);
}

es::AssociationOptions fast_options(uint64_t seed) {
  es::AssociationOptions o;
  o.permutations = 4000;
  o.bootstrap = 1000;
  o.auc_permutations = 100;
  o.seed = seed;
  return o;
}

}  // namespace

namespace {

struct SeedSummary {
  int null_tests = 0, false_positives = 0, null_model_hits = 0;
};

// One run on planted data: planted effects must be found; returns the null-test tally.
SeedSummary check_planted(uint64_t seed, es::AssociationOptions::Correction corr, bool print) {
  // Pairs with no planted effect (by construction of the generator), plus every feature of the
  // "reproduction" outcome (random healthy animals).
  static const std::vector<std::pair<std::string, std::string>> null_pairs = {
      {"lameness", "eating_frac"},    {"lameness", "drinking_frac"}, {"lameness", "playing_frac"},
      {"lameness", "sitting_frac"},   {"illness", "drinking_frac"},  {"illness", "moving_frac"},
      {"illness", "playing_frac"},    {"illness", "sitting_frac"},   {"illness", "distance_m_per_h"},
      {"illness", "active_frac"},     {"illness", "standing_frac"}};
  SynthOptions so;
  so.seed = seed;
  const auto data = make_synthetic(so);
  auto opt = fast_options(seed);
  opt.correction = corr;
  const auto r = es::associate(data.series, data.labels, opt);
  if (print) std::cout << es::format_table(r);
  const auto& ly = find(r, "lameness", "lying_frac");
  EXPECT_TRUE(ly.significant) << "seed " << seed << " q " << ly.q;
  EXPECT_GT(ly.diff, 0);
  EXPECT_GT(ly.diff_lo, 0);
  EXPECT_GT(ly.effect, 0);
  const auto& di = find(r, "lameness", "distance_m_per_h");
  EXPECT_TRUE(di.significant) << "seed " << seed << " q " << di.q;
  EXPECT_LT(di.diff, 0);
  EXPECT_LT(di.diff_hi, 0);
  const auto& ea = find(r, "illness", "eating_frac");
  EXPECT_TRUE(ea.significant) << "seed " << seed << " q " << ea.q;
  EXPECT_LT(ea.diff, 0);
  EXPECT_LT(ea.effect_hi, 0);
  EXPECT_EQ(ly.n_case, so.n_lame);
  EXPECT_EQ(ly.n_control, so.n_control - so.n_null_cases);  // clean controls
  SeedSummary sum;
  for (const auto& [o, f] : null_pairs) {
    ++sum.null_tests;
    if (find(r, o, f).significant) {
      ++sum.false_positives;
      std::cout << "seed " << seed << ": false positive " << o << " / " << f << " q " << find(r, o, f).q
                << " p_holm " << find(r, o, f).p_holm << "\n";
    }
  }
  for (const auto& t : r.tests)
    if (t.outcome == "reproduction") {
      ++sum.null_tests;
      if (t.significant) {
        ++sum.false_positives;
        std::cout << "seed " << seed << ": false positive " << t.outcome << " / " << t.feature << " q " << t.q << "\n";
      }
    }
  // Models: planted outcomes predicted; the null outcome not.
  EXPECT_GT(model(r, "lameness").auc, 0.9) << "seed " << seed;
  EXPECT_LE(model(r, "lameness").auc_p, 0.02);
  EXPECT_GT(model(r, "illness").auc, 0.8) << "seed " << seed;
  EXPECT_LE(model(r, "illness").auc_p, 0.05);
  sum.null_model_hits += model(r, "reproduction").auc_p <= 0.05;
  // Small groups are flagged.
  bool warned = false;
  for (const auto& w : find(r, "reproduction", "lying_frac").warnings) warned |= w.find("small sample") != std::string::npos;
  EXPECT_TRUE(warned);
  return sum;
}

}  // namespace

TEST(StoreAssociation, FindsPlantedEffectsAndNothingElse) {
  // Benjamini-Hochberg (the default) controls the false discovery rate: over 10 seeds the
  // planted effects are found every time and null pairs turn up at most at the nominal rate.
  SeedSummary bh;
  const int seeds = 10;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const auto s = check_planted(seed, es::AssociationOptions::Correction::BenjaminiHochberg, seed == 1);
    bh.null_tests += s.null_tests;
    bh.false_positives += s.false_positives;
    bh.null_model_hits += s.null_model_hits;
  }
  std::cout << "BH: null tests " << bh.null_tests << ", significant " << bh.false_positives
            << "; null-outcome model with permutation p <= 0.05: " << bh.null_model_hits << " of " << seeds << "\n";
  EXPECT_LE(bh.false_positives, bh.null_tests / 20);  // <= 5%
  EXPECT_LE(bh.null_model_hits, 1);
  // Holm controls the family-wise error: still every planted effect, and no null pair at all.
  SeedSummary holm;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const auto s = check_planted(seed, es::AssociationOptions::Correction::Holm, false);
    holm.null_tests += s.null_tests;
    holm.false_positives += s.false_positives;
  }
  std::cout << "Holm: null tests " << holm.null_tests << ", significant " << holm.false_positives << "\n";
  EXPECT_EQ(holm.false_positives, 0);
}

TEST(StoreAssociation, CompleteNullFindsNothing) {
  int discoveries = 0, runs = 0;
  for (uint64_t seed = 11; seed <= 16; ++seed) {
    SynthOptions so;
    so.seed = seed;
    so.lame_lying = so.lame_distance = so.ill_eating = 0;  // labels, but no effects
    const auto data = make_synthetic(so);
    const auto r = es::associate(data.series, data.labels, fast_options(seed));
    for (const auto& t : r.tests) discoveries += t.significant;
    ++runs;
  }
  // Under the complete null BH keeps the chance of any discovery per run <= 5%.
  std::cout << "complete null: " << discoveries << " discoveries over " << runs << " runs\n";
  EXPECT_LE(discoveries, 1) << "over " << runs << " runs";
}

TEST(StoreAssociation, ContinuousOutcomeCorrelates) {
  SynthOptions so;
  so.seed = 3;
  so.n_null_cases = 0;
  auto data = make_synthetic(so);
  // Growth rises with distance walked (planted), unrelated to drinking.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> N(0, 1);
  for (const auto& a : data.series) {
    double dist = 0;
    for (const auto& p : a.days) dist += p.f[es::kDistancePerH];
    es::OutcomeLabel l;
    l.animal = std::to_string(a.animal_id);
    l.animal_id = a.animal_id;
    l.outcome = "growth";
    l.value = 0.6 + 0.004 * dist / a.days.size() + 0.02 * N(rng);
    data.labels.push_back(l);
  }
  const auto r = es::associate(data.series, data.labels, fast_options(3));
  const es::FeatureTest* d = nullptr;
  for (const auto& t : r.tests)
    if (t.outcome == "growth" && t.feature == "distance_m_per_h.level") d = &t;
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->type, "continuous");
  EXPECT_TRUE(d->significant);
  EXPECT_GT(d->effect_lo, 0);
  EXPECT_EQ(d->n_case, 40);
}

TEST(StoreAssociation, SmallSamplesAreHandledHonestly) {
  SynthOptions so;
  so.n_lame = 2;
  so.n_ill = 1;
  so.n_control = 3;
  so.n_null_cases = 0;
  const auto data = make_synthetic(so);
  const auto r = es::associate(data.series, data.labels, fast_options(1));
  for (const auto& t : r.tests) {
    if (t.outcome == "illness") {
      EXPECT_TRUE(std::isnan(t.p));  // one case: not tested
      EXPECT_FALSE(t.significant);
    }
    EXPECT_FALSE(t.warnings.empty());
  }
  EXPECT_FALSE(r.warnings.empty());  // 4000 permutations cannot reach q < 0.05 over 9 tests? (or other notes)
  const auto j = es::to_json(r);
  EXPECT_TRUE(j["tests"][0].contains("q"));
  EXPECT_NE(es::format_table(r).find("warning"), std::string::npos);
}

TEST(StoreAssociation, OutcomeCsvFormat) {
  const auto dir = eh::test::temp_dir("assoc_csv");
  const auto p = dir / "labels.csv";
  std::ofstream(p) << "# planted by the simulator\n"
                      "animal_id,outcome,value,onset_day,note\n"
                      "1,lameness,1,30,\"left hind, score 2\"\n"
                      "2,Lameness,0,,\n"
                      "3,illness,1,2024-01-11,\n"
                      "4,growth,0.83,,adg kg/d\n";
  const int64_t day0 = 1704067200;  // 2024-01-01
  const auto l = es::read_outcomes_csv(p.string(), day0);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].note, "left hind, score 2");
  EXPECT_EQ(l[0].onset_day.value_or(-1), 30);
  EXPECT_EQ(l[1].outcome, "lameness");
  EXPECT_FALSE(l[1].onset_day);
  EXPECT_EQ(l[2].onset_day.value_or(-1), 10);  // ISO date, days since day 0
  EXPECT_DOUBLE_EQ(l[3].value, 0.83);
  std::ofstream(dir / "bad.csv") << "animal_id,outcome,value\n1,lameness,yes\n";
  try {
    es::read_outcomes_csv((dir / "bad.csv").string(), day0);
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:2"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "nohdr.csv") << "animal,kind\n1,lameness\n";
  EXPECT_THROW(es::read_outcomes_csv((dir / "nohdr.csv").string(), day0), eh::Error);
  // The simulator's longitudinal outcomes.csv (one row per animal) is read as events + weight gain.
  std::ofstream(dir / "sim.csv")
      << "animal_id,outcome,onset_day,recovery_day,max_severity,start_weight_kg,end_weight_kg,description\n"
         "1,lame,5,-1,0.7,30,41.5,\"pink, 2 dirt patches\"\n"
         "2,ill,8,14,0.6,30,39,\"black patch\"\n"
         "3,healthy,-1,-1,0,31,43,\"pink\"\n";
  const auto sim = es::read_outcomes_csv((dir / "sim.csv").string(), day0);
  ASSERT_EQ(sim.size(), 9u);
  EXPECT_EQ(sim[0].outcome, "lameness");
  EXPECT_EQ(sim[0].value, 1);
  EXPECT_EQ(sim[0].onset_day.value_or(-1), 5);
  EXPECT_EQ(sim[1].outcome, "illness");
  EXPECT_EQ(sim[1].value, 0);
  EXPECT_FALSE(sim[1].onset_day);
  EXPECT_EQ(sim[2].outcome, "weight_gain_kg");
  EXPECT_DOUBLE_EQ(sim[2].value, 11.5);
  EXPECT_EQ(sim[4].outcome, "illness");
  EXPECT_EQ(sim[4].onset_day.value_or(-1), 8);
  EXPECT_EQ(sim[6].value + sim[7].value, 0);
  EXPECT_FALSE(sim[6].onset_day);
  // A label twice for the same outcome is an error.
  std::vector<es::OutcomeLabel> dup = {l[0], l[0]};
  dup[0].animal_id = dup[1].animal_id = 1;
  es::AnimalSeries a;
  a.animal_id = 1;
  EXPECT_THROW(es::associate({a}, dup, fast_options(1)), eh::Error);
}

TEST(StoreAssociation, FromTheStore) {
  // 16 animals x 40 days written as hourly bins in day blocks; lameness planted in half of them.
  const auto dir = eh::test::temp_dir("assoc_store");
  es::StoreOptions so;
  so.bin_seconds = 3600;
  so.block_seconds = 86400;
  const int64_t day0 = 1704067200;
  std::mt19937_64 rng(21);
  std::normal_distribution<double> N(0, 1);
  {
    es::Store s((dir / "s.db").string(), so);
    for (int a = 1; a <= 16; ++a) {
      s.set_animal_info(a, "T" + std::to_string(a), "");
      const bool lame = a % 2 == 0;
      for (int d = 0; d < 40; ++d) {
        std::vector<es::BinRecord> bins;
        for (int h = 0; h < 24; ++h) {
          es::BinRecord b;
          b.start = day0 + d * 86400 + h * 3600;
          b.frames = 6 * 3600;
          double lying = 0.7 + 0.04 * N(rng) + (lame && d >= 20 ? 0.12 : 0);
          lying = std::clamp(lying, 0.0, 0.88);
          b.behaviour_s[es::kLying] = static_cast<uint32_t>(3600 * lying);
          b.behaviour_s[es::kEating] = static_cast<uint32_t>(3600 * 0.1);
          b.behaviour_s[es::kStanding] = 3600 - b.behaviour_s[es::kLying] - b.behaviour_s[es::kEating];
          b.distance_m = static_cast<float>(std::max(0.0, 50 + 8 * N(rng) - (lame && d >= 20 ? 20 : 0)));
          bins.push_back(b);
        }
        s.put_block(a, day0 + d * 86400, bins);
        s.refresh_daily(a, day0 + d * 86400);
      }
    }
  }
  es::StoreOptions ro;
  ro.read_only = true;
  es::Store s((dir / "s.db").string(), ro);
  int64_t d0 = 0;
  const auto series = es::load_series(s, &d0);
  EXPECT_EQ(d0, day0);
  ASSERT_EQ(series.size(), 16u);
  EXPECT_EQ(series[0].days.size(), 40u);
  EXPECT_NEAR(series[0].days[0].observed_h, 24, 0.01);
  const auto p = dir / "labels.csv";
  {
    std::ofstream f(p);
    f << "animal_id,outcome,value,onset_day\n";
    for (int a = 1; a <= 16; ++a) f << "T" << a << ",lameness," << (a % 2 == 0) << "," << (a % 2 == 0 ? "2024-01-21" : "") << "\n";
  }
  auto labels = es::read_outcomes_csv(p.string(), d0);
  es::resolve_animals(labels, s);
  EXPECT_EQ(labels[1].animal_id, 2);
  EXPECT_EQ(labels[1].onset_day.value_or(-1), 20);
  const auto r = es::associate(series, labels, fast_options(2));
  const auto& ly = find(r, "lameness", "lying_frac");
  EXPECT_TRUE(ly.significant);
  EXPECT_NEAR(ly.diff, 0.12, 0.03);
  EXPECT_TRUE(find(r, "lameness", "distance_m_per_h").significant);
  EXPECT_FALSE(find(r, "lameness", "eating_frac").significant);
}
