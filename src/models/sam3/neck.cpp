// Port of sam3/model/necks.py (Sam3DualViTDetNeck) and sam3/model/position_encoding.py
// (PositionEmbeddingSine.forward), facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e.
#include "models/sam3/neck.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/tensor_io.h"

namespace eh::models {

Sam3SinePosConfig Sam3SinePosConfig::from(Config& c) {
  Sam3SinePosConfig p;
  p.num_pos_feats = c.get<int64_t>("num_pos_feats");
  if (p.num_pos_feats <= 0 || p.num_pos_feats % 2) throw Error(c.label() + ": num_pos_feats must be even and positive");
  p.temperature = c.get_or<double>("temperature", 10000.0);
  if (!c.get_or<bool>("normalize", true))
    throw Error(c.label() + ": normalize=false is not supported (SAM 3 normalises the coordinates)");
  p.scale = c.get_or<double>("scale", 2 * M_PI);
  c.ignore("precompute_resolution");  // only fills a cache of the same values
  c.finish();
  return p;
}

at::Tensor sam3_sine_features(const at::Tensor& a, int64_t npf, double temperature) {
  auto dim_t = torch::arange(npf, a.options().dtype(torch::kFloat));
  dim_t = torch::pow(temperature, 2 * torch::div(dim_t, 2, "floor") / npf);
  auto p = a.unsqueeze(-1) / dim_t;
  return torch::stack({p.slice(-1, 0, npf, 2).sin(), p.slice(-1, 1, npf, 2).cos()}, -1).flatten(-2);
}

at::Tensor sam3_sine_position_encoding(const Sam3SinePosConfig& c, int64_t B, int64_t h, int64_t w) {
  // Coordinates 1..n divided by (n + 1e-6) times scale; frequencies temperature^(2*floor(i/2)/npf),
  // i < npf = num_pos_feats/2; features sin(a_0), cos(a_0), sin(a_1), cos(a_1), ... (float32).
  const int64_t npf = c.num_pos_feats / 2;
  const auto f = torch::TensorOptions().dtype(torch::kFloat);
  auto y = torch::arange(1, h + 1, f);
  auto x = torch::arange(1, w + 1, f);
  y = y / (y.slice(0, h - 1) + 1e-6) * c.scale;
  x = x / (x.slice(0, w - 1) + 1e-6) * c.scale;
  auto py = sam3_sine_features(y, npf, c.temperature).view({h, 1, npf}).expand({h, w, npf});
  auto px = sam3_sine_features(x, npf, c.temperature).view({1, w, npf}).expand({h, w, npf});
  return torch::cat({py, px}, -1).permute({2, 0, 1}).unsqueeze(0).repeat({B, 1, 1, 1});
}

Sam3BackboneConfig Sam3BackboneConfig::from(Config& c) {
  Sam3BackboneConfig b;
  if (!c.has("trunk") || !c.json().at("trunk").is_object())
    throw Error(c.label() + ": missing object 'trunk' (the sam3.model.vitdet.ViT arguments)");
  if (!c.has("position_encoding") || !c.json().at("position_encoding").is_object())
    throw Error(c.label() + ": missing object 'position_encoding' (the PositionEmbeddingSine arguments)");
  Config tc(c.json().at("trunk"), c.label() + " trunk");
  b.trunk = Sam3ViTConfig::from(tc);
  Config pc(c.json().at("position_encoding"), c.label() + " position_encoding");
  b.position_encoding = Sam3SinePosConfig::from(pc);
  c.ignore("trunk");
  c.ignore("position_encoding");
  b.d_model = c.get<int64_t>("d_model");
  b.scale_factors = c.get_or<std::vector<double>>("scale_factors", b.scale_factors);
  for (double s : b.scale_factors)
    if (s != 4.0 && s != 2.0 && s != 1.0 && s != 0.5)
      throw Error(c.label() + ": scale_factor " + std::to_string(s) + " is not supported (upstream: 4, 2, 1, 0.5)");
  b.add_sam2_neck = c.get_or<bool>("add_sam2_neck", false);
  c.finish();
  if (b.trunk.embed_dim % 4) throw Error(c.label() + ": trunk embed_dim must be a multiple of 4 for the 4x level");
  return b;
}

Sam3BackboneConfig sam3_full_backbone_config() {
  Sam3BackboneConfig b;  // defaults = sam3/model_builder.py _create_vision_backbone (video model)
  b.trunk = sam3_full_trunk_config();
  return b;
}

namespace {

// One nn.Sequential of the neck: [dconv_2x2_0, gelu, dconv_2x2_1] (4x) | [dconv_2x2] (2x) |
// [] (1x) | [maxpool_2x2] (0.5x), then conv_1x1 and conv_3x3 (padding 1), all with bias.
struct NeckLevelImpl : torch::nn::Module {
  double scale;
  torch::nn::ConvTranspose2d d0{nullptr}, d1{nullptr}, d{nullptr};
  torch::nn::Conv2d c1{nullptr}, c3{nullptr};
  NeckLevelImpl(int64_t dim, int64_t d_model, double scale_) : scale(scale_) {
    using CT = torch::nn::ConvTranspose2dOptions;
    int64_t out = dim;
    if (scale == 4.0) {
      d0 = register_module("dconv_2x2_0", torch::nn::ConvTranspose2d(CT(dim, dim / 2, 2).stride(2)));
      d1 = register_module("dconv_2x2_1", torch::nn::ConvTranspose2d(CT(dim / 2, dim / 4, 2).stride(2)));
      out = dim / 4;
    } else if (scale == 2.0) {
      d = register_module("dconv_2x2", torch::nn::ConvTranspose2d(CT(dim, dim / 2, 2).stride(2)));
      out = dim / 2;
    }
    c1 = register_module("conv_1x1", torch::nn::Conv2d(torch::nn::Conv2dOptions(out, d_model, 1)));
    c3 = register_module("conv_3x3", torch::nn::Conv2d(torch::nn::Conv2dOptions(d_model, d_model, 3).padding(1)));
  }
  at::Tensor forward(const at::Tensor& x, TensorMap* trace, const std::string& tag) {
    at::Tensor y = x;
    if (d0) {
      y = d0(y);
      if (trace) (*trace)[tag + ".dconv_2x2_0"] = y;
      y = d1(torch::gelu(y));
    } else if (d) {
      y = d(y);
    } else if (scale == 0.5) {
      y = torch::max_pool2d(y, {2, 2}, {2, 2});
      if (trace) (*trace)[tag + ".maxpool_2x2"] = y;
    }
    return c3(c1(y));
  }
};
TORCH_MODULE(NeckLevel);

}  // namespace

Sam3DualViTDetNeckImpl::Sam3DualViTDetNeckImpl(const Sam3BackboneConfig& cfg) : cfg_(cfg) {
  trunk_ = register_module("trunk", Sam3ViT(cfg.trunk));
  const int64_t dim = cfg.trunk.embed_dim;  // trunk.channel_list[-1]
  convs_ = register_module("convs", torch::nn::ModuleList());
  for (double s : cfg.scale_factors) convs_->push_back(NeckLevel(dim, cfg.d_model, s));
  if (cfg.add_sam2_neck) {  // upstream: deepcopy(convs), separate weights
    sam2_convs_ = register_module("sam2_convs", torch::nn::ModuleList());
    for (double s : cfg.scale_factors) sam2_convs_->push_back(NeckLevel(dim, cfg.d_model, s));
  }
}

Sam3BackboneOutput Sam3DualViTDetNeckImpl::forward(const at::Tensor& x, TensorMap* trace, int levels) {
  auto trunk = trunk_->forward(x, trace);
  auto r = forward_necks(trunk.back(), trace, levels);
  r.trunk = std::move(trunk);
  return r;
}

Sam3BackboneOutput Sam3DualViTDetNeckImpl::forward_necks(const at::Tensor& feat, TensorMap* trace, int levels) {
  Sam3BackboneOutput r;
  const int n = levels < 0 ? static_cast<int>(convs_->size()) : std::min<int>(levels, static_cast<int>(convs_->size()));
  auto pos = [&](const at::Tensor& t) {
    return sam3_sine_position_encoding(cfg_.position_encoding, t.size(0), t.size(2), t.size(3)).to(t.options());
  };
  for (int i = 0; i < n; ++i) {
    auto o = convs_[i]->as<NeckLevelImpl>()->forward(feat, trace, "intermediate.convs." + std::to_string(i));
    r.sam3_out.push_back(o);
    r.sam3_pos.push_back(pos(o));
    if (sam2_convs_) {
      auto o2 = sam2_convs_[i]->as<NeckLevelImpl>()->forward(feat, nullptr, "");
      r.sam2_out.push_back(o2);
      r.sam2_pos.push_back(pos(o2));
    }
  }
  return r;
}

namespace {
class Sam3BackboneModel : public ArchModel {
 public:
  explicit Sam3BackboneModel(Config& c) : net_(Sam3BackboneConfig::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    TensorMap out;
    auto r = net_->forward(require_input(in, "x", "sam3_backbone"), &out);
    out["output.trunk"] = r.trunk.back();
    for (size_t i = 0; i < r.sam3_out.size(); ++i) {
      const auto s = std::to_string(i);
      out["output.sam3_out." + s] = r.sam3_out[i];
      out["output.sam3_pos." + s] = r.sam3_pos[i];
      if (i < r.sam2_out.size()) {
        out["output.sam2_out." + s] = r.sam2_out[i];
        out["output.sam2_pos." + s] = r.sam2_pos[i];
      }
    }
    return out;
  }

 private:
  Sam3DualViTDetNeck net_;
};
}  // namespace

Arch sam3_backbone_arch() {
  return {"sam3_backbone",
          "SAM 3 vision backbone: PE ViT trunk + detector/tracker necks (facebookresearch/sam3 Sam3DualViTDetNeck)",
          [](Config& c) { return std::make_unique<Sam3BackboneModel>(c); }};
}

}  // namespace eh::models
