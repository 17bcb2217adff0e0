// The SAM prompt encoder and mask decoder of the SAM 3 tracker (facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e: sam3/sam/prompt_encoder.py PromptEncoder + PositionEmbeddingRandom,
// sam3/sam/mask_decoder.py MaskDecoder + MLP, sam3/sam/transformer.py TwoWayTransformer + Attention,
// sam3/sam/common.py MLPBlock + LayerNorm2d), built as Sam3TrackerBase._build_sam_heads builds them
// (high-res features, IoU sigmoid, object-score MLP, multimask token for the pointer). Module names equal the
// keys under `tracker.sam_prompt_encoder.` and `tracker.sam_mask_decoder.` in sam3.pt. Eval only.
#pragma once
#include <torch/nn.h>

#include <utility>

#include "models/sam3/tracker_config.h"

namespace eh::models {

// common.LayerNorm2d: per-pixel LayerNorm over channels of [B, C, H, W] (keys weight, bias).
struct Sam3LayerNorm2dImpl : torch::nn::Module {
  at::Tensor weight, bias;
  double eps;
  explicit Sam3LayerNorm2dImpl(int64_t c, double eps_ = 1e-6);
  at::Tensor forward(const at::Tensor& x);
};
TORCH_MODULE(Sam3LayerNorm2d);

// mask_decoder.MLP: Linear layers with ReLU between (keys layers.i.*), optional sigmoid at the end.
struct Sam3SamMLPImpl : torch::nn::Module {
  torch::nn::ModuleList layers{nullptr};
  bool sigmoid_output;
  Sam3SamMLPImpl(int64_t in, int64_t hidden, int64_t out, int64_t num_layers, bool sigmoid_output_ = false);
  at::Tensor forward(const at::Tensor& x);
};
TORCH_MODULE(Sam3SamMLP);

// transformer.Attention: q/k/v projections to embedding_dim / downsample_rate, heads, SDPA, out_proj.
// Batch-first [B, N, C].
struct Sam3SamAttentionImpl : torch::nn::Module {
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  int64_t heads;
  Sam3SamAttentionImpl(int64_t dim, int64_t heads_, int64_t downsample_rate);
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
};
TORCH_MODULE(Sam3SamAttention);

struct Sam3TwoWayBlockImpl : torch::nn::Module {
  Sam3SamAttention self_attn{nullptr}, cross_attn_token_to_image{nullptr}, cross_attn_image_to_token{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr}, norm4{nullptr};
  torch::nn::Linear lin1{nullptr}, lin2{nullptr};  // registered under "mlp" (MLPBlock, ReLU)
  bool skip_first_layer_pe;
  Sam3TwoWayBlockImpl(int64_t dim, int64_t heads, int64_t mlp_dim, bool skip_first_layer_pe_);
  // queries [B, Nq, C], keys [B, Nk, C] -> updated (queries, keys).
  std::pair<at::Tensor, at::Tensor> forward(at::Tensor queries, at::Tensor keys, const at::Tensor& query_pe,
                                            const at::Tensor& key_pe);
};
TORCH_MODULE(Sam3TwoWayBlock);

struct Sam3TwoWayTransformerImpl : torch::nn::Module {
  torch::nn::ModuleList layers{nullptr};
  Sam3SamAttention final_attn_token_to_image{nullptr};
  torch::nn::LayerNorm norm_final_attn{nullptr};
  Sam3TwoWayTransformerImpl(int64_t depth, int64_t dim, int64_t heads, int64_t mlp_dim);
  // image [B, C, H, W], image_pe [B, C, H, W], tokens [B, N, C] -> (tokens [B, N, C], image [B, HW, C]).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& image, const at::Tensor& image_pe, const at::Tensor& tokens);
};
TORCH_MODULE(Sam3TwoWayTransformer);

class Sam3PromptEncoderImpl : public torch::nn::Module {
 public:
  explicit Sam3PromptEncoderImpl(const Sam3TrackerConfig& c);
  // PromptEncoder.forward(points=(coords, labels), boxes=None, masks). coords [B, P, 2] absolute pixels at
  // image_size, labels [B, P] (1 positive, 0 negative, -1 padding, 2/3 box corners); a padding point is
  // appended (no boxes). masks [B, 1, 4G, 4G] or undefined (no_mask_embed). Returns (sparse [B, P+1, d],
  // dense [B, d, G, G]).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& coords, const at::Tensor& labels, const at::Tensor& masks);
  // get_dense_pe(): [1, d, G, G].
  at::Tensor dense_pe() const;

 private:
  at::Tensor pe_encoding(const at::Tensor& coords01) const;
  int64_t d_, G_, image_size_;
  at::Tensor gaussian_;  // pe_layer.positional_encoding_gaussian_matrix [2, d/2] (a buffer upstream)
  torch::nn::ModuleList point_embeddings_{nullptr};
  torch::nn::Embedding not_a_point_embed_{nullptr}, no_mask_embed_{nullptr};
  torch::nn::Conv2d down0_{nullptr}, down3_{nullptr}, down6_{nullptr};
  Sam3LayerNorm2d down1_{nullptr}, down4_{nullptr};
};
TORCH_MODULE(Sam3PromptEncoder);

struct Sam3MaskDecoderOutput {
  at::Tensor masks;                // [B, M, 4G, 4G] after the multimask / dynamic selection
  at::Tensor iou_pred;             // [B, M]
  at::Tensor sam_tokens_out;       // [B, M or 1, d]
  at::Tensor object_score_logits;  // [B, 1]
};

class Sam3MaskDecoderImpl : public torch::nn::Module {
 public:
  explicit Sam3MaskDecoderImpl(const Sam3TrackerConfig& c);
  // MaskDecoder.forward(repeat_image=False). image_embeddings [B, d, G, G], image_pe [1, d, G, G],
  // sparse [B, N, d], dense [B, d, G, G]; feat_s0 / feat_s1: the 4x / 2x neck levels already projected by
  // conv_s0 / conv_s1 ([B, d/8, 4G, 4G], [B, d/4, 2G, 2G]).
  Sam3MaskDecoderOutput forward(const at::Tensor& image_embeddings, const at::Tensor& image_pe, const at::Tensor& sparse,
                                const at::Tensor& dense, bool multimask_output, const at::Tensor& feat_s0,
                                const at::Tensor& feat_s1);
  torch::nn::Conv2d conv_s0{nullptr}, conv_s1{nullptr};

 private:
  std::pair<at::Tensor, at::Tensor> dynamic_multimask_via_stability(const at::Tensor& masks, const at::Tensor& ious) const;
  Sam3TrackerConfig cfg_;
  Sam3TwoWayTransformer transformer_{nullptr};
  torch::nn::Embedding iou_token_{nullptr}, mask_tokens_{nullptr}, obj_score_token_{nullptr};
  torch::nn::ConvTranspose2d up0_{nullptr}, up3_{nullptr};
  Sam3LayerNorm2d up1_{nullptr};
  torch::nn::ModuleList hyper_{nullptr};
  Sam3SamMLP iou_prediction_head_{nullptr}, pred_obj_score_head_{nullptr};
};
TORCH_MODULE(Sam3MaskDecoder);

}  // namespace eh::models
