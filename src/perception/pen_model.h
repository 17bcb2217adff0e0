// The pen-tiny segmenters as modules. Teacher: SAM 3 PE-ViT trunk + Sam3DualViTDetNeck detector
// neck + dense instance head. Student: the student encoder substituted for the trunk, in front of
// the teacher's frozen necks and head. Preprocessing mirrors the full-size system: the teacher
// resizes the frame to its trunk's square img_size (SAM 3 resizes to 1008 x 1008) and normalises
// with mean = std = 0.5; the student resizes to its square input_size (TinyViT's native input)
// and normalises with ImageNet statistics.
#pragma once
#include <torch/nn.h>

#include <nlohmann/json.hpp>
#include <string>

#include "models/sam3/neck.h"
#include "models/student_encoder.h"
#include "perception/decode.h"
#include "perception/instance_head.h"

namespace eh::perception {

// teacher/config.json: {"arch": "pen_segmenter", "backbone": {sam3_backbone config},
// "head": {HeadConfig}, "decode": {DecodeOptions}}.
struct PenModelConfig {
  models::Sam3BackboneConfig backbone;
  HeadConfig head;
  DecodeOptions decode;
  nlohmann::json json;  // as read (written back next to trained weights)
  static PenModelConfig from(Config& c);
  static PenModelConfig load(const std::string& path);
  int64_t input_size() const { return backbone.trunk.img_size; }
  int64_t head_size() const { return 4 * backbone.trunk.grid(); }  // side of the head maps (the 4x neck level)
  int levels() const { return static_cast<int>(head.levels); }
};

// The decode options of a student in front of this teacher's head: the teacher's, with the fields
// of the student config's optional "decode" object over them (the student's maps are calibrated
// differently though the head is the same). Throws naming the file and field on a bad value.
DecodeOptions student_decode(const PenModelConfig& teacher, const Config& student);

class PenModelImpl : public torch::nn::Module {
 public:
  explicit PenModelImpl(const PenModelConfig& cfg);
  // rgb01: [B, 3, S, S] RGB in [0, 1] at input_size (resized here otherwise). Head maps [B, 4, h, w].
  at::Tensor forward(const at::Tensor& rgb01);
  at::Tensor trunk(const at::Tensor& rgb01);          // [B, C, g, g] (what the student imitates)
  at::Tensor heads(const at::Tensor& trunk_map);      // necks + head on a trunk map
  models::Sam3DualViTDetNeck backbone{nullptr};
  InstanceHead head{nullptr};
  const PenModelConfig& config() const { return cfg_; }

 private:
  PenModelConfig cfg_;
};
TORCH_MODULE(PenModel);

// The student pipeline: student encoder -> teacher's necks + head (both frozen).
class PenStudentImpl : public torch::nn::Module {
 public:
  PenStudentImpl(const models::StudentConfig& s, const PenModelConfig& teacher);
  at::Tensor forward(const at::Tensor& rgb01);  // [B, 3, S, S] at the student's input_size
  models::StudentEncoder encoder{nullptr};
  PenModel teacher{nullptr};  // only necks and head are used (the trunk holds no loaded weights)

 private:
  int64_t size_;
};
TORCH_MODULE(PenStudent);

// Square resize (INTER_AREA) of a BGR frame to RGB float [1, 3, S, S] in [0, 1].
at::Tensor frame_to_tensor(const cv::Mat& bgr, int64_t size);
// Channel 0/1 of the head map as probabilities, offsets as they are: one frame of [B, 4, h, w].
HeadMaps to_head_maps(const at::Tensor& head, int64_t b = 0);
// Resize to a square of `size` (bilinear), no-op when it already is.
at::Tensor resize_square(const at::Tensor& x, int64_t size);

}  // namespace eh::perception
