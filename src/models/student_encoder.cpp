#include "models/student_encoder.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/tensor_io.h"

namespace eh::models {

StudentConfig StudentConfig::from(Config& c) {
  StudentConfig s;
  if (!c.json().contains("trunk") || !c.json().at("trunk").is_object())
    throw Error(c.label() + ": student config needs a 'trunk' object (TinyViT arguments)");
  Config trunk(c.json().at("trunk"), c.label() + " [trunk]");
  c.ignore("trunk");
  c.ignore("decode");  // read by the pen-tiny segmenter (perception/pen_model.h: student_decode), not the encoder
  s.trunk = TinyViTConfig::from(trunk);
  s.fpn_channels = c.get_or<int64_t>("fpn_channels", 256);
  s.first_level = c.get_or<int64_t>("first_level", 1);
  s.fuse_channels = c.get_or<int64_t>("fuse_channels", 512);
  if (s.first_level < 0 || s.first_level > 3) throw Error(c.label() + ": first_level must be 0..3");
  s.input_size = c.get_or<int64_t>("input_size", 512);
  s.out_channels = c.get_or<int64_t>("out_channels", 1024);
  s.out_grid = c.get_or<int64_t>("out_grid", 72);
  if (s.input_size % 32) throw Error(c.label() + ": input_size must be a multiple of 32 (TinyViT)");
  c.finish();
  return s;
}

StudentConfig StudentConfig::full_size() {
  StudentConfig s;
  s.trunk.img_size = 512;
  s.trunk.num_classes = 0;
  return s;
}

StudentEncoderImpl::StudentEncoderImpl(const StudentConfig& cfg) : cfg_(cfg) {
  trunk = register_module("trunk", TinyViT(cfg.trunk));
  FpnConfig f;
  f.in_channels_list.assign(cfg.trunk.embed_dims.begin() + cfg.first_level, cfg.trunk.embed_dims.end());
  f.out_channels = cfg.fpn_channels;
  fpn = register_module("fpn", FeaturePyramidNetwork(f));
  const int64_t cat = static_cast<int64_t>(f.in_channels_list.size()) * cfg.fpn_channels, F = cfg.fuse_channels;
  fuse_ = register_module("fuse", torch::nn::Conv2d(torch::nn::Conv2dOptions(cat, F, 1)));
  dw_ = register_module("dw", torch::nn::Conv2d(torch::nn::Conv2dOptions(F, F, 3).padding(1).groups(F)));
  norm_ = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(F % 32 ? 1 : 32, F)));
  proj_ = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(F, cfg.out_channels, 1)));
}

at::Tensor StudentEncoderImpl::forward(const at::Tensor& frame, TensorMap* trace) {
  if (frame.dim() != 4 || frame.size(0) == 0 || frame.size(1) != 3)
    throw Error("student: expected a frame batch [B>0, 3, H, W], found " + shape_str(frame.sizes()));
  const int64_t S = cfg_.input_size, G = cfg_.out_grid;
  auto x = (frame.size(2) == S && frame.size(3) == S)
               ? frame
               : torch::nn::functional::interpolate(
                     frame, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{S, S}).mode(torch::kBilinear).align_corners(false));
  auto stages = trunk->forward_stages(x);
  auto levels = fpn->forward(std::vector<at::Tensor>(stages.begin() + cfg_.first_level, stages.end()));
  // Bring every pyramid level to the teacher's grid: average-pool the finer ones (no aliasing),
  // bilinearly upsample the coarser ones; then fuse across scales.
  std::vector<at::Tensor> at_grid;
  for (auto& p : levels) {
    if (p.size(2) == G && p.size(3) == G) at_grid.push_back(p);
    else if (p.size(2) > G) at_grid.push_back(torch::adaptive_avg_pool2d(p, {G, G}));
    else
      at_grid.push_back(torch::nn::functional::interpolate(
          p, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{G, G}).mode(torch::kBilinear).align_corners(false)));
  }
  auto h = fuse_(torch::cat(at_grid, 1));
  if (trace) (*trace)["intermediate.fused"] = h;
  // Depthwise conv: channels-last is ~10x faster on CPU; training keeps NCHW (bit-reproducible
  // gradients, see tinyvit.cpp).
  const auto layout = torch::GradMode::is_enabled() ? torch::MemoryFormat::Contiguous : torch::MemoryFormat::ChannelsLast;
  h = h + dw_(torch::gelu(h).contiguous(layout)).contiguous();
  return proj_(norm_(h));
}

namespace {
class StudentModel : public ArchModel {
 public:
  explicit StudentModel(Config& c) : net_(StudentConfig::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    TensorMap out;
    out["output.features"] = net_->forward(require_input(in, "x", "student_encoder"), &out);
    return out;
  }

 private:
  StudentEncoder net_;
};
}  // namespace

Arch student_arch() {
  return {"student_encoder", "TinyViT + FPN + fusion: substitutes the SAM 3 trunk (docs/student.md)",
          [](Config& c) { return std::make_unique<StudentModel>(c); }};
}

}  // namespace eh::models
