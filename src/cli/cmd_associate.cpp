// `edgeherd associate`: behaviour/activity trajectories vs outcome labels (docs/association.md).
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "store/association.h"
#include "store/store.h"

namespace {

namespace es = eh::store;

struct AssocArgs {
  std::string db, outcomes, json, correction = "bh";
  es::AssociationOptions opt;
  bool all_controls = false;
};

int run_associate(AssocArgs a) {
  if (a.correction == "holm")
    a.opt.correction = es::AssociationOptions::Correction::Holm;
  else if (a.correction != "bh")
    throw eh::UsageError(fmt::format("--correction must be bh or holm, got '{}'", a.correction));
  a.opt.clean_controls = !a.all_controls;
  if (a.opt.baseline_days < 1 || a.opt.response_days < 1 || a.opt.min_days < 1)
    throw eh::UsageError("--baseline-days, --response-days and --min-days must be >= 1");
  if (a.opt.min_days > std::min(a.opt.baseline_days, a.opt.response_days))
    throw eh::UsageError("--min-days cannot exceed the baseline or response window");
  if (!(a.opt.alpha > 0 && a.opt.alpha < 1)) throw eh::UsageError("--alpha must be in (0, 1)");
  if (a.opt.permutations < 1 || a.opt.bootstrap < 2) throw eh::UsageError("--permutations >= 1, --bootstrap >= 2");

  es::StoreOptions so;
  so.read_only = true;
  so.create = false;
  es::Store s(a.db, so);
  int64_t day0 = 0;
  const auto series = es::load_series(s, &day0);
  std::vector<es::OutcomeLabel> labels;
  if (a.outcomes.empty()) {
    labels = es::outcomes_from_store(s, day0);
    if (labels.empty()) throw eh::UsageError(fmt::format("{} holds no outcome labels; give --outcomes labels.csv", a.db));
  } else {
    labels = es::read_outcomes_csv(a.outcomes, day0);
    es::resolve_animals(labels, s);
  }
  spdlog::info("{}: {} animals, day 0 = {}; {} outcome labels", a.db, series.size(), es::iso_utc(day0).substr(0, 10),
               labels.size());
  const auto report = es::associate(series, labels, a.opt);
  fmt::print("{}", es::format_table(report));
  if (!a.json.empty()) {
    nlohmann::json j = es::to_json(report);
    j["db"] = a.db;
    j["outcomes"] = a.outcomes.empty() ? "(store)" : a.outcomes;
    j["day0"] = es::iso_utc(day0);
    std::ofstream out(a.json);
    if (!out) throw eh::Error(fmt::format("{}: cannot open for writing", a.json));
    out << j.dump(2) << '\n';
    if (!out) throw eh::Error(fmt::format("{}: write failed", a.json));
    spdlog::info("wrote {}", a.json);
  }
  return 0;
}

const eh::cli::Registrar kRegistrar{eh::cli::Command{
    "associate",
    "Effect sizes, permutation tests and a cross-validated model of behaviour trajectories vs outcome labels",
    [](CLI::App& sub) -> eh::cli::Action {
      auto a = std::make_shared<AssocArgs>();
      auto& o = a->opt;
      sub.add_option("--db", a->db, "Store file")->required()->check(CLI::ExistingFile);
      sub.add_option("--outcomes", a->outcomes,
                     "Labels CSV: animal_id,outcome,value[,onset_day,note] (default: the store's outcomes table)")
          ->check(CLI::ExistingFile);
      sub.add_option("--json", a->json, "Also write the full report as JSON");
      sub.add_option("--baseline-days", o.baseline_days, "Baseline window before the onset")->capture_default_str();
      sub.add_option("--response-days", o.response_days, "Response window from the onset")->capture_default_str();
      sub.add_option("--min-days", o.min_days, "Days with data needed in each window")->capture_default_str();
      sub.add_option("--min-observed-h", o.min_observed_h, "Skip days observed for fewer hours")->capture_default_str();
      sub.add_option("--permutations", o.permutations, "Permutations per test")->capture_default_str();
      sub.add_option("--bootstrap", o.bootstrap, "Bootstrap resamples for CIs")->capture_default_str();
      sub.add_option("--auc-permutations", o.auc_permutations, "Label permutations for the AUC p-value")
          ->capture_default_str();
      sub.add_option("--seed", o.seed, "Seed of every resampling")->capture_default_str();
      sub.add_option("--alpha", o.alpha, "Significance level for the adjusted p-values")->capture_default_str();
      sub.add_option("--correction", a->correction, "Multiple comparisons: bh (FDR) or holm (FWER)")
          ->check(CLI::IsMember({"bh", "holm"}))
          ->capture_default_str();
      sub.add_option("--l2", o.l2, "L2 penalty of the logistic regression")->capture_default_str();
      sub.add_option("--folds", o.folds, "CV folds (0: leave-one-out up to 60 animals, else 5)")->capture_default_str();
      sub.add_flag("--all-controls", a->all_controls,
                   "Keep animals positive for another outcome among the controls (default: clean controls)");
      sub.add_flag("--unlisted-controls", o.unlisted_controls,
                   "Animals with no label for an outcome count as its controls");
      return [a] { return run_associate(*a); };
    }}};

}  // namespace
