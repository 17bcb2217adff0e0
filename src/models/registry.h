// The architectures edgeherd knows by name. `parity`, `manifest`, the trainers and the
// pipeline build models through here from a Config whose fields are the upstream ones.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"

namespace eh::models {

using TensorMap = std::map<std::string, at::Tensor>;

// A built model as the parity tool sees it: a module tree to bind weights to, and a forward
// that maps named inputs ("x", without the "input." prefix) to named results: keys
// "output.<name>" and, where the port can produce them, "intermediate.<name>".
class ArchModel {
 public:
  virtual ~ArchModel() = default;
  virtual torch::nn::Module& module() = 0;
  virtual TensorMap run(const TensorMap& inputs) = 0;
};

struct Arch {
  std::string name;
  std::string help;
  // Reads the config's fields (and calls finish() so unknown fields are an error).
  std::function<std::unique_ptr<ArchModel>(Config&)> build;
};

const std::vector<Arch>& archs();
const Arch& find_arch(const std::string& name);  // throws listing the known names
std::unique_ptr<ArchModel> build(const std::string& arch, Config& cfg);

// Input helper for ArchModel::run: the named input or an error naming what is available.
const at::Tensor& require_input(const TensorMap& inputs, const std::string& name, const std::string& arch);

}  // namespace eh::models
