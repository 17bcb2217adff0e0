// edgeherd parity: check a port against reference tensors produced by the upstream code.
#include <iostream>

#include "cli/command.h"
#include "models/parity.h"

namespace {

eh::cli::Registrar reg({"parity", "Check an architecture port against upstream reference tensors", [](CLI::App& app) {
  auto req = std::make_shared<eh::models::ParityRequest>();
  app.add_option("--arch", req->arch, "Architecture name (see `edgeherd manifest --list`)")->required();
  app.add_option("--config", req->config, "Config JSON (upstream constructor arguments)")->required()->check(CLI::ExistingFile);
  app.add_option("--weights", req->weights, "Weights (safetensors, upstream keys)")->required()->check(CLI::ExistingFile);
  app.add_option("--io", req->io, "Reference tensors: input.*, output.*, intermediate.*")->required()->check(CLI::ExistingFile);
  app.add_option("--atol", req->atol, "Absolute tolerance")->capture_default_str();
  app.add_option("--rtol", req->rtol, "Relative tolerance")->capture_default_str();
  return [req]() {
    auto res = eh::models::run_parity(*req);
    std::cout << res.table();
    return res.ok() ? 0 : 1;
  };
}});

}  // namespace
