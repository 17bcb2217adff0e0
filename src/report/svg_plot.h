// Minimal self-contained SVG line charts (loss curves, memory over time, timelines): no
// scripts, no external fonts, so they embed inline in report.html and open in any browser.
#pragma once
#include <string>
#include <vector>

namespace eh::report {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 640, height = 320;
  bool log_y = false;
};

std::string line_plot_svg(const std::vector<Series>& series, const PlotOptions& opt);
// Writes the SVG to a file; throws eh::Error if it cannot.
void write_text(const std::string& path, const std::string& text);

}  // namespace eh::report
