#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace eh::st {

namespace {

struct DTypeRow {
  DType d;
  const char* name;
  std::size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

// Header length cap: the reference implementation refuses headers over 100 MB.
constexpr uint64_t kMaxHeader = 100ull << 20;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

std::size_t dtype_size(DType d) {
  for (const auto& r : kDTypes)
    if (r.d == d) return r.size;
  return 0;
}
const char* dtype_name(DType d) {
  for (const auto& r : kDTypes)
    if (r.d == d) return r.name;
  return "?";
}
bool parse_dtype(const std::string& s, DType* out) {
  for (const auto& r : kDTypes)
    if (s == r.name) {
      *out = r.d;
      return true;
    }
  return false;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto v : shape) n *= v;
  return n;
}

struct File::Storage {
  std::vector<uint8_t> buffer;  // used for in-memory images
  void* map = nullptr;          // used for files
  std::size_t map_size = 0;
  const uint8_t* bytes() const { return map ? static_cast<const uint8_t*>(map) : buffer.data(); }
  std::size_t size() const { return map ? map_size : buffer.size(); }
  ~Storage() {
    if (map) munmap(map, map_size);
  }
};

File File::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open safetensors file: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  auto storage = std::make_shared<Storage>();
  if (st.st_size > 0) {
    // Copy-on-write private mapping: tensors handed out zero-copy may be written to safely.
    void* m = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw Error(path + ": cannot memory-map: " + std::strerror(e));
    }
    storage->map = m;
    storage->map_size = static_cast<std::size_t>(st.st_size);
  }
  ::close(fd);
  File f;
  f.path_ = path;
  f.storage_ = storage;
  f.parse();
  return f;
}

File File::from_bytes(std::vector<uint8_t> bytes, const std::string& label) {
  auto storage = std::make_shared<Storage>();
  storage->buffer = std::move(bytes);
  File f;
  f.path_ = label;
  f.storage_ = storage;
  f.parse();
  return f;
}

void File::parse() {
  const uint8_t* base = storage_->bytes();
  const std::size_t size = storage_->size();
  auto fail = [&](const std::string& what) { throw Error(path_ + ": malformed safetensors: " + what); };

  if (size < 8) fail("file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];
  if (n > kMaxHeader) fail("header length " + std::to_string(n) + " exceeds the 100 MiB limit");
  if (n > size - 8)
    fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
         " bytes)");
  if (n < 2) fail("header length " + std::to_string(n) + " is too short for a JSON object");
  const char* hbeg = reinterpret_cast<const char*>(base + 8);
  if (hbeg[0] != '{') fail("header does not start with '{'");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hbeg, hbeg + n);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail("header is not a JSON object");

  data_begin_ = base + 8 + n;
  data_size_ = size - 8 - n;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) fail("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail("__metadata__ value for '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { fail("tensor '" + key + "': " + what); };
    if (!v.is_object()) bad("entry is not an object");
    auto d = v.find("dtype");
    auto s = v.find("shape");
    auto o = v.find("data_offsets");
    if (d == v.end() || !d->is_string()) bad("missing or non-string 'dtype'");
    if (s == v.end() || !s->is_array()) bad("missing or non-array 'shape'");
    if (o == v.end() || !o->is_array() || o->size() != 2) bad("'data_offsets' must be an array of two integers");
    TensorInfo t;
    t.name = key;
    if (!parse_dtype(d->get<std::string>(), &t.dtype))
      bad("unknown dtype '" + d->get<std::string>() +
          "' (expected one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    // Element count with overflow checks: a hostile shape must not wrap around.
    uint64_t count = 1;
    for (const auto& dim : *s) {
      if (!dim.is_number_unsigned()) bad("shape " + s->dump() + " has a non-integer or negative dimension");
      uint64_t dv = dim.get<uint64_t>();
      if (dv > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) bad("dimension too large");
      if (dv != 0 && count > std::numeric_limits<uint64_t>::max() / dv) bad("shape " + s->dump() + " overflows");
      count *= dv;
      t.shape.push_back(static_cast<int64_t>(dv));
    }
    for (const auto& off : *o)
      if (!off.is_number_unsigned()) bad("'data_offsets' must be non-negative integers");
    uint64_t b = (*o)[0].get<uint64_t>(), e = (*o)[1].get<uint64_t>();
    if (b > e) bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] are reversed");
    if (e > data_size_)
      bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] run past the data section (" +
          std::to_string(data_size_) + " bytes)");
    const uint64_t esize = dtype_size(t.dtype);
    if (count > std::numeric_limits<uint64_t>::max() / esize) bad("byte size overflows");
    if (e - b != count * esize)
      bad("shape " + shape_str(t.shape) + " of " + dtype_name(t.dtype) + " needs " + std::to_string(count * esize) +
          " bytes but data_offsets span " + std::to_string(e - b));
    t.begin = static_cast<std::size_t>(b);
    t.end = static_cast<std::size_t>(e);
    tensors_.push_back(std::move(t));
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (std::size_t i = 1; i < tensors_.size(); ++i) {
    const auto& p = tensors_[i - 1];
    const auto& c = tensors_[i];
    // Zero-byte tensors may share an offset; anything else must not overlap.
    if (c.begin < p.end && c.nbytes() > 0)
      fail("tensors '" + p.name + "' [" + std::to_string(p.begin) + ", " + std::to_string(p.end) + ") and '" +
           c.name + "' [" + std::to_string(c.begin) + ", " + std::to_string(c.end) + ") overlap");
  }
  for (std::size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const TensorInfo* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::at(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) throw Error(path_ + ": no tensor named '" + name + "'");
  return *t;
}

const uint8_t* File::data(const TensorInfo& t) const { return data_begin_ + t.begin; }

void Writer::add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* bytes,
                 std::size_t nbytes) {
  if (name == "__metadata__") throw Error("safetensors writer: '__metadata__' is reserved");
  for (const auto& e : entries_)
    if (e.name == name) throw Error("safetensors writer: duplicate tensor name '" + name + "'");
  int64_t n = 1;
  for (auto v : shape) {
    if (v < 0) throw Error("safetensors writer: tensor '" + name + "' has a negative dimension");
    n *= v;
  }
  if (static_cast<std::size_t>(n) * dtype_size(dtype) != nbytes)
    throw Error("safetensors writer: tensor '" + name + "' shape " + shape_str(shape) + " of " + dtype_name(dtype) +
                " needs " + std::to_string(n * dtype_size(dtype)) + " bytes, got " + std::to_string(nbytes));
  Entry e{name, dtype, std::move(shape), {}};
  const auto* p = static_cast<const uint8_t*>(bytes);
  e.bytes.assign(p, p + nbytes);
  entries_.push_back(std::move(e));
}

std::vector<uint8_t> Writer::serialize() const {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata_.empty()) h["__metadata__"] = metadata_;
  std::size_t off = 0;
  std::vector<std::size_t> starts;
  for (const auto& e : entries_) {
    off = (off + 7) & ~std::size_t{7};
    starts.push_back(off);
    h[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
    off += e.bytes.size();
  }
  std::string hs = h.dump();
  while ((8 + hs.size()) % 8 != 0) hs.push_back(' ');
  std::vector<uint8_t> out(8 + hs.size() + off, 0);
  uint64_t n = hs.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, hs.data(), hs.size());
  uint8_t* data = out.data() + 8 + hs.size();
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (!entries_[i].bytes.empty()) std::memcpy(data + starts[i], entries_[i].bytes.data(), entries_[i].bytes.size());
  return out;
}

void Writer::write(const std::string& path, bool overwrite) const {
  if (!overwrite && ::access(path.c_str(), F_OK) == 0)
    throw Error(path + ": refusing to overwrite an existing file");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(tmp + ": cannot open for writing");
    auto bytes = serialize();
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw Error(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(path + ": cannot rename temporary file: " + std::strerror(errno));
}

}  // namespace eh::st
