// The teacher and student as the distiller sees them: RGB frames in [0, 1] in, trunk-level maps
// out; the teacher also exposes its frozen necks for the downstream term. Each applies its own
// preprocessing (resize, normalisation), which is part of the teacher's cache fingerprint.
#pragma once
#include <torch/nn.h>

#include <memory>
#include <string>
#include <vector>

#include "models/student_encoder.h"

namespace eh::distill {

class Teacher {
 public:
  virtual ~Teacher() = default;
  virtual torch::nn::Module& module() = 0;
  virtual at::Tensor trunk(const at::Tensor& rgb01) = 0;                      // [B, C, G, G]
  virtual std::vector<at::Tensor> necks(const at::Tensor& trunk_map) = 0;     // frozen, differentiable
  // necks(), and in `heads` the raw outputs of the teacher's frozen task heads on the same pass
  // (for a supervised term on the student, TrainOptions::task_loss); undefined when it has none.
  virtual std::vector<at::Tensor> necks_and_heads(const at::Tensor& trunk_map, at::Tensor& heads) {
    heads = at::Tensor();
    return necks(trunk_map);
  }
  // Architecture, config, weights checksum and preprocessing: what makes cached maps valid.
  virtual std::string fingerprint() const = 0;
};

// No gradients into the module's parameters, eval mode: how every teacher is held.
void freeze(torch::nn::Module& m);

// Builds a registered teacher architecture ("sam3_backbone") from its config and weights.
std::unique_ptr<Teacher> make_teacher(const std::string& arch, const std::string& config, const std::string& weights);

// The student encoder with its preprocessing (ImageNet normalisation; it resizes internally).
struct Student {
  models::StudentEncoder net{nullptr};
  Student(const std::string& config, const std::string& weights);  // weights may be empty: fresh init
  at::Tensor forward(const at::Tensor& rgb01);
};

}  // namespace eh::distill
