#include "distill/models.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "core/state_dict.h"
#include "distill/feature_cache.h"
#include "models/dinov3_vit.h"
#include "models/sam3/neck.h"

namespace eh::distill {

namespace {

at::Tensor resize_square(const at::Tensor& x, int64_t s) {
  if (x.size(2) == s && x.size(3) == s) return x;
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{s, s}).mode(torch::kBilinear).align_corners(false));
}

// SAM 3 vision backbone: preprocessing as upstream's image transform (resize to img_size,
// normalise with mean = std = 0.5); necks are the detector and tracker FPN levels.
class Sam3Teacher : public Teacher {
 public:
  Sam3Teacher(const std::string& config, const std::string& weights) {
    Config c = Config::load(config);
    net_ = models::Sam3DualViTDetNeck(models::Sam3BackboneConfig::from(c));
    load_state_dict(*net_, weights);
    freeze(*net_);
    size_ = net_->config().trunk.img_size;
    fp_ = fmt::format("sam3_backbone config={} weights={:016x} preprocess=resize{}-bilinear,mean0.5,std0.5", c.json().dump(),
                      fnv1a_file(weights), size_);
  }
  torch::nn::Module& module() override { return *net_; }
  at::Tensor trunk(const at::Tensor& rgb01) override {
    return net_->trunk()->forward((resize_square(rgb01, size_) - 0.5) / 0.5).back();
  }
  std::vector<at::Tensor> necks(const at::Tensor& map) override {
    auto r = net_->forward_necks(map);
    auto all = r.sam3_out;
    all.insert(all.end(), r.sam2_out.begin(), r.sam2_out.end());
    return all;
  }
  std::string fingerprint() const override { return fp_; }

 private:
  models::Sam3DualViTDetNeck net_{nullptr};
  int64_t size_ = 0;
  std::string fp_;
};

}  // namespace

void freeze(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.set_requires_grad(false);
  m.eval();
}

std::unique_ptr<Teacher> make_teacher(const std::string& arch, const std::string& config, const std::string& weights) {
  if (arch == "sam3_backbone") return std::make_unique<Sam3Teacher>(config, weights);
  throw UsageError("distill: teacher architecture '" + arch + "' is not supported (sam3_backbone)");
}

Student::Student(const std::string& config, const std::string& weights) {
  Config c = Config::load(config);
  net = models::StudentEncoder(models::StudentConfig::from(c));
  if (!weights.empty()) load_state_dict(*net, weights);
}

at::Tensor Student::forward(const at::Tensor& rgb01) { return net->forward(models::imagenet_normalize(rgb01)); }

}  // namespace eh::distill
