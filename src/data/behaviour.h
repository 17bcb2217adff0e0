// The 9-class behaviour scheme used across edgeherd (after the Edinburgh Pig dataset):
// ids are stable and are what files store.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace eh::data {

enum class Behaviour : uint8_t {
  Unknown = 0,
  NotMoving = 1,  // stationary and not standing (the simulator renders it as dog-sitting)
  Moving = 2,     // walking
  Running = 3,
  Eating = 4,     // head at the feeder
  Drinking = 5,   // head at a drinker
  Playing = 6,    // bursty interaction with the toy or another pig
  Standing = 7,   // upright, stationary
  Lying = 8,      // sternal or lateral
};

constexpr int kNumBehaviours = 9;

// "unknown", "not_moving", "moving", "running", "eating", "drinking", "playing", "standing",
// "lying".
const char* behaviour_name(Behaviour b);
const std::array<Behaviour, kNumBehaviours>& all_behaviours();

// Accepts the names above (case-insensitive; '-' and ' ' read as '_'). Throws eh::Error naming
// the string otherwise.
Behaviour behaviour_from_name(std::string_view name);
bool try_behaviour_from_name(std::string_view name, Behaviour* out);
// Throws eh::Error for ids outside 0..8.
Behaviour behaviour_from_id(int id);

// Lower-cases and maps '-' and ' ' to '_', trims surrounding whitespace.
std::string normalise_label(std::string_view s);

}  // namespace eh::data
