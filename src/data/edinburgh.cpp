#include "data/edinburgh.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace eh::data {

// ---- behaviour strings -----------------------------------------------------------------------

const std::vector<std::pair<std::string, Behaviour>>& edinburgh_behaviour_table() {
  // See docs/formats.md: the first five are the strings seen in public copies of output.json;
  // the rest are accepted synonyms (assumption, documented there).
  static const std::vector<std::pair<std::string, Behaviour>> t = {
      {"lying", Behaviour::Lying},
      {"standing", Behaviour::Standing},
      {"eat", Behaviour::Eating},
      {"drink", Behaviour::Drinking},
      {"moving", Behaviour::Moving},
      {"unknown", Behaviour::Unknown},
      {"other", Behaviour::Unknown},
      {"not_moving", Behaviour::NotMoving},
      {"sitting", Behaviour::NotMoving},
      {"walking", Behaviour::Moving},
      {"running", Behaviour::Running},
      {"eating", Behaviour::Eating},
      {"drinking", Behaviour::Drinking},
      {"playing", Behaviour::Playing},
      {"play_with_toy", Behaviour::Playing},
      {"lying_lateral", Behaviour::Lying},
      {"lying_sternal", Behaviour::Lying},
  };
  return t;
}

bool edinburgh_try_behaviour(std::string_view raw, Behaviour* out) {
  const std::string n = normalise_label(raw);
  for (const auto& [name, b] : edinburgh_behaviour_table()) {
    if (n == name) {
      *out = b;
      return true;
    }
  }
  return false;
}

namespace {
std::string accepted_list() {
  std::string s;
  for (const auto& [name, b] : edinburgh_behaviour_table()) {
    if (!s.empty()) s += ", ";
    s += name;
  }
  return s;
}
}  // namespace

Behaviour edinburgh_behaviour(std::string_view raw) {
  Behaviour b;
  if (!edinburgh_try_behaviour(raw, &b))
    throw Error("unknown Edinburgh behaviour label '" + std::string(raw) + "' (accepted: " + accepted_list() + ")");
  return b;
}

const char* edinburgh_name(Behaviour b) {
  switch (b) {
    case Behaviour::Unknown: return "unknown";
    case Behaviour::NotMoving: return "not_moving";
    case Behaviour::Moving: return "moving";
    case Behaviour::Running: return "running";
    case Behaviour::Eating: return "eat";
    case Behaviour::Drinking: return "drink";
    case Behaviour::Playing: return "playing";
    case Behaviour::Standing: return "standing";
    case Behaviour::Lying: return "lying";
  }
  return "unknown";
}

// ---- reading ---------------------------------------------------------------------------------

int EdinburghAnnotation::max_frame_number() const {
  int m = -1;
  for (const auto& o : objects)
    for (const auto& e : o.entries) m = std::max(m, e.frame_number);
  return m;
}

namespace {

using nlohmann::json;

double get_number(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw Error(where + ": missing key '" + key + "'");
  const json& v = j.at(key);
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {  // some exports quote numbers
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() && *end == '\0' && std::isfinite(d)) return d;
  }
  throw Error(where + ": '" + key + "' must be a number, found " + v.dump());
}

bool get_bool(const json& j, const char* key, bool dflt, const std::string& where) {
  if (!j.contains(key)) return dflt;
  const json& v = j.at(key);
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int>() != 0;
  throw Error(where + ": '" + key + "' must be true or false, found " + v.dump());
}

}  // namespace

EdinburghAnnotation parse_edinburgh_json(const std::string& text, const std::string& source) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(source + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw Error(source + ": top level must be a JSON object");
  if (!root.contains("objects") || !root["objects"].is_array())
    throw Error(source + ": missing array 'objects'");
  EdinburghAnnotation a;
  a.source = source;
  if (root.contains("videoFileName") && root["videoFileName"].is_string())
    a.video_file = root["videoFileName"].get<std::string>();
  if (root.contains("stepSize") && root["stepSize"].is_number()) a.step_size = root["stepSize"].get<double>();

  const json& objs = root["objects"];
  for (size_t oi = 0; oi < objs.size(); ++oi) {
    const json& o = objs[oi];
    const std::string owhere = source + ": objects[" + std::to_string(oi) + "]";
    if (!o.is_object()) throw Error(owhere + " must be an object");
    EdinburghObject obj;
    if (!o.contains("id")) throw Error(owhere + ": missing key 'id'");
    if (o["id"].is_string())
      obj.id = o["id"].get<std::string>();
    else if (o["id"].is_number_integer())
      obj.id = std::to_string(o["id"].get<long long>());
    else
      throw Error(owhere + ": 'id' must be a string or an integer");
    if (!o.contains("frames") || !o["frames"].is_array())
      throw Error(owhere + " (id " + obj.id + "): missing array 'frames'");
    const json& frames = o["frames"];
    for (size_t fi = 0; fi < frames.size(); ++fi) {
      const json& f = frames[fi];
      const std::string where = source + ": object id " + obj.id + ", frames[" + std::to_string(fi) + "]";
      if (!f.is_object()) throw Error(where + " must be an object");
      EdinburghEntry e;
      const double fn = get_number(f, "frameNumber", where);
      if (fn < 0 || fn != std::floor(fn) || fn > 1e9)
        throw Error(where + ": 'frameNumber' must be a non-negative integer, found " + f["frameNumber"].dump());
      e.frame_number = static_cast<int>(fn);
      const std::string fwhere = where + " (frameNumber " + std::to_string(e.frame_number) + ")";
      e.visible = get_bool(f, "visible", true, fwhere);
      e.is_ground_truth = get_bool(f, "isGroundTruth", true, fwhere);
      if (f.contains("bbox")) {
        const json& b = f["bbox"];
        if (!b.is_object()) throw Error(fwhere + ": 'bbox' must be an object");
        e.bbox.x = get_number(b, "x", fwhere + ": bbox");
        e.bbox.y = get_number(b, "y", fwhere + ": bbox");
        e.bbox.width = get_number(b, "width", fwhere + ": bbox");
        e.bbox.height = get_number(b, "height", fwhere + ": bbox");
        if (e.bbox.width < 0 || e.bbox.height < 0) throw Error(fwhere + ": bbox width/height must not be negative");
      } else if (e.visible) {
        throw Error(fwhere + ": missing key 'bbox'");
      }
      if (f.contains("behaviour") && !f["behaviour"].is_null()) {
        if (!f["behaviour"].is_string()) throw Error(fwhere + ": 'behaviour' must be a string");
        e.behaviour_raw = f["behaviour"].get<std::string>();
        if (!edinburgh_try_behaviour(e.behaviour_raw, &e.behaviour))
          throw Error(fwhere + ": unknown behaviour label '" + e.behaviour_raw + "' (accepted: " + accepted_list() + ")");
      } else if (e.visible) {
        throw Error(fwhere + ": missing key 'behaviour'");
      }
      obj.entries.push_back(std::move(e));
    }
    std::stable_sort(obj.entries.begin(), obj.entries.end(),
                     [](const EdinburghEntry& x, const EdinburghEntry& y) { return x.frame_number < y.frame_number; });
    a.objects.push_back(std::move(obj));
  }
  return a;
}

EdinburghAnnotation read_edinburgh_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open Edinburgh annotation '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_edinburgh_json(ss.str(), path);
}

std::vector<std::vector<EdinburghLabel>> expand_edinburgh(const EdinburghAnnotation& a, int num_frames) {
  if (num_frames < 0) num_frames = a.max_frame_number() + 1;
  std::vector<std::vector<EdinburghLabel>> out(static_cast<size_t>(std::max(0, num_frames)));
  for (const auto& o : a.objects) {
    const auto& es = o.entries;
    for (size_t i = 0; i < es.size(); ++i) {
      // Several entries for one frame: the last one in the file holds.
      if (i + 1 < es.size() && es[i + 1].frame_number == es[i].frame_number) continue;
      if (!es[i].visible) continue;
      const int from = es[i].frame_number;
      const int to = i + 1 < es.size() ? es[i + 1].frame_number : num_frames;
      EdinburghLabel l{o.id, es[i].bbox, es[i].behaviour, es[i].behaviour_raw};
      for (int k = from; k < std::min(to, num_frames); ++k) out[k].push_back(l);
    }
  }
  return out;
}

// ---- writing ---------------------------------------------------------------------------------

EdinburghWriter::EdinburghWriter(std::string video_file, double step_size, double bbox_tolerance)
    : video_file_(std::move(video_file)), step_size_(step_size), tol_(bbox_tolerance) {}

void EdinburghWriter::add_frame(int frame_number, const std::vector<EdinburghLabel>& labels) {
  if (frame_number <= last_frame_)
    throw Error("EdinburghWriter: frames must be added in increasing order (got " + std::to_string(frame_number) +
                " after " + std::to_string(last_frame_) + ")");
  last_frame_ = frame_number;
  std::vector<bool> seen(tracks_.size(), false);
  for (const auto& l : labels) {
    auto it = index_.find(l.id);
    size_t ti;
    if (it == index_.end()) {
      ti = tracks_.size();
      index_[l.id] = ti;
      tracks_.push_back(Track{l.id, {}, false, {}});
      seen.push_back(false);
    } else {
      ti = it->second;
    }
    if (seen[ti]) throw Error("EdinburghWriter: object id " + l.id + " appears twice in frame " + std::to_string(frame_number));
    seen[ti] = true;
    Track& t = tracks_[ti];
    EdinburghEntry e;
    e.frame_number = frame_number;
    e.bbox = l.bbox;
    e.visible = true;
    e.is_ground_truth = true;
    e.behaviour = l.behaviour;
    e.behaviour_raw = edinburgh_name(l.behaviour);
    const auto moved = [&](const EdinburghBox& a, const EdinburghBox& b) {
      return std::fabs(a.x - b.x) > tol_ || std::fabs(a.y - b.y) > tol_ ||
             std::fabs(a.x + a.width - b.x - b.width) > tol_ || std::fabs(a.y + a.height - b.y - b.height) > tol_;
    };
    if (!t.present || t.last.behaviour != e.behaviour || moved(t.last.bbox, e.bbox)) {
      t.entries.push_back(e);
      t.last = e;
      t.present = true;
    }
  }
  for (size_t ti = 0; ti < tracks_.size(); ++ti) {
    Track& t = tracks_[ti];
    if (t.present && !seen[ti]) {  // left the view (or fully hidden): close the carry-forward
      EdinburghEntry e = t.last;
      e.frame_number = frame_number;
      e.visible = false;
      t.entries.push_back(e);
      t.last = e;
      t.present = false;
    }
  }
}

size_t EdinburghWriter::num_entries() const {
  size_t n = 0;
  for (const auto& t : tracks_) n += t.entries.size();
  return n;
}

std::string EdinburghWriter::to_json_text() const {
  nlohmann::ordered_json root;
  root["videoFileName"] = video_file_;
  root["stepSize"] = step_size_;
  nlohmann::ordered_json objects = nlohmann::ordered_json::array();
  for (const auto& t : tracks_) {
    nlohmann::ordered_json o;
    o["id"] = t.id;
    nlohmann::ordered_json frames = nlohmann::ordered_json::array();
    for (const auto& e : t.entries) {
      nlohmann::ordered_json f;
      f["frameNumber"] = e.frame_number;
      nlohmann::ordered_json b;
      const auto num = [](double v) -> nlohmann::ordered_json {
        if (v == std::floor(v) && std::fabs(v) < 1e9) return static_cast<long long>(v);
        return v;
      };
      b["x"] = num(e.bbox.x);
      b["y"] = num(e.bbox.y);
      b["width"] = num(e.bbox.width);
      b["height"] = num(e.bbox.height);
      f["bbox"] = b;
      f["isGroundTruth"] = e.is_ground_truth;
      f["visible"] = e.visible;
      f["behaviour"] = e.behaviour_raw;
      frames.push_back(f);
    }
    o["frames"] = frames;
    objects.push_back(o);
  }
  root["objects"] = objects;
  return root.dump(2) + "\n";
}

void EdinburghWriter::save(const std::string& path) const {
  const auto parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error("cannot write '" + path + "'");
  const std::string s = to_json_text();
  f.write(s.data(), static_cast<std::streamsize>(s.size()));
  if (!f) throw Error("failed writing '" + path + "'");
}

// ---- a sequence on disk --------------------------------------------------------------------

namespace {

bool is_image_ext(std::string ext) {
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::map<int, std::string> scan_images(const fs::path& dir) {
  std::map<int, std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& de : fs::directory_iterator(dir)) {
    if (!de.is_regular_file() || !is_image_ext(de.path().extension().string())) continue;
    const std::string stem = de.path().stem().string();
    if (stem.empty() || stem.size() > 9 || !std::all_of(stem.begin(), stem.end(), [](unsigned char c) { return std::isdigit(c); }))
      continue;
    out[std::stoi(stem)] = de.path().string();
  }
  return out;
}

}  // namespace

EdinburghSequence EdinburghSequence::open(const std::string& dir, int frame_stride) {
  if (frame_stride < 1) throw Error("EdinburghSequence: frame_stride must be >= 1");
  const fs::path d(dir);
  const fs::path json_path = d / "output.json";
  if (!fs::exists(json_path)) throw Error("no output.json in '" + dir + "'");
  EdinburghSequence s;
  s.stride_ = frame_stride;
  s.ann_ = read_edinburgh_json(json_path.string());
  s.labels_ = expand_edinburgh(s.ann_);
  const int last_raw = (static_cast<int>(s.labels_.size()) - 1) * frame_stride;

  // Find the frames: the named video, color.mp4, a single video file, or numbered images.
  std::vector<fs::path> candidates;
  if (!s.ann_.video_file.empty()) candidates.push_back(d / fs::path(s.ann_.video_file).filename());
  candidates.push_back(d / "color.mp4");
  fs::path video;
  for (const auto& c : candidates)
    if (fs::is_regular_file(c)) {
      video = c;
      break;
    }
  if (video.empty()) {
    std::vector<fs::path> vids;
    for (const auto& de : fs::directory_iterator(d)) {
      const std::string ext = de.path().extension().string();
      if (de.is_regular_file() && (ext == ".mp4" || ext == ".avi" || ext == ".mkv")) vids.push_back(de.path());
    }
    if (vids.size() == 1) video = vids[0];
  }
  if (!video.empty()) {
    s.video_path_ = video.string();
    if (!s.cap_.open(s.video_path_)) throw Error("cannot open video '" + s.video_path_ + "'");
    const double n = s.cap_.get(cv::CAP_PROP_FRAME_COUNT);
    if (n > 0 && last_raw >= static_cast<int>(n))
      throw Error(json_path.string() + " annotates frameNumber " + std::to_string(s.labels_.size() - 1) +
                  " (raw frame " + std::to_string(last_raw) + ") but '" + s.video_path_ + "' has only " +
                  std::to_string(static_cast<long long>(n)) + " frames: missing frames");
    // Labels carry forward to the end of the footage (the last annotated frames may be unchanged).
    const int n_ann = n > 0 ? (static_cast<int>(n) + frame_stride - 1) / frame_stride : 0;
    if (n_ann > static_cast<int>(s.labels_.size())) s.labels_ = expand_edinburgh(s.ann_, n_ann);
    s.next_raw_ = 0;
    return s;
  }
  for (const auto& sub : {d / "frames", d / "images", d}) {
    s.images_ = scan_images(sub);
    if (!s.images_.empty()) break;
  }
  if (s.images_.empty())
    throw Error("no frames for '" + dir + "': expected a video (" +
                (s.ann_.video_file.empty() ? std::string("color.mp4") : s.ann_.video_file) +
                ") or numbered images (e.g. 000000.jpg) in it or in frames/ or images/");
  const int n_ann = s.images_.rbegin()->first / frame_stride + 1;
  if (n_ann > static_cast<int>(s.labels_.size())) s.labels_ = expand_edinburgh(s.ann_, n_ann);
  for (int k = 0; k < static_cast<int>(s.labels_.size()); ++k) {
    if (!s.images_.count(k * frame_stride))
      throw Error("missing frame: annotated frame " + std::to_string(k) + " (raw frame " +
                  std::to_string(k * frame_stride) + ") has no image in '" + dir + "'");
  }
  return s;
}

const std::vector<EdinburghLabel>& EdinburghSequence::labels(int k) const {
  if (k < 0 || k >= static_cast<int>(labels_.size()))
    throw Error("annotated frame " + std::to_string(k) + " out of range 0.." + std::to_string(labels_.size()) +
                " in " + ann_.source);
  return labels_[k];
}

const std::vector<EdinburghLabel>& EdinburghSequence::labels_at_raw_frame(int f) const {
  if (f < 0) throw Error("negative raw frame " + std::to_string(f));
  return labels(std::min(f / stride_, static_cast<int>(labels_.size()) - 1));
}

cv::Mat EdinburghSequence::read_annotated_frame(int k) {
  const int raw = k * stride_;
  if (k < 0 || k >= static_cast<int>(labels_.size()))
    throw Error("annotated frame " + std::to_string(k) + " out of range in " + ann_.source);
  cv::Mat img;
  if (!video_path_.empty()) {
    if (raw > next_raw_ && raw - next_raw_ <= 64) {  // short skips: decode forward (exact)
      while (next_raw_ < raw) {
        if (!cap_.grab())
          throw Error("missing frame: cannot read raw frame " + std::to_string(next_raw_) + " of '" + video_path_ + "'");
        ++next_raw_;
      }
    } else if (raw != next_raw_) {
      cap_.set(cv::CAP_PROP_POS_FRAMES, raw);
      next_raw_ = raw;
    }
    if (!cap_.read(img) || img.empty())
      throw Error("missing frame: cannot read raw frame " + std::to_string(raw) + " of '" + video_path_ + "'");
    ++next_raw_;
    return img;
  }
  auto it = images_.find(raw);
  if (it == images_.end()) throw Error("missing frame: no image for raw frame " + std::to_string(raw));
  img = cv::imread(it->second, cv::IMREAD_COLOR);
  if (img.empty()) throw Error("cannot read image '" + it->second + "'");
  return img;
}

}  // namespace eh::data
