// SAM 3 image trunk: the Perception-Encoder ViT that sam3.model_builder builds as
// `sam3.model.vitdet.ViT` (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e,
// files sam3/model/vitdet.py and sam3/model_builder.py `_create_vit_backbone`).
//
// Patch embedding (Conv2d k=s=14, no bias) -> + learned absolute positions (pretrain grid
// tiled over the token grid, cls row dropped) -> ln_pre -> blocks (pre-norm; windowed
// attention with zero padding, except the global blocks; 2D axial RoPE in every block) ->
// output of the last global block as NCHW. Module names equal the upstream state-dict keys
// under `detector.backbone.vision_backbone.trunk.`. The upstream complex64 RoPE buffers
// (`blocks.N.attn.freqs_cis`) are recomputed here and held as plain members, not buffers.
#pragma once
#include <torch/nn.h>

#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "models/registry.h"

namespace eh::models {

struct Sam3ViTConfig {
  int64_t img_size = 1008, patch_size = 14, in_chans = 3, embed_dim = 1024, depth = 32, num_heads = 16;
  double mlp_ratio = 4.625;
  bool qkv_bias = true;
  double norm_eps = 1e-5;  // norm_layer "LayerNorm" -> nn.LayerNorm(eps=1e-5)
  bool use_abs_pos = true, tile_abs_pos = true;
  int64_t window_size = 24;
  std::vector<int64_t> global_att_blocks = {7, 15, 23, 31};
  bool use_rope = true, use_interp_rope = true;
  std::optional<int64_t> rope_pt_size;  // null -> window_size
  double rope_theta = 10000.0;          // Attention default; ViT does not pass one
  int64_t pretrain_img_size = 336;
  bool pretrain_use_cls_token = true;
  bool return_interm_layers = false;
  bool ln_pre = true, ln_post = false, bias_patch_embed = false;

  // Reads the upstream ViT constructor arguments; unknown fields are an error.
  static Sam3ViTConfig from(Config& c);
  int64_t head_dim() const { return embed_dim / num_heads; }
  int64_t grid() const { return img_size / patch_size; }        // token grid the global RoPE is built for
  int64_t mlp_hidden() const { return static_cast<int64_t>(embed_dim * mlp_ratio); }  // int() truncation
  bool is_global(int64_t block) const;
};

// The released SAM 3 trunk (PE ViT-L+/14 at 1008: 32 blocks, width 1024, 16 heads, MLP 4736,
// window 24, global blocks 7/15/23/31), 446,237,696 parameters. For benchmarks with random weights.
Sam3ViTConfig sam3_full_trunk_config();

class Sam3ViTImpl : public torch::nn::Module {
 public:
  explicit Sam3ViTImpl(const Sam3ViTConfig& cfg);
  // x: [B, in_chans, H, W] (RGB normalised with mean = std = 0.5). The patch grid must be
  // img_size/patch_size square when there are global blocks (their RoPE table is built for it,
  // as upstream asserts). Returns the NCHW feature map after the last global block; with
  // return_interm_layers, one per global block (the last one last). `trace` receives the
  // fixture's intermediates ("intermediate.trunk.*").
  std::vector<at::Tensor> forward(const at::Tensor& x, TensorMap* trace = nullptr);
  // Absolute positions for an h x w grid, [1, h, w, C] (get_abs_pos with tiling).
  at::Tensor abs_pos(int64_t h, int64_t w) const;
  const Sam3ViTConfig& config() const { return cfg_; }

 private:
  Sam3ViTConfig cfg_;
  at::Tensor pos_embed_;
  torch::nn::Conv2d patch_proj_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm ln_pre_{nullptr}, ln_post_{nullptr};
};
TORCH_MODULE(Sam3ViT);

// RoPE table of vitdet.compute_axial_cis as (cos, sin), each [end_x*end_y, dim/2]: the first
// dim/4 columns rotate by x (column) angles, the last dim/4 by y (row) angles; float32 like upstream.
std::pair<at::Tensor, at::Tensor> sam3_axial_rope(int64_t dim, int64_t end_x, int64_t end_y, double theta,
                                                  double scale_pos);

}  // namespace eh::models
