// The suites of `edgeherd bench`, one function each, with the sizes they run at as parameters so
// that the tests can run the same code on tiny sizes (timings are never asserted there).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench.h"

namespace eh::bench {

void gemm_suite(Context& ctx);
void backbones_suite(Context& ctx);
void student_suite(Context& ctx);

struct MemorySuiteParams {
  std::string source = "sim:seed=8,pigs=8";            // 1280x720, masks on, rendering off
  std::vector<int64_t> pruned_at{1000, 5000, 20000};   // one pruned run, checkpoints
  std::vector<int64_t> unpruned_at{1000, 2000};        // one --no-prune run, checkpoints
};
void memory_suite(Context& ctx, const MemorySuiteParams& p = {});

struct StoreSuiteParams {
  int days = 30;              // simulated days of one animal (footprint is extrapolated to a year)
  int animals = 1;
  int rate_animals = 20;      // insert-rate run
  double rate_seconds = 3600; // simulated seconds of the insert-rate run
  int query_reps = 20;        // repetitions of each query
};
void store_suite(Context& ctx, const StoreSuiteParams& p = {});

struct MetricsSuiteParams {
  int frames = 20000;
  int objects = 8;
};
void metrics_suite(Context& ctx, const MetricsSuiteParams& p = {});

struct PipelineSuiteParams {
  int width = 1280, height = 720, pigs = 8;
  int frames = 0;          // frames per stage measurement; 0: Context::reps
  bool full_size = true;   // false: tiny random models (tests)
  bool teacher = true;     // measure the teacher trunk (minutes per frame at full size)
};
void pipeline_suite(Context& ctx, const PipelineSuiteParams& p = {});

// The edge-envelope model (envelope.h): calibration, checks against fresh-process
// measurements, and the verdict for a budget.
struct EnvelopeSuiteParams {
  bool full_size = true;     // false: tiny models (tests)
  bool checks = true;        // run the check configurations in fresh processes
  std::string budget = "16GiB";   // e.g. a Jetson Orin NX 16 GB (memory shared by CPU and GPU)
  std::string reserve = "2GiB";   // kept for the OS and the GPU runtime (an assumption)
  std::string exe;                // the edgeherd binary run for probes; empty: this process's
};
void envelope_suite(Context& ctx, const EnvelopeSuiteParams& p = {});
// `edgeherd bench --envelope-probe JSON`: one measurement in this (fresh) process; prints
// "PROBE {json}" on stdout.
int envelope_probe_main(const std::string& spec_json);

}  // namespace eh::bench
