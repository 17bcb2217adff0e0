#include "data/behaviour.h"

#include <cctype>

#include "core/error.h"

namespace eh::data {

namespace {
constexpr const char* kNames[kNumBehaviours] = {"unknown", "not_moving", "moving",
                                                "running", "eating",     "drinking",
                                                "playing", "standing",   "lying"};
}

const char* behaviour_name(Behaviour b) {
  const int i = static_cast<int>(b);
  return (i >= 0 && i < kNumBehaviours) ? kNames[i] : "invalid";
}

const std::array<Behaviour, kNumBehaviours>& all_behaviours() {
  static const std::array<Behaviour, kNumBehaviours> all = {
      Behaviour::Unknown, Behaviour::NotMoving, Behaviour::Moving,
      Behaviour::Running, Behaviour::Eating,    Behaviour::Drinking,
      Behaviour::Playing, Behaviour::Standing,  Behaviour::Lying};
  return all;
}

std::string normalise_label(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out;
  out.reserve(e - b);
  for (size_t i = b; i < e; ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
    if (c == '-' || c == ' ') c = '_';
    out.push_back(c);
  }
  return out;
}

bool try_behaviour_from_name(std::string_view name, Behaviour* out) {
  const std::string n = normalise_label(name);
  for (int i = 0; i < kNumBehaviours; ++i) {
    if (n == kNames[i]) {
      *out = static_cast<Behaviour>(i);
      return true;
    }
  }
  return false;
}

Behaviour behaviour_from_name(std::string_view name) {
  Behaviour b;
  if (!try_behaviour_from_name(name, &b))
    throw Error("unknown behaviour name '" + std::string(name) +
                "' (expected one of: unknown, not_moving, moving, running, eating, drinking, "
                "playing, standing, lying)");
  return b;
}

Behaviour behaviour_from_id(int id) {
  if (id < 0 || id >= kNumBehaviours)
    throw Error("behaviour id " + std::to_string(id) + " is outside 0..8");
  return static_cast<Behaviour>(id);
}

}  // namespace eh::data
