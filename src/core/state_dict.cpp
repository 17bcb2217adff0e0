#include "core/state_dict.h"

#include <torch/torch.h>

#include <map>
#include <set>
#include <sstream>

#include "core/error.h"

namespace eh {

namespace {

void collect(const torch::nn::Module& m, const std::string& prefix, NamedTensors* out, std::set<std::string>* bufs) {
  for (const auto& p : m.named_parameters(/*recurse=*/false)) out->emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false)) {
    out->emplace_back(prefix + b.key(), b.value());
    if (bufs) bufs->insert(prefix + b.key());
  }
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out, bufs);
}

}  // namespace

NamedTensors state_dict(const torch::nn::Module& m) {
  NamedTensors out;
  collect(m, "", &out, nullptr);
  return out;
}

std::string BindReport::summary() const {
  std::ostringstream s;
  s << source << ": " << loaded.size() << " loaded";
  if (!missing.empty()) s << ", " << missing.size() << " missing";
  if (!unexpected.empty()) s << ", " << unexpected.size() << " unexpected";
  if (!mismatched.empty()) s << ", " << mismatched.size() << " shape mismatches";
  for (const auto& k : missing) s << "\n  missing key: " << k;
  for (const auto& k : unexpected) s << "\n  unexpected key: " << k;
  for (const auto& k : mismatched) s << "\n  shape mismatch: " << k;
  return s.str();
}

BindReport load_state_dict(torch::nn::Module& m, const st::File& f, const BindOptions& opt) {
  BindReport r;
  r.source = f.path() + (opt.prefix.empty() ? "" : " (prefix '" + opt.prefix + "')");
  auto targets = state_dict(m);
  std::map<std::string, at::Tensor> by_name(targets.begin(), targets.end());

  std::set<std::string> file_keys;
  for (const auto& t : f.tensors()) {
    if (t.name.rfind(opt.prefix, 0) != 0) continue;
    std::string key = t.name.substr(opt.prefix.size());
    file_keys.insert(key);
    if (!by_name.count(key)) r.unexpected.push_back(key);
  }
  std::vector<std::pair<at::Tensor, const st::TensorInfo*>> plan;
  for (const auto& [key, dst] : targets) {
    if (!file_keys.count(key)) {
      r.missing.push_back(key);
      continue;
    }
    const auto& info = f.at(opt.prefix + key);
    if (info.shape != dst.sizes().vec()) {
      r.mismatched.push_back(key + ": expected " + shape_str(dst.sizes()) + ", found " +
                             shape_str(at::IntArrayRef(info.shape)) + " (" + st::dtype_name(info.dtype) + ")");
      continue;
    }
    plan.emplace_back(dst, &info);
    r.loaded.push_back(key);
  }
  std::sort(r.unexpected.begin(), r.unexpected.end());
  if (opt.strict && !r.ok()) throw Error("strict weight binding failed for " + r.summary());

  torch::NoGradGuard no_grad;
  for (auto& [dst, info] : plan) dst.copy_(read_tensor(f, *info, dst.scalar_type()));
  return r;
}

BindReport load_state_dict(torch::nn::Module& m, const std::string& path, const BindOptions& opt) {
  return load_state_dict(m, st::File::open(path), opt);
}

void save_state_dict(const torch::nn::Module& m, const std::string& path,
                     const std::map<std::string, std::string>& metadata, bool overwrite) {
  write_tensors(path, state_dict(m), metadata, overwrite);
}

ManifestCounts count_elements(const torch::nn::Module& m) {
  ManifestCounts c;
  for (const auto& p : m.parameters()) c.params += p.numel();
  for (const auto& b : m.buffers()) c.buffers += b.numel();
  return c;
}

std::string manifest(const torch::nn::Module& m, const std::string& config_desc) {
  auto c = count_elements(m);
  std::ostringstream s;
  s << "# params=" << c.params << " buffers=" << c.buffers << " config=" << config_desc << "\n";
  for (const auto& [k, t] : state_dict(m)) s << k << "\t" << shape_str(t.sizes()) << "\t" << dtype_str(t.scalar_type()) << "\n";
  return s.str();
}

}  // namespace eh
