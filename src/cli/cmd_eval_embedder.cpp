// edgeherd eval-embedder: re-identification of an embedder on simulated pens, against the colour
// histogram on the same crops (the figures train-embedder prints, on any pens).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "animal/embedder.h"
#include "animal/embedder_train.h"
#include "cli/command.h"
#include "report/svg_plot.h"

namespace {

struct EvalEmbedderOptions {
  std::string model_dir, out_json;
  eh::animal::ReidOptions reid;
};

eh::cli::Registrar reg({"eval-embedder", "Re-identification of an embedder on simulated pens", [](CLI::App& app) {
  auto o = std::make_shared<EvalEmbedderOptions>();
  app.add_option("--model", o->model_dir, "Embedder directory")->required();
  app.add_option("--first-pen", o->reid.first_pen, "First appearance seed (9001.. are never trained on)")->capture_default_str();
  app.add_option("--pens", o->reid.pens, "Pens")->capture_default_str();
  app.add_option("--frames", o->reid.frames, "Gallery and query frames per clip")->capture_default_str();
  app.add_option("--out", o->out_json, "Also write the table as JSON here");
  return [o]() {
    const auto emb = eh::animal::load_embedder(o->model_dir);
    const auto rows = eh::animal::evaluate_reid(*emb, o->reid);
    std::cout << fmt::format("{} on appearance seeds {}..{}:\n", emb->name(), o->reid.first_pen,
                             o->reid.first_pen + o->reid.pens - 1)
              << eh::animal::format_reid_table(rows);
    if (!o->out_json.empty()) eh::report::write_text(o->out_json, eh::animal::reid_json(rows).dump(2) + "\n");  // throws naming the path
    return 0;
  };
}});

}  // namespace
