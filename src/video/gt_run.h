// Tracking a simulated pen with ground-truth instances as input (isolating the tracker), with
// the evaluation against the simulator's identities. Used by `edgeherd track --gt-instances`
// and by the tests.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "video/session.h"

namespace eh::video {

struct GtRunOptions {
  std::string source = "sim";  // a simulator spec, see parse_sim_spec()
  SessionConfig session;
  GroundTruthOptions gt;        // gt.embedding_dim > 0: synthetic appearance embeddings
  bool colour_embeddings = false;  // colour-histogram embeddings from the rendered frames
                                   // (turns rendering on; ~10 ms per 1280x720 frame)
  ReaderOptions reader;
  int64_t max_frames = -1;
  bool evaluate = true;        // keep ground truth and tracks in memory and score them at the end
  std::string tracks_out;      // MOTChallenge tracks (results layout)
  std::string gt_out;          // MOTChallenge ground truth of the instances given to the tracker
  std::string instances_out;   // tracked instances JSONL: id, box, RLE mask, embedding
  std::string record_out;      // the input instances JSONL with ground-truth ids (tracker input)
  std::vector<int64_t> memory_checkpoints;
  std::function<void(const MemorySnapshot&)> on_memory;
  std::function<void(const SourceEvent&)> on_event;
  std::function<void(const eh::track::TrackEvent&)> on_track_event;
};

struct GtRunResult {
  RunSummary run;
  double fps = 0;
  double duration_s = 0;              // frames / fps
  eh::eval::MotReport report;         // when evaluate
  double switches_per_10min = 0;      // report.clear.num_switches scaled to 10 minutes
  eh::track::TrackerStats tracker;
  SessionStats session;
  std::vector<eh::track::CacheUsage> memory;  // at the end (before the session is destroyed)
};

// Throws eh::UsageError when `source` is not a simulator spec.
GtRunResult run_ground_truth_tracking(const GtRunOptions& opt);

}  // namespace eh::video
