// Writes a simulated clip to disk (what `edgeherd simulate` produces), see docs/simulator.md:
//   video.mp4 (or video.avi)  gt/gt.txt  gt/labels.csv  gt/masks.jsonl  gt/frames.csv
//   output.json (Edinburgh)   seqinfo.ini   layout.json   contact_sheet.png
#pragma once
#include <functional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/edinburgh.h"
#include "data/mot_io.h"
#include "data/simulator.h"

namespace eh::data {

struct SimulateOptions {
  SimConfig sim;
  double minutes = 2.0;
  std::string out_dir;
  bool write_video = true;
  bool write_masks = true;       // gt/masks.jsonl (needs sim.masks)
  bool write_edinburgh = true;   // output.json, every third frame, entries on change
  bool write_contact_sheet = true;
  int edinburgh_stride = 3;
  double edinburgh_bbox_tolerance = 0;  // pixels; 0 = a new entry whenever the box moves
};

struct SimulateResult {
  int frames = 0;
  std::string video_path;  // empty when no video was written
  std::string gt_path;
  std::string gt_fnv1a;    // FNV-1a 64 of gt/gt.txt, hex
  double seconds = 0;
  std::vector<std::string> notes;  // things the caller should tell the user (e.g. codec fallback)
};

// Called after each frame with (frames done, frames total); return false to cancel (the run
// then throws eh::Error("cancelled")).
using ProgressFn = std::function<bool(int, int)>;
// Called after each frame with the simulator (e.g. to collect statistics).
using FrameFn = std::function<void(const PenSimulator&)>;

SimulateResult run_simulation(const SimulateOptions& opt, const ProgressFn& progress = {}, const FrameFn& on_frame = {});

// ---- pieces, also used by other modules -----------------------------------------------------
// MOT ground-truth rows of one frame (frame_index is 0-based; MOT frames are 1-based), class 1.
std::vector<MotRecord> to_mot_records(const std::vector<GtObject>& gt, int frame_index);
// Edinburgh labels of one frame (ids as decimal strings, boxes = GtObject::box).
std::vector<EdinburghLabel> to_edinburgh_labels(const std::vector<GtObject>& gt);
// gt/labels.csv
std::string labels_csv_header();
std::string labels_csv_row(int frame_index, const GtObject& g);
// A copy of `frame` scaled by `scale` with visible-mask outlines, boxes and "id behaviour vis"
// tags, and a caption strip.
cv::Mat draw_gt_overlay(const cv::Mat& frame, const std::vector<GtObject>& gt, double scale, const std::string& caption);
// Tiles (all the same size) in a grid with `columns` columns.
cv::Mat make_contact_sheet(const std::vector<cv::Mat>& tiles, int columns);
// A distinct, stable colour per id.
cv::Scalar id_colour(int id);

}  // namespace eh::data
