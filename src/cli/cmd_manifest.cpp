// edgeherd manifest: the keys, shapes and dtypes an architecture expects, without weights.
#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "core/config.h"
#include "core/state_dict.h"
#include "models/manifest_compare.h"
#include "models/registry.h"
#include "models/sam3/components.h"

namespace {

struct Opts {
  std::string arch, config, out, compare, key_list, checkpoint, model;
  bool list = false, components = false;
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
  app.add_flag("--components", o->components,
               "Print the parameter count per SAM 3 component (of --arch's manifest, or of --key-list)");
  app.add_option("--key-list", o->key_list, "Take the keys from this manifest TSV instead of building --arch")
      ->check(CLI::ExistingFile);
  app.add_option("--checkpoint", o->checkpoint,
                 "Check that this safetensors checkpoint is the SAM 3 --model (video|image); exit 1 if not")
      ->check(CLI::ExistingFile);
  app.add_option("--model", o->model, "SAM 3 model kind for --checkpoint: video or image");
  return [o]() {
    if (!o->checkpoint.empty()) {
      if (o->model != "video" && o->model != "image") throw eh::UsageError("--checkpoint needs --model video|image");
      eh::models::sam3_check_checkpoint_file(o->checkpoint, o->model == "video" ? eh::models::Sam3ModelKind::Video
                                                                                 : eh::models::Sam3ModelKind::Image);
      std::cout << o->checkpoint << ": has every key group of the SAM 3 " << o->model << " model\n";
      return 0;
    }
    if (!o->key_list.empty()) {
      if (!o->components) throw eh::UsageError("--key-list is used with --components");
      auto m = eh::models::read_manifest(o->key_list);
      std::cout << eh::models::format_sam3_components(eh::models::sam3_component_counts(m));
      return 0;
    }
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
    } else if (o->compare.empty() && !o->components) {
      std::cout << text;
    }
    if (o->components) {
      const std::string root = eh::models::sam3_arch_root(o->arch);
      if (root.empty()) throw eh::UsageError("--components: " + o->arch + " is not a SAM 3 architecture");
      std::cout << eh::models::format_sam3_components(
          eh::models::sam3_component_counts(eh::models::parse_manifest(text, "ours"), root));
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
