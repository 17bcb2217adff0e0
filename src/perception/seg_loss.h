// Losses of the dense instance head (docs/perception.md): BCE on foreground, CenterNet's
// penalty-reduced focal loss on the centre heatmap, L1 on offsets over foreground positions.
#pragma once
#include <ATen/core/Tensor.h>

namespace eh::perception {

struct SegLossWeights {
  double foreground = 1, centre = 1, offset = 0.2;
};

struct SegLoss {
  at::Tensor total, foreground, centre, offset;  // scalars; terms unweighted
};

// head: [B, 4, h, w] logits/offsets; targets: [B, 4, h, w] = foreground 0/1, centre heatmap
// (exactly 1 at centres), dx, dy (cells).
SegLoss seg_loss(const at::Tensor& head, const at::Tensor& targets, const SegLossWeights& w);

}  // namespace eh::perception
