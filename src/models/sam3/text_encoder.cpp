// Port of sam3/model/text_encoder_ve.py (VETextEncoder, TextTransformer with output_tokens and
// pool_type "none", Transformer, ResidualAttentionBlock without LayerScale),
// facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e. Eval only.
#include "models/sam3/text_encoder.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "core/tensor_io.h"

namespace eh::models {

namespace {

// nn.MultiheadAttention(d, heads, batch_first=True) for self-attention with an additive mask.
struct SelfAttentionImpl : torch::nn::Module {
  int64_t heads;
  at::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
  SelfAttentionImpl(int64_t d, int64_t h) : heads(h) {
    in_proj_weight = register_parameter("in_proj_weight", torch::randn({3 * d, d}) / std::sqrt(static_cast<double>(d)));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * d}));
    out_proj = register_module("out_proj", torch::nn::Linear(d, d));
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) {  // x [B, T, d]; mask [T, T] additive
    const int64_t B = x.size(0), T = x.size(1), E = x.size(2), hd = E / heads;
    auto qkv = torch::linear(x, in_proj_weight, in_proj_bias).chunk(3, -1);
    auto split = [&](const at::Tensor& t) { return t.reshape({B, T, heads, hd}).transpose(1, 2); };  // [B, h, T, hd]
    auto q = split(qkv[0]) / std::sqrt(static_cast<double>(hd));
    auto a = torch::matmul(q, split(qkv[1]).transpose(-2, -1)) + mask;
    auto o = torch::matmul(torch::softmax(a, -1), split(qkv[2]));
    return out_proj(o.transpose(1, 2).reshape({B, T, E}));
  }
};
TORCH_MODULE(SelfAttention);

// ResidualAttentionBlock: x + attn(ln_1(x)), then x + mlp(ln_2(x)); mlp = c_fc, exact GELU, c_proj.
struct ResBlockImpl : torch::nn::Module {
  SelfAttention attn{nullptr};
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
  ResBlockImpl(int64_t w, int64_t h, int64_t hidden) {
    attn = register_module("attn", SelfAttention(w, h));
    ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({w})));
    ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({w})));
    auto mlp = std::make_shared<torch::nn::Module>();
    c_fc = mlp->register_module("c_fc", torch::nn::Linear(w, hidden));
    c_proj = mlp->register_module("c_proj", torch::nn::Linear(hidden, w));
    register_module("mlp", mlp);
  }
  at::Tensor forward(at::Tensor x, const at::Tensor& mask) {
    x = x + attn->forward(ln_1(x), mask);
    return x + c_proj(torch::gelu(c_fc(ln_2(x))));
  }
};
TORCH_MODULE(ResBlock);

// TextTransformer: own parameters positional_embedding, text_projection (state-dict order: these
// first), then token_embedding, transformer.resblocks, ln_final.
struct TextTransformerImpl : torch::nn::Module {
  at::Tensor positional_embedding, text_projection;
  torch::nn::Embedding token_embedding{nullptr};
  torch::nn::ModuleList resblocks{nullptr};
  torch::nn::LayerNorm ln_final{nullptr};
  explicit TextTransformerImpl(const Sam3TextEncoderConfig& c) {
    positional_embedding = register_parameter("positional_embedding", torch::randn({c.context_length, c.width}) * 0.01);
    text_projection = register_parameter("text_projection", torch::randn({c.width, c.output_dim}) * 0.01);
    token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.width));
    auto tr = std::make_shared<torch::nn::Module>();
    resblocks = tr->register_module("resblocks", torch::nn::ModuleList());
    const auto hidden = static_cast<int64_t>(c.width * c.mlp_ratio);
    for (int64_t i = 0; i < c.layers; ++i) resblocks->push_back(ResBlock(c.width, c.heads, hidden));
    register_module("transformer", tr);
    ln_final = register_module("ln_final", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.width})));
  }
};
TORCH_MODULE(TextTransformer);

}  // namespace

Sam3TextEncoderConfig Sam3TextEncoderConfig::from(Config& c) {
  Sam3TextEncoderConfig s;
  s.d_model = c.get<int64_t>("d_model");
  s.width = c.get<int64_t>("width");
  s.heads = c.get<int64_t>("heads");
  s.layers = c.get<int64_t>("layers");
  s.context_length = c.get<int64_t>("context_length");
  s.vocab_size = c.get<int64_t>("vocab_size");
  s.mlp_ratio = c.get_or<double>("mlp_ratio", 4.0);
  s.output_dim = c.get_or<int64_t>("output_dim", 512);
  c.finish();
  if (s.width % s.heads) throw Error(c.label() + ": width must be a multiple of heads");
  return s;
}

Sam3TextEncoderImpl::Sam3TextEncoderImpl(const Sam3TextEncoderConfig& cfg) : cfg_(cfg) {
  encoder_ = register_module("encoder", TextTransformer(cfg));
  resizer_ = register_module("resizer", torch::nn::Linear(cfg.width, cfg.d_model));
}

Sam3TextOutput Sam3TextEncoderImpl::forward(const at::Tensor& ids, TensorMap* trace) {
  if (ids.dim() != 2 || ids.scalar_type() != torch::kLong || ids.size(1) > cfg_.context_length || ids.size(1) == 0)
    throw Error("sam3_text_encoder: token ids must be int64 [B, T] with 0 < T <= " + std::to_string(cfg_.context_length) +
                ", found " + dtype_str(ids.scalar_type()) + " " + shape_str(ids.sizes()));
  const int64_t vmax = ids.numel() ? ids.max().item<int64_t>() : 0, vmin = ids.numel() ? ids.min().item<int64_t>() : 0;
  if (vmin < 0 || vmax >= cfg_.vocab_size)
    throw Error("sam3_text_encoder: token id " + std::to_string(vmin < 0 ? vmin : vmax) + " outside the vocabulary [0, " +
                std::to_string(cfg_.vocab_size) + ")");
  auto* enc = static_cast<TextTransformerImpl*>(encoder_.get());
  const int64_t T = ids.size(1);
  Sam3TextOutput o;
  auto emb = enc->token_embedding(ids);  // [B, T, width]
  o.language_embeds = emb.transpose(0, 1);
  // Causal mask: -inf above the diagonal (build_causal_mask, cropped to T).
  auto mask = torch::full({T, T}, -std::numeric_limits<float>::infinity(), emb.options()).triu(1);
  auto x = emb + enc->positional_embedding.slice(0, 0, T);
  int i = 0;
  for (const auto& b : *enc->resblocks) {
    x = b->as<ResBlockImpl>()->forward(x, mask);
    if (trace && i++ == 0) (*trace)["intermediate.resblocks.0"] = x;
  }
  x = enc->ln_final(x);
  if (trace) (*trace)["intermediate.tokens"] = x;
  o.language_mask = ids.eq(0);
  o.language_features = resizer_(x.transpose(0, 1));
  return o;
}

std::string sam3_load_text_encoder(Sam3TextEncoder& net, const std::string& path) {
  auto f = st::File::open(path);
  std::string prefix;
  for (const char* p : {"detector.backbone.language_backbone.", "backbone.language_backbone."})
    if (f.contains(std::string(p) + "resizer.weight")) {
      prefix = p;
      break;
    }
  BindOptions opt;
  opt.strict = true;
  opt.prefix = prefix;
  load_state_dict(*net, f, opt);
  return prefix;
}

namespace {
class Sam3TextModel : public ArchModel {
 public:
  explicit Sam3TextModel(Config& c) : net_(Sam3TextEncoderConfig::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    TensorMap out;
    auto r = net_->forward(require_input(in, "ids", "sam3_text_encoder"), &out);
    out["output.language_features"] = r.language_features;
    out["output.language_mask"] = r.language_mask;
    out["output.language_embeds"] = r.language_embeds;
    return out;
  }

 private:
  Sam3TextEncoder net_;
};
}  // namespace

Arch sam3_text_encoder_arch() {
  return {"sam3_text_encoder",
          "SAM 3 text encoder from token ids (facebookresearch/sam3 VETextEncoder: causal transformer + resizer)",
          [](Config& c) { return std::make_unique<Sam3TextModel>(c); }};
}

}  // namespace eh::models
