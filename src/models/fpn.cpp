#include "models/fpn.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/tensor_io.h"

namespace eh::models {

FpnConfig FpnConfig::from(Config& c) {
  FpnConfig f;
  f.in_channels_list = c.get<std::vector<int64_t>>("in_channels_list");
  f.out_channels = c.get<int64_t>("out_channels");
  if (c.has("extra_blocks") || c.has("norm_layer"))
    throw Error(c.label() + ": extra_blocks and norm_layer must be null (not used by the student)");
  c.ignore("extra_blocks");
  c.ignore("norm_layer");
  c.finish();
  return f;
}

namespace {
// Conv2dNormActivation without norm/activation is a Sequential holding one conv ("<i>.0.*").
torch::nn::Sequential conv_block(int64_t in, int64_t out, int64_t k) {
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(k / 2)));
}
}  // namespace

FeaturePyramidNetworkImpl::FeaturePyramidNetworkImpl(const FpnConfig& cfg) {
  inner_ = register_module("inner_blocks", torch::nn::ModuleList());
  layer_ = register_module("layer_blocks", torch::nn::ModuleList());
  for (auto c : cfg.in_channels_list) {
    if (c <= 0) throw Error("fpn: in_channels_list entries must be positive");
    inner_->push_back(conv_block(c, cfg.out_channels, 1));
    layer_->push_back(conv_block(cfg.out_channels, cfg.out_channels, 3));
  }
}

std::vector<at::Tensor> FeaturePyramidNetworkImpl::forward(const std::vector<at::Tensor>& feats, TensorMap* trace,
                                                           const std::string& tag) {
  const int n = static_cast<int>(inner_->size());
  if (static_cast<int>(feats.size()) != n)
    throw Error("fpn: expected " + std::to_string(n) + " feature maps, found " + std::to_string(feats.size()));
  auto inner = [&](int i) { return (*inner_)[i]->as<torch::nn::SequentialImpl>()->forward(feats[i]); };
  auto layer = [&](int i, const at::Tensor& x) { return (*layer_)[i]->as<torch::nn::SequentialImpl>()->forward(x); };
  std::vector<at::Tensor> out(n);
  auto last = inner(n - 1);
  if (trace) (*trace)["intermediate." + tag + "lateral" + std::to_string(n - 1)] = last;
  out[n - 1] = layer(n - 1, last);
  for (int i = n - 2; i >= 0; --i) {
    auto lat = inner(i);
    // Legacy "nearest" to the lateral's exact size: src = floor(dst * in/out), not 2x-then-crop.
    auto up = torch::upsample_nearest2d(last, {lat.size(2), lat.size(3)});
    last = lat + up;
    if (trace) {
      const auto s = std::to_string(i);
      (*trace)["intermediate." + tag + "lateral" + s] = lat;
      (*trace)["intermediate." + tag + "topdown" + s] = up;
      (*trace)["intermediate." + tag + "merged" + s] = last;
    }
    out[i] = layer(i, last);
  }
  return out;
}

namespace {
class FpnModel : public ArchModel {
 public:
  explicit FpnModel(Config& c) : net_(FpnConfig::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    TensorMap out;
    // The fixture holds a main case (feat*) and an odd-size case (odd_feat*); run each present.
    for (std::string pre : {"", "odd_"}) {
      if (!in.count(pre + "feat0")) continue;
      std::vector<at::Tensor> feats;
      for (int i = 0; in.count(pre + "feat" + std::to_string(i)); ++i) feats.push_back(in.at(pre + "feat" + std::to_string(i)));
      auto p = net_->forward(feats, &out, pre);
      for (size_t i = 0; i < p.size(); ++i) out["output." + pre + "p" + std::to_string(i)] = p[i];
    }
    if (out.empty()) require_input(in, "feat0", "fpn");
    return out;
  }

 private:
  FeaturePyramidNetwork net_;
};
}  // namespace

Arch fpn_arch() {
  return {"fpn", "torchvision FeaturePyramidNetwork (student fusion)", [](Config& c) { return std::make_unique<FpnModel>(c); }};
}

}  // namespace eh::models
