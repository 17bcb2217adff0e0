// safetensors reader and writer (https://github.com/huggingface/safetensors, format v0.4):
// 8-byte little-endian header length N, N bytes of JSON, then the raw tensor bytes.
// The reader memory-maps the file and validates everything before handing out a byte:
// a malformed file always ends in eh::Error naming the file and what is wrong, never a crash.
// This file deliberately does not depend on LibTorch (see tensor_io.h for the bridge), so the
// parser can be built and fuzzed under sanitizers on its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace eh::st {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::size_t dtype_size(DType d);
const char* dtype_name(DType d);           // "F32", "BF16", ...
bool parse_dtype(const std::string& s, DType* out);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::size_t begin = 0;  // byte offsets relative to the start of the data section
  std::size_t end = 0;
  int64_t numel() const;
  std::size_t nbytes() const { return end - begin; }
};

// Read-only view of one safetensors file; the bytes stay valid as long as any copy of the
// File (or the shared Storage) is alive.
class File {
 public:
  struct Storage;  // the mapping or buffer that owns the bytes

  static File open(const std::string& path);
  // Parse an in-memory image (tests, fuzzing). `label` names it in error messages.
  static File from_bytes(std::vector<uint8_t> bytes, const std::string& label = "<memory>");

  const std::string& path() const { return path_; }
  // Tensors in file order of their data offsets.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const TensorInfo& at(const std::string& name) const;  // throws naming file and key
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const uint8_t* data(const TensorInfo& t) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::shared_ptr<const Storage> storage() const { return storage_; }

 private:
  void parse();
  std::string path_;
  std::shared_ptr<const Storage> storage_;
  const uint8_t* data_begin_ = nullptr;
  std::size_t data_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Builds a safetensors file in memory; tensors are laid out in the order they are added,
// each aligned to 8 bytes relative to the data section (the header is padded with spaces
// so that the data section itself starts 8-aligned, as the reference writer does).
class Writer {
 public:
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* bytes,
           std::size_t nbytes);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  std::vector<uint8_t> serialize() const;
  // Refuses to replace an existing file unless `overwrite`; writes to a temp file, then renames,
  // so a reader never sees a half-written file.
  void write(const std::string& path, bool overwrite = false) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace eh::st
