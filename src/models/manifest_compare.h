// Comparison of a model's manifest with an upstream manifest_full.tsv, key for key.
#pragma once
#include <string>
#include <vector>

namespace eh::models {

struct ManifestEntry {
  std::string key, shape, dtype;
};
struct Manifest {
  long long params = -1;  // from the "# params=N" line; -1 if absent
  std::vector<ManifestEntry> entries;
};

Manifest parse_manifest(const std::string& text, const std::string& label);
Manifest read_manifest(const std::string& path);
// Every difference (missing, unexpected, shape/dtype, order, parameter count), one per line;
// empty when the two agree.
std::vector<std::string> compare_manifests(const Manifest& ours, const Manifest& ref);

}  // namespace eh::models
