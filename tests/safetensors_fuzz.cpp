// safetensors parser under AddressSanitizer + UBSan (target test_safetensors_asan): every
// malformed file named in the format's failure modes gets a clear eh::Error, and thousands of
// deterministic mutations and truncations of valid files never crash or read out of bounds.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"

using eh::st::DType;
using eh::st::File;
using eh::st::Writer;

namespace {

std::vector<uint8_t> sample_file() {
  Writer w;
  std::vector<float> a(12);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.5f * static_cast<float>(i);
  std::vector<int64_t> b = {7, -3, 42};
  std::vector<uint16_t> c = {0x3c00, 0x4000};  // F16 1.0, 2.0
  w.add("blocks.0.weight", DType::F32, {3, 4}, a.data(), a.size() * 4);
  w.add("num_batches_tracked", DType::I64, {3}, b.data(), b.size() * 8);
  w.add("half", DType::F16, {2}, c.data(), c.size() * 2);
  w.add("empty", DType::F32, {0, 5}, nullptr, 0);
  w.set_metadata("format", "pt");
  return w.serialize();
}

std::vector<uint8_t> with_header(const std::string& json, size_t data_bytes) {
  std::vector<uint8_t> out(8 + json.size() + data_bytes, 0);
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, json.data(), json.size());
  return out;
}

std::string error_of(std::vector<uint8_t> bytes) {
  try {
    File::from_bytes(std::move(bytes), "case.safetensors");
  } catch (const eh::Error& e) {
    return e.what();
  }
  return "";
}

// Touch every byte the parser claims is valid, so ASan sees any out-of-range view.
uint64_t checksum(const File& f) {
  uint64_t s = 0;
  for (const auto& t : f.tensors()) {
    const uint8_t* p = f.data(t);
    for (size_t i = 0; i < t.nbytes(); ++i) s += p[i];
  }
  return s;
}

}  // namespace

TEST(Safetensors, RoundTripKeepsTensorsAndMetadata) {
  auto f = File::from_bytes(sample_file());
  ASSERT_EQ(f.tensors().size(), 4u);
  const auto& w = f.at("blocks.0.weight");
  EXPECT_EQ(w.dtype, DType::F32);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{3, 4}));
  float v;
  std::memcpy(&v, f.data(w) + 4 * 5, 4);
  EXPECT_FLOAT_EQ(v, 2.5f);
  const auto& b = f.at("num_batches_tracked");
  int64_t x;
  std::memcpy(&x, f.data(b) + 16, 8);
  EXPECT_EQ(x, 42);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.at("empty").numel(), 0);
  // Data offsets are 8-aligned relative to an 8-aligned data section.
  for (const auto& t : f.tensors()) EXPECT_EQ(t.begin % 8, 0u) << t.name;
}

TEST(Safetensors, MissingKeyNamesFileAndKey) {
  auto f = File::from_bytes(sample_file(), "weights.safetensors");
  try {
    f.at("nope");
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("weights.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos);
  }
}

TEST(Safetensors, EachMalformationHasItsOwnMessage) {
  auto good = sample_file();
  // Truncated: shorter than the length prefix.
  EXPECT_NE(error_of({1, 2, 3}).find("shorter than the 8-byte header length"), std::string::npos);
  // Header length beyond the file.
  auto big = good;
  big[0] = 0xff;
  big[1] = 0xff;
  big[2] = 0x0f;
  EXPECT_NE(error_of(big).find("runs past the end of the file"), std::string::npos);
  // Truncated data: the last tensor's offsets now run past the data section.
  auto cut = good;
  cut.resize(cut.size() - 3);
  EXPECT_NE(error_of(cut).find("run past the data section"), std::string::npos);
  // Invalid JSON.
  EXPECT_NE(error_of(with_header("{\"a\": [1, 2", 0)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(with_header("[1, 2]     ", 0)).find("does not start with '{'"), std::string::npos);
  // Offsets out of range.
  EXPECT_NE(error_of(with_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4))
                .find("run past the data section"),
            std::string::npos);
  // Reversed offsets.
  EXPECT_NE(error_of(with_header(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8)).find("reversed"),
            std::string::npos);
  // Overlapping tensors.
  EXPECT_NE(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                 12))
                .find("overlap"),
            std::string::npos);
  // Shape / byte-count mismatch names both numbers.
  auto msg = error_of(with_header(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
  EXPECT_NE(msg.find("needs 12 bytes but data_offsets span 8"), std::string::npos) << msg;
  // Unknown dtype.
  EXPECT_NE(error_of(with_header(R"({"t":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1))
                .find("unknown dtype 'F8_E4M3'"),
            std::string::npos);
  // Negative and overflowing shapes.
  EXPECT_NE(error_of(with_header(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)).find("negative"),
            std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"t":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8))
                .find("overflow"),
            std::string::npos);
  // Bad metadata.
  EXPECT_NE(error_of(with_header(R"({"__metadata__":{"k":1}})", 0)).find("__metadata__"), std::string::npos);
}

TEST(Safetensors, FuzzedFilesNeverCrash) {
  // Deterministic: fixed seeds, so any failure reproduces. Counts every case for the report.
  const auto good = sample_file();
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | good[i];
  std::mt19937_64 rng(20261125);
  int cases = 0, rejected = 0, accepted = 0;
  auto attempt = [&](std::vector<uint8_t> bytes) {
    ++cases;
    try {
      auto f = File::from_bytes(std::move(bytes), "fuzz");
      checksum(f);
      for (const auto& t : f.tensors()) {
        ASSERT_LE(t.begin, t.end);
        ASSERT_EQ(static_cast<uint64_t>(t.numel()) * eh::st::dtype_size(t.dtype), t.nbytes());
      }
      ++accepted;
    } catch (const eh::Error&) {
      ++rejected;
    }
  };
  // 1. Every truncation length.
  for (size_t n = 0; n < good.size(); ++n) attempt(std::vector<uint8_t>(good.begin(), good.begin() + n));
  // 2. Random byte mutations, concentrated on the header where the parser's logic lives.
  for (int i = 0; i < 4000; ++i) {
    auto b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      size_t pos = (rng() % 4 == 0) ? rng() % b.size() : rng() % (8 + header_len);
      b[pos] = static_cast<uint8_t>(rng());
    }
    attempt(std::move(b));
  }
  // 3. Structure-aware mutations of the JSON: digits changed, characters deleted or duplicated.
  const std::string header(good.begin() + 8, good.begin() + 8 + header_len);
  const std::string digits = "0123456789";
  for (int i = 0; i < 2000; ++i) {
    std::string h = header;
    size_t pos = rng() % h.size();
    switch (rng() % 4) {
      case 0: if (std::isdigit(static_cast<unsigned char>(h[pos]))) h[pos] = digits[rng() % 10]; else h.insert(pos, "9"); break;
      case 1: h.erase(pos, 1 + rng() % 3); break;
      case 2: h.insert(pos, h.substr(pos, 1 + rng() % 8)); break;
      case 3: h.insert(pos, std::string(1, "\"{}[],:-e"[rng() % 9])); break;
    }
    std::vector<uint8_t> data(good.begin() + 8 + header_len, good.end());
    auto b = with_header(h, data.size());
    std::memcpy(b.data() + 8 + h.size(), data.data(), data.size());
    attempt(std::move(b));
  }
  // 4. Header length prefix set to every boundary value around the real one.
  for (int64_t d = -16; d <= 16; ++d) {
    auto b = good;
    uint64_t n = header_len + d;
    for (int k = 0; k < 8; ++k) b[k] = static_cast<uint8_t>(n >> (8 * k));
    attempt(std::move(b));
  }
  EXPECT_GE(cases, 5000);
  EXPECT_GT(rejected, cases / 2);  // most mutations must be caught, not silently accepted
  EXPECT_GT(accepted, 0);          // and harmless ones (e.g. a changed float byte) still load
  std::printf("fuzz: %d cases, %d rejected with eh::Error, %d accepted, 0 crashes\n", cases, rejected, accepted);
}
