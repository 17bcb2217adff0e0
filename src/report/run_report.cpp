#include "report/run_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "report/html.h"
#include "report/svg_plot.h"

namespace eh::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* kClassNames[9] = {"unknown", "not_moving", "moving", "running", "eating",
                              "drinking", "playing", "standing", "lying"};

const nlohmann::json* at(const nlohmann::json& j, const std::string& pointer) {
  try {
    const nlohmann::json::json_pointer p(pointer);
    if (!j.contains(p)) return nullptr;
    return &j.at(p);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string str_at(const nlohmann::json& j, const std::string& pointer, const std::string& dflt = "") {
  const auto* v = at(j, pointer);
  if (!v || v->is_null()) return dflt;
  return v->is_string() ? v->get<std::string>() : v->dump();
}

std::string num_cell(const std::string& text) { return "<td class=\"num\">" + html_escape(text) + "</td>"; }

std::string svg_open(int w, int h) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      w, h, w, h);
}

std::string fmt_time(double s) {
  if (!std::isfinite(s)) return "\u2013";
  if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
  if (s >= 120) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.0f} s", s);
}

std::string behaviour_legend(int x, int y) {
  std::string s;
  for (int c = 0; c < 9; ++c) {
    const int xx = x + c * 92;
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n", xx,
                     y, behaviour_colour(c), xx + 13, y + 9, kClassNames[c]);
  }
  return s;
}

}  // namespace

double json_num(const nlohmann::json& j, const std::string& pointer) {
  const auto* v = at(j, pointer);
  if (!v || !v->is_number()) return kNaN;
  return v->get<double>();
}

std::string run_label(const nlohmann::json& run) {
  std::string l = str_at(run, "/label");
  if (l.empty()) l = str_at(run, "/model/variant");
  return l.empty() ? "run" : l;
}

// ---- paper table ------------------------------------------------------------------------------

std::string paper_table_html(const std::vector<nlohmann::json>& runs, const std::vector<Figure>& extra) {
  const std::size_t n = runs.size();
  std::string s = "<table class=\"paper\"><thead><tr><th>figure</th>";
  for (const auto& r : runs) s += "<th>" + html_escape(run_label(r)) + "</th>";
  s += "<th>note</th></tr></thead><tbody>";
  auto row = [&](const std::string& name, const std::vector<std::string>& vals, const std::string& note) {
    s += "<tr><th>" + html_escape(name) + "</th>";
    if (vals.size() == 1 && n > 1) {
      s += fmt::format("<td class=\"num\" colspan=\"{}\">{}</td>", n, html_escape(vals[0]));
    } else {
      for (std::size_t k = 0; k < n; ++k) s += num_cell(k < vals.size() ? vals[k] : "\u2013");
    }
    s += "<td class=\"note\">" + html_escape(note) + "</td></tr>";
  };
  auto per_run = [&](const std::string& name, const std::string& ptr, auto format, const std::string& note) {
    std::vector<std::string> v;
    bool any = false;
    for (const auto& r : runs) {
      const double x = json_num(r, ptr);
      any = any || std::isfinite(x);
      v.push_back(format(x));
    }
    if (any) row(name, v, note);
  };
  auto pct = [](double x) { return fmt_pct(x); };
  auto ms = [](double x) { return fmt_num(x, 1); };
  auto bytes = [](double x) { return fmt_bytes(x); };
  auto count = [](double x) { return std::isfinite(x) ? fmt::format("{:.0f}", x) : std::string("\u2013"); };
  per_run("MOTA vs ground truth", "/eval/mot/mota", pct, "CLEAR-MOT, IoU 0.5");
  per_run("IDF1 vs ground truth", "/eval/mot/idf1", pct, "");
  per_run("HOTA vs ground truth", "/eval/mot/hota", pct, "");
  per_run("ID switches", "/eval/mot/switches", count, "");
  per_run("Behaviour top-1", "/eval/behaviour/top1", pct, "over animals matched to ground truth");
  per_run("Behaviour macro-F1", "/eval/behaviour/macro_f1", pct, "");
  per_run("ms / frame (pipeline thread)", "/timing/ms_per_frame/total", ms, "segment + embed + track + behaviour + store + write");
  per_run("Throughput", "/timing/fps", [](double x) { return std::isfinite(x) ? fmt::format("{:.1f} fps", x) : "\u2013"; },
          "frames / wall-clock second, decoding in parallel");
  per_run("Peak memory (process RSS)", "/memory/peak_rss_bytes", bytes, "");
  per_run("Model weights", "/model/weights_bytes", bytes, "");
  per_run("Store file", "/store/bytes", bytes, "SQLite, after checkpoint");
  per_run("Frames", "/frames", count, "");
  per_run("Identities", "/tracking/identities", count, "");
  for (const auto& f : extra) row(f.name, f.values, f.note);
  return s + "</tbody></table>";
}

std::string stage_table_html(const std::vector<nlohmann::json>& runs) {
  static const char* kStages[] = {"decode", "wait", "segment", "embed", "track", "behaviour", "store", "write", "total"};
  Table t;
  t.header.push_back("ms / frame");
  for (const auto& r : runs) {
    t.header.push_back(html_escape(run_label(r)) + " wall");
    t.header.push_back(html_escape(run_label(r)) + " CPU");
  }
  bool any = false;
  for (const char* st : kStages) {
    std::vector<std::string> row{html_escape(st)};
    for (const auto& r : runs) {
      const double v = json_num(r, std::string("/timing/ms_per_frame/") + st);
      any = any || std::isfinite(v);
      row.push_back(fmt_num(v, 2));
      row.push_back(fmt_num(json_num(r, std::string("/timing/cpu_ms_per_frame/") + st), 2));
    }
    t.rows.push_back(row);
  }
  return any ? table_html(t) : "";
}

// ---- per-animal timelines and budgets ------------------------------------------------------------

std::string behaviour_timeline_svg(const nlohmann::json& run) {
  const auto* animals = at(run, "/animals");
  const double bin_s = json_num(run, "/timeline/bin_s");
  const double bins_d = json_num(run, "/timeline/bins");
  if (!animals || !animals->is_array() || animals->empty() || !(bin_s > 0) || !(bins_d > 0)) return "";
  const int bins = static_cast<int>(bins_d);
  const int L = 70, R = 20, T = 26, row_h = 16, B = 54;
  const int W = 900;
  const double pw = W - L - R;
  const int rows = static_cast<int>(animals->size());
  const int H = T + rows * row_h + B;
  std::string s = svg_open(W, H);
  s += fmt::format("<text x=\"{}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Behaviour per animal over time</text>\n", L);
  int k = 0;
  for (const auto& a : *animals) {
    const int id = a.value("id", 0);
    const int y = T + k * row_h;
    s += fmt::format("<rect x=\"4\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"18\" y=\"{}\">id {}</text>\n",
                     y + 2, id_colour(id), y + 11, id);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#f6f6f6\"/>\n", L, y + 1, pw, row_h - 2);
    const auto tl = a.find("timeline");
    if (tl != a.end() && tl->is_array()) {
      const int nb = std::min<int>(bins, static_cast<int>(tl->size()));
      int b = 0;
      while (b < nb) {
        const int lab = (*tl)[static_cast<std::size_t>(b)].is_number() ? (*tl)[static_cast<std::size_t>(b)].get<int>() : -1;
        int e = b + 1;
        while (e < nb && (*tl)[static_cast<std::size_t>(e)].is_number() && (*tl)[static_cast<std::size_t>(e)].get<int>() == lab)
          ++e;
        if (lab >= 0 && lab < 9)
          s += fmt::format("<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\"/>\n", L + pw * b / bins, y + 1,
                           std::max(0.5, pw * (e - b) / bins), row_h - 2, behaviour_colour(lab));
        b = e;
      }
    }
    ++k;
  }
  const double span = bin_s * bins;
  const int yaxis = T + rows * row_h;
  for (int i = 0; i <= 4; ++i) {
    const double x = L + pw * i / 4;
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#888\"/><text x=\"{:.1f}\" y=\"{}\" "
                     "text-anchor=\"middle\">{}</text>\n",
                     x, yaxis, x, yaxis + 4, x, yaxis + 16, html_escape(fmt_time(span * i / 4)));
  }
  s += behaviour_legend(L, yaxis + 30);
  return s + "</svg>\n";
}

std::string time_budget_svg(const nlohmann::json& run) {
  const auto* animals = at(run, "/animals");
  if (!animals || !animals->is_array() || animals->empty()) return "";
  const int L = 70, R = 90, T = 26, row_h = 16, B = 40, W = 900;
  const double pw = W - L - R;
  const int rows = static_cast<int>(animals->size());
  std::string s = svg_open(W, T + rows * row_h + B);
  s += fmt::format("<text x=\"{}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Time budget per animal (share of time "
                   "seen)</text>\n",
                   L);
  int k = 0;
  for (const auto& a : *animals) {
    const int id = a.value("id", 0);
    const int y = T + k * row_h;
    s += fmt::format("<rect x=\"4\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"18\" y=\"{}\">id {}</text>\n",
                     y + 2, id_colour(id), y + 11, id);
    double total = 0;
    std::vector<double> v(9, 0.0);
    const auto b = a.find("budget_s");
    if (b != a.end() && b->is_array())
      for (std::size_t c = 0; c < 9 && c < b->size(); ++c)
        if ((*b)[c].is_number()) total += (v[c] = (*b)[c].get<double>());
    double x = L;
    for (int c = 0; c < 9 && total > 0; ++c) {
      if (v[static_cast<std::size_t>(c)] <= 0) continue;
      const double w = pw * v[static_cast<std::size_t>(c)] / total;
      s += fmt::format("<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\"><title>{} {:.0f} s</title></rect>\n",
                       x, y + 1, w, row_h - 2, behaviour_colour(c), kClassNames[c], v[static_cast<std::size_t>(c)]);
      x += w;
    }
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{}</text>\n", L + pw + 6, y + 11, html_escape(fmt_time(total)));
    ++k;
  }
  s += behaviour_legend(L, T + rows * row_h + 14);
  return s + "</svg>\n";
}

// ---- heat map --------------------------------------------------------------------------------------

std::string heatmap_svg(const nlohmann::json& run) {
  const auto* hm = at(run, "/heatmap");
  if (!hm || !hm->is_object()) return "";
  const int cols = hm->value("cols", 0), rows = hm->value("rows", 0);
  const auto counts = hm->find("counts");
  if (cols <= 0 || rows <= 0 || counts == hm->end() || !counts->is_array() ||
      counts->size() != static_cast<std::size_t>(cols) * static_cast<std::size_t>(rows))
    return "";
  double mx = 0;
  for (const auto& c : *counts) mx = std::max(mx, c.is_number() ? c.get<double>() : 0.0);
  const double wpx = hm->value("width_px", 0.0), hpx = hm->value("height_px", 0.0), ppm = hm->value("pixels_per_metre", 0.0);
  const int L = 50, T = 26, B = 40, R = 20;
  const int W = 720;
  const double pw = W - L - R;
  const double ph = wpx > 0 && hpx > 0 ? pw * hpx / wpx : pw * rows / cols;
  const double cw = pw / cols, ch = ph / rows;
  std::string s = svg_open(W, static_cast<int>(T + ph + B));
  s += fmt::format("<text x=\"{}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Where the animals were (share of "
                   "observations per cell)</text>\n",
                   L);
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#fbfbfb\" stroke=\"#888\"/>\n", L, T, pw, ph);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const auto& v = (*counts)[static_cast<std::size_t>(r * cols + c)];
      const double x = v.is_number() ? v.get<double>() : 0.0;
      if (x <= 0 || mx <= 0) continue;
      const double f = std::sqrt(x / mx);  // perceptual: sqrt so sparse cells still show
      const int g = static_cast<int>(std::lround(235 * (1 - f)));
      s += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"rgb(255,{},{})\"/>\n",
                       L + c * cw, T + r * ch, cw + 0.05, ch + 0.05, g, static_cast<int>(g * 0.6));
    }
  // Axes: metres when the scale is known, else pixels.
  const bool metres = ppm > 0 && wpx > 0;
  const double xmax = metres ? wpx / ppm : wpx, ymax = metres ? hpx / ppm : hpx;
  const std::string unit = metres ? "m" : "px";
  for (int i = 0; i <= 4; ++i) {
    const double x = L + pw * i / 4;
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.3g}</text>\n", x, T + ph + 14, xmax * i / 4);
    const double y = T + ph * i / 4;
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.3g}</text>\n", L - 4, y + 4, ymax * i / 4);
  }
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">x ({}; image left to right)</text>\n", L + pw / 2,
                   T + ph + 30, unit);
  return s + "</svg>\n";
}

// ---- memory ----------------------------------------------------------------------------------------

std::string memory_svg(const std::vector<nlohmann::json>& runs) {
  std::vector<Series> series;
  for (const auto& r : runs) {
    const auto* f = at(r, "/memory/series/frame");
    const auto* rss = at(r, "/memory/series/rss_mb");
    const auto* caches = at(r, "/memory/series/caches_mb");
    if (!f || !f->is_array() || f->empty()) continue;
    const std::string lab = run_label(r);
    auto get = [](const nlohmann::json& a) {
      std::vector<double> v;
      for (const auto& x : a) v.push_back(x.is_number() ? x.get<double>() : kNaN);
      return v;
    };
    if (rss && rss->is_array()) series.push_back({lab + " RSS", get(*f), get(*rss)});
    if (caches && caches->is_array()) series.push_back({lab + " caches", get(*f), get(*caches)});
  }
  if (series.empty()) return "";
  return line_plot_svg(series, {"Memory over the stream", "frame", "MiB", 900, 320, false});
}

std::string thumbnails_html(const nlohmann::json& run) {
  const auto* animals = at(run, "/animals");
  if (!animals || !animals->is_array()) return "";
  std::string s;
  for (const auto& a : *animals) {
    const auto th = a.find("thumbnails");
    if (th == a.end() || !th->is_array() || th->empty()) continue;
    const int id = a.value("id", 0);
    s += fmt::format("<div class=\"thumbs\"><span style=\"display:inline-block;width:60px;border-left:8px solid {};"
                     "padding-left:4px\">id {}</span>",
                     id_colour(id), id);
    for (const auto& t : *th) {
      const std::string b64 = t.value("jpeg_base64", "");
      if (b64.empty()) continue;
      s += fmt::format("<img alt=\"animal {} at {}\" title=\"t = {:.1f} s\" src=\"data:image/jpeg;base64,{}\">", id,
                       html_escape(fmt_time(t.value("t", 0.0))), t.value("t", 0.0), b64);
    }
    s += "</div>\n";
  }
  return s;
}

// ---- the page ----------------------------------------------------------------------------------------

std::string run_report_html(const std::vector<nlohmann::json>& runs, const ReportExtras& extras) {
  if (runs.empty()) throw eh::Error("report: no runs to report");
  for (std::size_t k = 0; k < runs.size(); ++k)
    if (!runs[k].is_object() || !runs[k].contains("edgeherd_report"))
      throw eh::Error(fmt::format("report: run {} is not an edgeherd report.json (no 'edgeherd_report' key)", k + 1));
  std::string title = extras.title;
  if (title.empty()) {
    if (runs.size() == 1) {
      title = "edgeherd run";
    } else {
      title = "edgeherd:";
      for (std::size_t k = 0; k < runs.size(); ++k) title += (k ? " vs " : " ") + run_label(runs[k]);
    }
  }
  std::string b = "<h1>" + html_escape(title) + "</h1>\n" + extras.intro_html;
  for (const auto& r : runs) {
    if (r.value("interrupted", false))
      b += "<p class=\"warn\"><b>" + html_escape(run_label(r)) +
           ": interrupted</b> \u2013 the outputs hold everything processed before the stop (" +
           html_escape(str_at(r, "/end_reason")) + ").</p>\n";
    if (json_num(r, "/tracking/identities") == 0)
      b += "<p class=\"warn\"><b>" + html_escape(run_label(r)) + ": no animals were found</b> in " +
           html_escape(str_at(r, "/source")) + ".</p>\n";
  }
  b += "<h2>Summary</h2>" + paper_table_html(runs, extras.figures);
  {
    Table t;
    t.header = {"run", "source", "model", "frames", "video time", "frame size", "end"};
    for (const auto& r : runs) {
      t.rows.push_back({html_escape(run_label(r)), html_escape(str_at(r, "/source")),
                        html_escape(str_at(r, "/model/name") + " (" + str_at(r, "/model/variant", "-") + ")"),
                        html_escape(str_at(r, "/frames")), html_escape(fmt_time(json_num(r, "/duration_s"))),
                        html_escape(fmt::format("{:.0f}\u00d7{:.0f}", json_num(r, "/frame_size/0"), json_num(r, "/frame_size/1"))),
                        html_escape(str_at(r, "/end_reason"))});
    }
    b += table_html(t);
  }
  const std::string stages = stage_table_html(runs);
  if (!stages.empty())
    b += "<h2>Time per stage</h2><p class=\"note\">Milliseconds per frame. decode runs on the reader thread in "
         "parallel; wait is the pipeline thread waiting for frames; total is the pipeline thread's own work. Wall: "
         "elapsed time; CPU: the pipeline thread's CPU time (robust on a loaded machine, but blind to worker "
         "threads a model starts).</p>" +
         stages;
  const std::string mem = memory_svg(runs);
  if (!mem.empty()) b += "<h2>Memory over time</h2>" + mem;
  for (const auto& r : runs) {
    const std::string lab = runs.size() > 1 ? " \u2013 " + html_escape(run_label(r)) : "";
    const std::string tl = behaviour_timeline_svg(r), tb = time_budget_svg(r), hm = heatmap_svg(r), th = thumbnails_html(r);
    if (!tl.empty()) b += "<h2>Behaviour timelines" + lab + "</h2>" + tl;
    if (!tb.empty()) b += "<h2>Time budgets" + lab + "</h2>" + tb;
    if (!hm.empty()) b += "<h2>Pen heat map" + lab + "</h2>" + hm;
    if (!th.empty()) b += "<h2>Animals" + lab + "</h2>" + th;
    const auto* w = at(r, "/warnings");
    if (w && w->is_array() && !w->empty()) {
      b += "<h2>Messages" + lab + "</h2><ul>";
      for (const auto& m : *w) b += "<li>" + html_escape(m.is_string() ? m.get<std::string>() : m.dump()) + "</li>";
      b += "</ul>";
    }
  }
  for (const auto& [h, html] : extras.sections) b += "<h2>" + html_escape(h) + "</h2>" + html;
  b += "<p class=\"note\">Generated by edgeherd. Self-contained: no network access, images inline.</p>";
  return html_page(title, b);
}

}  // namespace eh::report
