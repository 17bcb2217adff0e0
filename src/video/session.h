// One stream's state: tracker plus a sliding window of per-object memory, separate from the
// shared, read-only model (Segmenter).
//
//   auto model = std::make_shared<eh::video::GroundTruthSegmenter>();      // shared by streams
//   eh::video::MotTrackWriter mot("tracks.txt");
//   eh::video::Session session(model, cfg, [&](const eh::video::FrameOutput& f) { mot.write(f); });
//   eh::video::ThreadedReader reader(eh::video::open_source("sim:frames=3600"));
//   eh::video::run_stream(reader, session, {});                          // calls finish()
//
// The session keeps only the last `window` frames (their image when keep_frames, and their
// instances: RLE masks, embeddings, identities) plus, per object, references into that window
// and at most `max_anchors` anchor entries (first sighting, then the best-scoring entries at
// least `anchor_spacing` frames apart). A frame leaving the window is finished: handed to the
// sink (tracks rows, RLE masks, embeddings) and dropped. Objects retired by the tracker lose
// their memory. Output is therefore delayed by `window` frames, which also lets rows of tracks
// confirmed late (after min_hits frames) reach the sink in frame order.
// With prune = false nothing is ever dropped (every frame, instance and entry stays): the
// growth upstream SAM 2/3 video predictors show, kept for the memory benchmark.
#pragma once
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "track/cache_usage.h"
#include "track/tracker.h"
#include "video/reader.h"
#include "video/segmenter.h"

namespace eh::video {

struct SessionConfig {
  eh::track::TrackerConfig tracker;
  int window = 16;          // W: frames of per-object memory (>= tracker.min_hits)
  int max_anchors = 4;      // per object
  int anchor_spacing = 30;  // frames between an object's anchors
  bool prune = true;        // false: keep everything (upstream-like growth)
  bool keep_frames = true;  // the window holds the frames themselves (a memory-attention model reads them)
  bool keep_masks = true;   // outputs carry RLE masks
  bool keep_embeddings = true;

  void validate() const;  // throws eh::UsageError
};

struct ObjectOutput {
  int id = 0;
  cv::Rect2f box;
  float score = 0;
  eh::data::Rle mask;            // empty when the segmenter gives none (or !keep_masks)
  std::vector<float> embedding;  // empty when none
};

struct FrameOutput {
  int64_t frame = 0;  // 0-based source index (MOTChallenge files write frame + 1)
  double t = 0;
  std::vector<ObjectOutput> objects;  // by id
};

using Sink = std::function<void(const FrameOutput&)>;

struct SessionStats {
  int64_t frames = 0;
  int64_t instances = 0;
  int64_t emitted_frames = 0;
  int64_t emitted_objects = 0;
  int64_t late_rows_missed = 0;  // rows confirmed after their frame had left the window
};

class Session {
 public:
  Session(std::shared_ptr<const Segmenter> model, const SessionConfig& cfg, Sink sink);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Segments the frame with the model, then as below.
  eh::track::TrackerOutput process(const Frame& frame);
  // Tracks instances computed elsewhere (any segmenter); updates the window; emits every frame
  // that leaves it. Timestamps that go backwards (a reconnected stream) are clamped.
  eh::track::TrackerOutput process(const Frame& frame, eh::track::Detections dets);
  // Emits every frame still in the window (end of stream). The tracker state stays.
  void finish();

  // Bytes per cache: session.window.frames, session.window.instances, session.objects,
  // session.archive (no-prune only), tracker.tracks, tracker.identities.
  std::vector<eh::track::CacheUsage> memory() const;
  const eh::track::Tracker& tracker() const;
  const SessionStats& stats() const;
  const SessionConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- sinks ----------------------------------------------------------------------------------

// MOTChallenge tracker output, `frame+1,id,x,y,w,h,conf,-1,-1,-1` per object, streamed.
class MotTrackWriter {
 public:
  explicit MotTrackWriter(const std::string& path);  // throws eh::Error
  void write(const FrameOutput& f);
  void close();
  int64_t rows() const { return rows_; }

 private:
  std::string path_;
  std::unique_ptr<std::ofstream> out_;
  int64_t rows_ = 0;
};

// ---- driver ---------------------------------------------------------------------------------

struct MemorySnapshot {
  int64_t frames = 0;  // frames processed when taken
  std::vector<eh::track::CacheUsage> caches;
  long long rss = 0, peak_rss = 0;  // bytes
};

struct RunOptions {
  int64_t max_frames = -1;                   // stop after this many frames (-1: until the end)
  std::vector<int64_t> memory_checkpoints;   // frame counts at which to take a MemorySnapshot
  std::function<void(const MemorySnapshot&)> on_memory;
  std::function<void(const SourceEvent&)> on_event;   // skipped/dropped/stalled/... (logging)
  std::function<void(const eh::track::TrackEvent&)> on_track_event;  // births, re-IDs, ...
  std::function<bool(int64_t frames)> on_progress;    // every frame; return false to cancel
};

struct RunSummary {
  int64_t frames = 0;
  ReaderStats reader;
  std::string end_reason;
  bool cancelled = false;
};

// Pulls frames from the reader into the session until the stream ends, stalls out, reaches
// max_frames or is cancelled; then calls session.finish(). Source problems never throw.
RunSummary run_stream(ThreadedReader& reader, Session& session, const RunOptions& opt = {});

}  // namespace eh::video
