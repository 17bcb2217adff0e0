// A progress callback for trainers that report several phases (simulate, cache, train, ...):
// one ProgressBar per phase name, created on first use. Matches eh::distill::Progress and
// eh::perception::Progress.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cli/progress.h"

namespace eh::cli {

inline std::function<void(const std::string&, int64_t, int64_t, const std::string&)> phase_progress() {
  auto bars = std::make_shared<std::map<std::string, ProgressBar>>();
  return [bars](const std::string& phase, int64_t done, int64_t total, const std::string& detail) {
    bars->try_emplace(phase, phase).first->second.update(done, total, detail);
  };
}

}  // namespace eh::cli
