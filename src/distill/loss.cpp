#include "distill/loss.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"
#include "core/tensor_io.h"

namespace eh::distill {

namespace {
// [B, C, H, W] -> [B, HW, C]
at::Tensor tokens(const at::Tensor& x) { return x.flatten(2).transpose(1, 2); }
}  // namespace

Schedule schedule_at(const LossConfig& c, int64_t step) {
  double late = 0;
  if (step >= c.warmup_steps)
    late = c.ramp_steps > 0 ? std::min(1.0, double(step - c.warmup_steps + 1) / double(c.ramp_steps)) : 1.0;
  Schedule s;
  if (c.scale_first) s.direction_group = late;
  else s.scale_group = late;
  return s;
}

at::Tensor direction_term(const at::Tensor& s, const at::Tensor& t, double eps) {
  auto a = tokens(s), b = tokens(t);
  auto cos = (a * b).sum(-1) / (a.norm(2, -1) * b.norm(2, -1)).clamp_min(eps);
  return (1 - cos).mean();
}

at::Tensor scale_term(const at::Tensor& s, const at::Tensor& t, double eps) {
  auto ns = tokens(s).norm(2, -1), nt = tokens(t).norm(2, -1);
  return (torch::log(ns + eps) - torch::log(nt + eps)).pow(2).mean();
}

at::Tensor structure_term(const at::Tensor& s, const at::Tensor& t, const at::Tensor& idx, double eps) {
  auto pick = [&](const at::Tensor& x) {
    auto k = tokens(x).index_select(1, idx);              // [B, K, C]
    return k / k.norm(2, -1, true).clamp_min(eps);
  };
  auto as = pick(s), at_ = pick(t);
  auto gs = torch::bmm(as, as.transpose(1, 2)), gt = torch::bmm(at_, at_.transpose(1, 2));  // cosine affinities
  return (gs - gt).pow(2).mean();
}

at::Tensor downstream_term(const std::vector<at::Tensor>& s, const std::vector<at::Tensor>& t, double eps) {
  if (s.size() != t.size()) throw Error("distill: student and teacher neck outputs differ in count");
  if (s.empty()) return torch::zeros({});
  at::Tensor sum = torch::zeros({}, s[0].options());
  for (size_t i = 0; i < s.size(); ++i) {
    // Relative squared error per image, so every scale counts alike whatever its magnitude.
    auto num = (s[i] - t[i]).pow(2).flatten(1).sum(1);
    auto den = t[i].pow(2).flatten(1).sum(1) + eps;
    sum = sum + (num / den).mean();
  }
  return sum / static_cast<double>(s.size());
}

LossTerms distill_loss(const at::Tensor& student, const at::Tensor& teacher, const std::vector<at::Tensor>& student_necks,
                       const std::vector<at::Tensor>& teacher_necks, const at::Tensor& idx, const LossConfig& cfg,
                       int64_t step) {
  if (student.sizes() != teacher.sizes())
    throw Error("distill: student map " + shape_str(student.sizes()) + " and teacher map " + shape_str(teacher.sizes()) +
                " differ; the student must yield exactly the teacher trunk's shape");
  LossTerms L;
  L.direction = direction_term(student, teacher, cfg.eps);
  L.scale = scale_term(student, teacher, cfg.eps);
  L.structure = structure_term(student, teacher, idx, cfg.eps);
  L.downstream = downstream_term(student_necks, teacher_necks, cfg.eps).to(student.dtype());
  auto sch = schedule_at(cfg, step);
  L.total = sch.direction_group * (cfg.w_direction * L.direction + cfg.w_structure * L.structure) +
            sch.scale_group * (cfg.w_scale * L.scale + cfg.w_downstream * L.downstream);
  return L;
}

double mean_cosine(const at::Tensor& s, const at::Tensor& t) {
  torch::NoGradGuard g;
  return 1.0 - direction_term(s, t, 1e-6).item<double>();
}

}  // namespace eh::distill
