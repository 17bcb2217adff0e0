#include "distill/feature_cache.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor_io.h"

namespace fs = std::filesystem;

namespace eh::distill {

uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t fnv1a_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read");
  std::vector<char> buf(1 << 20);
  uint64_t h = 1469598103934665603ull;
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = fnv1a(buf.data(), static_cast<size_t>(f.gcount()), h);
  }
  return h;
}

FeatureCache::FeatureCache(std::string dir, std::string fingerprint, bool rebuild, int64_t shard_size)
    : dir_(std::move(dir)), fingerprint_(std::move(fingerprint)), shard_size_(shard_size) {
  const fs::path index = fs::path(dir_) / "index.json";
  if (fs::exists(index)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(std::ifstream(index));
    } catch (const std::exception& e) {
      throw Error(index.string() + ": unreadable cache index: " + e.what());
    }
    const auto old = j.value("fingerprint", std::string());
    if (old != fingerprint_) {
      if (!rebuild)
        throw Error("teacher-feature cache " + dir_ + " is stale: it was made by teacher/preprocessing\n  " + old +
                    "\nbut this run uses\n  " + fingerprint_ + "\n(pass --rebuild-cache to discard it)");
      fs::remove_all(dir_);
    } else {
      for (auto& [file, sum] : j.at("shards").items()) checksums_[file] = sum.get<std::string>();
      for (auto& [key, loc] : j.at("entries").items()) where_[key] = {loc.at(0).get<std::string>(), loc.at(1).get<std::string>()};
      shards_ = static_cast<int>(checksums_.size());
    }
  }
  fs::create_directories(dir_);
}

const st::File& FeatureCache::shard(const std::string& file) {
  auto it = open_.find(file);
  if (it != open_.end()) return *it->second;
  const auto path = (fs::path(dir_) / file).string();
  const auto sum = fmt::format("{:016x}", fnv1a_file(path));
  if (sum != checksums_.at(file))
    throw Error(path + ": teacher-feature shard checksum " + sum + " does not match the index (" + checksums_.at(file) +
                "); the cache is corrupt (pass --rebuild-cache)");
  return *(open_[file] = std::make_unique<st::File>(st::File::open(path)));
}

at::Tensor FeatureCache::get(const std::string& key) {
  for (auto& [k, t] : pending_)
    if (k == key) return t.to(torch::kFloat);
  auto it = where_.find(key);
  if (it == where_.end()) throw Error("teacher-feature cache " + dir_ + ": no entry for '" + key + "'");
  return read_tensor(shard(it->second.first), it->second.second, torch::kFloat);
}

void FeatureCache::put(const std::string& key, const at::Tensor& map) {
  pending_.emplace_back(key, map.detach().to(torch::kHalf).contiguous());
  if (static_cast<int64_t>(pending_.size()) >= shard_size_) flush();
}

void FeatureCache::flush() {
  if (pending_.empty()) return;
  const std::string file = fmt::format("shard_{:05d}.safetensors", shards_++);
  NamedTensors ts;
  for (size_t i = 0; i < pending_.size(); ++i) {
    ts.emplace_back("f" + std::to_string(i), pending_[i].second);
    where_[pending_[i].first] = {file, "f" + std::to_string(i)};
  }
  const auto path = (fs::path(dir_) / file).string();
  write_tensors(path, ts, {{"fingerprint", fingerprint_}}, /*overwrite=*/true);
  checksums_[file] = fmt::format("{:016x}", fnv1a_file(path));
  pending_.clear();
  write_index();
}

void FeatureCache::write_index() const {
  nlohmann::json j;
  j["fingerprint"] = fingerprint_;
  j["shards"] = checksums_;
  j["entries"] = nlohmann::json::object();
  for (const auto& [k, loc] : where_) j["entries"][k] = {loc.first, loc.second};
  const auto tmp = (fs::path(dir_) / "index.json.tmp").string();
  std::ofstream(tmp) << j.dump(1);
  fs::rename(tmp, fs::path(dir_) / "index.json");
}

}  // namespace eh::distill
