// Frame sources: video files, image folders, cameras / network streams (OpenCV), and the
// in-process pen simulator. A source decodes one frame per read() call (lazily: nothing is
// preloaded); ThreadedReader (video/reader.h) runs it on a reader thread.
//
//   auto src = eh::video::open_source("pen.mp4");          // or "frames/", "0", "rtsp://..",
//   auto src = eh::video::open_source("sim:seed=7,frames=3600,render=0");
#pragma once
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/simulator.h"

namespace eh::video {

struct Frame {
  int64_t index = 0;  // 0-based position in the source (skipped frames keep their number)
  double t = 0;       // seconds since the start of the source (container timestamp, index/fps,
                      // or wall clock for live streams)
  cv::Mat image;      // BGR; empty for sources without pixels (simulator with render=0)
  // Simulator ground truth for this frame (pigs with any part in view); null otherwise.
  std::shared_ptr<const std::vector<eh::data::GtObject>> truth;

  std::size_t bytes() const;
};

enum class ReadStatus {
  Ok,       // `frame` holds the next frame
  Skipped,  // a frame could not be decoded (corrupt, unreadable file); `message` says which
  End,      // no more frames
  Failed,   // the connection dropped (live sources); reconnect() may bring it back
};

struct ReadResult {
  ReadStatus status = ReadStatus::End;
  Frame frame;
  std::string message;
  int64_t dropped = 0;  // frames known to be missing before this one (timestamp gaps)
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual ReadResult read() = 0;
  // Live sources: closes and reopens the stream; true when it is open again.
  virtual bool reconnect() { return false; }
  virtual bool live() const { return false; }
  virtual double fps() const { return 0; }
  virtual std::string describe() const = 0;
};

struct SourceOptions {
  double fps = 0;              // image folders (default 6) and a fallback for files without one
  int open_timeout_ms = 10000; // network streams
  int read_timeout_ms = 10000; // network streams: a read blocked this long fails
  int max_consecutive_failures = 50;  // files: give up after this many undecodable frames in a row
};

// Video file (anything OpenCV's FFmpeg backend reads). Timestamps from the container; a gap in
// timestamps is reported as dropped frames; a frame that fails to decode is Skipped.
std::unique_ptr<FrameSource> open_video_file(const std::string& path, const SourceOptions& opt = {});
// Image folder: the files with image extensions (png, jpg, jpeg, bmp, tif, tiff, webp, ppm,
// pgm), sorted by name, read one per call; an unreadable image is Skipped. t = index / fps.
std::unique_ptr<FrameSource> open_image_folder(const std::string& dir, const SourceOptions& opt = {});
// Camera index ("0") or stream URL (rtsp://, http://, ...): live, reconnectable, wall-clock t.
std::unique_ptr<FrameSource> open_stream(const std::string& spec, const SourceOptions& opt = {});

struct SimSourceOptions {
  eh::data::SimConfig sim;
  int64_t frames = 3600;  // then End
};
std::unique_ptr<FrameSource> open_simulator(const SimSourceOptions& opt);
// "sim" or "sim:key=value,...", keys: seed, appearance_seed, pigs, frames, fps, width, height,
// render (0/1), masks (0/1), hard_cases (0/1), activity, start_hour. Throws eh::UsageError on an
// unknown key or a bad value.
SimSourceOptions parse_sim_spec(const std::string& spec);

// Picks by the spec: "sim[:...]", a directory, an integer (camera), a URL with "://", else a
// video file. Throws eh::Error when a file or folder cannot be opened.
std::unique_ptr<FrameSource> open_source(const std::string& spec, const SourceOptions& opt = {});

}  // namespace eh::video
