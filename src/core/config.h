// Model configs: JSON whose field names equal the upstream constructor arguments.
// Every field a model reads is marked; finish() rejects the ones nobody read, so a typo in a
// config is an error naming the file and the field instead of a silently ignored setting.
#pragma once
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/error.h"

namespace eh {

class Config {
 public:
  Config() = default;
  Config(nlohmann::json j, std::string label) : j_(std::move(j)), label_(std::move(label)) {}
  static Config load(const std::string& path);

  const std::string& label() const { return label_; }
  const nlohmann::json& json() const { return j_; }
  bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  // Required field; throws naming the file, the field, the expected and the found type.
  template <class T>
  T get(const std::string& key) {
    used_.insert(key);
    if (!j_.contains(key)) throw Error(label_ + ": missing config field '" + key + "'");
    return convert<T>(key);
  }
  // Optional field; null counts as absent (upstream writes None as null).
  template <class T>
  T get_or(const std::string& key, T fallback) {
    used_.insert(key);
    if (!has(key)) return fallback;
    return convert<T>(key);
  }
  // Marks a field as known without reading it (train-only settings that have no effect here).
  void ignore(const std::string& key) { used_.insert(key); }

  // Throws if any field other than the descriptive ones (class, upstream, seed, notes, arch)
  // was never read.
  void finish() const;

 private:
  template <class T>
  T convert(const std::string& key) const {
    try {
      return j_.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Error(label_ + ": config field '" + key + "' has the wrong type (found " + j_.at(key).dump() + ")");
    }
  }
  nlohmann::json j_ = nlohmann::json::object();
  std::string label_ = "<config>";
  std::set<std::string> used_;
};

}  // namespace eh
