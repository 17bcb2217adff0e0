// ROI-align with torchvision.ops.roi_align's semantics (see roi_align.h). Written from the behaviour of
// torchvision's CPU kernel (roi_align_forward_kernel_impl / pre_calc_for_bilinear_interpolate): the sample
// coordinates are computed in the input's precision with the same expression order, so the same pixels and
// weights are used; only the summation order differs.
#include "models/sam3/roi_align.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/tensor_io.h"

namespace eh::models {

namespace {

// Per-axis weights [P, n] of one roi: row p sums, over the bin's `grid` samples, the two bilinear
// weights of each sample divided by `grid` (so Wy x map x Wx^T averages over grid_h * grid_w samples).
// A sample outside [-1, n] contributes nothing; in torchvision such a sample is 0 whatever the other
// axis says, which is the same as a zero row contribution on this axis.
template <typename T>
void axis_weights(T start, T bin, int grid, int64_t P, int64_t n, T* w) {
  std::fill(w, w + P * n, T(0));
  if (grid <= 0) return;  // empty roi with aligned=True: torchvision's loops run zero times (output 0)
  for (int64_t p = 0; p < P; ++p) {
    for (int i = 0; i < grid; ++i) {
      T c = start + static_cast<T>(p) * bin + static_cast<T>(i + .5f) * bin / static_cast<T>(grid);
      if (c < T(-1.0) || c > static_cast<T>(n)) continue;
      if (c <= 0) c = 0;
      int64_t lo = static_cast<int64_t>(c), hi;
      if (lo >= n - 1) {
        hi = lo = n - 1;
        c = static_cast<T>(lo);
      } else {
        hi = lo + 1;
      }
      const T l = c - static_cast<T>(lo), h = T(1.) - l;
      w[p * n + lo] += h / static_cast<T>(grid);
      w[p * n + hi] += l / static_cast<T>(grid);
    }
  }
}

template <typename T>
at::Tensor roi_align_impl(const at::Tensor& input, const at::Tensor& rois, int64_t P, double spatial_scale,
                          int64_t sampling_ratio, bool aligned) {
  const int64_t K = rois.size(0), H = input.size(2), W = input.size(3);
  auto r = rois.to(torch::kCPU, input.scalar_type()).contiguous();
  const T* rp = r.data_ptr<T>();
  auto wy = torch::empty({K, 1, P, H}, torch::TensorOptions().dtype(input.scalar_type()));
  auto wx = torch::empty({K, 1, W, P}, torch::TensorOptions().dtype(input.scalar_type()));
  std::vector<int64_t> image(K);
  std::vector<T> tmp(P * W);
  const T scale = static_cast<T>(spatial_scale), offset = aligned ? T(0.5) : T(0.0);
  for (int64_t k = 0; k < K; ++k) {
    const T* q = rp + k * 5;
    image[k] = static_cast<int64_t>(q[0]);
    if (image[k] < 0 || image[k] >= input.size(0))
      throw Error("roi_align: roi " + std::to_string(k) + " names image " + std::to_string(image[k]) + ", the input has " +
                  std::to_string(input.size(0)));
    const T x0 = q[1] * scale - offset, y0 = q[2] * scale - offset;
    T rw = q[3] * scale - offset - x0, rh = q[4] * scale - offset - y0;
    if (!aligned) {
      rw = std::max(rw, T(1.));
      rh = std::max(rh, T(1.));
    }
    const T bw = rw / static_cast<T>(P), bh = rh / static_cast<T>(P);
    const int gw = sampling_ratio > 0 ? static_cast<int>(sampling_ratio) : static_cast<int>(std::ceil(rw / static_cast<T>(P)));
    const int gh = sampling_ratio > 0 ? static_cast<int>(sampling_ratio) : static_cast<int>(std::ceil(rh / static_cast<T>(P)));
    axis_weights<T>(y0, bh, gh, P, H, wy.data_ptr<T>() + k * P * H);
    axis_weights<T>(x0, bw, gw, P, W, tmp.data());
    T* wxp = wx.data_ptr<T>() + k * W * P;  // transposed: [W, P]
    for (int64_t p = 0; p < P; ++p)
      for (int64_t x = 0; x < W; ++x) wxp[x * P + p] = tmp[p * W + x];
  }
  auto idx = torch::tensor(image, torch::TensorOptions().dtype(torch::kLong)).to(input.device());
  auto maps = input.index_select(0, idx);  // [K, C, H, W]
  return torch::matmul(torch::matmul(wy.to(input.device()), maps), wx.to(input.device()));  // [K, C, P, P]
}

}  // namespace

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, int64_t output_size, double spatial_scale,
                     int64_t sampling_ratio, bool aligned) {
  if (input.dim() != 4) throw Error("roi_align: input must be [N, C, H, W], found " + shape_str(input.sizes()));
  if (rois.dim() != 2 || rois.size(1) != 5)
    throw Error("roi_align: rois must be [K, 5] (image index, x1, y1, x2, y2), found " + shape_str(rois.sizes()));
  if (output_size <= 0) throw Error("roi_align: output_size must be positive, found " + std::to_string(output_size));
  if (input.scalar_type() == torch::kDouble)
    return roi_align_impl<double>(input, rois, output_size, spatial_scale, sampling_ratio, aligned);
  if (input.scalar_type() == torch::kFloat)
    return roi_align_impl<float>(input, rois, output_size, spatial_scale, sampling_ratio, aligned);
  throw Error(std::string("roi_align: input must be float32 or float64, found ") + dtype_str(input.scalar_type()));
}

}  // namespace eh::models
