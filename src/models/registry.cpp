#include "models/registry.h"

#include "core/error.h"

namespace eh::models {

// Each model file provides one of these; listed here so the static library keeps them.
Arch toy_mlp_arch();
Arch dinov3_arch();
Arch tinyvit_arch();
Arch fpn_arch();
Arch student_arch();
Arch sam3_backbone_arch();
Arch sam3_detector_arch();
Arch sam3_text_encoder_arch();
Arch sam3_tracker_arch();

const std::vector<Arch>& archs() {
  static const std::vector<Arch> all = {dinov3_arch(), tinyvit_arch(), fpn_arch(), student_arch(), sam3_backbone_arch(),
                                     sam3_detector_arch(), sam3_text_encoder_arch(), sam3_tracker_arch(),
                                     toy_mlp_arch()};
  return all;
}

const Arch& find_arch(const std::string& name) {
  std::string known;
  for (const auto& a : archs()) {
    if (a.name == name) return a;
    known += (known.empty() ? "" : ", ") + a.name;
  }
  throw UsageError("unknown architecture '" + name + "' (known: " + known + ")");
}

std::unique_ptr<ArchModel> build(const std::string& arch, Config& cfg) { return find_arch(arch).build(cfg); }

const at::Tensor& require_input(const TensorMap& inputs, const std::string& name, const std::string& arch) {
  auto it = inputs.find(name);
  if (it != inputs.end()) return it->second;
  std::string have;
  for (const auto& [k, v] : inputs) have += (have.empty() ? "" : ", ") + k;
  throw Error(arch + ": needs input tensor 'input." + name + "' (found: " + (have.empty() ? "none" : have) + ")");
}

}  // namespace eh::models
