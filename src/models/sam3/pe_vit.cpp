// Port of sam3/model/vitdet.py (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e):
// ViT, Block, Attention, window_partition/unpartition, get_abs_pos (tiling), compute_axial_cis,
// apply_rotary_enc. Written from the upstream description; see docs/sam3.md.
#include "models/sam3/pe_vit.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/tensor_io.h"
#include "models/layers.h"
#include "models/sam3/attention.h"

namespace eh::models {

Sam3ViTConfig Sam3ViTConfig::from(Config& c) {
  Sam3ViTConfig t;
  const std::string L = c.label();
  t.img_size = c.get_or<int64_t>("img_size", 1024);
  t.patch_size = c.get_or<int64_t>("patch_size", 16);
  t.in_chans = c.get_or<int64_t>("in_chans", 3);
  t.embed_dim = c.get_or<int64_t>("embed_dim", 768);
  t.depth = c.get_or<int64_t>("depth", 12);
  t.num_heads = c.get_or<int64_t>("num_heads", 12);
  t.mlp_ratio = c.get_or<double>("mlp_ratio", 4.0);
  t.qkv_bias = c.get_or<bool>("qkv_bias", true);
  auto norm = c.get_or<std::string>("norm_layer", "LayerNorm");
  if (norm != "LayerNorm") throw Error(L + ": norm_layer '" + norm + "' not supported (LayerNorm)");
  t.use_abs_pos = c.get_or<bool>("use_abs_pos", true);
  t.tile_abs_pos = c.get_or<bool>("tile_abs_pos", true);
  if (t.use_abs_pos && !t.tile_abs_pos)
    throw Error(L + ": tile_abs_pos=false (bicubic resize of the positions) is not supported; SAM 3 tiles");
  // rel_pos_blocks: a list of block indices or a bool; SAM 3 uses none.
  if (c.has("rel_pos_blocks")) {
    const auto& r = c.json().at("rel_pos_blocks");
    const bool any = r.is_boolean() ? r.get<bool>() : (r.is_array() && !r.empty());
    if (any) throw Error(L + ": relative position blocks are not supported (SAM 3 uses rel_pos_blocks=())");
  }
  c.ignore("rel_pos_blocks");
  t.window_size = c.get_or<int64_t>("window_size", 14);
  t.global_att_blocks = c.get_or<std::vector<int64_t>>("global_att_blocks", {2, 5, 8, 11});
  t.use_rope = c.get_or<bool>("use_rope", false);
  t.rope_pt_size = c.has("rope_pt_size") ? std::optional<int64_t>(c.get<int64_t>("rope_pt_size")) : std::nullopt;
  c.ignore("rope_pt_size");
  t.use_interp_rope = c.get_or<bool>("use_interp_rope", false);
  t.pretrain_img_size = c.get_or<int64_t>("pretrain_img_size", 224);
  t.pretrain_use_cls_token = c.get_or<bool>("pretrain_use_cls_token", true);
  if (c.get_or<bool>("retain_cls_token", true))
    throw Error(L + ": retain_cls_token=true is not supported (SAM 3 drops the cls token: retain_cls_token=false)");
  t.return_interm_layers = c.get_or<bool>("return_interm_layers", false);
  if (c.has("init_values")) throw Error(L + ": init_values (LayerScale) is not supported (SAM 3 uses None)");
  c.ignore("init_values");
  t.ln_pre = c.get_or<bool>("ln_pre", false);
  t.ln_post = c.get_or<bool>("ln_post", false);
  t.bias_patch_embed = c.get_or<bool>("bias_patch_embed", true);
  // Training-only or no effect on the forward in eval.
  for (auto k : {"drop_path_rate", "dropout", "rel_pos_zero_init", "compile_mode", "use_act_checkpoint"}) c.ignore(k);
  c.finish();

  if (t.embed_dim % t.num_heads) throw Error(L + ": embed_dim is not divisible by num_heads");
  if (t.use_rope && t.head_dim() % 4) throw Error(L + ": head dim must be a multiple of 4 for 2D RoPE");
  if (t.global_att_blocks.empty()) throw Error(L + ": global_att_blocks is empty (the output is taken after the last one)");
  for (auto b : t.global_att_blocks)
    if (b < 0 || b >= t.depth) throw Error(L + ": global_att_blocks entry " + std::to_string(b) + " outside [0, depth)");
  if (t.window_size <= 0 && t.global_att_blocks.size() < static_cast<size_t>(t.depth))
    throw Error(L + ": window_size must be positive when some blocks are windowed");
  if (t.patch_size <= 0 || t.img_size < t.patch_size) throw Error(L + ": bad img_size/patch_size");
  return t;
}

bool Sam3ViTConfig::is_global(int64_t block) const {
  return std::find(global_att_blocks.begin(), global_att_blocks.end(), block) != global_att_blocks.end();
}

Sam3ViTConfig sam3_full_trunk_config() {
  Sam3ViTConfig t;  // the defaults above are the released values (sam3/model_builder.py _create_vit_backbone)
  return t;
}

std::pair<at::Tensor, at::Tensor> sam3_axial_rope(int64_t dim, int64_t end_x, int64_t end_y, double theta,
                                                  double scale_pos) {
  // freqs_j = 1 / theta^(4j/dim), j < dim/4; token t at column t % end_x, row t // end_x
  // (row-major), both times scale_pos; angles [x-angles | y-angles]. All float32, as upstream.
  auto idx = torch::arange(0, dim, 4, torch::kLong).slice(0, 0, dim / 4).to(torch::kFloat) / dim;
  auto freqs = 1.0 / torch::pow(theta, idx);
  auto t = torch::arange(end_x * end_y, torch::kFloat);
  auto tx = torch::remainder(t, end_x) * scale_pos;
  auto ty = torch::div(t, end_x, "floor") * scale_pos;
  auto ang = torch::cat({torch::outer(tx, freqs), torch::outer(ty, freqs)}, -1);
  return {torch::cos(ang), torch::sin(ang)};
}

namespace {

// softmax(q k^T / sqrt(d)) v over [N, heads, L, d]; large maps are done a few (N*heads) slices at a
// time so the full-size global blocks (L = 5184) do not hold every attention map at once.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  const int64_t N = q.size(0), H = q.size(1), Lq = q.size(2), Lk = k.size(2);
  auto qf = q.reshape({N * H, Lq, -1}), kf = k.reshape({N * H, Lk, -1}), vf = v.reshape({N * H, Lk, -1});
  const int64_t per_map = Lq * Lk * static_cast<int64_t>(q.element_size());
  const int64_t chunk = std::max<int64_t>(1, (int64_t{512} << 20) / std::max<int64_t>(per_map, 1));
  auto out = torch::empty({N * H, Lq, v.size(-1)}, q.options());
  for (int64_t s = 0; s < N * H; s += chunk) {
    const int64_t e = std::min(N * H, s + chunk);
    auto a = torch::bmm(qf.slice(0, s, e), kf.slice(0, s, e).transpose(1, 2)).mul_(scale);
    a = torch::softmax(a, -1);
    out.slice(0, s, e).copy_(torch::bmm(a, vf.slice(0, s, e)));
  }
  return out.view({N, H, Lq, -1});
}

// vitdet.Attention (no relative positions). Input [N, h, w, C] (a window or the whole grid).
struct Sam3AttentionImpl : torch::nn::Module {
  int64_t heads, hd;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  at::Tensor rope_cos, rope_sin;  // upstream buffer `freqs_cis` (complex64) = rope_cos + i rope_sin
  Sam3AttentionImpl(int64_t dim, int64_t heads_, bool qkv_bias, bool use_rope, int64_t rope_n, double rope_scale,
                    double theta)
      : heads(heads_), hd(dim / heads_) {
    qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    if (use_rope) std::tie(rope_cos, rope_sin) = sam3_axial_rope(hd, rope_n, rope_n, theta, rope_scale);
  }
  at::Tensor forward(const at::Tensor& x, TensorMap* trace, const std::string& tag) {
    const int64_t N = x.size(0), h = x.size(1), w = x.size(2), C = x.size(3), L = h * w;
    auto t = qkv(x).reshape({N, L, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    auto q = t[0], k = t[1], v = t[2];  // [N, heads, L, hd]
    if (rope_cos.defined()) {
      if (rope_cos.size(0) != L)
        throw Error("sam3 trunk: RoPE table holds " + std::to_string(rope_cos.size(0)) + " positions but the attention sees " +
                    std::to_string(h) + "x" + std::to_string(w) + " tokens; the input must be img_size x img_size");
      q = sam3_apply_rope(q, rope_cos, rope_sin);
      k = sam3_apply_rope(k, rope_cos, rope_sin);
    }
    if (trace) {
      (*trace)[tag + ".q_rope"] = q;
      (*trace)[tag + ".k_rope"] = k;
      if (rope_cos.defined()) (*trace)[tag + ".attn.freqs_cis"] = torch::stack({rope_cos, rope_sin}, -1);
    }
    auto o = attention(q, k, v, 1.0 / std::sqrt(static_cast<double>(hd)));
    o = o.view({N, heads, h, w, hd}).permute({0, 2, 3, 1, 4}).reshape({N, h, w, C});
    return proj(o);
  }
};
TORCH_MODULE(Sam3Attention);

// [B, H, W, C] -> zero-pad H, W up to multiples of ws -> [B * nh * nw, ws, ws, C] (batch-major).
at::Tensor window_partition(const at::Tensor& x, int64_t ws, int64_t* Hp, int64_t* Wp) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t ph = (ws - H % ws) % ws, pw = (ws - W % ws) % ws;
  auto xp = (ph || pw) ? torch::constant_pad_nd(x, {0, 0, 0, pw, 0, ph}, 0) : x;
  *Hp = H + ph;
  *Wp = W + pw;
  return xp.view({B, *Hp / ws, ws, *Wp / ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, ws, ws, C});
}

at::Tensor window_unpartition(const at::Tensor& win, int64_t ws, int64_t Hp, int64_t Wp, int64_t H, int64_t W) {
  const int64_t B = win.size(0) / (Hp * Wp / ws / ws);
  auto x = win.reshape({B, Hp / ws, Wp / ws, ws, ws, -1}).permute({0, 1, 3, 2, 4, 5}).reshape({B, Hp, Wp, -1});
  if (Hp > H || Wp > W) x = x.slice(1, 0, H).slice(2, 0, W);
  return x;
}

// vitdet.Block: x + attn(norm1(x)) [windowed], then x + mlp(norm2(x)). No LayerScale, no dropout.
struct Sam3BlockImpl : torch::nn::Module {
  int64_t ws;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Sam3Attention attn{nullptr};
  Mlp mlp{nullptr};
  Sam3BlockImpl(const Sam3ViTConfig& c, int64_t index) {
    const bool global = c.is_global(index);
    ws = global ? 0 : c.window_size;
    // Attention input_size: (ws, ws) for windowed blocks, (img/patch, img/patch) for global ones;
    // rope_pt_size defaults to window_size; with use_interp_rope positions scale by pt/input.
    const int64_t n = global ? c.grid() : c.window_size;
    const int64_t pt = c.rope_pt_size.value_or(c.window_size);
    const double scale = c.use_interp_rope ? static_cast<double>(pt) / static_cast<double>(n) : 1.0;
    norm1 = register_module("norm1", layer_norm(c.embed_dim, c.norm_eps));
    attn = register_module("attn", Sam3Attention(c.embed_dim, c.num_heads, c.qkv_bias, c.use_rope, n, scale, c.rope_theta));
    norm2 = register_module("norm2", layer_norm(c.embed_dim, c.norm_eps));
    mlp = register_module("mlp", Mlp(c.embed_dim, c.mlp_hidden(), c.embed_dim));
  }
  at::Tensor forward(const at::Tensor& x, TensorMap* trace, const std::string& tag, bool detail) {
    auto n1 = norm1(x);
    at::Tensor a;
    TensorMap* t = trace;
    if (ws > 0) {
      int64_t Hp = 0, Wp = 0;
      auto win = window_partition(n1, ws, &Hp, &Wp);
      auto aw = attn->forward(win, t, tag);
      if (trace && detail) {
        (*trace)[tag + ".windows"] = win;
        (*trace)[tag + ".attn"] = aw;
      }
      a = window_unpartition(aw, ws, Hp, Wp, x.size(1), x.size(2));
    } else {
      a = attn->forward(n1, t, tag);
      if (trace && detail) (*trace)[tag + ".attn"] = a;
    }
    auto y = x + a;
    auto m = mlp(norm2(y));
    if (trace && detail) {
      (*trace)[tag + ".norm1"] = n1;
      (*trace)[tag + ".x_attn"] = y;
      (*trace)[tag + ".mlp"] = m;
    }
    return y + m;
  }
};
TORCH_MODULE(Sam3Block);

}  // namespace

Sam3ViTImpl::Sam3ViTImpl(const Sam3ViTConfig& cfg) : cfg_(cfg) {
  const int64_t D = cfg.embed_dim;
  // State-dict order: own parameter pos_embed, then patch_embed, blocks, ln_pre, ln_post.
  if (cfg.use_abs_pos) {
    const int64_t g = cfg.pretrain_img_size / cfg.patch_size;
    pos_embed_ = register_parameter("pos_embed", torch::zeros({1, g * g + (cfg.pretrain_use_cls_token ? 1 : 0), D}));
  }
  auto pe = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj_ = pe->register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(cfg.in_chans, D, cfg.patch_size)
                                    .stride(cfg.patch_size)
                                    .bias(cfg.bias_patch_embed)));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.depth; ++i) blocks_->push_back(Sam3Block(cfg, i));
  if (cfg.ln_pre) ln_pre_ = register_module("ln_pre", layer_norm(D, cfg.norm_eps));
  if (cfg.ln_post) ln_post_ = register_module("ln_post", layer_norm(D, cfg.norm_eps));
}

at::Tensor Sam3ViTImpl::abs_pos(int64_t h, int64_t w) const {
  auto p = cfg_.pretrain_use_cls_token ? pos_embed_.slice(1, 1) : pos_embed_;
  const int64_t n = p.size(1), C = p.size(2);
  const auto g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  if (g * g != n) throw Error("sam3 trunk: pos_embed holds " + std::to_string(n) + " positions, not a square grid");
  auto grid = p.reshape({1, g, g, C});
  if (g == h && g == w) return grid;
  // Tile the pretrain grid (h/g + 1 times, w/g + 1 times) and crop: position (y, x) gets grid (y % g, x % g).
  return grid.permute({0, 3, 1, 2}).tile({1, 1, h / g + 1, w / g + 1}).slice(2, 0, h).slice(3, 0, w).permute({0, 2, 3, 1});
}

std::vector<at::Tensor> Sam3ViTImpl::forward(const at::Tensor& x, TensorMap* trace) {
  if (x.dim() != 4 || x.size(0) == 0 || x.size(1) != cfg_.in_chans)
    throw Error("sam3 trunk: expected input [B>0, " + std::to_string(cfg_.in_chans) + ", H, W], found " +
                shape_str(x.sizes()));
  if (x.size(2) < cfg_.patch_size || x.size(3) < cfg_.patch_size)
    throw Error("sam3 trunk: input " + shape_str(x.sizes()) + " is smaller than one patch");
  auto t = patch_proj_(x).permute({0, 2, 3, 1});  // [B, h, w, D]; remainder pixels dropped by the conv
  const int64_t h = t.size(1), w = t.size(2);
  if (cfg_.use_rope && (h != cfg_.grid() || w != cfg_.grid()))
    throw Error("sam3 trunk: input " + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) + " gives a " +
                std::to_string(h) + "x" + std::to_string(w) + " patch grid, but the global blocks' RoPE is built for " +
                std::to_string(cfg_.grid()) + "x" + std::to_string(cfg_.grid()) + " (img_size " +
                std::to_string(cfg_.img_size) + ")");
  if (trace) (*trace)["intermediate.trunk.patch_embed"] = t;
  if (pos_embed_.defined()) {
    auto p = abs_pos(h, w);
    if (trace) (*trace)["intermediate.trunk.abs_pos"] = p;
    t = t + p;
  }
  if (ln_pre_) {
    t = ln_pre_(t);
    if (trace) (*trace)["intermediate.trunk.ln_pre"] = t;
  }
  const int64_t last = *std::max_element(cfg_.global_att_blocks.begin(), cfg_.global_att_blocks.end());
  std::vector<at::Tensor> outs;
  // Blocks after the last global one do not reach any output upstream either; they are skipped.
  for (int64_t i = 0; i <= last; ++i) {
    const std::string tag = "intermediate.trunk.blocks." + std::to_string(i);
    TensorMap* bt = (trace && i < 2) ? trace : nullptr;  // fixture detail: blocks 0 and 1
    t = blocks_[i]->as<Sam3BlockImpl>()->forward(t, bt, tag, i == 0);
    if (trace) (*trace)[tag] = t;
    if (i == last || (cfg_.return_interm_layers && cfg_.is_global(i))) {
      if (i == last && ln_post_) t = ln_post_(t);
      outs.push_back(t.permute({0, 3, 1, 2}));
    }
  }
  return outs;
}

}  // namespace eh::models
