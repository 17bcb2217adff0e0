#include "models/tinyvit.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/tensor_io.h"

namespace eh::models {

TinyViTConfig TinyViTConfig::from(Config& c) {
  TinyViTConfig t;
  t.img_size = c.get_or<int64_t>("img_size", 224);
  t.in_chans = c.get_or<int64_t>("in_chans", 3);
  t.num_classes = c.get_or<int64_t>("num_classes", 1000);
  t.embed_dims = c.get_or<std::vector<int64_t>>("embed_dims", t.embed_dims);
  t.depths = c.get_or<std::vector<int64_t>>("depths", t.depths);
  t.num_heads = c.get_or<std::vector<int64_t>>("num_heads", t.num_heads);
  t.window_sizes = c.get_or<std::vector<int64_t>>("window_sizes", t.window_sizes);
  t.mlp_ratio = c.get_or<double>("mlp_ratio", 4.0);
  t.mbconv_expand_ratio = c.get_or<double>("mbconv_expand_ratio", 4.0);
  t.local_conv_size = c.get_or<int64_t>("local_conv_size", 3);
  for (auto k : {"drop_rate", "drop_path_rate", "use_checkpoint", "layer_lr_decay"}) c.ignore(k);  // train-only
  if (t.embed_dims.size() != 4 || t.depths.size() != 4 || t.num_heads.size() != 4 || t.window_sizes.size() != 4)
    throw Error(c.label() + ": embed_dims, depths, num_heads and window_sizes must each have 4 entries");
  for (int i = 1; i < 4; ++i)
    if (t.embed_dims[i] % t.num_heads[i])
      throw Error(c.label() + ": embed_dims[" + std::to_string(i) + "] is not divisible by num_heads");
  if (t.img_size % 32) throw Error(c.label() + ": img_size must be a multiple of 32");
  c.finish();
  return t;
}

namespace {

// Inference (eval mode, no autograd) runs the convolutions channels-last; training keeps NCHW so
// that gradients, and therefore resumed training runs, are bit-reproducible.
bool inference_layout() { return !torch::GradMode::is_enabled(); }

// Conv2d (no bias) + BatchNorm2d, keys "<name>.c.*" and "<name>.bn.*". At inference (eval mode,
// no autograd) the BatchNorm is folded into the convolution: one conv with a scaled weight and a
// bias, instead of a conv plus a memory-bound normalisation pass. The fused weight is cached and
// rebuilt whenever any of the five tensors it comes from changes (version counter or storage),
// so training steps and loaded checkpoints are always honoured.
struct Conv2dBNImpl : torch::nn::Module {
  torch::nn::Conv2d c{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  Conv2dBNImpl(int64_t in, int64_t out, int64_t k = 1, int64_t stride = 1, int64_t pad = 0, int64_t groups = 1) {
    c = register_module("c", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).groups(groups).bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(out));
  }
  at::Tensor forward(const at::Tensor& x) {
    if (is_training() || torch::GradMode::is_enabled()) return bn(c(x));
    refresh_fused();
    const auto& o = c->options;
    return torch::conv2d(x, fused_w_, fused_b_, *o.stride(), c10::get<torch::ExpandingArray<2>>(o.padding()), *o.dilation(), o.groups());
  }

 private:
  at::Tensor fused_w_, fused_b_;
  std::vector<std::pair<const void*, int64_t>> key_;
  void refresh_fused() {
    const at::Tensor src[] = {c->weight, bn->weight, bn->bias, bn->running_mean, bn->running_var};
    std::vector<std::pair<const void*, int64_t>> key;
    for (const auto& t : src) key.emplace_back(t.data_ptr(), static_cast<int64_t>(t._version()));
    if (fused_w_.defined() && key == key_) return;
    const auto scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
    fused_w_ = (c->weight * scale.view({-1, 1, 1, 1})).contiguous(torch::MemoryFormat::ChannelsLast);
    fused_b_ = bn->bias - bn->running_mean * scale;
    key_ = std::move(key);
  }
};
TORCH_MODULE(Conv2dBN);

struct MBConvImpl : torch::nn::Module {
  Conv2dBN conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  MBConvImpl(int64_t dim, double expand) {
    const auto hidden = static_cast<int64_t>(dim * expand);
    conv1 = register_module("conv1", Conv2dBN(dim, hidden));
    conv2 = register_module("conv2", Conv2dBN(hidden, hidden, 3, 1, 1, hidden));
    conv3 = register_module("conv3", Conv2dBN(hidden, dim));
  }
  at::Tensor forward(const at::Tensor& x) {
    auto y = conv3(torch::gelu(conv2(torch::gelu(conv1(x)))));
    return torch::gelu(y + x);  // activation after the residual add
  }
};
TORCH_MODULE(MBConv);

// Returns tokens [B, (H/2)(W/2), out] from NCHW input.
struct PatchMergingImpl : torch::nn::Module {
  Conv2dBN conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  PatchMergingImpl(int64_t dim, int64_t out) {
    conv1 = register_module("conv1", Conv2dBN(dim, out));
    conv2 = register_module("conv2", Conv2dBN(out, out, 3, 2, 1, out));
    conv3 = register_module("conv3", Conv2dBN(out, out));
  }
  at::Tensor forward(const at::Tensor& nchw) {
    auto y = conv3(torch::gelu(conv2(torch::gelu(conv1(nchw)))));
    // [B, C, H, W] -> tokens [B, H*W, C]: free when y is channels-last (the inference path)
    return y.permute({0, 2, 3, 1}).reshape({y.size(0), y.size(2) * y.size(3), y.size(1)});
  }
};
TORCH_MODULE(PatchMerging);

struct AttentionImpl : torch::nn::Module {
  int64_t heads, key_dim, ws;
  at::Tensor attention_biases, idxs;  // idxs is non-persistent: a plain member, not a buffer
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  AttentionImpl(int64_t dim, int64_t heads_, int64_t ws_) : heads(heads_), key_dim(dim / heads_), ws(ws_) {
    attention_biases = register_parameter("attention_biases", torch::zeros({heads, ws * ws}));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)));
    qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    // attention_bias_idxs: upstream numbers offsets in first-seen order over a row-major scan,
    // which for a square window is |dy|*ws + |dx|.
    auto y = torch::arange(ws * ws, torch::kLong).div(ws, "floor"), x = torch::arange(ws * ws, torch::kLong).remainder(ws);
    idxs = (y.unsqueeze(1) - y.unsqueeze(0)).abs() * ws + (x.unsqueeze(1) - x.unsqueeze(0)).abs();
  }
  // The gathered table [heads, N, N]: bias(q, k) = attention_biases[h, idxs[q, k]]. torch::gather with
  // the index broadcast over heads runs at copy speed; index_select along dim 1 over N^2 = 1M indices
  // took ~0.2 s per block at 32x32 windows.
  at::Tensor bias() const {
    return torch::gather(attention_biases, 1, idxs.view({1, -1}).expand({heads, -1})).view({heads, ws * ws, ws * ws});
  }
  at::Tensor forward(const at::Tensor& x) {  // x: [B', N, C] with N == ws*ws
    const auto B = x.size(0), N = x.size(1);
    auto t = qkv(norm(x)).view({B, N, heads, 3 * key_dim}).permute({0, 2, 1, 3});
    auto parts = t.split(key_dim, -1);  // per head: q | k | v
    const double scale = 1.0 / std::sqrt(double(key_dim));
    if (is_training() || torch::GradMode::is_enabled()) {
      auto logits = torch::matmul(parts[0], parts[1].transpose(-2, -1)) * scale + bias();
      auto o = torch::matmul(torch::softmax(logits, -1), parts[2]).transpose(1, 2).reshape({B, N, heads * key_dim});
      return proj(o);
    }
    // Inference: the scale and bias are applied inside one batched GEMM (baddbmm) over all
    // windows x heads. The gathered bias table is cached (rebuilt when attention_biases changes)
    // for small windows only: for TinyViT-21M-512's 32x32 windows it is heads x 1024 x 1024 floats,
    // 50 MB per block and 300 MB over stage 3 -- 40% of the student's peak memory -- while building
    // it is two memory-speed copies. Large tables are built straight into the logits buffer.
    at::Tensor logits;
    if (heads * N * N <= kMaxCachedBias) {
      if (!bias_cache_.defined() ||
          bias_key_ != std::make_pair<const void*, int64_t>(attention_biases.data_ptr(), attention_biases._version())) {
        bias_cache_ = bias().contiguous();
        bias_key_ = {attention_biases.data_ptr(), attention_biases._version()};
      }
      logits = bias_cache_.unsqueeze(0).expand({B, heads, N, N}).contiguous().view({B * heads, N, N});
    } else {
      auto b = bias();  // a fresh [heads, N, N] tensor: with one window it is the logits buffer itself
      logits = (B == 1 ? b : b.unsqueeze(0).expand({B, heads, N, N}).contiguous()).view({B * heads, N, N});
    }
    auto q = parts[0].reshape({B * heads, N, key_dim}), k = parts[1].reshape({B * heads, N, key_dim}),
         v = parts[2].reshape({B * heads, N, key_dim});
    logits.baddbmm_(q, k.transpose(1, 2), 1.0, scale);
    auto o = torch::bmm(torch::softmax(logits, -1), v).view({B, heads, N, key_dim}).transpose(1, 2).reshape({B, N, heads * key_dim});
    return proj(o);
  }

 private:
  static constexpr int64_t kMaxCachedBias = 1 << 20;  // elements (4 MB)
  at::Tensor bias_cache_;
  std::pair<const void*, int64_t> bias_key_{nullptr, -1};
};
TORCH_MODULE(Attention);

struct TinyMlpImpl : torch::nn::Module {
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  TinyMlpImpl(int64_t dim, int64_t hidden) {
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)));
    fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2(torch::gelu(fc1(norm(x)))); }
};
TORCH_MODULE(TinyMlp);

struct TinyViTBlockImpl : torch::nn::Module {
  int64_t ws;
  Attention attn{nullptr};
  TinyMlp mlp{nullptr};
  Conv2dBN local_conv{nullptr};
  TinyViTBlockImpl(int64_t dim, int64_t heads, int64_t ws_, double mlp_ratio, int64_t lcs) : ws(ws_) {
    attn = register_module("attn", Attention(dim, heads, ws));
    mlp = register_module("mlp", TinyMlp(dim, static_cast<int64_t>(dim * mlp_ratio)));
    local_conv = register_module("local_conv", Conv2dBN(dim, dim, lcs, 1, lcs / 2, dim));
  }
  // x: tokens [B, H*W, C]
  at::Tensor forward(const at::Tensor& x, int64_t H, int64_t W, TensorMap* trace, const std::string& tag) {
    const auto B = x.size(0), C = x.size(2);
    at::Tensor a;
    if (H == ws && W == ws) {
      a = attn(x);
      if (trace) (*trace)[tag + ".attn_out"] = a;
    } else {
      // Zero-pad bottom/right to a multiple of ws BEFORE the attention's LayerNorm; no mask.
      const int64_t ph = (ws - H % ws) % ws, pw = (ws - W % ws) % ws, Hp = H + ph, Wp = W + pw;
      auto g = x.view({B, H, W, C});
      if (ph || pw) g = torch::constant_pad_nd(g, {0, 0, 0, pw, 0, ph});
      const int64_t nh = Hp / ws, nw = Wp / ws;
      auto win = g.view({B, nh, ws, nw, ws, C}).transpose(2, 3).reshape({B * nh * nw, ws * ws, C});
      auto out = attn(win);
      if (trace) {
        (*trace)[tag + ".attn_in"] = win;
        (*trace)[tag + ".attn_out"] = out;
      }
      a = out.view({B, nh, nw, ws, ws, C}).transpose(2, 3).reshape({B, Hp, Wp, C});
      a = a.slice(1, 0, H).slice(2, 0, W).reshape({B, H * W, C});
    }
    auto y = x + a;
    if (trace) {
      (*trace)[tag + ".x_attn"] = y;
      (*trace)[tag + ".attn.ab"] = attn->bias();
      (*trace)[tag + ".attn.attention_bias_idxs"] = attn->idxs;
    }
    // Tokens viewed as a channels-last NCHW map (no copy) for the depthwise conv, and back.
    // (Training keeps plain NCHW: oneDNN's channels-last conv backward sums in a thread-dependent
    // order, which would break bit-exact resume.)
    auto map = y.view({B, H, W, C}).permute({0, 3, 1, 2});
    if (!inference_layout()) map = map.contiguous();
    auto lc = local_conv(map).permute({0, 2, 3, 1}).reshape({B, H * W, C});
    if (trace) (*trace)[tag + ".local_conv"] = lc;
    auto out = lc + mlp(lc);
    if (trace) (*trace)[tag] = out;
    return out;
  }
};
TORCH_MODULE(TinyViTBlock);

}  // namespace

TinyViTImpl::TinyViTImpl(const TinyViTConfig& cfg) : cfg_(cfg) {
  const auto& D = cfg.embed_dims;
  patch_embed_ = torch::nn::Sequential(Conv2dBN(cfg.in_chans, D[0] / 2, 3, 2, 1), torch::nn::GELU(),
                                       Conv2dBN(D[0] / 2, D[0], 3, 2, 1));
  auto pe = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  pe->register_module("seq", patch_embed_);
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < 4; ++i) {
    auto layer = std::make_shared<torch::nn::Module>();
    auto blocks = torch::nn::ModuleList();
    for (int64_t j = 0; j < cfg.depths[i]; ++j) {
      if (i == 0) blocks->push_back(MBConv(D[0], cfg.mbconv_expand_ratio));
      else blocks->push_back(TinyViTBlock(D[i], cfg.num_heads[i], cfg.window_sizes[i], cfg.mlp_ratio, cfg.local_conv_size));
    }
    layer->register_module("blocks", blocks);
    if (i < 3) layer->register_module("downsample", PatchMerging(D[i], D[i + 1]));
    layers_->push_back(layer);
  }
  // Without a classifier (num_classes = 0, the student trunk) norm_head is left out too.
  if (cfg.num_classes > 0) {
    norm_head_ = register_module("norm_head", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D[3]}).eps(1e-5)));
    head_ = register_module("head", torch::nn::Linear(D[3], cfg.num_classes));
  }
}

std::vector<at::Tensor> TinyViTImpl::forward_stages(const at::Tensor& x, TensorMap* trace) {
  if (x.dim() != 4 || x.size(0) == 0 || x.size(1) != cfg_.in_chans)
    throw Error("tinyvit: expected input [B>0, " + std::to_string(cfg_.in_chans) + ", H, W], found " + shape_str(x.sizes()));
  if (x.size(2) % 32 || x.size(3) % 32)
    throw Error("tinyvit: input size " + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) +
                " must be a multiple of 32");
  const auto B = x.size(0);
  // Convolutions run channels-last (NHWC): the layout oneDNN's kernels use natively, and the
  // layout of the token tensors, so the token <-> map conversions are views, not copies.
  const bool fast = inference_layout();
  auto h = patch_embed_[0]->as<Conv2dBNImpl>()->forward(fast ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x.contiguous());
  h = torch::gelu(h);
  if (trace) (*trace)["intermediate.patch_embed.gelu"] = h;
  h = patch_embed_[2]->as<Conv2dBNImpl>()->forward(h);
  if (trace) (*trace)["intermediate.patch_embed"] = h;

  std::vector<at::Tensor> stages;
  int64_t H = h.size(2), W = h.size(3);
  at::Tensor tokens;  // [B, H*W, C] for stages >= 1
  for (int i = 0; i < 4; ++i) {
    auto& layer = *layers_[i];
    auto blocks = layer.named_children()["blocks"]->as<torch::nn::ModuleListImpl>();
    const auto C = cfg_.embed_dims[i];
    at::Tensor nchw;
    if (i == 0) {
      for (const auto& b : *blocks) h = b->as<MBConvImpl>()->forward(h);
      nchw = h;
    } else {
      for (size_t j = 0; j < blocks->size(); ++j) {
        std::string tag = "intermediate.layers" + std::to_string(i) + ".blocks" + std::to_string(j);
        tokens = (*blocks)[j]->as<TinyViTBlockImpl>()->forward(tokens, H, W, j == 0 ? trace : nullptr, tag);
      }
      nchw = tokens.view({B, H, W, C}).permute({0, 3, 1, 2});  // channels-last view, no copy
      if (!fast) nchw = nchw.contiguous();
    }
    stages.push_back(nchw.contiguous());  // callers get plain NCHW maps
    if (i < 3) {
      tokens = layer.named_children()["downsample"]->as<PatchMergingImpl>()->forward(nchw);
      if (trace) (*trace)["intermediate.layers" + std::to_string(i) + ".downsample"] = tokens;
      H = (H + 1) / 2;
      W = (W + 1) / 2;
    }
  }
  return stages;
}

at::Tensor TinyViTImpl::forward_head(const at::Tensor& stage3, TensorMap* trace) {
  if (!head_) throw Error("tinyvit: built with num_classes=0, there is no classification head");
  auto pooled = stage3.flatten(2).mean(2);
  auto n = norm_head_(pooled);
  if (trace) {
    (*trace)["intermediate.pooled"] = pooled;
    (*trace)["intermediate.norm_head"] = n;
  }
  return head_(n);
}

namespace {
class TinyViTModel : public ArchModel {
 public:
  explicit TinyViTModel(Config& c) : net_(TinyViTConfig::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    TensorMap out;
    auto st = net_->forward_stages(require_input(in, "x", "tinyvit"), &out);
    for (int i = 0; i < 4; ++i) out["output.stage" + std::to_string(i)] = st[i];
    if (net_->config().num_classes > 0) out["output.logits"] = net_->forward_head(st[3], &out);
    return out;
  }

 private:
  TinyViT net_;
};
}  // namespace

Arch tinyvit_arch() {
  return {"tinyvit", "TinyViT (microsoft/Cream TinyViT; 21M-512 is the student trunk)",
          [](Config& c) { return std::make_unique<TinyViTModel>(c); }};
}

}  // namespace eh::models
