// Bridge between safetensors files and LibTorch tensors.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"

namespace eh {

at::ScalarType to_scalar_type(st::DType d);
st::DType to_st_dtype(at::ScalarType t);  // throws for types safetensors cannot hold
std::string dtype_str(at::ScalarType t);   // "float32", "int64", ... (manifest spelling)
std::string shape_str(at::IntArrayRef s);  // "[2, 3]"

// A tensor backed by the file's mapping (zero-copy) when the dtype already matches `as` and
// the bytes are aligned; otherwise a converted copy. The mapping is copy-on-write.
at::Tensor read_tensor(const st::File& f, const st::TensorInfo& t, std::optional<at::ScalarType> as = std::nullopt);
at::Tensor read_tensor(const st::File& f, const std::string& name, std::optional<at::ScalarType> as = std::nullopt);

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;
void write_tensors(const std::string& path, const NamedTensors& tensors,
                   const std::map<std::string, std::string>& metadata = {}, bool overwrite = false);

}  // namespace eh
