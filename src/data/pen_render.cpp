#include "data/pen_render.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace eh::data::detail {

namespace {

constexpr float kPi = 3.14159265358979f;
constexpr int kShift = 3;  // fixed-point bits for fillPoly (1/8 pixel)
constexpr float kFix = 8.0f;

inline uchar sat(float v) { return static_cast<uchar>(std::clamp(v + 0.5f, 0.0f, 255.0f)); }
inline cv::Scalar col(const cv::Vec3f& c, float f = 1.0f) {
  return cv::Scalar(std::clamp(c[0] * f, 0.0f, 255.0f), std::clamp(c[1] * f, 0.0f, 255.0f),
                    std::clamp(c[2] * f, 0.0f, 255.0f));
}
inline cv::Vec3f mix(const cv::Vec3f& a, const cv::Vec3f& b, float t) { return a * (1 - t) + b * t; }

inline float spow(float v, float e) { return std::copysign(std::pow(std::fabs(v), e), v); }

struct Xf {  // body frame -> image
  cv::Point2f c;
  float cs, sn;
  Xf(cv::Point2f centre, float heading) : c(centre), cs(std::cos(heading)), sn(std::sin(heading)) {}
  cv::Point2f operator()(float x, float y) const { return {c.x + cs * x - sn * y, c.y + sn * x + cs * y}; }
  cv::Point2f operator()(cv::Point2f p) const { return (*this)(p.x, p.y); }
};

std::vector<cv::Point> fixed_pts(const std::vector<cv::Point2f>& pts, cv::Point2f off = {0, 0}, bool transpose = false) {
  std::vector<cv::Point> out(pts.size());
  for (size_t i = 0; i < pts.size(); ++i) {
    const float x = pts[i].x - off.x, y = pts[i].y - off.y;
    out[i] = transpose ? cv::Point(cvRound(y * kFix), cvRound(x * kFix)) : cv::Point(cvRound(x * kFix), cvRound(y * kFix));
  }
  return out;
}

void fill(cv::Mat& img, const std::vector<cv::Point2f>& pts, const cv::Scalar& c, cv::Point2f off = {0, 0},
          bool transpose = false) {
  if (pts.size() < 3) return;
  std::vector<std::vector<cv::Point>> v{fixed_pts(pts, off, transpose)};
  cv::fillPoly(img, v, c, cv::LINE_8, kShift);
}

std::vector<cv::Point2f> scaled(const std::vector<cv::Point2f>& pts, cv::Point2f about, float s, cv::Point2f shift = {0, 0}) {
  std::vector<cv::Point2f> out(pts.size());
  for (size_t i = 0; i < pts.size(); ++i) out[i] = about + (pts[i] - about) * s + shift;
  return out;
}

cv::Point2f centroid(const std::vector<cv::Point2f>& pts) {
  cv::Point2f c(0, 0);
  for (const auto& p : pts) c += p;
  return pts.empty() ? c : c * (1.0f / static_cast<float>(pts.size()));
}

// ---- trunk geometry (body frame) ----------------------------------------------------------------

struct Trunk {
  float a, b;          // half-length, half-width
  float rear = 1;      // rear half-length factor (sitting < 1)
  float rear_wide = 1; // rear half-width factor
  float bend = 0;
};

Trunk trunk_of(const PigDraw& d) {
  Trunk t;
  t.a = 0.36f * d.length;
  t.b = 0.5f * d.width;
  t.bend = d.bend;
  if (d.posture == Posture::Sitting) {
    t.rear = 0.62f;
    t.rear_wide = 1.12f;
  }
  return t;
}

constexpr float kExpFront = 2.0f / 2.3f, kExpRear = 2.0f / 3.0f;

cv::Point2f trunk_point(const Trunk& t, float ang) {
  const float c = std::cos(ang), s = std::sin(ang);
  const float e = c >= 0 ? kExpFront : kExpRear;
  float x = t.a * spow(c, e), y = t.b * spow(s, e);
  if (x < 0) {
    x *= t.rear;
    y *= t.rear_wide;
  }
  const float u = x / t.a;
  y += t.bend * t.b * 0.8f * u * u;
  return {x, y};
}

// Pulls a body-frame point inside the trunk outline (for patches that reach the flank).
cv::Point2f clip_to_trunk(const Trunk& t, cv::Point2f p) {
  float x = p.x, y = p.y;
  const float u = std::clamp(x / t.a, -1.0f, 1.0f);
  y -= t.bend * t.b * 0.8f * u * u;
  float xs = x < 0 ? x / t.rear : x;
  float ys = x < 0 ? y / t.rear_wide : y;
  const float n = x >= 0 ? 2.3f : 3.0f;
  const float g = std::pow(std::fabs(xs / t.a), n) + std::pow(std::fabs(ys / t.b), n);
  const float lim = 0.93f;
  if (g > lim) {
    const float k = std::pow(lim / g, 1.0f / n);
    xs *= k;
    ys *= k;
  }
  x = x < 0 ? xs * t.rear : xs;
  y = x < 0 ? ys * t.rear_wide : ys;
  const float u2 = x / t.a;
  y += t.bend * t.b * 0.8f * u2 * u2;
  return {x, y};
}

void ellipse_pts(cv::Point2f c, cv::Point2f r, float ang, int n, std::vector<cv::Point2f>& out) {
  out.clear();
  const float ca = std::cos(ang), sa = std::sin(ang);
  for (int i = 0; i < n; ++i) {
    const float t = 2 * kPi * i / n;
    const float x = r.x * std::cos(t), y = r.y * std::sin(t);
    out.push_back({c.x + ca * x - sa * y, c.y + sa * x + ca * y});
  }
}

}  // namespace

// ---- appearance ---------------------------------------------------------------------------------

PigLook make_pig_look(Rng& rng, float base_length_px) {
  PigLook L;
  L.length_px = base_length_px * static_cast<float>(rng.uniform(0.9, 1.1));
  L.width_ratio = static_cast<float>(rng.uniform(0.33, 0.40));
  std::string desc;
  const double breed = rng.uniform01();
  if (breed < 0.10) {  // tan / ginger cross
    L.skin = cv::Vec3f(static_cast<float>(rng.uniform(95, 125)), static_cast<float>(rng.uniform(135, 160)),
                       static_cast<float>(rng.uniform(190, 215)));
    desc = "tan";
  } else {  // pink-white, individually a little paler / pinker / greyer
    const float base = static_cast<float>(rng.uniform(176, 206));
    const float pink = static_cast<float>(rng.uniform(14, 40));
    const float grey = static_cast<float>(rng.uniform(-10, 6));
    L.skin = cv::Vec3f(base - 8 + grey, base + grey, base + pink + grey * 0.5f);
    desc = pink > 30 ? "pink" : (base > 196 ? "pale" : "pink-white");
  }
  L.ear = L.skin.mul(cv::Vec3f(0.92f, 0.90f, 1.0f));
  L.snout = L.skin.mul(cv::Vec3f(0.80f, 0.78f, 0.95f));
  L.hoof = cv::Vec3f(95, 105, 125);
  L.ear_type = rng.bernoulli(0.5) ? 1 : 0;
  L.tail_curl = rng.bernoulli(0.5) ? 1.f : -1.f;
  L.speed_factor = static_cast<float>(rng.uniform(0.85, 1.15));
  L.lame_leg = static_cast<int>(rng.uniform_int(0, 3));

  // Dark pigment patches (Pietrain/Hampshire-type crosses).
  if (rng.bernoulli(0.22)) {
    const int n = static_cast<int>(rng.uniform_int(1, 4));
    for (int i = 0; i < n; ++i) {
      Patch p;
      p.c = {static_cast<float>(rng.uniform(-0.8, 0.8)), static_cast<float>(rng.uniform(-0.9, 0.9))};
      p.r = {static_cast<float>(rng.uniform(0.12, 0.38)), static_cast<float>(rng.uniform(0.25, 0.7))};
      p.angle = static_cast<float>(rng.uniform(0, kPi));
      const float v = static_cast<float>(rng.uniform(45, 80));
      p.colour = cv::Vec3f(v, v + 3, v + 10);
      L.pigment.push_back(p);
    }
    desc += ", " + std::to_string(n) + " dark patch" + (n > 1 ? "es" : "");
  }
  // Dirt (manure, mud): mostly rear and flanks, irregular clusters of small smears.
  const int nd = rng.bernoulli(0.45) ? 0 : static_cast<int>(rng.uniform_int(1, 3));
  for (int i = 0; i < nd; ++i) {
    const cv::Point2f c(static_cast<float>(rng.uniform(-0.95, 0.3)), static_cast<float>(rng.uniform(-0.9, 0.9)));
    const cv::Vec3f dirt(static_cast<float>(rng.uniform(50, 75)), static_cast<float>(rng.uniform(80, 105)),
                         static_cast<float>(rng.uniform(110, 140)));
    const float strength = static_cast<float>(rng.uniform(0.25, 0.55));
    const int blobs = static_cast<int>(rng.uniform_int(2, 5));
    for (int k = 0; k < blobs; ++k) {
      Patch p;
      p.c = c + cv::Point2f(static_cast<float>(rng.normal(0, 0.10)), static_cast<float>(rng.normal(0, 0.18)));
      p.r = {static_cast<float>(rng.uniform(0.03, 0.12)), static_cast<float>(rng.uniform(0.06, 0.22))};
      p.angle = static_cast<float>(rng.uniform(0, kPi));
      p.colour = mix(L.skin, dirt, strength * static_cast<float>(rng.uniform(0.7, 1.1)));
      L.dirt.push_back(p);
    }
  }
  // Spray-marker marks.
  if (rng.bernoulli(0.4)) {
    static const cv::Vec3f colours[5] = {{190, 95, 40}, {60, 150, 45}, {55, 45, 190}, {150, 60, 130}, {50, 50, 50}};
    static const char* cname[5] = {"blue", "green", "red", "purple", "black"};
    static const char* sname[5] = {"stripe across back", "line along spine", "dot", "cross", "double stripe"};
    Mark m;
    const int ci = static_cast<int>(rng.uniform_int(0, 4));
    m.colour = colours[ci];
    m.shape = static_cast<int>(rng.uniform_int(0, 4));
    m.c = {static_cast<float>(rng.uniform(-0.45, 0.35)), static_cast<float>(rng.uniform(-0.15, 0.15))};
    m.size = static_cast<float>(rng.uniform(0.8, 1.2));
    m.angle = static_cast<float>(rng.uniform(-0.3, 0.3));
    L.marks.push_back(m);
    desc += std::string(", ") + cname[ci] + " " + sname[m.shape];
  }
  if (rng.bernoulli(0.7)) {
    L.tag_ear = static_cast<int>(rng.uniform_int(0, 1));
    L.tag_colour = rng.bernoulli(0.7) ? cv::Vec3f(40, 200, 235) : cv::Vec3f(60, 140, 240);
    desc += std::string(", ear tag ") + (L.tag_ear ? "right" : "left");
  }
  desc += L.ear_type ? ", floppy ears" : ", erect ears";
  L.description = desc;
  return L;
}

// ---- outlines -------------------------------------------------------------------------------------

PigPolys build_pig_polys(const PigDraw& d, const PigLook& look) {
  PigPolys P;
  const Trunk t = trunk_of(d);
  const Xf X(d.centre, d.heading);
  const int n = 40;
  P.trunk.reserve(n);
  for (int i = 0; i < n; ++i) P.trunk.push_back(X(trunk_point(t, 2 * kPi * i / n)));

  const bool lying = d.posture == Posture::LyingSternal || d.posture == Posture::LyingLateral;
  // Head: pivot inside the trunk front, profile of half-widths along its length.
  const float xp = 0.78f * t.a;
  const float Lp = (0.64f * d.length - xp) * (1.0f - 0.12f * d.head_bob) * (lying ? 0.96f : 1.0f);
  const float hb = t.b / (d.posture == Posture::LyingLateral ? 1.25f : (d.posture == Posture::LyingSternal ? 1.08f : 1.0f));
  const float cy = std::cos(d.head_yaw), sy = std::sin(d.head_yaw);
  const float bend_off = t.bend * t.b * 0.8f * (xp / t.a) * (xp / t.a);
  auto H = [&](float hx, float hy) {  // head frame -> image
    return X(xp + cy * hx - sy * hy, bend_off + sy * hx + cy * hy);
  };
  static const float prof[][2] = {{0.00f, 0.66f}, {0.18f, 0.72f}, {0.38f, 0.66f}, {0.58f, 0.52f}, {0.76f, 0.42f}, {0.88f, 0.37f}};
  for (const auto& q : prof) P.head.push_back(H(q[0] * Lp, q[1] * hb));
  for (int k = 1; k <= 5; ++k) {
    const float ph = kPi / 2 - kPi * k / 6;
    P.head.push_back(H(0.88f * Lp + 0.12f * Lp * std::cos(ph), 0.37f * hb * std::sin(ph)));
  }
  for (int i = 5; i >= 0; --i) P.head.push_back(H(prof[i][0] * Lp, -prof[i][1] * hb));
  P.head_pivot = H(0, 0);
  P.head_angle = d.heading + d.head_yaw;
  P.head_length = Lp;
  P.head_half_width = hb;

  // Ears (right ear = +y), drawn over the head.
  static const float erect[5][2] = {{0.14f, 0.24f}, {0.28f, 0.62f}, {0.46f, 0.94f}, {0.52f, 0.80f}, {0.40f, 0.30f}};
  static const float floppy[5][2] = {{0.16f, 0.22f}, {0.28f, 0.64f}, {0.62f, 0.70f}, {0.74f, 0.50f}, {0.46f, 0.24f}};
  const auto& ear = look.ear_type ? floppy : erect;
  const float ear_k = lying ? 0.9f : 1.0f;
  for (int side = 0; side < 2; ++side) {
    const float sgn = side == 0 ? -1.f : 1.f;
    for (const auto& q : ear) P.ears[side].push_back(H(q[0] * Lp * ear_k, sgn * q[1] * hb * ear_k));
  }

  // Legs.
  std::vector<cv::Point2f> tmp;
  if (d.posture == Posture::Standing || d.posture == Posture::Sitting) {
    struct LegDef { float x; float side; float phase; };
    const LegDef legs[4] = {{0.56f, -1, 0}, {0.56f, 1, kPi}, {-0.58f, -1, kPi}, {-0.58f, 1, 0}};
    for (int i = 0; i < 4; ++i) {
      if (d.posture == Posture::Sitting && i >= 2) continue;
      float amp = 0.17f * t.a * d.gait_amp;
      if (i == look.lame_leg) amp *= 1.0f - 0.8f * d.lameness;
      const float sx = legs[i].x * t.a * (legs[i].x < 0 ? t.rear : 1.0f) + amp * std::sin(d.gait_phase + legs[i].phase);
      const float splay = 1.0f + 0.05f * std::min(d.gait_amp, 1.6f);
      const float ly = legs[i].side * t.b * (0.86f * splay) + t.bend * t.b * 0.8f * (legs[i].x * legs[i].x);
      ellipse_pts({sx, ly}, {0.085f * t.a, 0.26f * t.b}, 0, 12, tmp);
      std::vector<cv::Point2f> leg;
      for (auto& p : tmp) leg.push_back(X(p));
      P.legs.push_back(leg);
    }
  } else if (d.posture == Posture::LyingLateral) {
    const float s = static_cast<float>(d.lateral_side);
    struct LegDef { float x, dx, len; };
    const LegDef legs[4] = {{0.50f, 0.22f, 0.62f}, {0.64f, 0.30f, 0.55f}, {-0.42f, -0.16f, 0.66f}, {-0.56f, -0.05f, 0.58f}};
    for (const auto& L : legs) {
      const float x0 = L.x * t.a, y0 = s * 0.55f * t.b;
      const float x1 = x0 + L.dx * t.a, y1 = s * (t.b + L.len * t.b);
      const float nx = -(y1 - y0), ny = (x1 - x0);
      const float nl = std::sqrt(nx * nx + ny * ny) + 1e-6f;
      const float w0 = 0.17f * t.b, w1 = 0.10f * t.b;
      std::vector<cv::Point2f> leg = {
          X(x0 + nx / nl * w0, y0 + ny / nl * w0), X(x1 + nx / nl * w1, y1 + ny / nl * w1),
          X(x1 + (x1 - x0) / nl * w1 * 0.8f, y1 + (y1 - y0) / nl * w1 * 0.8f),
          X(x1 - nx / nl * w1, y1 - ny / nl * w1), X(x0 - nx / nl * w0, y0 - ny / nl * w0)};
      P.legs.push_back(leg);
    }
  }

  // Tail: a short curl behind the rump.
  const float xr = -t.a * t.rear;
  const float c = look.tail_curl;
  const float tb = t.b;
  const float ty = t.bend * t.b * 0.8f;
  P.tail = {X(xr + 0.03f * tb, ty), X(xr - 0.10f * tb, ty + 0.03f * tb * c), X(xr - 0.17f * tb, ty + 0.12f * tb * c),
            X(xr - 0.13f * tb, ty + 0.22f * tb * c), X(xr - 0.05f * tb, ty + 0.20f * tb * c)};
  P.tail_thickness = std::max(1.0f, 0.09f * t.b);

  float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
  auto acc = [&](const std::vector<cv::Point2f>& v, float pad) {
    for (const auto& p : v) {
      x0 = std::min(x0, p.x - pad);
      y0 = std::min(y0, p.y - pad);
      x1 = std::max(x1, p.x + pad);
      y1 = std::max(y1, p.y + pad);
    }
  };
  acc(P.trunk, 0);
  acc(P.head, 0);
  acc(P.ears[0], 0);
  acc(P.ears[1], 0);
  for (const auto& l : P.legs) acc(l, 0);
  acc(P.tail, P.tail_thickness);
  P.bounds = cv::Rect2f(x0, y0, x1 - x0, y1 - y0);
  return P;
}

void raster_silhouette(const PigPolys& p, cv::Mat& canvas, cv::Point origin, uint8_t value, bool transposed) {
  const cv::Point2f off(static_cast<float>(origin.x), static_cast<float>(origin.y));
  std::vector<std::vector<cv::Point>> polys;
  polys.reserve(4 + p.legs.size());
  polys.push_back(fixed_pts(p.trunk, off, transposed));
  polys.push_back(fixed_pts(p.head, off, transposed));
  polys.push_back(fixed_pts(p.ears[0], off, transposed));
  polys.push_back(fixed_pts(p.ears[1], off, transposed));
  for (const auto& l : p.legs) polys.push_back(fixed_pts(l, off, transposed));
  // Polygons one by one: fillPoly on a list uses even-odd filling of overlaps.
  for (const auto& poly : polys) cv::fillPoly(canvas, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(value), cv::LINE_8, kShift);
  const auto tail = fixed_pts(p.tail, off, transposed);
  cv::polylines(canvas, std::vector<std::vector<cv::Point>>{tail}, false, cv::Scalar(value),
                std::max(1, cvRound(p.tail_thickness)), cv::LINE_8, kShift);
}

// ---- colour drawing ---------------------------------------------------------------------------------

void draw_shadow(cv::Mat& frame, const PigPolys& p, const PigDraw& d, float scale) {
  const bool lying = d.posture == Posture::LyingSternal || d.posture == Posture::LyingLateral;
  const float b = 0.5f * d.width;
  const cv::Point2f off = lying ? cv::Point2f(0.05f * b, 0.08f * b) : cv::Point2f(0.14f * b, 0.22f * b);
  const auto sh = scaled(p.trunk, d.centre, lying ? 1.04f : 1.08f, off);
  const int blur = std::max(3, cvRound(0.35f * b)) | 1;
  cv::Rect r = cv::boundingRect(sh);
  r.x -= blur;
  r.y -= blur;
  r.width += 2 * blur;
  r.height += 2 * blur;
  r &= cv::Rect(0, 0, frame.cols, frame.rows);
  if (r.empty()) return;
  cv::Mat m(r.size(), CV_8UC1, cv::Scalar(0));
  fill(m, sh, cv::Scalar(255), cv::Point2f(static_cast<float>(r.x), static_cast<float>(r.y)));
  cv::GaussianBlur(m, m, cv::Size(blur, blur), 0);
  const int strength = lying ? 70 : 105;  // of 256
  for (int y = 0; y < r.height; ++y) {
    const uchar* mr = m.ptr<uchar>(y);
    uchar* fr = frame.ptr<uchar>(r.y + y) + 3 * r.x;
    for (int x = 0; x < r.width; ++x) {
      if (!mr[x]) continue;
      const int f = 256 - (strength * mr[x]) / 255;
      fr[3 * x] = static_cast<uchar>((fr[3 * x] * f) >> 8);
      fr[3 * x + 1] = static_cast<uchar>((fr[3 * x + 1] * f) >> 8);
      fr[3 * x + 2] = static_cast<uchar>((fr[3 * x + 2] * f) >> 8);
    }
  }
  (void)scale;
}

void draw_pig(cv::Mat& frame, const PigPolys& p, const PigDraw& d, const PigLook& look, const cv::Mat& sil,
              cv::Point sil_origin, float scale) {
  const Trunk t = trunk_of(d);
  const Xf X(d.centre, d.heading);
  const cv::Vec3f skin = look.skin;

  // Legs and hooves (under the trunk: only their outer parts show).
  for (const auto& l : p.legs) {
    fill(frame, l, col(skin.mul(cv::Vec3f(0.93f, 0.92f, 1.0f)), d.posture == Posture::LyingLateral ? 0.88f : 0.74f));
    // hoof: the outermost third of the leg, darker
    const cv::Point2f c = centroid(l);
    cv::Point2f far = l[0];
    float best = -1;
    for (const auto& q : l) {
      const float dd = (q.x - d.centre.x) * (q.x - d.centre.x) + (q.y - d.centre.y) * (q.y - d.centre.y);
      if (dd > best) {
        best = dd;
        far = q;
      }
    }
    fill(frame, scaled(l, far, 0.35f), col(look.hoof));
    (void)c;
  }
  // Tail.
  {
    const auto tail = fixed_pts(p.tail);
    cv::polylines(frame, std::vector<std::vector<cv::Point>>{tail}, false, col(skin, 0.82f),
                  std::max(1, cvRound(p.tail_thickness)), cv::LINE_8, kShift);
  }
  // Head (below the trunk's front edge), shaded, with snout disc and eyes.
  {
    const cv::Point2f dir(std::cos(p.head_angle), std::sin(p.head_angle));
    const cv::Point2f side(-dir.y, dir.x);
    const float hl = p.head_length, hb = p.head_half_width;
    const cv::Point2f hc = p.head_pivot + dir * (0.45f * hl);
    static const float hs[] = {1.0f, 0.86f, 0.70f, 0.50f};
    static const float hf[] = {0.78f, 0.87f, 0.94f, 0.99f};
    for (int i = 0; i < 4; ++i) fill(frame, hs[i] == 1.0f ? p.head : scaled(p.head, hc, hs[i]), col(skin, hf[i]));
    const cv::Point2f tip = p.head_pivot + dir * (hl * 0.955f);
    cv::ellipse(frame, cv::Point(cvRound(tip.x * kFix), cvRound(tip.y * kFix)),
                cv::Size(std::max(1, cvRound(0.055f * hl * kFix)), std::max(1, cvRound(0.30f * hb * kFix))),
                p.head_angle * 180.0 / kPi, 0, 360, col(look.snout), cv::FILLED, cv::LINE_8, kShift);
    for (int s = -1; s <= 1; s += 2) {
      const cv::Point2f e = p.head_pivot + dir * (hl * 0.50f) + side * (s * 0.47f * hb);
      cv::circle(frame, cv::Point(cvRound(e.x * kFix), cvRound(e.y * kFix)), std::max(1, cvRound(0.05f * hb * kFix)),
                 cv::Scalar(50, 50, 62), cv::FILLED, cv::LINE_8, kShift);
    }
  }
  // Trunk: dark rim, then lighter bands towards a highlight shifted to the lit side / spine.
  {
    float hx = 0.05f * t.a, hy = 0;
    if (d.posture == Posture::LyingLateral) hy = -d.lateral_side * 0.30f * t.b;
    // light from the top-left of the image: highlight moves that way (body frame)
    const float lx = -0.7071f, ly = -0.7071f;
    const float cs = std::cos(d.heading), sn = std::sin(d.heading);
    hx += 0.10f * t.b * (cs * lx + sn * ly);
    hy += 0.18f * t.b * (-sn * lx + cs * ly);
    const float u = hx / t.a;
    const cv::Point2f c0 = X(hx, hy + t.bend * t.b * 0.8f * u * u);
    static const float sc[] = {1.0f, 0.94f, 0.87f, 0.79f, 0.70f, 0.60f, 0.48f, 0.35f, 0.20f};
    static const float fc[] = {0.74f, 0.80f, 0.86f, 0.905f, 0.94f, 0.97f, 0.995f, 1.02f, 1.04f};
    const cv::Vec3f rim_tint(0.96f, 0.95f, 1.0f);  // edges darken towards pink, not grey
    for (int i = 0; i < 9; ++i) {
      const float f = fc[i];
      const cv::Vec3f c = skin.mul(cv::Vec3f(1, 1, 1) * (1 - (1 - f) * 0.0f)) * f;
      const cv::Vec3f tinted = f < 1 ? c.mul(rim_tint + (cv::Vec3f(1, 1, 1) - rim_tint) * ((f - 0.74f) / 0.26f)) : c;
      fill(frame, sc[i] == 1.0f ? p.trunk : scaled(p.trunk, c0, sc[i]), col(tinted));
    }
    // Spine ridge (upright and sternal) and the shoulder line.
    if (d.posture != Posture::LyingLateral) {
      std::vector<cv::Point2f> ridge;
      const float yo = 0.5f * hy;
      for (int i = 0; i <= 12; ++i) {
        const float x = -0.82f * t.a * t.rear + (1.5f * t.a) * i / 12.0f;
        const float u2 = x / t.a;
        ridge.push_back(X(x, yo + t.bend * t.b * 0.8f * u2 * u2 - 0.05f * t.b * std::sin(kPi * i / 12.0f)));
      }
      for (int i = 12; i >= 0; --i) {
        const float x = -0.82f * t.a * t.rear + (1.5f * t.a) * i / 12.0f;
        const float u2 = x / t.a;
        ridge.push_back(X(x, yo + t.bend * t.b * 0.8f * u2 * u2 + 0.05f * t.b * std::sin(kPi * i / 12.0f)));
      }
      fill(frame, ridge, col(skin, 1.035f));
      std::vector<cv::Point2f> sh;
      for (int i = 0; i <= 10; ++i) {
        const float yy = (-0.8f + 1.6f * i / 10.0f) * t.b;
        const float x = 0.74f * t.a - 0.08f * t.a * (1 - (yy / t.b) * (yy / t.b));
        sh.push_back(X(x, yy + t.bend * t.b * 0.8f * 0.25f));
      }
      const auto shf = fixed_pts(sh);
      cv::polylines(frame, std::vector<std::vector<cv::Point>>{shf}, false, col(skin, 0.955f), std::max(1, cvRound(0.035f * t.b)),
                    cv::LINE_8, kShift);
    }

    std::vector<cv::Point2f> e, img;
    auto draw_patch = [&](const Patch& q, bool shade) {
      ellipse_pts({q.c.x * t.a, q.c.y * t.b}, {q.r.x * t.a, q.r.y * t.b}, q.angle, 16, e);
      img.clear();
      for (auto& pt : e) img.push_back(X(clip_to_trunk(t, pt)));
      float f = 1.0f;
      if (shade) {
        const float rr = std::min(1.0f, q.c.x * q.c.x * 0.5f + q.c.y * q.c.y);
        f = 1.05f - 0.22f * rr;
      }
      fill(frame, img, col(q.colour, f));
    };
    for (const auto& q : look.pigment) draw_patch(q, true);
    for (const auto& q : look.dirt) draw_patch(q, true);
    for (const auto& m : look.marks) {
      const float th = std::max(1.0f, 0.15f * t.b * m.size);
      const cv::Point2f c(m.c.x * t.a, m.c.y * t.b);
      const float ca = std::cos(m.angle), sa = std::sin(m.angle);
      auto seg = [&](float x0, float y0, float x1, float y1) {
        const cv::Point2f a = X(clip_to_trunk(t, {c.x + ca * x0 - sa * y0, c.y + sa * x0 + ca * y0}));
        const cv::Point2f b = X(clip_to_trunk(t, {c.x + ca * x1 - sa * y1, c.y + sa * x1 + ca * y1}));
        cv::line(frame, cv::Point(cvRound(a.x * kFix), cvRound(a.y * kFix)), cv::Point(cvRound(b.x * kFix), cvRound(b.y * kFix)),
                 col(m.colour), cvRound(th), cv::LINE_8, kShift);
      };
      const float s = m.size;
      switch (m.shape) {
        case 0: seg(0, -0.75f * t.b * s, 0, 0.75f * t.b * s); break;
        case 1: seg(-0.45f * t.a * s, 0, 0.35f * t.a * s, 0); break;
        case 2: {
          const cv::Point2f q = X(c);
          cv::circle(frame, cv::Point(cvRound(q.x * kFix), cvRound(q.y * kFix)), cvRound(0.22f * t.b * s * kFix), col(m.colour),
                     cv::FILLED, cv::LINE_8, kShift);
          break;
        }
        case 3:
          seg(-0.35f * t.b * s, -0.45f * t.b * s, 0.35f * t.b * s, 0.45f * t.b * s);
          seg(-0.35f * t.b * s, 0.45f * t.b * s, 0.35f * t.b * s, -0.45f * t.b * s);
          break;
        default:
          seg(-0.18f * t.a * s, -0.7f * t.b * s, -0.18f * t.a * s, 0.7f * t.b * s);
          seg(0.12f * t.a * s, -0.7f * t.b * s, 0.12f * t.a * s, 0.7f * t.b * s);
          break;
      }
    }
  }
  // Ears over everything, with an ear tag.
  for (int side = 0; side < 2; ++side) {
    const auto& ear = p.ears[side];
    const cv::Point2f ec = centroid(ear);
    fill(frame, ear, col(look.ear, 0.80f));
    fill(frame, scaled(ear, ec, 0.62f), col(look.ear, 0.95f));
    if (look.tag_ear == side) {
      const cv::Point2f tp = ear[0] * 0.45f + ear[1] * 0.35f + ear[4] * 0.2f;
      const float r = std::max(1.0f, 0.11f * 0.5f * d.width);
      cv::circle(frame, cv::Point(cvRound(tp.x * kFix), cvRound(tp.y * kFix)), cvRound(r * kFix), col(look.tag_colour),
                 cv::FILLED, cv::LINE_8, kShift);
    }
  }

  // Soften the drawing inside the outline (camera optics; removes band steps).
  cv::Rect r(sil_origin, sil.size());
  const int k = std::max(3, cvRound(3.0f * scale) | 1);
  cv::Rect rr(r.x - k, r.y - k, r.width + 2 * k, r.height + 2 * k);
  rr &= cv::Rect(0, 0, frame.cols, frame.rows);
  if (rr.empty()) return;
  cv::Mat blurred;
  cv::GaussianBlur(frame(rr), blurred, cv::Size(k, k), 0.9 * scale + 0.35);
  // mask = silhouette grown by one pixel, in rr coordinates
  cv::Mat m(rr.size(), CV_8UC1, cv::Scalar(0));
  const cv::Rect inter = r & rr;
  sil(cv::Rect(inter.x - r.x, inter.y - r.y, inter.width, inter.height))
      .copyTo(m(cv::Rect(inter.x - rr.x, inter.y - rr.y, inter.width, inter.height)));
  cv::dilate(m, m, cv::Mat(), cv::Point(-1, -1), 1);
  blurred.copyTo(frame(rr), m);
}

void motion_blur(cv::Mat& frame, const cv::Mat& sil, cv::Point sil_origin, cv::Point2f dir, float length_px) {
  if (length_px < 1.5f) return;
  const int pad = static_cast<int>(std::ceil(length_px)) + 2;
  cv::Rect r(sil_origin.x - pad, sil_origin.y - pad, sil.cols + 2 * pad, sil.rows + 2 * pad);
  r &= cv::Rect(0, 0, frame.cols, frame.rows);
  if (r.empty()) return;
  cv::Mat src = frame(r).clone();
  cv::Mat msk(r.size(), CV_8UC1, cv::Scalar(0));
  {
    const cv::Rect s(sil_origin, sil.size());
    const cv::Rect inter = s & r;
    if (inter.empty()) return;
    sil(cv::Rect(inter.x - s.x, inter.y - s.y, inter.width, inter.height))
        .copyTo(msk(cv::Rect(inter.x - r.x, inter.y - r.y, inter.width, inter.height)));
  }
  const int N = std::clamp(static_cast<int>(length_px / 2.5f) + 2, 3, 9);
  cv::Mat acc(r.size(), CV_32FC3, cv::Scalar::all(0)), macc(r.size(), CV_32FC1, cv::Scalar(0));
  cv::Mat shifted, mshift;
  for (int i = 0; i < N; ++i) {
    const float f = (static_cast<float>(i) / (N - 1) - 0.5f) * length_px;
    const cv::Mat M = (cv::Mat_<double>(2, 3) << 1, 0, dir.x * f, 0, 1, dir.y * f);
    cv::warpAffine(src, shifted, M, src.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    cv::warpAffine(msk, mshift, M, msk.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
    cv::accumulate(shifted, acc);
    cv::accumulate(mshift, macc);
  }
  acc *= 1.0 / N;
  macc *= 1.0 / (255.0 * N);
  for (int y = 0; y < r.height; ++y) {
    const float* a = acc.ptr<float>(y);
    const float* m = macc.ptr<float>(y);
    const uchar* s0 = msk.ptr<uchar>(y);
    uchar* f = frame.ptr<uchar>(r.y + y) + 3 * r.x;
    for (int x = 0; x < r.width; ++x) {
      // inside the sharp silhouette the smeared pig replaces it; outside, blend by coverage
      const float al = s0[x] ? 1.0f : std::min(1.0f, m[x] * 1.6f);
      if (al <= 0) continue;
      for (int c = 0; c < 3; ++c) f[3 * x + c] = sat(f[3 * x + c] * (1 - al) + a[3 * x + c] * al);
    }
  }
}

// ---- the pen ------------------------------------------------------------------------------------

namespace {

cv::Mat smooth_noise(Rng& rng, cv::Size size, int cells_x, int cells_y) {
  cv::Mat g(std::max(2, cells_y), std::max(2, cells_x), CV_32FC1);
  for (int y = 0; y < g.rows; ++y)
    for (int x = 0; x < g.cols; ++x) g.at<float>(y, x) = static_cast<float>(rng.normal());
  cv::Mat out;
  cv::resize(g, out, size, 0, 0, cv::INTER_CUBIC);
  return out;
}

void blend_layer(cv::Mat& img, const cv::Mat& mask01, const cv::Vec3f& colour, float strength) {
  for (int y = 0; y < img.rows; ++y) {
    cv::Vec3f* p = img.ptr<cv::Vec3f>(y);
    const float* m = mask01.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x) {
      const float a = std::clamp(m[x] * strength, 0.0f, 1.0f);
      if (a > 0) p[x] = p[x] * (1 - a) + colour * a;
    }
  }
}

void multiply_layer(cv::Mat& img, const cv::Mat& mask01, float factor) {
  for (int y = 0; y < img.rows; ++y) {
    cv::Vec3f* p = img.ptr<cv::Vec3f>(y);
    const float* m = mask01.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x) {
      const float a = std::clamp(m[x], 0.0f, 1.0f);
      if (a > 0) p[x] *= 1.0f + (factor - 1.0f) * a;
    }
  }
}

}  // namespace

Background make_background(const PenLayout& L, uint64_t seed) {
  Rng rng(seed);
  const int W = L.image_size.width, H = L.image_size.height;
  const float ppm = L.pixels_per_metre;
  const float s = ppm / 280.0f;
  cv::Mat img(H, W, CV_32FC3);

  // Concrete floor: tint, low/mid-frequency mottling, grain.
  const cv::Vec3f concrete(118, 131, 140);
  cv::Mat low = smooth_noise(rng, img.size(), 18, 10);
  cv::Mat mid = smooth_noise(rng, img.size(), std::max(4, W / 14), std::max(4, H / 14));
  cv::Mat tint = smooth_noise(rng, img.size(), 9, 5);
  for (int y = 0; y < H; ++y) {
    cv::Vec3f* p = img.ptr<cv::Vec3f>(y);
    const float* l = low.ptr<float>(y);
    const float* m = mid.ptr<float>(y);
    const float* t = tint.ptr<float>(y);
    for (int x = 0; x < W; ++x) {
      const uint64_t r = rng.next_u64();
      const float grain = static_cast<float>(static_cast<int>(r & 0xff) + static_cast<int>((r >> 8) & 0xff) - 255) * (6.0f / 104.0f);
      const float v = 11.0f * l[x] + 5.0f * m[x] + grain;
      p[x] = concrete + cv::Vec3f(v - 3.0f * t[x], v, v + 4.0f * t[x]);
    }
  }

  // Slatted dunging area: darker, dirtier, with dark slots.
  {
    const cv::Rect sa = cv::Rect(L.slatted_area) & cv::Rect(0, 0, W, H);
    const float pitch = 0.11f * ppm, gap = std::max(2.0f, 0.018f * ppm);
    for (int y = sa.y; y < sa.y + sa.height; ++y) {
      cv::Vec3f* p = img.ptr<cv::Vec3f>(y);
      for (int x = sa.x; x < sa.x + sa.width; ++x) {
        p[x] = p[x].mul(cv::Vec3f(0.80f, 0.84f, 0.88f));
        const float u = std::fmod(static_cast<float>(x - sa.x), pitch);
        if (u < gap) p[x] = cv::Vec3f(26, 29, 33) + p[x] * 0.12f;
        else if (u < gap + 1.5f || u > pitch - 1.0f) p[x] *= 0.8f;
      }
    }
    // manure / wet dirt on and near the slats: clusters of small irregular smears
    cv::Mat m(H, W, CV_32FC1, cv::Scalar(0));
    const int nb = static_cast<int>(22 * s * s) + 6;
    for (int i = 0; i < nb; ++i) {
      const float cx = static_cast<float>(rng.uniform(sa.x - 0.15 * ppm, W));
      const float cy = static_cast<float>(rng.uniform(L.pen.y, L.pen.y + L.pen.height));
      const int blobs = static_cast<int>(rng.uniform_int(3, 9));
      const double v = rng.uniform(0.35, 0.9);
      for (int k = 0; k < blobs; ++k) {
        const cv::Point c(cvRound(cx + rng.normal(0, 0.07) * ppm), cvRound(cy + rng.normal(0, 0.05) * ppm));
        const cv::Size ax(std::max(1, cvRound(rng.uniform(0.01, 0.06) * ppm)), std::max(1, cvRound(rng.uniform(0.01, 0.04) * ppm)));
        cv::ellipse(m, c, ax, rng.uniform(0, 180), 0, 360, cv::Scalar(v), cv::FILLED);
      }
    }
    const int k = (cvRound(0.025f * ppm) | 1);
    cv::GaussianBlur(m, m, cv::Size(k, k), 0);
    blend_layer(img, m, cv::Vec3f(48, 68, 88), 0.75f);
  }

  // Wet floor near the drinkers.
  {
    cv::Mat m(H, W, CV_32FC1, cv::Scalar(0));
    for (const auto& d : L.drinkers) {
      const cv::Point2f c(d.x + d.width / 2, d.y + d.height / 2);
      cv::ellipse(m, cv::Point(cvRound(c.x), cvRound(c.y)), cv::Size(cvRound(0.35f * ppm), cvRound(0.28f * ppm)), 0, 0, 360,
                  cv::Scalar(1.0), cv::FILLED);
    }
    const int k = (cvRound(0.25f * ppm) | 1);
    cv::GaussianBlur(m, m, cv::Size(k, k), 0);
    multiply_layer(img, m, 0.72f);
  }

  // Straw and shredded paper, dense in the resting area, sparse elsewhere; drawn on a layer
  // that is blended in, so it reads as bedding pressed into the floor rather than stickers.
  {
    cv::Mat layer = img.clone();
    const cv::Rect2f ra = L.resting_area;
    const int n_dense = static_cast<int>(1500 * s * s), n_sparse = static_cast<int>(450 * s * s);
    for (int i = 0; i < n_dense + n_sparse; ++i) {
      cv::Point2f c;
      if (i < n_dense) {
        c = {static_cast<float>(rng.uniform(ra.x, ra.x + ra.width)), static_cast<float>(rng.uniform(ra.y, ra.y + ra.height))};
        // thin out towards the edge of the area
        const float ex = std::min(c.x - ra.x, ra.x + ra.width - c.x) / (0.3f * ra.width);
        const float ey = std::min(c.y - ra.y, ra.y + ra.height - c.y) / (0.3f * ra.height);
        if (rng.uniform01() > std::min(1.0f, std::min(ex, ey) + 0.25f)) continue;
      } else {
        c = {static_cast<float>(rng.uniform(L.pen.x, W)), static_cast<float>(rng.uniform(L.pen.y, L.pen.y + L.pen.height))};
      }
      const float len = static_cast<float>(rng.uniform(0.025, 0.09)) * ppm;
      const float a = static_cast<float>(rng.uniform(0, 2 * kPi));
      const cv::Point2f d(std::cos(a) * len / 2, std::sin(a) * len / 2);
      const bool paper = rng.bernoulli(0.03);
      cv::Scalar c1;
      if (paper) {
        const double v = rng.uniform(170, 200);
        c1 = cv::Scalar(v, v, v - 5);
      } else {
        const double v = rng.uniform(0, 1), dry = rng.uniform(0, 1);
        c1 = cv::Scalar(75 + 35 * v + 20 * dry, 135 + 40 * v, 165 + 40 * v - 10 * dry);
      }
      const int th = paper ? std::max(1, cvRound(0.006f * ppm)) : (rng.bernoulli(0.3) ? std::max(1, cvRound(0.006f * ppm)) : 1);
      cv::line(layer, c - d, c + d, c1, th, cv::LINE_AA);
    }
    cv::GaussianBlur(layer, layer, cv::Size(3, 3), 0.6);
    cv::addWeighted(layer, 0.75, img, 0.25, 0, img);
  }

  // Walls: concrete tops with a dark shadow line on the floor next to them.
  {
    const cv::Vec3f wall(168, 174, 178);
    const int top = cvRound(L.pen.y), left = cvRound(L.pen.x), bottom = cvRound(L.pen.y + L.pen.height);
    cv::Mat wl = smooth_noise(rng, img.size(), 40, 22);
    for (int y = 0; y < H; ++y) {
      cv::Vec3f* p = img.ptr<cv::Vec3f>(y);
      const float* n = wl.ptr<float>(y);
      for (int x = 0; x < W; ++x) {
        const bool in_wall = y < top || y >= bottom || x < left;
        if (in_wall) {
          const uint64_t r = rng.next_u64();
          const float grain = static_cast<float>(static_cast<int>(r & 0xff) - 128) * (4.0f / 74.0f);
          p[x] = wall + cv::Vec3f(1, 1, 1) * (6.0f * n[x] + grain);
          // rounded top edge
          const int dist = std::min({y < top ? top - 1 - y : 1 << 20, y >= bottom ? y - bottom : 1 << 20, x < left ? left - 1 - x : 1 << 20});
          if (dist < 3 * s + 1) p[x] *= 0.78f + 0.07f * static_cast<float>(dist) / (s + 0.01f);
        } else {
          const float d = std::min({static_cast<float>(y - top), static_cast<float>(bottom - 1 - y), static_cast<float>(x - left)});
          const float sh = 0.05f * ppm;
          if (d < sh) p[x] *= 0.62f + 0.38f * (d / sh);
        }
      }
    }
  }

  // Feeder: stainless trough with three spaces, feed inside, hopper against the wall.
  {
    const cv::Rect f = cv::Rect(L.feeder);
    const cv::Rect hopper(f.x + f.width / 8, f.y + f.height - 2, f.width * 3 / 4, cvRound(L.image_size.height - (f.y + f.height)) + 2);
    for (int y = hopper.y; y < std::min(H, hopper.y + hopper.height); ++y)
      for (int x = hopper.x; x < hopper.x + hopper.width; ++x) {
        const float g = 0.5f + 0.5f * std::sin(static_cast<float>(x - hopper.x) / hopper.width * kPi);
        img.at<cv::Vec3f>(y, x) = cv::Vec3f(150, 152, 155) * (0.75f + 0.3f * g);
      }
    const int rim = std::max(2, cvRound(0.03f * ppm));
    for (int y = f.y; y < f.y + f.height; ++y)
      for (int x = f.x; x < f.x + f.width; ++x) {
        const float gy = static_cast<float>(y - f.y) / f.height;
        img.at<cv::Vec3f>(y, x) = cv::Vec3f(196, 198, 202) * (0.85f + 0.2f * (1 - gy));
      }
    const cv::Rect in(f.x + rim, f.y + rim, f.width - 2 * rim, f.height - 2 * rim);
    for (int y = in.y; y < in.y + in.height; ++y)
      for (int x = in.x; x < in.x + in.width; ++x) {
        const float gy = static_cast<float>(y - in.y) / in.height;
        cv::Vec3f c = cv::Vec3f(105, 110, 116) * (0.8f + 0.3f * gy);
        const uint64_t r = rng.next_u64();
        if ((r & 0xff) < 150) {  // feed pellets / meal
          const float v = static_cast<float>((r >> 8) & 0x3f);
          c = cv::Vec3f(45 + v * 0.5f, 85 + v * 0.7f, 120 + v);
        }
        img.at<cv::Vec3f>(y, x) = c;
      }
    for (int k = 1; k < L.feeder_spaces; ++k) {
      const int x = f.x + f.width * k / L.feeder_spaces;
      cv::rectangle(img, cv::Rect(x - rim / 2, f.y, std::max(2, rim), f.height), cv::Scalar(205, 207, 210), cv::FILLED);
    }
    cv::rectangle(img, f, cv::Scalar(120, 122, 126), 1);
  }

  // Drinkers: a bracket on the wall and the nipple.
  for (const auto& d : L.drinkers) {
    const cv::Rect r(d);
    cv::rectangle(img, r, cv::Scalar(172, 176, 180), cv::FILLED);
    cv::rectangle(img, r, cv::Scalar(95, 98, 102), std::max(1, cvRound(s)));
    const cv::Point c(r.x + r.width / 2, r.y + r.height / 2);
    cv::circle(img, c, std::max(2, cvRound(0.022f * ppm)), cv::Scalar(70, 72, 78), cv::FILLED, cv::LINE_AA);
    cv::circle(img, c, std::max(1, cvRound(0.010f * ppm)), cv::Scalar(200, 205, 210), cv::FILLED, cv::LINE_AA);
  }

  // Window light on the floor, and lens vignetting.
  {
    cv::Mat m(H, W, CV_32FC1, cv::Scalar(0));
    const std::vector<cv::Point> quad = {{cvRound(0.12 * W), cvRound(L.pen.y)}, {cvRound(0.30 * W), cvRound(L.pen.y)},
                                         {cvRound(0.40 * W), cvRound(0.55 * H)}, {cvRound(0.22 * W), cvRound(0.55 * H)}};
    cv::fillConvexPoly(m, quad, cv::Scalar(1.0));
    const int k = (cvRound(0.18f * ppm) | 1);
    cv::GaussianBlur(m, m, cv::Size(k, k), 0);
    multiply_layer(img, m, 1.16f);
    const float cx = W * 0.5f, cy = H * 0.5f, rn = std::sqrt(cx * cx + cy * cy);
    for (int y = 0; y < H; ++y) {
      cv::Vec3f* p = img.ptr<cv::Vec3f>(y);
      for (int x = 0; x < W; ++x) {
        const float r2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (rn * rn);
        p[x] *= 1.0f - 0.22f * r2;
      }
    }
  }

  Background bg;
  img.convertTo(bg.image, CV_8UC3);
  bg.ir_falloff.create(H, W, CV_8UC1);
  const float cx = W * 0.47f, cy = H * 0.45f, rn = std::sqrt(cx * cx + cy * cy);
  for (int y = 0; y < H; ++y) {
    uchar* p = bg.ir_falloff.ptr<uchar>(y);
    for (int x = 0; x < W; ++x) {
      const float r2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (rn * rn);
      p[x] = sat(255.0f * std::max(0.25f, 1.0f - 0.75f * r2));
    }
  }
  return bg;
}

void draw_toy(cv::Mat& frame, const PenLayout& L, float swing, float scale) {
  const float ppm = L.pixels_per_metre;
  const cv::Point2f anchor(L.toy.x, L.pen.y - 0.02f * ppm);
  const cv::Point2f toy(L.toy.x + std::sin(swing) * 0.12f * ppm, L.toy.y + (1 - std::cos(swing)) * 0.05f * ppm);
  // chain links
  const int links = 7;
  for (int i = 0; i < links; ++i) {
    const cv::Point2f p = anchor + (toy - anchor) * (static_cast<float>(i) / links);
    cv::circle(frame, cv::Point(cvRound(p.x * kFix), cvRound(p.y * kFix)), std::max(1, cvRound(0.012f * ppm * kFix)),
               cv::Scalar(70, 75, 80), std::max(1, cvRound(scale)), cv::LINE_8, kShift);
  }
  const cv::Size ax(std::max(2, cvRound(0.07f * ppm * kFix)), std::max(2, cvRound(0.045f * ppm * kFix)));
  const cv::Point c(cvRound(toy.x * kFix), cvRound(toy.y * kFix));
  const double ang = 90 + swing * 57.3;
  cv::ellipse(frame, c, ax, ang, 0, 360, cv::Scalar(20, 150, 190), cv::FILLED, cv::LINE_8, kShift);
  cv::ellipse(frame, c, cv::Size(ax.width * 3 / 4, ax.height * 3 / 4), ang, 0, 360, cv::Scalar(35, 190, 225), cv::FILLED,
              cv::LINE_8, kShift);
  cv::ellipse(frame, c - cv::Point(cvRound(0.01f * ppm * kFix), cvRound(0.01f * ppm * kFix)),
              cv::Size(ax.width / 3, ax.height / 3), ang, 0, 360, cv::Scalar(120, 225, 245), cv::FILLED, cv::LINE_8, kShift);
}

}  // namespace eh::data::detail
