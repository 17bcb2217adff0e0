// Reading a JSON file with an error that names the file (every config, card and report reader).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace eh {

// Parses `path`; throws eh::Error "PATH: cannot open" or "PATH: not valid JSON: ...".
nlohmann::json read_json_file(const std::string& path);

}  // namespace eh
