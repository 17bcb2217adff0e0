// edgeherd train-embedder: the per-animal DINOv3-architecture embedder on simulated crops.
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "animal/embedder_train.h"
#include "cli/command.h"

namespace {

eh::cli::Registrar reg({"train-embedder", "Train the per-animal embedder (identity supervision on simulated pens)", [](CLI::App& app) {
  auto o = std::make_shared<eh::animal::EmbedderTrainOptions>();
  o->config_path = "configs/pen_tiny_embedder.json";
  app.add_option("--out", o->out_dir, "Model directory to write")->required();
  app.add_option("--config", o->config_path, "Embedder config (backbone + crop + projection)")->capture_default_str();
  app.add_flag("--overwrite", o->overwrite, "Replace an existing model in --out");
  app.add_option("--first-pen", o->first_pen, "First training appearance seed")->capture_default_str();
  app.add_option("--pens", o->train_pens, "Training appearance seeds (8 identities each)")->capture_default_str();
  app.add_option("--clips", o->clips_per_pen, "Clips (dynamics seeds, clock times) per appearance seed")->capture_default_str();
  app.add_option("--frames", o->frames_per_clip, "Sampled frames per clip")->capture_default_str();
  app.add_option("--stride", o->frame_stride, "Frames between samples")->capture_default_str();
  app.add_option("--steps", o->steps, "Optimiser steps")->capture_default_str();
  app.add_option("--batch", o->batch, "Crops per step")->capture_default_str();
  app.add_option("--lr", o->lr, "Peak learning rate (AdamW, cosine)")->capture_default_str();
  app.add_option("--warmup", o->warmup, "Warm-up steps")->capture_default_str();
  app.add_option("--scale", o->cos_scale, "CosFace scale s")->capture_default_str();
  app.add_option("--margin", o->cos_margin, "CosFace margin m")->capture_default_str();
  app.add_option("--posture-weight", o->posture_weight, "Weight of the auxiliary posture loss")->capture_default_str();
  app.add_option("--seed", o->seed, "Seed")->capture_default_str();
  app.add_option("--eval-pens", o->eval_pens, "Held-out pens (appearance seeds 9001..) for re-identification")->capture_default_str();
  return [o]() {
    o->threads = at::get_num_threads();
    o->command = fmt::format(
        "edgeherd --threads {} train-embedder --config {} --out {} --first-pen {} --pens {} --clips {} --frames {} --stride {} "
        "--steps {} --batch {} --lr {} --warmup {} --scale {} --margin {} --posture-weight {} --seed {} --eval-pens {}",
        o->threads, o->config_path, o->out_dir, o->first_pen, o->train_pens, o->clips_per_pen, o->frames_per_clip,
        o->frame_stride, o->steps, o->batch, o->lr, o->warmup, o->cos_scale, o->cos_margin, o->posture_weight, o->seed, o->eval_pens);
    const auto r = eh::animal::train_embedder(*o);
    std::cout << fmt::format("wrote {}: {} identities, {} crops, {} parameters; wall {:.0f} s (data {:.0f} s, training {:.0f} s, "
                             "evaluation {:.0f} s), final loss {:.3f}\n",
                             r.dir, r.identities, r.crops, r.params, r.wall_s, r.data_s, r.train_s, r.eval_s, r.final_loss);
    std::cout << eh::animal::format_reid_table(r.reid);
    return 0;
  };
}});

}  // namespace
