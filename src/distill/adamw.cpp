#include "distill/adamw.h"

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "core/error.h"

namespace eh::distill {

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> params, AdamWOptions opt)
    : params_(std::move(params)), opt_(opt) {
  for (auto& [n, p] : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void AdamW::zero_grad() {
  for (auto& [n, p] : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void AdamW::step(double lr) {
  torch::NoGradGuard g;
  ++t_;
  const double bc1 = 1 - std::pow(opt_.beta1, double(t_)), bc2 = 1 - std::pow(opt_.beta2, double(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i].second;
    if (!p.grad().defined()) continue;
    const auto& gr = p.grad();
    p.mul_(1 - lr * opt_.weight_decay);  // decoupled weight decay
    m_[i].mul_(opt_.beta1).add_(gr, 1 - opt_.beta1);
    v_[i].mul_(opt_.beta2).addcmul_(gr, gr, 1 - opt_.beta2);
    auto denom = (v_[i] / bc2).sqrt_().add_(opt_.eps);
    p.addcdiv_(m_[i], denom, -lr / bc1);
  }
}

NamedTensors AdamW::state() const {
  NamedTensors s;
  for (size_t i = 0; i < params_.size(); ++i) {
    s.emplace_back("exp_avg." + params_[i].first, m_[i]);
    s.emplace_back("exp_avg_sq." + params_[i].first, v_[i]);
  }
  s.emplace_back("step", torch::tensor({t_}, torch::kLong));
  return s;
}

void AdamW::load_state(const NamedTensors& state) {
  std::map<std::string, at::Tensor> by(state.begin(), state.end());
  auto get = [&](const std::string& k, const at::Tensor& like) {
    auto it = by.find(k);
    if (it == by.end()) throw Error("optimizer state: missing entry '" + k + "'");
    if (it->second.sizes() != like.sizes())
      throw Error("optimizer state: '" + k + "' expected " + shape_str(like.sizes()) + ", found " + shape_str(it->second.sizes()));
    return it->second;
  };
  torch::NoGradGuard g;
  for (size_t i = 0; i < params_.size(); ++i) {
    m_[i].copy_(get("exp_avg." + params_[i].first, m_[i]));
    v_[i].copy_(get("exp_avg_sq." + params_[i].first, v_[i]));
  }
  auto it = by.find("step");
  if (it == by.end()) throw Error("optimizer state: missing entry 'step'");
  t_ = it->second.item<int64_t>();
}

double clip_grad_norm(const std::vector<std::pair<std::string, at::Tensor>>& params, double max_norm) {
  torch::NoGradGuard g;
  double sq = 0;
  for (auto& [n, p] : params)
    if (p.grad().defined()) sq += p.grad().pow(2).sum().item<double>();
  double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm)
    for (auto& [n, p] : params)
      if (p.grad().defined()) p.mutable_grad().mul_(max_norm / (norm + 1e-12));
  return norm;
}

}  // namespace eh::distill
