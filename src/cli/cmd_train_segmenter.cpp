// edgeherd train-segmenter: train the pen-tiny teacher segmenter on simulated pens, or distil
// the student encoder from a trained teacher (src/perception/train.h).
#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "cli/command.h"
#include "cli/phase_progress.h"
#include "core/error.h"
#include "distill/trainer.h"
#include "perception/train.h"

namespace fs = std::filesystem;

namespace {

struct Opts {
  std::string variant = "teacher", model, config, work;
  eh::perception::SimFrames data;
  bool data_set = false;
  int64_t steps = -1, batch = -1, warmup = -1, checkpoint_every = 100, stop_after = -1;
  double lr = -1, gt_weight = -1;
  uint64_t seed = 0;
  bool resume = true;
  bool head_term = true;
};

std::string command_line(const Opts& o) {
  std::string s = fmt::format("edgeherd train-segmenter --variant {} --model {} --config {}", o.variant, o.model, o.config);
  s += fmt::format(" --first-seed {} --seeds {} --frames-per-seed {} --stride {}", o.data.first_seed, o.data.seeds,
                   o.data.frames_per_seed, o.data.stride);
  if (o.steps > 0) s += fmt::format(" --steps {}", o.steps);
  if (o.batch > 0) s += fmt::format(" --batch {}", o.batch);
  if (o.lr > 0) s += fmt::format(" --lr {}", o.lr);
  if (o.warmup >= 0) s += fmt::format(" --warmup {}", o.warmup);
  s += fmt::format(" --seed {}", o.seed);
  if (o.variant == "student" && !o.head_term) s += " --no-head-term";
  if (o.variant == "student" && o.gt_weight >= 0) s += fmt::format(" --gt-weight {}", o.gt_weight);
  return s;
}

eh::cli::Registrar reg({"train-segmenter",
                        "Train the pen-tiny teacher segmenter on simulated pens, or distil its student (--variant student)",
                        [](CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("--variant", o->variant, "teacher | student")->check(CLI::IsMember({"teacher", "student"}))->capture_default_str();
  app.add_option("--model", o->model, "Model directory (writes MODEL/teacher or MODEL/student)")->required();
  app.add_option("--config", o->config, "Teacher config (configs/pen_tiny_teacher.json) or student config "
                                        "(configs/pen_tiny_student.json)")->required()->check(CLI::ExistingFile);
  app.add_option("--work", o->work, "Working directory: checkpoints, frames, teacher cache (default out/NAME-work/VARIANT)");
  app.add_option("--first-seed", o->data.first_seed, "First simulated pen (seeds 9001..9999 are held out)");
  app.add_option("--seeds", o->data.seeds, "Number of simulated pens");
  app.add_option("--frames-per-seed", o->data.frames_per_seed, "Frames taken per pen");
  app.add_option("--stride", o->data.stride, "Take every k-th frame of a pen");
  app.add_option("--pigs", o->data.pigs, "Pigs per pen");
  app.add_option("--steps", o->steps, "Optimiser steps");
  app.add_option("--batch", o->batch, "Frames per step");
  app.add_option("--lr", o->lr, "Peak learning rate (AdamW, warm-up then cosine)");
  app.add_option("--warmup", o->warmup, "Learning-rate warm-up steps");
  app.add_option("--seed", o->seed, "Seed (init, batches, augmentation)")->capture_default_str();
  app.add_option("--checkpoint-every", o->checkpoint_every, "Checkpoint period in steps")->capture_default_str();
  app.add_flag("!--no-resume", o->resume, "Start afresh even if the work directory holds a checkpoint");
  app.add_flag("!--no-head-term", o->head_term,
               "Student: the downstream term compares only the neck levels, not the frozen instance head's outputs");
  app.add_option("--gt-weight", o->gt_weight,
                 fmt::format("Student: weight of the segmentation loss against the simulator's ground truth through the frozen "
                             "neck and head (0: distillation alone; default {})",
                             eh::perception::StudentTrainOptions{}.gt_weight))
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--stop-after", o->stop_after, "Checkpoint and stop after N steps (as an interrupt would)");
  CLI::App* ap = &app;
  return [o, ap]() {
    std::signal(SIGINT, [](int) { eh::distill::stop_requested = true; });
    const bool teacher = o->variant == "teacher";
    if (!teacher) {  // the student's own data defaults (other pens than the teacher's)
      const eh::perception::SimFrames d = eh::perception::StudentTrainOptions{}.data;
      if (ap->get_option("--first-seed")->count() == 0) o->data.first_seed = d.first_seed;
      if (ap->get_option("--seeds")->count() == 0) o->data.seeds = d.seeds;
      if (ap->get_option("--frames-per-seed")->count() == 0) o->data.frames_per_seed = d.frames_per_seed;
      if (ap->get_option("--stride")->count() == 0) o->data.stride = d.stride;
    }
    // Default working directory under out/ (ignored by git), never inside the model directory.
    const std::string work =
        o->work.empty() ? (fs::path("out") / (fs::path(o->model).filename().string() + "-work") / o->variant).string() : o->work;
    const std::string cmd = command_line(*o);
    if (teacher) {
      eh::perception::SegTrainOptions t;
      t.config = o->config;
      t.out = (fs::path(o->model) / "teacher").string();
      t.work = work;
      t.data = o->data;
      if (o->steps > 0) t.steps = o->steps;
      if (o->batch > 0) t.batch = o->batch;
      if (o->lr > 0) t.lr = o->lr;
      if (o->warmup >= 0) t.warmup = o->warmup;
      t.seed = o->seed;
      t.checkpoint_every = o->checkpoint_every;
      t.resume = o->resume;
      t.stop_after = o->stop_after;
      t.command = cmd;
      auto r = eh::perception::train_segmenter(t, eh::cli::phase_progress());
      if (r.interrupted) {
        std::cout << "stopped at step " << r.steps_done << "; rerun the same command to resume\n";
        return 0;
      }
      std::cout << fmt::format("teacher: {} parameters, {} frames, {} steps, final loss {:.4f}, {:.0f} s -> {}\n", r.params,
                               r.frames, r.steps_done, r.final_loss, r.wall_s, t.out);
      return 0;
    }
    eh::perception::StudentTrainOptions s;
    s.model_dir = o->model;
    s.student_config = o->config;
    s.work = work;
    s.data = o->data;
    if (o->steps > 0) s.steps = o->steps;
    if (o->batch > 0) s.batch = o->batch;
    if (o->lr > 0) s.lr = o->lr;
    if (o->warmup >= 0) s.warmup = o->warmup;
    s.seed = o->seed;
    s.checkpoint_every = o->checkpoint_every;
    s.resume = o->resume;
    s.head_term = o->head_term;
    if (o->gt_weight >= 0) s.gt_weight = o->gt_weight;
    s.command = cmd;
    auto r = eh::perception::distill_student(s, eh::cli::phase_progress());
    if (r.interrupted) {
      std::cout << "stopped at step " << r.steps_done << "; rerun the same command to resume\n";
      return 0;
    }
    std::cout << fmt::format("student: {} parameters, {} steps, held-out cosine {:.4f}, {:.0f} s -> {}/student\n", r.params,
                             r.steps_done, r.val_cosine, r.wall_s, o->model);
    return 0;
  };
}});

}  // namespace
