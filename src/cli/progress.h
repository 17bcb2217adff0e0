// A one-line progress bar on stderr with rate and ETA, redrawn at most a few times a second.
#pragma once
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace eh::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), t0_(Clock::now()) {}
  void update(int64_t done, int64_t total, const std::string& detail = "") {
    auto now = Clock::now();
    // A terminal is redrawn in place; a log file gets a line every few seconds.
    if (done < total && now - last_ < std::chrono::milliseconds(isatty(2) ? 250 : 5000)) return;
    last_ = now;
    const double el = std::chrono::duration<double>(now - t0_).count();
    const double rate = el > 0 ? done / el : 0;
    const double eta = rate > 0 ? (total - done) / rate : 0;
    const int w = 24, fill = total > 0 ? static_cast<int>(w * done / total) : 0;
    std::string bar(fill, '#');
    bar.resize(w, '.');
    std::fprintf(stderr, "%s%s [%s] %ld/%ld %.1f/s ETA %s %s%s", isatty(2) ? "\r\033[K" : "", label_.c_str(), bar.c_str(),
                 static_cast<long>(done), static_cast<long>(total), rate, fmt_time(eta).c_str(), detail.c_str(),
                 isatty(2) ? "" : "\n");
    if (done >= total && isatty(2)) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static std::string fmt_time(double s) {
    int t = static_cast<int>(s + 0.5);
    return t >= 3600 ? fmt::format("{}h{:02d}m", t / 3600, t / 60 % 60) : fmt::format("{}m{:02d}s", t / 60, t % 60);
  }
  std::string label_;
  Clock::time_point t0_, last_{};
};

}  // namespace eh::cli
