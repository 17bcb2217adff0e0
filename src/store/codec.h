// Per-bin records and the compact block encoding the store keeps them in (docs/store.md).
//
// The store does not keep one row per frame, nor one row per bin: a row holds one block (default
// one hour) of one animal's bins (default one minute), encoded with varints and deltas. A bin
// that the animal was not seen in takes one bit.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace eh::store {

// Behaviour classes, ids as eh::data::Behaviour (the Edinburgh Pig scheme). The store keeps its
// own copy so it does not depend on the data module.
constexpr int kNumClasses = 9;
enum ClassId : int {
  kUnknown = 0,
  kNotMoving = 1,
  kMoving = 2,
  kRunning = 3,
  kEating = 4,
  kDrinking = 5,
  kPlaying = 6,
  kStanding = 7,
  kLying = 8,
};
// "unknown", "not_moving", "moving", "running", "eating", "drinking", "playing", "standing",
// "lying".
const std::array<const char*, kNumClasses>& class_names();

// One animal in one time bin. Positions are pen-floor metres; they are stored in centimetres.
struct BinRecord {
  int64_t start = 0;         // unix seconds, multiple of the bin length
  uint32_t frames = 0;       // observations (frames) of the animal in the bin; 0 = not seen
  float x_m = 0, y_m = 0;    // mean position
  float distance_m = 0;      // path length (stored in cm)
  uint32_t active_s = 0;     // seconds with smoothed speed above the activity threshold
  std::array<uint32_t, kNumClasses> behaviour_s{};  // seconds per class

  uint32_t observed_s() const;  // sum of behaviour_s
  bool operator==(const BinRecord& o) const;
};

// Quantises a record the way storing it does (positions and distance to whole centimetres).
BinRecord quantised(const BinRecord& r);

struct BlockLayout {
  int64_t block_start = 0;  // unix seconds, multiple of block length
  int bin_seconds = 60;
  int bins_per_block = 60;
  int64_t block_end() const { return block_start + static_cast<int64_t>(bin_seconds) * bins_per_block; }
};

// Encoders take bins sorted by start, unique, inside the block and aligned to the bin length;
// bins with frames == 0 are skipped. They throw eh::Error otherwise.
std::vector<uint8_t> encode_sightings(const BlockLayout& l, const std::vector<BinRecord>& bins);
std::vector<uint8_t> encode_behaviour(const BlockLayout& l, const std::vector<BinRecord>& bins);
std::vector<uint8_t> encode_activity(const BlockLayout& l, const std::vector<BinRecord>& bins);

// Decoders fill the fields their table holds into `bins` (matched by start; missing bins are
// appended, the result stays sorted). They throw eh::Error on a corrupt blob.
void decode_sightings(const BlockLayout& l, const uint8_t* data, size_t n, std::vector<BinRecord>& bins);
void decode_behaviour(const BlockLayout& l, const uint8_t* data, size_t n, std::vector<BinRecord>& bins);
void decode_activity(const BlockLayout& l, const uint8_t* data, size_t n, std::vector<BinRecord>& bins);

// One bin with every field (the open_bins table): varints of frames, x and y (cm, zigzag),
// distance (cm), active seconds, then the behaviour mask and seconds as in the behaviour blocks.
std::vector<uint8_t> encode_bin(const BinRecord& b);
BinRecord decode_bin(int64_t start, const uint8_t* data, size_t n);  // throws eh::Error if corrupt

// Unsigned LEB128 varint and zigzag helpers (exposed for tests).
void put_varint(std::vector<uint8_t>& out, uint64_t v);
uint64_t get_varint(const uint8_t* data, size_t n, size_t* pos);  // throws eh::Error past the end
inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// One animal's totals for one UTC day (derived from its bins; the `daily` table).
struct DailyRecord {
  int64_t animal_id = 0;
  int64_t day = 0;           // unix seconds of the day's 00:00 UTC
  uint32_t bins = 0;         // bins the animal was seen in
  uint64_t frames = 0;
  uint64_t observed_s = 0;   // sum of behaviour seconds
  double distance_m = 0;
  uint64_t active_s = 0;
  std::array<uint64_t, kNumClasses> behaviour_s{};

  void add(const BinRecord& b);
};

constexpr int64_t kDaySeconds = 86400;

// floor(t / step) * step for possibly negative t.
int64_t floor_to(int64_t t, int64_t step);

// "2024-03-05T10:00:00Z" for unix seconds.
std::string iso_utc(int64_t t);

}  // namespace eh::store
