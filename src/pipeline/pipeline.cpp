#include "pipeline/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <time.h>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <optional>
#include <thread>

#include "animal/embedding_segmenter.h"
#include "core/error.h"
#include "data/behaviour.h"
#include "data/simulator.h"
#include "pipeline/annotate.h"
#include "pipeline/summary.h"
#include "report/run_report.h"
#include "report/svg_plot.h"
#include "store/recorder.h"
#include "store/store.h"
#include "track/instances_io.h"
#include "video/memory.h"

namespace eh::pipeline {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// CPU time of the calling thread (not of worker threads a model may start), milliseconds.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

bool is_sim(const std::string& s) { return s == "sim" || s.rfind("sim:", 0) == 0; }

// Times every read() of the wrapped source (it runs on the reader thread).
struct DecodeClock {
  std::mutex mu;
  double ms = 0;
  int64_t reads = 0;
};

class TimedSource : public eh::video::FrameSource {
 public:
  TimedSource(std::unique_ptr<eh::video::FrameSource> inner, std::shared_ptr<DecodeClock> clock)
      : inner_(std::move(inner)), clock_(std::move(clock)) {}
  eh::video::ReadResult read() override {
    const auto t0 = Clock::now();
    eh::video::ReadResult r = inner_->read();
    const double ms = ms_since(t0);
    std::lock_guard<std::mutex> lk(clock_->mu);
    clock_->ms += ms;
    ++clock_->reads;
    return r;
  }
  bool reconnect() override { return inner_->reconnect(); }
  bool live() const override { return inner_->live(); }
  double fps() const override { return inner_->fps(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<eh::video::FrameSource> inner_;
  std::shared_ptr<DecodeClock> clock_;
};

int64_t count_images(const std::string& dir) {
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
  int64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string x = e.path().extension().string();
    std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* k : exts)
      if (x == k) {
        ++n;
        break;
      }
  }
  return n;
}

std::string iso_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

float box_iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

struct GtBox {
  int id = 0;
  cv::Rect2f box;
  int label = -1;  // behaviour class, -1 when unknown
};

// Greedy one-to-one matching by IoU (>= 0.5), best pairs first: (prediction index, gt index).
std::vector<std::pair<std::size_t, std::size_t>> match_boxes(const std::vector<cv::Rect2f>& pred,
                                                              const std::vector<GtBox>& gt) {
  std::vector<std::tuple<float, std::size_t, std::size_t>> c;
  for (std::size_t i = 0; i < pred.size(); ++i)
    for (std::size_t j = 0; j < gt.size(); ++j) {
      const float v = box_iou(pred[i], gt[j].box);
      if (v >= 0.5f) c.emplace_back(v, i, j);
    }
  std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::vector<bool> up(pred.size()), ug(gt.size());
  std::vector<std::pair<std::size_t, std::size_t>> m;
  for (const auto& [v, i, j] : c)
    if (!up[i] && !ug[j]) {
      up[i] = ug[j] = true;
      m.emplace_back(i, j);
    }
  return m;
}

bool usable_embedding(const std::vector<float>& e) {
  if (e.empty()) return false;
  double n = 0;
  for (float x : e) {
    if (!std::isfinite(x)) return false;
    n += static_cast<double>(x) * x;
  }
  return n > 1e-12;
}

std::vector<uint8_t> thumbnail_jpeg(const cv::Mat& image, const cv::Rect2f& box, int* w, int* h) {
  const float pad = 0.1f * std::max(box.width, box.height);
  cv::Rect r(cv::Point(static_cast<int>(box.x - pad), static_cast<int>(box.y - pad)),
             cv::Point(static_cast<int>(box.x + box.width + pad), static_cast<int>(box.y + box.height + pad)));
  r &= cv::Rect(0, 0, image.cols, image.rows);
  if (r.width < 4 || r.height < 4) return {};
  cv::Mat crop = image(r);
  const double s = 128.0 / std::max(r.width, r.height);
  cv::Mat small;
  if (s < 1) cv::resize(crop, small, cv::Size(), s, s, cv::INTER_AREA);
  else small = crop;
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", small, jpeg, {cv::IMWRITE_JPEG_QUALITY, 80});
  *w = small.cols;
  *h = small.rows;
  return jpeg;
}

class FileOut {
 public:
  FileOut(const fs::path& p) : path_(p.string()), f_(p) {
    if (!f_) throw eh::Error(fmt::format("{}: cannot open for writing", path_));
  }
  std::ofstream& operator*() { return f_; }
  void check() {
    if (!f_) throw eh::Error(fmt::format("{}: write failed", path_));
  }
  void close() {
    if (f_.is_open()) {
      f_.close();
      if (f_.fail()) throw eh::Error(fmt::format("{}: write failed", path_));
    }
  }

 private:
  std::string path_;
  std::ofstream f_;
};

}  // namespace

RunResult run_pipeline(const RunOptions& opt, const ModelSet& models) {
  models.validate();
  if (opt.source.empty()) throw eh::UsageError("run: SOURCE is required");
  if (opt.out_dir.empty()) throw eh::UsageError("run: --out is required");
  if (opt.window < 1) throw eh::UsageError(fmt::format("--window must be >= 1, got {}", opt.window));
  if (!(opt.video_scale >= 0 && opt.video_scale <= 4))
    throw eh::UsageError(fmt::format("--video-scale must be in [0, 4] (0: auto), got {}", opt.video_scale));
  const bool sim = !opt.open_source && is_sim(opt.source);
  if (models.needs_simulator && !sim)
    throw eh::UsageError(fmt::format("--model {} reads the simulator's ground truth: it needs a sim: source, got '{}'",
                                     models.name, opt.source));

  // ---- the source (opened first: a missing file fails before any output is touched) ----------
  std::unique_ptr<eh::video::FrameSource> src;
  int64_t total = -1;
  double ppm = opt.pixels_per_metre > 0 ? opt.pixels_per_metre : models.pixels_per_metre;
  cv::Size frame_size;
  int default_animals = 0;
  double start_time = opt.start_time;
  std::string source_kind;
  if (opt.open_source) {
    src = opt.open_source();
    if (!src) throw eh::Error(fmt::format("{}: the source could not be opened", opt.source));
    source_kind = src->live() ? "stream" : "custom";
    if (!std::isfinite(start_time))
      start_time = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  } else if (sim) {
    source_kind = "simulator";
    eh::video::SimSourceOptions so = eh::video::parse_sim_spec(opt.source);
    // parse_sim_spec leaves rendering off (tracking-only runs); the pipeline needs pixels unless
    // the spec asks otherwise.
    if (opt.source.find("render=") == std::string::npos) so.sim.render = true;
    total = so.frames;
    frame_size = so.sim.size;
    default_animals = so.sim.num_pigs;
    if (!(ppm > 0)) ppm = eh::data::make_pen_layout(so.sim.size).pixels_per_metre;
    // A fixed, reproducible clock for the store: 2026-01-01 00:00 UTC plus the simulator's hour.
    if (!std::isfinite(start_time)) start_time = 1767225600.0 + std::round(so.sim.start_hour * 3600.0);
    src = eh::video::open_simulator(so);
  } else {
    src = eh::video::open_source(opt.source, opt.source_options);
    if (src->live()) {
      source_kind = "stream";
    } else if (fs::is_directory(opt.source)) {
      source_kind = "image folder";
      total = count_images(opt.source);
    } else {
      source_kind = "video file";
      cv::VideoCapture probe(opt.source);
      const double n = probe.isOpened() ? probe.get(cv::CAP_PROP_FRAME_COUNT) : 0;
      if (n > 0) total = static_cast<int64_t>(n);
    }
    if (!std::isfinite(start_time))
      start_time = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  }
  const bool scale_known = ppm > 0;
  if (!scale_known) ppm = 1;  // positions in pixels
  if (opt.max_frames >= 0 && (total < 0 || total > opt.max_frames)) total = opt.max_frames;
  double fps = src->fps();
  if (!(fps > 0)) fps = 6.0;
  const double dt = 1.0 / fps;
  const std::string source_desc = src->describe();

  // ---- outputs -----------------------------------------------------------------------------------
  const fs::path out(opt.out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (!fs::is_directory(out)) throw eh::Error(fmt::format("{}: cannot create the output directory", opt.out_dir));
  for (const char* f : {OutputFiles::video, OutputFiles::video_fallback}) fs::remove(out / f, ec);
  const std::string store_path = opt.store_path.empty() ? (out / OutputFiles::store).string() : opt.store_path;
  if (opt.store_path.empty())
    for (const std::string suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(store_path + suffix, ec);

  eh::video::MotTrackWriter mot((out / OutputFiles::tracks).string());
  eh::track::InstanceWriter masks((out / OutputFiles::masks).string());
  FileOut beh(out / OutputFiles::behaviours);
  *beh << "frame,id,label,confidence\n";
  FileOut memcsv(out / OutputFiles::memory);
  *memcsv << "frame,t,name,items,bytes\n";
  std::optional<eh::store::Store> store;
  store.emplace(store_path);
  eh::store::RecorderOptions ro;
  ro.frame_interval_s = dt;
  std::optional<eh::store::Recorder> recorder;
  recorder.emplace(*store, ro);
  store->set_meta("source", opt.source);
  store->set_meta("model", models.name + (models.variant.empty() ? "" : "/" + models.variant));

  // ---- ground truth -------------------------------------------------------------------------------
  const bool gt_file = opt.evaluate && !opt.gt_path.empty();
  const bool gt_sim = opt.evaluate && !gt_file && sim;
  eh::eval::TrackSet gt, pred;
  std::optional<eh::eval::LabelSet> file_labels;
  if (gt_file) {
    gt = eh::eval::filter_confidence(eh::eval::load_mot(opt.gt_path), 1.0);
    if (!opt.gt_labels_path.empty())
      file_labels = eh::eval::load_labels(opt.gt_labels_path, eh::eval::edinburgh_pig_classes());
  } else if (!opt.gt_labels_path.empty()) {
    throw eh::UsageError("--gt-labels needs --gt (the labels use the ground truth's ids)");
  }
  gt.source = gt_file ? opt.gt_path : opt.source + " (simulator ground truth)";
  pred.source = (out / OutputFiles::tracks).string();
  std::map<int64_t, std::vector<GtBox>> gt_pending;  // sim: frame -> boxes, until the frame is emitted
  eh::eval::LabelSet beh_gt, beh_pred;
  int64_t beh_candidates = 0, beh_matched = 0;
  const bool beh_eval = models.behaviour != nullptr && (gt_sim || (gt_file && file_labels));

  // ---- state ---------------------------------------------------------------------------------------
  RunSummary summary(48, 27, opt.thumbnails_per_animal, opt.thumbnail_interval_s);
  if (frame_size.width > 0) summary.set_frame_size(frame_size);
  std::deque<std::pair<int64_t, cv::Mat>> ring;  // the last W + 2 frames' images
  std::unique_ptr<eh::animal::BehaviourStream> bstream;
  std::vector<std::pair<int64_t, int>> pending_drops;  // (frame, id) retired by the tracker
  std::map<int, int64_t> sightings;                    // per id: emitted rows (embedding cadence)
  cv::VideoWriter writer;
  std::string video_path, video_note;
  bool video_tried = false;
  cv::Size video_size;
  StageTimes ms, cpu;  // wall clock, and CPU time of the pipeline thread
  double sink_ms = 0, sink_cpu = 0;
  std::vector<std::string> warnings;
  int64_t warning_count = 0;
  auto warn = [&](const std::string& m) {
    ++warning_count;
    if (warnings.size() < 100) warnings.push_back(m);
    if (opt.on_warning) opt.on_warning(m);
  };

  eh::video::SessionConfig sc;
  sc.window = opt.window;
  sc.keep_frames = false;  // the pipeline keeps its own ring of images for the outputs
  sc.tracker.max_animals = opt.max_animals >= 0 ? opt.max_animals : default_animals;
  if (sc.tracker.min_hits > sc.window) sc.tracker.min_hits = sc.window;
  sc.validate();

  // Frames whose behaviour labels wait for later frames (the behaviour model's lag_frames).
  struct Lagged {
    eh::video::FrameOutput fo;
    cv::Mat image;
    std::vector<eh::animal::BehaviourPrediction> preds;
  };
  const int lag_frames = models.behaviour ? models.behaviour->lag_frames() : 0;
  std::deque<Lagged> lagged;
  std::function<void(const eh::video::FrameOutput&, cv::Mat, const std::vector<eh::animal::BehaviourPrediction>&)> emit;
  auto emit_oldest = [&] {
    Lagged l = std::move(lagged.front());
    lagged.pop_front();
    if (bstream)
      for (std::size_t k = 0; k < l.fo.objects.size(); ++k)
        if (const auto r = bstream->revised(l.fo.objects[k].id, l.fo.t)) l.preds[k] = *r;
    emit(l.fo, l.image, l.preds);
  };

  auto sink = [&](const eh::video::FrameOutput& fo) {
    const auto s0 = Clock::now();
    const double s0c = thread_cpu_ms();
    cv::Mat image;
    while (!ring.empty() && ring.front().first < fo.frame) ring.pop_front();
    if (!ring.empty() && ring.front().first == fo.frame) {
      image = ring.front().second;
      ring.pop_front();
    }
    // Behaviour.
    auto t0 = Clock::now();
    double t0c = thread_cpu_ms();
    for (auto it = pending_drops.begin(); it != pending_drops.end();) {
      if (it->first <= fo.frame) {
        if (bstream) bstream->drop(it->second);
        it = pending_drops.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<eh::animal::BehaviourPrediction> preds(fo.objects.size());
    if (bstream && !fo.objects.empty()) {
      std::vector<eh::animal::TrackObservation> obs;
      obs.reserve(fo.objects.size());
      for (const auto& o : fo.objects) {
        eh::animal::TrackObservation x;
        x.id = o.id;
        x.t = fo.t;
        x.box = o.box;
        x.mask = o.mask.height > 0 ? &o.mask : nullptr;
        x.embedding = o.embedding.empty() ? nullptr : &o.embedding;
        x.image = image.empty() ? nullptr : &image;  // the posture network reads the animal's pixels
        obs.push_back(x);
      }
      preds = bstream->update(obs);
      if (preds.size() != fo.objects.size())
        throw eh::Error(fmt::format("behaviour model {}: {} predictions for {} observations", models.behaviour->name(),
                                    preds.size(), fo.objects.size()));
    }
    ms.behaviour += ms_since(t0);
    cpu.behaviour += thread_cpu_ms() - t0c;
    if (lag_frames == 0) {
      emit(fo, image, preds);
    } else {  // fixed-lag smoothing: a frame goes out once lag_frames later frames were seen
      lagged.push_back({fo, image, std::move(preds)});
      while (static_cast<int>(lagged.size()) > lag_frames) emit_oldest();
    }
    sink_ms += ms_since(s0);
    sink_cpu += thread_cpu_ms() - s0c;
  };

  // Everything after behaviour, for one frame: store, report summary, writers, evaluation, video.
  emit = [&](const eh::video::FrameOutput& fo, cv::Mat image, const std::vector<eh::animal::BehaviourPrediction>& preds) {
    // Store and report summary.
    auto t0 = Clock::now();
    double t0c = thread_cpu_ms();
    const double tu = start_time + fo.t;
    for (std::size_t k = 0; k < fo.objects.size(); ++k) {
      const auto& o = fo.objects[k];
      const int label = static_cast<int>(preds[k].label);
      eh::store::Observation ob;
      ob.animal_id = o.id;
      ob.t = tu;
      ob.x_m = static_cast<float>((o.box.x + o.box.width / 2) / ppm);
      ob.y_m = static_cast<float>((o.box.y + o.box.height / 2) / ppm);
      ob.behaviour = label;
      recorder->observe(ob);
      const int64_t n = sightings[o.id]++;
      if (n % 3 == 0 && usable_embedding(o.embedding))
        recorder->offer_embedding(o.id, tu, o.embedding.data(), o.embedding.size());
      summary.observe(o.id, fo.t, dt, o.box, label);
      if (!image.empty() && summary.wants_thumbnail(o.id, fo.t)) {
        Thumb th;
        th.t = fo.t;
        th.jpeg = thumbnail_jpeg(image, o.box, &th.width, &th.height);
        if (!th.jpeg.empty()) {
          recorder->offer_thumbnail(o.id, tu, th.jpeg, th.width, th.height);
          summary.add_thumbnail(o.id, std::move(th));
        }
      }
    }
    ms.store += ms_since(t0);
    cpu.store += thread_cpu_ms() - t0c;

    // Writers, evaluation, video.
    t0 = Clock::now();
    t0c = thread_cpu_ms();
    mot.write(fo);
    {
      eh::track::InstanceFrame f;
      f.frame = fo.frame + 1;
      f.t = fo.t;
      bool have_masks = !fo.objects.empty();
      for (const auto& o : fo.objects) have_masks = have_masks && o.mask.height > 0;
      for (const auto& o : fo.objects) {
        f.dets.add(o.box, o.score);
        if (have_masks) f.dets.rles.push_back(o.mask);
        f.ids.push_back(o.id);
      }
      if (have_masks) f.size = cv::Size(fo.objects[0].mask.width, fo.objects[0].mask.height);
      masks.write(f);
    }
    for (std::size_t k = 0; k < fo.objects.size(); ++k)
      *beh << fmt::format("{},{},{},{:.3f}\n", fo.frame + 1, fo.objects[k].id, eh::data::behaviour_name(preds[k].label),
                          preds[k].confidence);
    beh.check();
    if (opt.evaluate && (gt_sim || gt_file)) {
      auto& pf = pred.frames[fo.frame + 1];  // present even when empty: a processed frame
      for (const auto& o : fo.objects)
        pf.push_back(eh::eval::Detection{o.id, eh::eval::Box{o.box.x, o.box.y, o.box.width, o.box.height}, o.score, 0});
    }
    if (beh_eval) {
      std::vector<GtBox> g;
      if (gt_sim) {
        auto it = gt_pending.find(fo.frame);
        if (it != gt_pending.end()) g = std::move(it->second);
      } else {
        auto it = gt.frames.find(fo.frame + 1);
        if (it != gt.frames.end())
          for (const auto& d : it->second) {
            auto l = file_labels->labels.find({fo.frame + 1, d.id});
            if (l != file_labels->labels.end())
              g.push_back(GtBox{static_cast<int>(d.id),
                                cv::Rect2f(static_cast<float>(d.box.x), static_cast<float>(d.box.y),
                                           static_cast<float>(d.box.w), static_cast<float>(d.box.h)),
                                l->second});
          }
      }
      std::vector<cv::Rect2f> pb;
      for (const auto& o : fo.objects) pb.push_back(o.box);
      for (const auto& x : g)
        if (x.label > 0) ++beh_candidates;
      for (const auto& [i, j] : match_boxes(pb, g)) {
        if (g[j].label <= 0) continue;  // no ground-truth behaviour
        ++beh_matched;
        beh_gt.labels[{fo.frame + 1, g[j].id}] = g[j].label;
        beh_pred.labels[{fo.frame + 1, g[j].id}] = static_cast<int>(preds[i].label);
      }
    }
    if (gt_sim) gt_pending.erase(gt_pending.begin(), gt_pending.upper_bound(fo.frame));
    if (opt.video && !image.empty()) {
      if (!video_tried) {
        video_tried = true;
        // Auto scale: halved until at most 960 pixels wide (an exact half is OpenCV's cheap
        // INTER_AREA path; encoding a 1280x720 mp4v frame costs ~4x a 640x360 one).
        double scale = opt.video_scale;
        if (!(scale > 0))
          for (scale = 1.0; image.cols * scale > 960; scale /= 2) {
          }
        video_size = cv::Size(std::max(2, static_cast<int>(std::lround(image.cols * scale))) & ~1,
                              std::max(2, static_cast<int>(std::lround(image.rows * scale))) & ~1);
        const fs::path mp4 = out / OutputFiles::video, avi = out / OutputFiles::video_fallback;
        if (writer.open(mp4.string(), cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps, video_size)) {
          video_path = mp4.string();
        } else if (writer.open(avi.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, video_size)) {
          video_path = avi.string();
          video_note = "mp4v unavailable in this OpenCV build: wrote MJPG/AVI";
        } else {
          video_note = "this OpenCV build can write neither mp4v nor MJPG: no annotated video";
          warn(video_note);
        }
      }
      if (writer.isOpened()) {
        // Tint the masks at full resolution on this frame's own pixels (it has left the ring and
        // the thumbnails are taken), then scale, then draw boxes and text at the video's size.
        for (const auto& o : fo.objects)
          if (o.mask.height == image.rows && o.mask.width == image.cols) tint_rle(image, o.mask, id_bgr(o.id), 0.45);
        cv::Mat vis = image;
        if (vis.size() != video_size) cv::resize(image, vis, video_size, 0, 0, cv::INTER_AREA);
        const float sx = static_cast<float>(vis.cols) / static_cast<float>(image.cols);
        const float sy = static_cast<float>(vis.rows) / static_cast<float>(image.rows);
        std::vector<AnnotatedObject> ao;
        for (std::size_t k = 0; k < fo.objects.size(); ++k) {
          const auto& o = fo.objects[k];
          AnnotatedObject a;
          a.id = o.id;
          a.box = cv::Rect2f(o.box.x * sx, o.box.y * sy, o.box.width * sx, o.box.height * sy);
          a.label = preds[k].label == eh::data::Behaviour::Unknown
                        ? std::string()
                        : fmt::format("{} {:.2f}", eh::data::behaviour_name(preds[k].label), preds[k].confidence);
          ao.push_back(a);
        }
        annotate_frame(vis, ao, fo.frame, fo.t, fmt::format("{} animals", fo.objects.size()));
        writer.write(vis);
      }
    }
    ms.write += ms_since(t0);
    cpu.write += thread_cpu_ms() - t0c;
  };

  eh::video::Session session(models.segmenter, sc, sink);
  auto clock = std::make_shared<DecodeClock>();
  eh::video::ThreadedReader reader(std::make_unique<TimedSource>(std::move(src), clock), opt.reader);

  // A stop request must also wake a reader blocked waiting for frames.
  std::atomic<bool> watcher_done{false};
  std::thread watcher;
  if (opt.stop)
    watcher = std::thread([&] {
      while (!watcher_done.load()) {
        if (opt.stop->load()) {
          reader.stop();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });

  RunResult res;
  const auto wall0 = Clock::now();
  int64_t frames = 0;
  double last_t = 0;
  auto memory_sample = [&](int64_t frame_no, double t) {
    std::vector<eh::track::CacheUsage> caches = reader.memory();
    for (auto& c : session.memory()) caches.push_back(c);
    std::size_t ring_bytes = 0;
    for (const auto& [i, m] : ring) ring_bytes += m.empty() ? 0 : m.total() * m.elemSize();
    caches.push_back({"pipeline.frame_ring", ring_bytes, ring.size()});
    std::size_t lag_bytes = 0;
    for (const auto& l : lagged) lag_bytes += l.image.empty() ? 0 : l.image.total() * l.image.elemSize();
    caches.push_back({"pipeline.behaviour_lag", lag_bytes, lagged.size()});
    caches.push_back({"pipeline.summary", summary.bytes(), summary.animals().size()});
    std::size_t eval_items = 0;
    for (const auto& [f, v] : gt.frames) eval_items += v.size();
    for (const auto& [f, v] : pred.frames) eval_items += v.size();
    caches.push_back({"pipeline.evaluation", eval_items * sizeof(eh::eval::Detection) +
                                                 (beh_gt.labels.size() + beh_pred.labels.size()) * 64,
                      eval_items});
    const long long rss = eh::video::process_rss_bytes(), peak = eh::video::process_peak_rss_bytes();
    for (const auto& c : caches) *memcsv << fmt::format("{},{:.3f},{},{},{}\n", frame_no, t, c.name, c.items, c.bytes);
    *memcsv << fmt::format("{},{:.3f},process.rss,1,{}\n", frame_no, t, rss);
    *memcsv << fmt::format("{},{:.3f},process.peak_rss,1,{}\n", frame_no, t, peak);
    memcsv.check();
    summary.memory_point(frame_no, t, static_cast<double>(rss) / 1048576.0,
                         static_cast<double>(eh::track::total_bytes(caches)) / 1048576.0);
    return caches;
  };

  try {
    for (;;) {
      if (opt.stop && opt.stop->load()) {
        res.interrupted = true;
        res.end_reason = "interrupted (stop requested)";
        break;
      }
      if (opt.max_frames >= 0 && frames >= opt.max_frames) {
        res.end_reason = fmt::format("reached {} frames", opt.max_frames);
        break;
      }
      auto w0 = Clock::now();
      std::optional<eh::video::ReaderItem> item = reader.next();
      ms.wait += ms_since(w0);
      if (!item) break;
      if (!item->frame) {
        const auto& ev = item->event;
        if (opt.on_event) opt.on_event(ev);
        using K = eh::video::SourceEvent::Kind;
        if (ev.kind == K::Ended) {
          if (opt.stop && opt.stop->load()) {
            res.interrupted = true;
            res.end_reason = "interrupted (stop requested)";
          } else {
            res.end_reason = ev.message;
          }
        } else if (ev.kind != K::Reconnected) {
          warn(fmt::format("{}: {}", eh::video::event_kind_name(ev.kind), ev.message));
          if (ev.kind == K::Stalled) res.end_reason = ev.message;
        }
        continue;
      }
      eh::video::Frame& f = *item->frame;
      last_t = f.t;
      if (!f.image.empty()) {
        if (summary.frame_size().width == 0) summary.set_frame_size(f.image.size());
        if (frame_size.width == 0) frame_size = f.image.size();
      }
      if (!bstream && models.behaviour && frame_size.width > 0) bstream = models.behaviour->new_stream(frame_size, fps);
      ring.emplace_back(f.index, f.image);
      while (ring.size() > static_cast<std::size_t>(opt.window) + 2) ring.pop_front();
      if (gt_sim && f.truth) {
        auto& gf = gt.frames[f.index + 1];
        std::vector<GtBox> boxes;
        for (const auto& g : *f.truth) {
          if (g.visible_pixels < 1 || g.visible_box.empty()) continue;
          const cv::Rect2f b(g.visible_box);
          gf.push_back(eh::eval::Detection{g.id, eh::eval::Box{b.x, b.y, b.width, b.height}, 1.0, 0});
          if (beh_eval) boxes.push_back(GtBox{g.id, b, static_cast<int>(g.behaviour)});
        }
        if (beh_eval) gt_pending[f.index] = std::move(boxes);
      }

      auto t0 = Clock::now();
      double t0c = thread_cpu_ms();
      eh::track::Detections dets = models.segmenter->segment(f);
      ms.segment += ms_since(t0);
      cpu.segment += thread_cpu_ms() - t0c;
      if (models.embedder && !f.image.empty() && !dets.empty()) {
        t0 = Clock::now();
        t0c = thread_cpu_ms();
        std::vector<std::vector<float>> e = eh::animal::embed_detections(*models.embedder, f.image, dets);
        if (e.size() != dets.size())
          throw eh::Error(fmt::format("embedder {}: {} embeddings for {} boxes", models.embedder->name(), e.size(), dets.size()));
        dets.embeddings = std::move(e);
        ms.embed += ms_since(t0);
        cpu.embed += thread_cpu_ms() - t0c;
      }
      t0 = Clock::now();
      t0c = thread_cpu_ms();
      const double sink_before = sink_ms, sink_before_c = sink_cpu;
      const eh::track::TrackerOutput tout = session.process(f, std::move(dets));
      ms.track += ms_since(t0) - (sink_ms - sink_before);
      cpu.track += thread_cpu_ms() - t0c - (sink_cpu - sink_before_c);
      for (const auto& ev : tout.events)
        if (ev.kind == eh::track::TrackEvent::Kind::Retired) pending_drops.emplace_back(ev.frame, ev.id);
      ++frames;
      if (opt.memory_every > 0 && frames % opt.memory_every == 0) memory_sample(frames, f.t);
      if (opt.on_progress) {
        Progress p;
        p.frames = frames;
        p.total = total;
        const double el = std::chrono::duration<double>(Clock::now() - wall0).count();
        p.fps = el > 0 ? frames / el : 0;
        p.animals = static_cast<int>(session.tracker().stats().births);
        opt.on_progress(p);
      }
    }
  } catch (const std::exception& e) {
    res.error = e.what();
    res.end_reason = std::string("error: ") + e.what();
  }
  if (opt.stop && opt.stop->load() && res.error.empty()) {
    res.interrupted = true;
    res.end_reason = "interrupted (stop requested)";
  }
  watcher_done = true;
  if (watcher.joinable()) watcher.join();
  reader.stop();
  // Drain: the frames still in the window go out (the sink may fail too: keep closing).
  try {
    const double sink_before = sink_ms, sink_before_c = sink_cpu;
    const auto t0 = Clock::now();
    const double t0c = thread_cpu_ms();
    session.finish();
    ms.track += ms_since(t0) - (sink_ms - sink_before);
    cpu.track += thread_cpu_ms() - t0c - (sink_cpu - sink_before_c);
  } catch (const std::exception& e) {
    if (res.error.empty()) {
      res.error = e.what();
      res.end_reason = std::string("error: ") + e.what();
    }
  }
  // The frames still waiting for their behaviour labels go out, revised with what there is.
  try {
    while (!lagged.empty()) emit_oldest();
  } catch (const std::exception& e) {
    if (res.error.empty()) {
      res.error = e.what();
      res.end_reason = std::string("error: ") + e.what();
    }
  }
  if (res.end_reason.empty()) res.end_reason = "end of stream";
  res.wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
  res.frames = frames;
  std::vector<eh::track::CacheUsage> final_caches = memory_sample(frames, last_t);
  const eh::video::ReaderStats rstats = reader.stats();
  if (rstats.skipped > 0 && res.error.empty() && !res.interrupted)
    res.end_reason += fmt::format(" ({} frame{} could not be decoded: the source may be cut short or corrupt)", rstats.skipped,
                                  rstats.skipped == 1 ? "" : "s");

  // Close every file, each on its own, so one failure does not leave the others open.
  auto close_step = [&](const char* what, auto&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      warn(fmt::format("closing {}: {}", what, e.what()));
      if (res.error.empty()) res.error = fmt::format("closing {}: {}", what, e.what());
    }
  };
  close_step("tracks", [&] { mot.close(); });
  close_step("masks", [&] { masks.close(); });
  close_step("behaviours", [&] { beh.close(); });
  close_step("memory", [&] { memcsv.close(); });
  close_step("video", [&] {
    if (writer.isOpened()) writer.release();
  });
  eh::store::RecorderStats recstats;
  std::size_t store_animals = 0;
  close_step("store", [&] {
    recorder->flush();
    recstats = recorder->stats();
    recorder.reset();
    store_animals = store->animals().size();
    store->checkpoint(true);
    store.reset();
  });
  std::error_code sec;
  const auto store_bytes = fs::file_size(store_path, sec);

  // ---- evaluation ------------------------------------------------------------------------------------
  nlohmann::json evalj = nullptr;
  if (opt.evaluate && (gt_sim || gt_file) && frames > 0) {
    if (gt_file) {  // score only the frames this run processed
      eh::eval::TrackSet g2;
      g2.source = gt.source;
      for (auto& [f, v] : gt.frames)
        if (pred.frames.count(f)) g2.frames[f] = v;
      gt = std::move(g2);
    }
    res.mot = eh::eval::evaluate_mot(gt, pred);
    res.evaluated = true;
    evalj = nlohmann::json::object();
    evalj["gt"] = gt.source;
    evalj["mot"] = {{"mota", eh::eval::json_number(res.mot.clear.mota)},
                    {"idf1", eh::eval::json_number(res.mot.identity.idf1)},
                    {"hota", eh::eval::json_number(res.mot.hota.HOTA)},
                    {"switches", res.mot.clear.num_switches},
                    {"details", eh::eval::to_json(res.mot)}};
    if (beh_eval && !beh_gt.labels.empty()) {
      beh_gt.source = gt.source;
      beh_pred.source = "behaviours.csv";
      res.behaviour = eh::eval::evaluate_classification(beh_gt, beh_pred, eh::eval::edinburgh_pig_classes());
      res.behaviour_evaluated = true;
      evalj["behaviour"] = {{"top1", eh::eval::json_number(res.behaviour.accuracy)},
                            {"macro_f1", eh::eval::json_number(res.behaviour.macro_f1)},
                            {"paired", res.behaviour.num_paired},
                            {"matched_fraction", beh_candidates > 0 ? static_cast<double>(beh_matched) / beh_candidates : 0.0},
                            {"details", eh::eval::to_json(res.behaviour)}};
    } else {
      evalj["behaviour"] = nullptr;
      evalj["behaviour_note"] = models.behaviour ? "no ground-truth behaviour labels" : "no behaviour model";
    }
  }

  // ---- report.json ----------------------------------------------------------------------------------
  const auto& ts = session.tracker().stats();
  res.identities = static_cast<int>(summary.animals().size());
  res.video_path = video_path;
  {
    std::lock_guard<std::mutex> lk(clock->mu);
    ms.decode = clock->ms;
  }
  const double n = std::max<double>(1.0, static_cast<double>(frames));
  StageTimes per = ms;
  for (double* v : {&per.decode, &per.wait, &per.segment, &per.embed, &per.track, &per.behaviour, &per.store, &per.write})
    *v /= n;
  res.ms = per;
  StageTimes cper = cpu;
  for (double* v : {&cper.segment, &cper.embed, &cper.track, &cper.behaviour, &cper.store, &cper.write}) *v /= n;
  res.cpu_ms = cper;

  nlohmann::json j;
  j["edgeherd_report"] = 1;
  j["label"] = !opt.label.empty() ? opt.label : !models.variant.empty() ? models.variant : "run";
  j["source"] = opt.source;
  j["source_kind"] = source_kind;
  j["source_description"] = source_desc;
  j["model"] = {{"name", models.name},
                {"variant", models.variant},
                {"segmenter", models.segmenter->name()},
                {"embedder", models.embedder ? models.embedder->name() : std::string()},
                {"behaviour", models.behaviour ? models.behaviour->name() : std::string()},
                {"weights_bytes", models.weights_bytes()}};
  j["prompt"] = models.prompt;
  j["window"] = opt.window;
  j["started_at"] = iso_utc(static_cast<std::time_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                         std::chrono::system_clock::now().time_since_epoch())
                                                         .count() -
                                                     static_cast<long long>(res.wall_s)));
  j["store_time_origin"] = start_time;
  j["frame_size"] = {frame_size.width, frame_size.height};
  j["fps"] = fps;
  j["pixels_per_metre"] = scale_known ? nlohmann::json(ppm) : nlohmann::json(nullptr);
  j["frames"] = frames;
  j["frames_expected"] = total >= 0 ? nlohmann::json(total) : nlohmann::json(nullptr);
  j["duration_s"] = static_cast<double>(frames) * dt;
  j["interrupted"] = res.interrupted;
  j["end_reason"] = res.end_reason;
  j["error"] = res.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(res.error);
  j["warnings"] = warnings;
  j["warning_count"] = warning_count;
  j["reader"] = {{"frames", rstats.frames},     {"skipped", rstats.skipped},   {"dropped", rstats.dropped},
                 {"stalls", rstats.stalls},     {"reconnects", rstats.reconnects},
                 {"queue_high_water", rstats.queue_high_water}};
  j["timing"] = {{"wall_s", res.wall_s},
                 {"fps", res.wall_s > 0 ? static_cast<double>(frames) / res.wall_s : 0.0},
                 {"ms_per_frame",
                  {{"decode", per.decode},
                   {"wait", per.wait},
                   {"segment", per.segment},
                   {"embed", per.embed},
                   {"track", per.track},
                   {"behaviour", per.behaviour},
                   {"store", per.store},
                   {"write", per.write},
                   {"total", per.total()}}},
                 // CPU time of the pipeline thread only: robust to a loaded machine, but blind to
                 // worker threads a model starts (LibTorch intra-op threads).
                 {"cpu_ms_per_frame",
                  {{"segment", cper.segment},
                   {"embed", cper.embed},
                   {"track", cper.track},
                   {"behaviour", cper.behaviour},
                   {"store", cper.store},
                   {"write", cper.write},
                   {"total", cper.total()}}}};
  nlohmann::json cj = nlohmann::json::array();
  for (const auto& c : final_caches) cj.push_back({{"name", c.name}, {"items", c.items}, {"bytes", c.bytes}});
  j["memory"] = {{"peak_rss_bytes", eh::video::process_peak_rss_bytes()},
                 {"rss_bytes", eh::video::process_rss_bytes()},
                 {"caches", cj},
                 {"series", summary.memory_series_json()}};
  j["tracking"] = {{"identities", res.identities},      {"births", ts.births},
                   {"reidentified", ts.reidentified},    {"recovered", ts.recovered},
                   {"retired", ts.retired},              {"swaps_repaired", ts.swaps_repaired},
                   {"rows", session.stats().emitted_objects}, {"max_animals", sc.tracker.max_animals}};
  j["eval"] = evalj;
  j["store"] = {{"path", store_path},
                {"bytes", static_cast<int64_t>(sec ? 0 : store_bytes)},
                {"animals", store_animals},
                {"observations", recstats.observations},
                {"embeddings_written", recstats.embeddings_written},
                {"thumbnails_kept", recstats.thumbnails_kept}};
  j["timeline"] = summary.timeline_json();
  j["animals"] = summary.animals_json();
  j["heatmap"] = summary.heatmap_json(scale_known ? ppm : 0.0);
  j["outputs"] = {{"tracks", OutputFiles::tracks},
                  {"masks", OutputFiles::masks},
                  {"behaviours", OutputFiles::behaviours},
                  {"store", store_path},
                  {"video", video_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(fs::path(video_path).filename().string())},
                  {"video_note", video_note},
                  {"memory", OutputFiles::memory},
                  {"report_json", OutputFiles::report_json},
                  {"report_html", OutputFiles::report_html}};
  res.report = j;
  close_step("report.json", [&] {
    FileOut f(out / OutputFiles::report_json);
    *f << j.dump(2) << '\n';
    f.close();
  });
  close_step("report.html", [&] {
    eh::report::write_text((out / OutputFiles::report_html).string(), eh::report::run_report_html({j}));
  });
  return res;
}

}  // namespace eh::pipeline
