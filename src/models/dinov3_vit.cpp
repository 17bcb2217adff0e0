#include "models/dinov3_vit.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/tensor_io.h"
#include "models/layers.h"

namespace eh::models {

DinoV3Config DinoV3Config::from(Config& c) {
  DinoV3Config d;
  c.get_or<int64_t>("img_size", 224);  // no effect on forward (positions come from RoPE)
  d.patch_size = c.get_or<int64_t>("patch_size", 16);
  d.in_chans = c.get_or<int64_t>("in_chans", 3);
  d.rope_base = c.get_or<double>("pos_embed_rope_base", 100.0);
  if (c.has("pos_embed_rope_min_period") || c.has("pos_embed_rope_max_period"))
    throw Error(c.label() + ": pos_embed_rope_min_period/max_period are not supported (the released ViT-S/16 uses base)");
  c.ignore("pos_embed_rope_min_period");
  c.ignore("pos_embed_rope_max_period");
  d.rope_normalize = c.get_or<std::string>("pos_embed_rope_normalize_coords", "separate");
  if (d.rope_normalize != "separate" && d.rope_normalize != "max" && d.rope_normalize != "min")
    throw Error(c.label() + ": pos_embed_rope_normalize_coords must be separate|max|min, found '" + d.rope_normalize + "'");
  // Train-time coordinate augmentations: no effect in eval.
  for (auto k : {"pos_embed_rope_shift_coords", "pos_embed_rope_jitter_coords", "pos_embed_rope_rescale_coords",
                 "drop_path_rate"})
    c.ignore(k);
  auto rope_dtype = c.get_or<std::string>("pos_embed_rope_dtype", "fp32");
  if (rope_dtype != "fp32") throw Error(c.label() + ": pos_embed_rope_dtype '" + rope_dtype + "' not supported (fp32)");
  d.embed_dim = c.get_or<int64_t>("embed_dim", 384);
  d.depth = c.get_or<int64_t>("depth", 12);
  d.num_heads = c.get_or<int64_t>("num_heads", 6);
  d.ffn_ratio = c.get_or<double>("ffn_ratio", 4.0);
  d.qkv_bias = c.get_or<bool>("qkv_bias", true);
  d.layerscale = c.has("layerscale_init");
  c.ignore("layerscale_init");
  auto norm = c.get_or<std::string>("norm_layer", "layernormbf16");
  // dinov3/models/vision_transformer.py norm_layer_dict.
  if (norm == "layernormbf16") d.norm_eps = 1e-5;
  else if (norm == "layernorm") d.norm_eps = 1e-6;
  else throw Error(c.label() + ": norm_layer '" + norm + "' not supported (layernorm|layernormbf16)");
  auto ffn = c.get_or<std::string>("ffn_layer", "mlp");
  if (ffn != "mlp") throw Error(c.label() + ": ffn_layer '" + ffn + "' not supported (mlp; ViT-S/16 uses mlp)");
  d.ffn_bias = c.get_or<bool>("ffn_bias", true);
  d.proj_bias = c.get_or<bool>("proj_bias", true);
  d.n_storage_tokens = c.get_or<int64_t>("n_storage_tokens", 0);
  d.mask_k_bias = c.get_or<bool>("mask_k_bias", false);
  for (auto k : {"untie_cls_and_patch_norms", "untie_global_and_local_cls_norm"})
    if (c.get_or<bool>(k, false)) throw Error(c.label() + ": " + k + " is not supported");
  if (d.embed_dim % d.num_heads != 0 || (d.embed_dim / d.num_heads) % 4 != 0)
    throw Error(c.label() + ": embed_dim/num_heads must be a multiple of 4 for 2D RoPE");
  c.finish();
  return d;
}

namespace {

// dinov3/layers/attention.py SelfAttention (with LinearKMaskedBias for qkv).
struct SelfAttentionImpl : torch::nn::Module {
  int64_t heads;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  at::Tensor bias_mask;
  SelfAttentionImpl(int64_t dim, int64_t heads_, bool qkv_bias, bool mask_k_bias, bool proj_bias) : heads(heads_) {
    qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
    if (qkv_bias && mask_k_bias) {
      // Upstream pattern: keep q and v biases, zero the k bias.
      auto m = torch::ones({3 * dim});
      m.slice(0, dim, 2 * dim).zero_();
      bias_mask = qkv->register_buffer("bias_mask", m);
    }
    proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(proj_bias)));
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sin, const at::Tensor& cos, TensorMap* trace) {
    const auto B = x.size(0), N = x.size(1), C = x.size(2), hd = C / heads;
    at::Tensor b = qkv->bias.defined() ? (bias_mask.defined() ? qkv->bias * bias_mask : qkv->bias) : at::Tensor();
    auto t = torch::linear(x, qkv->weight, b).reshape({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    auto q = t[0], k = t[1], v = t[2];  // [B, heads, N, hd]
    const int64_t prefix = N - sin.size(0);
    auto rope = [&](const at::Tensor& u) {
      auto pre = u.slice(2, 0, prefix), pat = u.slice(2, prefix);
      return torch::cat({pre, pat * cos + rotate_half(pat) * sin}, 2);
    };
    q = rope(q);
    k = rope(k);
    if (trace) {
      (*trace)["intermediate.block0.q_rope"] = q;
      (*trace)["intermediate.block0.k_rope"] = k;
    }
    auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(hd))), -1);
    auto o = torch::matmul(attn, v).transpose(1, 2).reshape({B, N, C});
    return proj(o);
  }
};
TORCH_MODULE(SelfAttention);

// dinov3/layers/block.py SelfAttentionBlock (pre-norm, LayerScale, MLP).
struct BlockImpl : torch::nn::Module {
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  SelfAttention attn{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};
  Mlp mlp{nullptr};
  explicit BlockImpl(const DinoV3Config& c) {
    const int64_t D = c.embed_dim;
    norm1 = register_module("norm1", layer_norm(D, c.norm_eps));
    attn = register_module("attn", SelfAttention(D, c.num_heads, c.qkv_bias, c.mask_k_bias, c.proj_bias));
    if (c.layerscale) ls1 = register_module("ls1", LayerScale(D));
    norm2 = register_module("norm2", layer_norm(D, c.norm_eps));
    mlp = register_module("mlp", Mlp(D, static_cast<int64_t>(D * c.ffn_ratio), D, c.ffn_bias));
    if (c.layerscale) ls2 = register_module("ls2", LayerScale(D));
  }
  at::Tensor forward(at::Tensor x, const at::Tensor& sin, const at::Tensor& cos, TensorMap* trace) {
    auto n1 = norm1(x);
    auto a = attn->forward(n1, sin, cos, trace);
    x = x + (ls1 ? ls1(a) : a);
    auto m = mlp(norm2(x));
    if (trace) {
      (*trace)["intermediate.block0.norm1"] = n1;
      (*trace)["intermediate.block0.attn"] = a;
      (*trace)["intermediate.block0.x_attn"] = x;
      (*trace)["intermediate.block0.mlp"] = m;
    }
    return x + (ls2 ? ls2(m) : m);
  }
};
TORCH_MODULE(Block);

}  // namespace

DinoVisionTransformerImpl::DinoVisionTransformerImpl(const DinoV3Config& cfg) : cfg_(cfg) {
  const int64_t D = cfg.embed_dim;
  cls_token_ = register_parameter("cls_token", torch::zeros({1, 1, D}));
  if (cfg.n_storage_tokens > 0) storage_tokens_ = register_parameter("storage_tokens", torch::zeros({1, cfg.n_storage_tokens, D}));
  mask_token_ = register_parameter("mask_token", torch::zeros({1, D}));
  auto pe = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj_ = pe->register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(cfg.in_chans, D, cfg.patch_size).stride(cfg.patch_size)));
  // rope_embed.periods = base^(2j/(head_dim/2)); stored in the checkpoint (bf16-rounded there).
  const int64_t hd = D / cfg.num_heads;
  auto periods = torch::pow(cfg.rope_base, 2 * torch::arange(hd / 4, torch::kFloat) / (hd / 2));
  auto rope = register_module("rope_embed", std::make_shared<torch::nn::Module>());
  periods_ = rope->register_buffer("periods", periods.to(torch::kBFloat16).to(torch::kFloat));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.depth; ++i) blocks_->push_back(Block(cfg));
  norm_ = register_module("norm", layer_norm(D, cfg.norm_eps));
}

std::pair<at::Tensor, at::Tensor> DinoVisionTransformerImpl::rope_tables(int64_t h, int64_t w) const {
  // rope_position_encoding.py: coords at patch centres in [-1, 1], per axis ("separate").
  double dh = h, dw = w;
  if (cfg_.rope_normalize == "max") dh = dw = std::max(h, w);
  if (cfg_.rope_normalize == "min") dh = dw = std::min(h, w);
  auto cy = torch::arange(0.5, static_cast<double>(h), 1.0, torch::kFloat) / dh * 2 - 1;
  auto cx = torch::arange(0.5, static_cast<double>(w), 1.0, torch::kFloat) / dw * 2 - 1;
  auto grid = torch::meshgrid({cy, cx}, "ij");
  auto coords = torch::stack({grid[0], grid[1]}, -1).flatten(0, 1);                   // [hw, 2]
  auto angles = 2 * M_PI * coords.unsqueeze(-1) / periods_.view({1, 1, -1});          // [hw, 2, hd/4]
  angles = angles.flatten(1, 2).repeat({1, 2});                                       // [hw, hd]
  return {torch::sin(angles), torch::cos(angles)};
}

DinoV3Output DinoVisionTransformerImpl::forward_features(const at::Tensor& x, TensorMap* trace) {
  if (x.dim() != 4 || x.size(0) == 0 || x.size(1) != cfg_.in_chans)
    throw Error("dinov3: expected input [B>0, " + std::to_string(cfg_.in_chans) + ", H, W], found " +
                shape_str(x.sizes()));
  const int64_t P = cfg_.patch_size;
  if (x.size(2) % P || x.size(3) % P)
    throw Error("dinov3: input size " + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) +
                " is not a multiple of the patch size " + std::to_string(P));
  const int64_t B = x.size(0), h = x.size(2) / P, w = x.size(3) / P;
  auto pe = patch_proj_(x).permute({0, 2, 3, 1});  // [B, h, w, D]
  auto cls = (cls_token_ + 0 * mask_token_).expand({B, 1, -1});
  std::vector<at::Tensor> parts = {cls};
  if (storage_tokens_.defined()) parts.push_back(storage_tokens_.expand({B, -1, -1}));
  parts.push_back(pe.flatten(1, 2));
  auto t = torch::cat(parts, 1);
  auto [sin, cos] = rope_tables(h, w);
  if (trace) {
    (*trace)["intermediate.patch_embed"] = pe;
    (*trace)["intermediate.tokens"] = t;
    (*trace)["intermediate.rope_sin"] = sin;
    (*trace)["intermediate.rope_cos"] = cos;
  }
  for (size_t i = 0; i < blocks_->size(); ++i) {
    t = blocks_[i]->as<BlockImpl>()->forward(t, sin, cos, i == 0 ? trace : nullptr);
    if (trace) (*trace)["intermediate.blocks." + std::to_string(i)] = t;
  }
  auto n = norm_(t);
  const int64_t S = cfg_.n_storage_tokens;
  return {n.select(1, 0), n.slice(1, 1, 1 + S), n.slice(1, 1 + S), t};
}

at::Tensor imagenet_normalize(const at::Tensor& rgb01) {
  auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  auto std = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  return (rgb01 - mean) / std;
}

namespace {
class DinoV3Model : public ArchModel {
 public:
  explicit DinoV3Model(Config& c) : net_(DinoV3Config::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    TensorMap out;
    auto r = net_->forward_features(require_input(in, "x", "dinov3_vit"), &out);
    out["output.x_norm_clstoken"] = r.cls;
    out["output.x_storage_tokens"] = r.storage;
    out["output.x_norm_patchtokens"] = r.patches;
    out["output.x_prenorm"] = r.prenorm;
    return out;
  }

 private:
  DinoVisionTransformer net_;
};
}  // namespace

Arch dinov3_arch() {
  return {"dinov3_vit", "DINOv3 ViT (facebookresearch/dinov3 DinoVisionTransformer; ViT-S/16 embedder)",
          [](Config& c) { return std::make_unique<DinoV3Model>(c); }};
}

}  // namespace eh::models
