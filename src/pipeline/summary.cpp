#include "pipeline/summary.h"

#include <algorithm>
#include <cmath>

#include "report/html.h"

namespace eh::pipeline {

// ---- TimelineGrid ---------------------------------------------------------------------------------

TimelineGrid::TimelineGrid(int max_bins, double initial_bin_s)
    : max_bins_(std::max(2, max_bins - max_bins % 2)), bin_s_(initial_bin_s > 0 ? initial_bin_s : 1.0) {}

void TimelineGrid::grow() {
  for (auto& [id, v] : bins_) {
    for (std::size_t k = 0; 2 * k < v.size(); ++k) {
      std::array<float, eh::data::kNumBehaviours> m = v[2 * k];
      if (2 * k + 1 < v.size())
        for (int c = 0; c < eh::data::kNumBehaviours; ++c) m[static_cast<std::size_t>(c)] += v[2 * k + 1][static_cast<std::size_t>(c)];
      v[k] = m;
    }
    v.resize((v.size() + 1) / 2);
  }
  used_ = (used_ + 1) / 2;
  bin_s_ *= 2;
}

void TimelineGrid::add(int id, double t, int label, double seconds) {
  if (!(t >= 0) || label < 0 || label >= eh::data::kNumBehaviours) return;
  int64_t b = static_cast<int64_t>(std::floor(t / bin_s_));
  while (b >= max_bins_) {
    grow();
    b = static_cast<int64_t>(std::floor(t / bin_s_));
  }
  auto& v = bins_[id];
  if (static_cast<int64_t>(v.size()) <= b) v.resize(static_cast<std::size_t>(b + 1), std::array<float, eh::data::kNumBehaviours>{});
  v[static_cast<std::size_t>(b)][static_cast<std::size_t>(label)] += static_cast<float>(seconds);
  used_ = std::max<int>(used_, static_cast<int>(b + 1));
}

std::vector<int> TimelineGrid::labels(int id) const {
  std::vector<int> out(static_cast<std::size_t>(used_), -1);
  const auto it = bins_.find(id);
  if (it == bins_.end()) return out;
  for (std::size_t k = 0; k < it->second.size() && k < out.size(); ++k) {
    const auto& a = it->second[k];
    int best = -1;
    float bv = 0;
    for (int c = 0; c < eh::data::kNumBehaviours; ++c)
      if (a[static_cast<std::size_t>(c)] > bv) bv = a[static_cast<std::size_t>(c)], best = c;
    out[k] = best;
  }
  return out;
}

std::size_t TimelineGrid::bytes() const {
  std::size_t b = 0;
  for (const auto& [id, v] : bins_) b += sizeof(id) + v.capacity() * sizeof(v[0]) + 48;
  return b;
}

// ---- SpreadSlots ------------------------------------------------------------------------------------

int SpreadSlots::offer(double time) {
  if (!t.empty() && time - t.back() < min_interval_s) return -1;
  if (static_cast<int>(t.size()) < max_count) return static_cast<int>(t.size());
  if (max_count < 2) return -1;
  // Full: drop the kept item (not the first) closest to its predecessor; the new one goes last.
  std::size_t drop = 1;
  double best = t[1] - t[0];
  for (std::size_t k = 2; k < t.size(); ++k)
    if (t[k] - t[k - 1] < best) best = t[k] - t[k - 1], drop = k;
  return static_cast<int>(drop);
}

// ---- RunSummary ---------------------------------------------------------------------------------------

RunSummary::RunSummary(int heat_cols, int heat_rows, int max_thumbnails, double thumbnail_interval_s)
    : heat_cols_(std::max(1, heat_cols)),
      heat_rows_(std::max(1, heat_rows)),
      max_thumbs_(std::max(0, max_thumbnails)),
      thumb_interval_s_(thumbnail_interval_s),
      heat_(static_cast<std::size_t>(heat_cols_) * static_cast<std::size_t>(heat_rows_), 0.0) {}

void RunSummary::observe(int id, double t, double dt, const cv::Rect2f& box, int label) {
  AnimalRecord& a = animals_[id];
  if (a.id == 0) {
    a.id = id;
    a.slots.max_count = max_thumbs_;
    a.slots.min_interval_s = thumb_interval_s_;
  }
  ++a.frames;
  a.seen_s += dt;
  if (label >= 0 && label < eh::data::kNumBehaviours) a.budget_s[static_cast<std::size_t>(label)] += dt;
  timeline_.add(id, t, label, dt);
  if (frame_size_.width > 0 && frame_size_.height > 0) {
    const double cx = box.x + box.width / 2, cy = box.y + box.height / 2;
    const int c = std::clamp(static_cast<int>(cx / frame_size_.width * heat_cols_), 0, heat_cols_ - 1);
    const int r = std::clamp(static_cast<int>(cy / frame_size_.height * heat_rows_), 0, heat_rows_ - 1);
    heat_[static_cast<std::size_t>(r * heat_cols_ + c)] += 1;
  }
}

bool RunSummary::wants_thumbnail(int id, double t) {
  auto it = animals_.find(id);
  if (it == animals_.end() || max_thumbs_ == 0) return false;
  const int slot = it->second.slots.offer(t);
  if (slot < 0) return false;
  pending_slot_[id] = slot;
  return true;
}

void RunSummary::add_thumbnail(int id, Thumb th) {
  auto it = animals_.find(id);
  auto ps = pending_slot_.find(id);
  if (it == animals_.end() || ps == pending_slot_.end()) return;
  AnimalRecord& a = it->second;
  const int slot = ps->second;
  pending_slot_.erase(ps);
  if (slot == static_cast<int>(a.thumbs.size())) {
    a.slots.t.push_back(th.t);
    a.thumbs.push_back(std::move(th));
  } else if (slot > 0 && slot < static_cast<int>(a.thumbs.size())) {
    a.slots.t.erase(a.slots.t.begin() + slot);
    a.thumbs.erase(a.thumbs.begin() + slot);
    a.slots.t.push_back(th.t);
    a.thumbs.push_back(std::move(th));
  }
}

void RunSummary::memory_point(int64_t frame, double t, double rss_mb, double caches_mb) {
  constexpr std::size_t kMaxPoints = 600;
  if (mem_calls_++ % mem_every_ != 0) return;
  mf_.push_back(static_cast<double>(frame));
  mt_.push_back(t);
  mrss_.push_back(rss_mb);
  mcache_.push_back(caches_mb);
  if (mf_.size() >= kMaxPoints) {
    auto half = [](std::vector<double>& v) {
      std::size_t j = 0;
      for (std::size_t k = 0; k < v.size(); k += 2) v[j++] = v[k];
      v.resize(j);
    };
    half(mf_), half(mt_), half(mrss_), half(mcache_);
    mem_every_ *= 2;
  }
}

nlohmann::json RunSummary::animals_json() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& [id, a] : animals_) {
    nlohmann::json j;
    j["id"] = id;
    j["frames"] = a.frames;
    j["seen_s"] = a.seen_s;
    j["budget_s"] = a.budget_s;
    j["timeline"] = timeline_.labels(id);
    nlohmann::json th = nlohmann::json::array();
    for (const auto& t : a.thumbs)
      th.push_back({{"t", t.t}, {"width", t.width}, {"height", t.height}, {"jpeg_base64", eh::report::base64(t.jpeg)}});
    j["thumbnails"] = th;
    arr.push_back(j);
  }
  return arr;
}

nlohmann::json RunSummary::timeline_json() const {
  return {{"bin_s", timeline_.bin_s()}, {"bins", timeline_.bins_used()}};
}

nlohmann::json RunSummary::heatmap_json(double ppm) const {
  return {{"cols", heat_cols_},
          {"rows", heat_rows_},
          {"width_px", frame_size_.width},
          {"height_px", frame_size_.height},
          {"pixels_per_metre", ppm},
          {"counts", heat_}};
}

nlohmann::json RunSummary::memory_series_json() const {
  return {{"frame", mf_}, {"t", mt_}, {"rss_mb", mrss_}, {"caches_mb", mcache_}};
}

std::size_t RunSummary::bytes() const {
  std::size_t b = heat_.capacity() * sizeof(double) + timeline_.bytes();
  for (const auto& [id, a] : animals_) {
    b += sizeof(a) + 48;
    for (const auto& t : a.thumbs) b += t.jpeg.capacity() + sizeof(t);
  }
  b += (mf_.capacity() + mt_.capacity() + mrss_.capacity() + mcache_.capacity()) * sizeof(double);
  return b;
}

}  // namespace eh::pipeline
