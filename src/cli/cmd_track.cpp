// `edgeherd track`: run the streaming session + tracker on a frame source and write
// MOTChallenge tracks. See docs/tracking.md.
//
//   edgeherd track sim:seed=7,frames=3600 --gt-instances -o tracks.txt --eval
//   edgeherd track --instances recorded.jsonl -o tracks.txt        (any segmenter's instances)
//   edgeherd track sim:frames=20000 --gt-instances --memory-bench
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "bench/memory_bench.h"
#include "cli/command.h"
#include "core/error.h"
#include "eval/evaluate.h"
#include "track/instances_io.h"
#include "video/gt_run.h"
#include "video/memory.h"
#include "video/session.h"

namespace {

struct TrackArgs {
  std::string source, instances, out, gt_out, instances_out, record_out, json_out, report_at, appearance = "none";
  bool gt_instances = false, eval = false, memory_report = false, memory_bench = false, no_prune = false;
  int max_animals = -1, min_hits = 3, window = 16, anchors = 4, embedding_dim = 64, queue = 8, reconnects = 5;
  double retire_after = 10, stall_timeout = 10, fps = 0, embedding_noise = 0.5;
  int64_t frames = -1, no_prune_frames = 2000;
};

std::vector<int64_t> parse_counts(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    try {
      std::size_t used = 0;
      const long long x = std::stoll(item, &used);
      if (used != item.size() || x < 1) throw std::invalid_argument(item);
      v.push_back(x);
    } catch (const std::exception&) {
      throw eh::UsageError(fmt::format("--report-at: '{}' is not a positive frame count", item));
    }
  }
  return v;
}

bool is_sim(const std::string& s) { return s == "sim" || s.rfind("sim:", 0) == 0; }

eh::video::SessionConfig session_config(const TrackArgs& a, int default_animals) {
  eh::video::SessionConfig c;
  c.tracker.max_animals = a.max_animals >= 0 ? a.max_animals : default_animals;
  c.tracker.min_hits = a.min_hits;
  c.tracker.retire_after_s = a.retire_after;
  c.window = a.window;
  c.max_anchors = a.anchors;
  c.prune = !a.no_prune;
  c.validate();
  return c;
}

void set_appearance(const TrackArgs& a, eh::video::GtRunOptions& o) {
  if (a.appearance == "synthetic") {
    if (a.embedding_dim < 1) throw eh::UsageError("--embedding-dim must be >= 1");
    o.gt.embedding_dim = a.embedding_dim;
    o.gt.embedding_noise = static_cast<float>(a.embedding_noise);
  } else if (a.appearance == "colour") {
    o.colour_embeddings = true;
  }
}

eh::video::ReaderOptions reader_options(const TrackArgs& a) {
  eh::video::ReaderOptions r;
  if (a.queue < 1) throw eh::UsageError("--queue must be >= 1");
  if (!(a.stall_timeout > 0)) throw eh::UsageError("--stall-timeout must be > 0");
  r.queue_capacity = static_cast<std::size_t>(a.queue);
  r.stall_timeout_s = a.stall_timeout;
  r.max_reconnects = a.reconnects;
  return r;
}

void log_source_event(const eh::video::SourceEvent& e) {
  using K = eh::video::SourceEvent::Kind;
  if (e.kind == K::Ended || e.kind == K::Reconnected) spdlog::info("{}", e.message);
  else spdlog::warn("{}: {}", eh::video::event_kind_name(e.kind), e.message);
}

void log_track_event(const eh::track::TrackEvent& e) {
  spdlog::debug("frame {}: id {} {}{}", e.frame, e.id, eh::track::event_name(e.kind),
                e.unseen_s > 0 ? fmt::format(" (unseen {:.1f} s)", e.unseen_s) : "");
}

void print_memory(const eh::video::MemorySnapshot& s) {
  fmt::print("memory after {} frames\n{}", s.frames, eh::video::format_memory_report(s.caches, s.rss, s.peak_rss));
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  if (!out) throw eh::Error(fmt::format("{}: cannot open for writing", path));
  out << j.dump(2) << '\n';
  if (!out) throw eh::Error(fmt::format("{}: write failed", path));
}

// ---- simulated pen with ground-truth instances ------------------------------------------------
int run_gt(const TrackArgs& a) {
  const auto sim = eh::video::parse_sim_spec(a.source);
  eh::video::GtRunOptions o;
  o.source = a.source;
  o.session = session_config(a, sim.sim.num_pigs);
  set_appearance(a, o);
  o.gt.seed = sim.sim.seed;
  o.reader = reader_options(a);
  o.max_frames = a.frames;
  o.evaluate = a.eval;
  o.tracks_out = a.out;
  o.gt_out = a.gt_out;
  o.instances_out = a.instances_out;
  o.record_out = a.record_out;
  if (a.memory_report) {
    o.memory_checkpoints = parse_counts(a.report_at);
    o.on_memory = print_memory;
  }
  o.on_event = log_source_event;
  o.on_track_event = log_track_event;
  spdlog::info("tracking {} with ground-truth instances (appearance {}, max_animals {}, window {}, {})", a.source,
               a.appearance, o.session.tracker.max_animals, o.session.window, o.session.prune ? "pruned" : "no pruning");
  const auto r = eh::video::run_ground_truth_tracking(o);
  fmt::print("frames {} ({:.1f} min at {:.3g} fps), identities born {}, re-identified {}, recovered {}, retired {}\n",
             r.run.frames, r.duration_s / 60, r.fps, r.tracker.births, r.tracker.reidentified, r.tracker.recovered,
             r.tracker.retired);
  if (!a.out.empty()) spdlog::info("wrote {} ({} rows)", a.out, r.session.emitted_objects);
  if (a.eval) {
    fmt::print("{}", eh::eval::format_table(r.report));
    fmt::print("IDF1 {:.2f}%  ID switches {} ({:.2f} per 10 min)\n", 100 * r.report.identity.idf1,
               r.report.clear.num_switches, r.switches_per_10min);
    if (!a.json_out.empty()) {
      nlohmann::json j = eh::eval::to_json(r.report);
      j["source"] = a.source;
      j["frames"] = r.run.frames;
      j["duration_s"] = r.duration_s;
      j["switches_per_10min"] = r.switches_per_10min;
      write_json(a.json_out, j);
    }
  }
  if (a.memory_report) {
    eh::video::MemorySnapshot s{r.run.frames, r.memory, eh::video::process_rss_bytes(),
                                eh::video::process_peak_rss_bytes()};
    print_memory(s);
  }
  return 0;
}

// ---- memory benchmark: pruned vs --no-prune, side by side (src/bench/memory_bench.h) ----------
int run_memory_bench(const TrackArgs& a) {
  if (!a.gt_instances || !is_sim(a.source))
    throw eh::UsageError("--memory-bench runs on a simulated pen: give a sim: source and --gt-instances");
  const auto sim = eh::video::parse_sim_spec(a.source);
  const int64_t n = a.frames > 0 ? a.frames : sim.frames;
  const int64_t first = std::min<int64_t>(1000, n);
  const int64_t m = std::min(a.no_prune_frames, n);
  eh::bench::MemoryBenchOptions mb;
  mb.base.source = a.source;
  mb.base.session = session_config(a, sim.sim.num_pigs);
  set_appearance(a, mb.base);
  mb.base.reader = reader_options(a);
  mb.base.on_event = log_source_event;
  mb.pruned_at = {first, n};
  mb.unpruned_at = {m > first ? first : std::max<int64_t>(1, m / 2), m};
  mb.on_run = [](const std::string& mode, int64_t frames) { spdlog::info("memory bench: {} for {} frames", mode, frames); };
  if (a.memory_report) mb.on_snapshot = [](const std::string&, const eh::video::MemorySnapshot& s) { print_memory(s); };
  fmt::print("{}", eh::bench::format_memory_bench(eh::bench::run_memory_bench(mb)));
  return 0;
}

// ---- recorded instances (any segmenter) --------------------------------------------------------
int run_instances(const TrackArgs& a) {
  std::ifstream in(a.instances);
  if (!in) throw eh::Error(fmt::format("{}: cannot open", a.instances));
  const auto cfg = session_config(a, 0);
  std::optional<eh::video::MotTrackWriter> mot;
  if (!a.out.empty()) mot.emplace(a.out);
  eh::eval::TrackSet truth, pred;
  bool have_ids = false;
  eh::video::Session session(nullptr, cfg, [&](const eh::video::FrameOutput& f) {
    if (mot) mot->write(f);
    for (const auto& o : f.objects) pred.add(f.frame + 1, o.id, eh::eval::Box{o.box.x, o.box.y, o.box.width, o.box.height}, o.score);
  });
  std::string line;
  int no = 0;
  int64_t frames = 0;
  while (std::getline(in, line) && (a.frames < 0 || frames < a.frames)) {
    ++no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    eh::track::InstanceFrame f = eh::track::parse_instance_line(line, fmt::format("{}:{}", a.instances, no));
    if (!f.ids.empty()) {
      have_ids = true;
      for (std::size_t j = 0; j < f.dets.size(); ++j) {
        const auto& b = f.dets.boxes[j];
        truth.add(f.frame, f.ids[j], eh::eval::Box{b.x, b.y, b.width, b.height});
      }
    }
    eh::video::Frame fr;
    fr.index = f.frame - 1;
    fr.t = f.t;
    const auto out = session.process(fr, std::move(f.dets));
    for (const auto& ev : out.events) log_track_event(ev);
    ++frames;
  }
  session.finish();
  if (mot) mot->close();
  const auto& st = session.tracker().stats();
  fmt::print("frames {}, identities born {}, re-identified {}, recovered {}, retired {}\n", frames, st.births,
             st.reidentified, st.recovered, st.retired);
  if (a.eval) {
    if (!have_ids) throw eh::UsageError(fmt::format("--eval: {} has no 'id' fields to score against", a.instances));
    const auto rep = eh::eval::evaluate_mot(truth, pred);
    fmt::print("{}", eh::eval::format_table(rep));
  }
  if (a.memory_report)
    print_memory(eh::video::MemorySnapshot{frames, session.memory(), eh::video::process_rss_bytes(),
                                           eh::video::process_peak_rss_bytes()});
  return 0;
}

int run_track(const TrackArgs& a) {
  if (!a.instances.empty()) {
    if (!a.source.empty()) throw eh::UsageError("give either SOURCE or --instances, not both");
    if (a.gt_instances || a.memory_bench) throw eh::UsageError("--gt-instances/--memory-bench need a sim: SOURCE");
    return run_instances(a);
  }
  if (a.source.empty()) throw eh::UsageError("SOURCE (or --instances FILE) is required");
  if (a.memory_bench) return run_memory_bench(a);
  if (a.gt_instances) {
    if (!is_sim(a.source)) throw eh::UsageError("--gt-instances needs a simulator source (sim or sim:key=value,...)");
    return run_gt(a);
  }
  if (a.eval) throw eh::UsageError("--eval needs ground truth: --gt-instances with a sim: source, or --instances");
  // Video files, folders, cameras: no segmentation model is wired into this command yet, but
  // the source path runs end to end (decode, skip corrupt frames, stall handling) so a
  // recording can be checked before a model is available.
  eh::video::SourceOptions so;
  so.fps = a.fps;
  eh::video::ThreadedReader reader(eh::video::open_source(a.source, so), reader_options(a));
  spdlog::warn("no segmentation model is wired into `track` yet: reading {} without instances "
               "(use --gt-instances with a sim: source, or --instances FILE)", reader.describe());
  int64_t frames = 0;
  while (auto item = reader.next()) {
    if (!item->frame) {
      log_source_event(item->event);
      continue;
    }
    if (a.frames >= 0 && frames >= a.frames) break;
    ++frames;
  }
  const auto st = reader.stats();
  fmt::print("frames {}, skipped {}, dropped {}, stalls {}, reconnects {}\n", st.frames, st.skipped, st.dropped,
             st.stalls, st.reconnects);
  return 0;
}

const eh::cli::Registrar kRegistrar{eh::cli::Command{
    "track",
    "Track animals on a stream (streaming session, sliding-window memory, re-identification)",
    [](CLI::App& sub) -> eh::cli::Action {
      auto a = std::make_shared<TrackArgs>();
      sub.add_option("source", a->source,
                     "sim[:seed=7,frames=3600,pigs=8,...] | video file | image folder | camera index | URL");
      sub.add_flag("--gt-instances", a->gt_instances, "Use the simulator's ground-truth instances (isolates the tracker)");
      sub.add_option("--instances", a->instances, "Track recorded instances (JSONL, any segmenter) instead of a SOURCE");
      sub.add_option("-o,--out", a->out, "Write tracks (MOTChallenge: frame,id,x,y,w,h,conf,-1,-1,-1)");
      sub.add_option("--gt-out", a->gt_out, "Write the ground truth given to the tracker (MOTChallenge gt layout)");
      sub.add_option("--instances-out", a->instances_out, "Write tracked instances (JSONL: id, box, RLE mask, embedding)");
      sub.add_option("--record-instances", a->record_out, "Write the input instances with ground-truth ids (JSONL)");
      sub.add_flag("--eval", a->eval, "Score the tracks against the ground truth (IDF1, ID switches, MOTA, HOTA)");
      sub.add_option("--json", a->json_out, "With --eval: also write the metrics as JSON");
      sub.add_option("--max-animals", a->max_animals,
                     "Closed pen with this many animals (default: pigs of a sim: source, else 0 = open world)");
      sub.add_option("--min-hits", a->min_hits, "Consecutive hits before a track is confirmed")->capture_default_str();
      sub.add_option("--retire-after", a->retire_after, "Seconds unseen before a track is retired")->capture_default_str();
      sub.add_option("--window", a->window, "Frames of per-object memory kept by the session")->capture_default_str();
      sub.add_option("--anchors", a->anchors, "Anchor entries kept per object")->capture_default_str();
      sub.add_flag("--no-prune", a->no_prune, "Keep every frame's outputs (upstream-like growth; for the memory bench)");
      sub.add_option("--appearance", a->appearance,
                     "With --gt-instances: appearance embeddings: none | colour (histograms of the rendered "
                     "pixels; turns rendering on) | synthetic (per-animal direction + noise)")
          ->check(CLI::IsMember({"none", "colour", "synthetic"}))
          ->capture_default_str();
      sub.add_option("--embedding-dim", a->embedding_dim, "Dimension of the synthetic embeddings")->capture_default_str();
      sub.add_option("--embedding-noise", a->embedding_noise, "Noise of the synthetic embeddings (cos ~ 1/(1+noise^2))")
          ->capture_default_str();
      sub.add_option("--frames", a->frames, "Stop after this many frames");
      sub.add_option("--queue", a->queue, "Decoded frames buffered ahead by the reader thread")->capture_default_str();
      sub.add_option("--stall-timeout", a->stall_timeout, "Seconds without a frame before the stream counts as stalled")
          ->capture_default_str();
      sub.add_option("--reconnects", a->reconnects, "Reconnect attempts for live streams")->capture_default_str();
      sub.add_option("--fps", a->fps, "Frame rate of an image folder (default 6)");
      sub.add_flag("--memory-report", a->memory_report, "Print every cache's bytes and the process (peak) RSS");
      sub.add_option("--report-at", a->report_at, "With --memory-report: also report after these frame counts (e.g. 1000,20000)");
      sub.add_flag("--memory-bench", a->memory_bench,
                   "Run pruned for --frames frames, then --no-prune, and print peak RSS side by side");
      sub.add_option("--no-prune-frames", a->no_prune_frames, "Frames of the --no-prune run of --memory-bench")
          ->capture_default_str();
      return [a] { return run_track(*a); };
    }}};

}  // namespace
