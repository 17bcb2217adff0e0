// What the report shows of a run, accumulated in bounded memory while the stream runs:
// per-animal behaviour timelines (a fixed number of time bins whose width doubles as the run
// grows), time budgets, a heat map of positions, a few thumbnails per animal, and the memory
// series (decimated). Everything here stays the same size on an endless stream, except one
// small record per identity.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/behaviour.h"

namespace eh::pipeline {

// Per-animal class seconds in time bins of a common width; when a time falls beyond the last
// bin, neighbouring bins merge pairwise and the width doubles.
class TimelineGrid {
 public:
  explicit TimelineGrid(int max_bins = 240, double initial_bin_s = 1.0);
  void add(int id, double t, int label, double seconds);
  double bin_s() const { return bin_s_; }
  int bins_used() const { return used_; }
  // Majority label per bin (-1 where the animal was not seen), bins_used() entries.
  std::vector<int> labels(int id) const;
  std::size_t bytes() const;

 private:
  void grow();
  int max_bins_;
  double bin_s_;
  int used_ = 0;
  std::map<int, std::vector<std::array<float, eh::data::kNumBehaviours>>> bins_;
};

// Keeps at most `max_count` items spread over time: when full, the newest offer replaces the
// kept item (never the first) whose time is closest to its predecessor's.
struct SpreadSlots {
  int max_count = 4;
  double min_interval_s = 10;
  std::vector<double> t;
  // Returns the slot to write (== t.size() to append) or -1 when the offer is not wanted.
  int offer(double time);
};

struct Thumb {
  double t = 0;
  int width = 0, height = 0;
  std::vector<uint8_t> jpeg;
};

struct AnimalRecord {
  int id = 0;
  int64_t frames = 0;
  double seen_s = 0;
  std::array<double, eh::data::kNumBehaviours> budget_s{};
  SpreadSlots slots;
  std::vector<Thumb> thumbs;
};

class RunSummary {
 public:
  RunSummary(int heat_cols = 48, int heat_rows = 27, int max_thumbnails = 4, double thumbnail_interval_s = 10);

  void set_frame_size(cv::Size s) { frame_size_ = s; }
  cv::Size frame_size() const { return frame_size_; }
  // One tracked animal in one frame; `dt` is the time the observation stands for.
  void observe(int id, double t, double dt, const cv::Rect2f& box, int label);
  // Whether a thumbnail of `id` at `t` would be kept (call before encoding one).
  bool wants_thumbnail(int id, double t);
  void add_thumbnail(int id, Thumb th);  // after wants_thumbnail() returned true
  void memory_point(int64_t frame, double t, double rss_mb, double caches_mb);

  // "timeline", "animals", "heatmap", "memory.series" parts of report.json.
  nlohmann::json animals_json() const;
  nlohmann::json timeline_json() const;
  nlohmann::json heatmap_json(double pixels_per_metre) const;
  nlohmann::json memory_series_json() const;
  const std::map<int, AnimalRecord>& animals() const { return animals_; }
  std::size_t bytes() const;

 private:
  int heat_cols_, heat_rows_, max_thumbs_;
  double thumb_interval_s_;
  cv::Size frame_size_;
  std::vector<double> heat_;
  TimelineGrid timeline_;
  std::map<int, AnimalRecord> animals_;
  std::map<int, int> pending_slot_;
  // memory series, decimated by 2 whenever it reaches kMaxPoints
  std::vector<double> mf_, mt_, mrss_, mcache_;
  int64_t mem_every_ = 1, mem_calls_ = 0;
};

}  // namespace eh::pipeline
