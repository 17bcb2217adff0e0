// The SAM 3 tracker's memory: the memory encoder (sam3/model/memory.py SimpleMaskEncoder with
// SimpleMaskDownSampler, SimpleFuser of CXBlocks and PositionEmbeddingSine) and the memory attention
// (sam3/model/decoder.py TransformerEncoderCrossAttention of TransformerDecoderLayerv2 with
// sam3/sam/transformer.py RoPEAttention, wrapped in model_misc.TransformerWrapper), as
// sam3/model_builder.py `_create_tracker_maskmem_backbone` / `_create_tracker_transformer` build them
// (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e). Module names equal the keys under
// `tracker.maskmem_backbone.` and `tracker.transformer.` in sam3.pt. Eval only.
#pragma once
#include <torch/nn.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "models/sam3/tracker_config.h"

namespace eh::models {

struct Sam3MemoryEncoderOutput {
  at::Tensor vision_features;  // [B, mem_dim, G, G]
  at::Tensor vision_pos_enc;   // [B, mem_dim, G, G]
};

class Sam3MemoryEncoderImpl : public torch::nn::Module {
 public:
  explicit Sam3MemoryEncoderImpl(const Sam3TrackerConfig& c);
  // SimpleMaskEncoder.forward(pix_feat, masks, skip_mask_sigmoid=True): pix_feat [B, d, G, G], masks
  // [B, 1, S, S] already scaled (the tracker passes sigmoid or threshold * 20 - 10).
  Sam3MemoryEncoderOutput forward(const at::Tensor& pix_feat, const at::Tensor& masks);

 private:
  Sam3TrackerConfig cfg_;
  std::vector<std::pair<torch::nn::Conv2d, std::shared_ptr<torch::nn::Module>>> down_;  // (conv, LayerNorm2d) stages
  torch::nn::Conv2d down_out_{nullptr}, pix_feat_proj_{nullptr}, out_proj_{nullptr};
  torch::nn::ModuleList fuser_layers_{nullptr};
};
TORCH_MODULE(Sam3MemoryEncoder);

// RoPEAttention (2D axial RoPE on q and on the first keys, repeated over the memory frames; the last
// `num_k_exclude_rope` keys, the object-pointer tokens, are not rotated). Batch-first [B, L, C].
class Sam3RoPEAttentionImpl : public torch::nn::Module {
 public:
  Sam3RoPEAttentionImpl(int64_t dim, int64_t heads, int64_t kv_in_dim, double theta, bool rope_k_repeat);
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t num_k_exclude_rope = 0);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  const std::pair<at::Tensor, at::Tensor>& table(int64_t n);  // (cos, sin) for an n x n grid, cached
  int64_t heads_;
  double theta_;
  bool rope_k_repeat_;
  std::map<int64_t, std::pair<at::Tensor, at::Tensor>> tables_;
};
TORCH_MODULE(Sam3RoPEAttention);

class Sam3MemoryAttentionImpl : public torch::nn::Module {
 public:
  explicit Sam3MemoryAttentionImpl(const Sam3TrackerConfig& c);
  // TransformerEncoderCrossAttention.forward, seq-first: src [HW, B, d] (the current frame's image
  // embedding), src_pos [HW, B, d], prompt [S, B, mem] (memories, then object-pointer tokens), prompt_pos
  // [S, B, mem]; the last num_obj_ptr_tokens prompt tokens get no RoPE. Returns the normed memory [HW, B, d].
  at::Tensor forward(const at::Tensor& src, const at::Tensor& src_pos, const at::Tensor& prompt,
                     const at::Tensor& prompt_pos, int64_t num_obj_ptr_tokens);

 private:
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(Sam3MemoryAttention);

}  // namespace eh::models
