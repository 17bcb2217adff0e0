// ROI-align as torchvision.ops.roi_align computes it (torchvision/csrc/ops/cpu/roi_align_kernel.cpp),
// which LibTorch does not ship. SAM 3's geometry encoder pools its box prompts with it
// (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e, sam3/model/geometry_encoders.py
// SequenceGeometryEncoder._encode_boxes: `torchvision.ops.roi_align(img_feats, boxes, roi_size)`, i.e. the
// defaults spatial_scale=1, sampling_ratio=-1, aligned=False).
//
// Semantics: each roi (x1, y1, x2, y2) is scaled by spatial_scale and, when `aligned`, shifted by -0.5 px;
// without `aligned` its width and height are at least 1. It is split into output_size x output_size bins;
// each bin averages a grid of bilinear samples (sampling_ratio per axis, or ceil(roi size / output_size) when
// sampling_ratio <= 0) taken at the grid cells' centres. A sample more than 1 px outside the map is 0; one
// within 1 px is clamped to the border. Bilinear sampling is separable, so each roi is computed as
// Wy [P, H] x input [C, H, W] x Wx^T [W, P] with the per-axis sample weights (same sum, other order).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace eh::models {

// input [N, C, H, W] (float or double); rois [K, 5] = (image index, x1, y1, x2, y2) in input pixels
// before spatial_scale. Returns [K, C, output_size, output_size] in the input's dtype.
at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, int64_t output_size, double spatial_scale = 1.0,
                     int64_t sampling_ratio = -1, bool aligned = false);

}  // namespace eh::models
