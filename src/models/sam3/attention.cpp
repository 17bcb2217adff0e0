#include "models/sam3/attention.h"

#include <torch/torch.h>

#include <cmath>

namespace eh::models {

at::Tensor sam3_apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  auto shape = x.sizes().vec();
  auto pshape = shape;
  pshape.back() = shape.back() / 2;
  pshape.push_back(2);
  auto p = x.reshape(pshape);
  auto re = p.select(-1, 0), im = p.select(-1, 1);
  auto c = cos.to(x.options()), s = sin.to(x.options());
  return torch::stack({re * c - im * s, re * s + im * c}, -1).reshape(shape);
}

at::Tensor sam3_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  auto a = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  return torch::matmul(torch::softmax(a, -1), v);
}

}  // namespace eh::models
