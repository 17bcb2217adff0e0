// Recorded per-frame instances ("instances JSONL"): the tracker's input, from any segmenter, as
// one JSON object per line (docs/tracking.md):
//
//   {"frame": 1, "t": 0.0, "size": [720, 1280],
//    "instances": [{"box": [x, y, w, h], "score": 0.97, "mask": "<COCO RLE string>",
//                   "embedding": [..], "id": 3}, ...]}
//
// `frame` is 1-based (as in MOTChallenge); `t` in seconds; `size` [height, width] is needed
// only when masks are present; "mask", "embedding" and "id" are optional per file (all
// instances of a file have a mask or none do; same for embeddings). "id" is an identity known
// to the writer (simulator ground truth, or the tracker's id when written after tracking); the
// tracker never reads it.
#pragma once
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "track/detections.h"

namespace eh::track {

struct InstanceFrame {
  int64_t frame = 0;  // 1-based
  double t = 0;
  cv::Size size;      // image size (0 x 0 when unknown)
  Detections dets;    // masks as `rles`
  std::vector<int> ids;  // per instance; empty when the file has no ids
};

// Throws eh::Error naming the file and line on malformed input.
std::vector<InstanceFrame> read_instances(const std::string& path);
InstanceFrame parse_instance_line(const std::string& line, const std::string& where);
std::string format_instance_line(const InstanceFrame& f);

// Streams frames to a file, one line each (no buffering beyond the stream's).
class InstanceWriter {
 public:
  explicit InstanceWriter(const std::string& path);  // throws eh::Error if it cannot open
  void write(const InstanceFrame& f);
  void close();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace eh::track
