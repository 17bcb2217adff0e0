// The embedder network (LibTorch; internal to src/animal): a DINOv3 ViT (models/dinov3_vit.h,
// any size) -> [CLS, mean of patch tokens] -> linear projection -> L2 normalisation.
// Module keys: "backbone.*" (the upstream DINOv3 names) and "head.*".
#pragma once
#include <torch/nn.h>

#include <functional>
#include <string>

#include "animal/crops.h"
#include "core/config.h"
#include "models/dinov3_vit.h"

namespace eh::animal {

struct EmbedderConfig {
  eh::models::DinoV3Config backbone;
  nlohmann::json backbone_json;  // as written in config.json (kept for saving)
  int crop_size = 64;
  float crop_margin = 0.05f;
  int embedding_dim = 64;
  // "box": crops square on the box (make_crop); "body": square on the body and turned so that
  // its axis runs along x (make_aligned_crop, the frame from the mask), so the network need not
  // learn every heading. The head may be left or right: a body-aligned embedder embeds both
  // turns of the crop and sums them (EmbedNetImpl::embed).
  std::string crop_align = "box";
  bool body_aligned() const { return crop_align == "body"; }
  // Body-aligned crops only: pixels outside the animal's mask become padding (the floor and
  // the neighbours change between sightings, the animal does not). Without a mask the crop
  // keeps them.
  bool mask_background = false;
  // Reads {"backbone": {...dinov3 fields...}, "crop_size", "crop_margin", "embedding_dim",
  // optional "crop_align", "mask_background"};
  // throws eh::Error naming `label` and the field.
  static EmbedderConfig from_json(const nlohmann::json& j, const std::string& label);
  nlohmann::json to_json() const;
  CropOptions crop() const { return {crop_size, crop_margin}; }
};

struct EmbedNetImpl : torch::nn::Module {
  explicit EmbedNetImpl(const EmbedderConfig& c);
  // x: [B, 3, S, S] ImageNet-normalised RGB -> [B, embedding_dim], unit rows.
  at::Tensor forward(const at::Tensor& x);
  // What users get: forward(), or for a body-aligned config the normalised sum over the crop
  // and the crop turned by 180 degrees (the same for either heading).
  at::Tensor embed(const at::Tensor& x);
  // Weights for training from scratch (truncated-normal 0.02 linear weights and tokens).
  void init_for_training(uint64_t seed);
  EmbedderConfig cfg;
  eh::models::DinoVisionTransformer backbone{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(EmbedNet);

// The crop an embedder with config `cfg` reads of one animal, cut with `opt` (cfg.crop(), or the
// trainer's larger stored crop): square on the box, or turned to the body (its frame from the
// mask when there is one) with the background padded out when the config says so. `roughen`,
// when set, alters the mask crop before it is applied (training: a segmenter's masks are
// coarse). False when the crop misses the image (all padding). Training and inference both cut
// their crops here, so they cannot drift apart.
bool make_embedder_crop(const cv::Mat& bgr, const cv::Rect2f& box, const eh::data::Rle* mask, const EmbedderConfig& cfg,
                        const CropOptions& opt, cv::Mat* crop, const std::function<void(cv::Mat*)>& roughen = nullptr);

// Normalised crops of `boxes` as a [B, 3, S, S] tensor, cut as the config says (masks: null, or
// one per box, for body-aligned crops); valid[i] = false for boxes whose crop misses the image
// (all padding).
at::Tensor crops_tensor(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes, const std::vector<eh::data::Rle>* masks,
                        const EmbedderConfig& cfg, std::vector<bool>* valid);

}  // namespace eh::animal
