#include "data/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/pen_render.h"
#include "data/rng.h"

namespace eh::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

double wrap_angle(double a) {
  while (a > kPi) a -= 2 * kPi;
  while (a < -kPi) a += 2 * kPi;
  return a;
}

float round4(double v) { return static_cast<float>(std::round(v * 10000.0) / 10000.0); }

// Activities of the Markov model. Travelling to where an activity happens is labelled moving
// (or running); Explore is a visit to the out-of-view alley.
enum Act : int { kLie = 0, kStand, kSit, kWander, kRun, kEat, kDrink, kPlay, kExplore, kNumActs };

Behaviour label_of(Act a) {
  switch (a) {
    case kLie: return Behaviour::Lying;
    case kStand: return Behaviour::Standing;
    case kSit: return Behaviour::NotMoving;
    case kWander: return Behaviour::Moving;
    case kRun: return Behaviour::Running;
    case kEat: return Behaviour::Eating;
    case kDrink: return Behaviour::Drinking;
    case kPlay: return Behaviour::Playing;
    case kExplore: return Behaviour::Standing;
    default: return Behaviour::Unknown;
  }
}

// Transition weights: row = finished activity, column = next activity.
//                                 lie   stand  sit  wander run   eat   drink play  explore
const double kTrans[kNumActs][kNumActs] = {
    /* lie     */ {0.00, 0.50, 0.22, 0.12, 0.00, 0.09, 0.05, 0.00, 0.02},
    /* stand   */ {0.26, 0.00, 0.08, 0.24, 0.02, 0.16, 0.09, 0.07, 0.08},
    /* sit     */ {0.40, 0.35, 0.00, 0.20, 0.00, 0.03, 0.02, 0.00, 0.00},
    /* wander  */ {0.22, 0.32, 0.05, 0.06, 0.02, 0.14, 0.09, 0.05, 0.05},
    /* run     */ {0.02, 0.45, 0.00, 0.30, 0.00, 0.00, 0.03, 0.20, 0.00},
    /* eat     */ {0.10, 0.40, 0.02, 0.25, 0.00, 0.00, 0.23, 0.00, 0.00},
    /* drink   */ {0.20, 0.38, 0.02, 0.30, 0.00, 0.10, 0.00, 0.00, 0.00},
    /* play    */ {0.06, 0.32, 0.00, 0.30, 0.25, 0.02, 0.05, 0.00, 0.00},
    /* explore */ {0.00, 0.00, 0.00, 1.00, 0.00, 0.00, 0.00, 0.00, 0.00},
};

// Mean bout durations (s) and coefficient of variation.
const double kMeanDur[kNumActs] = {300, 18, 14, 0, 0, 75, 14, 10, 25};
const double kCvDur[kNumActs] = {0.8, 0.8, 0.7, 0, 0, 0.6, 0.5, 0.6, 0.8};

// Activity level by clock hour (pigs are diurnal with morning and afternoon peaks).
double diurnal_activity(double hour) {
  const double h = std::fmod(std::fmod(hour, 24.0) + 24.0, 24.0);
  auto ramp = [](double x, double x0, double x1, double y0, double y1) {
    return y0 + (y1 - y0) * std::clamp((x - x0) / (x1 - x0), 0.0, 1.0);
  };
  if (h < 6) return 0.25;
  if (h < 8) return ramp(h, 6, 8, 0.25, 1.15);
  if (h < 12) return ramp(h, 8, 12, 1.15, 1.0);
  if (h < 15) return 0.8;
  if (h < 19) return 1.1;
  if (h < 21) return ramp(h, 19, 21, 1.1, 0.25);
  return 0.25;
}

struct Pig {
  int id = 0;
  detail::PigLook look;
  PigHealth health;
  cv::Point2f pos, prev_pos;
  float heading = 0;
  float speed = 0;
  Posture posture = Posture::Standing;
  int lateral_side = 1;
  float bend = 0, bend_target = 0;
  float head_yaw = 0, head_yaw_target = 0, head_bob = 0;
  double yaw_timer = 0;
  float gait_phase = 0;
  Act act = kStand;     // current (or next, while travelling/aligning) activity
  Behaviour label = Behaviour::Standing;
  bool travelling = false, aligning = false, running = false, want_heading = false;
  cv::Point2f target;
  float target_heading = 0;
  double time_left = 0, travel_time = 0, burst_left = 0, anim_phase = 0;
  float best_dist = 1e9f;   // closest approach to the current target
  double stuck_time = 0;    // time without getting closer
  int slot = -1;        // feeder space or drinker index held
  int partner = -1;     // play partner (index)
  float turn_rate = 0;
  float length() const { return look.length_px * health.growth; }
  float width() const {
    float w = look.width_ratio * length();
    if (posture == Posture::LyingSternal) w *= 1.10f;
    if (posture == Posture::LyingLateral) w *= 1.32f;
    return w;
  }
  bool lying() const { return posture == Posture::LyingSternal || posture == Posture::LyingLateral; }
};

struct LightEvent {
  double t0 = 0, t1 = 0;
  int kind = 0;  // 0 lights off (IR), 1 dimming, 2 flicker
  float amount = 1;
};

}  // namespace

const char* posture_name(Posture p) {
  switch (p) {
    case Posture::Standing: return "standing";
    case Posture::Sitting: return "sitting";
    case Posture::LyingSternal: return "lying_sternal";
    case Posture::LyingLateral: return "lying_lateral";
  }
  return "unknown";
}

PenLayout make_pen_layout(cv::Size size) {
  PenLayout L;
  const float W = static_cast<float>(size.width), H = static_cast<float>(size.height);
  L.image_size = size;
  L.pixels_per_metre = 280.0f * std::min(W / 1280.0f, H / 720.0f);
  const float ppm = L.pixels_per_metre;
  L.view = cv::Rect2f(0, 0, W, H);
  const float top = std::round(0.055f * H), left = std::round(0.045f * W), bottom = std::round(0.07f * H);
  const float alley_w = std::round(1.25f * ppm);
  L.pen = cv::Rect2f(left, top, W + alley_w - left, H - top - bottom);
  L.alley = cv::Rect2f(W, top, alley_w, H - top - bottom);
  const float fw = std::round(0.9f * ppm), fh = std::round(0.26f * ppm);
  L.feeder = cv::Rect2f(std::round(0.45f * W - fw / 2), std::round(H - bottom - fh), fw, fh);
  L.feeder_spaces = 3;
  const float dw = std::max(4.0f, std::round(0.07f * ppm)), dh = std::max(4.0f, std::round(0.10f * ppm));
  L.drinkers.push_back(cv::Rect2f(left, std::round(H - bottom - 0.55f * ppm - dh / 2), dw, dh));  // left wall
  L.drinkers.push_back(cv::Rect2f(std::round(0.76f * W - dh / 2), H - bottom - dw, dh, dw));     // bottom wall
  L.toy = cv::Point2f(std::round(0.58f * W), std::round(top + 0.28f * ppm));
  L.resting_area = cv::Rect2f(left, top, std::round(0.50f * W - left), std::round(0.72f * (H - top - bottom)));
  L.slatted_area = cv::Rect2f(std::round(0.68f * W), top, W + alley_w - std::round(0.68f * W), H - top - bottom);
  return L;
}

// ---------------------------------------------------------------------------------------------

struct PenSimulator::Impl {
  SimConfig cfg;
  PenLayout layout;
  float scale = 1;
  double dt = 1.0 / 6;
  int frame_idx = -1;
  Rng dyn;        // dynamics (ground truth depends only on this and the appearances)
  Rng render_rng; // noise offsets, flicker
  Rng light_rng;  // lighting events
  std::vector<Pig> pigs;
  std::vector<int> feeder_owner;
  std::vector<int> drinker_owner;
  float toy_swing = 0, toy_vel = 0;

  detail::Background bg;
  cv::Mat noise_lo_pos, noise_lo_neg, noise_hi_pos, noise_hi_neg;  // (H+32)x(W+32) CV_8UC3
  cv::Mat frame, gray;
  cv::Mat id_map;  // instance map: pixel = id of the pig visible there
  std::vector<GtObject> all, visible;
  std::vector<LightEvent> events;
  double next_event_t = 0;
  LightingState light;

  explicit Impl(const SimConfig& c);
  void init_pigs();
  void step_dynamics();
  void update_pig(Pig& p);
  void travel(Pig& p);
  void arrive(Pig& p);
  void start_activity(Pig& p, Act a);
  void choose_next(Pig& p);
  void plan(Pig& p, Act a);
  void release(Pig& p);
  bool lying_spot(const Pig& p, cv::Point2f* pos, float* heading);
  cv::Point2f random_floor_point(bool in_view, float margin);
  void separate();
  void clamp_to_pen(Pig& p);
  double duration(const Pig& p, Act a);
  void update_lighting();
  void render_and_gt();
  void apply_camera();
};

PenSimulator::Impl::Impl(const SimConfig& c)
    : cfg(c),
      dyn(derive_seed(c.seed, 1)),
      render_rng(derive_seed(c.seed, 2)),
      light_rng(derive_seed(c.seed, 3)) {
  if (cfg.num_pigs < 1 || cfg.num_pigs > 64) throw Error("simulator: num_pigs must be in 1..64, got " + std::to_string(cfg.num_pigs));
  if (cfg.size.width < 160 || cfg.size.height < 90 || cfg.size.width > 7680 || cfg.size.height > 4320)
    throw Error("simulator: image size " + std::to_string(cfg.size.width) + "x" + std::to_string(cfg.size.height) +
                " outside 160x90..7680x4320");
  if (!(cfg.fps > 0.5 && cfg.fps <= 120)) throw Error("simulator: fps must be in (0.5, 120]");
  if (!(cfg.activity > 0.05 && cfg.activity < 20)) throw Error("simulator: activity must be in (0.05, 20)");
  if (cfg.render_every < 1) throw Error("simulator: render_every must be >= 1, got " + std::to_string(cfg.render_every));
  if (cfg.jpeg_quality < 0 || cfg.jpeg_quality > 100) throw Error("simulator: jpeg_quality must be in 0..100");
  dt = 1.0 / cfg.fps;
  layout = make_pen_layout(cfg.size);
  scale = layout.pixels_per_metre / 280.0f;
  feeder_owner.assign(layout.feeder_spaces, -1);
  drinker_owner.assign(layout.drinkers.size(), -1);
  init_pigs();

  if (cfg.render) {
    bg = detail::make_background(layout, derive_seed(c.appearance_seed ? c.appearance_seed : c.seed, 7));
    // Sensor noise tiles (triangular noise from raw draws), shifted every frame.
    const int th = cfg.size.height + 32, tw = cfg.size.width + 32;
    Rng nr(derive_seed(c.seed, 4));
    auto make_tiles = [&](float sigma, cv::Mat& pos, cv::Mat& neg) {
      pos.create(th, tw, CV_8UC3);
      neg.create(th, tw, CV_8UC3);
      for (int y = 0; y < th; ++y) {
        uchar* p = pos.ptr<uchar>(y);
        uchar* n = neg.ptr<uchar>(y);
        for (int x = 0; x < tw * 3; x += 4) {
          uint64_t r = nr.next_u64();
          for (int k = 0; k < 4 && x + k < tw * 3; ++k, r >>= 16) {
            const float v = static_cast<float>(static_cast<int>(r & 0xff) + static_cast<int>((r >> 8) & 0xff) - 255) * (sigma / 104.4f);
            const int iv = static_cast<int>(std::lround(v));
            p[x + k] = static_cast<uchar>(std::clamp(iv, 0, 255));
            n[x + k] = static_cast<uchar>(std::clamp(-iv, 0, 255));
          }
        }
      }
    };
    make_tiles(2.6f, noise_lo_pos, noise_lo_neg);
    make_tiles(7.5f, noise_hi_pos, noise_hi_neg);
  }
  next_event_t = cfg.hard_cases ? light_rng.uniform(20.0, 80.0) : 1e300;
}

cv::Point2f PenSimulator::Impl::random_floor_point(bool in_view, float margin) {
  const auto& P = layout.pen;
  const float x1 = in_view ? std::min(P.x + P.width, layout.view.width) : P.x + P.width;
  for (int i = 0; i < 30; ++i) {
    cv::Point2f q(static_cast<float>(dyn.uniform(P.x + margin, x1 - margin)),
                  static_cast<float>(dyn.uniform(P.y + margin, P.y + P.height - margin)));
    // keep clear of the feeder
    const auto& f = layout.feeder;
    if (q.x > f.x - margin * 0.5f && q.x < f.x + f.width + margin * 0.5f && q.y > f.y - margin) continue;
    return q;
  }
  return {P.x + (x1 - P.x) * 0.3f, P.y + P.height * 0.4f};
}

void PenSimulator::Impl::init_pigs() {
  const uint64_t aseed = cfg.appearance_seed ? cfg.appearance_seed : derive_seed(cfg.seed, 5);
  const float base_len = 0.85f * layout.pixels_per_metre;
  pigs.resize(cfg.num_pigs);
  for (int i = 0; i < cfg.num_pigs; ++i) {
    Pig& p = pigs[i];
    p.id = i + 1;
    Rng ar(derive_seed(aseed, 1000 + static_cast<uint64_t>(p.id)));
    p.look = detail::make_pig_look(ar, base_len);
    if (i < static_cast<int>(cfg.health.size())) p.health = cfg.health[i];
  }
  // Initial activities: roughly the stationary mix for this hour and each animal's health
  // (mostly lying), then placed in id order.
  const double act0 = diurnal_activity(cfg.start_hour) * cfg.activity;
  for (auto& p : pigs) {
    const double ill = p.health.illness, lame = p.health.lameness;
    double w[kNumActs] = {0.58, 0.12, 0.03, 0.10, 0.0, 0.13, 0.04, 0.0, 0.0};
    w[kLie] *= (1 + 3.0 * ill + 2.0 * lame) * (1 + 1.5 * ill + lame) / act0;
    w[kEat] *= (1 - 0.75 * ill) * (1 - 0.5 * ill);
    w[kWander] *= (1 - 0.5 * ill) * (1 - 0.6 * lame) * std::min(act0, 1.5);
    w[kSit] *= (1 + 2.0 * lame) * (1 + 0.8 * lame);
    Act a = static_cast<Act>(dyn.categorical(w, kNumActs));
    p.heading = static_cast<float>(dyn.uniform(-kPi, kPi));
    if (a == kEat || a == kDrink) {
      auto& owners = a == kEat ? feeder_owner : drinker_owner;
      int free_slot = -1;
      for (size_t k = 0; k < owners.size(); ++k)
        if (owners[k] < 0) {
          free_slot = static_cast<int>(k);
          break;
        }
      if (free_slot < 0) a = kStand;
    }
    if (a == kLie) {
      cv::Point2f q;
      float h;
      if (!lying_spot(p, &q, &h)) {
        q = random_floor_point(true, 0.5f * p.length());
        h = p.heading;
      }
      p.pos = q;
      p.heading = h;
      start_activity(p, kLie);
    } else if (a == kEat || a == kDrink) {
      plan(p, a);  // reserves a slot and sets the target
      p.pos = p.target;
      p.heading = p.target_heading;
      p.travelling = false;
      start_activity(p, a);
    } else {
      p.pos = random_floor_point(true, 0.55f * p.length());
      if (a == kWander) {
        plan(p, kWander);
      } else {
        start_activity(p, a);
      }
    }
    // Residual life of the bout in progress.
    p.time_left *= dyn.uniform(0.1, 1.0);
    p.prev_pos = p.pos;
    clamp_to_pen(p);
  }
  separate();
  for (auto& p : pigs) p.prev_pos = p.pos;
}

double PenSimulator::Impl::duration(const Pig& p, Act a) {
  const double act = diurnal_activity(cfg.start_hour + (frame_idx < 0 ? 0 : frame_idx) * dt / 3600.0) * cfg.activity;
  double mean = kMeanDur[a];
  const double ill = p.health.illness, lame = p.health.lameness;
  switch (a) {
    case kLie: mean = mean / act * (1 + 1.5 * ill + 1.0 * lame); break;
    case kEat: mean *= (1 - 0.5 * ill); break;
    case kSit: mean *= (1 + 0.8 * lame); break;
    case kPlay: mean *= (1 - 0.5 * ill); break;
    default: break;
  }
  if (mean <= 0) return 1;
  const double mins[kNumActs] = {20, 2, 3, 0, 0, 8, 4, 3, 5};
  return std::max(mins[a], dyn.lognormal_mean_cv(mean, kCvDur[a]));
}

void PenSimulator::Impl::release(Pig& p) {
  if (p.slot >= 0) {
    if (p.act == kEat && p.slot < static_cast<int>(feeder_owner.size()) && feeder_owner[p.slot] == p.id - 1)
      feeder_owner[p.slot] = -1;
    if (p.act == kDrink && p.slot < static_cast<int>(drinker_owner.size()) && drinker_owner[p.slot] == p.id - 1)
      drinker_owner[p.slot] = -1;
  }
  p.slot = -1;
  p.partner = -1;
}

bool PenSimulator::Impl::lying_spot(const Pig& p, cv::Point2f* pos, float* heading) {
  const float L = p.length(), wl = p.look.width_ratio * L * 1.32f;  // as wide as lateral lying
  // Half-extent of an ellipse (half-axes A along the heading, B across) in direction u.
  const auto radius = [](float A, float B, float h, cv::Point2f u) {
    const float ca = std::cos(h) * u.x + std::sin(h) * u.y;
    const float sa = -std::sin(h) * u.x + std::cos(h) * u.y;
    return A * B / std::sqrt(B * B * ca * ca + A * A * sa * sa);
  };
  const auto ok = [&](cv::Point2f q, float h) {
    const auto& P = layout.pen;
    const float m = 0.45f * L;
    if (q.x < P.x + m || q.x > std::min(P.x + P.width, layout.view.width) - m * 0.6f || q.y < P.y + 0.5f * wl ||
        q.y > P.y + P.height - 0.5f * wl)
      return false;
    const auto& f = layout.feeder;
    if (q.x > f.x - 0.5f * L && q.x < f.x + f.width + 0.5f * L && q.y > f.y - 0.6f * L) return false;
    for (const auto& d : layout.drinkers)
      if (std::hypot(q.x - (d.x + d.width / 2), q.y - (d.y + d.height / 2)) < 0.8f * L) return false;
    if (std::hypot(q.x - layout.toy.x, q.y - layout.toy.y) < 0.7f * L) return false;
    for (const auto& o : pigs) {
      if (o.id == p.id) continue;
      if (o.pos.x == 0 && o.pos.y == 0) continue;  // not placed yet
      const bool o_lies = o.lying() || o.act == kLie;
      const cv::Point2f oq = (o.travelling && o.act == kLie) ? o.target : o.pos;
      const float oh = (o.travelling && o.act == kLie) ? o.target_heading : o.heading;
      cv::Point2f u = oq - q;
      const float d = std::hypot(u.x, u.y);
      if (d < 1e-3f) return false;
      u /= d;
      const float ow = o_lies ? o.look.width_ratio * o.length() * 1.32f : o.width();
      const float need = radius(0.5f * L, 0.5f * wl, h, u) + radius(0.5f * o.length(), 0.5f * ow, oh, -u);
      if (d < (o_lies ? 0.9f : 1.0f) * need) return false;
    }
    return true;
  };
  // Huddle: next to a pig that is lying in view.
  std::vector<int> lyers;
  for (size_t i = 0; i < pigs.size(); ++i)
    if (pigs[i].id != p.id && pigs[i].lying() && pigs[i].pos.x < layout.view.width && !(pigs[i].pos.x == 0 && pigs[i].pos.y == 0))
      lyers.push_back(static_cast<int>(i));
  if (!lyers.empty() && dyn.bernoulli(0.8)) {
    for (int tries = 0; tries < 10; ++tries) {
      const Pig& q = pigs[lyers[static_cast<size_t>(dyn.uniform_int(0, static_cast<int64_t>(lyers.size()) - 1))]];
      const float side = dyn.bernoulli(0.5) ? 1.f : -1.f;
      const bool anti = dyn.bernoulli(0.3);
      const float h = q.heading + (anti ? static_cast<float>(kPi) : 0.f) + static_cast<float>(dyn.normal(0, 0.25));
      const float off = side * 0.5f * (q.width() + wl) * static_cast<float>(dyn.uniform(0.92, 1.02));
      const float along = static_cast<float>(dyn.uniform(-0.25, 0.25)) * L;
      const cv::Point2f n(-std::sin(q.heading), std::cos(q.heading)), t(std::cos(q.heading), std::sin(q.heading));
      const cv::Point2f c = q.pos + n * off + t * along;
      if (ok(c, h)) {
        *pos = c;
        *heading = static_cast<float>(wrap_angle(h));
        return true;
      }
    }
  }
  const auto& R = layout.resting_area;
  for (int tries = 0; tries < 25; ++tries) {
    const cv::Point2f c(static_cast<float>(dyn.uniform(R.x + 0.4 * L, R.x + R.width - 0.2 * L)),
                        static_cast<float>(dyn.uniform(R.y + 0.3 * L, R.y + R.height)));
    const float h = static_cast<float>(dyn.bernoulli(0.6) ? dyn.normal(dyn.bernoulli(0.5) ? 0 : kPi, 0.35) : dyn.uniform(-kPi, kPi));
    if (ok(c, h)) {
      *pos = c;
      *heading = static_cast<float>(wrap_angle(h));
      return true;
    }
  }
  for (int tries = 0; tries < 25; ++tries) {
    const cv::Point2f c = random_floor_point(true, 0.5f * L);
    const float h = static_cast<float>(dyn.uniform(-kPi, kPi));
    if (ok(c, h)) {
      *pos = c;
      *heading = h;
      return true;
    }
  }
  return false;
}

void PenSimulator::Impl::start_activity(Pig& p, Act a) {
  p.act = a;
  p.label = label_of(a);
  p.travelling = false;
  p.aligning = false;
  p.running = false;
  p.time_left = duration(p, a);
  p.head_bob = 0;
  switch (a) {
    case kLie:
      if (!p.lying()) {
        const bool lateral = dyn.bernoulli(0.45);
        p.posture = lateral ? Posture::LyingLateral : Posture::LyingSternal;
        p.lateral_side = dyn.bernoulli(0.5) ? 1 : -1;
        p.bend = p.bend_target = static_cast<float>(dyn.uniform(-0.35, 0.35));
      }
      p.head_yaw_target = static_cast<float>(dyn.normal(0, 0.15));
      break;
    case kSit:
      p.posture = Posture::Sitting;
      break;
    case kExplore:
      p.posture = dyn.bernoulli(0.3) ? Posture::LyingSternal : Posture::Standing;
      p.label = p.posture == Posture::Standing ? Behaviour::Standing : Behaviour::Lying;
      break;
    case kPlay:
      p.posture = Posture::Standing;
      p.burst_left = 0;
      break;
    default:
      p.posture = Posture::Standing;
      break;
  }
  p.speed = (a == kPlay) ? p.speed : 0.0f;
}

void PenSimulator::Impl::plan(Pig& p, Act a) {
  const float L = p.length();
  p.want_heading = false;
  p.running = false;
  p.travel_time = 0;
  auto go = [&](cv::Point2f tgt) {
    p.act = a;
    p.target = tgt;
    p.travelling = true;
    p.best_dist = 1e9f;
    p.stuck_time = 0;
    p.posture = Posture::Standing;
    p.label = p.running ? Behaviour::Running : Behaviour::Moving;
  };
  switch (a) {
    case kLie: {
      cv::Point2f q;
      float h;
      if (!lying_spot(p, &q, &h)) {  // nowhere free: stand and try again later
        start_activity(p, kStand);
        return;
      }
      p.target_heading = h;
      p.want_heading = true;
      if (std::hypot(q.x - p.pos.x, q.y - p.pos.y) < 0.15f * L) {
        p.act = kLie;
        p.target = q;
        arrive(p);
      } else {
        go(q);
      }
      return;
    }
    case kStand:
    case kSit:
      start_activity(p, a);
      return;
    case kWander: {
      const bool from_alley = p.pos.x > layout.view.width;
      cv::Point2f q;
      for (int i = 0; i < 8; ++i) {
        q = random_floor_point(true, 0.65f * L);
        const float d = std::hypot(q.x - p.pos.x, q.y - p.pos.y);
        if (from_alley || (d > 0.5f * L && d < 3.0f * L)) break;
      }
      go(q);
      return;
    }
    case kRun: {
      cv::Point2f q;
      for (int i = 0; i < 8; ++i) {
        q = random_floor_point(true, 0.65f * L);
        if (std::hypot(q.x - p.pos.x, q.y - p.pos.y) > 2.0f * L) break;
      }
      p.running = true;
      go(q);
      return;
    }
    case kEat:
    case kDrink: {
      auto& owners = a == kEat ? feeder_owner : drinker_owner;
      std::vector<int> free_slots;
      for (size_t k = 0; k < owners.size(); ++k)
        if (owners[k] < 0) free_slots.push_back(static_cast<int>(k));
      if (free_slots.empty()) {
        start_activity(p, kStand);
        return;
      }
      const int k = free_slots[static_cast<size_t>(dyn.uniform_int(0, static_cast<int64_t>(free_slots.size()) - 1))];
      owners[k] = p.id - 1;
      p.slot = k;
      const float head_reach = 0.56f * L;  // trunk centre to snout area over the trough
      if (a == kEat) {
        const auto& f = layout.feeder;
        const float x = f.x + (k + 0.5f) * f.width / layout.feeder_spaces;
        p.target = cv::Point2f(x + static_cast<float>(dyn.normal(0, 0.03 * L)), f.y + 0.35f * f.height - head_reach);
        p.target_heading = static_cast<float>(kPi / 2 + dyn.normal(0, 0.08));
      } else {
        const auto& d = layout.drinkers[k];
        const cv::Point2f c(d.x + d.width / 2, d.y + d.height / 2);
        if (k == 0) {  // left wall: face left
          p.target = cv::Point2f(c.x + 0.62f * L, c.y + static_cast<float>(dyn.normal(0, 0.02 * L)));
          p.target_heading = static_cast<float>(kPi);
        } else {  // bottom wall: face down
          p.target = cv::Point2f(c.x + static_cast<float>(dyn.normal(0, 0.02 * L)), c.y - 0.62f * L);
          p.target_heading = static_cast<float>(kPi / 2);
        }
      }
      p.want_heading = true;
      p.act = a;
      go(p.target);
      return;
    }
    case kPlay: {
      // With a partner standing nearby, or with the toy.
      int partner = -1;
      float best = 3.5f * L;
      for (size_t i = 0; i < pigs.size(); ++i) {
        const Pig& o = pigs[i];
        if (o.id == p.id || o.lying() || o.travelling || o.pos.x > layout.view.width) continue;
        if (o.act != kStand && o.act != kSit && o.act != kWander) continue;
        const float d = std::hypot(o.pos.x - p.pos.x, o.pos.y - p.pos.y);
        if (d < best) {
          best = d;
          partner = static_cast<int>(i);
        }
      }
      if (partner >= 0 && dyn.bernoulli(0.6)) {
        Pig& o = pigs[partner];
        p.partner = partner;
        const cv::Point2f dir(std::cos(o.heading), std::sin(o.heading));
        go(o.pos + dir * (0.55f * L));  // head to head
        o.partner = p.id - 1;
        release(o);
        o.partner = p.id - 1;
        start_activity(o, kPlay);
        o.time_left = duration(o, kPlay);
      } else {
        go(layout.toy + cv::Point2f(0, 0.55f * L));
        p.target_heading = static_cast<float>(-kPi / 2);
        p.want_heading = true;
      }
      return;
    }
    case kExplore: {
      const auto& A = layout.alley;
      const cv::Point2f q(static_cast<float>(dyn.uniform(A.x + 0.55 * L, A.x + A.width - 0.5 * L)),
                          static_cast<float>(dyn.uniform(A.y + 0.4 * L, A.y + A.height - 0.4 * L)));
      go(q);
      return;
    }
    default:
      start_activity(p, kStand);
  }
}

void PenSimulator::Impl::choose_next(Pig& p) {
  const Act from = p.act;
  release(p);
  if (from == kExplore) {
    plan(p, kWander);  // come back into view
    return;
  }
  double w[kNumActs];
  for (int i = 0; i < kNumActs; ++i) w[i] = kTrans[from][i];
  const double hour = cfg.start_hour + frame_idx * dt / 3600.0;
  const double act = diurnal_activity(hour) * cfg.activity;
  const double ill = p.health.illness, lame = p.health.lameness;
  w[kLie] /= act;
  for (Act a : {kWander, kRun, kPlay, kExplore}) w[a] *= std::min(act, 1.5);
  w[kEat] *= (1 - 0.75 * ill);
  w[kLie] *= (1 + 3.0 * ill + 2.0 * lame);
  w[kPlay] *= (1 - 0.9 * ill) * (1 - 0.7 * lame);
  w[kRun] *= (1 - 0.9 * ill) * (1 - 0.8 * lame);
  w[kWander] *= (1 - 0.5 * ill) * (1 - 0.6 * lame);
  w[kExplore] *= (1 - 0.6 * lame);
  w[kSit] *= (1 + 2.0 * lame);
  if (!cfg.hard_cases) w[kExplore] = 0;
  const Act next = static_cast<Act>(dyn.categorical(w, kNumActs));
  plan(p, next);
}

void PenSimulator::Impl::arrive(Pig& p) {
  p.travelling = false;
  p.speed = 0;
  if (p.act == kWander || p.act == kRun) {
    const Act a = p.act;
    p.act = a;
    choose_next(p);
    return;
  }
  if (p.want_heading && std::fabs(wrap_angle(p.target_heading - p.heading)) > 0.15) {
    p.aligning = true;
    p.label = Behaviour::Standing;
    return;
  }
  start_activity(p, p.act);
}

void PenSimulator::Impl::travel(Pig& p) {
  const float L = p.length();
  const cv::Point2f d = p.target - p.pos;
  const float dist = std::hypot(d.x, d.y);
  const float lame = p.health.lameness;
  float v = (p.running ? 2.2f : 0.72f) * L * p.look.speed_factor * (1.0f - 0.45f * lame) * (1.0f - 0.3f * p.health.illness);
  if (lame > 0) v *= 1.0f - 0.35f * lame * (0.5f + 0.5f * std::sin(p.gait_phase));
  if (p.act == kPlay && p.partner >= 0) v *= 1.3f;
  p.travel_time += dt;
  if (p.travel_time > 45.0) {  // stuck: give up and stand
    release(p);
    start_activity(p, kStand);
    return;
  }
  const float arrive_r = std::max(2.0f, 0.04f * L);
  if (dist < arrive_r) {
    arrive(p);
    return;
  }
  // Blocked (a wall, the feeder, other pigs): close enough counts, otherwise give up.
  if (dist < p.best_dist - 0.02f * L) {
    p.best_dist = dist;
    p.stuck_time = 0;
  } else {
    p.stuck_time += dt;
  }
  if (p.stuck_time > 1.5) {
    if (p.act == kWander || p.act == kRun || dist < 0.35f * L) {
      arrive(p);
    } else {
      release(p);
      start_activity(p, kStand);
    }
    return;
  }
  // Steering: towards the target, away from upright pigs (and a little from lying ones).
  cv::Point2f dir = d / dist;
  cv::Point2f avoid(0, 0);
  for (const auto& o : pigs) {
    if (o.id == p.id) continue;
    const cv::Point2f r = p.pos - o.pos;
    const float rd = std::hypot(r.x, r.y);
    const float R = 0.75f * (L + o.length()) * 0.5f;
    if (rd < 1e-3f || rd > R) continue;
    if (rd > dist + 0.3f * L) continue;  // not in the way
    const float wgt = (o.lying() ? 0.35f : 1.0f) * (1.0f - rd / R);
    avoid += r / rd * wgt;
  }
  if (dist > 0.6f * L) dir += avoid * 0.9f;
  const float dl = std::hypot(dir.x, dir.y);
  if (dl > 1e-6f) dir /= dl;
  const double want = std::atan2(dir.y, dir.x);
  const double diff = wrap_angle(want - p.heading);
  const double max_turn = (p.running ? 4.2 : 2.6) * dt;
  const double turn = std::clamp(diff, -max_turn, max_turn);
  p.heading = static_cast<float>(wrap_angle(p.heading + turn));
  p.turn_rate = static_cast<float>(turn / dt);
  const float accel = 2.5f * L;
  p.speed += std::clamp(v - p.speed, -accel * static_cast<float>(dt) * 2, accel * static_cast<float>(dt));
  const float sp = p.speed * std::max(0.25f, static_cast<float>(std::cos(std::min(std::fabs(diff), kPi / 2))));
  float step = sp * static_cast<float>(dt);
  if (dist <= step * 1.2f) {
    p.pos = p.target;
  } else {
    p.pos += cv::Point2f(std::cos(p.heading), std::sin(p.heading)) * step;
  }
  p.gait_phase = static_cast<float>(std::fmod(p.gait_phase + 2 * kPi * step / (0.55f * L), 2 * kPi));
  if (dist < 0.8f * L && p.want_heading) {  // final approach: turn towards the wanted heading
    const double hd = wrap_angle(p.target_heading - p.heading);
    const double k = std::clamp(1.0 - dist / (0.8 * L), 0.0, 1.0) * 0.35;
    p.heading = static_cast<float>(wrap_angle(p.heading + hd * k));
  }
}

void PenSimulator::Impl::update_pig(Pig& p) {
  const float L = p.length();
  p.turn_rate = 0;
  if (p.aligning) {
    const double diff = wrap_angle(p.target_heading - p.heading);
    const double max_turn = 2.2 * dt;
    p.heading = static_cast<float>(wrap_angle(p.heading + std::clamp(diff, -max_turn, max_turn)));
    p.turn_rate = static_cast<float>(std::clamp(diff, -max_turn, max_turn) / dt);
    p.gait_phase = static_cast<float>(std::fmod(p.gait_phase + 0.8, 2 * kPi));
    if (std::fabs(diff) <= max_turn + 1e-6) start_activity(p, p.act);
  } else if (p.travelling) {
    travel(p);
  } else {
    p.time_left -= dt;
    p.anim_phase += dt;
    switch (p.act) {
      case kEat:
        p.head_bob = static_cast<float>(0.5 + 0.5 * std::sin(2 * kPi * 0.6 * p.anim_phase + p.id));
        if (dyn.bernoulli(0.15)) p.head_yaw_target = static_cast<float>(dyn.normal(0, 0.12));
        break;
      case kDrink:
        p.head_bob = 0.35f;
        p.head_yaw_target = 0;
        break;
      case kStand:
      case kSit:
      case kExplore:
        if (dyn.bernoulli(0.03)) p.heading = static_cast<float>(wrap_angle(p.heading + dyn.normal(0, 0.25)));
        break;
      case kLie:
        if (dyn.bernoulli(0.004)) p.heading = static_cast<float>(wrap_angle(p.heading + dyn.normal(0, 0.08)));
        break;
      case kPlay: {
        p.burst_left -= dt;
        if (p.burst_left <= 0) {
          p.burst_left = dyn.uniform(0.4, 1.4);
          cv::Point2f c = p.pos;
          if (p.partner >= 0) c = pigs[p.partner].pos;
          else if (std::hypot(layout.toy.x - p.pos.x, layout.toy.y - p.pos.y) < 2.0f * L) c = layout.toy + cv::Point2f(0, 0.5f * L);
          const double a = dyn.uniform(-kPi, kPi);
          const float r = static_cast<float>(dyn.uniform(0.25, 0.9)) * L;
          p.target = c + cv::Point2f(static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))) * r;
          p.speed = static_cast<float>(dyn.uniform(0.6, 1.8)) * L;
        }
        const cv::Point2f d = p.target - p.pos;
        const float dist = std::hypot(d.x, d.y);
        if (dist > 2.0f) {
          const double want = std::atan2(d.y, d.x);
          const double diff = wrap_angle(want - p.heading);
          const double mt = 5.0 * dt;
          p.heading = static_cast<float>(wrap_angle(p.heading + std::clamp(diff, -mt, mt)));
          p.turn_rate = static_cast<float>(std::clamp(diff, -mt, mt) / dt);
          const float step = std::min(dist, p.speed * static_cast<float>(dt));
          p.pos += cv::Point2f(std::cos(p.heading), std::sin(p.heading)) * step;
          p.gait_phase = static_cast<float>(std::fmod(p.gait_phase + 2 * kPi * step / (0.5f * L), 2 * kPi));
        }
        p.head_yaw_target = static_cast<float>(0.45 * std::sin(2 * kPi * 1.3 * p.anim_phase));
        if (std::hypot(layout.toy.x - p.pos.x, layout.toy.y - p.pos.y) < 0.9f * L) toy_vel += static_cast<float>(dyn.normal(0, 0.8));
        break;
      }
      default:
        break;
    }
    if (p.time_left <= 0) choose_next(p);
  }
  // Head: look around while standing, towards turns while walking.
  p.yaw_timer -= dt;
  if (p.travelling) {
    p.head_yaw_target = std::clamp(p.turn_rate * 0.25f, -0.5f, 0.5f);
  } else if ((p.act == kStand || p.act == kSit || p.act == kExplore) && p.yaw_timer <= 0) {
    p.yaw_timer = dyn.uniform(0.8, 4.0);
    p.head_yaw_target = static_cast<float>(dyn.normal(0, 0.3));
  }
  const float max_yaw = static_cast<float>(1.8 * dt);
  p.head_yaw += std::clamp(p.head_yaw_target - p.head_yaw, -max_yaw, max_yaw);
  p.head_yaw = std::clamp(p.head_yaw, -0.7f, 0.7f);
  if (!p.lying()) p.bend_target = std::clamp(p.turn_rate * 0.18f, -0.45f, 0.45f);
  p.bend += std::clamp(p.bend_target - p.bend, -0.25f, 0.25f);
  (void)L;
}

void PenSimulator::Impl::clamp_to_pen(Pig& p) {
  const float L = p.length(), Wd = p.width();
  const float cs = std::cos(p.heading), sn = std::sin(p.heading);
  const cv::Point2f mid = p.pos + cv::Point2f(cs, sn) * (0.14f * L);
  const float ex = std::fabs(cs) * 0.5f * L + std::fabs(sn) * 0.5f * Wd;
  const float ey = std::fabs(sn) * 0.5f * L + std::fabs(cs) * 0.5f * Wd;
  const auto& P = layout.pen;
  cv::Point2f m2 = mid;
  m2.x = std::clamp(m2.x, P.x + ex, std::max(P.x + ex, P.x + P.width - ex));
  m2.y = std::clamp(m2.y, P.y + ey, std::max(P.y + ey, P.y + P.height - ey));
  p.pos += m2 - mid;
  // The trunk stays off the feeder (the head may be over it).
  const auto& f = layout.feeder;
  const float margin = 0.5f * Wd;
  if (p.pos.x > f.x - margin && p.pos.x < f.x + f.width + margin && p.pos.y > f.y - 0.3f * L) p.pos.y = f.y - 0.3f * L;
}

void PenSimulator::Impl::separate() {
  const size_t n = pigs.size();
  for (int iter = 0; iter < 2; ++iter) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) {
        Pig& a = pigs[i];
        Pig& b = pigs[j];
        const auto mobility = [](const Pig& p) -> float {
          if (p.lying() || p.aligning) return 0.0f;
          if (!p.travelling && (p.act == kEat || p.act == kDrink)) return 0.1f;
          if (p.travelling || p.act == kPlay) return 1.0f;
          return 0.5f;
        };
        const float ma = mobility(a), mb = mobility(b);
        if (ma + mb <= 0) continue;
        cv::Point2f d = b.pos - a.pos;
        float dist = std::hypot(d.x, d.y);
        if (dist < 1e-3f) {
          d = cv::Point2f(1, 0);
          dist = 1e-3f;
        }
        const cv::Point2f u = d / dist;
        auto radius = [&](const Pig& p, cv::Point2f dir) {
          const float A = 0.5f * p.length(), B = 0.5f * p.width();
          const float ca = std::cos(p.heading) * dir.x + std::sin(p.heading) * dir.y;
          const float sa = -std::sin(p.heading) * dir.x + std::cos(p.heading) * dir.y;
          return A * B / std::sqrt(B * B * ca * ca + A * A * sa * sa);
        };
        float factor = 0.9f;
        if (a.lying() != b.lying()) factor = 0.55f;
        const float min_d = factor * (radius(a, u) + radius(b, -u));
        if (dist >= min_d) continue;
        const float push = (min_d - dist);
        const float ta = ma / (ma + mb), tb = mb / (ma + mb);
        a.pos -= u * (push * ta * 0.6f);
        b.pos += u * (push * tb * 0.6f);
      }
    }
  }
  for (auto& p : pigs) clamp_to_pen(p);
}

void PenSimulator::Impl::step_dynamics() {
  for (auto& p : pigs) p.prev_pos = p.pos;
  for (auto& p : pigs) update_pig(p);
  separate();
  for (auto& p : pigs) {
    // Playing partners stop together.
    if (p.act == kPlay && p.partner >= 0 && pigs[p.partner].act != kPlay) p.partner = -1;
  }
  // toy: damped swing
  toy_vel += static_cast<float>(-toy_swing * 6.0 * dt - toy_vel * 1.2 * dt);
  toy_swing = std::clamp(toy_swing + toy_vel * static_cast<float>(dt), -0.8f, 0.8f);
}

void PenSimulator::Impl::update_lighting() {
  const double t = frame_idx * dt;
  const double hour = cfg.start_hour + t / 3600.0;
  const double h = std::fmod(std::fmod(hour, 24.0) + 24.0, 24.0);
  while (next_event_t <= t) {
    LightEvent e;
    const double r = light_rng.uniform01();
    e.kind = r < 0.35 ? 0 : (r < 0.7 ? 1 : 2);
    e.t0 = next_event_t;
    e.t1 = e.t0 + (e.kind == 0 ? light_rng.uniform(15, 60) : (e.kind == 1 ? light_rng.uniform(20, 90) : light_rng.uniform(6, 20)));
    e.amount = static_cast<float>(light_rng.uniform(0.45, 0.7));
    events.push_back(e);
    next_event_t = e.t1 + light_rng.exponential(240.0);
  }
  while (!events.empty() && events.front().t1 < t) events.erase(events.begin());
  const bool lights_on = h >= 7 && h < 19;
  const double daylight = std::clamp(std::min(h - 6.0, 20.0 - h) / 2.0, 0.0, 1.0);
  double level = lights_on ? 0.85 + 0.15 * daylight : 0.12 * daylight;
  if (lights_on || daylight > 0) level *= 1 + 0.04 * std::sin(2 * kPi * t / 47.0 + 1.3) + 0.03 * std::sin(2 * kPi * t / 13.0 + 0.4);
  LightingState s;
  s.hour = hour;
  bool ir = level < 0.3;
  for (const auto& e : events) {
    if (t < e.t0 || t > e.t1) continue;
    if (e.kind == 0) {
      ir = true;
      level = std::min(level, 0.05);
    } else if (e.kind == 1) {
      level *= e.amount;
    } else {
      s.flicker = true;
    }
  }
  s.level = static_cast<float>(level);
  s.infrared = ir;
  s.camera_gain = ir ? 1.0f : static_cast<float>(std::clamp(0.9 / std::max(level, 0.05), 1.0, 2.4));
  light = s;
}

void PenSimulator::Impl::apply_camera() {
  const int W = cfg.size.width, H = cfg.size.height;
  const bool hi_noise = light.infrared || light.camera_gain > 1.4f;
  const int ox = static_cast<int>(render_rng.uniform_int(0, 31)), oy = static_cast<int>(render_rng.uniform_int(0, 31));
  const cv::Rect nr(ox, oy, W, H);
  if (light.infrared) {
    cv::cvtColor(frame, gray, cv::COLOR_BGR2GRAY);
    cv::multiply(gray, bg.ir_falloff, gray, 1.25 / 255.0);
    if (cfg.sensor_noise) {
      const cv::Mat& pos = noise_hi_pos;
      const cv::Mat& neg = noise_hi_neg;
      // one channel of the 3-channel tile, as a W x H view
      cv::Mat p1 = pos.reshape(1)(cv::Rect(3 * ox, oy, W, H));
      cv::Mat n1 = neg.reshape(1)(cv::Rect(3 * ox + 1, oy, W, H));
      cv::add(gray, p1, gray);
      cv::subtract(gray, n1, gray);
    }
    cv::cvtColor(gray, frame, cv::COLOR_GRAY2BGR);
  } else {
    double g = light.level * light.camera_gain;
    if (light.flicker) g *= render_rng.uniform(0.86, 1.12);
    if (std::fabs(g - 1.0) > 1e-3) frame.convertTo(frame, -1, g, 0);
    if (light.flicker) {  // rolling-shutter banding from mains flicker
      const double period = render_rng.uniform(60, 160) * scale, ph = render_rng.uniform(0, 2 * kPi);
      for (int y = 0; y < H; ++y) {
        const double gy = 1.0 + 0.07 * std::sin(2 * kPi * y / period + ph);
        frame.row(y).convertTo(frame.row(y), -1, gy, 0);
      }
    }
    if (cfg.sensor_noise) {
      cv::add(frame, (hi_noise ? noise_hi_pos : noise_lo_pos)(nr), frame);
      cv::subtract(frame, (hi_noise ? noise_hi_neg : noise_lo_neg)(nr), frame);
    }
  }
  if (cfg.jpeg_quality > 0) {
    std::vector<uchar> buf;
    cv::imencode(".jpg", frame, buf, {cv::IMWRITE_JPEG_QUALITY, cfg.jpeg_quality});
    frame = cv::imdecode(buf, cv::IMREAD_COLOR);
  }
}

void PenSimulator::Impl::render_and_gt() {
  const int W = cfg.size.width, H = cfg.size.height;
  const cv::Rect img_rect(0, 0, W, H);
  const size_t n = pigs.size();
  // Frames between drawn ones (render_every) get the same ground truth but no image.
  const bool draw = cfg.render && frame_idx % cfg.render_every == 0;
  if (cfg.render && !draw) frame.release();
  all.assign(n, GtObject{});
  // Draw order: lying, sitting, standing, moving; ties by id.
  std::vector<int> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
  auto layer = [&](const Pig& p) {
    if (p.lying()) return 0;
    if (p.posture == Posture::Sitting) return 1;
    if (p.travelling || p.act == kPlay) return 3;
    return 2;
  };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return layer(pigs[a]) < layer(pigs[b]); });

  if (draw) {
    bg.image.copyTo(frame);
    detail::draw_toy(frame, layout, toy_swing, scale);
  }
  if (cfg.masks) {
    id_map.create(H, W, CV_8UC1);
    id_map.setTo(cv::Scalar(0));
  }
  std::vector<detail::PigPolys> polys(n);
  std::vector<detail::PigDraw> draws(n);
  std::vector<cv::Mat> sils(n);
  std::vector<cv::Point> sil_org(n);
  for (size_t k = 0; k < n; ++k) {
    const int i = order[k];
    const Pig& p = pigs[i];
    GtObject& g = all[i];
    detail::PigDraw d;
    d.centre = p.pos;
    d.length = p.length();
    d.width = p.width();
    d.posture = p.posture;
    d.head_yaw = p.head_yaw;
    d.head_bob = p.head_bob;
    d.gait_phase = p.gait_phase;
    d.gait_amp = p.travelling ? (p.running ? 1.6f : 1.0f) : (p.act == kPlay ? 1.2f : (p.aligning ? 0.5f : 0.0f));
    d.lameness = p.health.lameness;
    d.lateral_side = p.lateral_side;
    d.bend = p.bend;
    // lame gait: the trunk rocks with the step (drawn only; the pose keeps the true heading)
    d.heading = p.heading + (p.travelling ? 0.09f * p.health.lameness * std::sin(p.gait_phase) : 0.0f);
    draws[i] = d;
    polys[i] = detail::build_pig_polys(d, p.look);

    g.id = p.id;
    g.behaviour = p.label;
    g.pose.centre = p.pos;
    g.pose.heading = static_cast<float>(wrap_angle(p.heading));
    g.pose.length = d.length;
    g.pose.width = d.width;
    g.pose.posture = p.posture;
    g.pose.head_yaw = p.head_yaw;
    g.speed = std::hypot(p.pos.x - p.prev_pos.x, p.pos.y - p.prev_pos.y) / static_cast<float>(dt);
    g.draw_order = static_cast<int>(k);
    g.health = p.health;

    const cv::Rect2f& b = polys[i].bounds;
    const cv::Rect R(static_cast<int>(std::floor(b.x)) - 1, static_cast<int>(std::floor(b.y)) - 1,
                     static_cast<int>(std::ceil(b.width)) + 3, static_cast<int>(std::ceil(b.height)) + 3);
    if ((R & img_rect).empty()) continue;  // out of view: nothing to draw
    if (cfg.masks || cfg.render) {
      cv::Mat sil(R.size(), CV_8UC1, cv::Scalar(0));
      detail::raster_silhouette(polys[i], sil, R.tl(), 255);
      g.body_pixels = cv::countNonZero(sil);
      const cv::Rect full = cv::boundingRect(sil) + R.tl();
      g.box = full & img_rect;
      sils[i] = sil;
      sil_org[i] = R.tl();
      if (cfg.masks) {  // the visible map is made of the very same pixels as the silhouette
        const cv::Rect in = R & img_rect;
        id_map(in).setTo(cv::Scalar(p.id), sil(cv::Rect(in.x - R.x, in.y - R.y, in.width, in.height)));
      }
      if (draw && !g.box.empty()) {
        detail::draw_shadow(frame, polys[i], d, scale);
        detail::draw_pig(frame, polys[i], d, p.look, sil, R.tl(), scale);
      }
    } else {
      const cv::Rect full(cvFloor(b.x), cvFloor(b.y), cvCeil(b.x + b.width) - cvFloor(b.x), cvCeil(b.y + b.height) - cvFloor(b.y));
      g.box = full & img_rect;
      g.body_pixels = full.area();
    }
  }

  if (draw && cfg.motion_blur) {
    for (size_t i = 0; i < n; ++i) {
      const Pig& p = pigs[i];
      if (sils[i].empty() || all[i].box.empty()) continue;
      const float sp = all[i].speed;
      if (sp < 1.1f * p.length()) continue;
      const float exposure = 1.0f / 30.0f;  // shutter time, s
      const cv::Point2f dir(std::cos(p.heading), std::sin(p.heading));
      detail::motion_blur(frame, sils[i], sil_org[i], dir, sp * exposure);
    }
  }

  if (cfg.masks) {
    const std::vector<Rle> rles = rle_encode_labels(id_map, static_cast<int>(n));
    for (size_t i = 0; i < n; ++i) {
      GtObject& g = all[i];
      if (g.box.empty()) continue;
      g.mask = rles[i];
      g.visible_pixels = static_cast<int>(g.mask.area());
      g.visible_box = g.mask.bbox();
      g.visibility = g.body_pixels > 0 ? round4(static_cast<double>(g.visible_pixels) / g.body_pixels) : 0.0f;
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      GtObject& g = all[i];
      if (g.box.empty()) continue;
      g.visible_box = g.box;
      g.visible_pixels = g.box.area();
      g.visibility = g.body_pixels > 0 ? round4(std::min(1.0, static_cast<double>(g.box.area()) / g.body_pixels)) : 0.0f;
    }
  }
  visible.clear();
  for (const auto& g : all)
    if (!g.box.empty()) visible.push_back(g);

  if (draw) apply_camera();
}

// ---------------------------------------------------------------------------------------------

PenSimulator::PenSimulator(const SimConfig& cfg) : impl_(std::make_unique<Impl>(cfg)) {}
PenSimulator::~PenSimulator() = default;
PenSimulator::PenSimulator(PenSimulator&&) noexcept = default;
PenSimulator& PenSimulator::operator=(PenSimulator&&) noexcept = default;

void PenSimulator::step() {
  Impl& m = *impl_;
  ++m.frame_idx;
  if (m.frame_idx > 0) m.step_dynamics();
  m.update_lighting();
  m.render_and_gt();
}

int PenSimulator::frame_index() const { return impl_->frame_idx; }
double PenSimulator::time_s() const { return impl_->frame_idx < 0 ? 0.0 : impl_->frame_idx * impl_->dt; }
const cv::Mat& PenSimulator::frame() const { return impl_->frame; }
const std::vector<GtObject>& PenSimulator::ground_truth() const { return impl_->visible; }
const std::vector<GtObject>& PenSimulator::all_animals() const { return impl_->all; }
const PenLayout& PenSimulator::layout() const { return impl_->layout; }
const SimConfig& PenSimulator::config() const { return impl_->cfg; }
LightingState PenSimulator::lighting() const { return impl_->light; }

cv::Mat PenSimulator::instance_map() const {
  if (!impl_->cfg.masks) throw Error("instance_map() needs SimConfig::masks = true");
  if (impl_->id_map.empty()) return cv::Mat(impl_->cfg.size, CV_8UC1, cv::Scalar(0));
  return impl_->id_map.clone();
}

std::vector<AnimalSummary> PenSimulator::animals() const {
  std::vector<AnimalSummary> out;
  for (const auto& p : impl_->pigs) {
    AnimalSummary a;
    a.id = p.id;
    a.length_px = p.look.length_px;
    a.width_ratio = p.look.width_ratio;
    a.skin_bgr = cv::Scalar(p.look.skin[0], p.look.skin[1], p.look.skin[2]);
    a.pigment_patches = static_cast<int>(p.look.pigment.size());
    a.dirt_patches = p.look.dirt_patches;
    a.spray_marks = static_cast<int>(p.look.marks.size());
    a.description = p.look.description;
    out.push_back(a);
  }
  return out;
}

void PenSimulator::set_health(int id, const PigHealth& h) {
  if (id < 1 || id > static_cast<int>(impl_->pigs.size())) throw Error("set_health: no pig with id " + std::to_string(id));
  impl_->pigs[id - 1].health = h;
}

namespace {
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

RenderBenchmark measure_render_fps(const SimConfig& cfg, int frames, int warmup) {
  const int old_threads = cv::getNumThreads();
  cv::setNumThreads(1);
  RenderBenchmark r;
  r.frames = frames;
  try {
    SimConfig c = cfg;
    c.render = true;
    c.masks = true;
    PenSimulator sim(c);
    for (int i = 0; i < warmup; ++i) sim.step();
    const double c0 = thread_cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < frames; ++i) sim.step();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = thread_cpu_seconds() - c0;
    r.render_fps = frames / std::max(s, 1e-9);
    r.ms_per_frame = 1000.0 * s / std::max(frames, 1);
    r.render_fps_cpu = frames / std::max(cpu, 1e-9);
    c.render = false;
    c.masks = false;
    PenSimulator dyn(c);
    for (int i = 0; i < warmup; ++i) dyn.step();
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < frames; ++i) dyn.step();
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.dynamics_fps = frames / std::max(s, 1e-9);
  } catch (...) {
    cv::setNumThreads(old_threads);
    throw;
  }
  cv::setNumThreads(old_threads);
  return r;
}

}  // namespace eh::data
