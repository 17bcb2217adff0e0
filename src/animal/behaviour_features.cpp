#include "animal/behaviour_features.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace eh::animal {

namespace {

const std::vector<std::string> kNames = {
    "body_len_over_width",  // track's median box long side / frame width
    "speed_1f", "speed_0.5s", "speed_1s", "speed_3s",  // displacement / (dt * body length)
    "speed_max_1s", "speed_std_1s", "speed_mean_3s",
    "turn_cos", "turn_sin_abs",  // heading change between the last two half-seconds
    "log_aspect", "log_area_rel", "log_aspect_rel",  // vs the track's 3 s median
    "d_log_aspect_0.5s", "d_log_aspect_1s", "d_log_area_1s",
    "box_w_std_2s", "box_h_std_2s", "mask_len_std_2s",  // outline jitter: a feeding head bobs, a standing one looks around
    "box_w_std_10s", "box_h_std_10s", "mask_len_std_10s",  // over 10 s: a lying or drinking pig holds still, a standing one does not
    "mask_fill", "mask_fill_rel", "has_mask",
    "mask_elong", "mask_elong_rel", "mask_major_over_len", "mask_compact",  // outline: posture from above
    "elong_vs_walking", "log_area_vs_walking", "walking_ref_age",  // vs the outline while walking
    "history_s", "since_moving_s",
    "cx", "cy", "x0", "y0", "x1", "y1",
    "feeder_dist", "feeder_dx", "feeder_dy",
    "drinker0_dist", "drinker0_dx", "drinker0_dy",
    "drinker1_dist", "drinker1_dx", "drinker1_dy",
    "toy_dist", "toy_dx", "toy_dy",
};

float median(std::vector<float> v) {
  if (v.empty()) return 0;
  const size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  return v[m];
}

// Distance from a rectangle to a point (0 inside).
float rect_point_dist(const cv::Rect2f& r, cv::Point2f p) {
  const float dx = std::max({r.x - p.x, 0.0f, p.x - (r.x + r.width)});
  const float dy = std::max({r.y - p.y, 0.0f, p.y - (r.y + r.height)});
  return std::hypot(dx, dy);
}
float rect_rect_dist(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float dx = std::max({a.x - (b.x + b.width), 0.0f, b.x - (a.x + a.width)});
  const float dy = std::max({a.y - (b.y + b.height), 0.0f, b.y - (a.y + a.height)});
  return std::hypot(dx, dy);
}

cv::Rect2f rect_from_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_array() || j.size() != 4) throw Error(what + ": expected [x, y, w, h], found " + j.dump());
  return {j[0].get<float>(), j[1].get<float>(), j[2].get<float>(), j[3].get<float>()};
}
cv::Point2f point_from_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_array() || j.size() != 2) throw Error(what + ": expected [x, y], found " + j.dump());
  return {j[0].get<float>(), j[1].get<float>()};
}

}  // namespace

int num_motion_features() { return static_cast<int>(kNames.size()); }
const std::vector<std::string>& motion_feature_names() { return kNames; }

PenLandmarks PenLandmarks::from_layout(const eh::data::PenLayout& l) {
  const float W = static_cast<float>(l.image_size.width), H = static_cast<float>(l.image_size.height);
  PenLandmarks n;
  n.feeder = {l.feeder.x / W, l.feeder.y / H, l.feeder.width / W, l.feeder.height / H};
  for (const auto& d : l.drinkers) n.drinkers.emplace_back((d.x + d.width / 2) / W, (d.y + d.height / 2) / H);
  n.toy = {l.toy.x / W, l.toy.y / H};
  return n;
}

PenLandmarks PenLandmarks::from_json(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object()) throw Error(label + ": field 'pen': expected an object {feeder, drinkers, toy}");
  for (auto k : {"feeder", "drinkers", "toy"})
    if (!j.contains(k)) throw Error(label + ": field 'pen." + std::string(k) + "' is missing");
  try {
    PenLandmarks n;
    n.feeder = rect_from_json(j.at("feeder"), label + ": pen.feeder");
    if (!j.at("drinkers").is_array() || j.at("drinkers").size() != 2)
      throw Error(label + ": pen.drinkers: expected 2 points, found " + j.at("drinkers").dump());
    for (const auto& d : j.at("drinkers")) n.drinkers.push_back(point_from_json(d, label + ": pen.drinkers"));
    n.toy = point_from_json(j.at("toy"), label + ": pen.toy");
    return n;
  } catch (const nlohmann::json::exception& e) {
    throw Error(label + ": field 'pen': " + e.what());
  }
}

nlohmann::json PenLandmarks::to_json() const {
  nlohmann::json d = nlohmann::json::array();
  for (const auto& p : drinkers) d.push_back({p.x, p.y});
  return {{"feeder", {feeder.x, feeder.y, feeder.width, feeder.height}}, {"drinkers", d}, {"toy", {toy.x, toy.y}}};
}

TrackHistory::Landmarks landmarks_in_pixels(const PenLandmarks& n, cv::Size frame) {
  const float W = static_cast<float>(frame.width), H = static_cast<float>(frame.height);
  TrackHistory::Landmarks l;
  l.frame = frame;
  l.feeder = {n.feeder.x * W, n.feeder.y * H, n.feeder.width * W, n.feeder.height * H};
  for (const auto& d : n.drinkers) l.drinkers.emplace_back(d.x * W, d.y * H);
  l.toy = {n.toy.x * W, n.toy.y * H};
  return l;
}

void TrackHistory::push_and_features(double t, const cv::Rect2f& box, const MaskShape& shape, float* out) {
  if (!lm) throw Error("behaviour features: landmarks not set");
  if (!h_.empty() && (t - h_.back().t > reset_gap_s || t < h_.back().t)) {
    h_.clear();
    last_moving_t_ = -1;
  }
  h_.push_back({t, box.x + box.width / 2, box.y + box.height / 2, std::max(box.width, 1.0f), std::max(box.height, 1.0f), shape});
  while (h_.size() > 1 && t - h_.front().t > 10.5) h_.pop_front();
  const Obs& c = h_.back();
  const float W = static_cast<float>(lm->frame.width), H = static_cast<float>(lm->frame.height);
  // The visible mask's area (log pixels) when it has any: compared with the walking outline.
  const bool has_outline = c.shape.has_mask() && c.shape.fill > 0;
  const float log_mask_area = has_outline ? std::log(std::max(c.shape.fill * c.w * c.h, 1.0f)) : 0.0f;

  // Recent (3 s) medians: body length, area, aspect, fill.
  std::vector<float> len, area, asp, fl, el;
  for (const auto& o : h_)
    if (t - o.t <= 3.0 + 1e-6) {
      len.push_back(std::max(o.w, o.h));
      area.push_back(o.w * o.h);
      asp.push_back(std::log(o.w / o.h));
      if (o.shape.has_mask()) {
        fl.push_back(o.shape.fill);
        el.push_back(o.shape.elong);
      }
    }
  const float L = std::max(median(len), 4.0f);
  // Observation at about `lag` seconds ago (the oldest one if the history is shorter).
  auto at_lag = [&](double lag) -> const Obs* {
    if (h_.size() < 2) return nullptr;
    for (auto it = h_.rbegin() + 1; it != h_.rend(); ++it)
      if (t - it->t >= lag - 1e-3) return &*it;
    return &h_.front();
  };
  auto speed = [&](const Obs* o) -> float {
    if (!o || t - o->t <= 0) return 0.0f;
    return static_cast<float>(std::hypot(c.cx - o->cx, c.cy - o->cy) / ((t - o->t) * L));
  };
  // Frame-to-frame speeds within a window.
  auto frame_speeds = [&](double win) {
    std::vector<float> s;
    for (size_t i = h_.size() - 1; i >= 1; --i) {
      const Obs &a = h_[i], &b = h_[i - 1];
      if (t - b.t > win + 1e-6) break;
      if (a.t > b.t) s.push_back(static_cast<float>(std::hypot(a.cx - b.cx, a.cy - b.cy) / ((a.t - b.t) * L)));
    }
    return s;
  };
  int k = 0;
  out[k++] = L / W;
  const Obs* prev = h_.size() >= 2 ? &h_[h_.size() - 2] : nullptr;
  out[k++] = speed(prev);
  out[k++] = speed(at_lag(0.5));
  out[k++] = speed(at_lag(1.0));
  out[k++] = speed(at_lag(3.0));
  {
    const auto s1 = frame_speeds(1.0);
    float mx = 0, mean = 0, var = 0;
    for (float v : s1) {
      mx = std::max(mx, v);
      mean += v;
    }
    if (!s1.empty()) mean /= s1.size();
    for (float v : s1) var += (v - mean) * (v - mean);
    if (!s1.empty()) var /= s1.size();
    out[k++] = mx;
    out[k++] = std::sqrt(var);
    const auto s3 = frame_speeds(3.0);
    float m3 = 0;
    for (float v : s3) m3 += v;
    out[k++] = s3.empty() ? 0.0f : m3 / s3.size();
    if (!s1.empty() && s1[0] > 0.25f) last_moving_t_ = t;
    // Walking (at least half a body length per second over the last half-second): update the
    // animal's upright outline (exponential average over walking frames).
    if (has_outline && speed(at_lag(0.5)) > 0.5f) {
      const float a = walk_.t < 0 ? 1.0f : 0.2f;
      walk_.elong += a * (c.shape.elong - walk_.elong);
      walk_.log_area += a * (log_mask_area - walk_.log_area);
      walk_.t = t;
    }
  }
  {
    const Obs* a = at_lag(0.5);
    const Obs* b = at_lag(1.0);
    float tc = 1, ts = 0;
    if (a && b && a != b) {
      const float ux = c.cx - a->cx, uy = c.cy - a->cy, vx = a->cx - b->cx, vy = a->cy - b->cy;
      const float nu = std::hypot(ux, uy), nv = std::hypot(vx, vy);
      if (nu > 0.03f * L && nv > 0.03f * L) {
        tc = (ux * vx + uy * vy) / (nu * nv);
        ts = std::fabs(ux * vy - uy * vx) / (nu * nv);
      }
    }
    out[k++] = tc;
    out[k++] = ts;
  }
  const float la = std::log(c.w / c.h);
  out[k++] = la;
  out[k++] = std::log(c.w * c.h / std::max(median(area), 1.0f));
  out[k++] = la - median(asp);
  {
    const Obs* a = at_lag(0.5);
    const Obs* b = at_lag(1.0);
    out[k++] = a ? std::fabs(la - std::log(a->w / a->h)) : 0.0f;
    out[k++] = b ? std::fabs(la - std::log(b->w / b->h)) : 0.0f;
    out[k++] = b ? std::fabs(std::log(c.w * c.h / (b->w * b->h))) : 0.0f;
  }
  // Outline jitter: standard deviations of the box's width and height and of the mask's length
  // over the last `win` seconds, in body lengths. A pig at the trough that eats moves its head
  // down and up (~0.6 Hz); one that only stands there does not (2 s). A standing pig looks
  // around every few seconds; a lying one, or one drinking, holds still (10 s).
  auto jitter = [&](double win) {
    double n = 0, sw = 0, sw2 = 0, sh = 0, sh2 = 0, sm = 0, sm2 = 0, nm = 0;
    for (auto it = h_.rbegin(); it != h_.rend() && t - it->t <= win + 1e-6; ++it) {
      ++n;
      sw += it->w, sw2 += double(it->w) * it->w, sh += it->h, sh2 += double(it->h) * it->h;
      if (it->shape.has_mask()) ++nm, sm += 4 * it->shape.major, sm2 += 16.0 * it->shape.major * it->shape.major;
    }
    auto sd = [](double s1, double s2, double cnt) { return cnt < 2 ? 0.0 : std::sqrt(std::max(0.0, s2 / cnt - (s1 / cnt) * (s1 / cnt))); };
    out[k++] = static_cast<float>(sd(sw, sw2, n) / L);
    out[k++] = static_cast<float>(sd(sh, sh2, n) / L);
    out[k++] = static_cast<float>(sd(sm, sm2, nm) / L);
  };
  jitter(2.0);
  jitter(10.0);
  const MaskShape& m = c.shape;
  out[k++] = m.has_mask() ? m.fill : 0.0f;
  out[k++] = m.has_mask() && !fl.empty() ? m.fill - median(fl) : 0.0f;
  out[k++] = m.has_mask() ? 1.0f : 0.0f;
  out[k++] = m.has_mask() ? m.elong : 0.0f;
  out[k++] = m.has_mask() && !el.empty() ? m.elong - median(el) : 0.0f;
  out[k++] = m.has_mask() ? 4 * m.major / L : 0.0f;  // 4 sigma = the length of a uniform ellipse
  out[k++] = m.has_mask() ? m.compact : 0.0f;
  const bool ref = has_outline && walk_.t >= 0;
  out[k++] = ref ? m.elong - walk_.elong : 0.0f;
  out[k++] = ref ? log_mask_area - walk_.log_area : 0.0f;
  out[k++] = walk_.t < 0 ? 1.0f : static_cast<float>(std::min(600.0, t - walk_.t) / 600.0);
  out[k++] = static_cast<float>(std::min(3.0, t - h_.front().t) / 3.0);
  out[k++] = static_cast<float>(last_moving_t_ < 0 ? 1.0 : std::min(60.0, t - last_moving_t_) / 60.0);
  const cv::Rect2f b(c.cx - c.w / 2, c.cy - c.h / 2, c.w, c.h);
  out[k++] = c.cx / W;
  out[k++] = c.cy / H;
  out[k++] = b.x / W;
  out[k++] = b.y / H;
  out[k++] = (b.x + b.width) / W;
  out[k++] = (b.y + b.height) / H;
  const cv::Point2f fc(lm->feeder.x + lm->feeder.width / 2, lm->feeder.y + lm->feeder.height / 2);
  out[k++] = rect_rect_dist(b, lm->feeder) / L;
  out[k++] = (fc.x - c.cx) / L;
  out[k++] = (fc.y - c.cy) / L;
  for (size_t d = 0; d < 2; ++d) {
    const cv::Point2f p = d < lm->drinkers.size() ? lm->drinkers[d] : cv::Point2f(-1e4f, -1e4f);
    out[k++] = std::min(rect_point_dist(b, p) / L, 20.0f);
    out[k++] = std::clamp((p.x - c.cx) / L, -20.0f, 20.0f);
    out[k++] = std::clamp((p.y - c.cy) / L, -20.0f, 20.0f);
  }
  out[k++] = rect_point_dist(b, lm->toy) / L;
  out[k++] = (lm->toy.x - c.cx) / L;
  out[k++] = (lm->toy.y - c.cy) / L;
}

}  // namespace eh::animal
