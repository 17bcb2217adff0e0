#include "video/session.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>

#include "core/error.h"
#include "data/mot_io.h"
#include "video/memory.h"

namespace eh::video {

void SessionConfig::validate() const {
  tracker.validate();
  if (window < 1) throw eh::UsageError(fmt::format("session: window must be >= 1, got {}", window));
  if (window < tracker.min_hits)
    throw eh::UsageError(fmt::format("session: window ({}) must be >= min_hits ({}) so late-confirmed rows are kept",
                                     window, tracker.min_hits));
  if (max_anchors < 0) throw eh::UsageError("session: max_anchors must be >= 0");
  if (anchor_spacing < 1) throw eh::UsageError("session: anchor_spacing must be >= 1");
}

namespace {

struct WindowFrame {
  int64_t index = 0;
  double t = 0;
  cv::Mat image;
  eh::track::Detections dets;  // RLE masks and embeddings (full-frame masks converted)
  std::vector<int> ids;        // per instance, 0 = not (yet) part of a confirmed track

  std::size_t image_bytes() const { return image.empty() ? 0 : image.total() * image.elemSize(); }
};

struct Anchor {
  int64_t frame = 0;
  cv::Rect2f box;
  float score = 0;
  double quality = 0;
  eh::data::Rle mask;
  std::vector<float> embedding;
  std::size_t bytes() const {
    return sizeof(*this) + mask.counts.capacity() * sizeof(uint32_t) + embedding.capacity() * sizeof(float);
  }
};

struct ObjectMemory {
  std::deque<std::pair<int64_t, int>> recent;  // (frame, instance index) inside the window
  std::vector<Anchor> anchors;
};

}  // namespace

struct Session::Impl {
  std::shared_ptr<const Segmenter> model;
  SessionConfig cfg;
  Sink sink;
  eh::track::Tracker tracker;
  std::deque<WindowFrame> window;
  std::deque<WindowFrame> archive;  // prune = false only
  std::map<int, ObjectMemory> objects;
  SessionStats stats;
  double last_t = -1e300;

  Impl(std::shared_ptr<const Segmenter> m, const SessionConfig& c, Sink s)
      : model(std::move(m)), cfg(c), sink(std::move(s)), tracker(c.tracker) {}

  WindowFrame* find(int64_t index) {
    for (auto it = window.rbegin(); it != window.rend(); ++it)
      if (it->index == index) return &*it;
    return nullptr;
  }

  void remember(int id, const WindowFrame& wf, int j) {
    ObjectMemory& om = objects[id];
    om.recent.emplace_back(wf.index, j);
    if (cfg.max_anchors == 0 && cfg.prune) return;
    Anchor a;
    a.frame = wf.index;
    a.box = wf.dets.boxes[j];
    a.score = wf.dets.scores[j];
    const double area = !wf.dets.rles.empty() ? static_cast<double>(wf.dets.rles[j].area())
                                              : static_cast<double>(a.box.area());
    a.quality = a.score * std::sqrt(std::max(area, 0.0));
    auto fill = [&](Anchor& x) {
      if (!wf.dets.rles.empty()) x.mask = wf.dets.rles[j];
      if (!wf.dets.embeddings.empty()) x.embedding = wf.dets.embeddings[j];
    };
    if (!cfg.prune) {  // upstream-like: every entry is kept
      fill(a);
      om.anchors.push_back(std::move(a));
      return;
    }
    if (om.anchors.empty()) {  // first sighting
      fill(a);
      om.anchors.push_back(std::move(a));
      return;
    }
    for (const Anchor& x : om.anchors)
      if (std::llabs(x.frame - a.frame) < cfg.anchor_spacing) return;
    if (static_cast<int>(om.anchors.size()) < cfg.max_anchors) {
      fill(a);
      om.anchors.push_back(std::move(a));
      return;
    }
    // Full: replace the weakest anchor other than the first sighting, if the new one is better.
    std::size_t worst = 0;
    for (std::size_t k = 1; k < om.anchors.size(); ++k)
      if (worst == 0 || om.anchors[k].quality < om.anchors[worst].quality) worst = k;
    if (worst > 0 && a.quality > om.anchors[worst].quality) {
      fill(a);
      om.anchors[worst] = std::move(a);
    }
  }

  void emit(WindowFrame& wf, bool move) {
    FrameOutput out;
    out.frame = wf.index;
    out.t = wf.t;
    for (std::size_t j = 0; j < wf.ids.size(); ++j) {
      if (wf.ids[j] <= 0) continue;
      ObjectOutput o;
      o.id = wf.ids[j];
      o.box = wf.dets.boxes[j];
      o.score = wf.dets.scores[j];
      if (cfg.keep_masks && !wf.dets.rles.empty())
        o.mask = move ? std::move(wf.dets.rles[j]) : wf.dets.rles[j];
      if (cfg.keep_embeddings && !wf.dets.embeddings.empty())
        o.embedding = move ? std::move(wf.dets.embeddings[j]) : wf.dets.embeddings[j];
      out.objects.push_back(std::move(o));
    }
    std::sort(out.objects.begin(), out.objects.end(), [](const ObjectOutput& a, const ObjectOutput& b) { return a.id < b.id; });
    ++stats.emitted_frames;
    stats.emitted_objects += static_cast<int64_t>(out.objects.size());
    if (sink) sink(out);
  }

  void evict(std::size_t keep) {
    while (window.size() > keep) {
      WindowFrame& wf = window.front();
      if (cfg.prune) {
        emit(wf, true);
        const int64_t gone = wf.index;
        window.pop_front();
        for (auto& [id, om] : objects)
          while (!om.recent.empty() && om.recent.front().first <= gone) om.recent.pop_front();
      } else {
        emit(wf, false);
        archive.push_back(std::move(wf));
        window.pop_front();
      }
    }
  }
};

Session::Session(std::shared_ptr<const Segmenter> model, const SessionConfig& cfg, Sink sink) {
  cfg.validate();
  impl_ = std::make_unique<Impl>(std::move(model), cfg, std::move(sink));
}
Session::~Session() = default;

eh::track::TrackerOutput Session::process(const Frame& frame) {
  if (!impl_->model) throw eh::Error("session: no model to segment with");
  return process(frame, impl_->model->segment(frame));
}

eh::track::TrackerOutput Session::process(const Frame& frame, eh::track::Detections dets) {
  Impl& m = *impl_;
  const double t = std::max(frame.t, m.last_t);
  m.last_t = t;
  eh::track::TrackerOutput out = m.tracker.update(dets, frame.index, t);
  ++m.stats.frames;
  m.stats.instances += static_cast<int64_t>(dets.size());

  WindowFrame wf;
  wf.index = frame.index;
  wf.t = t;
  if (m.cfg.keep_frames) wf.image = frame.image;
  if (!dets.masks.empty()) {  // keep RLE, not full-frame masks
    if (m.cfg.keep_masks) {
      dets.rles.reserve(dets.masks.size());
      for (const auto& mk : dets.masks) dets.rles.push_back(eh::data::rle_encode(mk));
    }
    dets.masks.clear();
    dets.masks.shrink_to_fit();
  }
  if (!m.cfg.keep_masks) dets.rles.clear();
  if (!m.cfg.keep_embeddings) dets.embeddings.clear();
  wf.dets = std::move(dets);
  wf.ids = out.det_ids;
  m.window.push_back(std::move(wf));
  const WindowFrame& cur = m.window.back();
  for (std::size_t j = 0; j < cur.ids.size(); ++j)
    if (cur.ids[j] > 0) m.remember(cur.ids[j], cur, static_cast<int>(j));

  for (const auto& r : out.late) {
    WindowFrame* w = m.find(r.frame);
    if (!w || r.det < 0 || static_cast<std::size_t>(r.det) >= w->ids.size()) {
      ++m.stats.late_rows_missed;
      continue;
    }
    w->ids[static_cast<std::size_t>(r.det)] = r.id;
    m.remember(r.id, *w, r.det);
  }
  if (m.cfg.prune) {
    for (const auto& ev : out.events)
      if (ev.kind == eh::track::TrackEvent::Kind::Retired) m.objects.erase(ev.id);
  }
  m.evict(static_cast<std::size_t>(m.cfg.window));
  return out;
}

void Session::finish() { impl_->evict(0); }

std::vector<eh::track::CacheUsage> Session::memory() const {
  const Impl& m = *impl_;
  eh::track::CacheUsage frames{"session.window.frames", 0, 0}, inst{"session.window.instances", 0, 0};
  for (const auto& wf : m.window) {
    frames.bytes += wf.image_bytes();
    frames.items += wf.image.empty() ? 0 : 1;
    inst.bytes += wf.dets.bytes() + wf.ids.capacity() * sizeof(int);
    inst.items += wf.dets.size();
  }
  eh::track::CacheUsage obj{"session.objects", 0, m.objects.size()};
  for (const auto& [id, om] : m.objects) {
    obj.bytes += sizeof(om) + om.recent.size() * sizeof(std::pair<int64_t, int>);
    for (const auto& a : om.anchors) obj.bytes += a.bytes();
  }
  std::vector<eh::track::CacheUsage> v{frames, inst, obj};
  if (!m.cfg.prune) {
    eh::track::CacheUsage arch{"session.archive", 0, m.archive.size()};
    for (const auto& wf : m.archive) arch.bytes += wf.image_bytes() + wf.dets.bytes() + wf.ids.capacity() * sizeof(int);
    v.push_back(arch);
  }
  for (auto& c : m.tracker.memory()) v.push_back(c);
  return v;
}

const eh::track::Tracker& Session::tracker() const { return impl_->tracker; }
const SessionStats& Session::stats() const { return impl_->stats; }
const SessionConfig& Session::config() const { return impl_->cfg; }

// ---- MotTrackWriter ---------------------------------------------------------------------------

MotTrackWriter::MotTrackWriter(const std::string& path) : path_(path), out_(std::make_unique<std::ofstream>(path)) {
  if (!*out_) throw eh::Error(fmt::format("{}: cannot open for writing", path));
}

void MotTrackWriter::write(const FrameOutput& f) {
  for (const auto& o : f.objects) {
    eh::data::MotRecord r;
    r.frame = static_cast<int>(f.frame + 1);
    r.id = o.id;
    r.x = o.box.x;
    r.y = o.box.y;
    r.w = o.box.width;
    r.h = o.box.height;
    r.conf = o.score;
    *out_ << eh::data::format_mot_line(r, eh::data::MotLayout::Results) << '\n';
    ++rows_;
  }
  if (!*out_) throw eh::Error(fmt::format("{}: write failed", path_));
}

void MotTrackWriter::close() {
  if (out_ && out_->is_open()) {
    out_->close();
    if (out_->fail()) throw eh::Error(fmt::format("{}: write failed", path_));
  }
}

// ---- driver ---------------------------------------------------------------------------------

RunSummary run_stream(ThreadedReader& reader, Session& session, const RunOptions& opt) {
  RunSummary sum;
  std::vector<int64_t> checkpoints = opt.memory_checkpoints;
  std::sort(checkpoints.begin(), checkpoints.end());
  std::size_t next_cp = 0;
  auto snapshot = [&](int64_t frames) {
    if (!opt.on_memory) return;
    MemorySnapshot s;
    s.frames = frames;
    s.caches = reader.memory();
    for (auto& c : session.memory()) s.caches.push_back(c);
    s.rss = process_rss_bytes();
    s.peak_rss = process_peak_rss_bytes();
    opt.on_memory(s);
  };
  while (opt.max_frames < 0 || sum.frames < opt.max_frames) {
    std::optional<ReaderItem> item = reader.next();
    if (!item) break;
    if (!item->frame) {
      if (opt.on_event) opt.on_event(item->event);
      if (item->event.kind == SourceEvent::Kind::Ended) sum.end_reason = item->event.message;
      if (item->event.kind == SourceEvent::Kind::Stalled) sum.end_reason = item->event.message;
      continue;
    }
    const eh::track::TrackerOutput out = session.process(*item->frame);
    if (opt.on_track_event)
      for (const auto& ev : out.events) opt.on_track_event(ev);
    ++sum.frames;
    while (next_cp < checkpoints.size() && checkpoints[next_cp] <= sum.frames) {
      if (checkpoints[next_cp] == sum.frames) snapshot(sum.frames);
      ++next_cp;
    }
    if (opt.on_progress && !opt.on_progress(sum.frames)) {
      sum.cancelled = true;
      sum.end_reason = "cancelled";
      break;
    }
  }
  if (opt.max_frames >= 0 && sum.frames >= opt.max_frames && sum.end_reason.empty())
    sum.end_reason = fmt::format("reached {} frames", opt.max_frames);
  reader.stop();
  session.finish();
  sum.reader = reader.stats();
  return sum;
}

}  // namespace eh::video
