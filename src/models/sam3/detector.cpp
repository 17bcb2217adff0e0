// Port of the SAM 3 detector heads, facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e:
// sam3/model/geometry_encoders.py (SequenceGeometryEncoder: point and box prompts with direct projection,
// grid-sample / ROI-align pooling, position encoding and label embeddings, concat_padded_sequences, cls token,
// encode layers; Prompt's batch conventions), sam3/model/position_encoding.py (PositionEmbeddingSine._encode_xy,
// encode_boxes),
// sam3/model/encoder.py (TransformerEncoderLayer pre-norm, TransformerEncoderFusion),
// sam3/model/decoder.py (TransformerDecoderLayer, TransformerDecoder with presence token, boxRPB "log",
// box refinement), sam3/model/model_misc.py (MLP, DotProductScoring, inverse_sigmoid,
// gen_sineembed_for_position, nn.MultiheadAttention as used), sam3/model/maskformer_segmentation.py
// (PixelDecoder, MaskPredictor, UniversalSegmentationHead), sam3/model/sam3_image.py
// (Sam3Image._encode_prompt/_run_encoder/_run_decoder/_update_scores_and_boxes/_run_segmentation_heads),
// sam3/model/box_ops.py (box_cxcywh_to_xyxy). Written from the upstream code's behaviour; eval mode
// only (no DAC o2m queries, no dropout).
#include "models/sam3/detector.h"

#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <tuple>

#include "core/error.h"
#include "core/tensor_io.h"
#include "core/state_dict.h"
#include "models/sam3/components.h"
#include "models/sam3/neck.h"
#include "models/sam3/roi_align.h"

namespace eh::models {

namespace {

namespace F = torch::nn::functional;

torch::nn::LayerNorm LN(int64_t d) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(1e-5)); }
torch::nn::Linear Lin(int64_t a, int64_t b) { return torch::nn::Linear(a, b); }

// nn.MultiheadAttention(d, heads) with packed in_proj (keys in_proj_weight, in_proj_bias,
// out_proj.{weight,bias}); seq-first [L, B, E]. Scaled q k^T (q divided by sqrt(head_dim)), an
// additive float mask [B*heads, L, S] and a key padding mask [B, S] (true = ignore) as torch applies them.
struct MHAImpl : torch::nn::Module {
  int64_t heads;
  at::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
  MHAImpl(int64_t d, int64_t h) : heads(h) {
    in_proj_weight = register_parameter("in_proj_weight", torch::randn({3 * d, d}) / std::sqrt(static_cast<double>(d)));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * d}));
    out_proj = register_module("out_proj", Lin(d, d));
  }
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_padding_mask = {},
                     const at::Tensor& attn_mask = {}) {
    const int64_t L = q.size(0), B = q.size(1), E = q.size(2), S = k.size(0), hd = E / heads;
    auto w = in_proj_weight.chunk(3, 0);
    auto b = in_proj_bias.chunk(3, 0);
    auto Q = torch::linear(q, w[0], b[0]).reshape({L, B * heads, hd}).transpose(0, 1);
    auto K = torch::linear(k, w[1], b[1]).reshape({S, B * heads, hd}).transpose(0, 1);
    auto V = torch::linear(v, w[2], b[2]).reshape({S, B * heads, hd}).transpose(0, 1);
    Q = Q / std::sqrt(static_cast<double>(hd));
    auto a = attn_mask.defined() ? torch::baddbmm(attn_mask, Q, K.transpose(1, 2)) : torch::bmm(Q, K.transpose(1, 2));
    if (key_padding_mask.defined()) {
      auto m = key_padding_mask.view({B, 1, 1, S}).expand({B, heads, 1, S}).reshape({B * heads, 1, S});
      a = a.masked_fill(m, -std::numeric_limits<float>::infinity());
    }
    auto o = torch::bmm(torch::softmax(a, -1), V);  // [B*h, L, hd]
    o = o.transpose(0, 1).contiguous().view({L * B, E});
    return out_proj(o).view({L, B, E});
  }
};
TORCH_MODULE(MHA);

// model_misc.MLP: Linear layers with ReLU between (keys layers.i.*), optional residual and out_norm.
struct MLPImpl : torch::nn::Module {
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm out_norm{nullptr};
  bool residual;
  MLPImpl(int64_t in, int64_t hidden, int64_t out, int64_t n, bool residual_ = false, bool with_out_norm = false)
      : residual(residual_) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < n; ++i)
      layers->push_back(Lin(i == 0 ? in : hidden, i == n - 1 ? out : hidden));
    if (with_out_norm) out_norm = register_module("out_norm", LN(out));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = x;
    const size_t n = layers->size();
    for (size_t i = 0; i < n; ++i) {
      y = layers[i]->as<torch::nn::LinearImpl>()->forward(y);
      if (i + 1 < n) y = torch::relu(y);
    }
    if (residual) y = y + x;
    if (out_norm) y = out_norm(y);
    return y;
  }
};
TORCH_MODULE(MLP);

// encoder.TransformerEncoderLayer, pre-norm, ReLU (keys self_attn, cross_attn_image, linear1, linear2,
// norm1..3). Seq-first throughout (upstream's batch_first layers compute the same per element).
struct EncoderLayerImpl : torch::nn::Module {
  MHA self_attn{nullptr}, cross_attn_image{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  bool pos_at_attn, pos_at_cross_keys, pos_at_cross_queries;
  EncoderLayerImpl(int64_t d, int64_t h, int64_t ff, bool pos_attn, bool cross_keys, bool cross_queries)
      : pos_at_attn(pos_attn), pos_at_cross_keys(cross_keys), pos_at_cross_queries(cross_queries) {
    self_attn = register_module("self_attn", MHA(d, h));
    cross_attn_image = register_module("cross_attn_image", MHA(d, h));
    linear1 = register_module("linear1", Lin(d, ff));
    linear2 = register_module("linear2", Lin(ff, d));
    norm1 = register_module("norm1", LN(d));
    norm2 = register_module("norm2", LN(d));
    norm3 = register_module("norm3", LN(d));
  }
  // tgt [L, B, d]; memory [S, B, d]; pos: memory's position encoding; query_pos: tgt's.
  at::Tensor forward(at::Tensor tgt, const at::Tensor& memory, const at::Tensor& tgt_kpm, const at::Tensor& memory_kpm,
                     const at::Tensor& pos, const at::Tensor& query_pos) {
    auto t2 = norm1(tgt);
    auto qk = pos_at_attn ? t2 + query_pos : t2;
    tgt = tgt + self_attn->forward(qk, qk, t2, tgt_kpm);
    t2 = norm2(tgt);
    tgt = tgt + cross_attn_image->forward(pos_at_cross_queries ? t2 + query_pos : t2, pos_at_cross_keys ? memory + pos : memory,
                                 memory, memory_kpm);
    t2 = norm3(tgt);
    return tgt + linear2(torch::relu(linear1(t2)));
  }
};
TORCH_MODULE(EncoderLayer);

at::Tensor cxcywh_to_xyxy(const at::Tensor& b) {
  auto u = b.unbind(-1);
  return torch::stack({u[0] - 0.5 * u[2], u[1] - 0.5 * u[3], u[0] + 0.5 * u[2], u[1] + 0.5 * u[3]}, -1);
}

// geometry_encoders.concat_padded_sequences: seq1 [L1, B, C] and seq2 [L2, B, C], right-padded masks [B, L]
// (true = padding). The valid tokens of seq2 follow those of seq1; the result is [L1 + L2, B, C] with the
// mask "position >= valid1 + valid2". Padded slots hold what upstream's scatter leaves there (seq1's padded
// tokens where seq2 does not reach, seq2's padded tokens after its valid ones, zeros beyond L1).
std::pair<at::Tensor, at::Tensor> concat_padded(const at::Tensor& seq1, const at::Tensor& mask1, const at::Tensor& seq2,
                                                const at::Tensor& mask2) {
  const int64_t L1 = seq1.size(0), L2 = seq2.size(0), B = seq1.size(1), C = seq1.size(2);
  auto n1 = mask1.logical_not().sum(-1), n2 = mask2.logical_not().sum(-1);  // [B]
  auto pos = torch::arange(L1 + L2, n1.options()).unsqueeze(0);
  auto mask = pos >= (n1 + n2).unsqueeze(1);
  auto out = torch::zeros({L1 + L2, B, C}, seq2.options());
  out.slice(0, 0, L1).copy_(seq1);
  auto index = torch::arange(L2, n1.options()).unsqueeze(1) + n1.unsqueeze(0);  // [L2, B]
  out = out.scatter(0, index.unsqueeze(-1).expand({L2, B, C}), seq2);
  return {out, mask};
}

// geometry_encoders.SequenceGeometryEncoder as model_builder._create_geometry_encoder builds it:
// encode_boxes_as_points=False, points and boxes each by direct projection + pooling + position
// encoding (summed) plus the label embedding, add_cls, add_post_encode_proj, `encode` layers. No mask
// prompts (the detector has no mask_encoder).
struct GeometryEncoderImpl : torch::nn::Module {
  torch::nn::Embedding label_embed{nullptr}, cls_embed{nullptr};
  torch::nn::Linear points_direct_project{nullptr}, points_pool_project{nullptr}, points_pos_enc_project{nullptr};
  torch::nn::Linear boxes_direct_project{nullptr}, boxes_pos_enc_project{nullptr}, final_proj{nullptr};
  torch::nn::Conv2d boxes_pool_project{nullptr};
  torch::nn::LayerNorm norm{nullptr}, img_pre_norm{nullptr}, encode_norm{nullptr};
  torch::nn::ModuleList encode{nullptr};
  int64_t d, roi_size;
  double temperature;
  explicit GeometryEncoderImpl(const Sam3DetectorConfig& c) : d(c.d_model), roi_size(c.roi_size), temperature(c.pos_temperature) {
    label_embed = register_module("label_embed", torch::nn::Embedding(2, d));
    cls_embed = register_module("cls_embed", torch::nn::Embedding(1, d));
    points_direct_project = register_module("points_direct_project", Lin(2, d));
    points_pool_project = register_module("points_pool_project", Lin(d, d));
    points_pos_enc_project = register_module("points_pos_enc_project", Lin(d, d));
    boxes_direct_project = register_module("boxes_direct_project", Lin(4, d));
    boxes_pool_project =
        register_module("boxes_pool_project", torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d, c.roi_size)));
    boxes_pos_enc_project = register_module("boxes_pos_enc_project", Lin(d + 2, d));
    final_proj = register_module("final_proj", Lin(d, d));
    norm = register_module("norm", LN(d));
    img_pre_norm = register_module("img_pre_norm", LN(d));
    encode = register_module("encode", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_geometry_layers; ++i)
      encode->push_back(EncoderLayer(d, c.num_heads, c.dim_feedforward, /*pos_attn=*/false, /*cross_keys=*/true,
                                     /*cross_queries=*/false));
    if (c.num_geometry_layers > 0) encode_norm = register_module("encode_norm", LN(d));
  }
  // PositionEmbeddingSine._encode_xy (normalize, scale 2*pi): x, y [...] -> [..., d/2] each.
  at::Tensor encode_coord(const at::Tensor& v) const { return sam3_sine_features(v * (2 * M_PI), d / 2, temperature); }

  // _encode_points. points [M, B, 2], labels [M, B]; map: img_pre_norm(level 2) as [B, d, H, W].
  at::Tensor encode_points(const at::Tensor& points, const at::Tensor& labels, const at::Tensor& map,
                           const std::function<void(const std::string&, const at::Tensor&)>& put) {
    auto e = points_direct_project(points);
    // grid_sample at 2*xy-1 (bilinear, zero padding, align_corners=False); grid [B, M, 1, 2].
    auto grid = points.transpose(0, 1).unsqueeze(2) * 2 - 1;
    auto sampled = F::grid_sample(map, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
    sampled = sampled.squeeze(-1).permute({2, 0, 1});  // [M, B, d]
    put("intermediate.geometry_encoder.points_pool", sampled);
    e = e + points_pool_project(sampled);
    auto xy = points.unbind(-1);
    auto enc = torch::cat({encode_coord(xy[0]), encode_coord(xy[1])}, -1);  // x first, then y
    put("intermediate.geometry_encoder.points_pos_enc", enc);
    e = e + points_pos_enc_project(enc);
    return label_embed(labels) + e;
  }

  // _encode_boxes. boxes [N, B, 4] cxcywh, labels [N, B]; map [B, d, H, W].
  at::Tensor encode_boxes(const at::Tensor& boxes, const at::Tensor& labels, const at::Tensor& map,
                          const std::function<void(const std::string&, const at::Tensor&)>& put) {
    const int64_t N = boxes.size(0), B = boxes.size(1), H = map.size(2), W = map.size(3);
    auto e = boxes_direct_project(boxes);
    // torchvision roi_align(map, per-image xyxy boxes in feature pixels, roi_size): spatial_scale 1,
    // sampling_ratio -1, aligned=False (upstream passes no options); rois image-major.
    auto scale = torch::tensor({static_cast<float>(W), static_cast<float>(H), static_cast<float>(W), static_cast<float>(H)},
                               boxes.options());
    auto xyxy = (cxcywh_to_xyxy(boxes) * scale).transpose(0, 1).reshape({B * N, 4});
    auto img = torch::arange(B, boxes.options()).repeat_interleave(N).unsqueeze(1);
    auto sampled = roi_align(map, torch::cat({img, xyxy}, 1), roi_size, 1.0, -1, /*aligned=*/false);
    put("intermediate.geometry_encoder.boxes_roi_align", sampled);
    e = e + boxes_pool_project(sampled).view({B, N, d}).transpose(0, 1);
    // PositionEmbeddingSine.encode_boxes: [enc_y(cy) | enc_x(cx) | h | w].
    auto u = boxes.unbind(-1);
    auto enc = torch::cat({encode_coord(u[1]), encode_coord(u[0]), u[3].unsqueeze(-1), u[2].unsqueeze(-1)}, -1);
    put("intermediate.geometry_encoder.boxes_pos_enc", enc);
    e = e + boxes_pos_enc_project(enc);
    return label_embed(labels) + e;
  }

  // img, img_pos: [HW, B, d] of the last level (H x W). Prompts seq-first: points [M, B, 2], boxes [N, B, 4]
  // (M or N may be 0), labels [M|N, B] int64, masks [B, M|N] bool. Returns the tokens [M + N + 1, B, d]
  // (valid points, valid boxes, cls, then padding) and their padding mask [B, M + N + 1].
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& img, const at::Tensor& img_pos, int64_t H, int64_t W,
                                            const at::Tensor& points, const at::Tensor& point_labels,
                                            const at::Tensor& point_mask, const at::Tensor& boxes,
                                            const at::Tensor& box_labels, const at::Tensor& box_mask, TensorMap* trace) {
    const int64_t B = img.size(1);
    auto put = [&](const std::string& k, const at::Tensor& t) {
      if (trace) (*trace)[k] = t;
    };
    at::Tensor map;  // the pooling source: img_pre_norm(level 2) as [B, d, H, W]
    if (points.size(0) > 0 || boxes.size(0) > 0) map = img_pre_norm(img).permute({1, 2, 0}).reshape({B, d, H, W});
    auto empty = torch::zeros({0, B, d}, img.options());
    auto pe = points.size(0) > 0 ? encode_points(points, point_labels, map, put) : empty;
    auto be = boxes.size(0) > 0 ? encode_boxes(boxes, box_labels, map, put) : empty;
    if (points.size(0) > 0) put("intermediate.geometry_encoder.points_embed", pe);
    if (boxes.size(0) > 0) put("intermediate.geometry_encoder.boxes_embed", be);
    auto [x, mask] = concat_padded(pe, point_mask, be, box_mask);
    auto cls = cls_embed->weight.view({1, 1, d}).repeat({1, B, 1});
    std::tie(x, mask) = concat_padded(x, mask, cls, torch::zeros({B, 1}, mask.options()));
    put("intermediate.geometry_encoder.sequence", x);
    x = norm(final_proj(x));
    for (const auto& m : *encode) x = m->as<EncoderLayerImpl>()->forward(x, img, mask, {}, img_pos, {});
    if (encode_norm) x = encode_norm(x);
    return {x, mask};
  }
};
TORCH_MODULE(GeometryEncoder);

// encoder.TransformerEncoderFusion (add_pooled_text_to_img_feat=False: only `layers`).
struct FusionEncoderImpl : torch::nn::Module {
  torch::nn::ModuleList layers{nullptr};
  explicit FusionEncoderImpl(const Sam3DetectorConfig& c) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_encoder_layers; ++i)
      layers->push_back(EncoderLayer(c.d_model, c.num_heads, c.dim_feedforward, /*pos_attn=*/true, false, false));
  }
};
TORCH_MODULE(FusionEncoder);

// decoder.TransformerDecoderLayer with text cross-attention (keys cross_attn, norm1, ca_text,
// catext_norm, self_attn, norm2, linear1, linear2, norm3).
struct DecoderLayerImpl : torch::nn::Module {
  MHA cross_attn{nullptr}, ca_text{nullptr}, self_attn{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, catext_norm{nullptr}, norm2{nullptr}, norm3{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  DecoderLayerImpl(int64_t d, int64_t h, int64_t ff) {
    cross_attn = register_module("cross_attn", MHA(d, h));
    norm1 = register_module("norm1", LN(d));
    ca_text = register_module("ca_text", MHA(d, h));
    catext_norm = register_module("catext_norm", LN(d));
    self_attn = register_module("self_attn", MHA(d, h));
    norm2 = register_module("norm2", LN(d));
    linear1 = register_module("linear1", Lin(d, ff));
    linear2 = register_module("linear2", Lin(ff, d));
    norm3 = register_module("norm3", LN(d));
  }
  // Post-norm, eval (no DAC). tgt [Q, B, d]; presence [1, B, d] or undefined; cross_mask [B*h, Q, HW].
  std::pair<at::Tensor, at::Tensor> forward(at::Tensor tgt, at::Tensor query_pos, const at::Tensor& presence,
                                            const at::Tensor& memory_text, const at::Tensor& text_mask,
                                            const at::Tensor& memory, const at::Tensor& memory_pos, at::Tensor cross_mask) {
    if (presence.defined()) {  // the presence token joins the queries with a zero position
      tgt = torch::cat({presence, tgt}, 0);
      query_pos = torch::cat({torch::zeros_like(presence), query_pos}, 0);
    }
    auto qk = tgt + query_pos;
    tgt = norm2(tgt + self_attn->forward(qk, qk, tgt));
    tgt = catext_norm(tgt + ca_text->forward(tgt + query_pos, memory_text, memory_text, text_mask));
    if (presence.defined() && cross_mask.defined())
      cross_mask = torch::cat({torch::zeros_like(cross_mask.slice(1, 0, 1)), cross_mask}, 1);
    tgt = norm1(tgt + cross_attn->forward(tgt + query_pos, memory + memory_pos, memory, at::Tensor(), cross_mask));
    tgt = norm3(tgt + linear2(torch::relu(linear1(tgt))));
    if (!presence.defined()) return {tgt, {}};
    return {tgt.slice(0, 1), tgt.slice(0, 0, 1)};
  }
};
TORCH_MODULE(DecoderLayer);

at::Tensor inverse_sigmoid(const at::Tensor& x, double eps = 1e-3) {
  auto y = x.clamp(0, 1);
  return torch::log(y.clamp_min(eps) / (1 - y).clamp_min(eps));
}

// gen_sineembed_for_position for [Q, B, 4] boxes: [Q, B, 2*d] = [y | x | w | h], each d/2 wide with
// sin/cos interleaved; frequencies 10000^(2*floor(i/2)/(d/2)) in float32.
at::Tensor box_sine_embed(const at::Tensor& pos, int64_t d) {
  const int64_t n = d / 2;
  auto enc = [&](const at::Tensor& c) { return sam3_sine_features(c * (2 * M_PI), n, 10000.0); };
  auto u = pos.unbind(-1);
  return torch::cat({enc(u[1]), enc(u[0]), enc(u[2]), enc(u[3])}, 2);
}

// decoder.TransformerDecoder (box_refine, presence token, boxRPB "log", eval).
struct DecoderImpl : torch::nn::Module {
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm norm{nullptr}, presence_token_out_norm{nullptr};
  MLP bbox_embed{nullptr}, boxRPB_embed_x{nullptr}, boxRPB_embed_y{nullptr}, presence_token_head{nullptr},
      ref_point_head{nullptr};
  torch::nn::Embedding query_embed{nullptr}, reference_points{nullptr}, presence_token{nullptr};
  int64_t d, heads;
  explicit DecoderImpl(const Sam3DetectorConfig& c) : d(c.d_model), heads(c.num_heads) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_decoder_layers; ++i) layers->push_back(DecoderLayer(d, heads, c.dim_feedforward));
    norm = register_module("norm", LN(d));
    bbox_embed = register_module("bbox_embed", MLP(d, d, 4, 3));
    query_embed = register_module("query_embed", torch::nn::Embedding(c.num_queries, d));
    reference_points = register_module("reference_points", torch::nn::Embedding(c.num_queries, 4));
    boxRPB_embed_x = register_module("boxRPB_embed_x", MLP(2, d, heads, 2));
    boxRPB_embed_y = register_module("boxRPB_embed_y", MLP(2, d, heads, 2));
    if (c.presence_token) {
      presence_token = register_module("presence_token", torch::nn::Embedding(1, d));
      presence_token_head = register_module("presence_token_head", MLP(d, d, 1, 3));
      presence_token_out_norm = register_module("presence_token_out_norm", LN(d));
    }
    ref_point_head = register_module("ref_point_head", MLP(2 * d, d, d, 2));
  }

  // Box relative position bias ("log"): [B*heads, Q, H*W] for reference boxes [Q, B, 4].
  at::Tensor rpb(const at::Tensor& ref, int64_t H, int64_t W) {
    auto xyxy = cxcywh_to_xyxy(ref).transpose(0, 1);  // [B, Q, 4]
    const int64_t B = xyxy.size(0), Q = xyxy.size(1);
    auto f = ref.options();
    auto ch = torch::arange(H, f.dtype(torch::kFloat)) / static_cast<double>(H);
    auto cw = torch::arange(W, f.dtype(torch::kFloat)) / static_cast<double>(W);
    auto flat = xyxy.reshape({-1, 1, 4});
    auto dy = (ch.view({1, -1, 1}) - flat.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                                  torch::indexing::Slice(1, 4, 2)}))
                  .view({B, Q, -1, 2});
    auto dx = (cw.view({1, -1, 1}) - flat.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                                  torch::indexing::Slice(0, 3, 2)}))
                  .view({B, Q, -1, 2});
    auto logmap = [](const at::Tensor& t) {
      auto s = t * 8;
      return torch::sign(s) * torch::log2(torch::abs(s) + 1.0) / 3.0;  // / log2(8)
    };
    auto ex = boxRPB_embed_x(logmap(dx));  // [B, Q, W, heads]
    auto ey = boxRPB_embed_y(logmap(dy));  // [B, Q, H, heads]
    auto m = ey.unsqueeze(3) + ex.unsqueeze(2);  // [B, Q, H, W, heads]
    return m.flatten(2, 3).permute({0, 3, 1, 2}).contiguous().flatten(0, 1);
  }
};
TORCH_MODULE(Decoder);

struct TransformerImpl : torch::nn::Module {
  FusionEncoder encoder{nullptr};
  Decoder decoder{nullptr};
  explicit TransformerImpl(const Sam3DetectorConfig& c) {
    encoder = register_module("encoder", FusionEncoder(c));
    decoder = register_module("decoder", Decoder(c));
  }
};
TORCH_MODULE(Transformer);

// maskformer_segmentation.UniversalSegmentationHead with its PixelDecoder and MaskPredictor.
struct SegmentationHeadImpl : torch::nn::Module {
  torch::nn::ModuleList conv_layers{nullptr}, norms{nullptr};
  MLP mask_embed{nullptr};
  MHA cross_attend_prompt{nullptr};
  torch::nn::LayerNorm cross_attn_norm{nullptr};
  torch::nn::Conv2d semantic_seg_head{nullptr}, instance_seg_head{nullptr};
  explicit SegmentationHeadImpl(const Sam3DetectorConfig& c) {
    const int64_t d = c.d_model;
    auto pd = std::make_shared<torch::nn::Module>();
    conv_layers = pd->register_module("conv_layers", torch::nn::ModuleList());
    norms = pd->register_module("norms", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.upsampling_stages; ++i) {
      conv_layers->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d, 3).padding(1)));
      norms->push_back(torch::nn::GroupNorm(torch::nn::GroupNormOptions(8, d)));
    }
    register_module("pixel_decoder", pd);
    auto mp = std::make_shared<torch::nn::Module>();
    mask_embed = mp->register_module("mask_embed", MLP(d, d, d, 3));
    register_module("mask_predictor", mp);
    cross_attend_prompt = register_module("cross_attend_prompt", MHA(d, c.num_heads));
    cross_attn_norm = register_module("cross_attn_norm", LN(d));
    semantic_seg_head = register_module("semantic_seg_head", torch::nn::Conv2d(torch::nn::Conv2dOptions(d, 1, 1)));
    instance_seg_head = register_module("instance_seg_head", torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d, 1)));
  }
  // PixelDecoder: from the coarsest level up, nearest upsampling + add, conv, GroupNorm, ReLU.
  at::Tensor pixel_decode(const std::vector<at::Tensor>& feats) {
    at::Tensor prev = feats.back();
    int idx = 0;
    for (int i = static_cast<int>(feats.size()) - 2; i >= 0; --i, ++idx) {
      const auto& cur = feats[i];
      prev = cur + F::interpolate(prev, F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{cur.size(2), cur.size(3)})
                                            .mode(torch::kNearest));
      prev = conv_layers[idx]->as<torch::nn::Conv2dImpl>()->forward(prev);
      prev = torch::relu(norms[idx]->as<torch::nn::GroupNormImpl>()->forward(prev));
    }
    return prev;
  }
};
TORCH_MODULE(SegmentationHead);

// model_misc.DotProductScoring (prompt_mlp residual + out_norm, prompt_proj, hs_proj; clamp 12).
struct ScoringImpl : torch::nn::Module {
  MLP prompt_mlp{nullptr};
  torch::nn::Linear prompt_proj{nullptr}, hs_proj{nullptr};
  int64_t d;
  explicit ScoringImpl(const Sam3DetectorConfig& c) : d(c.d_model) {
    prompt_mlp = register_module("prompt_mlp", MLP(d, c.prompt_mlp_hidden_dim, d, 2, /*residual=*/true, /*norm=*/true));
    prompt_proj = register_module("prompt_proj", Lin(d, d));
    hs_proj = register_module("hs_proj", Lin(d, d));
  }
  // hs [L, B, Q, d]; prompt [T, B, d]; mask [B, T] true = padding. Returns [L, B, Q, 1].
  at::Tensor forward(const at::Tensor& hs, const at::Tensor& prompt, const at::Tensor& mask) {
    auto p = prompt_mlp(prompt);
    auto valid = mask.logical_not().to(p.scalar_type()).permute({1, 0}).unsqueeze(-1);  // [T, B, 1]
    auto n = valid.sum(0).clamp_min(1.0);
    auto pooled = (p * valid).sum(0) / n;  // [B, d]
    auto s = torch::matmul(hs_proj(hs), prompt_proj(pooled).unsqueeze(-1));
    s = s * static_cast<double>(static_cast<float>(1.0 / std::sqrt(static_cast<double>(d))));
    return s.clamp(-12.0, 12.0);
  }
};
TORCH_MODULE(Scoring);

}  // namespace

Sam3DetectorConfig Sam3DetectorConfig::from(Config& c) {
  Sam3DetectorConfig s;
  s.d_model = c.get<int64_t>("d_model");
  s.num_heads = c.get<int64_t>("num_heads");
  s.dim_feedforward = c.get<int64_t>("dim_feedforward");
  s.num_encoder_layers = c.get<int64_t>("num_encoder_layers");
  s.num_decoder_layers = c.get<int64_t>("num_decoder_layers");
  s.num_geometry_layers = c.get<int64_t>("num_geometry_layers");
  s.num_queries = c.get<int64_t>("num_queries");
  s.resolution = c.get_or<int64_t>("resolution", s.resolution);
  s.stride = c.get_or<int64_t>("stride", s.stride);
  const auto rpb = c.get_or<std::string>("boxRPB", "log");
  if (rpb != "log") throw Error(c.label() + ": boxRPB '" + rpb + "' is not supported (SAM 3 uses \"log\")");
  s.presence_token = c.get_or<bool>("presence_token", true);
  s.supervise_joint_box_scores = c.get_or<bool>("supervise_joint_box_scores", true);
  if (s.supervise_joint_box_scores && !s.presence_token)
    throw Error(c.label() + ": supervise_joint_box_scores needs presence_token");
  s.upsampling_stages = c.get_or<int64_t>("upsampling_stages", 3);
  s.prompt_mlp_hidden_dim = c.get_or<int64_t>("prompt_mlp_hidden_dim", 2048);
  s.roi_size = c.get_or<int64_t>("roi_size", 7);
  s.pos_temperature = c.get_or<double>("pos_temperature", 10000.0);
  c.finish();
  if (s.d_model % s.num_heads || s.d_model % 8)
    throw Error(c.label() + ": d_model " + std::to_string(s.d_model) +
                " must be a multiple of num_heads and of 8 (GroupNorm(8) in the pixel decoder)");
  return s;
}

Sam3DetectorConfig sam3_full_detector_config() { return Sam3DetectorConfig{}; }

Sam3DetectorImpl::Sam3DetectorImpl(const Sam3DetectorConfig& cfg) : cfg_(cfg) {
  geometry_ = register_module("geometry_encoder", GeometryEncoder(cfg));
  transformer_ = register_module("transformer", Transformer(cfg));
  segmentation_ = register_module("segmentation_head", SegmentationHead(cfg));
  scoring_ = register_module("dot_prod_scoring", Scoring(cfg));
}

namespace {

// One kind of geometric prompt, checked and made seq-first as upstream's Prompt holds it: coords [N, B, C],
// labels [N, B] int64, mask [B, N] bool. `what` is "boxes" or "points".
struct PromptPart {
  at::Tensor coords, labels, mask;
};

PromptPart prompt_part(const char* what, const char* labels_name, const char* mask_name, const at::Tensor& coords,
                       const at::Tensor& labels, const at::Tensor& mask, int64_t B, int64_t C, const at::TensorOptions& opt) {
  const std::string w = std::string("sam3_detector: ") + what;
  PromptPart p;
  if (!coords.defined()) {
    if (labels.defined() || mask.defined())
      throw Error(w + ": " + labels_name + " / " + mask_name + " given without " + what);
    p.coords = torch::zeros({0, B, C}, opt);
    p.labels = torch::zeros({0, B}, opt.dtype(torch::kLong));
    p.mask = torch::zeros({B, 0}, opt.dtype(torch::kBool));
    return p;
  }
  if (coords.dim() != 3 || coords.size(0) != B || coords.size(2) != C || !coords.is_floating_point())
    throw Error(w + " must be float [" + std::to_string(B) + ", N, " + std::to_string(C) + "] (batch-first, normalized " +
                (C == 4 ? "cx, cy, w, h" : "x, y") + "), found " + dtype_str(coords.scalar_type()) + " " +
                shape_str(coords.sizes()));
  const int64_t N = coords.size(1);
  const std::vector<int64_t> bn = {B, N};
  at::Tensor lab = labels.defined() ? labels : torch::ones(bn, opt.dtype(torch::kLong));
  if (lab.sizes() != at::IntArrayRef(bn) || !(lab.scalar_type() == torch::kLong || lab.scalar_type() == torch::kInt ||
                                             lab.scalar_type() == torch::kBool))
    throw Error(std::string("sam3_detector: ") + labels_name + " must be int64 " + shape_str(bn) + " (1 positive, 0 negative), found " +
                dtype_str(lab.scalar_type()) + " " + shape_str(lab.sizes()));
  lab = lab.to(torch::kLong);
  if (N && (lab.min().item<int64_t>() < 0 || lab.max().item<int64_t>() > 1))
    throw Error(std::string("sam3_detector: ") + labels_name + " must be 0 (negative) or 1 (positive), found values in [" +
                std::to_string(lab.min().item<int64_t>()) + ", " + std::to_string(lab.max().item<int64_t>()) + "]");
  at::Tensor m = mask.defined() ? mask : torch::zeros(bn, opt.dtype(torch::kBool));
  if (m.scalar_type() != torch::kBool || m.sizes() != at::IntArrayRef(bn))
    throw Error(std::string("sam3_detector: ") + mask_name + " must be bool " + shape_str(bn) + " (true = padding), found " +
                dtype_str(m.scalar_type()) + " " + shape_str(m.sizes()));
  // geometry_encoders.is_right_padded: each row is valid tokens, then padding.
  if (N && !torch::equal(m, std::get<0>(m.to(torch::kLong).sort(-1)).to(torch::kBool)))
    throw Error(std::string("sam3_detector: ") + mask_name + " must be right-padded (valid " + what +
                " first, then padding) in every row");
  p.coords = coords.to(opt).transpose(0, 1).contiguous();
  p.labels = lab.to(opt.device()).transpose(0, 1).contiguous();
  p.mask = m.to(opt.device());
  return p;
}

}  // namespace

Sam3DetectorOutput Sam3DetectorImpl::forward(const std::vector<at::Tensor>& feats, const at::Tensor& text,
                                             const at::Tensor& text_mask, TensorMap* trace) {
  return forward(feats, text, text_mask, Sam3GeometricPrompt{}, trace);
}

Sam3DetectorOutput Sam3DetectorImpl::forward(const std::vector<at::Tensor>& feats, const at::Tensor& text,
                                             const at::Tensor& text_mask, const Sam3GeometricPrompt& geo_prompt,
                                             TensorMap* trace) {
  const int64_t d = cfg_.d_model;
  if (feats.size() != 3) throw Error("sam3_detector: expected 3 feature levels (4x, 2x, 1x), found " + std::to_string(feats.size()));
  const auto& top = feats[2];
  if (top.dim() != 4 || top.size(1) != d)
    throw Error("sam3_detector: level 2 must be [B, " + std::to_string(d) + ", h, w], found " + shape_str(top.sizes()));
  const int64_t B = top.size(0), H = top.size(2), W = top.size(3);
  for (int i = 0; i < 2; ++i) {
    const int64_t s = 4 >> i;
    if (feats[i].sizes() != at::IntArrayRef{B, d, s * H, s * W})
      throw Error("sam3_detector: level " + std::to_string(i) + " must be [" + std::to_string(B) + ", " +
                  std::to_string(d) + ", " + std::to_string(s * H) + ", " + std::to_string(s * W) + "], found " +
                  shape_str(feats[i].sizes()));
  }
  if (text.dim() != 3 || text.size(1) != B || text.size(2) != d)
    throw Error("sam3_detector: text features must be [T, " + std::to_string(B) + ", " + std::to_string(d) +
                "] (seq-first), found " + shape_str(text.sizes()));
  if (text_mask.scalar_type() != torch::kBool || text_mask.sizes() != at::IntArrayRef{B, text.size(0)})
    throw Error("sam3_detector: text mask must be bool [" + std::to_string(B) + ", " + std::to_string(text.size(0)) +
                "], found " + shape_str(text_mask.sizes()));
  auto put = [&](const std::string& k, const at::Tensor& t) {
    if (trace) (*trace)[k] = t;
  };
  auto* geo = static_cast<GeometryEncoderImpl*>(geometry_.get());
  auto* tr = static_cast<TransformerImpl*>(transformer_.get());
  auto* dec = tr->decoder.get();
  auto* seg = static_cast<SegmentationHeadImpl*>(segmentation_.get());
  auto* score = static_cast<ScoringImpl*>(scoring_.get());

  // Image features of the last level, seq-first, with their sine position encoding.
  Sam3SinePosConfig pc;
  pc.num_pos_feats = d;
  pc.temperature = cfg_.pos_temperature;
  auto pos_map = sam3_sine_position_encoding(pc, B, H, W).to(top.options());
  put("intermediate.vision_pos_enc.2", pos_map);
  auto img = top.flatten(2).permute({2, 0, 1});
  auto img_pos = pos_map.flatten(2).permute({2, 0, 1});

  // Prompt = text tokens then the geometry encoder's tokens (points, boxes, cls; only the cls token for a
  // text-only prompt), as Sam3Image._encode_prompt concatenates them with their masks.
  const auto& g = geo_prompt;
  auto pts = prompt_part("points", "point_labels", "point_mask", g.points, g.point_labels, g.point_mask, B, 2, top.options());
  auto bxs = prompt_part("boxes", "box_labels", "box_mask", g.boxes, g.box_labels, g.box_mask, B, 4, top.options());
  auto [geo_tokens, geo_mask] =
      geo->forward(img, img_pos, H, W, pts.coords, pts.labels, pts.mask, bxs.coords, bxs.labels, bxs.mask, trace);
  put("intermediate.geometry_encoder", geo_tokens);
  put("intermediate.geometry_encoder.mask", geo_mask);
  auto prompt = torch::cat({text, geo_tokens}, 0);
  auto prompt_mask = torch::cat({text_mask, geo_mask}, 1);
  put("intermediate.prompt", prompt);
  put("intermediate.prompt_mask", prompt_mask);

  // Fusion encoder: image tokens attend to themselves (pos on q, k) and to the prompt.
  auto memory = img;
  int li = 0;
  for (const auto& m : *tr->encoder->layers) {
    memory = m->as<EncoderLayerImpl>()->forward(memory, prompt, {}, prompt_mask, {}, img_pos);
    if (li++ == 0) put("intermediate.encoder.layers.0", memory.transpose(0, 1));
  }
  put("intermediate.encoder.memory", memory);
  put("intermediate.encoder.pos_embed", img_pos);

  // Decoder.
  const int64_t Q = dec->query_embed->weight.size(0);
  auto tgt = dec->query_embed->weight.unsqueeze(1).repeat({1, B, 1});
  auto ref = dec->reference_points->weight.unsqueeze(1).repeat({1, B, 1}).sigmoid();
  at::Tensor presence;
  if (dec->presence_token) presence = dec->presence_token->weight.unsqueeze(0).expand({1, B, d});
  std::vector<at::Tensor> hs, refs{ref}, pres;
  const int64_t L = static_cast<int64_t>(dec->layers->size());
  for (int64_t l = 0; l < L; ++l) {
    auto query_pos = dec->ref_point_head(box_sine_embed(ref, d));
    auto mask = dec->rpb(ref, H, W);
    if (l == 0) put("intermediate.decoder.rpb.0", mask.view({B, dec->heads, Q, H * W}));
    auto [out, p] = dec->layers[l]->as<DecoderLayerImpl>()->forward(tgt, query_pos, presence, prompt, prompt_mask,
                                                                      memory, img_pos, mask);
    tgt = out;
    presence = p;
    if (l == 0) {
      put("intermediate.decoder.layers.0", tgt);
      if (presence.defined()) put("intermediate.decoder.layers.0.presence", presence);
    }
    auto normed = dec->norm(tgt);
    auto new_ref = (dec->bbox_embed(normed) + inverse_sigmoid(ref)).sigmoid();
    ref = new_ref;
    if (l != L - 1) refs.push_back(new_ref);
    hs.push_back(normed);
    // Upstream clamps the presence logits with a non-in-place clamp whose result is dropped: no clamp.
    if (presence.defined()) pres.push_back(dec->presence_token_head(dec->presence_token_out_norm(presence)).squeeze(-1));
  }
  auto hs_t = torch::stack(hs);      // [L, Q, B, d]
  auto ref_t = torch::stack(refs);   // [L, Q, B, 4]
  put("intermediate.decoder.hs", hs_t);
  put("intermediate.decoder.reference_boxes", ref_t);
  at::Tensor pres_t;
  if (!pres.empty()) {
    pres_t = torch::stack(pres);  // [L, 1, B]
    put("intermediate.decoder.presence_logits", pres_t);
  }

  // Scores and boxes (batch-first).
  auto hsb = hs_t.transpose(1, 2);    // [L, B, Q, d]
  auto refb = ref_t.transpose(1, 2);  // [L, B, Q, 4]
  auto cls = score->forward(hsb, prompt, prompt_mask);
  auto coord = (inverse_sigmoid(refb) + dec->bbox_embed(hsb)).sigmoid();
  Sam3DetectorOutput o;
  if (pres_t.defined()) {
    auto pb = pres_t.transpose(1, 2);  // [L, B, 1]
    o.presence_logit_dec = pb[L - 1];
    if (cfg_.supervise_joint_box_scores)
      cls = inverse_sigmoid(cls.sigmoid() * pb.sigmoid().unsqueeze(2)).clamp(-10.0, 10.0);
  }
  o.pred_logits = cls[L - 1];
  o.pred_boxes = coord[L - 1];
  o.pred_boxes_xyxy = cxcywh_to_xyxy(o.pred_boxes);
  o.queries = hsb[L - 1];

  // Segmentation head: prompt cross-attention on the encoder memory, pixel decoder over
  // [level 0, level 1, memory as a map], instance and semantic 1x1 heads, mask = queries . pixels.
  auto enc = memory + seg->cross_attend_prompt->forward(seg->cross_attn_norm(memory), prompt, prompt, prompt_mask);
  std::vector<at::Tensor> levels = {feats[0], feats[1], enc.permute({1, 2, 0}).reshape({B, d, H, W})};
  auto pixel = seg->pixel_decode(levels);
  put("intermediate.segmentation_head.pixel_decoder", pixel);
  auto inst = seg->instance_seg_head(pixel);
  put("intermediate.segmentation_head.instance_seg_head", inst);
  o.pred_masks = torch::einsum("bqc,bchw->bqhw", {seg->mask_embed(o.queries), inst});
  o.semantic_seg = seg->semantic_seg_head(pixel);
  return o;
}

std::string sam3_load_detector(Sam3Detector& net, const std::string& path) {
  auto f = st::File::open(path);
  std::vector<std::string> keys;
  for (const auto& t : f.tensors()) keys.push_back(t.name);
  const auto kind = sam3_checkpoint_kind(keys);
  const std::string prefix = kind.video_naming ? "detector." : "";
  const auto sd = state_dict(*net);
  std::vector<std::string> expected;
  for (const auto& [k, v] : sd) expected.push_back(prefix + k);
  // Whole groups missing (e.g. an unrelated or tracker-only file): name them.
  sam3_check_checkpoint(keys, path, kind.video_naming ? Sam3ModelKind::Video : Sam3ModelKind::Image, expected);
  std::string problems;
  int n = 0;
  for (const auto& [k, v] : sd) {
    const auto* t = f.find(prefix + k);
    if (!t) {
      problems += "\n  missing " + prefix + k + " " + shape_str(v.sizes());
      ++n;
    } else if (at::IntArrayRef(t->shape) != v.sizes()) {
      problems += "\n  " + prefix + k + ": expected " + shape_str(v.sizes()) + ", found " + shape_str(at::IntArrayRef(t->shape));
      ++n;
    }
  }
  if (n)
    throw Error(path + ": " + std::to_string(n) + " detector key(s) missing or mis-shaped (nothing was loaded):" + problems);
  BindOptions opt;
  opt.strict = false;  // the file also holds the backbone / text encoder / tracker
  opt.prefix = prefix;
  auto rep = load_state_dict(*net, f, opt);
  if (!rep.missing.empty() || !rep.mismatched.empty()) throw Error(path + ": " + rep.summary());
  return prefix;
}

namespace {
class Sam3DetectorModel : public ArchModel {
 public:
  explicit Sam3DetectorModel(Config& c) : net_(Sam3DetectorConfig::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    TensorMap out;
    std::vector<at::Tensor> feats;
    for (int i = 0; i < 3; ++i) feats.push_back(require_input(in, "backbone_fpn." + std::to_string(i), "sam3_detector"));
    // Optional box / point prompts (Sam3GeometricPrompt's fields, batch-first).
    auto opt = [&](const char* k) {
      auto it = in.find(k);
      return it == in.end() ? at::Tensor() : it->second;
    };
    Sam3GeometricPrompt geo{opt("boxes"), opt("box_labels"), opt("box_mask"), opt("points"), opt("point_labels"),
                            opt("point_mask")};
    auto r = net_->forward(feats, require_input(in, "language_features", "sam3_detector"),
                           require_input(in, "language_mask", "sam3_detector"), geo, &out);
    out["output.pred_logits"] = r.pred_logits;
    out["output.pred_boxes"] = r.pred_boxes;
    out["output.pred_boxes_xyxy"] = r.pred_boxes_xyxy;
    if (r.presence_logit_dec.defined()) out["output.presence_logit_dec"] = r.presence_logit_dec;
    out["output.pred_masks"] = r.pred_masks;
    out["output.semantic_seg"] = r.semantic_seg;
    out["output.queries"] = r.queries;
    return out;
  }

 private:
  Sam3Detector net_;
};
}  // namespace

Arch sam3_detector_arch() {
  return {"sam3_detector",
          "SAM 3 detector heads (geometry/prompt encoder, fusion encoder, decoder with presence token, score, box and "
          "mask heads) on neck features + text embeddings (facebookresearch/sam3 Sam3Image)",
          [](Config& c) { return std::make_unique<Sam3DetectorModel>(c); }};
}

}  // namespace eh::models
