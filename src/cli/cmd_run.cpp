// `edgeherd run`: the main job on one stream. See docs/run.md.
//
//   edgeherd run sim:seed=9001,frames=720 --model sim-gt --out out/run
//   edgeherd run pen.mp4 --model models/pen-tiny --variant student --out out/pen --gt gt.txt
//   edgeherd run rtsp://camera/stream --model models/pen-tiny --out out/live     (Ctrl-C to stop)
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>

#include "cli/command.h"
#include "cli/progress.h"
#include "core/error.h"
#include "pipeline/model_set.h"
#include "pipeline/pipeline.h"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
  if (g_stop.load()) {  // second Ctrl-C: leave now
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_stop.store(true);
}

struct RunArgs {
  std::string source, model, out, variant = "student", prompt = "pig", gt, gt_labels, label, store, start_time;
  int window = 16, max_animals = -1, queue = 8, reconnects = 5, thumbnails = 4;
  double ppm = 0, stall_timeout = 10, fps = 0, video_scale = 0;
  int64_t frames = -1;
  bool no_video = false, no_eval = false, quiet = false;
};

// A progress line for streams of unknown length (cameras): frames, rate, animals; no ETA.
class Ticker {
 public:
  void update(int64_t frames, double fps, int animals) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(isatty(2) ? 250 : 5000)) return;
    last_ = now;
    std::fprintf(stderr, "%srun %ld frames %.1f/s, %d animals (Ctrl-C to stop)%s", isatty(2) ? "\r\033[K" : "",
                 static_cast<long>(frames), fps, animals, isatty(2) ? "" : "\n");
    std::fflush(stderr);
  }
  ~Ticker() {
    if (isatty(2) && last_ != std::chrono::steady_clock::time_point{}) std::fprintf(stderr, "\n");
  }

 private:
  std::chrono::steady_clock::time_point last_{};
};

int run(const RunArgs& a) {
  if (a.model.empty()) throw eh::UsageError("--model is required (a model directory, or the built-in sim-gt)");
  eh::pipeline::ModelSet models = eh::pipeline::load_model_set(a.model, a.variant);
  if (!a.prompt.empty()) models.prompt = a.prompt;

  eh::pipeline::RunOptions o;
  o.source = a.source;
  o.out_dir = a.out;
  o.label = a.label;
  o.window = a.window;
  o.max_animals = a.max_animals;
  o.max_frames = a.frames;
  o.gt_path = a.gt;
  o.gt_labels_path = a.gt_labels;
  o.evaluate = !a.no_eval;
  o.video = !a.no_video;
  o.video_scale = a.video_scale;
  o.pixels_per_metre = a.ppm;
  o.store_path = a.store;
  o.thumbnails_per_animal = a.thumbnails;
  if (!a.start_time.empty()) {
    try {
      std::size_t used = 0;
      o.start_time = std::stod(a.start_time, &used);
      if (used != a.start_time.size()) throw std::invalid_argument(a.start_time);
    } catch (const std::exception&) {
      throw eh::UsageError(fmt::format("--start-time: expected unix seconds, got '{}'", a.start_time));
    }
  }
  if (a.queue < 1) throw eh::UsageError("--queue must be >= 1");
  if (!(a.stall_timeout > 0)) throw eh::UsageError("--stall-timeout must be > 0");
  o.reader.queue_capacity = static_cast<std::size_t>(a.queue);
  o.reader.stall_timeout_s = a.stall_timeout;
  o.reader.max_reconnects = a.reconnects;
  o.source_options.fps = a.fps;
  o.stop = &g_stop;

  std::optional<eh::cli::ProgressBar> bar;
  std::optional<Ticker> ticker;
  if (!a.quiet)
    o.on_progress = [&](const eh::pipeline::Progress& p) {
      if (p.total > 0) {
        if (!bar) bar.emplace("run");
        bar->update(std::min(p.frames, p.total), p.total, fmt::format("{} animals", p.animals));
      } else {
        if (!ticker) ticker.emplace();
        ticker->update(p.frames, p.fps, p.animals);
      }
    };
  o.on_event = [](const eh::video::SourceEvent& e) {
    using K = eh::video::SourceEvent::Kind;
    if (e.kind == K::Ended || e.kind == K::Reconnected) spdlog::info("{}", e.message);
    else spdlog::warn("{}: {}", eh::video::event_kind_name(e.kind), e.message);
  };

  g_stop = false;
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);
  spdlog::info("run: {} with {}{} -> {}", a.source, models.name, models.variant.empty() ? "" : " (" + models.variant + ")",
               a.out);
  eh::pipeline::RunResult r;
  try {
    r = eh::pipeline::run_pipeline(o, models);
  } catch (...) {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    throw;
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  ticker.reset();

  const auto& rep = r.report;
  fmt::print("frames {} ({:.1f} s of video) in {:.1f} s: {:.1f} fps, {:.1f} ms/frame on the pipeline thread\n", r.frames,
             rep.value("duration_s", 0.0), r.wall_s, r.wall_s > 0 ? r.frames / r.wall_s : 0.0, r.ms.total());
  fmt::print("  per stage (ms/frame): decode {:.2f} (reader thread), segment {:.2f}, embed {:.2f}, track {:.2f}, "
             "behaviour {:.2f}, store {:.2f}, write {:.2f}\n",
             r.ms.decode, r.ms.segment, r.ms.embed, r.ms.track, r.ms.behaviour, r.ms.store, r.ms.write);
  fmt::print("  pipeline thread CPU (ms/frame): segment {:.2f}, embed {:.2f}, track {:.2f}, behaviour {:.2f}, store {:.2f}, "
             "write {:.2f}, total {:.2f}\n",
             r.cpu_ms.segment, r.cpu_ms.embed, r.cpu_ms.track, r.cpu_ms.behaviour, r.cpu_ms.store, r.cpu_ms.write,
             r.cpu_ms.total());
  fmt::print("animals {}; ended: {}\n", r.identities, r.end_reason);
  if (r.identities == 0 && r.error.empty())
    fmt::print("no animals were found in {} (outputs are written, and empty)\n", a.source);
  if (r.evaluated)
    fmt::print("vs ground truth: MOTA {:.2f}%  IDF1 {:.2f}%  HOTA {:.2f}%  ID switches {}\n", 100 * r.mot.clear.mota,
               100 * r.mot.identity.idf1, 100 * r.mot.hota.HOTA, r.mot.clear.num_switches);
  if (r.behaviour_evaluated)
    fmt::print("behaviour: top-1 {:.2f}%  macro-F1 {:.2f}% ({} animal-frames)\n", 100 * r.behaviour.accuracy,
               100 * r.behaviour.macro_f1, r.behaviour.num_paired);
  const std::filesystem::path out(a.out);
  fmt::print("wrote {}/{{tracks.txt, masks.jsonl, behaviours.csv, {}, memory.csv, report.json, report.html}}{}\n", a.out,
             a.store.empty() ? "store.sqlite" : "", r.video_path.empty() ? "" : " and " + r.video_path);
  if (!a.store.empty()) fmt::print("store: {}\n", a.store);
  if (r.interrupted) {
    fmt::print("interrupted: everything up to frame {} is written and valid\n", r.frames);
    return 130;
  }
  if (!r.error.empty()) {
    spdlog::error("run stopped: {} (outputs up to frame {} are written and valid)", r.error, r.frames);
    return 1;
  }
  return 0;
}

const eh::cli::Registrar kRegistrar{eh::cli::Command{
    "run", "The main job: segment, track, embed, classify behaviour, record, and report on a stream",
    [](CLI::App& sub) -> eh::cli::Action {
      auto a = std::make_shared<RunArgs>();
      sub.add_option("source", a->source, "sim[:seed=..,frames=..] | video file | image folder | camera index | URL")
          ->required();
      sub.add_option("--model", a->model, "Model directory (docs/model_dir.md) or the built-in 'sim-gt' (sim: sources)")
          ->required();
      sub.add_option("--out", a->out, "Output directory (its files are overwritten)")->required();
      sub.add_option("--variant", a->variant, "Perception variant of a model directory")
          ->check(CLI::IsMember({"teacher", "student"}))
          ->capture_default_str();
      sub.add_option("--prompt", a->prompt, "Text prompt for the segmenter")->capture_default_str();
      sub.add_option("--window", a->window, "W: frames of per-object memory (outputs leave W frames late)")
          ->capture_default_str();
      sub.add_option("--gt", a->gt, "MOTChallenge ground truth to score against (automatic for sim: sources)");
      sub.add_option("--gt-labels", a->gt_labels, "Behaviour labels CSV (frame,id,label) with the ids of --gt");
      sub.add_flag("--no-eval", a->no_eval, "Do not score against ground truth");
      sub.add_flag("--no-video", a->no_video, "Do not write annotated.mp4");
      sub.add_option("--video-scale", a->video_scale, "Size of the annotated video relative to the frames (0: halved until at most 960 pixels wide)")
          ->capture_default_str();
      sub.add_option("--label", a->label, "Name of this run in reports (default: the variant)");
      sub.add_option("--frames", a->frames, "Stop after this many frames");
      sub.add_option("--max-animals", a->max_animals,
                     "Closed pen with this many animals (default: pigs of a sim: source, else open world)");
      sub.add_option("--pixels-per-metre", a->ppm,
                     "Camera scale for positions in the store (default: model.json, the simulator's layout, else pixels)");
      sub.add_option("--store", a->store, "Longitudinal store to add to (default: OUT/store.sqlite, recreated)");
      sub.add_option("--start-time", a->start_time,
                     "Unix seconds of the first frame, for the store (default: now; sim: 2026-01-01 + start_hour)");
      sub.add_option("--thumbnails", a->thumbnails, "Thumbnails per animal in the report")->capture_default_str();
      sub.add_option("--fps", a->fps, "Frame rate of an image folder (default 6)");
      sub.add_option("--queue", a->queue, "Decoded frames buffered ahead by the reader thread")->capture_default_str();
      sub.add_option("--stall-timeout", a->stall_timeout, "Seconds without a frame before the stream counts as stalled")
          ->capture_default_str();
      sub.add_option("--reconnects", a->reconnects, "Reconnect attempts for live streams")->capture_default_str();
      sub.add_flag("-q,--quiet", a->quiet, "No progress bar");
      return [a] { return run(*a); };
    }}};

}  // namespace
