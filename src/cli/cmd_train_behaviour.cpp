// edgeherd train-behaviour: the behaviour classifier on ground-truth tracks of simulated pens.
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "animal/behaviour_train.h"
#include "cli/command.h"

namespace {

eh::cli::Registrar reg({"train-behaviour", "Train the behaviour classifier on simulated pens (and evaluate on held-out ones)", [](CLI::App& app) {
  auto o = std::make_shared<eh::animal::BehaviourTrainOptions>();
  app.add_option("--out", o->out_dir, "Model directory to write")->required();
  app.add_flag("--overwrite", o->overwrite, "Replace an existing model in --out");
  app.add_option("--embedder", o->embedder_dir, "Embedder directory: its vector becomes an input (renders every frame)");
  app.add_option("--first-seed", o->first_seed, "First training pen seed")->capture_default_str();
  app.add_option("--pens", o->train_pens, "Training pens")->capture_default_str();
  app.add_option("--val-seed", o->first_val_seed, "First validation pen seed")->capture_default_str();
  app.add_option("--val-pens", o->val_pens, "Validation pens (choose the smoothing constant)")->capture_default_str();
  app.add_option("--minutes", o->clip.minutes, "Minutes per pen")->capture_default_str();
  app.add_option("--hidden", o->hidden, "MLP hidden widths")->capture_default_str();
  app.add_option("--epochs", o->epochs, "Epochs")->capture_default_str();
  app.add_option("--batch", o->batch, "Batch size")->capture_default_str();
  app.add_option("--lr", o->lr, "Peak learning rate (AdamW, cosine)")->capture_default_str();
  app.add_option("--seed", o->seed, "Seed")->capture_default_str();
  app.add_option("--eval-pens", o->eval_pens, "Held-out pens (seeds 9001..) evaluated after training")->capture_default_str();
  app.add_option("--posture-pens", o->posture.pens, "Pens for the pixel posture network (0: none)")->capture_default_str();
  app.add_option("--posture-seed", o->posture.first_seed, "First posture pen seed")->capture_default_str();
  app.add_option("--posture-minutes", o->posture.minutes, "Minutes per posture pen")->capture_default_str();
  app.add_option("--posture-every", o->posture.every, "Posture crops from every k-th frame")->capture_default_str();
  app.add_option("--posture-epochs", o->posture.epochs, "Posture network epochs")->capture_default_str();
  app.add_option("--posture-activity", o->posture.max_activity,
                 "Posture pens' activity drawn log-uniform in [1, this] (livelier pens: fewer lying crops)")
      ->capture_default_str();
  app.add_option("--posture-mlp-every", o->posture.mlp_every, "With a posture network: MLP samples from every k-th frame of its pens")
      ->capture_default_str();
  app.add_option("--posture-sit-every", o->posture.sit_every,
                 "Sitting animals' posture crops from every k-th frame (0: as --posture-every; else a divisor of it)")
      ->capture_default_str();
  app.add_option("--train-activity", o->clip.max_activity,
                 "Training pens' activity drawn log-uniform in [1, this] (livelier pens: more rare behaviours)")
      ->capture_default_str();
  app.add_option("--lag-frames", o->lag_frames, "Fixed-lag smoothing: labels revised with this many later frames (0: none)")
      ->capture_default_str();
  app.add_option("--lookahead-frames", o->lookahead_frames,
                 "Look-ahead: the classifier also reads the motion of each track this many frames later (0: none; else = --lag-frames)")
      ->capture_default_str();
  app.add_option("--posture-from", o->posture.from_dir, "Reuse the posture network of this behaviour model (no posture training)");
  return [o]() {
    o->threads = at::get_num_threads();
    // The MLP's samples from the posture network's pens (a trained or a reused network alike).
    const std::string mlp_samples = fmt::format(" --posture-mlp-every {}", o->posture.mlp_every);
    std::string hid;
    for (int h : o->hidden) hid += " " + std::to_string(h);
    o->command = fmt::format(
        "edgeherd --threads {} train-behaviour --out {}{} --first-seed {} --pens {} --val-seed {} --val-pens {} --minutes {} "
        "--hidden{} --epochs {} --batch {} --lr {} --seed {} --eval-pens {} --lag-frames {}{}{}{}",
        o->threads, o->out_dir, o->embedder_dir.empty() ? "" : " --embedder " + o->embedder_dir, o->first_seed, o->train_pens,
        o->first_val_seed, o->val_pens, o->clip.minutes, hid, o->epochs, o->batch, o->lr, o->seed, o->eval_pens, o->lag_frames,
        o->lookahead_frames > 0 ? fmt::format(" --lookahead-frames {}", o->lookahead_frames) : "",
        o->clip.max_activity > 1 ? fmt::format(" --train-activity {}", o->clip.max_activity) : "",
        !o->posture.from_dir.empty() ? " --posture-from " + o->posture.from_dir + mlp_samples
        : o->posture.pens > 0 ? fmt::format(" --posture-pens {} --posture-seed {} --posture-minutes {} --posture-every {} --posture-epochs {}"
                                          "{}{}{}",
                                          o->posture.pens, o->posture.first_seed, o->posture.minutes, o->posture.every, o->posture.epochs,
                                          mlp_samples,
                                          o->posture.max_activity > 1 ? fmt::format(" --posture-activity {}", o->posture.max_activity) : "",
                                          o->posture.sit_every > 0 ? fmt::format(" --posture-sit-every {}", o->posture.sit_every) : "")
                            : "");
    const auto r = eh::animal::train_behaviour(*o);
    if (r.posture_samples > 0)
      std::cout << fmt::format("posture network: {} crops, {:.0f} s, validation accuracy {:.2f}%\n", r.posture_samples, r.posture_s,
                               100 * r.posture_val_accuracy);
    std::cout << fmt::format("wrote {}: {} training observations; smoothing stay {:.2f} (validation top-1 {:.2f}%, macro-F1 "
                             "{:.2f}%); wall {:.0f} s (data {:.0f} s, training {:.0f} s)\n",
                             r.dir, r.train_samples, r.chosen_stay, 100 * r.val_accuracy, 100 * r.val_macro_f1, r.wall_s,
                             r.data_s, r.train_s);
    if (o->eval_pens > 0) {
      const auto& t = r.test.result;
      std::cout << fmt::format("held-out pens 9001..{}: top-1 {:.2f}%, macro-F1 {:.2f}% ({} observations)\n",
                               9000 + o->eval_pens, 100 * t.accuracy, 100 * t.macro_f1, t.num_gt);
      std::cout << eh::animal::confusion_markdown(t) << "\n" << eh::eval::format_table(t);
    }
    return 0;
  };
}});

}  // namespace
