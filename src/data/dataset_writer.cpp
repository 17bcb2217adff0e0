#include "data/dataset_writer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "core/error.h"
#include "data/hash.h"
#include "data/rle.h"

namespace fs = std::filesystem;

namespace eh::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

class TextFile {
 public:
  explicit TextFile(const std::string& path) : path_(path), f_(path, std::ios::binary) {
    if (!f_) throw Error("cannot write '" + path + "'");
  }
  void write(const std::string& s) {
    f_.write(s.data(), static_cast<std::streamsize>(s.size()));
    hash_ = fnv1a64(s, hash_);
  }
  void close() {
    f_.close();
    if (!f_) throw Error("failed writing '" + path_ + "'");
  }
  uint64_t hash() const { return hash_; }

 private:
  std::string path_;
  std::ofstream f_;
  uint64_t hash_ = kFnv1aOffset;
};

std::string fmt_num(double v, int decimals = 2) { return format_number(v, decimals); }

std::string clock_str(double hour) {
  const double h = std::fmod(std::fmod(hour, 24.0) + 24.0, 24.0);
  const int hh = static_cast<int>(h), mm = static_cast<int>((h - hh) * 60), ss = static_cast<int>(((h - hh) * 60 - mm) * 60);
  return fmt::format("{:02d}:{:02d}:{:02d}", hh, mm, ss);
}

nlohmann::ordered_json rect_json(const cv::Rect2f& r) {
  return {{"x", r.x}, {"y", r.y}, {"width", r.width}, {"height", r.height}};
}

// Picks the frames of the contact sheet: evenly spaced ones, plus the most telling frame of a
// few hard cases (occlusion, running, lighting, leaving the view).
class SheetPicker {
 public:
  SheetPicker(int total, int even) {
    for (int k = 0; k < even; ++k) even_.push_back(even <= 1 ? 0 : static_cast<int>(std::lround(static_cast<double>(k) * (total - 1) / (even - 1))));
  }
  void offer(int idx, const PenSimulator& sim) {
    const auto& gt = sim.ground_truth();
    const auto light = sim.lighting();
    const std::string cap = caption(idx, sim);
    if (std::find(even_.begin(), even_.end(), idx) != even_.end()) tiles_.push_back({idx, tile(sim, cap)});
    // occlusion: lowest visibility among pigs that are inside the image
    double occl = 0, run = 0, edge = 0;
    for (const auto& g : gt) {
      const bool at_edge = g.box.x + g.box.width >= sim.config().size.width - 1;
      if (!at_edge) occl = std::max(occl, 1.0 - g.visibility);
      if (g.behaviour == Behaviour::Running) run = std::max(run, static_cast<double>(g.speed));
      if (at_edge && g.visibility > 0.15 && g.visibility < 0.85) edge = std::max(edge, 1.0 - std::fabs(g.visibility - 0.5));
    }
    consider(0, occl, idx, sim, cap);
    consider(1, run, idx, sim, cap);
    consider(2, light.infrared ? 2.0 : (light.flicker ? 1.0 : (light.level < 0.7 ? 0.5 : 0.0)), idx, sim, cap);
    consider(3, edge, idx, sim, cap);
  }
  cv::Mat sheet() {
    std::vector<std::pair<int, cv::Mat>> all = tiles_;
    for (auto& b : best_)
      if (!b.tile.empty()) all.push_back({b.idx, b.tile});
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<cv::Mat> t;
    int last = -1;
    for (auto& [i, m] : all) {
      if (i == last) continue;
      last = i;
      t.push_back(m);
    }
    return make_contact_sheet(t, 3);
  }

 private:
  struct Best {
    double score = 0;
    int idx = -1;
    cv::Mat tile;
  };
  static std::string caption(int idx, const PenSimulator& sim) {
    const auto l = sim.lighting();
    std::string c = fmt::format("frame {}  t={:.1f}s  {}", idx + 1, sim.time_s(), clock_str(l.hour));
    if (l.infrared) c += "  IR";
    if (l.flicker) c += "  flicker";
    if (!l.infrared && l.level < 0.7) c += "  dim";
    return c;
  }
  static cv::Mat tile(const PenSimulator& sim, const std::string& cap) {
    const double s = 640.0 / sim.config().size.width;
    return draw_gt_overlay(sim.frame(), sim.ground_truth(), s, cap);
  }
  void consider(int k, double score, int idx, const PenSimulator& sim, const std::string& cap) {
    // a new best must beat the old one clearly and be at least 5 s away from the even picks
    if (score <= best_[k].score * 1.05 || score <= 0) return;
    for (int e : even_)
      if (std::abs(e - idx) < 5 * sim.config().fps) return;
    best_[k] = {score, idx, tile(sim, cap)};
  }
  std::vector<int> even_;
  std::vector<std::pair<int, cv::Mat>> tiles_;
  Best best_[4];
};

}  // namespace

cv::Scalar id_colour(int id) {
  static const cv::Scalar pal[] = {{60, 76, 231}, {113, 204, 46}, {219, 152, 52}, {15, 196, 241}, {182, 89, 155},
                                   {156, 188, 26}, {34, 126, 230}, {94, 73, 52},  {255, 255, 255}, {0, 84, 211}};
  return pal[(id - 1 + 1000) % 10];
}

std::vector<MotRecord> to_mot_records(const std::vector<GtObject>& gt, int frame_index) {
  std::vector<MotRecord> out;
  out.reserve(gt.size());
  for (const auto& g : gt) {
    if (g.box.empty()) continue;
    MotRecord r;
    r.frame = frame_index + 1;
    r.id = g.id;
    r.x = g.box.x;
    r.y = g.box.y;
    r.w = g.box.width;
    r.h = g.box.height;
    r.conf = 1;
    r.cls = 1;
    r.visibility = std::round(static_cast<double>(g.visibility) * 10000.0) / 10000.0;  // as written (4 decimals)
    out.push_back(r);
  }
  return out;
}

std::vector<EdinburghLabel> to_edinburgh_labels(const std::vector<GtObject>& gt) {
  std::vector<EdinburghLabel> out;
  for (const auto& g : gt) {
    if (g.box.empty()) continue;
    EdinburghLabel l;
    l.id = std::to_string(g.id);
    l.bbox = {static_cast<double>(g.box.x), static_cast<double>(g.box.y), static_cast<double>(g.box.width),
              static_cast<double>(g.box.height)};
    l.behaviour = g.behaviour;
    l.behaviour_raw = edinburgh_name(g.behaviour);
    out.push_back(l);
  }
  return out;
}

std::string labels_csv_header() {
  return "frame,id,behaviour,behaviour_name,posture,cx,cy,heading_deg,length,width,head_yaw_deg,speed,visibility,"
         "draw_order,lameness,illness,weight_kg\n";
}

std::string labels_csv_row(int frame_index, const GtObject& g) {
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", frame_index + 1, g.id, static_cast<int>(g.behaviour),
                     behaviour_name(g.behaviour), posture_name(g.pose.posture), fmt_num(g.pose.centre.x),
                     fmt_num(g.pose.centre.y), fmt_num(g.pose.heading * 180.0 / kPi, 1), fmt_num(g.pose.length),
                     fmt_num(g.pose.width), fmt_num(g.pose.head_yaw * 180.0 / kPi, 1), fmt_num(g.speed, 1),
                     format_number(g.visibility, 4), g.draw_order, fmt_num(g.health.lameness, 3),
                     fmt_num(g.health.illness, 3), fmt_num(g.health.weight_kg, 1));
}

cv::Mat draw_gt_overlay(const cv::Mat& frame, const std::vector<GtObject>& gt, double scale, const std::string& caption) {
  cv::Mat t;
  cv::resize(frame, t, cv::Size(), scale, scale, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  for (const auto& g : gt) {
    const cv::Scalar c = id_colour(g.id);
    if (!g.mask.counts.empty() && g.visible_pixels > 0) {
      const cv::Rect vb = g.visible_box;
      const cv::Mat full = rle_decode(g.mask);
      cv::Mat roi = full(vb), small;
      const cv::Rect sr(cvRound(vb.x * scale), cvRound(vb.y * scale), std::max(1, cvRound(vb.width * scale)),
                        std::max(1, cvRound(vb.height * scale)));
      cv::resize(roi, small, sr.size(), 0, 0, cv::INTER_NEAREST);
      std::vector<std::vector<cv::Point>> contours;
      cv::findContours(small, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE, sr.tl());
      cv::drawContours(t, contours, -1, c, 1, cv::LINE_AA);
    }
    const cv::Rect b(cvRound(g.box.x * scale), cvRound(g.box.y * scale), cvRound(g.box.width * scale), cvRound(g.box.height * scale));
    cv::rectangle(t, b, c, 1, cv::LINE_AA);
    const std::string tag = fmt::format("{} {} {:.2f}", g.id, behaviour_name(g.behaviour), g.visibility);
    int base = 0;
    const double fs = 0.38;
    const cv::Size ts = cv::getTextSize(tag, cv::FONT_HERSHEY_SIMPLEX, fs, 1, &base);
    cv::Point o(std::clamp(b.x, 0, std::max(0, t.cols - ts.width - 2)), std::max(ts.height + 2, b.y));
    cv::rectangle(t, cv::Rect(o.x, o.y - ts.height - 2, ts.width + 3, ts.height + 4), c, cv::FILLED);
    const double lum = 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2];
    cv::putText(t, tag, o + cv::Point(1, 0), cv::FONT_HERSHEY_SIMPLEX, fs, lum > 140 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255), 1,
                cv::LINE_AA);
  }
  cv::Mat out(t.rows + 20, t.cols, CV_8UC3, cv::Scalar(30, 30, 30));
  t.copyTo(out(cv::Rect(0, 0, t.cols, t.rows)));
  cv::putText(out, caption, cv::Point(6, t.rows + 14), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
  return out;
}

cv::Mat make_contact_sheet(const std::vector<cv::Mat>& tiles, int columns) {
  if (tiles.empty()) return {};
  columns = std::max(1, std::min(columns, static_cast<int>(tiles.size())));
  const int rows = (static_cast<int>(tiles.size()) + columns - 1) / columns;
  const int tw = tiles[0].cols, th = tiles[0].rows, gap = 4;
  cv::Mat sheet(rows * th + (rows + 1) * gap, columns * tw + (columns + 1) * gap, CV_8UC3, cv::Scalar(15, 15, 15));
  for (size_t i = 0; i < tiles.size(); ++i) {
    const int r = static_cast<int>(i) / columns, c = static_cast<int>(i) % columns;
    cv::Mat t = tiles[i];
    if (t.size() != cv::Size(tw, th)) cv::resize(t, t, cv::Size(tw, th));
    t.copyTo(sheet(cv::Rect(gap + c * (tw + gap), gap + r * (th + gap), tw, th)));
  }
  return sheet;
}

SimulateResult run_simulation(const SimulateOptions& opt, const ProgressFn& progress, const FrameFn& on_frame) {
  if (opt.out_dir.empty()) throw Error("run_simulation: no output directory");
  if (!(opt.minutes > 0) || opt.minutes > 24 * 60) throw Error("run_simulation: minutes must be in (0, 1440]");
  if (opt.edinburgh_stride < 1) throw Error("run_simulation: edinburgh_stride must be >= 1");
  const auto t0 = std::chrono::steady_clock::now();
  SimulateResult res;
  SimConfig cfg = opt.sim;
  const bool need_frames = opt.write_video || opt.write_contact_sheet;
  cfg.render = cfg.render && need_frames;
  PenSimulator sim(cfg);
  const int total = std::max(1, static_cast<int>(std::lround(opt.minutes * 60.0 * cfg.fps)));

  const fs::path out(opt.out_dir);
  fs::create_directories(out / "gt");

  cv::VideoWriter video;
  if (opt.write_video && cfg.render) {
    const std::string mp4 = (out / "video.mp4").string();
    video.open(mp4, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), cfg.fps, cfg.size, true);
    if (video.isOpened()) {
      res.video_path = mp4;
    } else {
      const std::string avi = (out / "video.avi").string();
      video.open(avi, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), cfg.fps, cfg.size, true);
      if (!video.isOpened()) throw Error("cannot open a video writer for '" + mp4 + "' (mp4v) or '" + avi + "' (MJPG)");
      res.video_path = avi;
      res.notes.push_back("the mp4v codec is not available to OpenCV here; wrote MJPG '" + avi + "' instead");
    }
  }

  TextFile gt((out / "gt" / "gt.txt").string());
  TextFile labels((out / "gt" / "labels.csv").string());
  TextFile frames_csv((out / "gt" / "frames.csv").string());
  std::unique_ptr<TextFile> masks;
  if (opt.write_masks && cfg.masks) masks = std::make_unique<TextFile>((out / "gt" / "masks.jsonl").string());
  labels.write(labels_csv_header());
  frames_csv.write("frame,time_s,clock,hour,light_level,camera_gain,infrared,flicker\n");
  const std::string video_name = res.video_path.empty() ? "video.mp4" : fs::path(res.video_path).filename().string();
  EdinburghWriter edin(video_name, 1.0 / cfg.fps, opt.edinburgh_bbox_tolerance);
  SheetPicker picker(total, opt.write_contact_sheet && cfg.render ? 8 : 0);

  for (int i = 0; i < total; ++i) {
    sim.step();
    const auto& g = sim.ground_truth();
    std::string block;
    for (const auto& r : to_mot_records(g, i)) {
      block += format_mot_line(r, MotLayout::GroundTruth);
      block += '\n';
    }
    gt.write(block);
    block.clear();
    for (const auto& o : sim.all_animals())
      if (!o.box.empty()) block += labels_csv_row(i, o);
    labels.write(block);
    const auto l = sim.lighting();
    frames_csv.write(fmt::format("{},{},{},{},{},{},{},{}\n", i + 1, fmt_num(sim.time_s(), 3), clock_str(l.hour), fmt_num(l.hour, 5),
                                 fmt_num(l.level, 3), fmt_num(l.camera_gain, 3), l.infrared ? 1 : 0, l.flicker ? 1 : 0));
    if (masks) {
      nlohmann::ordered_json j;
      j["frame"] = i + 1;
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const auto& o : g) {
        nlohmann::ordered_json m;
        m["id"] = o.id;
        m["size"] = {o.mask.height, o.mask.width};
        m["counts"] = rle_to_string(o.mask);
        arr.push_back(m);
      }
      j["masks"] = arr;
      masks->write(j.dump() + "\n");
    }
    if (opt.write_edinburgh && i % opt.edinburgh_stride == 0) edin.add_frame(i / opt.edinburgh_stride, to_edinburgh_labels(g));
    if (video.isOpened()) video.write(sim.frame());
    if (opt.write_contact_sheet && cfg.render) picker.offer(i, sim);
    if (on_frame) on_frame(sim);
    if (progress && !progress(i + 1, total)) throw Error("cancelled");
  }
  gt.close();
  labels.close();
  frames_csv.close();
  if (masks) masks->close();
  if (video.isOpened()) video.release();
  res.frames = total;
  res.gt_path = (out / "gt" / "gt.txt").string();
  res.gt_fnv1a = hex64(gt.hash());
  if (opt.write_edinburgh) edin.save((out / "output.json").string());

  {  // MOTChallenge sequence info
    TextFile ini((out / "seqinfo.ini").string());
    ini.write(fmt::format("[Sequence]\nname={}\nimDir=img1\nframeRate={}\nseqLength={}\nimWidth={}\nimHeight={}\nimExt=.jpg\n",
                          out.filename().string().empty() ? std::string("sim") : out.filename().string(), fmt_num(cfg.fps, 3), total,
                          cfg.size.width, cfg.size.height));
    ini.close();
  }
  {  // pen layout and animals
    const auto& L = sim.layout();
    nlohmann::ordered_json j;
    j["seed"] = cfg.seed;
    j["image_size"] = {cfg.size.width, cfg.size.height};
    j["fps"] = cfg.fps;
    j["frames"] = total;
    j["start_hour"] = cfg.start_hour;
    j["pixels_per_metre"] = L.pixels_per_metre;
    j["pen"] = rect_json(L.pen);
    j["alley"] = rect_json(L.alley);
    j["feeder"] = rect_json(L.feeder);
    j["feeder_spaces"] = L.feeder_spaces;
    nlohmann::ordered_json dr = nlohmann::ordered_json::array();
    for (const auto& d : L.drinkers) dr.push_back(rect_json(d));
    j["drinkers"] = dr;
    j["toy"] = {L.toy.x, L.toy.y};
    j["resting_area"] = rect_json(L.resting_area);
    j["slatted_area"] = rect_json(L.slatted_area);
    nlohmann::ordered_json an = nlohmann::ordered_json::array();
    for (const auto& a : sim.animals())
      an.push_back({{"id", a.id},
                    {"length_px", a.length_px},
                    {"width_ratio", a.width_ratio},
                    {"skin_bgr", {a.skin_bgr[0], a.skin_bgr[1], a.skin_bgr[2]}},
                    {"description", a.description}});
    j["animals"] = an;
    j["gt_fnv1a"] = res.gt_fnv1a;
    TextFile f((out / "layout.json").string());
    f.write(j.dump(2) + "\n");
    f.close();
  }
  if (opt.write_contact_sheet && cfg.render) {
    const cv::Mat sheet = picker.sheet();
    const std::string p = (out / "contact_sheet.png").string();
    if (sheet.empty() || !cv::imwrite(p, sheet)) throw Error("cannot write '" + p + "'");
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace eh::data
