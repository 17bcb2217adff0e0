// Teacher-feature cache: the teacher runs once per training frame; its trunk maps are stored as
// fp16 safetensors shards with an index (index.json) and a checksum per shard, so epochs cost
// only the student and the cache is reused across runs. The index records the teacher's
// fingerprint (architecture, config, weights checksum, preprocessing); a cache made by another
// teacher or preprocessing is stale and refused with a clear error unless a rebuild is asked for.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace eh::distill {

uint64_t fnv1a_file(const std::string& path);
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull);

class FeatureCache {
 public:
  // Opens or creates the cache in `dir` for a teacher with this fingerprint.
  FeatureCache(std::string dir, std::string fingerprint, bool rebuild, int64_t shard_size = 64);
  bool has(const std::string& key) const { return where_.count(key) > 0; }
  at::Tensor get(const std::string& key);           // float32 copy of the stored fp16 map
  void put(const std::string& key, const at::Tensor& map);
  void flush();                                      // writes the pending shard and the index
  size_t size() const { return where_.size(); }
  const std::string& dir() const { return dir_; }

 private:
  const st::File& shard(const std::string& file);
  void write_index() const;
  std::string dir_, fingerprint_;
  int64_t shard_size_;
  std::map<std::string, std::pair<std::string, std::string>> where_;  // key -> (shard file, tensor name)
  std::map<std::string, std::string> checksums_;                       // shard file -> hex FNV-1a
  std::map<std::string, std::unique_ptr<st::File>> open_;
  std::vector<std::pair<std::string, at::Tensor>> pending_;
  int shards_ = 0;
};

}  // namespace eh::distill
