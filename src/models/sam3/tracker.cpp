// Port of sam3/model/sam3_tracker_base.py Sam3TrackerBase (track_step, _prepare_memory_conditioned_features,
// _forward_sam_heads, _use_mask_as_output, _encode_new_memory, _get_tpos_enc, _use_multimask) and
// sam3/model/sam3_tracker_utils.py (select_closest_cond_frames, get_1d_sine_pe), facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e, with build_tracker's arguments (sam3/model_builder.py). Eval,
// forward tracking, memory temporal stride 1, no memory selection, no non-overlap constraint (all as the
// video model runs it). Written from the upstream behaviour.
#include "models/sam3/tracker.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "core/tensor_io.h"
#include "models/sam3/components.h"

namespace eh::models {

namespace F = torch::nn::functional;

namespace {
constexpr double kNoObjScore = -1024.0;  // NO_OBJ_SCORE: mask logits of an object judged absent

void put(TensorMap* trace, const std::string& k, const at::Tensor& t) {
  if (trace) (*trace)[k] = t;
}

at::Tensor bilinear(const at::Tensor& x, int64_t h, int64_t w, bool antialias) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(antialias));
}
}  // namespace

Sam3TrackerConfig Sam3TrackerConfig::from(Config& c) {
  Sam3TrackerConfig s;
  auto i64 = [&](const char* k, int64_t& v) { v = c.get_or<int64_t>(k, v); };
  auto dbl = [&](const char* k, double& v) { v = c.get_or<double>(k, v); };
  auto bl = [&](const char* k, bool& v) { v = c.get_or<bool>(k, v); };
  i64("d_model", s.d_model);
  i64("mem_dim", s.mem_dim);
  i64("image_size", s.image_size);
  i64("backbone_stride", s.backbone_stride);
  i64("num_maskmem", s.num_maskmem);
  i64("max_obj_ptrs_in_encoder", s.max_obj_ptrs_in_encoder);
  i64("max_cond_frames_in_attn", s.max_cond_frames_in_attn);
  bl("keep_first_cond_frame", s.keep_first_cond_frame);
  bl("multimask_output_in_sam", s.multimask_output_in_sam);
  i64("multimask_min_pt_num", s.multimask_min_pt_num);
  i64("multimask_max_pt_num", s.multimask_max_pt_num);
  bl("multimask_output_for_tracking", s.multimask_output_for_tracking);
  i64("memory_attention_layers", s.memory_attention_layers);
  i64("memory_attention_heads", s.memory_attention_heads);
  i64("memory_attention_ffn", s.memory_attention_ffn);
  dbl("rope_theta", s.rope_theta);
  i64("fuser_layers", s.fuser_layers);
  i64("fuser_kernel_size", s.fuser_kernel_size);
  i64("mask_downsampler_kernel_size", s.mask_downsampler_kernel_size);
  i64("mask_downsampler_stride", s.mask_downsampler_stride);
  i64("mask_downsampler_padding", s.mask_downsampler_padding);
  i64("mask_downsampler_total_stride", s.mask_downsampler_total_stride);
  i64("mask_downsampler_interpol_size", s.mask_downsampler_interpol_size);
  i64("mask_in_chans", s.mask_in_chans);
  i64("decoder_depth", s.decoder_depth);
  i64("decoder_heads", s.decoder_heads);
  i64("decoder_mlp_dim", s.decoder_mlp_dim);
  i64("iou_head_hidden_dim", s.iou_head_hidden_dim);
  i64("num_multimask_outputs", s.num_multimask_outputs);
  bl("dynamic_multimask_via_stability", s.dynamic_multimask_via_stability);
  dbl("dynamic_multimask_stability_delta", s.dynamic_multimask_stability_delta);
  dbl("dynamic_multimask_stability_thresh", s.dynamic_multimask_stability_thresh);
  c.finish();
  const std::string L = c.label();
  if (s.d_model % 8) throw Error(L + ": d_model " + std::to_string(s.d_model) + " must be a multiple of 8 (mask decoder)");
  if (s.d_model % s.mem_dim)
    throw Error(L + ": d_model " + std::to_string(s.d_model) + " must be a multiple of mem_dim " + std::to_string(s.mem_dim) +
                " (object pointers are split into d_model / mem_dim memory tokens)");
  if (s.num_maskmem < 1) throw Error(L + ": num_maskmem must be at least 1");
  if (s.image_size % s.backbone_stride) throw Error(L + ": image_size must be a multiple of backbone_stride");
  return s;
}

Sam3TrackerConfig sam3_full_tracker_config() { return Sam3TrackerConfig{}; }

// ---- memory bank --------------------------------------------------------------------------------

void Sam3TrackerMemory::add(int64_t frame_idx, bool is_cond, const Sam3TrackStepOutput& out) {
  (is_cond ? cond : non_cond)[frame_idx] = out;
  (is_cond ? non_cond : cond).erase(frame_idx);
}

void Sam3TrackerMemory::prune(int64_t next_frame, const Sam3TrackerConfig& c) {
  const int64_t keep_from = next_frame - (std::max(c.num_maskmem, c.max_obj_ptrs_in_encoder) - 1);
  non_cond.erase(non_cond.begin(), non_cond.lower_bound(keep_from));
}

int64_t Sam3TrackerMemory::num_objects() const {
  if (!cond.empty()) return cond.begin()->second.obj_ptr.size(0);
  if (!non_cond.empty()) return non_cond.begin()->second.obj_ptr.size(0);
  return 0;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> sam3_select_closest_cond_frames(int64_t frame_idx,
                                                                                      const std::vector<int64_t>& cond,
                                                                                      int64_t max_cond_frames,
                                                                                      bool keep_first_cond_frame) {
  if (max_cond_frames == -1 || static_cast<int64_t>(cond.size()) <= max_cond_frames) return {cond, {}};
  if (max_cond_frames < 2) throw Error("sam3 tracker: max_cond_frames_in_attn must be -1 or at least 2");
  std::vector<int64_t> sel;
  auto add = [&](int64_t t) {
    if (std::find(sel.begin(), sel.end(), t) == sel.end()) sel.push_back(t);
  };
  std::optional<int64_t> before, after;
  for (auto t : cond) {
    if (t < frame_idx) before = t;                  // ascending: the last one below is the closest
    if (t >= frame_idx && !after) after = t;
  }
  if (keep_first_cond_frame) {
    if (!cond.empty() && cond.front() < frame_idx) add(cond.front());
    else if (!cond.empty() && cond.back() > frame_idx) add(cond.back());  // reverse tracking
  }
  if (before) add(*before);
  if (after) add(*after);
  std::vector<int64_t> rest;
  for (auto t : cond)
    if (std::find(sel.begin(), sel.end(), t) == sel.end()) rest.push_back(t);
  std::stable_sort(rest.begin(), rest.end(),
                   [&](int64_t a, int64_t b) { return std::llabs(a - frame_idx) < std::llabs(b - frame_idx); });
  const int64_t remain = max_cond_frames - static_cast<int64_t>(sel.size());
  for (int64_t i = 0; i < remain && i < static_cast<int64_t>(rest.size()); ++i) sel.push_back(rest[i]);
  std::vector<int64_t> unsel;
  for (auto t : cond)
    if (std::find(sel.begin(), sel.end(), t) == sel.end()) unsel.push_back(t);
  return {sel, unsel};
}

// ---- module -------------------------------------------------------------------------------------

Sam3TrackerImpl::Sam3TrackerImpl(const Sam3TrackerConfig& c) : cfg_(c) {
  const int64_t d = c.d_model, mem = c.mem_dim;
  maskmem_tpos_enc_ = register_parameter("maskmem_tpos_enc", torch::zeros({c.num_maskmem, 1, 1, mem}));
  no_mem_embed_ = register_parameter("no_mem_embed", torch::zeros({1, 1, d}));
  no_mem_pos_enc_ = register_parameter("no_mem_pos_enc", torch::zeros({1, 1, d}));
  no_obj_ptr_ = register_parameter("no_obj_ptr", torch::zeros({1, d}));
  no_obj_embed_spatial_ = register_parameter("no_obj_embed_spatial", torch::zeros({1, mem}));
  mask_downsample_ = register_module("mask_downsample", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 1, 4).stride(4)));
  transformer_ = register_module("transformer", Sam3MemoryAttention(c));
  maskmem_backbone_ = register_module("maskmem_backbone", Sam3MemoryEncoder(c));
  sam_prompt_encoder_ = register_module("sam_prompt_encoder", Sam3PromptEncoder(c));
  sam_mask_decoder_ = register_module("sam_mask_decoder", Sam3MaskDecoder(c));
  obj_ptr_proj_ = register_module("obj_ptr_proj", Sam3SamMLP(d, d, d, 3));
  obj_ptr_tpos_proj_ = register_module("obj_ptr_tpos_proj", torch::nn::Linear(d, mem));
}

bool Sam3TrackerImpl::use_multimask(bool is_init_cond_frame, int64_t num_points) const {
  return cfg_.multimask_output_in_sam && (is_init_cond_frame || cfg_.multimask_output_for_tracking) &&
         cfg_.multimask_min_pt_num <= num_points && num_points <= cfg_.multimask_max_pt_num;
}

at::Tensor Sam3TrackerImpl::tpos_enc(const std::vector<int64_t>& rel_pos, int64_t max_abs_pos) {
  // _get_tpos_enc: rel / (max_abs_pos - 1) in float32, get_1d_sine_pe(dim=d) = [sin | cos] of pos / t_i with
  // t_i = 10000^(2*floor(i/2) / (d/2)), then obj_ptr_tpos_proj.
  const int64_t pe_dim = cfg_.d_model / 2;
  auto pos = torch::div(torch::tensor(rel_pos, torch::kLong), max_abs_pos - 1);
  auto dim_t = torch::arange(pe_dim, torch::kFloat);
  dim_t = torch::pow(10000, 2 * torch::floor_divide(dim_t, 2) / pe_dim);
  auto e = pos.unsqueeze(-1) / dim_t;
  auto pe = torch::cat({torch::sin(e), torch::cos(e)}, -1).to(no_obj_ptr_.options());
  return obj_ptr_tpos_proj_->forward(pe);
}

at::Tensor Sam3TrackerImpl::memory_conditioned_features(int64_t frame_idx, const at::Tensor& feat, const at::Tensor& pos,
                                                        const Sam3TrackerMemory& memory, int64_t num_frames,
                                                        TensorMap* trace) {
  const int64_t B = feat.size(0), C = cfg_.d_model, H = feat.size(2), W = feat.size(3), mem = cfg_.mem_dim;
  if (memory.cond.empty())
    throw Error("sam3 tracker: frame " + std::to_string(frame_idx) +
                " is not an initial conditioning frame but the memory has no conditioning frame (prompt a frame first)");
  std::vector<int64_t> cond_idx;
  for (const auto& [t, o] : memory.cond) cond_idx.push_back(t);
  auto [selected, unselected] =
      sam3_select_closest_cond_frames(frame_idx, cond_idx, cfg_.max_cond_frames_in_attn, cfg_.keep_first_cond_frame);
  auto find_prev = [&](int64_t t) -> const Sam3TrackStepOutput* {
    auto it = memory.non_cond.find(t);
    if (it != memory.non_cond.end()) return &it->second;
    if (std::find(unselected.begin(), unselected.end(), t) != unselected.end()) return &memory.cond.at(t);
    return nullptr;
  };

  // Mask memories: the selected conditioning frames (temporal position 0), then the last num_maskmem - 1
  // frames, oldest first (t_pos 1 .. num_maskmem - 1).
  std::vector<at::Tensor> prompt, prompt_pos;
  auto add_mem = [&](const Sam3TrackStepOutput& o, int64_t t) {
    if (!o.maskmem_features.defined())
      throw Error("sam3 tracker: a frame in the memory has no memory features (stored without run_mem_encoder)");
    prompt.push_back(o.maskmem_features.flatten(2).permute({2, 0, 1}));
    prompt_pos.push_back(o.maskmem_pos_enc.flatten(2).permute({2, 0, 1}) + maskmem_tpos_enc_[cfg_.num_maskmem - t - 1]);
  };
  for (auto t : selected) add_mem(memory.cond.at(t), 0);
  for (int64_t t_pos = 1; t_pos < cfg_.num_maskmem; ++t_pos) {
    const auto* o = find_prev(frame_idx - (cfg_.num_maskmem - t_pos));
    if (o) add_mem(*o, t_pos);
  }

  // Object pointers: the selected conditioning frames up to this frame, then up to max_ptrs - 1 previous frames.
  const int64_t max_ptrs = std::min(num_frames, cfg_.max_obj_ptrs_in_encoder);
  std::vector<int64_t> ptr_pos;
  std::vector<at::Tensor> ptrs;
  for (auto t : selected)
    if (t <= frame_idx) {
      ptr_pos.push_back(frame_idx - t);
      ptrs.push_back(memory.cond.at(t).obj_ptr);
    }
  for (int64_t t_diff = 1; t_diff < max_ptrs; ++t_diff) {
    const int64_t t = frame_idx - t_diff;
    if (t < 0 || t >= num_frames) break;
    if (const auto* o = find_prev(t)) {
      ptr_pos.push_back(t_diff);
      ptrs.push_back(o->obj_ptr);
    }
  }
  int64_t num_ptr_tokens = 0;
  if (!ptrs.empty()) {
    auto obj_ptrs = torch::stack(ptrs, 0);                                  // [N, B, C]
    auto obj_pos = tpos_enc(ptr_pos, max_ptrs).unsqueeze(1).expand({-1, B, -1});  // [N, B, mem]
    if (mem < C) {  // a pointer becomes C / mem tokens of width mem
      obj_ptrs = obj_ptrs.reshape({-1, B, C / mem, mem}).permute({0, 2, 1, 3}).flatten(0, 1);
      obj_pos = obj_pos.repeat_interleave(C / mem, 0);
    }
    prompt.push_back(obj_ptrs);
    prompt_pos.push_back(obj_pos);
    num_ptr_tokens = obj_ptrs.size(0);
  }
  auto p = torch::cat(prompt, 0), pp = torch::cat(prompt_pos, 0);
  put(trace, "intermediate.memory_attention.prompt", p);
  put(trace, "intermediate.memory_attention.prompt_pos", pp);
  put(trace, "intermediate.memory_attention.num_obj_ptr_tokens", torch::tensor(num_ptr_tokens, torch::kLong));
  auto src = feat.flatten(2).permute({2, 0, 1}), src_pos = pos.flatten(2).permute({2, 0, 1});
  auto out = transformer_->forward(src, src_pos, p, pp, num_ptr_tokens);
  put(trace, "intermediate.memory_attention.memory", out);
  return out.permute({1, 2, 0}).reshape({B, C, H, W});
}

Sam3TrackerImpl::HeadsOut Sam3TrackerImpl::forward_sam_heads(const at::Tensor& feat, const at::Tensor& coords_in,
                                                            const at::Tensor& labels_in, const at::Tensor& mask_inputs,
                                                            const at::Tensor& s0, const at::Tensor& s1, bool multimask,
                                                            TensorMap* trace) {
  const int64_t B = feat.size(0), G = cfg_.embedding_size();
  if (feat.size(1) != cfg_.d_model || feat.size(2) != G || feat.size(3) != G)
    throw Error("sam3 tracker: image embedding " + shape_str(feat.sizes()) + ", expected [B, " +
                std::to_string(cfg_.d_model) + ", " + std::to_string(G) + ", " + std::to_string(G) + "]");
  at::Tensor coords = coords_in, labels = labels_in;
  if (!coords.defined()) {  // no points: one padding point (label -1)
    coords = torch::zeros({B, 1, 2}, feat.options());
    labels = -torch::ones({B, 1}, torch::kLong);
  }
  at::Tensor mask_prompt;
  if (mask_inputs.defined()) {
    const int64_t m = cfg_.low_res_size();
    mask_prompt = (mask_inputs.size(-2) != m || mask_inputs.size(-1) != m)
                      ? bilinear(mask_inputs.to(torch::kFloat), m, m, /*antialias=*/true)
                      : mask_inputs;
    put(trace, "intermediate.prompt_encoder.mask_prompt", mask_prompt);
  }
  auto [sparse, dense] = sam_prompt_encoder_->forward(coords, labels, mask_prompt);
  put(trace, "intermediate.prompt_encoder.sparse", sparse);
  put(trace, "intermediate.prompt_encoder.dense", dense);
  put(trace, "intermediate.mask_decoder.image_embeddings", feat);
  auto dec = sam_mask_decoder_->forward(feat, sam_prompt_encoder_->dense_pe(), sparse, dense, multimask, s0, s1);
  put(trace, "intermediate.mask_decoder.masks", dec.masks);
  put(trace, "intermediate.mask_decoder.iou_pred", dec.iou_pred);
  put(trace, "intermediate.mask_decoder.sam_tokens_out", dec.sam_tokens_out);
  put(trace, "intermediate.mask_decoder.object_score_logits", dec.object_score_logits);
  put(trace, "intermediate.mask_decoder.multimask_output", torch::tensor(multimask));

  HeadsOut o;
  auto is_obj = dec.object_score_logits > 0;  // [B, 1]
  o.low_res_multimasks =
      torch::where(is_obj.view({B, 1, 1, 1}), dec.masks, torch::full_like(dec.masks, kNoObjScore)).to(torch::kFloat);
  o.high_res_multimasks = bilinear(o.low_res_multimasks, cfg_.image_size, cfg_.image_size, /*antialias=*/false);
  o.ious = dec.iou_pred;
  auto token = dec.sam_tokens_out.select(1, 0);
  if (multimask) {
    auto best = torch::argmax(dec.iou_pred, -1);
    auto bi = torch::arange(B, best.options());
    o.low_res_masks = o.low_res_multimasks.index({bi, best}).unsqueeze(1);
    o.high_res_masks = o.high_res_multimasks.index({bi, best}).unsqueeze(1);
    if (dec.sam_tokens_out.size(1) > 1) token = dec.sam_tokens_out.index({bi, best});
  } else {
    o.low_res_masks = o.low_res_multimasks;
    o.high_res_masks = o.high_res_multimasks;
  }
  auto lambda = is_obj.to(torch::kFloat);
  o.obj_ptr = lambda * obj_ptr_proj_(token);
  o.obj_ptr = o.obj_ptr + (1 - lambda) * no_obj_ptr_;
  o.object_score_logits = dec.object_score_logits;
  put(trace, "intermediate.sam_heads.low_res_multimasks", o.low_res_multimasks);
  put(trace, "intermediate.sam_heads.ious", o.ious);
  put(trace, "intermediate.sam_heads.low_res_masks", o.low_res_masks);
  put(trace, "intermediate.sam_heads.obj_ptr", o.obj_ptr);
  put(trace, "intermediate.sam_heads.object_score_logits", o.object_score_logits);
  return o;
}

Sam3TrackerImpl::HeadsOut Sam3TrackerImpl::use_mask_as_output(const at::Tensor& feat, const at::Tensor& s0,
                                                             const at::Tensor& s1, const at::Tensor& mask,
                                                             TensorMap* trace) {
  // The mask is the output: logits +-10, the low-res mask by antialiased downsampling; the pointer comes from
  // the SAM heads on mask_downsample(mask); presence is "any pixel set".
  const double out_scale = 20.0, out_bias = -10.0;
  auto m = mask.to(torch::kFloat);
  HeadsOut o;
  o.high_res_masks = m * out_scale + out_bias;
  o.low_res_masks = bilinear(o.high_res_masks, o.high_res_masks.size(-2) / cfg_.backbone_stride * 4,
                             o.high_res_masks.size(-1) / cfg_.backbone_stride * 4, /*antialias=*/true);
  o.ious = torch::ones({m.size(0), 1}, m.options());
  auto heads = forward_sam_heads(feat, {}, {}, mask_downsample_(m), s0, s1, /*multimask=*/false, trace);
  auto lambda = (m.flatten(1) > 0).any(1).unsqueeze(-1).to(torch::kFloat);  // [B, 1]
  o.object_score_logits = out_scale * lambda + out_bias;
  o.obj_ptr = lambda * heads.obj_ptr;
  o.obj_ptr = o.obj_ptr + (1 - lambda) * no_obj_ptr_;
  o.low_res_multimasks = o.low_res_masks;
  o.high_res_multimasks = o.high_res_masks;
  return o;
}

std::pair<at::Tensor, at::Tensor> Sam3TrackerImpl::encode_new_memory(const at::Tensor& feat,
                                                                     const at::Tensor& high_res_masks,
                                                                     const at::Tensor& object_score_logits,
                                                                     bool is_mask_from_pts, TensorMap* trace) {
  // Masks from clicks are binarised (eval); others go through a sigmoid; then * 20 - 10.
  auto m = is_mask_from_pts ? (high_res_masks > 0).to(torch::kFloat) : torch::sigmoid(high_res_masks);
  m = m * 20.0;
  m = m + (-10.0);
  auto enc = maskmem_backbone_->forward(feat, m);
  put(trace, "intermediate.memory_encoder.vision_features", enc.vision_features);
  put(trace, "intermediate.memory_encoder.vision_pos_enc", enc.vision_pos_enc);
  auto is_obj = (object_score_logits > 0).to(torch::kFloat);
  const int64_t B = enc.vision_features.size(0);
  auto features = enc.vision_features + (1 - is_obj.view({B, 1, 1, 1})) * no_obj_embed_spatial_.view({1, -1, 1, 1});
  return {features, enc.vision_pos_enc};
}

Sam3TrackStepOutput Sam3TrackerImpl::track_step(int64_t frame_idx, bool is_init_cond_frame, const Sam3TrackerFrame& frame,
                                                const Sam3TrackerPrompt& prompt, const Sam3TrackerMemory& memory,
                                                int64_t num_frames, bool run_mem_encoder, TensorMap* trace) {
  const int64_t d = cfg_.d_model, G = cfg_.embedding_size();
  if (prompt.has_points() && prompt.has_mask())
    throw Error("sam3 tracker: frame " + std::to_string(frame_idx) + " has both points and a mask (upstream allows one kind)");
  if (prompt.has_points() && (!prompt.point_labels.defined() || prompt.point_coords.dim() != 3 ||
                              prompt.point_coords.size(2) != 2 || prompt.point_labels.dim() != 2 ||
                              prompt.point_labels.size(0) != prompt.point_coords.size(0) ||
                              prompt.point_labels.size(1) != prompt.point_coords.size(1)))
    throw Error("sam3 tracker: point prompt: expected point_coords [B, P, 2] and point_labels [B, P], found " +
                shape_str(prompt.point_coords.sizes()) + " and " +
                (prompt.point_labels.defined() ? shape_str(prompt.point_labels.sizes()) : std::string("none")));
  if (prompt.has_mask() && (prompt.mask.dim() != 4 || prompt.mask.size(1) != 1))
    throw Error("sam3 tracker: mask prompt: expected [B, 1, H, W], found " + shape_str(prompt.mask.sizes()));
  int64_t B = prompt.has_points() ? prompt.point_coords.size(0)
              : prompt.has_mask() ? prompt.mask.size(0)
              : memory.num_objects() ? memory.num_objects()
                                     : frame.fpn2.size(0);
  if (memory.num_objects() && memory.num_objects() != B)
    throw Error("sam3 tracker: the prompt has " + std::to_string(B) + " objects, the memory " +
                std::to_string(memory.num_objects()));
  auto check = [&](const at::Tensor& t, const char* name, int64_t c, int64_t s) {
    if (!t.defined() || t.dim() != 4 || (t.size(0) != 1 && t.size(0) != B) || t.size(1) != c || t.size(2) != s ||
        t.size(3) != s)
      throw Error(std::string("sam3 tracker: frame feature ") + name + ": expected [1 or " + std::to_string(B) + ", " +
                  std::to_string(c) + ", " + std::to_string(s) + ", " + std::to_string(s) + "], found " +
                  (t.defined() ? shape_str(t.sizes()) : std::string("none")));
  };
  check(frame.fpn0, "fpn0 (4x)", d, 4 * G);
  check(frame.fpn1, "fpn1 (2x)", d, 2 * G);
  check(frame.fpn2, "fpn2 (1x)", d, G);
  check(frame.pos2, "pos2", d, G);
  // forward_image projects levels 0 and 1 once per frame; the objects share them (expand).
  auto s0 = sam_mask_decoder_->conv_s0(frame.fpn0).expand({B, -1, -1, -1});
  auto s1 = sam_mask_decoder_->conv_s1(frame.fpn1).expand({B, -1, -1, -1});
  auto feat = frame.fpn2.expand({B, -1, -1, -1});
  auto pos = frame.pos2.expand({B, -1, -1, -1});

  HeadsOut h;
  if (prompt.has_mask()) {
    if (prompt.mask.size(0) != B) throw Error("sam3 tracker: mask prompt batch differs from the objects");
    h = use_mask_as_output(feat, s0, s1, prompt.mask, trace);
  } else {
    at::Tensor pix = is_init_cond_frame ? feat + no_mem_embed_.view({1, d, 1, 1})
                                        : memory_conditioned_features(frame_idx, feat, pos, memory, num_frames, trace);
    put(trace, "intermediate.pix_feat_with_mem", pix);
    const int64_t n_pts = prompt.has_points() ? prompt.point_labels.size(1) : 0;
    h = forward_sam_heads(pix, prompt.point_coords, prompt.point_labels, {}, s0, s1,
                          use_multimask(is_init_cond_frame, n_pts), trace);
  }
  Sam3TrackStepOutput o;
  o.low_res_multimasks = h.low_res_multimasks;
  o.ious = h.ious;
  o.low_res_masks = h.low_res_masks;
  o.high_res_masks = h.high_res_masks;
  o.obj_ptr = h.obj_ptr;
  o.object_score_logits = h.object_score_logits;
  if (run_mem_encoder && cfg_.num_maskmem > 0)
    std::tie(o.maskmem_features, o.maskmem_pos_enc) =
        encode_new_memory(feat, o.high_res_masks, o.object_score_logits, prompt.has_points(), trace);
  return o;
}

Sam3TrackStepOutput Sam3TrackerImpl::track(int64_t frame_idx, bool is_init_cond_frame, const Sam3TrackerFrame& frame,
                                           const Sam3TrackerPrompt& prompt, Sam3TrackerMemory& memory, int64_t num_frames) {
  auto out = track_step(frame_idx, is_init_cond_frame, frame, prompt, memory, num_frames);
  memory.add(frame_idx, is_init_cond_frame || prompt.has_points() || prompt.has_mask(), out);
  memory.prune(frame_idx + 1, cfg_);
  return out;
}

// ---- checkpoint ---------------------------------------------------------------------------------

std::string sam3_load_tracker(Sam3Tracker& net, const std::string& path) {
  auto f = st::File::open(path);
  const auto sd = state_dict(*net);
  auto has_prefix = [&](const std::string& p) {
    for (const auto& t : f.tensors())
      if (t.name.rfind(p, 0) == 0) return true;
    return false;
  };
  std::string prefix;
  if (has_prefix("tracker."))
    prefix = "tracker.";
  else if (has_prefix("inst_interactive_predictor.model."))
    prefix = "inst_interactive_predictor.model.";
  else if (!sd.empty() && f.find(sd.front().first) != nullptr)
    prefix = "";  // a tracker-only file
  else {
    std::vector<std::string> keys;
    for (const auto& t : f.tensors()) keys.push_back(t.name);
    throw Error(path + " is " + sam3_checkpoint_kind(keys).describe() + ": it has no SAM 3 tracker (expected " +
                std::to_string(sd.size()) + " keys under tracker. or inst_interactive_predictor.model., e.g. tracker." +
                sd.front().first + ")");
  }
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
  if (n) throw Error(path + ": " + std::to_string(n) + " tracker key(s) missing or mis-shaped (nothing was loaded):" + problems);
  BindOptions opt;
  opt.strict = prefix.empty();  // a tracker-only file must hold nothing else
  opt.prefix = prefix;
  auto rep = load_state_dict(*net, f, opt);
  if (!rep.missing.empty() || !rep.mismatched.empty()) throw Error(path + ": " + rep.summary());
  return prefix;
}

// ---- arch ---------------------------------------------------------------------------------------

namespace {
class Sam3TrackerModel : public ArchModel {
 public:
  explicit Sam3TrackerModel(Config& c) : net_(Sam3TrackerConfig::from(c)) { net_->eval(); }
  torch::nn::Module& module() override { return *net_; }
  // One initial conditioning frame (a video's first prompted frame): input.backbone_fpn.{0,1,2},
  // input.vision_pos_enc.2 and input.points + input.point_labels or input.mask.
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    const char* A = "sam3_tracker";
    Sam3TrackerFrame f{require_input(in, "backbone_fpn.0", A), require_input(in, "backbone_fpn.1", A),
                       require_input(in, "backbone_fpn.2", A), require_input(in, "vision_pos_enc.2", A)};
    auto opt = [&](const char* k) {
      auto it = in.find(k);
      return it == in.end() ? at::Tensor() : it->second;
    };
    Sam3TrackerPrompt p{opt("points"), opt("point_labels"), opt("mask")};
    TensorMap out;
    Sam3TrackerMemory mem;
    auto r = net_->track_step(0, true, f, p, mem, 1, true, &out);
    out["output.low_res_masks"] = r.low_res_masks;
    out["output.high_res_masks"] = r.high_res_masks;
    out["output.obj_ptr"] = r.obj_ptr;
    out["output.object_score_logits"] = r.object_score_logits;
    out["output.maskmem_features"] = r.maskmem_features;
    out["output.maskmem_pos_enc"] = r.maskmem_pos_enc;
    return out;
  }

 private:
  Sam3Tracker net_;
};
}  // namespace

Arch sam3_tracker_arch() {
  return {"sam3_tracker",
          "SAM 3 tracker (memory attention with 2D RoPE, SAM prompt encoder and mask decoder, object pointers, memory "
          "encoder; per-frame track_step) on the tracker neck's features (facebookresearch/sam3 Sam3TrackerBase)",
          [](Config& c) { return std::make_unique<Sam3TrackerModel>(c); }};
}

}  // namespace eh::models
