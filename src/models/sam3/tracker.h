// SAM 3 tracker: `Sam3TrackerBase` (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e,
// sam3/model/sam3_tracker_base.py) as sam3/model_builder.py `build_tracker` builds it for the video model:
// memory attention on the current frame's image embedding, SAM prompt encoder + mask decoder with object
// score and multimask, object pointers, memory encoder, and the per-frame `track_step` with its memory
// bank (conditioning frames kept, the last num_maskmem - 1 frames' mask memories, object pointers of up to
// max_obj_ptrs_in_encoder frames). No backbone of its own: it takes the vision backbone's tracker neck
// (`sam2_convs`) levels 4x, 2x, 1x and the 1x level's sine position encoding.
//
// Module names equal the keys under `tracker.` in sam3.pt (309 keys, 11,743,362 parameters + the prompt
// encoder's 256-element Gaussian matrix buffer). Eval only; fp32.
#pragma once
#include <torch/nn.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/registry.h"
#include "models/sam3/memory.h"
#include "models/sam3/sam_heads.h"
#include "models/sam3/tracker_config.h"

namespace eh::models {

// One frame of tracker-neck features. Batch 1 (expanded to the objects, as Sam3TrackerPredictor does) or
// one row per object.
struct Sam3TrackerFrame {
  at::Tensor fpn0;  // 4x level [1|B, d, 4G, 4G] (raw neck output; conv_s0 is applied here)
  at::Tensor fpn1;  // 2x level [1|B, d, 2G, 2G] (conv_s1 applied here)
  at::Tensor fpn2;  // 1x level, the image embedding [1|B, d, G, G]
  at::Tensor pos2;  // its sine position encoding [1|B, d, G, G]
};

// Prompts of one frame for the B objects (at most one kind per frame, as upstream asserts).
struct Sam3TrackerPrompt {
  at::Tensor point_coords;  // [B, P, 2] float, absolute pixels x, y at image_size
  at::Tensor point_labels;  // [B, P] integer: 1 positive, 0 negative, -1 padding, 2 / 3 box corners
  at::Tensor mask;          // [B, 1, H, W] bool or float (> 0 = object), any size (upstream: image size)
  bool has_points() const { return point_coords.defined(); }
  bool has_mask() const { return mask.defined(); }
};

// What track_step returns; the memory bank keeps low_res_masks .. maskmem_pos_enc.
struct Sam3TrackStepOutput {
  at::Tensor low_res_multimasks;   // [B, M, 4G, 4G] (NO_OBJ_SCORE = -1024 where no object)
  at::Tensor ious;                 // [B, M]
  at::Tensor low_res_masks;        // [B, 1, 4G, 4G]  ("pred_masks")
  at::Tensor high_res_masks;       // [B, 1, S, S]    ("pred_masks_high_res")
  at::Tensor obj_ptr;              // [B, d]
  at::Tensor object_score_logits;  // [B, 1]
  at::Tensor maskmem_features;     // [B, mem_dim, G, G] (undefined without run_mem_encoder)
  at::Tensor maskmem_pos_enc;      // [B, mem_dim, G, G]
};

// The output dictionary of upstream's track_step loop for B objects tracked together:
// {cond_frame_outputs, non_cond_frame_outputs} by frame index.
struct Sam3TrackerMemory {
  std::map<int64_t, Sam3TrackStepOutput> cond, non_cond;
  // Stores a frame's output (as a conditioning frame when `is_cond`: the initial prompted frame and frames
  // with correction prompts, as Sam3TrackerPredictor does).
  void add(int64_t frame_idx, bool is_cond, const Sam3TrackStepOutput& out);
  // Drops non-conditioning frames that forward tracking from `next_frame` on can no longer reach (older than
  // max(num_maskmem, max_obj_ptrs_in_encoder) - 1 frames before it). Conditioning frames are kept.
  void prune(int64_t next_frame, const Sam3TrackerConfig& c);
  int64_t num_objects() const;  // 0 when empty
  bool empty() const { return cond.empty() && non_cond.empty(); }
};

class Sam3TrackerImpl : public torch::nn::Module {
 public:
  explicit Sam3TrackerImpl(const Sam3TrackerConfig& cfg);

  // Sam3TrackerBase.track_step (forward in time, memory stride 1, eval): frame `frame_idx` of a video of
  // `num_frames` frames, for the objects of `memory` (or of the prompt). On a mask frame the mask is the
  // output (_use_mask_as_output); otherwise the image embedding is conditioned on the memory (or gets
  // no_mem_embed on an initial conditioning frame) and the SAM heads run with the points (if any). Then the
  // memory encoder encodes the chosen high-res mask. Does not store anything: call memory.add().
  // `trace` receives the fixture's intermediates ("intermediate.*").
  Sam3TrackStepOutput track_step(int64_t frame_idx, bool is_init_cond_frame, const Sam3TrackerFrame& frame,
                                 const Sam3TrackerPrompt& prompt, const Sam3TrackerMemory& memory, int64_t num_frames,
                                 bool run_mem_encoder = true, TensorMap* trace = nullptr);
  // track_step, then memory.add() (as a conditioning frame when the frame is prompted) and memory.prune().
  Sam3TrackStepOutput track(int64_t frame_idx, bool is_init_cond_frame, const Sam3TrackerFrame& frame,
                            const Sam3TrackerPrompt& prompt, Sam3TrackerMemory& memory, int64_t num_frames);

  // Pieces of the step, public for the component parity tests.
  // _prepare_memory_conditioned_features for a non-initial frame: image embedding [B, d, G, G] fused with the memory.
  at::Tensor memory_conditioned_features(int64_t frame_idx, const at::Tensor& feat, const at::Tensor& pos,
                                         const Sam3TrackerMemory& memory, int64_t num_frames, TensorMap* trace = nullptr);
  // _encode_new_memory: (maskmem_features, maskmem_pos_enc).
  std::pair<at::Tensor, at::Tensor> encode_new_memory(const at::Tensor& feat, const at::Tensor& high_res_masks,
                                                      const at::Tensor& object_score_logits, bool is_mask_from_pts,
                                                      TensorMap* trace = nullptr);
  // Whether the SAM heads give 3 masks (upstream _use_multimask).
  bool use_multimask(bool is_init_cond_frame, int64_t num_points) const;

  const Sam3TrackerConfig& config() const { return cfg_; }
  Sam3PromptEncoder prompt_encoder() const { return sam_prompt_encoder_; }
  Sam3MaskDecoder mask_decoder() const { return sam_mask_decoder_; }
  Sam3MemoryEncoder memory_encoder() const { return maskmem_backbone_; }
  Sam3MemoryAttention memory_attention() const { return transformer_; }

 private:
  struct HeadsOut {
    at::Tensor low_res_multimasks, high_res_multimasks, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits;
  };
  HeadsOut forward_sam_heads(const at::Tensor& feat, const at::Tensor& coords, const at::Tensor& labels,
                             const at::Tensor& mask_inputs, const at::Tensor& s0, const at::Tensor& s1, bool multimask,
                             TensorMap* trace);
  HeadsOut use_mask_as_output(const at::Tensor& feat, const at::Tensor& s0, const at::Tensor& s1, const at::Tensor& mask,
                              TensorMap* trace);
  at::Tensor tpos_enc(const std::vector<int64_t>& rel_pos, int64_t max_abs_pos);

  Sam3TrackerConfig cfg_;
  at::Tensor maskmem_tpos_enc_, no_mem_embed_, no_mem_pos_enc_, no_obj_ptr_, no_obj_embed_spatial_;
  torch::nn::Conv2d mask_downsample_{nullptr};
  Sam3MemoryAttention transformer_{nullptr};
  Sam3MemoryEncoder maskmem_backbone_{nullptr};
  Sam3PromptEncoder sam_prompt_encoder_{nullptr};
  Sam3MaskDecoder sam_mask_decoder_{nullptr};
  Sam3SamMLP obj_ptr_proj_{nullptr};
  torch::nn::Linear obj_ptr_tpos_proj_{nullptr};
};
TORCH_MODULE(Sam3Tracker);

// upstream select_closest_cond_frames: up to max_cond_frames conditioning frames closest to frame_idx (the
// closest before, the closest at/after, then the nearest others; -1 = all). `cond` ascending. Returns (selected,
// in upstream's dict order, which is the order of the memories; unselected, ascending).
std::pair<std::vector<int64_t>, std::vector<int64_t>> sam3_select_closest_cond_frames(int64_t frame_idx,
                                                                                      const std::vector<int64_t>& cond,
                                                                                      int64_t max_cond_frames,
                                                                                      bool keep_first_cond_frame);

// Binds the tracker part of a SAM 3 checkpoint (safetensors): the video model's sam3.pt (keys `tracker.*`), an
// image model with instance interactivity (`inst_interactive_predictor.model.*`) or a tracker-only file (no
// prefix). Before anything is copied it checks that every key of `net` is there with its shape; a file without
// the tracker is an eh::Error saying what the file is. Other groups are left alone. Returns the prefix used.
std::string sam3_load_tracker(Sam3Tracker& net, const std::string& path);

Arch sam3_tracker_arch();

}  // namespace eh::models
