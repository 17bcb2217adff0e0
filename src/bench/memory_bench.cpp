#include "bench/memory_bench.h"

#include <fmt/core.h>
#include <malloc.h>

#include <algorithm>

#include "core/error.h"
#include "video/memory.h"
#include "video/source.h"

namespace eh::bench {

namespace {
std::vector<int64_t> normalised(std::vector<int64_t> v, const char* what) {
  for (auto x : v)
    if (x < 1) throw eh::UsageError(fmt::format("memory bench: {} checkpoint {} is not a positive frame count", what, x));
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}
}  // namespace

MemoryGrowth growth_of(const std::vector<MemoryPoint>& points, const std::string& mode) {
  const MemoryPoint *a = nullptr, *b = nullptr;
  for (const auto& p : points)
    if (p.mode == mode) (a ? b : a) = &p;  // b ends as the last one
  MemoryGrowth g;
  g.mode = mode;
  if (!a || !b || b->frames == a->frames) {
    if (a) g.from = g.to = a->frames;
    return g;
  }
  g.from = a->frames;
  g.to = b->frames;
  const double df = static_cast<double>(b->frames - a->frames);
  g.peak_change = a->peak > 0 ? static_cast<double>(b->peak - a->peak) / static_cast<double>(a->peak) : 0.0;
  g.caches_per_frame = (static_cast<double>(b->caches) - static_cast<double>(a->caches)) / df;
  g.rss_per_frame = static_cast<double>(b->rss - a->rss) / df;
  return g;
}

MemoryBenchResult run_memory_bench(const MemoryBenchOptions& opt) {
  MemoryBenchResult res;
  res.queue_capacity = opt.base.reader.queue_capacity;
  auto run = [&](bool prune, std::vector<int64_t> cps) {
    if (cps.empty()) return;
    const std::string mode = prune ? "pruned" : "no-prune";
    eh::video::GtRunOptions o = opt.base;
    // The simulator ends after its `frames` (3600 by default): make it long enough for the last checkpoint.
    if (eh::video::parse_sim_spec(o.source).frames < cps.back())
      o.source += fmt::format("{}frames={}", o.source.find(':') == std::string::npos ? ":" : ",", cps.back());
    o.session.prune = prune;
    o.session.validate();
    o.max_frames = cps.back();
    o.evaluate = false;  // keep nothing but the session's own state
    o.tracks_out.clear();
    o.gt_out.clear();
    o.instances_out.clear();
    o.record_out.clear();
    o.memory_checkpoints = cps;
    o.on_memory = [&](const eh::video::MemorySnapshot& s) {
      res.points.push_back(MemoryPoint{mode, s.frames, eh::track::total_bytes(s.caches), s.rss, s.peak_rss});
      if (opt.on_snapshot) opt.on_snapshot(mode, s);
    };
    if (opt.on_run) opt.on_run(mode, cps.back());
    malloc_trim(0);  // return what earlier work freed, so both runs start from the same floor
    res.peak_reset = eh::video::reset_peak_rss() && res.peak_reset;
    const auto r = eh::video::run_ground_truth_tracking(o);
    res.queue_high.push_back(r.run.reader.queue_high_water);
  };
  run(true, normalised(opt.pruned_at, "pruned"));
  run(false, normalised(opt.unpruned_at, "no-prune"));
  for (const std::string mode : {"pruned", "no-prune"}) {
    auto g = growth_of(res.points, mode);
    if (g.to > g.from) res.growth.push_back(g);
  }
  return res;
}

std::string format_memory_bench(const MemoryBenchResult& r) {
  using eh::video::format_bytes;
  std::string s = "\n| mode | frames | caches | RSS | peak RSS |\n|---|---:|---:|---:|---:|\n";
  for (const auto& p : r.points)
    s += fmt::format("| {} | {} | {} | {} | {} |\n", p.mode, p.frames, format_bytes(static_cast<double>(p.caches)),
                     format_bytes(static_cast<double>(p.rss)), format_bytes(static_cast<double>(p.peak)));
  if (r.queue_high.size() == 2)
    s += fmt::format("reader queue high water: pruned {} frames, no-prune {} frames (of {})\n", r.queue_high[0],
                     r.queue_high[1], r.queue_capacity);
  for (const auto& g : r.growth) {
    const MemoryPoint *a = nullptr, *b = nullptr;
    for (const auto& p : r.points)
      if (p.mode == g.mode) {
        if (p.frames == g.from) a = &p;
        if (p.frames == g.to) b = &p;
      }
    if (!a || !b) continue;
    s += fmt::format("{}: peak RSS {} -> {} ({:+.2f}%), caches {:+.0f} B/frame, RSS {:+.0f} B/frame\n", g.mode,
                     format_bytes(static_cast<double>(a->peak)), format_bytes(static_cast<double>(b->peak)),
                     100.0 * g.peak_change, g.caches_per_frame, g.rss_per_frame);
  }
  if (!r.peak_reset) s += "warning: the peak-RSS mark could not be reset; peaks are cumulative over the process\n";
  return s;
}

}  // namespace eh::bench
