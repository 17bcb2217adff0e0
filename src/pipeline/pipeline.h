// The main job of `edgeherd run`: one stream through the whole system.
//
//   FrameSource (reader thread, bounded queue) -> segmenter -> embedder -> video::Session
//   (tracker + sliding window of W frames) -> [frames leave the window W frames late] ->
//   behaviour stream -> store::Recorder -> writers (tracks, masks, behaviours, annotated video)
//
//   eh::pipeline::RunOptions o;  o.source = "sim:seed=7,frames=720";  o.out_dir = "out/run";
//   auto result = eh::pipeline::run_pipeline(o, eh::pipeline::load_model_set("sim-gt", ""));
//
// Every output file is written as the stream goes and closed properly when it ends for any
// reason (end of stream, a source that fails or stalls, a stop request), so what was written
// is always valid; report.json / report.html say how the run ended. See docs/run.md.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/classification.h"
#include "eval/evaluate.h"
#include "pipeline/model_set.h"
#include "video/reader.h"
#include "video/session.h"

namespace eh::pipeline {

struct Progress {
  int64_t frames = 0;     // processed
  int64_t total = -1;     // known frame count of the source, -1 when unknown (cameras)
  double fps = 0;         // processed frames per wall-clock second
  int animals = 0;        // identities seen so far
};

struct RunOptions {
  std::string source;         // sim:..., video file, image folder, camera index, URL
  std::string out_dir;        // created when missing; the files below are overwritten
  std::string label;          // column name in reports (default: the model variant, else "run")
  int window = 16;            // W: frames of per-object memory (outputs leave W frames late)
  int max_animals = -1;       // closed pen size; -1: the simulator's pig count, else open world
  int64_t max_frames = -1;    // stop after this many frames
  std::string gt_path;        // MOTChallenge ground truth (frame,id,x,y,w,h,conf,...); sim: automatic
  std::string gt_labels_path; // behaviour labels CSV (frame,id,label) with the ids of gt_path
  bool evaluate = true;       // score against ground truth when there is one
  bool video = true;          // write annotated.mp4 (or .avi)
  double video_scale = 0;     // annotated video size relative to the frames; 0: auto (halved until <= 960 px wide)
  double pixels_per_metre = 0;  // 0: model.json's, else the simulator layout (sim:), else 1 (pixels)
  double start_time = std::numeric_limits<double>::quiet_NaN();  // unix seconds of t = 0 (store)
  std::string store_path;     // default OUT/store.sqlite (recreated); give a path to accumulate
  int thumbnails_per_animal = 4;  // in the report (the store keeps its own, spread over days)
  double thumbnail_interval_s = 10;
  int memory_every = 30;      // frames between memory samples (memory.csv, report)
  eh::video::SourceOptions source_options;
  // Optional: opens the source instead of video::open_source(source) (a custom camera driver,
  // or a test double); `source` is then only the name shown in reports.
  std::function<std::unique_ptr<eh::video::FrameSource>()> open_source;
  eh::video::ReaderOptions reader;
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT) to finish early, cleanly
  std::function<void(const Progress&)> on_progress;            // about every frame
  std::function<void(const eh::video::SourceEvent&)> on_event; // skipped/dropped/stalled/ended
  std::function<void(const std::string&)> on_warning;
};

struct StageTimes {  // milliseconds per processed frame
  double decode = 0, wait = 0, segment = 0, embed = 0, track = 0, behaviour = 0, store = 0, write = 0;
  double total() const { return segment + embed + track + behaviour + store + write; }
};

struct RunResult {
  int64_t frames = 0;
  bool interrupted = false;
  std::string end_reason;
  std::string error;      // set when the run stopped on an error (outputs still closed and valid)
  double wall_s = 0;
  StageTimes ms;      // wall clock per frame
  StageTimes cpu_ms;  // CPU time of the pipeline thread per frame (decode and wait stay 0)
  int identities = 0;
  bool evaluated = false;
  eh::eval::MotReport mot;                        // when evaluated
  bool behaviour_evaluated = false;
  eh::eval::ClassificationResult behaviour;       // when ground-truth labels exist
  std::string video_path;                         // empty when no video was written
  nlohmann::json report;                          // what report.json holds
};

// Runs the stream to its end (or stop / max_frames) and writes every output. Throws eh::Error
// before anything is written for a bad source or options (source not found, sim-gt without a
// sim: source, unwritable output directory); once running, source problems end the run
// normally with end_reason set.
RunResult run_pipeline(const RunOptions& opt, const ModelSet& models);

// The output file names inside out_dir.
struct OutputFiles {
  static constexpr const char* tracks = "tracks.txt";
  static constexpr const char* masks = "masks.jsonl";
  static constexpr const char* behaviours = "behaviours.csv";
  static constexpr const char* store = "store.sqlite";
  static constexpr const char* video = "annotated.mp4";
  static constexpr const char* video_fallback = "annotated.avi";
  static constexpr const char* report_json = "report.json";
  static constexpr const char* report_html = "report.html";
  static constexpr const char* memory = "memory.csv";
};

}  // namespace eh::pipeline
