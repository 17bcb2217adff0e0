// The Edinburgh Pig Behavior Video Dataset annotation file, output.json (vatic.js-style):
//   {"videoFileName": "color.mp4", "stepSize": ..., "objects": [
//      {"id": "179", "frames": [
//         {"frameNumber": 292, "bbox": {"x":593,"y":166,"width":220,"height":94},
//          "isGroundTruth": true, "visible": true, "behaviour": "drink"}, ...]}, ...]}
// Every third video frame is annotated: frameNumber k is raw video frame 3k (frame_stride).
// An object's entries are written only when something changes; an entry holds until the next
// entry of that object (carry-forward), and "visible": false ends the object's presence until
// its next visible entry. Behaviour strings map to the 9 classes (docs/formats.md).
#pragma once
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/behaviour.h"

namespace eh::data {

struct EdinburghBox {
  double x = 0, y = 0, width = 0, height = 0;
  bool operator==(const EdinburghBox& o) const {
    return x == o.x && y == o.y && width == o.width && height == o.height;
  }
};

struct EdinburghEntry {
  int frame_number = 0;  // annotated-frame index (raw video frame = frame_number * stride)
  EdinburghBox bbox;
  bool visible = true;
  bool is_ground_truth = true;
  std::string behaviour_raw;             // as written in the file ("" when absent)
  Behaviour behaviour = Behaviour::Unknown;
};

struct EdinburghObject {
  std::string id;
  std::vector<EdinburghEntry> entries;  // sorted by frame_number (stable: later entries win)
};

struct EdinburghAnnotation {
  std::string source;       // path (for messages)
  std::string video_file;   // "videoFileName", may be empty
  double step_size = 0;     // "stepSize" (informational)
  std::vector<EdinburghObject> objects;
  int max_frame_number() const;  // -1 when there are no entries
};

// One object's state at one annotated frame.
struct EdinburghLabel {
  std::string id;
  EdinburghBox bbox;
  Behaviour behaviour = Behaviour::Unknown;
  std::string behaviour_raw;
  bool operator==(const EdinburghLabel& o) const {
    return id == o.id && bbox == o.bbox && behaviour == o.behaviour;
  }
};

// ---- behaviour strings ---------------------------------------------------------------------
// The 17 behaviour strings read from output.json and their class (matching is case-insensitive,
// with '-' and ' ' read as '_'). Throws eh::Error (naming the string and the accepted ones).
const std::vector<std::pair<std::string, Behaviour>>& edinburgh_behaviour_table();
bool edinburgh_try_behaviour(std::string_view raw, Behaviour* out);
Behaviour edinburgh_behaviour(std::string_view raw);
// The string the writer uses for each class ("eat", "drink", "lying", ...).
const char* edinburgh_name(Behaviour b);

// ---- reading --------------------------------------------------------------------------------
EdinburghAnnotation parse_edinburgh_json(const std::string& text, const std::string& source);
EdinburghAnnotation read_edinburgh_json(const std::string& path);

// Per annotated frame k in [0, num_frames): every object present at k, by carry-forward,
// ordered by object order in the file. num_frames < 0 means max_frame_number() + 1.
std::vector<std::vector<EdinburghLabel>> expand_edinburgh(const EdinburghAnnotation& a, int num_frames = -1);

// ---- writing --------------------------------------------------------------------------------
// Feed every annotated frame in order with the full list of objects in view; the writer keeps
// an entry only when an object's behaviour, presence or box (beyond bbox_tolerance pixels on
// any edge) changed since its last written entry.
class EdinburghWriter {
 public:
  explicit EdinburghWriter(std::string video_file = "color.mp4", double step_size = 0.5,
                           double bbox_tolerance = 0.0);
  void add_frame(int frame_number, const std::vector<EdinburghLabel>& labels);
  std::string to_json_text() const;  // pretty-printed, 2-space indent
  void save(const std::string& path) const;
  size_t num_entries() const;

 private:
  struct Track {
    std::string id;
    std::vector<EdinburghEntry> entries;
    bool present = false;
    EdinburghEntry last;
  };
  std::string video_file_;
  double step_size_;
  double tol_;
  int last_frame_ = -1;
  std::vector<Track> tracks_;
  std::map<std::string, size_t> index_;
};

// ---- a sequence on disk --------------------------------------------------------------------
// A directory with output.json and its frames: the video named by "videoFileName" (else
// color.mp4, else the only *.mp4/*.avi), or images whose file name stem is the raw frame
// number (e.g. 000123.jpg, 123.png) in the directory or its frames/ or images/ sub-directory.
// open() checks that every annotated frame exists and throws eh::Error naming the first missing
// one.
class EdinburghSequence {
 public:
  static EdinburghSequence open(const std::string& dir, int frame_stride = 3);

  const EdinburghAnnotation& annotation() const { return ann_; }
  int num_annotated_frames() const { return static_cast<int>(labels_.size()); }
  int frame_stride() const { return stride_; }
  // Labels of annotated frame k (raw frame k * stride).
  const std::vector<EdinburghLabel>& labels(int k) const;
  // Labels that hold at raw frame f: those of annotated frame f / stride (carry-forward).
  const std::vector<EdinburghLabel>& labels_at_raw_frame(int f) const;
  // Image of annotated frame k (BGR). Throws eh::Error if it cannot be read.
  cv::Mat read_annotated_frame(int k);
  bool from_video() const { return !video_path_.empty(); }

 private:
  EdinburghAnnotation ann_;
  std::vector<std::vector<EdinburghLabel>> labels_;
  int stride_ = 3;
  std::string video_path_;
  std::map<int, std::string> images_;  // raw frame -> path
  cv::VideoCapture cap_;
  int next_raw_ = -1;
};

}  // namespace eh::data
