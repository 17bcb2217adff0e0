// The suites' logic on tiny sizes: what they measure and report, never how fast.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/memory_bench.h"
#include "bench/suites.h"
#include "core/error.h"

using namespace eh::bench;

namespace {
const Row* find_row(const Context& ctx, const std::string& suite, const std::string& prefix) {
  for (const auto& r : ctx.rows)
    if (r.suite == suite && r.name.rfind(prefix, 0) == 0) return &r;
  return nullptr;
}
double num(const Row& r, const std::string& key) {
  EXPECT_TRUE(r.values.contains(key)) << r.name << " lacks " << key;
  return r.values.contains(key) && r.values[key].is_number() ? r.values[key].get<double>() : NAN;
}
}  // namespace

TEST(BenchMemory, GrowthOfHandMadePoints) {
  std::vector<MemoryPoint> pts = {{"pruned", 100, 1000, 10000, 20000},
                                  {"no-prune", 100, 1000, 10000, 20000},
                                  {"pruned", 1100, 1000, 10500, 20500},
                                  {"no-prune", 1100, 51000, 60000, 70000}};
  const auto g = growth_of(pts, "no-prune");
  EXPECT_EQ(g.from, 100);
  EXPECT_EQ(g.to, 1100);
  EXPECT_DOUBLE_EQ(g.caches_per_frame, 50.0);
  EXPECT_DOUBLE_EQ(g.rss_per_frame, 50.0);
  EXPECT_DOUBLE_EQ(g.peak_change, 2.5);
  const auto p = growth_of(pts, "pruned");
  EXPECT_DOUBLE_EQ(p.caches_per_frame, 0.0);
  EXPECT_DOUBLE_EQ(p.peak_change, 0.025);
  EXPECT_EQ(growth_of(pts, "other").to, 0);
}

TEST(BenchMemory, PrunedStaysFlatUnprunedGrows) {
  MemoryBenchOptions o;
  o.base.source = "sim:seed=3,pigs=3,width=320,height=240";
  o.base.session.tracker.max_animals = 3;
  o.pruned_at = {160, 40};  // sorted by the bench
  o.unpruned_at = {40, 160};
  const auto r = run_memory_bench(o);
  ASSERT_EQ(r.points.size(), 4u);
  EXPECT_EQ(r.points[0].mode, "pruned");
  EXPECT_EQ(r.points[0].frames, 40);
  EXPECT_EQ(r.points[3].mode, "no-prune");
  EXPECT_EQ(r.points[3].frames, 160);
  ASSERT_EQ(r.growth.size(), 2u);
  ASSERT_EQ(r.queue_high.size(), 2u);
  const auto& pruned = r.growth[0];
  const auto& kept = r.growth[1];
  EXPECT_GT(kept.caches_per_frame, 0);  // every frame's masks and entries stay
  EXPECT_LT(std::abs(pruned.caches_per_frame), 0.1 * kept.caches_per_frame);
  const auto text = format_memory_bench(r);
  EXPECT_NE(text.find("| pruned | 40 |"), std::string::npos);
  EXPECT_NE(text.find("no-prune: peak RSS"), std::string::npos);
  o.pruned_at = {0};
  EXPECT_THROW(run_memory_bench(o), eh::UsageError);
}

TEST(BenchSuites, MemorySuiteRows) {
  Context ctx;
  // frames=30: shorter than the checkpoints; the bench must lengthen the stream to reach them
  memory_suite(ctx, {"sim:seed=4,pigs=2,width=320,height=240,frames=30", {20, 60}, {20, 60}});
  ASSERT_NE(find_row(ctx, "memory", "pruned after 60 frames"), nullptr);
  const Row* g = find_row(ctx, "memory", "pruned: 20 -> 60");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->values.contains("within_5pct"));
  const Row* k = find_row(ctx, "memory", "no-prune: 20 -> 60");
  ASSERT_NE(k, nullptr);
  EXPECT_GT(num(*k, "caches_bytes_per_frame"), 0);
}

TEST(BenchSuites, MetricsSuiteMeasuresEveryMetric) {
  Context ctx;
  ctx.reps = 1;
  ctx.warmup = 0;
  metrics_suite(ctx, {200, 3});
  for (const char* name : {"CLEAR-MOT + IDF1", "HOTA", "all (evaluate_mot)"}) {
    const Row* r = find_row(ctx, "metrics", name);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_GT(num(*r, "frames_per_s"), 0);
  }
  // the note carries the scores of the evaluated (perturbed) copy: high, not the default zeros
  const Row* all = find_row(ctx, "metrics", "all (evaluate_mot)");
  EXPECT_EQ(all->note.find("MOTA 0.000"), std::string::npos) << all->note;
}

TEST(BenchSuites, StoreSuiteFootprintInsertsQueries) {
  Context ctx;
  store_suite(ctx, {1, 1, 2, 120, 2});
  const Row* f = find_row(ctx, "store", "footprint");
  ASSERT_NE(f, nullptr);
  EXPECT_GT(num(*f, "mb_per_animal_year"), 0);
  EXPECT_GT(num(*f, "observations"), 6 * 3600 * 24 * 0.9);  // one day at 6 fps, a few % lost frames
  const Row* q = find_row(ctx, "store", "query: one animal, one day");
  ASSERT_NE(q, nullptr);
  EXPECT_GT(num(*q, "rows"), 0);
  const Row* i = find_row(ctx, "store", "inserts");
  ASSERT_NE(i, nullptr);
  EXPECT_GT(num(*i, "observations_per_s"), 0);
}

TEST(BenchSuites, PipelineTinyModelsEveryStage) {
  Context ctx;
  ctx.reps = 1;
  ctx.warmup = 0;
  ctx.model_dir = "/nonexistent/pen-tiny";
  PipelineSuiteParams p;
  p.width = 320;
  p.height = 240;
  p.pigs = 3;
  p.frames = 1;
  p.full_size = false;
  pipeline_suite(ctx, p);
  for (const char* stage : {"decode", "backbone: student", "backbone: teacher", "necks", "tracker", "embedder", "store"}) {
    const Row* r = find_row(ctx, "pipeline", stage);
    ASSERT_NE(r, nullptr) << stage;
    EXPECT_GE(num(*r, "ms_per_frame"), 0) << stage;
  }
  const Row* heads = find_row(ctx, "pipeline", "heads");
  ASSERT_NE(heads, nullptr);
  EXPECT_EQ(heads->values["ms_per_frame"], "-");  // not measured, and said so
  const Row* st = find_row(ctx, "pipeline", "total: student");
  const Row* te = find_row(ctx, "pipeline", "total: teacher");
  ASSERT_TRUE(st && te);
  EXPECT_NEAR(num(*st, "frames_per_s"), 1e3 / num(*st, "ms_per_frame"), 1e-9);
  const Row* m = find_row(ctx, "pipeline", "model set");
  ASSERT_NE(m, nullptr);
  EXPECT_NE(m->note.find("not found"), std::string::npos);
}

TEST(BenchSuites, EnvelopeTinyPredictsFreshProcesses) {
  Context ctx;
  EnvelopeSuiteParams p;
  p.full_size = false;
  p.exe = EH_BINARY;
  envelope_suite(ctx, p);
  int checks = 0;
  for (const auto& r : ctx.rows)
    if (r.suite == "envelope" && r.name.rfind("check: ", 0) == 0) {
      ++checks;
      EXPECT_GT(num(r, "measured_mb"), 0);
      EXPECT_GT(num(r, "predicted_mb"), 0);
      // tiny models: the prediction is mostly the measured runtime base, so it must be close
      EXPECT_LT(std::abs(num(r, "error_pct")), 25) << r.name;
    }
  EXPECT_EQ(checks, 2);
  const Row* v = find_row(ctx, "envelope", "fits 16GiB? student 1280x720");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->values["fits"], "yes");
}
