#include "bench/bench.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <malloc.h>

#include <numeric>

#include "core/runtime.h"

namespace eh::bench {

Timing time_it(const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) fn();
  Timing t;
  for (int i = 0; i < std::max(reps, 1); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    t.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  auto s = t.ms;
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  t.median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  t.min = s.front();
  t.max = s.back();
  double mean = std::accumulate(s.begin(), s.end(), 0.0) / n, var = 0;
  for (double v : s) var += (v - mean) * (v - mean);
  t.stdev = n > 1 ? std::sqrt(var / (n - 1)) : 0;
  return t;
}

bool MemProbe::supported() { return std::ifstream("/proc/self/clear_refs").good(); }

MemProbe::MemProbe() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
  baseline_ = runtime::current_rss_bytes();
}

double MemProbe::peak_mb() const { return (runtime::peak_rss_bytes() - baseline_) / 1048576.0; }

nlohmann::ordered_json machine_info() {
  nlohmann::ordered_json m;
  m["cores"] = runtime::num_cores();
  m["torch_threads"] = torch::get_num_threads();
  m["blas"] = runtime::blas_library();
  m["libtorch"] = TORCH_VERSION;
  std::string commit = "unknown";
  if (FILE* p = popen("git rev-parse --short HEAD 2>/dev/null", "r")) {
    char buf[64] = {0};
    if (fgets(buf, sizeof buf, p)) commit = std::string(buf, strcspn(buf, "\n"));
    pclose(p);
  }
  if (commit != "unknown")
    if (FILE* p = popen("git status --porcelain --untracked-files=no 2>/dev/null", "r")) {
      char buf[8] = {0};
      if (fgets(buf, sizeof buf, p)) commit += "+dirty";
      pclose(p);
    }
  m["commit"] = commit;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  m["load_start"] = load_average_1min();
  return m;
}

double load_average_1min() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  if (!(in >> l)) return -1;
  return l;
}

void finish_machine_info(nlohmann::ordered_json& m) {
  m["load_end"] = load_average_1min();
  const double cores = m.value("cores", 0);
  const double hi = std::max(m.value("load_start", 0.0), m.value("load_end", 0.0));
  if (cores > 0 && hi > cores)
    m["warning"] = fmt::format("load average {:.1f} exceeded the {} cores: the machine was shared and busy, absolute times "
                               "are inflated and noisy; ratios measured side by side are more reliable",
                               hi, static_cast<int>(cores));
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static std::string cell(const nlohmann::ordered_json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::fabs(d) >= 100 ? fmt::format("{:.0f}", d) : std::fabs(d) >= 10 ? fmt::format("{:.1f}", d) : fmt::format("{:.3g}", d);
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string to_markdown(const Report& r) {
  std::string s = "Machine: ";
  for (auto it = r.machine.begin(); it != r.machine.end(); ++it) s += it.key() + "=" + cell(it.value()) + "; ";
  s += "\n";
  if (r.machine.contains("warning")) s += "\n**Warning:** " + r.machine["warning"].get<std::string>() + "\n";
  std::string suite;
  for (const auto& row : r.rows) {
    if (row.suite != suite) {
      suite = row.suite;
      s += "\n### " + suite + "\n\n| case | metrics | note |\n|---|---|---|\n";
    }
    std::string m;
    for (auto it = row.values.begin(); it != row.values.end(); ++it) m += (m.empty() ? "" : ", ") + it.key() + " " + cell(it.value());
    s += "| " + row.name + " | " + m + " | " + row.note + " |\n";
  }
  return s;
}

nlohmann::ordered_json to_json(const Report& r) {
  nlohmann::ordered_json j;
  j["machine"] = r.machine;
  j["rows"] = nlohmann::ordered_json::array();
  for (const auto& row : r.rows) j["rows"].push_back({{"suite", row.suite}, {"name", row.name}, {"values", row.values}, {"note", row.note}});
  return j;
}

}  // namespace eh::bench
