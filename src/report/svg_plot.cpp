#include "report/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "core/error.h"

namespace eh::report {

namespace {
const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

std::string tick(double v) { return std::fabs(v) >= 1000 || (std::fabs(v) < 0.01 && v != 0) ? fmt::format("{:.1e}", v) : fmt::format("{:.3g}", v); }
}  // namespace

std::string line_plot_svg(const std::vector<Series>& series, const PlotOptions& o) {
  const double L = 60, R = 150, T = 30, B = 45;
  const double W = o.width - L - R, H = o.height - T - B;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto ty = [&](double y) { return o.log_y ? std::log10(std::max(y, 1e-12)) : y; };
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, ty(s.y[i]));
      y1 = std::max(y1, ty(s.y[i]));
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * W; };
  auto py = [&](double y) { return T + H - (ty(y) - y0) / (y1 - y0) * H; };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" "
      "font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      o.width, o.height, o.width, o.height);
  s += fmt::format("<text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>\n", L, esc(o.title));
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", L, T, W, H);
  for (int i = 0; i <= 4; ++i) {
    double fy = y0 + (y1 - y0) * i / 4, fx = x0 + (x1 - x0) * i / 4;
    double yy = T + H - H * i / 4, xx = L + W * i / 4;
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n", L, yy, L + W, yy);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", L - 4, yy + 4, tick(o.log_y ? std::pow(10, fy) : fy));
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", xx, T + H + 14, tick(fx));
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", L + W / 2, o.height - 8, esc(o.x_label));
  s += fmt::format("<text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}</text>\n", T + H / 2,
                   T + H / 2, esc(o.y_label + (o.log_y ? " (log)" : "")));
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& ser = series[k];
    std::string pts;
    for (size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i)
      if (std::isfinite(ser.y[i])) pts += fmt::format("{:.1f},{:.1f} ", px(ser.x[i]), py(ser.y[i]));
    const char* c = kColours[k % 8];
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n", c, pts);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
                     L + W + 10, T + 4 + 16 * k, c, L + W + 24, T + 13 + 16 * k, esc(ser.name));
  }
  return s + "</svg>\n";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  if (!f) throw Error(path + ": cannot write");
  f << text;
}

}  // namespace eh::report
