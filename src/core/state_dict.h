// Strict state-dict binding for torch::nn::Module trees whose registered names equal the
// upstream PyTorch keys, and the manifest (key, shape, dtype) that describes such a tree.
#pragma once
#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor_io.h"

namespace eh {

// Parameters and persistent buffers in PyTorch's state_dict order: for each module its own
// parameters, then its own buffers, then its children in registration order.
NamedTensors state_dict(const torch::nn::Module& m);

struct BindReport {
  std::string source;                      // file the weights came from
  std::vector<std::string> loaded;
  std::vector<std::string> missing;        // in the model, not in the file
  std::vector<std::string> unexpected;     // in the file, not in the model
  std::vector<std::string> mismatched;     // "key: expected [..], found [..]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string summary() const;             // every problem, one per line
};

struct BindOptions {
  bool strict = true;
  std::string prefix;  // only file keys under this prefix are considered, with it stripped
};

// Copies every matching tensor into the module (converting F16/BF16/I64 to the model's dtype).
// Strict: throws eh::Error listing every missing, unexpected and mis-shaped key at once, and
// leaves nothing half-loaded. Non-strict: loads what matches and reports the rest.
BindReport load_state_dict(torch::nn::Module& m, const st::File& f, const BindOptions& opt = {});
BindReport load_state_dict(torch::nn::Module& m, const std::string& path, const BindOptions& opt = {});

// Writes the module's state dict (keys as bound) to safetensors.
void save_state_dict(const torch::nn::Module& m, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {}, bool overwrite = false);

struct ManifestCounts {
  int64_t params = 0;
  int64_t buffers = 0;  // elements of persistent buffers
};
ManifestCounts count_elements(const torch::nn::Module& m);
// "# params=N buffers=M config=<desc>" then "key\t[shape]\tdtype" per entry.
std::string manifest(const torch::nn::Module& m, const std::string& config_desc);

}  // namespace eh
