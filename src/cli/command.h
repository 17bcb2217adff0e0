// Subcommand registry. Each src/cli/cmd_*.cpp registers itself with a static Registrar, so
// adding a subcommand touches one file. Library code never prints to stdout or picks exit
// codes; the command's action does (0 ok, 1 runtime failure; UsageError -> 2).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace eh::cli {

using Action = std::function<int()>;

struct Command {
  std::string name;
  std::string help;
  // Adds the subcommand's options to `sub` and returns the action to run once parsed.
  std::function<Action(CLI::App& sub)> setup;
};

std::vector<Command>& registry();

struct Registrar {
  explicit Registrar(Command c) { registry().push_back(std::move(c)); }
};

}  // namespace eh::cli
