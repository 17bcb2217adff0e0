#include "video/source.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>

#include "core/error.h"

namespace eh::video {

namespace fs = std::filesystem;

std::size_t Frame::bytes() const {
  std::size_t b = image.empty() ? 0 : image.total() * image.elemSize();
  if (truth)
    for (const auto& g : *truth) b += sizeof(g) + g.mask.counts.capacity() * sizeof(uint32_t);
  return b;
}

namespace {

// ---- video file -----------------------------------------------------------------------------
class VideoFileSource : public FrameSource {
 public:
  VideoFileSource(const std::string& path, const SourceOptions& opt) : path_(path), opt_(opt) {
    if (!fs::exists(path)) throw eh::Error(fmt::format("{}: no such file", path));
    if (!cap_.open(path, cv::CAP_ANY) || !cap_.isOpened())
      throw eh::Error(fmt::format("{}: cannot open as a video (OpenCV {})", path, cv::getVersionString()));
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = opt.fps > 0 ? opt.fps : 25.0;
    const double n = cap_.get(cv::CAP_PROP_FRAME_COUNT);
    expected_ = n > 0 ? static_cast<int64_t>(n) : -1;
  }

  ReadResult read() override {
    ReadResult r;
    if (done_) return r;
    if (!cap_.grab()) {
      // FFmpeg skips undecodable packets inside grab(); a failing grab means the demuxer hit
      // the end or could not go on. Before the known end, try a few more times.
      ++failures_;
      const bool before_end = expected_ > 0 && next_index_ < expected_;
      if (before_end && failures_ <= opt_.max_consecutive_failures) {
        r.status = ReadStatus::Skipped;
        r.message = fmt::format("{}: frame {} could not be read", path_, next_index_);
        ++next_index_;
        return r;
      }
      done_ = true;
      if (before_end)
        r.message = fmt::format("{}: stopped at frame {} of {} after {} unreadable frames", path_, next_index_,
                                expected_, failures_);
      return r;
    }
    failures_ = 0;
    cv::Mat img;
    const bool ok = cap_.retrieve(img);
    const double ms = cap_.get(cv::CAP_PROP_POS_MSEC);
    // Index from the timestamp when the container has one (so gaps show), else a counter.
    int64_t index = next_index_;
    double t = static_cast<double>(next_index_) / fps_;
    if (ms > 0 || (ms == 0 && next_index_ == 0)) {
      t = ms / 1000.0;
      index = std::max<int64_t>(next_index_, std::llround(t * fps_));
    }
    if (index > next_index_) r.dropped = index - next_index_;
    next_index_ = index + 1;
    if (!ok || img.empty()) {
      r.status = ReadStatus::Skipped;
      r.message = fmt::format("{}: frame {} could not be decoded", path_, index);
      return r;
    }
    r.status = ReadStatus::Ok;
    r.frame.index = index;
    r.frame.t = t;
    r.frame.image = img;
    if (r.dropped > 0)
      r.message = fmt::format("{}: {} frame(s) missing before frame {} (corrupt or dropped)", path_, r.dropped, index);
    return r;
  }

  double fps() const override { return fps_; }
  std::string describe() const override {
    return fmt::format("video file {} ({} frames, {:.3g} fps)", path_, expected_, fps_);
  }

 private:
  std::string path_;
  SourceOptions opt_;
  cv::VideoCapture cap_;
  double fps_ = 25;
  int64_t expected_ = -1;
  int64_t next_index_ = 0;
  int failures_ = 0;
  bool done_ = false;
};

// ---- image folder ---------------------------------------------------------------------------
bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* kExt[] = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
  for (const char* k : kExt)
    if (e == k) return true;
  return false;
}

class ImageFolderSource : public FrameSource {
 public:
  ImageFolderSource(const std::string& dir, const SourceOptions& opt) : dir_(dir) {
    if (!fs::is_directory(dir)) throw eh::Error(fmt::format("{}: not a directory", dir));
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && is_image(e.path())) files_.push_back(e.path().string());
    std::sort(files_.begin(), files_.end());
    if (files_.empty()) throw eh::Error(fmt::format("{}: no image files", dir));
    fps_ = opt.fps > 0 ? opt.fps : 6.0;
  }

  ReadResult read() override {
    ReadResult r;
    if (next_ >= files_.size()) return r;
    const std::size_t i = next_++;
    cv::Mat img;
    try {
      img = cv::imread(files_[i], cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
      img.release();
    }
    if (img.empty()) {
      r.status = ReadStatus::Skipped;
      r.message = fmt::format("{}: cannot decode image (frame {})", files_[i], i);
      return r;
    }
    r.status = ReadStatus::Ok;
    r.frame.index = static_cast<int64_t>(i);
    r.frame.t = static_cast<double>(i) / fps_;
    r.frame.image = img;
    return r;
  }

  double fps() const override { return fps_; }
  std::string describe() const override {
    return fmt::format("image folder {} ({} images, {:.3g} fps)", dir_, files_.size(), fps_);
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  std::size_t next_ = 0;
  double fps_ = 6;
};

// ---- camera / network stream -----------------------------------------------------------------
class StreamSource : public FrameSource {
 public:
  StreamSource(const std::string& spec, const SourceOptions& opt) : spec_(spec), opt_(opt) {
    start_ = std::chrono::steady_clock::now();
    if (!open()) throw eh::Error(fmt::format("{}: cannot open stream", spec));
  }

  ReadResult read() override {
    ReadResult r;
    cv::Mat img;
    bool ok = false;
    try {
      ok = cap_.isOpened() && cap_.read(img);
    } catch (const cv::Exception& e) {
      ok = false;
    }
    if (!ok || img.empty()) {
      r.status = ReadStatus::Failed;
      r.message = fmt::format("{}: no frame (stream closed or read timed out)", spec_);
      return r;
    }
    r.status = ReadStatus::Ok;
    r.frame.index = next_index_++;
    r.frame.t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    r.frame.image = img;
    return r;
  }

  bool reconnect() override {
    cap_.release();
    return open();
  }
  bool live() const override { return true; }
  double fps() const override { return fps_; }
  std::string describe() const override { return fmt::format("stream {}", spec_); }

 private:
  bool open() {
    try {
      char* end = nullptr;
      const long cam = std::strtol(spec_.c_str(), &end, 10);
      if (!spec_.empty() && end && *end == '\0') {
        cap_.open(static_cast<int>(cam), cv::CAP_ANY);
      } else {
        const std::vector<int> params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, opt_.open_timeout_ms,
                                         cv::CAP_PROP_READ_TIMEOUT_MSEC, opt_.read_timeout_ms};
        cap_.open(spec_, cv::CAP_ANY, params);
      }
    } catch (const cv::Exception& e) {
      return false;
    }
    if (!cap_.isOpened()) return false;
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    return true;
  }

  std::string spec_;
  SourceOptions opt_;
  cv::VideoCapture cap_;
  std::chrono::steady_clock::time_point start_;
  int64_t next_index_ = 0;
  double fps_ = 0;
};

// ---- simulator ------------------------------------------------------------------------------
class SimulatorSource : public FrameSource {
 public:
  explicit SimulatorSource(const SimSourceOptions& opt) : opt_(opt), sim_(opt.sim) {}

  ReadResult read() override {
    ReadResult r;
    if (produced_ >= opt_.frames) return r;
    sim_.step();
    ++produced_;
    r.status = ReadStatus::Ok;
    r.frame.index = sim_.frame_index();
    r.frame.t = sim_.time_s();
    if (opt_.sim.render) r.frame.image = sim_.frame().clone();
    r.frame.truth = std::make_shared<const std::vector<eh::data::GtObject>>(sim_.ground_truth());
    return r;
  }
  double fps() const override { return opt_.sim.fps; }
  std::string describe() const override {
    return fmt::format("simulated pen (seed {}, {} pigs, {}x{}, {:.3g} fps, {} frames, render {})", opt_.sim.seed,
                       opt_.sim.num_pigs, opt_.sim.size.width, opt_.sim.size.height, opt_.sim.fps, opt_.frames,
                       opt_.sim.render ? "on" : "off");
  }

 private:
  SimSourceOptions opt_;
  eh::data::PenSimulator sim_;
  int64_t produced_ = 0;
};

}  // namespace

std::unique_ptr<FrameSource> open_video_file(const std::string& path, const SourceOptions& opt) {
  return std::make_unique<VideoFileSource>(path, opt);
}
std::unique_ptr<FrameSource> open_image_folder(const std::string& dir, const SourceOptions& opt) {
  return std::make_unique<ImageFolderSource>(dir, opt);
}
std::unique_ptr<FrameSource> open_stream(const std::string& spec, const SourceOptions& opt) {
  return std::make_unique<StreamSource>(spec, opt);
}
std::unique_ptr<FrameSource> open_simulator(const SimSourceOptions& opt) {
  return std::make_unique<SimulatorSource>(opt);
}

SimSourceOptions parse_sim_spec(const std::string& spec) {
  SimSourceOptions o;
  o.sim.render = false;  // ground-truth tracking needs no pixels; render=1 to get frames
  if (spec == "sim") return o;
  if (spec.rfind("sim:", 0) != 0) throw eh::UsageError(fmt::format("'{}': a simulator spec starts with 'sim'", spec));
  std::stringstream ss(spec.substr(4));
  std::string kv;
  while (std::getline(ss, kv, ',')) {
    if (kv.empty()) continue;
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw eh::UsageError(fmt::format("'{}': expected key=value, got '{}'", spec, kv));
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    double x = 0;
    try {
      std::size_t used = 0;
      x = std::stod(v, &used);
      if (used != v.size()) throw std::invalid_argument(v);
    } catch (const std::exception&) {
      throw eh::UsageError(fmt::format("'{}': value of '{}' is not a number: '{}'", spec, k, v));
    }
    auto integer = [&]() {
      if (x != std::floor(x) || x < 0) throw eh::UsageError(fmt::format("'{}': '{}' must be a non-negative integer", spec, k));
      return static_cast<int64_t>(x);
    };
    if (k == "seed") o.sim.seed = static_cast<uint64_t>(integer());
    else if (k == "appearance_seed") o.sim.appearance_seed = static_cast<uint64_t>(integer());
    else if (k == "pigs") o.sim.num_pigs = static_cast<int>(integer());
    else if (k == "frames") o.frames = integer();
    else if (k == "fps") o.sim.fps = x;
    else if (k == "width") o.sim.size.width = static_cast<int>(integer());
    else if (k == "height") o.sim.size.height = static_cast<int>(integer());
    else if (k == "render") o.sim.render = integer() != 0;
    else if (k == "masks") o.sim.masks = integer() != 0;
    else if (k == "hard_cases") o.sim.hard_cases = integer() != 0;
    else if (k == "activity") o.sim.activity = x;
    else if (k == "start_hour") o.sim.start_hour = x;
    else
      throw eh::UsageError(fmt::format("'{}': unknown simulator key '{}' (seed, appearance_seed, pigs, frames, fps, "
                                       "width, height, render, masks, hard_cases, activity, start_hour)",
                                       spec, k));
  }
  return o;
}

std::unique_ptr<FrameSource> open_source(const std::string& spec, const SourceOptions& opt) {
  if (spec == "sim" || spec.rfind("sim:", 0) == 0) return open_simulator(parse_sim_spec(spec));
  if (spec.find("://") != std::string::npos) return open_stream(spec, opt);
  if (!spec.empty() && std::all_of(spec.begin(), spec.end(), [](unsigned char c) { return std::isdigit(c); }))
    return open_stream(spec, opt);
  if (fs::is_directory(spec)) return open_image_folder(spec, opt);
  return open_video_file(spec, opt);
}

}  // namespace eh::video
