// edgeherd simulate: the deterministic overhead pen simulator (docs/simulator.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <regex>

#include "cli/command.h"
#include "core/error.h"
#include "data/dataset_writer.h"
#include "data/longitudinal.h"
#include "data/simulator.h"
#include "store/recorder.h"
#include "store/store.h"

namespace {

constexpr int64_t kStoreEpoch = 1704067200;  // 2024-01-01 00:00 UTC: day 0 of a longitudinal store

struct Opts {
  std::string out;
  uint64_t seed = 1;
  int pigs = 8;
  double minutes = 2.0;
  double fps = 6.0;
  std::string size = "1280x720";
  double start_hour = 10.0;
  double activity = 1.0;
  bool no_hard_cases = false, no_noise = false, no_blur = false;
  int jpeg_quality = 0;
  bool no_video = false, no_masks = false, no_edinburgh = false, no_contact_sheet = false;
  int benchmark = 0;
  std::string store;  // longitudinal: also record the animals in view into this store
  bool longitudinal = false;
  int days = 0;
  int samples_per_hour = 2;
  double sample_minutes = 1.0;
  int first_hour = 0, last_hour = 23;
  double lame_fraction = 0.25, ill_fraction = 0.25;
  bool render_samples = false;
};

cv::Size parse_size(const std::string& s) {
  static const std::regex re(R"(^\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) throw eh::UsageError("--size must look like 1280x720, got '" + s + "'");
  const cv::Size z(std::stoi(m[1]), std::stoi(m[2]));
  if (z.width < 160 || z.height < 90 || z.width > 7680 || z.height > 4320)
    throw eh::UsageError("--size " + s + " is outside 160x90..7680x4320");
  if (z.width % 2 || z.height % 2) throw eh::UsageError("--size needs even width and height (video encoders), got " + s);
  return z;
}

// Progress on stderr: one updating line on a terminal, a line per 10% otherwise.
class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), tty_(isatty(2) != 0), t0_(std::chrono::steady_clock::now()) {}
  bool operator()(int done, int total) {
    const auto now = std::chrono::steady_clock::now();
    const double el = std::chrono::duration<double>(now - t0_).count();
    const int pct = total > 0 ? static_cast<int>(100LL * done / total) : 100;
    const bool last = done >= total;
    if (tty_) {
      if (!last && std::chrono::duration<double>(now - last_).count() < 0.25) return true;
      last_ = now;
      const double rate = el > 0 ? done / el : 0;
      const double eta = rate > 0 ? (total - done) / rate : 0;
      std::fprintf(stderr, "\r%s: %d/%d (%d%%)  %.1f/s  eta %.0fs   ", what_.c_str(), done, total, pct, rate, eta);
      if (last) std::fprintf(stderr, "\n");
    } else if (pct / 10 != last_decile_ || last) {
      last_decile_ = pct / 10;
      std::fprintf(stderr, "%s: %d/%d (%d%%) %.1fs\n", what_.c_str(), done, total, pct, el);
    }
    std::fflush(stderr);
    return true;
  }

 private:
  std::string what_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_, last_{};
  int last_decile_ = -1;
};

int run(const Opts& o) {
  const cv::Size size = parse_size(o.size);
  if (o.longitudinal && o.days < 1) throw eh::UsageError("--longitudinal needs --days D (D >= 1)");
  if (!o.longitudinal && o.days > 0) throw eh::UsageError("--days is only used with --longitudinal");
  if (!o.store.empty() && !o.longitudinal) throw eh::UsageError("--store is only used with --longitudinal");
  if (o.render_samples && !o.longitudinal) throw eh::UsageError("--render-samples is only used with --longitudinal");
  if (o.out.empty() && o.benchmark <= 0) throw eh::UsageError("--out DIR is required (or --benchmark N alone)");
  if (o.first_hour > o.last_hour) throw eh::UsageError("--first-hour must not be after --last-hour");
  if (o.lame_fraction + o.ill_fraction > 1.0) throw eh::UsageError("--lame-fraction + --ill-fraction must be <= 1");
  if (o.sample_minutes * o.samples_per_hour > 60) throw eh::UsageError("--sample-minutes x --samples-per-hour exceeds an hour");

  eh::data::SimConfig cfg;
  cfg.seed = o.seed;
  cfg.num_pigs = o.pigs;
  cfg.size = size;
  cfg.fps = o.fps;
  cfg.start_hour = o.start_hour;
  cfg.activity = o.activity;
  cfg.hard_cases = !o.no_hard_cases;
  cfg.sensor_noise = !o.no_noise;
  cfg.motion_blur = !o.no_blur;
  cfg.jpeg_quality = o.jpeg_quality;

  if (o.benchmark > 0) {
    const auto b = eh::data::measure_render_fps(cfg, o.benchmark);
    std::cout << fmt::format("render {}x{}, {} pigs, one thread: {:.1f} frames/s wall ({:.2f} ms/frame), {:.1f} frames/s CPU time; "
                             "dynamics only: {:.0f} frames/s\n",
                             size.width, size.height, o.pigs, b.render_fps, b.ms_per_frame, b.render_fps_cpu, b.dynamics_fps);
    if (o.out.empty()) return 0;
  }

  if (o.longitudinal) {
    eh::data::LongitudinalConfig lc;
    lc.seed = o.seed;
    lc.num_pigs = o.pigs;
    lc.days = o.days;
    lc.samples_per_hour = o.samples_per_hour;
    lc.sample_minutes = o.sample_minutes;
    lc.first_hour = o.first_hour;
    lc.last_hour = o.last_hour;
    lc.fps = o.fps;
    lc.size = size;
    lc.lame_fraction = o.lame_fraction;
    lc.ill_fraction = o.ill_fraction;
    lc.render = o.render_samples;
    Progress prog("simulate --longitudinal: samples");
    // --store: what the camera sees (animals in view, ground-truth behaviour and position) goes
    // through the same Recorder as `edgeherd run`, so `edgeherd associate` can be checked
    // against the planted outcomes. Day 0 starts at kStoreEpoch.
    std::unique_ptr<eh::store::Store> store;
    std::unique_ptr<eh::store::Recorder> recorder;
    eh::data::LongitudinalFrameFn on_frame;
    if (!o.store.empty()) {
      store = std::make_unique<eh::store::Store>(o.store, eh::store::StoreOptions{});
      eh::store::RecorderOptions ro;
      ro.frame_interval_s = 1.0 / o.fps;
      recorder = std::make_unique<eh::store::Recorder>(*store, ro);
      const float ppm = eh::data::make_pen_layout(size).pixels_per_metre;
      on_frame = [&, ppm](double t_s, const eh::data::PenSimulator& sim) {
        const double t = static_cast<double>(kStoreEpoch) + t_s;
        for (const auto& g : sim.ground_truth())
          recorder->observe({g.id, t, g.pose.centre.x / ppm, g.pose.centre.y / ppm, static_cast<int>(g.behaviour), -1.f});
      };
    }
    const auto r = eh::data::run_longitudinal(lc, o.out, std::ref(prog), on_frame);
    if (recorder) {
      for (const auto& a : r.outcomes) store->set_animal_info(a.animal_id, "SIM-" + std::to_string(a.animal_id), a.description);
      recorder->advance(static_cast<double>(kStoreEpoch) + o.days * 86400.0);
      recorder->flush();
      recorder.reset();
      store.reset();
      std::cout << fmt::format("recorded the animals in view into {} (day 0 = 2024-01-01)\n", o.store);
    }
    for (const auto& n : r.notes) std::cerr << "note: " << n << "\n";
    int lame = 0, ill = 0;
    for (const auto& a : r.outcomes) {
      lame += a.outcome == "lame";
      ill += a.outcome == "ill";
    }
    std::cout << fmt::format("wrote {}: {} samples ({} frames) over {} days, {} animals ({} lame, {} ill); "
                             "outcomes.csv, samples.csv, daily.csv{}\n",
                             o.out, r.samples, r.frames, o.days, o.pigs, lame, ill, o.render_samples ? ", samples/" : "");
    return 0;
  }

  eh::data::SimulateOptions so;
  so.sim = cfg;
  so.minutes = o.minutes;
  so.out_dir = o.out;
  so.write_video = !o.no_video;
  so.write_masks = !o.no_masks;
  so.sim.masks = true;
  so.write_edinburgh = !o.no_edinburgh;
  so.write_contact_sheet = !o.no_contact_sheet;
  Progress prog("simulate: frames");
  const auto r = eh::data::run_simulation(so, std::ref(prog));
  for (const auto& n : r.notes) std::cerr << "note: " << n << "\n";
  std::cout << fmt::format("wrote {}: {} frames at {}x{} ({:.1f} frames/s)\n", o.out, r.frames, size.width, size.height,
                           r.frames / std::max(r.seconds, 1e-9));
  if (!r.video_path.empty()) std::cout << "  video          " << r.video_path << "\n";
  std::cout << "  ground truth   " << r.gt_path << " (fnv1a " << r.gt_fnv1a << "), gt/labels.csv, gt/frames.csv"
            << (so.write_masks ? ", gt/masks.jsonl" : "") << "\n";
  if (so.write_edinburgh) std::cout << "  Edinburgh      " << o.out << "/output.json\n";
  if (so.write_contact_sheet) std::cout << "  contact sheet  " << o.out << "/contact_sheet.png\n";
  return 0;
}

const eh::cli::Registrar reg{eh::cli::Command{
    "simulate",
    "Simulate an overhead pig pen camera with exact ground truth (video, MOT gt, masks, Edinburgh output.json)",
    [](CLI::App& app) -> eh::cli::Action {
      auto o = std::make_shared<Opts>();
      app.add_option("--out", o->out, "Output directory");
      app.add_option("--seed", o->seed, "Random seed (same seed, same ground truth)")->capture_default_str();
      app.add_option("--pigs", o->pigs, "Number of pigs")->check(CLI::Range(1, 64))->capture_default_str();
      app.add_option("--minutes", o->minutes, "Clip length in minutes")->check(CLI::Range(0.01, 1440.0))->capture_default_str();
      app.add_option("--fps", o->fps, "Frames per second")->check(CLI::Range(1.0, 60.0))->capture_default_str();
      app.add_option("--size", o->size, "Frame size WxH")->capture_default_str();
      app.add_option("--start-hour", o->start_hour, "Clock time of the first frame (day/night, activity)")
          ->check(CLI::Range(0.0, 24.0))
          ->capture_default_str();
      app.add_option("--activity", o->activity, "Activity multiplier (>1 livelier, <1 calmer)")->check(CLI::Range(0.1, 10.0))->capture_default_str();
      app.add_flag("--no-hard-cases", o->no_hard_cases, "No lighting events and no exits into the out-of-view alley");
      app.add_flag("--no-noise", o->no_noise, "No sensor noise");
      app.add_flag("--no-blur", o->no_blur, "No motion blur");
      app.add_option("--jpeg-quality", o->jpeg_quality, "JPEG round trip of every frame (1-100; 0 = off)")->check(CLI::Range(0, 100));
      app.add_flag("--no-video", o->no_video, "Do not write the video (with --no-contact-sheet: ground truth only, fast)");
      app.add_flag("--no-masks", o->no_masks, "Do not write gt/masks.jsonl");
      app.add_flag("--no-edinburgh", o->no_edinburgh, "Do not write output.json");
      app.add_flag("--no-contact-sheet", o->no_contact_sheet, "Do not write contact_sheet.png");
      app.add_option("--benchmark", o->benchmark, "Measure rendering speed over N frames on one thread and print it")
          ->check(CLI::Range(1, 100000));
      app.add_flag("--longitudinal", o->longitudinal, "Many days sampled a few minutes per hour, with planted lameness/illness");
      app.add_option("--days", o->days, "Longitudinal: number of days")->check(CLI::Range(1, 400));
      app.add_option("--samples-per-hour", o->samples_per_hour, "Longitudinal: samples per hour")->check(CLI::Range(1, 60))->capture_default_str();
      app.add_option("--sample-minutes", o->sample_minutes, "Longitudinal: minutes per sample")->check(CLI::Range(0.05, 60.0))->capture_default_str();
      app.add_option("--first-hour", o->first_hour, "Longitudinal: first hour sampled each day")->check(CLI::Range(0, 23))->capture_default_str();
      app.add_option("--last-hour", o->last_hour, "Longitudinal: last hour sampled each day")->check(CLI::Range(0, 23))->capture_default_str();
      app.add_option("--lame-fraction", o->lame_fraction, "Longitudinal: share of animals that become lame")->check(CLI::Range(0.0, 1.0))->capture_default_str();
      app.add_option("--ill-fraction", o->ill_fraction, "Longitudinal: share of animals that fall ill")->check(CLI::Range(0.0, 1.0))->capture_default_str();
      app.add_option("--store", o->store, "Longitudinal: record what the camera sees into this SQLite store (edgeherd associate)");
      app.add_flag("--render-samples", o->render_samples, "Longitudinal: also render every sample (video + MOT gt)");
      return [o]() { return run(*o); };
    }}};

}  // namespace
