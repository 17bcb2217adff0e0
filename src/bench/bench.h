// `edgeherd bench`: suites of measurements with warm-up, repetitions, median and spread, and the
// machine they ran on, written as a markdown table and JSON that can be compared across commits.
// Ratios (student/teacher, pruned/unpruned) are always measured side by side in one run.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eh::bench {

struct Timing {
  std::vector<double> ms;
  double median = 0, min = 0, max = 0, stdev = 0;
};
// Runs fn `warmup` times unmeasured, then `reps` times measured.
Timing time_it(const std::function<void()>& fn, int warmup, int reps);

// Peak resident memory of a stretch of work: returns freed heap pages to the kernel
// (malloc_trim, so memory freed earlier cannot hide new allocations), resets the kernel's
// high-water mark (VmHWM via /proc/self/clear_refs) and reports the peak above the resident
// size at construction.
class MemProbe {
 public:
  MemProbe();
  double peak_mb() const;  // peak RSS above the baseline, MiB
  double baseline_mb() const { return baseline_ / 1048576.0; }
  static bool supported();

 private:
  long long baseline_ = 0;
};

struct Row {
  std::string suite, name;
  nlohmann::ordered_json values;  // metric -> number or string
  std::string note;
};

struct Context {
  int reps = 5, warmup = 1;
  std::string model_dir;             // --model: a model set (e.g. models/pen-tiny) for the pipeline
  std::string budget = "16GiB";      // --budget: the envelope suite's verdict
  std::vector<Row> rows;
  // Results suites hand on within one run: "gemm_gflops", "copy_gbps" (yardsticks),
  // "teacher_trunk" (ms, peak), ... Ratios are only formed from figures of the same run.
  nlohmann::ordered_json shared = nlohmann::ordered_json::object();
  long long start_rss = 0;           // process RSS when the bench started (runtime base)
  void add(Row r) { rows.push_back(std::move(r)); }
};

struct Suite {
  std::string name, help;
  std::function<void(Context&)> run;
  bool in_default = true;  // run when no --suite is given
};

const std::vector<Suite>& suites();

struct Report {
  nlohmann::ordered_json machine;
  std::vector<Row> rows;
};
// Cores, CPU, BLAS, LibTorch version, threads, git commit (with "+dirty" when the tree has
// uncommitted changes), and the load average now ("load_start").
nlohmann::ordered_json machine_info();
// Adds the load average at the end and a warning when the load exceeded the cores at the start
// or the end (the machine is shared: absolute times are then inflated; ratios less so).
void finish_machine_info(nlohmann::ordered_json& m);
double load_average_1min();  // /proc/loadavg; -1 when unavailable
// Median of a non-empty list; spread = max - min.
double median_of(std::vector<double> v);
std::string to_markdown(const Report& r);
nlohmann::ordered_json to_json(const Report& r);

}  // namespace eh::bench
