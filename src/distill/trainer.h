// The distillation trainer behind `edgeherd distill`: teacher-feature cache, AdamW with warm-up
// and cosine decay, gradient clipping, deterministic seeding (each step's batch, augmentation and
// sampled positions derive from (seed, step), so a resumed run repeats the uninterrupted one),
// checkpoints every N steps, progress, a loss-curve plot and final weights as safetensors.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distill/loss.h"

namespace eh::distill {

class Teacher;  // distill/models.h

struct TrainOptions {
  std::string teacher_arch = "sam3_backbone", teacher_config, teacher_weights;
  // Overrides the three fields above: a teacher built by the caller (e.g. a model whose frozen
  // heads extend the downstream term, src/perception/train.cpp).
  std::function<std::unique_ptr<Teacher>()> teacher_factory;
  std::string student_config, student_weights;  // weights optional (fresh init from seed)
  std::vector<std::string> data;                // videos and/or image folders
  int64_t max_frames = 400, frame_stride = 1;
  int64_t frame_size = 0;                       // square storage size of frames; 0: max(student input, 2 x grid)
  int64_t val_every = 10;                       // every k-th frame is held out for validation
  std::string out, cache_dir;                   // cache_dir default: <out>/teacher_cache
  bool rebuild_cache = false, resume = true, augment = true;
  int64_t steps = 1000, batch = 4, checkpoint_every = 100, seed = 0, lr_warmup = 50;
  double lr = 1e-3, min_lr_ratio = 0.05, clip = 1.0, weight_decay = 0.05;
  LossConfig loss;
  // Optional supervised term: the loss of the student's outputs through the teacher's frozen task
  // heads (Teacher::necks_and_heads) against labels the caller holds for the batch's frames (by
  // FrameSet key), times task_weight. It joins the scale group of the schedule: like the
  // downstream term it reads the heads, which depend on feature magnitudes.
  std::function<at::Tensor(const at::Tensor& heads, const std::vector<std::string>& keys)> task_loss;
  double task_weight = 0;
  int64_t stop_after = -1;  // tests: checkpoint and stop after this many steps, as an interrupt would
};

struct HistoryRow {
  int64_t step;
  double total, direction, scale, structure, downstream, lr, task;
};

struct TrainReport {
  int64_t steps_done = 0;
  bool interrupted = false;
  double val_cosine = 0, val_direction = 0, val_scale = 0, val_structure = 0, val_downstream = 0, val_task = 0;
  int64_t train_frames = 0, val_frames = 0;
  std::string weights;  // final student weights
  std::vector<HistoryRow> history;
};

using Progress = std::function<void(const std::string& phase, int64_t done, int64_t total, const std::string& detail)>;

// Set from a signal handler: the trainer checkpoints and returns with interrupted = true.
extern std::atomic<bool> stop_requested;

TrainReport train(const TrainOptions& opt, const Progress& progress = {});

}  // namespace eh::distill
