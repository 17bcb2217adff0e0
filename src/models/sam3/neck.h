// SAM 3 vision backbone = trunk + dual simple-FPN neck: `sam3.model.necks.Sam3DualViTDetNeck`
// with `sam3.model.position_encoding.PositionEmbeddingSine`
// (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e, sam3/model/necks.py,
// sam3/model/position_encoding.py, sam3/model_builder.py `_create_vision_backbone`).
//
// Module names equal the upstream keys under `detector.backbone.vision_backbone.`:
// `trunk.*`, `convs.{i}.*` (detector neck) and `sam2_convs.{i}.*` (tracker neck).
#pragma once
#include <torch/nn.h>

#include <vector>

#include "core/config.h"
#include "models/registry.h"
#include "models/sam3/pe_vit.h"

namespace eh::models {

// PositionEmbeddingSine arguments (num_pos_feats is the number of output channels).
struct Sam3SinePosConfig {
  int64_t num_pos_feats = 256;
  double temperature = 10000.0;
  double scale = 6.283185307179586;  // 2*pi when the config's scale is null
  static Sam3SinePosConfig from(Config& c);
};

// PositionEmbeddingSine.forward for a [B, *, h, w] map: [B, num_pos_feats, h, w], float32.
// Channels [y | x], each num_pos_feats/2 wide with sin/cos interleaved per frequency.
at::Tensor sam3_sine_position_encoding(const Sam3SinePosConfig& c, int64_t B, int64_t h, int64_t w);

// The sine features of already-scaled coordinates a [...]: [..., npf] = sin(a/t_0), cos(a/t_1), sin(a/t_2), ...
// with t_i = temperature^(2*floor(i/2)/npf) in float32 -- the table of PositionEmbeddingSine (forward,
// _encode_xy, encode_boxes) and of model_misc.gen_sineembed_for_position.
at::Tensor sam3_sine_features(const at::Tensor& a, int64_t npf, double temperature);

struct Sam3BackboneConfig {
  Sam3ViTConfig trunk;
  Sam3SinePosConfig position_encoding;
  int64_t d_model = 256;
  std::vector<double> scale_factors = {4.0, 2.0, 1.0, 0.5};
  bool add_sam2_neck = true;
  // Top level: {"trunk": {...ViT args}, "position_encoding": {...}, "d_model", "scale_factors", "add_sam2_neck"}.
  static Sam3BackboneConfig from(Config& c);
};

// The released vision backbone of the SAM 3 video model (both necks): 461,841,920 parameters.
Sam3BackboneConfig sam3_full_backbone_config();

struct Sam3BackboneOutput {
  std::vector<at::Tensor> trunk;                 // trunk outputs (the last one feeds the necks)
  std::vector<at::Tensor> sam3_out, sam3_pos;    // detector neck, one per scale factor
  std::vector<at::Tensor> sam2_out, sam2_pos;    // tracker neck (empty without add_sam2_neck)
};

class Sam3DualViTDetNeckImpl : public torch::nn::Module {
 public:
  explicit Sam3DualViTDetNeckImpl(const Sam3BackboneConfig& cfg);
  // x: [B, 3, img_size, img_size]. `levels` limits the neck to the first n scales (upstream's
  // SAM3VLBackbone has scalp=1 and discards the last, 0.5x level); -1 = all.
  Sam3BackboneOutput forward(const at::Tensor& x, TensorMap* trace = nullptr, int levels = -1);
  // The necks alone on a trunk map [B, C, g, g] (trunk left empty in the result): how the
  // student's map is fed to the teacher's heads (backbone substitution) and distilled.
  Sam3BackboneOutput forward_necks(const at::Tensor& trunk_map, TensorMap* trace = nullptr, int levels = -1);
  Sam3ViT& trunk() { return trunk_; }
  const Sam3BackboneConfig& config() const { return cfg_; }

 private:
  Sam3BackboneConfig cfg_;
  Sam3ViT trunk_{nullptr};
  torch::nn::ModuleList convs_{nullptr}, sam2_convs_{nullptr};
};
TORCH_MODULE(Sam3DualViTDetNeck);

Arch sam3_backbone_arch();

}  // namespace eh::models
