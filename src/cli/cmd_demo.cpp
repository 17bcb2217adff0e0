// edgeherd demo: the main job on the embedded default. It runs the stages of the pipeline that
// exist so far and writes what it measured to OUT/report.json; stages still to come are listed
// as such, never faked.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/runtime.h"
#include "models/parity.h"

namespace fs = std::filesystem;

namespace {

struct Opts {
  std::string out = "out/demo";
  std::string fixtures = "../shared/fixtures";
};

eh::cli::Registrar reg({"demo", "Run the main job on the embedded default and write a report", [](CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("--out", o->out, "Output directory")->capture_default_str();
  app.add_option("--fixtures", o->fixtures, "Upstream reference fixtures (port checks)")->capture_default_str();
  return [o]() {
    fs::create_directories(o->out);
    nlohmann::json report;
    report["machine"] = eh::runtime::describe();
    // Stage 1: the ported backbones agree with upstream.
    const std::pair<const char*, const char*> ports[] = {
        {"dinov3_vits16", "dinov3_vit"}, {"tinyvit_21m_512", "tinyvit"}, {"fpn", "fpn"}};
    int failed = 0;
    for (auto [dir, arch] : ports) {
      fs::path d = fs::path(o->fixtures) / dir;
      if (!fs::exists(d / "io.safetensors")) {
        report["ports"][arch] = "fixture not found";
        continue;
      }
      auto res = eh::models::run_parity({arch, (d / "config.json").string(), (d / "weights.safetensors").string(),
                                         (d / "io.safetensors").string()});
      double worst = 0;
      for (const auto& r : res.rows) worst = std::max(worst, r.max_abs);
      report["ports"][arch] = {{"pass", res.ok()}, {"max_abs_error", worst}};
      std::cout << fmt::format("port {:<12} {:<4} (max abs error {:.2e})\n", arch, res.ok() ? "PASS" : "FAIL", worst);
      failed += !res.ok();
    }
    report["pending"] = {"simulated pen", "teacher/student perception", "tracking", "behaviour", "store", "HTML report"};
    std::ofstream(fs::path(o->out) / "report.json") << report.dump(2) << "\n";
    std::cout << "report: " << (fs::path(o->out) / "report.json").string() << "\n";
    return failed ? 1 : 0;
  };
}});

}  // namespace
