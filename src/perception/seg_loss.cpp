#include "perception/seg_loss.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/tensor_io.h"
#include "perception/instance_head.h"

namespace eh::perception {

SegLoss seg_loss(const at::Tensor& head, const at::Tensor& t, const SegLossWeights& w) {
  if (head.sizes() != t.sizes() || head.dim() != 4 || head.size(1) != 4)
    throw Error("seg_loss: head " + shape_str(head.sizes()) + " and targets " + shape_str(t.sizes()) +
                " must both be [B, 4, h, w]");
  SegLoss L;
  auto fg_t = t.select(1, kForeground);
  L.foreground = torch::binary_cross_entropy_with_logits(head.select(1, kForeground), fg_t);
  auto x = head.select(1, kCentre), c = t.select(1, kCentre);
  auto pos = (c >= 1.0 - 1e-6).to(torch::kFloat);
  auto p = torch::sigmoid(x);
  auto pos_l = -(torch::log_sigmoid(x) * (1 - p).pow(2) * pos).sum();
  auto neg_l = -(torch::log_sigmoid(-x) * p.pow(2) * (1 - c).pow(4) * (1 - pos)).sum();
  L.centre = (pos_l + neg_l) / pos.sum().clamp_min(1.0);
  auto d = (head.slice(1, kOffsetX, kOffsetY + 1) - t.slice(1, kOffsetX, kOffsetY + 1)).abs().sum(1);
  L.offset = (d * fg_t).sum() / fg_t.sum().clamp_min(1.0);
  L.total = w.foreground * L.foreground + w.centre * L.centre + w.offset * L.offset;
  return L;
}

}  // namespace eh::perception
