// edgeherd eval-segmenter: run the pen-tiny teacher and/or student segmenter through the
// streaming session + tracker on held-out simulated pens and score them (src/perception/seg_eval.h).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "cli/progress.h"
#include "core/error.h"
#include "perception/seg_eval.h"

namespace fs = std::filesystem;

namespace {

// Replaces (or appends) the card's "## Held-out evaluation" section.
void update_card(const fs::path& card, const std::string& section) {
  std::string text;
  if (fs::exists(card)) {
    std::ifstream f(card);
    std::stringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  const std::string head = "## Held-out evaluation";
  auto p = text.find(head);
  if (p != std::string::npos) {
    auto q = text.find("\n## ", p + head.size());
    text = text.substr(0, p) + (q == std::string::npos ? "" : text.substr(q + 1));
  }
  if (!text.empty() && text.back() != '\n') text += "\n";
  std::ofstream(card) << text << (text.empty() ? "" : "\n") << section;
}

eh::cli::Registrar reg({"eval-segmenter",
                        "Score the pen-tiny segmenters (teacher, student) through the tracker on held-out simulated pens",
                        [](CLI::App& app) {
  auto o = std::make_shared<eh::perception::SegEvalOptions>();
  auto variants = std::make_shared<std::vector<std::string>>();
  auto sims = std::make_shared<std::vector<std::string>>();
  auto json_out = std::make_shared<std::string>();
  auto card = std::make_shared<bool>(false);
  app.add_option("--model", o->model_dir, "Model directory (teacher/, student/)")->required();
  app.add_option("--variant", *variants, "teacher and/or student (repeatable; two: the second is also scored against the first)")
      ->check(CLI::IsMember({"teacher", "student"}));
  app.add_option("--sim", *sims, "Held-out simulated pen: seed=S,frames=N[,...] (repeatable; default seed=9001,frames=720)");
  app.add_option("--json", *json_out, "Write the results as JSON");
  app.add_flag("--card", *card, "Write the figures into each variant's card.md (section 'Held-out evaluation')");
  return [o, variants, sims, json_out, card]() {
    if (!variants->empty()) o->variants = *variants;
    if (!sims->empty()) {
      o->sims.clear();
      for (const auto& s : *sims) o->sims.push_back(s.rfind("sim", 0) == 0 ? s : "sim:" + s);
    }
    auto bars = std::make_shared<std::map<std::string, eh::cli::ProgressBar>>();
    o->progress = [bars](const std::string& v, const std::string& sim, int64_t d, int64_t t) {
      const std::string k = v + " " + sim;
      bars->try_emplace(k, k).first->second.update(d, t);
    };
    auto r = eh::perception::evaluate_segmenter(*o);
    const std::string table = r.table();
    std::cout << table;
    if (!json_out->empty()) std::ofstream(*json_out) << r.to_json().dump(2) << "\n";
    if (*card) {
      for (const auto& v : o->variants) {
        std::string s = "## Held-out evaluation\n\n`edgeherd eval-segmenter --model " + o->model_dir;
        for (const auto& x : o->variants) s += " --variant " + x;
        for (const auto& x : o->sims) s += " --sim " + x.substr(x.find(':') + 1);
        s += "` (video::Session + tracker, default SessionConfig; ground truth from the simulator):\n\n```\n" + table + "```\n";
        update_card(fs::path(o->model_dir) / v / "card.md", s);
      }
    }
    return 0;
  };
}});

}  // namespace
