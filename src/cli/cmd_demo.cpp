// edgeherd demo: the main job on the embedded default. It simulates a held-out pen, tracks it,
// evaluates, records the store footprint, checks the ported backbones against upstream, counts
// teacher and student parameters, and writes OUT/report.json and OUT/report.html. Stages that
// do not exist yet (the trained pen-tiny teacher/student perception, behaviour) are listed as
// pending in both, never faked.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli/command.h"
#include "cli/progress.h"
#include "core/runtime.h"
#include "core/state_dict.h"
#include "data/dataset_writer.h"
#include "models/parity.h"
#include "models/sam3/neck.h"
#include "models/student_encoder.h"
#include "report/svg_plot.h"
#include "store/footprint.h"
#include "video/gt_run.h"

namespace fs = std::filesystem;

namespace {

struct Opts {
  std::string out = "out/demo";
  std::string fixtures = "../shared/fixtures";
  uint64_t seed = 9001;  // held out: never used by any training command
  double minutes = 2.0;
  int pigs = 8;
};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

std::string base64(const std::vector<uchar>& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    o += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = in[i] << 16;
    o += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    o += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return o;
}

std::string table_html(const nlohmann::ordered_json& rows) {
  std::string s = "<table>";
  for (auto it = rows.begin(); it != rows.end(); ++it) {
    const auto& v = it.value();
    s += "<tr><th>" + esc(it.key()) + "</th><td>" + esc(v.is_string() ? v.get<std::string>() : v.dump()) + "</td></tr>";
  }
  return s + "</table>";
}

int run_demo(const Opts& o) {
  const fs::path out(o.out);
  fs::create_directories(out);
  nlohmann::ordered_json report;
  report["machine"] = eh::runtime::describe();
  report["seed"] = o.seed;

  // 1. A held-out pen with exact ground truth.
  eh::data::SimulateOptions so;
  so.sim.seed = o.seed;
  so.sim.num_pigs = o.pigs;
  so.minutes = o.minutes;
  so.out_dir = (out / "pen").string();
  eh::cli::ProgressBar sim_bar("simulate");
  auto sim = eh::data::run_simulation(so, [&](int d, int t) {
    sim_bar.update(d, t);
    return true;
  });
  report["pen"] = {{"frames", sim.frames}, {"video", sim.video_path}, {"gt", sim.gt_path}, {"gt_fnv1a", sim.gt_fnv1a}};

  // 2. Tracking with ground-truth instances as input (the tracker isolated), evaluated.
  eh::video::GtRunOptions go;
  go.source = fmt::format("sim:seed={},pigs={},frames={},fps=6,render=0", o.seed, o.pigs, sim.frames);
  go.gt.embedding_dim = 64;
  go.tracks_out = (out / "tracks.txt").string();
  std::vector<double> mem_frames, mem_mb;
  go.memory_checkpoints = {};
  for (int f = 60; f <= sim.frames; f += 60) go.memory_checkpoints.push_back(f);
  go.on_memory = [&](const eh::video::MemorySnapshot& m) {
    mem_frames.push_back(static_cast<double>(m.frames));
    mem_mb.push_back(m.peak_rss / 1048576.0);
  };
  auto tr = eh::video::run_ground_truth_tracking(go);
  const auto& c = tr.report.clear;
  report["tracking_gt_instances"] = {{"MOTA", c.mota},
                                     {"IDF1", tr.report.identity.idf1},
                                     {"HOTA", tr.report.hota.HOTA},
                                     {"id_switches", c.num_switches},
                                     {"switches_per_10min", tr.switches_per_10min},
                                     {"tracks", go.tracks_out}};
  std::cout << fmt::format("tracking (ground-truth instances): MOTA {:.2f}%  IDF1 {:.2f}%  HOTA {:.2f}%  ID switches {}\n",
                           100 * c.mota, 100 * tr.report.identity.idf1, 100 * tr.report.hota.HOTA, c.num_switches);

  // 3. The per-animal record: bytes per animal per year.
  eh::store::FootprintOptions fo;
  fo.days = 30;  // scaled to a year; the bench's store suite runs the whole year
  auto fp = eh::store::measure_footprint(fo);
  report["store"] = {{"bytes_per_animal_year", fp.bytes_per_animal_year},
                     {"reference_bytes_per_animal_year", fp.reference_bytes_per_animal_year},
                     {"simulated_days", fo.days}};
  std::cout << fmt::format("store: {:.2f} MB per animal per year (reference design {:.0f} MB)\n",
                           fp.bytes_per_animal_year / 1e6, fp.reference_bytes_per_animal_year / 1e6);

  // 4. The ported backbones agree with upstream; parameter counts of teacher and student.
  const std::pair<const char*, const char*> ports[] = {{"dinov3_vits16", "dinov3_vit"}, {"tinyvit_21m_512", "tinyvit"}, {"fpn", "fpn"}};
  int failed = 0;
  for (auto [dir, arch] : ports) {
    fs::path d = fs::path(o.fixtures) / dir;
    if (!fs::exists(d / "io.safetensors")) {
      report["ports"][arch] = "fixture not found";
      continue;
    }
    auto res = eh::models::run_parity({arch, (d / "config.json").string(), (d / "weights.safetensors").string(),
                                       (d / "io.safetensors").string()});
    double worst = 0;
    for (const auto& r : res.rows) worst = std::max(worst, r.max_abs);
    report["ports"][arch] = {{"pass", res.ok()}, {"max_abs_error", worst}};
    failed += !res.ok();
  }
  {
    torch::NoGradGuard g;
    eh::models::Sam3DualViTDetNeck teacher(eh::models::sam3_full_backbone_config());
    eh::models::StudentEncoder student(eh::models::StudentConfig::full_size());
    const auto tp = eh::count_elements(*teacher->trunk()).params, tb = eh::count_elements(*teacher).params;
    const auto sp = eh::count_elements(*student).params;
    report["parameters"] = {{"teacher_trunk", tp}, {"teacher_backbone_with_necks", tb}, {"student_encoder", sp},
                            {"trunk_ratio", double(tp) / double(sp)}};
    std::cout << fmt::format("parameters: teacher trunk {:.1f}M, student encoder {:.2f}M ({:.1f}x fewer)\n", tp / 1e6, sp / 1e6,
                             double(tp) / double(sp));
  }
  report["pending"] = {"pen-tiny teacher/student perception trained in-project (MOTA/IDF1 of teacher and student)",
                       "behaviour classification", "annotated video"};
  std::ofstream(out / "report.json") << report.dump(2) << "\n";

  // 5. report.html: self-contained (inline SVG and PNG), no network.
  std::string html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>edgeherd demo</title><style>"
                     "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse;"
                     "margin:0.5em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}"
                     "img{max-width:100%}</style></head><body><h1>edgeherd demo</h1>";
  html += "<p>Held-out simulated pen (seed " + std::to_string(o.seed) + ", " + std::to_string(o.pigs) + " pigs, " +
          std::to_string(sim.frames) + " frames at 6 fps). " + esc(eh::runtime::describe()) + "</p>";
  html += "<h2>Tracking (ground-truth instances in, tracker isolated)</h2>" + table_html(report["tracking_gt_instances"]);
  html += "<h2>Per-animal record</h2>" + table_html(report["store"]);
  html += "<h2>Parameters</h2>" + table_html(report["parameters"]);
  html += "<h2>Ported backbones vs upstream</h2>" + table_html(report["ports"]);
  html += "<h2>Memory over the stream</h2>" +
          eh::report::line_plot_svg({{"peak RSS", mem_frames, mem_mb}}, {"Process peak RSS", "frame", "MiB", 720, 300, false});
  cv::Mat sheet = cv::imread((out / "pen" / "contact_sheet.png").string());
  if (!sheet.empty()) {
    std::vector<uchar> png;
    cv::imencode(".jpg", sheet, png);
    html += "<h2>The pen (ground-truth overlays)</h2><img alt=\"contact sheet\" src=\"data:image/jpeg;base64," + base64(png) + "\">";
  }
  html += "<h2>Pending</h2><ul>";
  for (const auto& p : report["pending"]) html += "<li>" + esc(p.get<std::string>()) + "</li>";
  html += "</ul></body></html>\n";
  eh::report::write_text((out / "report.html").string(), html);
  std::cout << "report: " << (out / "report.html").string() << " and report.json\n";
  return failed ? 1 : 0;
}

eh::cli::Registrar reg({"demo", "Run the main job on the embedded default and write a report", [](CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("--out", o->out, "Output directory")->capture_default_str();
  app.add_option("--fixtures", o->fixtures, "Upstream reference fixtures (port checks)")->capture_default_str();
  app.add_option("--seed", o->seed, "Simulated pen seed (held out from training)")->capture_default_str();
  app.add_option("--minutes", o->minutes, "Length of the simulated pen")->capture_default_str();
  app.add_option("--pigs", o->pigs, "Animals in the pen")->capture_default_str();
  return [o]() { return run_demo(*o); };
}});

}  // namespace
