// SAM 3 detector heads: the part of `Sam3Image` after the backbone (facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e): geometry (prompt) encoder `sam3/model/geometry_encoders.py`
// SequenceGeometryEncoder, fusion encoder `sam3/model/encoder.py` TransformerEncoderFusion, DETR-style
// decoder with presence token and box-RPB `sam3/model/decoder.py` TransformerDecoder, score head
// `sam3/model/model_misc.py` DotProductScoring, mask head `sam3/model/maskformer_segmentation.py`
// UniversalSegmentationHead + PixelDecoder, wired as `sam3/model/sam3_image.py` Sam3Image.forward_grounding
// (the per-frame detector call of the video model), with the arguments of `sam3/model_builder.py`.
//
// Module names equal the upstream keys under `detector.` in sam3.pt: `geometry_encoder.*`,
// `transformer.encoder.*`, `transformer.decoder.*`, `segmentation_head.*`, `dot_prod_scoring.*`.
// Input: the vision backbone's detector-neck levels (after SAM3VLBackbone's scalp: 4x, 2x, 1x) and
// the prompt's text features after the language backbone's resizer with their padding mask, so the
// text encoder is not needed at inference (the "pig" embedding can be computed once and stored), and
// optionally box and point prompts (Sam3GeometricPrompt) encoded by the geometry encoder next to the text.
#pragma once
#include <torch/nn.h>

#include <string>
#include <vector>

#include "core/config.h"
#include "models/registry.h"

namespace eh::models {

struct Sam3DetectorConfig {
  int64_t d_model = 256, num_heads = 8, dim_feedforward = 2048;
  int64_t num_encoder_layers = 6, num_decoder_layers = 6, num_geometry_layers = 3;
  int64_t num_queries = 200;
  int64_t resolution = 1008, stride = 14;  // the decoder's box-RPB coordinate cache size (resolution / stride)
  bool presence_token = true;
  bool supervise_joint_box_scores = true;  // video model: score = inv_sigmoid(sigmoid(score) * sigmoid(presence))
  int64_t upsampling_stages = 3;
  int64_t prompt_mlp_hidden_dim = 2048;
  int64_t roi_size = 7;
  double pos_temperature = 10000.0;
  // Fields as written by tools/fixtures/sam3_detector/gen.py; unknown fields are errors.
  static Sam3DetectorConfig from(Config& c);
};

// The released detector (sam3.pt `detector.*` minus backbone): 32,745,270 parameters.
Sam3DetectorConfig sam3_full_detector_config();

struct Sam3DetectorOutput {
  at::Tensor pred_logits;         // [B, Q, 1] (joint with presence when supervise_joint_box_scores)
  at::Tensor pred_boxes;          // [B, Q, 4] cx, cy, w, h in [0, 1]
  at::Tensor pred_boxes_xyxy;     // [B, Q, 4]
  at::Tensor presence_logit_dec;  // [B, 1]
  at::Tensor pred_masks;          // [B, Q, 4h, 4w] mask logits at the 4x level
  at::Tensor semantic_seg;        // [B, 1, 4h, 4w]
  at::Tensor queries;             // [B, Q, d] last decoder layer, normed
};

// Box and point prompts (upstream's `geometry_encoders.Prompt`, sam3/model/geometry_encoders.py), batch-first:
// one row per prompt (= per image of the batch). Boxes are normalized cx, cy, w, h in [0, 1] of the image
// (the format Sam3Image and Sam3Processor.add_geometric_prompt take), points normalized x, y. Labels int64,
// 1 = positive, 0 = negative (add_geometric_prompt's True / False). Masks bool, true = padding; padding
// must be on the right of each row (upstream asserts the same). An undefined `boxes` / `points` is no prompt
// of that kind; undefined labels are all positive, an undefined mask all valid.
struct Sam3GeometricPrompt {
  at::Tensor boxes, box_labels, box_mask;        // [B, N, 4] float, [B, N] int64, [B, N] bool
  at::Tensor points, point_labels, point_mask;   // [B, M, 2] float, [B, M] int64, [B, M] bool
};

class Sam3DetectorImpl : public torch::nn::Module {
 public:
  explicit Sam3DetectorImpl(const Sam3DetectorConfig& cfg);
  // feats: the three neck levels [B, d, 4h, 4w], [B, d, 2h, 2w], [B, d, h, w] (one image per prompt);
  // text: [T, B, d] (seq-first); text_mask: [B, T] bool, true = padding. `trace` receives the
  // fixture's intermediates ("intermediate.*").
  Sam3DetectorOutput forward(const std::vector<at::Tensor>& feats, const at::Tensor& text, const at::Tensor& text_mask,
                             TensorMap* trace = nullptr);
  // The same with box and/or point prompts next to the text (Sam3Image.forward_grounding with a geometric
  // prompt: the prompt is the text tokens, then the geometry encoder's point, box and cls tokens). An empty
  // `geo` is the text-only call above.
  Sam3DetectorOutput forward(const std::vector<at::Tensor>& feats, const at::Tensor& text, const at::Tensor& text_mask,
                             const Sam3GeometricPrompt& geo, TensorMap* trace = nullptr);
  const Sam3DetectorConfig& config() const { return cfg_; }

 private:
  Sam3DetectorConfig cfg_;
  std::shared_ptr<torch::nn::Module> geometry_, transformer_, segmentation_, scoring_;
};
TORCH_MODULE(Sam3Detector);

// Binds the detector part of a SAM 3 checkpoint (safetensors): the video model's sam3.pt (keys
// `detector.*`, converted with --drop '\.attn\.freqs_cis$') or the image model's (no prefix). Before
// anything is copied it checks that every key of `net` is there with its shape: a checkpoint without
// the detector's key groups is an eh::Error naming what the file is and the missing groups (see
// sam3_check_checkpoint); single missing or mis-shaped keys are listed. Other groups (backbone, text
// encoder, tracker) are left alone. Returns the prefix used ("detector." or "").
std::string sam3_load_detector(Sam3Detector& net, const std::string& path);

Arch sam3_detector_arch();

}  // namespace eh::models
