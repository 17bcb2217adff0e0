// Attention pieces shared by the SAM 3 trunk (sam3/model/vitdet.py) and the tracker's memory attention
// (sam3/sam/rope.py, sam3/sam/transformer.py RoPEAttention), facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e.
// Both use the same axial 2D RoPE table (sam3_axial_rope in pe_vit.h) and the same rotation.
#pragma once
#include <ATen/core/Tensor.h>

namespace eh::models {

// apply_rotary_enc for one tensor: x [..., L, hd] seen as hd/2 complex numbers (even, odd channel pairs),
// each multiplied by cos + i sin of cos/sin [L, hd/2].
at::Tensor sam3_apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// F.scaled_dot_product_attention without mask or dropout: softmax(q k^T / sqrt(hd)) v on [..., L, hd].
at::Tensor sam3_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace eh::models
