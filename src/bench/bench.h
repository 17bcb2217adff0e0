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

// Peak resident memory of a stretch of work: resets the kernel's high-water mark (VmHWM via
// /proc/self/clear_refs) and reports the peak above the resident size at construction.
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
  std::vector<Row> rows;
  void add(Row r) { rows.push_back(std::move(r)); }
};

struct Suite {
  std::string name, help;
  std::function<void(Context&)> run;
};

const std::vector<Suite>& suites();

struct Report {
  nlohmann::ordered_json machine;
  std::vector<Row> rows;
};
nlohmann::ordered_json machine_info();
std::string to_markdown(const Report& r);
nlohmann::ordered_json to_json(const Report& r);

}  // namespace eh::bench
