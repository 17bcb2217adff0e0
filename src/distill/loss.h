// The four-term direction-then-scale distillation loss (formulas: docs/distillation.md).
// Student and teacher trunk maps are [B, C, H, W] of equal shape; every spatial position is a
// token. Direction terms (1: direction, 3: structure) are scale-invariant and train from the
// first step; scale terms (2: scale, 4: downstream through the teacher's frozen necks) ramp in
// after a warm-up, so the student first learns where features point, then how long they are.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace eh::distill {

struct LossConfig {
  double w_direction = 1.0, w_scale = 1.0, w_structure = 1.0, w_downstream = 1.0;
  int64_t warmup_steps = 200;  // scale terms are off before this step ...
  int64_t ramp_steps = 200;    // ... and reach full weight linearly over this many steps
  bool scale_first = false;    // ablation: swap the roles (scale terms first, direction later)
  int64_t structure_tokens = 256;  // positions sampled per image for the affinity term
  double eps = 1e-6;
};

// Multipliers of the two groups at a training step (each in [0, 1]).
struct Schedule {
  double direction_group = 1, scale_group = 1;
};
Schedule schedule_at(const LossConfig& c, int64_t step);

struct LossTerms {
  at::Tensor direction, scale, structure, downstream;  // unweighted, scalar tensors
  at::Tensor total;                                     // weighted by config and schedule
};

// `idx`: [K] flat spatial positions for the structure term (same for the whole batch), drawn by
// the caller so runs are reproducible. Neck lists may be empty (term 4 is then zero).
LossTerms distill_loss(const at::Tensor& student, const at::Tensor& teacher, const std::vector<at::Tensor>& student_necks,
                       const std::vector<at::Tensor>& teacher_necks, const at::Tensor& idx, const LossConfig& cfg,
                       int64_t step);

// Individual terms, exposed for tests and the evaluation of a trained student.
at::Tensor direction_term(const at::Tensor& s, const at::Tensor& t, double eps);   // mean(1 - cos)
at::Tensor scale_term(const at::Tensor& s, const at::Tensor& t, double eps);       // mean((log|s| - log|t|)^2)
at::Tensor structure_term(const at::Tensor& s, const at::Tensor& t, const at::Tensor& idx, double eps);
at::Tensor downstream_term(const std::vector<at::Tensor>& s, const std::vector<at::Tensor>& t, double eps);
// Mean per-token cosine between two maps: the headline agreement figure.
double mean_cosine(const at::Tensor& s, const at::Tensor& t);

}  // namespace eh::distill
