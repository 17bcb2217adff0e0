// Configuration of the SAM 3 tracker (`Sam3TrackerBase` as sam3.model_builder.build_tracker builds it,
// facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e). Field names follow the upstream
// constructor arguments; sizes that upstream hard-codes in _create_tracker_* / _build_sam_heads are
// fields here so a reduced model can be built for the fixture. The defaults are the released model.
#pragma once
#include <cstdint>

#include "core/config.h"

namespace eh::models {

struct Sam3TrackerConfig {
  int64_t d_model = 256;     // hidden_dim (transformer.d_model)
  int64_t mem_dim = 64;      // maskmem_backbone.out_proj output channels
  int64_t image_size = 1008, backbone_stride = 14;
  int64_t num_maskmem = 7;
  int64_t max_obj_ptrs_in_encoder = 16;
  int64_t max_cond_frames_in_attn = 4;  // -1: no limit
  bool keep_first_cond_frame = false;
  bool multimask_output_in_sam = true;
  int64_t multimask_min_pt_num = 0, multimask_max_pt_num = 1;
  bool multimask_output_for_tracking = true;
  // memory attention (_create_tracker_transformer)
  int64_t memory_attention_layers = 4, memory_attention_heads = 1, memory_attention_ffn = 2048;
  double rope_theta = 10000.0;
  // memory encoder (_create_tracker_maskmem_backbone)
  int64_t fuser_layers = 2, fuser_kernel_size = 7;
  int64_t mask_downsampler_kernel_size = 3, mask_downsampler_stride = 2, mask_downsampler_padding = 1;
  int64_t mask_downsampler_total_stride = 16, mask_downsampler_interpol_size = 1152;
  // SAM heads (_build_sam_heads)
  int64_t mask_in_chans = 16;
  int64_t decoder_depth = 2, decoder_heads = 8, decoder_mlp_dim = 2048, iou_head_hidden_dim = 256;
  int64_t num_multimask_outputs = 3;
  bool dynamic_multimask_via_stability = true;
  double dynamic_multimask_stability_delta = 0.05, dynamic_multimask_stability_thresh = 0.98;

  // Fields as written by tools/fixtures/sam3_tracker/gen.py (plus "class", "upstream", ignored);
  // unknown fields are errors.
  static Sam3TrackerConfig from(Config& c);
  int64_t embedding_size() const { return image_size / backbone_stride; }  // G: the image embedding is G x G
  int64_t low_res_size() const { return 4 * embedding_size(); }
};

// The released tracker (sam3.pt `tracker.*`): 11,743,362 parameters.
Sam3TrackerConfig sam3_full_tracker_config();

}  // namespace eh::models
