// Deterministic overhead pen camera simulator (issue 6). Frame by frame, in process:
//
//   eh::data::SimConfig cfg;  cfg.seed = 7;  cfg.num_pigs = 8;
//   eh::data::PenSimulator sim(cfg);
//   sim.step();                                   // first call renders frame 0
//   const cv::Mat& frame = sim.frame();           // BGR, cfg.size
//   for (const eh::data::GtObject& o : sim.ground_truth()) { o.id, o.box, o.mask, ... }
//
// Everything follows from the seeds (own distributions over std::mt19937_64, see rng.h): the
// same config gives byte-identical ground truth. Ground truth never depends on render-only
// randomness (noise, lighting jitter), so render options do not change it.
// Conventions (docs/simulator.md): image coordinates in pixels, origin top-left; a pig's
// `box` is its full-body (amodal) box clipped to the image, `visible_box` the bounding box of
// its visible mask; masks exclude pixels covered by pigs drawn above (draw order: lying, then
// sitting, then standing, then moving; ties by id) and are the sharp silhouette (no blur).
#pragma once
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/behaviour.h"
#include "data/rle.h"

namespace eh::data {

enum class Posture : uint8_t { Standing = 0, Sitting = 1, LyingSternal = 2, LyingLateral = 3 };
const char* posture_name(Posture p);

// The pen in image coordinates. The pen is longer than the field of view: its right part
// (`alley`, x >= image width) is out of view, so pigs leave and re-enter on the right edge.
struct PenLayout {
  cv::Size image_size;
  float pixels_per_metre = 0;
  cv::Rect2f view;           // (0, 0, width, height)
  cv::Rect2f pen;            // floor inside the walls (extends past the right image edge)
  cv::Rect2f alley;          // part of `pen` outside the view
  cv::Rect2f feeder;         // trough on the bottom wall; eating = head over it
  int feeder_spaces = 3;
  std::vector<cv::Rect2f> drinkers;  // nipple drinkers; drinking = snout at one
  cv::Point2f toy;           // hanging enrichment toy (playing)
  cv::Rect2f resting_area;   // solid floor with straw, preferred for lying
  cv::Rect2f slatted_area;   // slatted dunging floor
};

struct PigPose {
  cv::Point2f centre;  // trunk centre (not the snout-rump midpoint), pixels
  float heading = 0;   // radians, direction of the snout: 0 = +x (right), pi/2 = +y (down)
  float length = 0;    // snout to rump, pixels
  float width = 0;     // trunk width as drawn (lateral lying is wider), pixels
  Posture posture = Posture::Standing;
  float head_yaw = 0;  // head angle relative to the trunk, radians
};

// Planted per-animal state (longitudinal mode); defaults are a healthy 30 kg grower.
struct PigHealth {
  float lameness = 0;   // 0..1: slower, uneven gait (one leg), more lying and sitting
  float illness = 0;    // 0..1: less eating, playing and moving, more and longer lying
  float growth = 1;     // body length multiplier (weight ~ growth^3)
  float weight_kg = 30;
};

struct GtObject {
  int id = 0;                         // 1..num_pigs, stable for the whole run
  Behaviour behaviour = Behaviour::Unknown;
  PigPose pose;
  cv::Rect box;                       // full body, clipped to the image
  cv::Rect visible_box;               // bounding box of `mask`; empty when fully hidden
  float visibility = 0;               // visible pixels / full-body pixels, rounded to 4 decimals
  int visible_pixels = 0;
  int body_pixels = 0;                // whole silhouette, including parts outside the image
  Rle mask;                           // visible part, whole image (empty Rle when masks are off)
  float speed = 0;                    // trunk centre speed, pixels/s
  int draw_order = 0;                 // 0 = drawn first (lowest)
  PigHealth health;
};

struct LightingState {
  double hour = 0;          // clock time, hours (may exceed 24 in long runs; use fmod)
  float level = 1;          // scene illumination relative to full daylight
  float camera_gain = 1;    // auto-exposure gain (amplifies noise)
  bool infrared = false;    // night / lights off: grey IR image
  bool flicker = false;     // mains flicker with rolling-shutter banding
};

// What makes an animal recognisable (stable for the run; the same appearance_seed and id give
// the same animal).
struct AnimalSummary {
  int id = 0;
  float length_px = 0;       // at growth 1
  float width_ratio = 0;
  cv::Scalar skin_bgr;
  int pigment_patches = 0;   // dark patches
  int dirt_patches = 0;
  int spray_marks = 0;
  std::string description;   // e.g. "pink, blue stripe across back, 2 dirt patches"
};

struct SimConfig {
  uint64_t seed = 1;             // dynamics, lighting events, rendering noise
  uint64_t appearance_seed = 0;  // animals' looks and sizes; 0 = derived from seed
  int num_pigs = 8;              // 1..64
  cv::Size size{1280, 720};
  double fps = 6.0;
  double start_hour = 10.0;      // clock time of frame 0: day/night light and activity
  bool render = true;            // false: dynamics and ground truth only (frame() is empty)
  int render_every = 1;          // > 1: draw only frames whose index is a multiple (frame() is
                                 // empty on the others; ground truth is unchanged; the drawn
                                 // frames' sensor noise differs from render_every = 1)
  bool masks = true;             // rasterised ground truth (masks, exact visibility); false:
                                 // boxes from the shape outline, visibility ~ in-view fraction
  bool hard_cases = true;        // lighting events (lights off -> IR, dimming, flicker), exits
                                 // into the out-of-view alley
  bool sensor_noise = true;
  bool motion_blur = true;
  int jpeg_quality = 0;          // > 0: JPEG round trip per frame (block artefacts; ~8 ms)
  double activity = 1.0;         // > 1 livelier (shorter lying bouts), < 1 calmer
  std::vector<PigHealth> health; // per pig, index id-1; missing entries are healthy
};

class PenSimulator {
 public:
  explicit PenSimulator(const SimConfig& cfg);  // throws eh::Error on a bad config
  ~PenSimulator();
  PenSimulator(PenSimulator&&) noexcept;
  PenSimulator& operator=(PenSimulator&&) noexcept;
  PenSimulator(const PenSimulator&) = delete;
  PenSimulator& operator=(const PenSimulator&) = delete;

  // Advances one frame (the first call produces frame 0) and renders it.
  void step();

  int frame_index() const;  // 0-based; -1 before the first step()
  double time_s() const;    // frame_index / fps
  const cv::Mat& frame() const;
  // Pigs with any part inside the image, in id order.
  const std::vector<GtObject>& ground_truth() const;
  // Every pig (also those in the alley), in id order; box/mask fields are empty for pigs out
  // of view.
  const std::vector<GtObject>& all_animals() const;
  // CV_8UC1, pixel = id of the pig visible there, 0 = floor (computed on demand; needs masks).
  cv::Mat instance_map() const;
  const PenLayout& layout() const;
  const SimConfig& config() const;
  LightingState lighting() const;
  std::vector<AnimalSummary> animals() const;
  // Changes an animal's planted state from the next step on (longitudinal mode).
  void set_health(int id, const PigHealth& h);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The pen geometry for an image size (used by the simulator; exposed for motion features).
PenLayout make_pen_layout(cv::Size size);

struct RenderBenchmark {
  int frames = 0;
  double render_fps = 0;      // step() with rendering and full ground truth (masks), one thread
  double ms_per_frame = 0;    // wall clock
  double render_fps_cpu = 0;  // the same from the thread's CPU time (robust on a loaded machine)
  double dynamics_fps = 0;  // step() with render = false, masks = false
};
// Times step() on one thread (cv::setNumThreads(1) while it runs) after `warmup` frames.
RenderBenchmark measure_render_fps(const SimConfig& cfg, int frames = 300, int warmup = 10);

}  // namespace eh::data
