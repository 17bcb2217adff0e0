// edgeherd demo: the main job on the embedded default (models/pen-tiny). On a held-out
// simulated pen it runs the streaming pipeline twice, with the teacher and with the student
// substituted for the teacher's trunk (each in its own `edgeherd run` process, so peak memory is
// per variant), scores both against ground truth and the student against the teacher, then adds
// the tracker alone on ground-truth instances, the store footprint, the port checks against
// upstream and the full-size parameter counts, and writes OUT/report.json and a self-contained
// OUT/report.html. Each target of issue 11 is printed with its measured value and met / NOT met.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli/command.h"
#include "cli/progress.h"
#include "core/json_file.h"
#include "core/runtime.h"
#include "core/state_dict.h"
#include "data/dataset_writer.h"
#include "models/parity.h"
#include "models/sam3/neck.h"
#include "models/student_encoder.h"
#include "eval/evaluate.h"
#include "report/html.h"
#include "report/run_report.h"
#include "report/svg_plot.h"
#include "store/footprint.h"
#include "video/gt_run.h"

namespace fs = std::filesystem;

namespace {

struct Opts {
  std::string out = "out/demo";
  std::string fixtures = "../shared/fixtures";
  std::string model = "models/pen-tiny";
  uint64_t seed = 9001;  // held out: never used by any training command
  double minutes = 2.0;
  int pigs = 8;
};

// Runs `edgeherd run` on the held-out pen in a child process; returns its report.json (null when
// the run failed: the demo still writes everything else).
nlohmann::json run_variant(const Opts& o, const std::string& variant, int64_t frames, bool video) {
  const fs::path dir = fs::path(o.out) / variant;
  const std::string cmd = fmt::format(
      "'{}' --log-level warn run 'sim:seed={},pigs={},frames={}' --model '{}' --variant {} --out '{}' {} 2>&1",
      fs::read_symlink("/proc/self/exe").string(), o.seed, o.pigs, frames, o.model, variant, dir.string(),
      video ? "" : "--no-video");
  spdlog::info("demo: {} pipeline on the held-out pen ({} frames)", variant, frames);
  const int rc = std::system(cmd.c_str());
  if (rc != 0 || !fs::exists(dir / "report.json")) {
    spdlog::error("demo: the {} run failed (exit {}): {}", variant, rc, cmd);
    return nullptr;
  }
  return eh::read_json_file((dir / "report.json").string());
}

int run_demo(const Opts& o) {
  const fs::path out(o.out);
  fs::create_directories(out);
  nlohmann::ordered_json report;
  report["machine"] = eh::runtime::describe();
  report["seed"] = o.seed;
  const auto frames = static_cast<int64_t>(std::llround(o.minutes * 60 * 6));

  // 1. Teacher and student through the whole pipeline, scored against ground truth.
  const nlohmann::json teacher = run_variant(o, "teacher", frames, false);
  const nlohmann::json student = run_variant(o, "student", frames, true);
  const bool both = !teacher.is_null() && !student.is_null();
  auto num = [](const nlohmann::json& r, const std::string& ptr) { return eh::report::json_num(r, ptr); };
  nlohmann::ordered_json targets;
  // met: true / false, or null for a figure that is reported without a target.
  auto target = [&](const std::string& name, double value, std::optional<bool> met, const std::string& text) {
    targets[name] = {{"value", eh::eval::json_number(value)},
                     {"met", met ? nlohmann::json(*met) : nlohmann::json(nullptr)},
                     {"target", text}};
    std::cout << fmt::format("  {:<44} {:>10}  {:<8} ({})\n", name, std::isfinite(value) ? fmt::format("{:.4g}", value) : "n/a",
                             !met ? "" : *met ? "met" : "NOT met", text);
  };
  if (both) {
    const auto agree = eh::eval::evaluate_agreement(eh::eval::load_mot((fs::path(o.out) / "teacher" / "tracks.txt").string()),
                                                    eh::eval::load_mot((fs::path(o.out) / "student" / "tracks.txt").string()));
    report["student_vs_teacher"] = eh::eval::to_json(agree);
    const double sm = num(student, "/eval/mot/mota"), si = num(student, "/eval/mot/idf1");
    const double tm = num(teacher, "/eval/mot/mota"), ti = num(teacher, "/eval/mot/idf1");
    const double tmem = num(teacher, "/memory/peak_rss_bytes"), smem = num(student, "/memory/peak_rss_bytes");
    const double sms = num(student, "/timing/ms_per_frame/total");
    std::cout << "targets (issue 11), held-out pen seed " << o.seed << ":\n";
    target("student MOTA vs ground truth (%)", 100 * sm, sm >= 0.95, ">= 95");
    target("student IDF1 vs ground truth (%)", 100 * si, si >= 0.95, ">= 95");
    target("MOTA lost vs teacher (pp)", 100 * (tm - sm), tm - sm <= 0.01, "<= 1");
    target("IDF1 lost vs teacher (pp)", 100 * (ti - si), ti - si <= 0.01, "<= 1");
    target("student/teacher peak RSS", smem / tmem, smem <= tmem / 3, "<= 1/3");
    target("student pipeline ms/frame (1280x720)", sms, sms <= 1000.0 / 6, "<= 166.7 (6 fps)");
    target("student vs teacher MOTA (%)", 100 * agree.clear.mota, std::nullopt, "teacher tracks as ground truth");
    target("student vs teacher IDF1 (%)", 100 * agree.identity.idf1, std::nullopt, "teacher tracks as ground truth");
  }
  report["targets"] = targets;
  report["runs"] = {{"teacher", teacher.is_null() ? nlohmann::json("failed") : nlohmann::json((fs::path(o.out) / "teacher").string())},
                    {"student", student.is_null() ? nlohmann::json("failed") : nlohmann::json((fs::path(o.out) / "student").string())}};

  // 2. The held-out pen written out with exact ground truth (video, MOT gt, contact sheet).
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

  // 3. Tracking with ground-truth instances as input (the tracker isolated), evaluated.
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

  // 4. The per-animal record: bytes per animal per year.
  eh::store::FootprintOptions fo;
  fo.days = 30;  // scaled to a year; the bench's store suite runs the whole year
  auto fp = eh::store::measure_footprint(fo);
  report["store"] = {{"bytes_per_animal_year", fp.bytes_per_animal_year},
                     {"reference_bytes_per_animal_year", fp.reference_bytes_per_animal_year},
                     {"simulated_days", fo.days}};
  std::cout << fmt::format("store: {:.2f} MB per animal per year (reference design {:.0f} MB)\n",
                           fp.bytes_per_animal_year / 1e6, fp.reference_bytes_per_animal_year / 1e6);

  // 5. The ported backbones agree with upstream; parameter counts of teacher and student.
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
  std::ofstream(out / "report.json") << report.dump(2) << "\n";

  // 6. report.html: the two runs side by side (eh::report::run_report_html) plus the rest.
  eh::report::ReportExtras x;
  x.title = "edgeherd demo: pen-tiny teacher vs student";
  x.intro_html = "<p>Held-out simulated pen (seed " + std::to_string(o.seed) + ", " + std::to_string(o.pigs) + " pigs, " +
                 std::to_string(frames) + " frames at 6 fps, never used in training). " + eh::report::html_escape(eh::runtime::describe()) +
                 "</p>";
  if (report.contains("student_vs_teacher")) {
    const auto& a = report["student_vs_teacher"];
    x.figures.push_back({"MOTA student vs teacher", {eh::report::fmt_pct(eh::report::json_num(a, "/clear/mota"))}, "teacher tracks as ground truth"});
    x.figures.push_back({"IDF1 student vs teacher", {eh::report::fmt_pct(eh::report::json_num(a, "/identity/idf1"))}, ""});
  }
  x.figures.push_back({"Store bytes per animal per year", {eh::report::fmt_bytes(fp.bytes_per_animal_year)},
                       "reference design ~94 MB; target <= 10 MB"});
  {
    nlohmann::ordered_json t;
    for (auto it = targets.begin(); it != targets.end(); ++it)
      t[it.key()] = fmt::format("{} ({}{})", it.value()["value"].dump(),
                                it.value()["met"].is_null() ? "" : it.value()["met"].get<bool>() ? "met; target " : "NOT met; target ",
                                it.value()["target"].get<std::string>());
    if (!t.empty()) x.sections.push_back({"Targets (issue 11)", eh::report::kv_table(t)});
  }
  x.sections.push_back({"Tracking with ground-truth instances (tracker isolated)", eh::report::kv_table(report["tracking_gt_instances"])});
  x.sections.push_back({"Per-animal record", eh::report::kv_table(report["store"])});
  x.sections.push_back({"Full-size parameters", eh::report::kv_table(report["parameters"])});
  x.sections.push_back({"Ported backbones vs upstream", eh::report::kv_table(report["ports"])});
  x.sections.push_back({"Memory over the stream (ground-truth instances)",
                        eh::report::line_plot_svg({{"peak RSS", mem_frames, mem_mb}}, {"Process peak RSS", "frame", "MiB", 720, 300, false})});
  cv::Mat sheet = cv::imread((out / "pen" / "contact_sheet.png").string());
  if (!sheet.empty()) {
    std::vector<uchar> jpg;
    cv::imencode(".jpg", sheet, jpg);
    x.sections.push_back({"The pen (ground-truth overlays)",
                          "<img alt=\"contact sheet\" style=\"max-width:100%\" src=\"" + eh::report::data_uri("image/jpeg", jpg) + "\">"});
  }
  std::vector<nlohmann::json> runs;
  for (const auto* r : {&teacher, &student})
    if (!r->is_null()) runs.push_back(*r);
  if (runs.empty()) {
    eh::report::write_text((out / "report.html").string(),
                           eh::report::html_page(x.title, x.intro_html + "<p>Both pipeline runs failed; see the log.</p>"));
  } else {
    eh::report::write_text((out / "report.html").string(), eh::report::run_report_html(runs, x));
  }
  std::cout << "report: " << (out / "report.html").string() << " and report.json\n";
  return failed || !both ? 1 : 0;
}

eh::cli::Registrar reg({"demo", "Run the main job on the embedded default and write a report", [](CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("--out", o->out, "Output directory")->capture_default_str();
  app.add_option("--model", o->model, "Model directory (docs/model_dir.md)")->capture_default_str();
  app.add_option("--fixtures", o->fixtures, "Upstream reference fixtures (port checks)")->capture_default_str();
  app.add_option("--seed", o->seed, "Simulated pen seed (held out from training)")->capture_default_str();
  app.add_option("--minutes", o->minutes, "Length of the simulated pen")->capture_default_str();
  app.add_option("--pigs", o->pigs, "Animals in the pen")->capture_default_str();
  return [o]() { return run_demo(*o); };
}});

}  // namespace
