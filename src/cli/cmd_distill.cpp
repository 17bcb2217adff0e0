// edgeherd distill / distill-ablation: train the student encoder from the teacher trunk.
#include <fmt/format.h>

#include <csignal>
#include <fstream>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "cli/command.h"
#include "cli/phase_progress.h"
#include "core/error.h"
#include "distill/trainer.h"

namespace fs = std::filesystem;

namespace {

void add_options(CLI::App& app, eh::distill::TrainOptions& o, std::string& teacher, std::string& student) {
  app.add_option("--teacher", teacher, "Teacher as CONFIG.json+WEIGHTS.safetensors")->required();
  app.add_option("--teacher-arch", o.teacher_arch, "Teacher architecture")->capture_default_str();
  app.add_option("--student", student, "Student as CONFIG.json[+WEIGHTS.safetensors]")->required();
  app.add_option("--data", o.data, "Videos and/or image folders")->required();
  app.add_option("--out", o.out, "Output directory")->required();
  app.add_option("--cache", o.cache_dir, "Teacher-feature cache directory (default OUT/teacher_cache)");
  app.add_flag("--rebuild-cache", o.rebuild_cache, "Discard a stale teacher-feature cache");
  app.add_option("--max-frames", o.max_frames, "Frames sampled from the data")->capture_default_str();
  app.add_option("--frame-stride", o.frame_stride, "Take every k-th frame")->capture_default_str();
  app.add_option("--val-every", o.val_every, "Hold out every k-th frame for validation")->capture_default_str();
  app.add_option("--steps", o.steps, "Optimiser steps")->capture_default_str();
  app.add_option("--batch", o.batch, "Frames per step")->capture_default_str();
  app.add_option("--lr", o.lr, "Peak learning rate (AdamW)")->capture_default_str();
  app.add_option("--lr-warmup", o.lr_warmup, "Linear learning-rate warm-up steps, then cosine decay")->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  app.add_option("--clip", o.clip, "Gradient-norm clipping")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed (init, batches, augmentation)")->capture_default_str();
  app.add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint period in steps")->capture_default_str();
  app.add_flag("!--no-resume", o.resume, "Start afresh even if OUT holds a checkpoint");
  app.add_flag("!--no-augment", o.augment, "No photometric augmentation of the student input");
  app.add_option("--w-direction", o.loss.w_direction, "Weight of term 1 (direction)")->capture_default_str();
  app.add_option("--w-scale", o.loss.w_scale, "Weight of term 2 (scale)")->capture_default_str();
  app.add_option("--w-structure", o.loss.w_structure, "Weight of term 3 (structure)")->capture_default_str();
  app.add_option("--w-downstream", o.loss.w_downstream, "Weight of term 4 (downstream, through the necks)")->capture_default_str();
  app.add_option("--scale-warmup", o.loss.warmup_steps, "Steps before the scale terms start")->capture_default_str();
  app.add_option("--scale-ramp", o.loss.ramp_steps, "Steps over which the scale terms ramp to full weight")->capture_default_str();
  app.add_flag("--scale-first", o.loss.scale_first, "Ablation: scale terms first, direction terms ramped in");
  app.add_option("--structure-tokens", o.loss.structure_tokens, "Positions sampled for term 3")->capture_default_str();
}

void split_pair(const std::string& s, std::string* a, std::string* b, bool need_second, const char* what) {
  auto p = s.find('+');
  *a = s.substr(0, p);
  *b = p == std::string::npos ? "" : s.substr(p + 1);
  if (need_second && b->empty()) throw eh::UsageError(std::string(what) + " must be CONFIG.json+WEIGHTS.safetensors");
  for (const auto& f : {*a, *b})
    if (!f.empty() && !fs::exists(f)) throw eh::UsageError(std::string(what) + ": no such file " + f);
}

void print_report(const eh::distill::TrainReport& r) {
  std::cout << fmt::format("held-out frames: {}  mean cosine {:.4f}  scale {:.4f}  structure {:.5f}  downstream {:.4f}\n",
                           r.val_frames, r.val_cosine, r.val_scale, r.val_structure, r.val_downstream);
}

eh::cli::Registrar reg({"distill", "Distil the student encoder from the teacher trunk (four-term loss)", [](CLI::App& app) {
  auto o = std::make_shared<eh::distill::TrainOptions>();
  auto teacher = std::make_shared<std::string>(), student = std::make_shared<std::string>();
  add_options(app, *o, *teacher, *student);
  app.add_option("--stop-after", o->stop_after, "Checkpoint and stop after N steps (as an interrupt would)");
  return [o, teacher, student]() {
    split_pair(*teacher, &o->teacher_config, &o->teacher_weights, true, "--teacher");
    split_pair(*student, &o->student_config, &o->student_weights, false, "--student");
    std::signal(SIGINT, [](int) { eh::distill::stop_requested = true; });
    auto r = eh::distill::train(*o, eh::cli::phase_progress());
    if (r.interrupted) {
      std::cout << "stopped at step " << r.steps_done << "; rerun the same command to resume\n";
      return 0;
    }
    print_report(r);
    std::cout << "weights: " << r.weights << "\n";
    return 0;
  };
}});

eh::cli::Registrar reg_ablation({"distill-ablation", "Distil once per loss variant and tabulate held-out agreement", [](CLI::App& app) {
  auto o = std::make_shared<eh::distill::TrainOptions>();
  auto teacher = std::make_shared<std::string>(), student = std::make_shared<std::string>();
  add_options(app, *o, *teacher, *student);
  return [o, teacher, student]() {
    split_pair(*teacher, &o->teacher_config, &o->teacher_weights, true, "--teacher");
    split_pair(*student, &o->student_config, &o->student_weights, false, "--student");
    struct Variant {
      const char* name;
      std::function<void(eh::distill::TrainOptions&)> edit;
    };
    const Variant variants[] = {
        {"full (direction, then scale)", [](auto&) {}},
        {"without direction", [](auto& v) { v.loss.w_direction = 0; }},
        {"without scale", [](auto& v) { v.loss.w_scale = 0; }},
        {"without structure", [](auto& v) { v.loss.w_structure = 0; }},
        {"without downstream", [](auto& v) { v.loss.w_downstream = 0; }},
        {"scale first", [](auto& v) { v.loss.scale_first = true; }},
    };
    const std::string cache = o->cache_dir.empty() ? (fs::path(o->out) / "teacher_cache").string() : o->cache_dir;
    std::string table = "| variant | held-out cosine | scale err | structure err | downstream err |\n|---|---|---|---|---|\n";
    double base = 0;
    for (size_t i = 0; i < std::size(variants); ++i) {
      auto v = *o;
      variants[i].edit(v);
      v.out = (fs::path(o->out) / ("variant" + std::to_string(i))).string();
      v.cache_dir = cache;
      v.resume = false;
      std::cerr << "variant: " << variants[i].name << "\n";
      auto r = eh::distill::train(v, eh::cli::phase_progress());
      if (i == 0) base = r.val_cosine;
      table += fmt::format("| {} | {:.4f} ({:+.4f}) | {:.4f} | {:.5f} | {:.4f} |\n", variants[i].name, r.val_cosine,
                           r.val_cosine - base, r.val_scale, r.val_structure, r.val_downstream);
    }
    std::cout << table;
    std::ofstream(fs::path(o->out) / "ablation.md") << table;
    return 0;
  };
}});

}  // namespace
