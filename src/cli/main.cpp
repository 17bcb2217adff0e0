// edgeherd: one binary, one subcommand per job (see `edgeherd --help`).
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>
#include <thread>

#include "cli/command.h"
#include "core/error.h"
#include "core/runtime.h"

namespace eh::cli {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}
}  // namespace eh::cli

int main(int argc, char** argv) {
  CLI::App app{"edgeherd: livestock pen monitoring on edge hardware (SAM 3 teacher, distilled student, "
               "per-animal records)"};
  app.require_subcommand(1);
  std::string log_level = "info";
  int threads = 0;
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")->capture_default_str();
  app.add_option("--threads", threads, "Torch intra-op threads (default: number of cores)");

  std::map<CLI::App*, eh::cli::Action> actions;
  auto& reg = eh::cli::registry();
  std::sort(reg.begin(), reg.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& c : reg) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    actions[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    spdlog::set_level(spdlog::level::from_str(log_level));
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    eh::runtime::init(threads);
    for (auto* sub : app.get_subcommands()) return actions.at(sub)();
  } catch (const eh::UsageError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
