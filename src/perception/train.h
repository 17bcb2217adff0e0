// Training the pen-tiny segmenters on simulated pens (library functions behind
// `edgeherd train-segmenter`; `edgeherd train-demo` calls them too).
//
//   train_segmenter(): the teacher (SAM 3 trunk + neck + instance head) from scratch on frames
//     of many simulated pens with exact instance ground truth; AdamW with warm-up and cosine
//     decay, deterministic seeding (each step's batch and augmentation derive from (seed, step),
//     so a resumed run repeats the uninterrupted one), checkpoints + resume, loss.svg, and
//     <out>/{config.json, weights.safetensors, card.md}.
//   distill_student(): the student encoder distilled from the trained teacher's trunk with the
//     eh::distill trainer (four-term loss, downstream term through the teacher's frozen necks),
//     written as <model_dir>/student/{config.json, weights.safetensors, card.md}.
// Simulator seeds 9001..9999 are held out for evaluation and refused here.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace eh::distill {
class Teacher;  // distill/models.h
}

namespace eh::perception {

using Progress = std::function<void(const std::string& phase, int64_t done, int64_t total, const std::string& detail)>;

// Which simulated pens and frames to learn from.
struct SimFrames {
  int64_t first_seed = 1, seeds = 48;  // pens first_seed .. first_seed + seeds - 1
  int64_t frames_per_seed = 24;        // frames taken per pen ...
  int64_t stride = 8;                  // ... every stride-th frame from the start
  int pigs = 8;
};
// Throws eh::UsageError when the range touches the held-out seeds 9001..9999.
void check_training_seeds(const SimFrames& f);
// Calls fn(frame BGR, instance label image, seed, frame index) for every selected frame, in order,
// on the calling thread. The pens are simulated `workers` at a time (each is its own simulation:
// the frames do not depend on the number).
void for_each_sim_frame(const SimFrames& f, const std::function<void(const cv::Mat&, const cv::Mat&, uint64_t, int64_t)>& fn,
                        const Progress& progress = {}, int workers = 1);

struct SegTrainOptions {
  std::string config;  // teacher config (configs/pen_tiny_teacher.json)
  std::string out;     // the model's directory: config.json, weights.safetensors, card.md, loss.svg
  std::string work;    // checkpoint, history.csv (default out/segmenter-work/teacher)
  SimFrames data;
  int64_t steps = 1200, batch = 8, warmup = 60, checkpoint_every = 100;
  double lr = 2e-3, min_lr_ratio = 0.05, weight_decay = 0.05, clip = 1.0;
  double w_foreground = 1.0, w_centre = 1.0, w_offset = 0.2;
  float sigma = 2.0f;    // centre heatmap Gaussian, cells of the head map
  uint64_t seed = 0;
  bool resume = true, augment = true;
  std::string command;   // recorded in the card
  int64_t stop_after = -1;  // tests: checkpoint and stop after this many steps, as an interrupt would
};

struct SegTrainReport {
  int64_t steps_done = 0, frames = 0;
  bool interrupted = false;
  double final_loss = 0, wall_s = 0;
  int64_t params = 0;
};

SegTrainReport train_segmenter(const SegTrainOptions& opt, const Progress& progress = {});

struct StudentTrainOptions {
  std::string model_dir;       // holds teacher/ (trained); student/ is written
  std::string student_config;  // configs/pen_tiny_student.json
  std::string work;            // frames, teacher cache, distill checkpoints (default out/segmenter-work/student)
  SimFrames data{2001, 240, 10, 6, 8};  // many pens, few frames each: the ground-truth term wants variety
  int64_t steps = 1500, batch = 8, warmup = 60, checkpoint_every = 100;
  double lr = 2e-3, weight_decay = 0.05;
  int64_t scale_warmup = -1, scale_ramp = -1;  // loss schedule; -1: 15% and 15% of steps
  uint64_t seed = 0;
  bool resume = true;
  bool head_term = true;  // the downstream term also compares the frozen instance head's outputs
  // > 0: also the segmentation loss against the simulator's ground truth on the student's outputs
  // through the frozen neck and head (the teacher's training loss and weights), times gt_weight.
  double gt_weight = 4;
  double w_foreground = 1.0, w_centre = 1.0, w_offset = 0.2;
  float sigma = 2.0f;  // centre heatmap Gaussian, cells of the head map (as the teacher's)
  int64_t heldout_frames = 30;  // frames of the evaluation pen 9002 for the held-out cosine
  std::string command;
};

struct StudentTrainReport {
  int64_t steps_done = 0, train_frames = 0, val_frames = 0;
  bool interrupted = false;
  double val_cosine = 0, wall_s = 0;
  int64_t params = 0;
};

StudentTrainReport distill_student(const StudentTrainOptions& opt, const Progress& progress = {});

// A trained teacher directory (config.json, weights.safetensors) as the distiller's frozen teacher.
// Its downstream maps: the detector neck's levels, then with head_term the instance head's
// foreground and centre probabilities and its offsets times the foreground probability.
std::unique_ptr<distill::Teacher> make_pen_teacher(const std::string& teacher_dir, bool head_term);

}  // namespace eh::perception
