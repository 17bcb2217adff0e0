// edgeherd eval-behaviour: top-1, macro-F1, per-class F1 and the confusion matrix of a behaviour
// model on held-out simulated pens (ground-truth boxes and masks as the classifier's input).
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "animal/behaviour_train.h"
#include "cli/command.h"

namespace {

eh::cli::Registrar reg({"eval-behaviour", "Evaluate a behaviour model on held-out simulated pens", [](CLI::App& app) {
  auto o = std::make_shared<eh::animal::BehaviourEvalOptions>();
  app.add_option("--model", o->model_dir, "Behaviour model directory")->required();
  app.add_option("--embedder", o->embedder_dir, "Embedder directory (when the model uses embeddings)");
  app.add_option("--first-seed", o->first_seed, "First pen seed")->capture_default_str();
  app.add_option("--pens", o->pens, "Pens")->capture_default_str();
  app.add_option("--minutes", o->clip.minutes, "Minutes per pen")->capture_default_str();
  app.add_flag("!--no-smoothing", o->smoothing, "Per-frame classifier output, no temporal filter");
  app.add_option("--out", o->out_dir, "Write confusion.md, confusion.svg, pens.md (per pen) and metrics.json here");
  return [o]() {
    o->threads = at::get_num_threads();
    const auto r = eh::animal::eval_behaviour(*o);
    const auto& t = r.result;
    std::cout << fmt::format("pens {}..{} ({} min each, {} frames, {} observations): top-1 {:.2f}%, macro-F1 {:.2f}% "
                             "(over {} classes; 'unknown' never occurs and is never predicted)\n",
                             o->first_seed, o->first_seed + o->pens - 1, o->clip.minutes, r.frames, r.observations,
                             100 * t.accuracy, 100 * t.macro_f1, t.macro_classes);
    std::cout << fmt::format("95% interval over pens (percentile bootstrap, {} pens, {} resamples): top-1 {:.2f}..{:.2f}%, "
                             "macro-F1 {:.2f}..{:.2f}%\n",
                             r.interval.units, r.interval.resamples, 100 * r.interval.accuracy_lo, 100 * r.interval.accuracy_hi,
                             100 * r.interval.macro_f1_lo, 100 * r.interval.macro_f1_hi);
    std::cout << fmt::format("behaviour stream: {:.3f} ms per frame{}{}\n\n", r.ms_per_frame,
                             r.embed_ms_per_frame > 0 ? fmt::format(", embedder {:.2f} ms per frame", r.embed_ms_per_frame) : "",
                             r.pens_at_a_time > 1 ? fmt::format(" ({} pens at a time, sharing the cores)", r.pens_at_a_time) : "");
    std::cout << eh::animal::confusion_markdown(t) << "\n" << eh::eval::format_table(t);
    using Report = eh::animal::BehaviourEvalReport;
    std::cout << "\nerrors by distance to the animal's nearest true label change:\n";
    for (int b = 0; b < Report::kBoundaryBuckets; ++b)
      std::cout << fmt::format("  {:<36} {:>7} wrong of {:>7} ({:.2f}%)\n", Report::boundary_bucket_name(b), r.boundary_wrong[b], r.boundary_total[b],
                               r.boundary_total[b] ? 100.0 * r.boundary_wrong[b] / r.boundary_total[b] : 0.0);
    return 0;
  };
}});

}  // namespace
