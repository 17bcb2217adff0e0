// The student encoder: TinyViT trunk + FPN + a fusion/projection head that yields exactly what
// the SAM 3 trunk yields (a [B, C_teacher, G, G] map; full size 1024 x 72 x 72 for a 1008 frame),
// so it substitutes the teacher trunk in front of SAM 3's necks. Design and its reasons:
// docs/student.md.
#pragma once
#include <torch/nn.h>

#include "core/config.h"
#include "models/fpn.h"
#include "models/registry.h"
#include "models/tinyvit.h"

namespace eh::models {

struct StudentConfig {
  TinyViTConfig trunk;
  int64_t fpn_channels = 256;
  int64_t first_level = 1;      // trunk stages first_level..3 feed the FPN (stage 0 is too costly at full res)
  int64_t fuse_channels = 512;  // width of the fusion block before the projection to out_channels
  int64_t input_size = 512;    // the frame is resized to this square before the trunk
  int64_t out_channels = 1024; // teacher trunk width
  int64_t out_grid = 72;       // teacher trunk grid (1008 / 14)
  static StudentConfig from(Config& c);
  static StudentConfig full_size();  // TinyViT-21M-512 widths, 256-channel FPN on stages 1-3, 512 input -> 1024 x 72 x 72
};

class StudentEncoderImpl : public torch::nn::Module {
 public:
  explicit StudentEncoderImpl(const StudentConfig& cfg);
  // frame: [B, 3, H, W] normalised RGB at any size; resized (bilinear) to input_size.
  at::Tensor forward(const at::Tensor& frame, TensorMap* trace = nullptr);
  const StudentConfig& config() const { return cfg_; }
  TinyViT trunk{nullptr};
  FeaturePyramidNetwork fpn{nullptr};

 private:
  StudentConfig cfg_;
  torch::nn::Conv2d fuse_{nullptr}, dw_{nullptr}, proj_{nullptr};
  torch::nn::GroupNorm norm_{nullptr};
};
TORCH_MODULE(StudentEncoder);

Arch student_arch();

}  // namespace eh::models
