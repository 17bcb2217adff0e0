#include "core/tensor_io.h"

#include <torch/torch.h>

#include "core/error.h"

namespace eh {

at::ScalarType to_scalar_type(st::DType d) {
  switch (d) {
    case st::DType::F64: return at::kDouble;
    case st::DType::F32: return at::kFloat;
    case st::DType::F16: return at::kHalf;
    case st::DType::BF16: return at::kBFloat16;
    case st::DType::I64: return at::kLong;
    case st::DType::I32: return at::kInt;
    case st::DType::I16: return at::kShort;
    case st::DType::I8: return at::kChar;
    case st::DType::U8: return at::kByte;
    case st::DType::BOOL: return at::kBool;
  }
  throw Error("unknown safetensors dtype");
}

st::DType to_st_dtype(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return st::DType::F64;
    case at::kFloat: return st::DType::F32;
    case at::kHalf: return st::DType::F16;
    case at::kBFloat16: return st::DType::BF16;
    case at::kLong: return st::DType::I64;
    case at::kInt: return st::DType::I32;
    case at::kShort: return st::DType::I16;
    case at::kChar: return st::DType::I8;
    case at::kByte: return st::DType::U8;
    case at::kBool: return st::DType::BOOL;
    default: throw Error(std::string("safetensors cannot store dtype ") + c10::toString(t));
  }
}

std::string dtype_str(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return "float64";
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

at::Tensor read_tensor(const st::File& f, const st::TensorInfo& t, std::optional<at::ScalarType> as) {
  const at::ScalarType src = to_scalar_type(t.dtype);
  const at::ScalarType dst = as.value_or(src);
  const uint8_t* p = f.data(t);
  const size_t esize = st::dtype_size(t.dtype);
  const bool aligned = reinterpret_cast<uintptr_t>(p) % esize == 0;
  auto opts = torch::TensorOptions().dtype(src);
  if (t.numel() == 0) return torch::empty(t.shape, opts).to(dst);
  if (aligned) {
    auto keep = f.storage();  // the tensor holds the mapping alive
    auto view = torch::from_blob(const_cast<uint8_t*>(p), t.shape, [keep](void*) {}, opts);
    return src == dst ? view : view.to(dst);
  }
  auto out = torch::empty(t.shape, opts);
  std::memcpy(out.data_ptr(), p, t.nbytes());
  return out.to(dst);
}

at::Tensor read_tensor(const st::File& f, const std::string& name, std::optional<at::ScalarType> as) {
  return read_tensor(f, f.at(name), as);
}

void write_tensors(const std::string& path, const NamedTensors& tensors,
                   const std::map<std::string, std::string>& metadata, bool overwrite) {
  st::Writer w;
  for (const auto& [name, t] : tensors) {
    auto c = t.detach().to(torch::kCPU).contiguous();
    w.add(name, to_st_dtype(c.scalar_type()), c.sizes().vec(), c.data_ptr(), c.numel() * c.element_size());
  }
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  w.write(path, overwrite);
}

}  // namespace eh
