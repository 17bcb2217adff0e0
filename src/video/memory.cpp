#include "video/memory.h"

#include <fmt/core.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace eh::video {

namespace {
long long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k(key);
  while (std::getline(in, line))
    if (line.rfind(k, 0) == 0) {
      std::istringstream ss(line.substr(k.size()));
      long long v = 0;
      ss >> v;
      return v;
    }
  return 0;
}
}  // namespace

long long process_rss_bytes() { return status_kb("VmRSS:") * 1024; }
long long process_peak_rss_bytes() { return status_kb("VmHWM:") * 1024; }

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::string format_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (std::abs(b) >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.2f} {}", b, units[u]);
}

std::string format_memory_report(const std::vector<eh::track::CacheUsage>& caches, long long rss, long long peak) {
  std::string s = fmt::format("{:<28} {:>10} {:>14}\n", "cache", "items", "bytes");
  for (const auto& c : caches) s += fmt::format("{:<28} {:>10} {:>14}\n", c.name, c.items, format_bytes(static_cast<double>(c.bytes)));
  s += fmt::format("{:<28} {:>10} {:>14}\n", "total (caches)", "", format_bytes(static_cast<double>(eh::track::total_bytes(caches))));
  s += fmt::format("{:<28} {:>10} {:>14}\n", "process RSS", "", format_bytes(static_cast<double>(rss)));
  s += fmt::format("{:<28} {:>10} {:>14}\n", "process peak RSS", "", format_bytes(static_cast<double>(peak)));
  return s;
}

}  // namespace eh::video
