#include "core/config.h"

#include "core/json_file.h"

namespace eh {

Config Config::load(const std::string& path) {
  nlohmann::json j = read_json_file(path);
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
