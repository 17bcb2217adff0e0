// Port of sam3/sam/{prompt_encoder,mask_decoder,transformer,common}.py (facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e), written from the upstream behaviour; eval only.
#include "models/sam3/sam_heads.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/tensor_io.h"
#include "models/sam3/attention.h"

namespace eh::models {

namespace {
// A container whose children are registered under Sequential indices ("0", "1", "3", ...), so the keys
// equal those of an upstream nn.Sequential with parameter-free activations between.
std::shared_ptr<torch::nn::Module> indexed() { return std::make_shared<torch::nn::Module>(); }
}  // namespace

Sam3LayerNorm2dImpl::Sam3LayerNorm2dImpl(int64_t c, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({c}));
  bias = register_parameter("bias", torch::zeros({c}));
}

at::Tensor Sam3LayerNorm2dImpl::forward(const at::Tensor& x) {
  auto u = x.mean(1, true);
  auto s = (x - u).pow(2).mean(1, true);
  auto y = (x - u) / torch::sqrt(s + eps);
  return weight.view({-1, 1, 1}) * y + bias.view({-1, 1, 1});
}

Sam3SamMLPImpl::Sam3SamMLPImpl(int64_t in, int64_t hidden, int64_t out, int64_t num_layers, bool sigmoid_output_)
    : sigmoid_output(sigmoid_output_) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_layers; ++i)
    layers->push_back(torch::nn::Linear(i == 0 ? in : hidden, i == num_layers - 1 ? out : hidden));
}

at::Tensor Sam3SamMLPImpl::forward(const at::Tensor& x) {
  at::Tensor y = x;
  const size_t n = layers->size();
  for (size_t i = 0; i < n; ++i) {
    y = layers[i]->as<torch::nn::LinearImpl>()->forward(y);
    if (i + 1 < n) y = torch::relu(y);
  }
  return sigmoid_output ? torch::sigmoid(y) : y;
}

Sam3SamAttentionImpl::Sam3SamAttentionImpl(int64_t dim, int64_t heads_, int64_t downsample_rate) : heads(heads_) {
  const int64_t internal = dim / downsample_rate;
  if (internal % heads) throw Error("sam3 tracker: attention width " + std::to_string(internal) + " not divisible by " +
                                    std::to_string(heads) + " heads");
  q_proj = register_module("q_proj", torch::nn::Linear(dim, internal));
  k_proj = register_module("k_proj", torch::nn::Linear(dim, internal));
  v_proj = register_module("v_proj", torch::nn::Linear(dim, internal));
  out_proj = register_module("out_proj", torch::nn::Linear(internal, dim));
}

at::Tensor Sam3SamAttentionImpl::forward(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) {
  auto split = [&](const at::Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);  // [B, h, N, c]
  };
  auto q = split(q_proj(q_in)), k = split(k_proj(k_in)), v = split(v_proj(v_in));
  auto o = sam3_sdpa(q, k, v).transpose(1, 2);
  return out_proj(o.reshape({o.size(0), o.size(1), -1}));
}

Sam3TwoWayBlockImpl::Sam3TwoWayBlockImpl(int64_t dim, int64_t heads, int64_t mlp_dim, bool skip_first_layer_pe_)
    : skip_first_layer_pe(skip_first_layer_pe_) {
  self_attn = register_module("self_attn", Sam3SamAttention(dim, heads, 1));
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  cross_attn_token_to_image = register_module("cross_attn_token_to_image", Sam3SamAttention(dim, heads, 2));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  auto mlp = register_module("mlp", indexed());
  lin1 = mlp->register_module("lin1", torch::nn::Linear(dim, mlp_dim));
  lin2 = mlp->register_module("lin2", torch::nn::Linear(mlp_dim, dim));
  norm3 = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  norm4 = register_module("norm4", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  cross_attn_image_to_token = register_module("cross_attn_image_to_token", Sam3SamAttention(dim, heads, 2));
}

std::pair<at::Tensor, at::Tensor> Sam3TwoWayBlockImpl::forward(at::Tensor queries, at::Tensor keys,
                                                               const at::Tensor& query_pe, const at::Tensor& key_pe) {
  if (skip_first_layer_pe) {
    queries = self_attn(queries, queries, queries);
  } else {
    auto q = queries + query_pe;
    queries = queries + self_attn(q, q, queries);
  }
  queries = norm1(queries);
  auto q = queries + query_pe;
  auto k = keys + key_pe;
  queries = norm2(queries + cross_attn_token_to_image(q, k, keys));
  queries = norm3(queries + lin2(torch::relu(lin1(queries))));  // MLPBlock with activation=nn.ReLU
  q = queries + query_pe;
  k = keys + key_pe;
  keys = norm4(keys + cross_attn_image_to_token(k, q, queries));
  return {queries, keys};
}

Sam3TwoWayTransformerImpl::Sam3TwoWayTransformerImpl(int64_t depth, int64_t dim, int64_t heads, int64_t mlp_dim) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < depth; ++i) layers->push_back(Sam3TwoWayBlock(dim, heads, mlp_dim, i == 0));
  final_attn_token_to_image = register_module("final_attn_token_to_image", Sam3SamAttention(dim, heads, 2));
  norm_final_attn = register_module("norm_final_attn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

std::pair<at::Tensor, at::Tensor> Sam3TwoWayTransformerImpl::forward(const at::Tensor& image, const at::Tensor& image_pe,
                                                                     const at::Tensor& tokens) {
  auto keys = image.flatten(2).permute({0, 2, 1});
  auto key_pe = image_pe.flatten(2).permute({0, 2, 1});
  auto queries = tokens;
  for (const auto& l : *layers) std::tie(queries, keys) = l->as<Sam3TwoWayBlockImpl>()->forward(queries, keys, tokens, key_pe);
  auto q = queries + tokens;
  auto k = keys + key_pe;
  queries = norm_final_attn(queries + final_attn_token_to_image(q, k, keys));
  return {queries, keys};
}

// ---- prompt encoder -----------------------------------------------------------------------------

Sam3PromptEncoderImpl::Sam3PromptEncoderImpl(const Sam3TrackerConfig& c)
    : d_(c.d_model), G_(c.embedding_size()), image_size_(c.image_size) {
  auto pe = register_module("pe_layer", indexed());
  gaussian_ = pe->register_buffer("positional_encoding_gaussian_matrix", torch::randn({2, d_ / 2}));
  point_embeddings_ = register_module("point_embeddings", torch::nn::ModuleList());
  for (int i = 0; i < 4; ++i) point_embeddings_->push_back(torch::nn::Embedding(1, d_));
  not_a_point_embed_ = register_module("not_a_point_embed", torch::nn::Embedding(1, d_));
  auto down = register_module("mask_downscaling", indexed());
  const int64_t m = c.mask_in_chans;
  down0_ = down->register_module("0", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, m / 4, 2).stride(2)));
  down1_ = down->register_module("1", Sam3LayerNorm2d(m / 4));
  down3_ = down->register_module("3", torch::nn::Conv2d(torch::nn::Conv2dOptions(m / 4, m, 2).stride(2)));
  down4_ = down->register_module("4", Sam3LayerNorm2d(m));
  down6_ = down->register_module("6", torch::nn::Conv2d(torch::nn::Conv2dOptions(m, d_, 1)));
  no_mask_embed_ = register_module("no_mask_embed", torch::nn::Embedding(1, d_));
}

at::Tensor Sam3PromptEncoderImpl::pe_encoding(const at::Tensor& coords01) const {
  // PositionEmbeddingRandom._pe_encoding: 2*pi * ((2c - 1) @ G), then [sin | cos].
  auto c = torch::matmul(coords01 * 2 - 1, gaussian_) * (2 * M_PI);
  return torch::cat({torch::sin(c), torch::cos(c)}, -1);
}

at::Tensor Sam3PromptEncoderImpl::dense_pe() const {
  auto opts = gaussian_.options();
  auto y = (torch::arange(G_, opts) + 0.5) / G_;  // cumsum of ones - 0.5, over the size
  auto x = (torch::arange(G_, opts) + 0.5) / G_;
  auto grid = torch::stack({x.view({1, G_}).expand({G_, G_}), y.view({G_, 1}).expand({G_, G_})}, -1);
  return pe_encoding(grid).permute({2, 0, 1}).unsqueeze(0);
}

std::pair<at::Tensor, at::Tensor> Sam3PromptEncoderImpl::forward(const at::Tensor& coords, const at::Tensor& labels,
                                                                 const at::Tensor& masks) {
  const int64_t B = coords.size(0);
  // _embed_points(pad=True): shift to the pixel centre, append one padding point (0, 0) labelled -1.
  auto pts = torch::cat({coords.to(gaussian_.dtype()) + 0.5, torch::zeros({B, 1, 2}, gaussian_.options())}, 1);
  auto lab = torch::cat({labels.to(torch::kLong), -torch::ones({B, 1}, torch::kLong)}, 1).unsqueeze(-1);
  auto xy = pts / static_cast<double>(image_size_);  // x / W, y / H (square image)
  auto e = pe_encoding(xy);
  auto w = [&](int i) { return point_embeddings_[i]->as<torch::nn::EmbeddingImpl>()->weight; };
  e = torch::where(lab == -1, torch::zeros_like(e) + not_a_point_embed_->weight, e);
  for (int i = 0; i < 4; ++i) e = torch::where(lab == i, e + w(i), e);
  at::Tensor dense;
  if (masks.defined()) {
    auto h = torch::gelu(down1_(down0_(masks)));
    h = torch::gelu(down4_(down3_(h)));
    dense = down6_(h);
  } else {
    dense = no_mask_embed_->weight.reshape({1, -1, 1, 1}).expand({B, -1, G_, G_});
  }
  return {e, dense};
}

// ---- mask decoder -------------------------------------------------------------------------------

Sam3MaskDecoderImpl::Sam3MaskDecoderImpl(const Sam3TrackerConfig& c) : cfg_(c) {
  const int64_t d = c.d_model, n_masks = c.num_multimask_outputs + 1;
  transformer_ = register_module("transformer", Sam3TwoWayTransformer(c.decoder_depth, d, c.decoder_heads, c.decoder_mlp_dim));
  iou_token_ = register_module("iou_token", torch::nn::Embedding(1, d));
  mask_tokens_ = register_module("mask_tokens", torch::nn::Embedding(n_masks, d));
  obj_score_token_ = register_module("obj_score_token", torch::nn::Embedding(1, d));
  auto up = register_module("output_upscaling", indexed());
  up0_ = up->register_module("0", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(d, d / 4, 2).stride(2)));
  up1_ = up->register_module("1", Sam3LayerNorm2d(d / 4));
  up3_ = up->register_module("3", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(d / 4, d / 8, 2).stride(2)));
  conv_s0 = register_module("conv_s0", torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d / 8, 1)));
  conv_s1 = register_module("conv_s1", torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d / 4, 1)));
  hyper_ = register_module("output_hypernetworks_mlps", torch::nn::ModuleList());
  for (int64_t i = 0; i < n_masks; ++i) hyper_->push_back(Sam3SamMLP(d, d, d / 8, 3));
  iou_prediction_head_ =
      register_module("iou_prediction_head", Sam3SamMLP(d, c.iou_head_hidden_dim, n_masks, 3, /*sigmoid=*/true));
  pred_obj_score_head_ = register_module("pred_obj_score_head", Sam3SamMLP(d, d, 1, 3));
}

Sam3MaskDecoderOutput Sam3MaskDecoderImpl::forward(const at::Tensor& image_embeddings, const at::Tensor& image_pe,
                                                   const at::Tensor& sparse, const at::Tensor& dense, bool multimask_output,
                                                   const at::Tensor& feat_s0, const at::Tensor& feat_s1) {
  const int64_t B = sparse.size(0), n_masks = mask_tokens_->weight.size(0);
  if (image_embeddings.size(0) != B)
    throw Error("sam3 tracker mask decoder: " + std::to_string(image_embeddings.size(0)) + " image embeddings for " +
                std::to_string(B) + " prompts (repeat_image=False needs one per prompt)");
  // predict_masks: tokens = [obj_score, iou, mask tokens..., prompt tokens]
  auto out_tokens = torch::cat({obj_score_token_->weight, iou_token_->weight, mask_tokens_->weight}, 0);
  auto tokens = torch::cat({out_tokens.unsqueeze(0).expand({B, -1, -1}), sparse}, 1);
  auto src = image_embeddings + dense;
  auto pos_src = image_pe.expand({B, -1, -1, -1});
  const int64_t c = src.size(1), h = src.size(2), w = src.size(3);
  auto [hs, keys] = transformer_->forward(src, pos_src, tokens);
  auto iou_token_out = hs.select(1, 1);
  auto mask_tokens_out = hs.slice(1, 2, 2 + n_masks);
  auto img = keys.transpose(1, 2).reshape({B, c, h, w});
  auto up = torch::gelu(up1_(up0_(img) + feat_s1));
  up = torch::gelu(up3_(up) + feat_s0);
  std::vector<at::Tensor> hyper;
  for (int64_t i = 0; i < n_masks; ++i)
    hyper.push_back(hyper_[i]->as<Sam3SamMLPImpl>()->forward(mask_tokens_out.select(1, i)));
  auto hyper_in = torch::stack(hyper, 1);
  const int64_t uh = up.size(2), uw = up.size(3);
  auto masks = torch::matmul(hyper_in, up.reshape({B, up.size(1), uh * uw})).view({B, -1, uh, uw});
  auto iou_pred = iou_prediction_head_(iou_token_out);
  auto obj = pred_obj_score_head_(hs.select(1, 0));

  Sam3MaskDecoderOutput o;
  o.object_score_logits = obj;
  if (multimask_output) {
    o.masks = masks.slice(1, 1);
    o.iou_pred = iou_pred.slice(1, 1);
  } else if (cfg_.dynamic_multimask_via_stability) {
    std::tie(o.masks, o.iou_pred) = dynamic_multimask_via_stability(masks, iou_pred);
  } else {
    o.masks = masks.slice(1, 0, 1);
    o.iou_pred = iou_pred.slice(1, 0, 1);
  }
  // use_multimask_token_for_obj_ptr=True: the multimask tokens when multimask, else the single-mask token.
  o.sam_tokens_out = multimask_output ? mask_tokens_out.slice(1, 1) : mask_tokens_out.slice(1, 0, 1);
  return o;
}

std::pair<at::Tensor, at::Tensor> Sam3MaskDecoderImpl::dynamic_multimask_via_stability(const at::Tensor& masks,
                                                                                       const at::Tensor& ious) const {
  // The single-mask output (token 0) unless its stability score (area above +delta over area above
  // -delta) is below the threshold; then the multimask output with the best predicted IoU.
  auto multi = masks.slice(1, 1);
  auto multi_iou = ious.slice(1, 1);
  auto best = torch::argmax(multi_iou, -1);
  auto bi = torch::arange(multi_iou.size(0), best.options());
  auto best_masks = multi.index({bi, best}).unsqueeze(1);
  auto best_iou = multi_iou.index({bi, best}).unsqueeze(1);
  auto single = masks.slice(1, 0, 1);
  auto single_iou = ious.slice(1, 0, 1);
  const double delta = cfg_.dynamic_multimask_stability_delta;
  auto flat = single.flatten(-2);
  auto area_i = (flat > delta).sum(-1).to(torch::kFloat);
  auto area_u = (flat > -delta).sum(-1).to(torch::kFloat);
  auto score = torch::where(area_u > 0, area_i / area_u, torch::ones_like(area_i));
  auto stable = score >= cfg_.dynamic_multimask_stability_thresh;  // [B, 1]
  auto m = torch::where(stable.unsqueeze(-1).unsqueeze(-1).expand_as(single), single, best_masks);
  auto i = torch::where(stable.expand_as(single_iou), single_iou, best_iou);
  return {m, i};
}

}  // namespace eh::models
