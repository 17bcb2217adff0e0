// Port of sam3/model/memory.py (SimpleMaskDownSampler, CXBlock, SimpleFuser, SimpleMaskEncoder),
// sam3/model/decoder.py (TransformerDecoderLayerv2 pre-norm, self-attention first; TransformerEncoderCrossAttention
// with pos_enc_at_input and batch_first), sam3/sam/transformer.py RoPEAttention and sam3/sam/rope.py
// (compute_axial_cis, apply_rotary_enc with repeat_freqs_k), facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e, with the arguments of sam3/model_builder.py
// _create_tracker_maskmem_backbone / _create_tracker_transformer. Written from the upstream behaviour; eval only.
#include "models/sam3/memory.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "models/sam3/attention.h"
#include "models/sam3/neck.h"
#include "models/sam3/pe_vit.h"
#include "models/sam3/sam_heads.h"

namespace eh::models {

namespace F = torch::nn::functional;

namespace {

std::shared_ptr<torch::nn::Module> container() { return std::make_shared<torch::nn::Module>(); }

// memory.CXBlock (ConvNeXt block, "implementation 2"): depthwise conv, LayerNorm2d(eps 1e-6), Linear,
// GELU, Linear, gamma (layer scale), residual.
struct CXBlockImpl : torch::nn::Module {
  at::Tensor gamma;
  torch::nn::Conv2d dwconv{nullptr};
  Sam3LayerNorm2d norm{nullptr};
  torch::nn::Linear pwconv1{nullptr}, pwconv2{nullptr};
  CXBlockImpl(int64_t dim, int64_t k) {
    gamma = register_parameter("gamma", torch::full({dim}, 1e-6));
    dwconv = register_module("dwconv", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, k).padding(k / 2).groups(dim)));
    norm = register_module("norm", Sam3LayerNorm2d(dim, 1e-6));
    pwconv1 = register_module("pwconv1", torch::nn::Linear(dim, 4 * dim));
    pwconv2 = register_module("pwconv2", torch::nn::Linear(4 * dim, dim));
  }
  at::Tensor forward(const at::Tensor& x) {
    auto y = norm(dwconv(x)).permute({0, 2, 3, 1});
    y = pwconv2(torch::gelu(pwconv1(y)));
    y = (gamma * y).permute({0, 3, 1, 2});
    return x + y;
  }
};
TORCH_MODULE(CXBlock);

// decoder.TransformerDecoderLayerv2 (pre_norm, cross_attention_first=False, pos_enc_at_attn=False,
// pos_enc_at_cross_attn_keys=True, pos_enc_at_cross_attn_queries=False, ReLU). Batch-first.
struct MemoryAttentionLayerImpl : torch::nn::Module {
  Sam3RoPEAttention self_attn{nullptr}, cross_attn_image{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  explicit MemoryAttentionLayerImpl(const Sam3TrackerConfig& c) {
    const int64_t d = c.d_model;
    self_attn = register_module("self_attn", Sam3RoPEAttention(d, c.memory_attention_heads, d, c.rope_theta, false));
    cross_attn_image =
        register_module("cross_attn_image", Sam3RoPEAttention(d, c.memory_attention_heads, c.mem_dim, c.rope_theta, true));
    linear1 = register_module("linear1", torch::nn::Linear(d, c.memory_attention_ffn));
    linear2 = register_module("linear2", torch::nn::Linear(c.memory_attention_ffn, d));
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    norm3 = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  }
  at::Tensor forward(at::Tensor tgt, const at::Tensor& memory, const at::Tensor& pos, int64_t num_k_exclude_rope) {
    auto t2 = norm1(tgt);
    tgt = tgt + self_attn->forward(t2, t2, t2);
    t2 = norm2(tgt);
    tgt = tgt + cross_attn_image->forward(t2, memory + pos, memory, num_k_exclude_rope);
    t2 = norm3(tgt);
    return tgt + linear2(torch::relu(linear1(t2)));
  }
};
TORCH_MODULE(MemoryAttentionLayer);

}  // namespace

// ---- memory encoder -----------------------------------------------------------------------------

Sam3MemoryEncoderImpl::Sam3MemoryEncoderImpl(const Sam3TrackerConfig& c) : cfg_(c) {
  const int64_t s = c.mask_downsampler_stride;
  int64_t n = 0;
  for (int64_t t = 1; t < c.mask_downsampler_total_stride; t *= s) ++n;
  int64_t check = 1;
  for (int64_t i = 0; i < n; ++i) check *= s;
  if (s < 2 || check != c.mask_downsampler_total_stride)
    throw Error("sam3 tracker: mask_downsampler_total_stride " + std::to_string(c.mask_downsampler_total_stride) +
                " is not a power of mask_downsampler_stride " + std::to_string(s));
  auto ds = register_module("mask_downsampler", container());
  auto enc = ds->register_module("encoder", container());
  int64_t in = 1, out = 1, idx = 0;
  for (int64_t i = 0; i < n; ++i, idx += 3) {
    out = in * s * s;
    auto conv = enc->register_module(std::to_string(idx),
                                     torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, c.mask_downsampler_kernel_size)
                                                           .stride(s)
                                                           .padding(c.mask_downsampler_padding)));
    auto ln = enc->register_module(std::to_string(idx + 1), Sam3LayerNorm2d(out));
    down_.emplace_back(conv, ln);
    in = out;
  }
  down_out_ = enc->register_module(std::to_string(idx), torch::nn::Conv2d(torch::nn::Conv2dOptions(out, c.d_model, 1)));
  pix_feat_proj_ = register_module("pix_feat_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.d_model, c.d_model, 1)));
  auto fuser = register_module("fuser", container());
  fuser_layers_ = fuser->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.fuser_layers; ++i) fuser_layers_->push_back(CXBlock(c.d_model, c.fuser_kernel_size));
  if (c.mem_dim != c.d_model)
    out_proj_ = register_module("out_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.d_model, c.mem_dim, 1)));
}

Sam3MemoryEncoderOutput Sam3MemoryEncoderImpl::forward(const at::Tensor& pix_feat, const at::Tensor& masks) {
  // SimpleMaskDownSampler: resize to interpol_size first (bilinear, antialias), then conv / LayerNorm2d / GELU
  // stages and a 1x1 conv to d_model.
  at::Tensor m = masks;
  const int64_t S = cfg_.mask_downsampler_interpol_size;
  if (m.size(-2) != S || m.size(-1) != S)
    m = F::interpolate(m, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{S, S})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(true));
  for (auto& [conv, ln] : down_) m = torch::gelu(ln->as<Sam3LayerNorm2dImpl>()->forward(conv(m)));
  m = down_out_(m);
  auto x = pix_feat_proj_(pix_feat) + m;
  for (const auto& l : *fuser_layers_) x = l->as<CXBlockImpl>()->forward(x);
  if (out_proj_) x = out_proj_(x);
  Sam3SinePosConfig pc;
  pc.num_pos_feats = cfg_.mem_dim;
  auto pos = sam3_sine_position_encoding(pc, x.size(0), x.size(2), x.size(3)).to(x.options());
  return {x, pos};
}

// ---- RoPE attention -----------------------------------------------------------------------------

Sam3RoPEAttentionImpl::Sam3RoPEAttentionImpl(int64_t dim, int64_t heads, int64_t kv_in_dim, double theta, bool rope_k_repeat)
    : heads_(heads), theta_(theta), rope_k_repeat_(rope_k_repeat) {
  if (dim % heads || (dim / heads) % 4)
    throw Error("sam3 tracker: memory attention width " + std::to_string(dim) + " / " + std::to_string(heads) +
                " heads must give a head dim divisible by 4 (2D RoPE)");
  q_proj = register_module("q_proj", torch::nn::Linear(dim, dim));
  k_proj = register_module("k_proj", torch::nn::Linear(kv_in_dim, dim));
  v_proj = register_module("v_proj", torch::nn::Linear(kv_in_dim, dim));
  out_proj = register_module("out_proj", torch::nn::Linear(dim, dim));
}

const std::pair<at::Tensor, at::Tensor>& Sam3RoPEAttentionImpl::table(int64_t n) {
  auto it = tables_.find(n);
  if (it == tables_.end())
    it = tables_.emplace(n, sam3_axial_rope(q_proj->weight.size(0) / heads_, n, n, theta_, 1.0)).first;
  return it->second;
}

at::Tensor Sam3RoPEAttentionImpl::forward(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                                          int64_t num_k_exclude_rope) {
  auto split = [&](const at::Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads_, x.size(2) / heads_}).transpose(1, 2);  // [B, h, L, c]
  };
  auto q = split(q_proj(q_in)), k = split(k_proj(k_in)), v = split(v_proj(v_in));
  // Upstream takes the query grid as square: w = h = sqrt(Lq).
  const int64_t Lq = q.size(2), n = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(Lq))));
  if (n * n != Lq)
    throw Error("sam3 tracker memory attention: " + std::to_string(Lq) +
                " query tokens are not a square grid (RoPEAttention takes w = h = sqrt(tokens))");
  const auto& [cos, sin] = table(n);
  q = sam3_apply_rope(q, cos, sin);
  const int64_t Lk = k.size(2), n_rope = Lk - num_k_exclude_rope;
  if (n_rope < 0) throw Error("sam3 tracker memory attention: more pointer tokens than keys");
  if (n_rope > 0) {
    at::Tensor c = cos, s = sin;
    if (n_rope != Lq) {
      if (!rope_k_repeat_ || n_rope % Lq)
        throw Error("sam3 tracker memory attention: " + std::to_string(n_rope) + " rotated keys for " + std::to_string(Lq) +
                    " queries (the memory must be whole frames of the query grid)");
      c = cos.repeat({n_rope / Lq, 1});
      s = sin.repeat({n_rope / Lq, 1});
    }
    auto kr = sam3_apply_rope(k.slice(2, 0, n_rope), c, s);
    k = n_rope == Lk ? kr : torch::cat({kr, k.slice(2, n_rope)}, 2);
  }
  auto o = sam3_sdpa(q, k, v).transpose(1, 2);
  return out_proj(o.reshape({o.size(0), o.size(1), -1}));
}

// ---- memory attention ---------------------------------------------------------------------------

Sam3MemoryAttentionImpl::Sam3MemoryAttentionImpl(const Sam3TrackerConfig& c) {
  auto enc = register_module("encoder", container());
  layers_ = enc->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.memory_attention_layers; ++i) layers_->push_back(MemoryAttentionLayer(c));
  norm_ = enc->register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
}

at::Tensor Sam3MemoryAttentionImpl::forward(const at::Tensor& src, const at::Tensor& src_pos, const at::Tensor& prompt,
                                            const at::Tensor& prompt_pos, int64_t num_obj_ptr_tokens) {
  auto out = (src + 0.1 * src_pos).transpose(0, 1);  // pos_enc_at_input, then batch-first
  auto mem = prompt.transpose(0, 1), mem_pos = prompt_pos.transpose(0, 1);
  for (const auto& l : *layers_) out = l->as<MemoryAttentionLayerImpl>()->forward(out, mem, mem_pos, num_obj_ptr_tokens);
  return norm_(out).transpose(0, 1);
}

}  // namespace eh::models
