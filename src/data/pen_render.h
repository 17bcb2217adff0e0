// Internal to the simulator: pig shapes, the static pen background and per-frame drawing.
// Not a public API (may change with the simulator).
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/rng.h"
#include "data/simulator.h"

namespace eh::data::detail {

// Body frame: origin at the trunk centre, +x towards the snout, +y to the pig's right when
// seen from above with heading 0 (image +y). Patch coordinates are normalised: x in units of
// the trunk half-length, y in units of the trunk half-width.
struct Patch {
  cv::Point2f c;
  cv::Point2f r;
  float angle = 0;
  cv::Vec3f colour;
};

struct Mark {
  int shape = 0;  // 0 stripe across, 1 spine line, 2 dot, 3 cross, 4 double stripe
  cv::Vec3f colour;
  cv::Point2f c;
  float size = 1;
  float angle = 0;
};

struct PigLook {
  float length_px = 0;  // snout to rump at growth 1
  float width_ratio = 0.36f;
  cv::Vec3f skin, ear, snout, hoof;
  int ear_type = 0;     // 0 erect, 1 floppy
  std::vector<Patch> pigment;
  std::vector<Patch> dirt;
  int dirt_patches = 0;  // clusters (each several smears)
  std::vector<Mark> marks;
  int tag_ear = -1;     // -1 none, 0 left, 1 right
  cv::Vec3f tag_colour;
  float tail_curl = 1;
  float speed_factor = 1;
  int lame_leg = 0;     // 0 FL, 1 FR, 2 RL, 3 RR
  std::string description;
};

PigLook make_pig_look(Rng& rng, float base_length_px);

// Per-frame drawing state of one pig.
struct PigDraw {
  cv::Point2f centre;
  float heading = 0;
  float length = 0;
  float width = 0;       // trunk width (already posture-adjusted)
  Posture posture = Posture::Standing;
  float head_yaw = 0;
  float head_bob = 0;    // 0..1, head lowered (eating)
  float gait_phase = 0;
  float gait_amp = 0;    // 0 standing still .. 1 walking .. 1.6 running
  float lameness = 0;
  int lateral_side = 1;  // lateral lying: side the legs point to (+1 right, -1 left)
  float bend = 0;        // banana bend of the trunk, -1..1
};

// Image-coordinate outlines of one pig.
struct PigPolys {
  std::vector<cv::Point2f> trunk, head, ears[2], tail;
  std::vector<std::vector<cv::Point2f>> legs;
  float tail_thickness = 1;
  cv::Point2f head_pivot;   // where the head turns (image coordinates)
  float head_angle = 0;     // heading + head yaw
  float head_length = 0;    // pivot to snout tip
  float head_half_width = 0;
  cv::Rect2f bounds;  // of every point (not clipped)
};

PigPolys build_pig_polys(const PigDraw& d, const PigLook& look);

// Fills the silhouette (trunk, head, ears, legs, tail) with `value` into a CV_8UC1 canvas whose
// top-left is at image position `origin`. With `transposed` the canvas holds the transposed
// image (canvas(x, y) = pixel (x, y) of the image) and origin is given in image coordinates.
void raster_silhouette(const PigPolys& p, cv::Mat& canvas, cv::Point origin, uint8_t value, bool transposed = false);

// Draws the pig in colour onto `frame`. `sil` is its silhouette (CV_8UC1, 255 inside) with
// top-left at image position `sil_origin`, used to soften the drawing inside the outline.
void draw_pig(cv::Mat& frame, const PigPolys& p, const PigDraw& d, const PigLook& look, const cv::Mat& sil,
              cv::Point sil_origin, float scale);

// Soft contact shadow of a pig onto the floor.
void draw_shadow(cv::Mat& frame, const PigPolys& p, const PigDraw& d, float scale);

// Smears the pig along its motion over `length_px` pixels (exposure during motion).
void motion_blur(cv::Mat& frame, const cv::Mat& sil, cv::Point sil_origin, cv::Point2f velocity_dir, float length_px);

struct Background {
  cv::Mat image;        // BGR, the static pen (floor, walls, feeder, drinkers)
  cv::Mat ir_falloff;   // CV_8UC1, IR illuminator fall-off (255 = centre)
};
Background make_background(const PenLayout& layout, uint64_t seed);

// The toy with its chain; swing in radians.
void draw_toy(cv::Mat& frame, const PenLayout& layout, float swing, float scale);

}  // namespace eh::data::detail
