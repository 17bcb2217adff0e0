#include "core/config.h"

#include <fstream>

namespace eh {

Config Config::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open config file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(path + ": config must be a JSON object");
  return Config(std::move(j), path);
}

void Config::finish() const {
  static const std::set<std::string> descriptive = {"class", "upstream", "seed", "notes", "arch"};
  std::string unknown;
  for (auto it = j_.begin(); it != j_.end(); ++it)
    if (!used_.count(it.key()) && !descriptive.count(it.key())) unknown += (unknown.empty() ? "'" : ", '") + it.key() + "'";
  if (!unknown.empty()) throw Error(label_ + ": unknown config field(s) " + unknown);
}

}  // namespace eh
