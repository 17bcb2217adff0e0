// edgeherd manifest: the keys, shapes and dtypes an architecture expects, without weights.
#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "core/config.h"
#include "core/state_dict.h"
#include "models/manifest_compare.h"
#include "models/registry.h"

namespace {

struct Opts {
  std::string arch, config, out, compare;
  bool list = false;
};

eh::cli::Registrar reg({"manifest", "Print an architecture's state-dict keys, shapes, dtypes and parameter count",
                        [](CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("--arch", o->arch, "Architecture name");
  app.add_option("--config", o->config, "Config JSON")->check(CLI::ExistingFile);
  app.add_option("--out", o->out, "Write the manifest here instead of stdout");
  app.add_option("--compare", o->compare, "Compare with this manifest_full.tsv; exit 1 on any difference")
      ->check(CLI::ExistingFile);
  app.add_flag("--list", o->list, "List the known architectures");
  return [o]() {
    if (o->list) {
      for (const auto& a : eh::models::archs()) std::cout << fmt::format("{:<20} {}\n", a.name, a.help);
      return 0;
    }
    if (o->arch.empty() || o->config.empty()) throw eh::UsageError("manifest needs --arch and --config (or --list)");
    eh::Config cfg = eh::Config::load(o->config);
    auto model = eh::models::build(o->arch, cfg);
    std::string text = eh::manifest(model->module(), o->arch);
    if (!o->out.empty()) {
      std::ofstream f(o->out);
      if (!f) throw eh::Error(o->out + ": cannot write");
      f << text;
    } else if (o->compare.empty()) {
      std::cout << text;
    }
    auto counts = eh::count_elements(model->module());
    std::cerr << fmt::format("{}: {} parameters ({:.2f}M), {} buffer elements\n", o->arch, counts.params,
                             counts.params / 1e6, counts.buffers);
    if (!o->compare.empty()) {
      auto diffs = eh::models::compare_manifests(eh::models::parse_manifest(text, "ours"),
                                                 eh::models::read_manifest(o->compare));
      for (const auto& d : diffs) std::cout << d << "\n";
      std::cout << (diffs.empty() ? "manifest matches " : "manifest differs from ") << o->compare << "\n";
      return diffs.empty() ? 0 : 1;
    }
    return 0;
  };
}});

}  // namespace
