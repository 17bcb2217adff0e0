// Suites without models: stream memory (pruned vs not), the store, the evaluation metrics.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/memory_bench.h"
#include "bench/suites.h"
#include "eval/clear_mot.h"
#include "eval/evaluate.h"
#include "eval/hota.h"
#include "store/footprint.h"
#include "store/store.h"
#include "video/memory.h"

namespace eh::bench {

namespace {
double mib(double b) { return b / 1048576.0; }
}  // namespace

void memory_suite(Context& ctx, const MemorySuiteParams& p) {
  MemoryBenchOptions o;
  o.base.source = p.source;
  const auto sim = eh::video::parse_sim_spec(p.source);
  o.base.session.tracker.max_animals = sim.sim.num_pigs;
  o.pruned_at = p.pruned_at;
  o.unpruned_at = p.unpruned_at;
  const auto r = run_memory_bench(o);
  const std::string settings = fmt::format("{} ({}x{}, {} pigs), window {}, queue {}", p.source, sim.sim.size.width,
                                           sim.sim.size.height, sim.sim.num_pigs, o.base.session.window,
                                           o.base.reader.queue_capacity);
  for (size_t i = 0; i < r.points.size(); ++i) {
    const auto& pt = r.points[i];
    Row row{"memory", fmt::format("{} after {} frames", pt.mode, pt.frames), {}, i == 0 ? settings : ""};
    row.values["caches_mb"] = mib(static_cast<double>(pt.caches));
    row.values["rss_mb"] = mib(static_cast<double>(pt.rss));
    row.values["peak_rss_mb"] = mib(static_cast<double>(pt.peak));
    ctx.add(row);
  }
  for (size_t i = 0; i < r.growth.size(); ++i) {
    const auto& g = r.growth[i];
    Row row{"memory", fmt::format("{}: {} -> {} frames", g.mode, g.from, g.to), {}, ""};
    row.values["peak_rss_change_pct"] = 100.0 * g.peak_change;
    row.values["caches_bytes_per_frame"] = g.caches_per_frame;
    row.values["rss_bytes_per_frame"] = g.rss_per_frame;
    if (i < r.queue_high.size()) row.values["reader_queue_high_water"] = static_cast<double>(r.queue_high[i]);
    if (g.mode == "pruned") {
      row.values["within_5pct"] = std::abs(g.peak_change) < 0.05 ? "yes" : "no";
      row.note = "pruned: peak RSS should stay flat (target < 5%)";
    } else {
      row.note = "no-prune: every frame's outputs kept (upstream-like growth)";
    }
    ctx.add(row);
  }
  if (!r.peak_reset) ctx.add({"memory", "warning", {}, "the peak-RSS mark could not be reset: peaks are cumulative"});
}

void store_suite(Context& ctx, const StoreSuiteParams& p) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / fmt::format("edgeherd-bench-store-{}", ::getpid());
  fs::create_directories(dir);
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};

  eh::store::FootprintOptions fo;
  fo.days = p.days;
  fo.animals = p.animals;
  fo.path = (dir / "footprint.db").string();
  const auto fr = eh::store::measure_footprint(fo);
  Row f{"store", fmt::format("footprint: {} animal(s) x {} days at {} fps", p.animals, p.days, fo.fps), {},
        "extrapolated to a year; target <= 10 MB, reference design ~94 MB"};
  f.values["mb_per_animal_year"] = fr.bytes_per_animal_year / 1e6;
  f.values["file_mb"] = static_cast<double>(fr.file_bytes) / 1e6;
  f.values["observations"] = static_cast<double>(fr.observations);
  f.values["observations_per_s"] = fr.observations_per_s;
  f.values["within_target"] = fr.bytes_per_animal_year <= eh::store::kTargetBytesPerAnimalYear ? "yes" : "no";
  ctx.add(f);

  {  // queries on the store just written
    eh::store::StoreOptions so;
    so.create = false;
    so.read_only = true;
    eh::store::Store db(fo.path, so);
    const auto keys = db.block_keys();
    if (!keys.empty()) {
      const int64_t animal = keys.front().first, t0 = keys.front().second;
      auto q = [&](const std::string& name, const std::function<size_t()>& fn) {
        size_t n = 0;
        auto t = time_it([&] { n = fn(); }, 1, p.query_reps);
        ctx.add({"store", "query: " + name, {{"ms", t.median}, {"spread_ms", t.max - t.min}, {"rows", static_cast<double>(n)}}, ""});
      };
      q("one animal, one day of per-minute bins", [&] { return db.bins(animal, t0, t0 + 86400).size(); });
      q(fmt::format("one animal, {} days of per-minute bins", p.days),
        [&] { return db.bins(animal, t0, t0 + int64_t{86400} * p.days).size(); });
      q("one animal, daily totals (whole record)", [&] { return db.daily(animal).size(); });
      q("one animal, embedding pool", [&] { return db.embeddings(animal).size(); });
    }
  }

  eh::store::InsertRateOptions ro;
  ro.animals = p.rate_animals;
  ro.seconds = p.rate_seconds;
  ro.dir = dir.string();
  const auto rr = eh::store::measure_insert_rate(ro);
  Row r{"store", fmt::format("inserts: {} animals, {:.0f} s simulated, FULL sync", ro.animals, ro.seconds), {},
        "observations through the Recorder (batched); raw block rows batched; one transaction (fsync) per row"};
  r.values["observations_per_s"] = rr.observations_per_s;
  r.values["block_rows_per_s"] = rr.block_rows_per_s;
  r.values["autocommit_rows_per_s"] = rr.autocommit_rows_per_s;
  r.values["commits"] = static_cast<double>(rr.commits);
  ctx.add(r);
}

void metrics_suite(Context& ctx, const MetricsSuiteParams& p) {
  eh::eval::SyntheticSpec spec;
  spec.num_frames = p.frames;
  spec.num_objects = p.objects;
  const auto gt = eh::eval::make_synthetic_sequence(spec);
  const auto pred = eh::eval::perturb(gt, eh::eval::PerturbSpec{});
  const double frames = static_cast<double>(p.frames);
  const std::string seq = fmt::format("{} frames x {} objects", p.frames, p.objects);
  auto add = [&](const std::string& name, const Timing& t, const std::string& note) {
    ctx.add({"metrics", name + ", " + seq,
             {{"ms", t.median}, {"spread_ms", t.max - t.min}, {"frames_per_s", frames / (t.median / 1e3)}}, note});
  };
  eh::eval::ClearAndIdentity ci;
  add("CLEAR-MOT + IDF1", time_it([&] { ci = eh::eval::compute_clear_and_identity(gt, pred); }, ctx.warmup, ctx.reps), "");
  eh::eval::HotaResult h;
  add("HOTA (19 alphas)", time_it([&] { h = eh::eval::compute_hota(gt, pred); }, ctx.warmup, ctx.reps), "");
  eh::eval::MotReport rep;
  const auto t_all = time_it([&] { rep = eh::eval::evaluate_mot(gt, pred); }, ctx.warmup, ctx.reps);  // before the note reads rep
  add("all (evaluate_mot)", t_all,
      fmt::format("perturbed copy of the truth: MOTA {:.3f}, IDF1 {:.3f}, HOTA {:.3f}", rep.clear.mota, rep.identity.idf1,
                  rep.hota.HOTA));
}

}  // namespace eh::bench
