#include "animal/embedder.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "animal/embed_net.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/state_dict.h"

namespace eh::animal {

namespace fs = std::filesystem;

EmbedderConfig EmbedderConfig::from_json(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object()) throw Error(label + ": expected a JSON object");
  Config c(j, label);
  EmbedderConfig e;
  c.get<std::string>("arch");
  const std::string arch = j.at("arch").get<std::string>();
  if (arch != "dinov3_embedder")
    throw Error(label + ": field 'arch': expected \"dinov3_embedder\", found \"" + arch + "\"");
  if (!j.contains("backbone") || !j.at("backbone").is_object())
    throw Error(label + ": missing object field 'backbone' (the dinov3_vit configuration)");
  c.ignore("backbone");
  e.backbone_json = j.at("backbone");
  Config b(e.backbone_json, label + ": backbone");
  e.backbone = eh::models::DinoV3Config::from(b);
  e.crop_size = c.get<int>("crop_size");
  e.crop_margin = c.get_or<float>("crop_margin", 0.05f);
  e.embedding_dim = c.get<int>("embedding_dim");
  e.crop_align = c.get_or<std::string>("crop_align", "box");
  e.mask_background = c.get_or<bool>("mask_background", false);
  for (auto k : {"training", "metrics"}) c.ignore(k);  // provenance, written by the trainer
  c.finish();
  if (e.crop_size <= 0 || e.crop_size % e.backbone.patch_size != 0)
    throw Error(label + ": field 'crop_size': expected a positive multiple of the patch size " +
                std::to_string(e.backbone.patch_size) + ", found " + std::to_string(e.crop_size));
  if (e.embedding_dim <= 0)
    throw Error(label + ": field 'embedding_dim': expected > 0, found " + std::to_string(e.embedding_dim));
  if (e.crop_align != "box" && e.crop_align != "body")
    throw Error(label + ": field 'crop_align': expected \"box\" or \"body\", found \"" + e.crop_align + "\"");
  if (e.mask_background && !e.body_aligned())
    throw Error(label + ": field 'mask_background': needs \"crop_align\": \"body\" (found \"" + e.crop_align + "\")");
  if (e.crop_margin < 0 || e.crop_margin > 1)
    throw Error(label + ": field 'crop_margin': expected 0..1, found " + std::to_string(e.crop_margin));
  return e;
}

nlohmann::json EmbedderConfig::to_json() const {
  return {{"arch", "dinov3_embedder"},
          {"backbone", backbone_json},
          {"crop_size", crop_size},
          {"crop_margin", crop_margin},
          {"embedding_dim", embedding_dim},
          {"crop_align", crop_align},
          {"mask_background", mask_background}};
}

EmbedNetImpl::EmbedNetImpl(const EmbedderConfig& c) : cfg(c) {
  backbone = register_module("backbone", eh::models::DinoVisionTransformer(c.backbone));
  head = register_module("head", torch::nn::Linear(2 * c.backbone.embed_dim, c.embedding_dim));
}

at::Tensor EmbedNetImpl::forward(const at::Tensor& x) {
  auto f = backbone->forward_features(x);
  auto pooled = torch::cat({f.cls, f.patches.mean(1)}, 1);
  return torch::nn::functional::normalize(head(pooled), torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-6));
}

at::Tensor EmbedNetImpl::embed(const at::Tensor& x) {
  if (!cfg.body_aligned()) return forward(x);
  const int64_t n = x.size(0);
  const at::Tensor both = forward(torch::cat({x, x.flip({2, 3})}, 0));
  return torch::nn::functional::normalize(both.slice(0, 0, n) + both.slice(0, n, 2 * n),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-6));
}

void EmbedNetImpl::init_for_training(uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard g;
  const double ls_init = cfg.backbone_json.contains("layerscale_init") && cfg.backbone_json["layerscale_init"].is_number()
                             ? cfg.backbone_json["layerscale_init"].get<double>()
                             : 1e-5;
  for (auto& p : named_parameters()) {
    const std::string& k = p.key();
    at::Tensor t = p.value();
    auto ends = [&](const std::string& s) { return k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0; };
    if (ends("cls_token") || ends("storage_tokens") || ends("mask_token")) {
      t.normal_(0.0, 0.02).clamp_(-0.04, 0.04);
      if (ends("mask_token")) t.zero_();
    } else if (ends(".weight") && t.dim() == 2) {
      t.normal_(0.0, 0.02).clamp_(-0.04, 0.04);
    } else if (ends(".bias")) {
      t.zero_();
    } else if (ends("gamma")) {
      t.fill_(ls_init);  // LayerScale
    }
  }
}

bool make_embedder_crop(const cv::Mat& bgr, const cv::Rect2f& box, const eh::data::Rle* mask, const EmbedderConfig& cfg,
                        const CropOptions& opt, cv::Mat* crop, const std::function<void(cv::Mat*)>& roughen) {
  if (!cfg.body_aligned()) return make_crop(bgr, box, opt, crop);
  const BodyFrame body = body_frame(mask, box);
  if (!make_aligned_crop(bgr, body, opt, crop)) return false;
  cv::Mat mask_crop;
  if (cfg.mask_background && mask && make_aligned_mask_crop(*mask, body, opt, &mask_crop)) {
    if (roughen) roughen(&mask_crop);
    pad_outside_mask(mask_crop, crop);
  }
  return true;
}

at::Tensor crops_tensor(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes, const std::vector<eh::data::Rle>* masks,
                        const EmbedderConfig& cfg, std::vector<bool>* valid) {
  if (masks != nullptr && masks->size() != boxes.size())
    throw Error("embedder: " + std::to_string(masks->size()) + " masks for " + std::to_string(boxes.size()) + " boxes");
  const CropOptions opt = cfg.crop();
  std::vector<float> buf;
  buf.reserve(boxes.size() * 3 * opt.size * opt.size);
  valid->assign(boxes.size(), false);
  cv::Mat crop;
  for (size_t i = 0; i < boxes.size(); ++i) {
    (*valid)[i] = make_embedder_crop(bgr, boxes[i], masks ? &(*masks)[i] : nullptr, cfg, opt, &crop);
    append_normalised_chw(crop, &buf);
  }
  return torch::from_blob(buf.data(), {static_cast<int64_t>(boxes.size()), 3, opt.size, opt.size}, torch::kFloat).clone();
}

namespace {

class DinoEmbedder : public Embedder {
 public:
  DinoEmbedder(EmbedNet net, std::string name) : net_(std::move(net)), name_(std::move(name)) {
    net_->eval();
    for (const auto& p : net_->parameters()) bytes_ += p.numel() * p.element_size();
  }
  int dim() const override { return net_->cfg.embedding_dim; }
  bool reads_masks() const override { return net_->cfg.body_aligned(); }
  std::vector<std::vector<float>> embed(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes,
                                        const std::vector<eh::data::Rle>* masks) const override {
    std::vector<std::vector<float>> out(boxes.size(), std::vector<float>(static_cast<size_t>(dim()), 0.0f));
    if (boxes.empty()) return out;
    std::vector<bool> valid;
    at::Tensor x = crops_tensor(bgr, boxes, masks, net_->cfg, &valid);
    at::Tensor e;
    {
      torch::NoGradGuard g;
      torch::InferenceMode im;
      e = net_->embed(x).contiguous();
    }
    const float* p = e.data_ptr<float>();
    for (size_t i = 0; i < boxes.size(); ++i)
      if (valid[i]) std::copy(p + i * dim(), p + (i + 1) * dim(), out[i].begin());
    return out;
  }
  std::string name() const override { return name_; }
  std::size_t bytes() const override { return bytes_; }

 private:
  mutable EmbedNet net_;  // forward() is stateless: safe to share between streams
  std::string name_;
  std::size_t bytes_ = 0;
};


}  // namespace

std::shared_ptr<const Embedder> load_embedder(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error("embedder: model directory '" + dir + "' does not exist");
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const std::string w_path = (fs::path(dir) / "weights.safetensors").string();
  if (!fs::exists(cfg_path)) throw Error("embedder: " + cfg_path + " is missing");
  if (!fs::exists(w_path)) throw Error("embedder: " + w_path + " is missing");
  EmbedderConfig cfg = EmbedderConfig::from_json(read_json_file(cfg_path), cfg_path);
  EmbedNet net(cfg);
  load_state_dict(*net, w_path);  // strict: throws naming every missing / unexpected / mis-shaped key
  const auto& b = cfg.backbone;
  return std::make_shared<DinoEmbedder>(
      std::move(net), "dinov3-embedder(d" + std::to_string(b.embed_dim) + "x" + std::to_string(b.depth) + ", p" +
                          std::to_string(b.patch_size) + ", " + std::to_string(cfg.crop_size) + "px -> " +
                          std::to_string(cfg.embedding_dim) + ")");
}

}  // namespace eh::animal
