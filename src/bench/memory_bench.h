// Memory of a stream against its length: the same simulated pen tracked once with the session's
// sliding-window pruning and once without (the upstream-like keep-everything mode), with the
// process peak RSS and every cache's bytes taken at chosen frame counts. Used by
// `edgeherd bench --suite memory` and `edgeherd track --memory-bench` (one implementation).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "video/gt_run.h"

namespace eh::bench {

struct MemoryBenchOptions {
  // Source, session (its `prune` is set per run), appearance and reader settings; evaluation
  // and file outputs are switched off (the bench keeps nothing but the session's own state).
  eh::video::GtRunOptions base;
  std::vector<int64_t> pruned_at{1000, 5000, 20000};  // checkpoints of the pruned run (the last = its length)
  std::vector<int64_t> unpruned_at{1000, 2000};       // checkpoints of the --no-prune run (the last = its length)
  std::function<void(const std::string& mode, const eh::video::MemorySnapshot&)> on_snapshot;
  std::function<void(const std::string& mode, int64_t frames)> on_run;  // before each run
};

struct MemoryPoint {
  std::string mode;  // "pruned" | "no-prune"
  int64_t frames = 0;
  std::size_t caches = 0;          // bytes held by the reader queue + session + tracker
  long long rss = 0, peak = 0;     // process VmRSS / VmHWM (the mark is reset before each run)
};

struct MemoryGrowth {
  std::string mode;
  int64_t from = 0, to = 0;        // frame counts compared (first and last checkpoint)
  double peak_change = 0;          // (peak[to] - peak[from]) / peak[from]
  double caches_per_frame = 0;     // bytes / frame between the two checkpoints
  double rss_per_frame = 0;        // bytes / frame
};

struct MemoryBenchResult {
  std::vector<MemoryPoint> points;        // in the order taken
  std::vector<MemoryGrowth> growth;       // one per mode with two or more checkpoints
  std::vector<std::size_t> queue_high;    // reader queue high-water mark per run (pruned, no-prune)
  std::size_t queue_capacity = 0;
  bool peak_reset = true;                 // false when the kernel did not let us reset VmHWM
};

// Runs the pruned run, then the unpruned one (either is skipped when its checkpoint list is
// empty). Checkpoints are sorted and deduplicated; throws eh::UsageError for a non-positive one.
MemoryBenchResult run_memory_bench(const MemoryBenchOptions& opt);

// Growth between the first and the last point of `mode`; nullopt-like (to == from) when fewer
// than two points.
MemoryGrowth growth_of(const std::vector<MemoryPoint>& points, const std::string& mode);

// The markdown table and summary lines `edgeherd track --memory-bench` prints.
std::string format_memory_bench(const MemoryBenchResult& r);

}  // namespace eh::bench
