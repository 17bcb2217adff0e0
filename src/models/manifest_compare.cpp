#include "models/manifest_compare.h"

#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"

namespace eh::models {

Manifest parse_manifest(const std::string& text, const std::string& label) {
  Manifest m;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    if (line[0] == '#') {
      auto p = line.find("params=");
      if (p != std::string::npos && m.params < 0) m.params = std::atoll(line.c_str() + p + 7);
      continue;
    }
    auto t1 = line.find('\t'), t2 = line.rfind('\t');
    if (t1 == std::string::npos || t1 == t2)
      throw Error(label + ":" + std::to_string(lineno) + ": expected 'key<TAB>shape<TAB>dtype'");
    m.entries.push_back({line.substr(0, t1), line.substr(t1 + 1, t2 - t1 - 1), line.substr(t2 + 1)});
  }
  return m;
}

Manifest read_manifest(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open manifest");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_manifest(ss.str(), path);
}

std::vector<std::string> compare_manifests(const Manifest& ours, const Manifest& ref) {
  std::vector<std::string> diffs;
  std::map<std::string, const ManifestEntry*> a, b;
  for (const auto& e : ours.entries) a[e.key] = &e;
  for (const auto& e : ref.entries) b[e.key] = &e;
  for (const auto& e : ref.entries) {
    auto it = a.find(e.key);
    if (it == a.end()) diffs.push_back("missing key: " + e.key + " " + e.shape);
    else if (it->second->shape != e.shape || it->second->dtype != e.dtype)
      diffs.push_back("mismatch: " + e.key + ": expected " + e.shape + " " + e.dtype + ", found " + it->second->shape +
                      " " + it->second->dtype);
  }
  for (const auto& e : ours.entries)
    if (!b.count(e.key)) diffs.push_back("unexpected key: " + e.key + " " + e.shape);
  if (diffs.empty()) {
    for (size_t i = 0; i < ref.entries.size(); ++i)
      if (ref.entries[i].key != ours.entries[i].key) {
        diffs.push_back("order differs at entry " + std::to_string(i) + ": expected " + ref.entries[i].key + ", found " +
                        ours.entries[i].key);
        break;
      }
  }
  if (ref.params >= 0 && ours.params != ref.params)
    diffs.push_back("parameter count: expected " + std::to_string(ref.params) + ", found " + std::to_string(ours.params));
  return diffs;
}

}  // namespace eh::models
