// `edgeherd store ...`: inspect, export, migrate and size the longitudinal store (docs/store.md).
//   store info --db F [--json out.json]
//   store export --db F --out DIR
//   store migrate --db F
//   store import-outcomes --db F --outcomes labels.csv
//   store footprint [--days 365] [--animals 1] [--activity 1] [--rate] [--json out.json]
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "store/association.h"
#include "store/export.h"
#include "store/footprint.h"
#include "store/store.h"

namespace {

namespace es = eh::store;

struct StoreArgs {
  std::string db, out, json, outcomes, keep;
  int days = 365, animals = 1;
  double activity = 1.0, fps = 6.0;
  bool rate = false;
  CLI::App *info = nullptr, *exp = nullptr, *migrate = nullptr, *import = nullptr, *footprint = nullptr;
};

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  if (!out) throw eh::Error(fmt::format("{}: cannot open for writing", path));
  out << j.dump(2) << '\n';
  if (!out) throw eh::Error(fmt::format("{}: write failed", path));
  spdlog::info("wrote {}", path);
}

es::StoreOptions read_only() {
  es::StoreOptions o;
  o.read_only = true;
  o.create = false;
  return o;
}

int run_store(const StoreArgs& a) {
  if (a.info->parsed()) {
    es::Store s(a.db, read_only());
    const auto j = es::store_info(s);
    fmt::print("{}", es::format_info(j));
    if (!a.json.empty()) write_json(a.json, j);
    return 0;
  }
  if (a.exp->parsed()) {
    es::Store s(a.db, read_only());
    const auto r = es::export_store(s, a.out);
    fmt::print("exported {} ({} CSV rows, {} files) to {}\n", a.db, r.rows, r.files.size(), a.out);
    return 0;
  }
  if (a.migrate->parsed()) {
    const int before = es::migrate_store(a.db);
    if (before == es::kSchemaVersion)
      fmt::print("{}: schema v{} is current\n", a.db, before);
    else
      fmt::print("{}: migrated schema v{} -> v{}\n", a.db, before, es::kSchemaVersion);
    return 0;
  }
  if (a.import->parsed()) {
    es::StoreOptions o;
    o.create = false;
    es::Store s(a.db, o);
    int64_t day0 = 0;
    es::load_series(s, &day0);
    auto labels = es::read_outcomes_csv(a.outcomes, day0);
    es::resolve_animals(labels, s);
    for (const auto& l : labels) {
      es::Outcome o;
      o.animal_id = l.animal_id;
      o.kind = l.outcome;
      o.value = l.value;
      if (l.onset_day) o.onset = day0 + static_cast<int64_t>(std::llround(*l.onset_day * es::kDaySeconds));
      o.note = l.note;
      s.add_outcome(o);
    }
    s.commit();
    fmt::print("{}: imported {} outcome labels from {} (day 0 = {})\n", a.db, labels.size(), a.outcomes,
               es::iso_utc(day0).substr(0, 10));
    return 0;
  }
  if (a.footprint->parsed()) {
    es::FootprintOptions o;
    o.days = a.days;
    o.animals = a.animals;
    o.activity = a.activity;
    o.fps = a.fps;
    o.path = a.keep;
    int last = -1;
    o.progress = [&](double f) {
      const int pct = static_cast<int>(f * 10);
      if (pct != last) spdlog::info("footprint: {:.0f}% simulated", f * 100);
      last = pct;
    };
    const auto r = es::measure_footprint(o);
    fmt::print("{}", es::format_table(r));
    nlohmann::json j = es::to_json(r);
    if (a.rate) {
      const auto ir = es::measure_insert_rate(es::InsertRateOptions{});
      fmt::print("insert rate: {:.0f} frames/s through the recorder (20 animals), {:.0f} block rows/s batched, "
                 "{:.0f} rows/s with one transaction per block\n",
                 ir.observations_per_s, ir.block_rows_per_s, ir.autocommit_rows_per_s);
      j["insert_rate"] = es::to_json(ir);
    }
    if (!a.json.empty()) write_json(a.json, j);
    return 0;
  }
  throw eh::UsageError("store: give a subcommand (info, export, migrate, import-outcomes, footprint)");
}

const eh::cli::Registrar kRegistrar{eh::cli::Command{
    "store", "Inspect, export, migrate or size the per-animal longitudinal store (SQLite)",
    [](CLI::App& sub) -> eh::cli::Action {
      auto a = std::make_shared<StoreArgs>();
      sub.require_subcommand(1);
      a->info = sub.add_subcommand("info", "Size breakdown per table, counts, schema version");
      a->info->add_option("--db", a->db, "Store file")->required()->check(CLI::ExistingFile);
      a->info->add_option("--json", a->json, "Also write the information as JSON");
      a->exp = sub.add_subcommand("export", "CSV per table, thumbnails as JPEG, a JSON summary per animal");
      a->exp->add_option("--db", a->db, "Store file")->required()->check(CLI::ExistingFile);
      a->exp->add_option("--out", a->out, "Output directory (created)")->required();
      a->migrate = sub.add_subcommand("migrate", "Bring an older store to the current schema");
      a->migrate->add_option("--db", a->db, "Store file")->required()->check(CLI::ExistingFile);
      a->import = sub.add_subcommand("import-outcomes", "Add outcome labels (CSV, see docs/association.md)");
      a->import->add_option("--db", a->db, "Store file")->required()->check(CLI::ExistingFile);
      a->import->add_option("--outcomes", a->outcomes, "Labels CSV")->required()->check(CLI::ExistingFile);
      a->footprint = sub.add_subcommand("footprint", "Simulate animal-years into a fresh store and measure its size");
      a->footprint->add_option("--days", a->days, "Days to simulate")->capture_default_str()->check(CLI::Range(1, 3650));
      a->footprint->add_option("--animals", a->animals, "Animals in the pen")->capture_default_str()->check(
          CLI::Range(1, 64));
      a->footprint->add_option("--activity", a->activity, "Activity multiplier (3 = restless)")->capture_default_str();
      a->footprint->add_option("--fps", a->fps, "Camera frame rate")->capture_default_str();
      a->footprint->add_option("--keep", a->keep, "Write the simulated store here (must not exist) and keep it");
      a->footprint->add_flag("--rate", a->rate, "Also measure inserts per second");
      a->footprint->add_option("--json", a->json, "Also write the report as JSON");
      return [a] { return run_store(*a); };
    }}};

}  // namespace
