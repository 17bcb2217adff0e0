// Track data for the evaluation module: per frame, a list of (id, box, confidence).
//
// The MOTChallenge reader here is deliberately self-contained and strict (the data module has
// its own, more forgiving reader for training data): every malformed line is an eh::Error that
// names the file, the line and the column.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "eval/numeric.h"

namespace eh::eval {

struct Detection {
  std::int64_t id = 0;
  Box box;
  double conf = 1.0;
  int line = 0;  // source line (1-based) when read from a file, 0 otherwise
};

// One tracker output or one ground truth: frame id -> detections of that frame, in file order.
// A frame may be present with no detections (it then counts as a processed, empty frame).
struct TrackSet {
  std::string source;  // file name or a description, used in messages
  std::map<std::int64_t, std::vector<Detection>> frames;

  void add(std::int64_t frame, std::int64_t id, Box box, double conf = 1.0) {
    frames[frame].push_back(Detection{id, box, conf, 0});
  }
  std::size_t num_detections() const;
  std::size_t num_ids() const;  // distinct ids over all frames
};

// Reads MOTChallenge text: one detection per line, `frame,id,x,y,w,h[,conf[,...]]`.
//  - fields are separated by commas (or, if a line has no comma, by blanks/tabs); blanks around
//    fields and trailing empty fields (a trailing comma) are ignored; empty lines and lines
//    starting with '#' are skipped; CRLF line ends are accepted;
//  - frame and id must be integers (a numeric form such as "3.0" is accepted), frame >= 0;
//  - x, y, w, h, conf and every further column must be finite numbers; w and h must be >= 0;
//  - conf defaults to 1 when the line has only 6 columns;
//  - an id may appear at most once per frame.
// Anything else throws eh::Error("FILE:LINE: column N (NAME): ...").
TrackSet read_mot(std::istream& in, const std::string& source);
TrackSet load_mot(const std::string& path);

// Checks a TrackSet built in code against the rules above (duplicate id in a frame, negative or
// non-finite box); throws eh::Error naming the source, frame and id.
void validate(const TrackSet& tracks);

// Keeps only detections with conf >= min_conf (frames left empty are dropped, as when the file
// had not contained them). Used for MOTChallenge ground truth, whose column 7 is 0 for
// "ignore this box" (py-motmetrics' evaluation app reads GT with min_confidence=1).
TrackSet filter_confidence(const TrackSet& tracks, double min_conf);

// Synthetic sequence for tests and benchmarks: `num_objects` boxes moving on smooth paths over
// `num_frames` frames (ids 1..num_objects, frames 1..num_frames, non-overlapping lanes).
struct SyntheticSpec {
  int num_frames = 3000;
  int num_objects = 30;
  std::uint32_t seed = 7;
};
TrackSet make_synthetic_sequence(const SyntheticSpec& spec);

// A tracker output derived from a ground truth: each box jittered by up to `jitter` pixels, a
// fraction `drop` of detections removed, `false_positives` random boxes per frame added, and ids
// permuted every `id_switch_every` frames for a fraction of objects (0 = never). Deterministic.
struct PerturbSpec {
  double jitter = 2.0;
  double drop = 0.02;
  int false_positives = 1;
  int id_switch_every = 500;
  std::uint32_t seed = 11;
};
TrackSet perturb(const TrackSet& gt, const PerturbSpec& spec);

}  // namespace eh::eval
