#include "store/codec.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>

#include "core/error.h"

namespace eh::store {

namespace {

constexpr uint8_t kFormat = 1;

// Bit order of the behaviour mask: the commonest classes get the low bits so a one-class bin
// (the usual case) needs a one-byte mask. Bit b holds class kMaskOrder[b].
constexpr std::array<int, kNumClasses> kMaskOrder = {kLying,  kStanding, kEating,  kMoving, kNotMoving,
                                                     kDrinking, kPlaying, kRunning, kUnknown};

int64_t to_cm(float m) {
  const double v = std::nearbyint(static_cast<double>(m) * 100.0);
  if (!(std::fabs(v) < 1e15)) throw eh::Error(fmt::format("store: position or distance {} m out of range", m));
  return static_cast<int64_t>(v);
}

struct Header {
  std::vector<size_t> present;  // bin indices inside the block
};

void write_header(const BlockLayout& l, const std::vector<BinRecord>& bins, std::vector<uint8_t>& out,
                  std::vector<const BinRecord*>& present, const char* what) {
  if (l.bin_seconds <= 0 || l.bins_per_block <= 0)
    throw eh::Error(fmt::format("store: {} block: bad layout (bin {} s, {} bins)", what, l.bin_seconds,
                                l.bins_per_block));
  std::vector<uint8_t> bitmap((static_cast<size_t>(l.bins_per_block) + 7) / 8, 0);
  int64_t prev = std::numeric_limits<int64_t>::min();
  for (const auto& b : bins) {
    if (b.start <= prev)
      throw eh::Error(fmt::format("store: {} block {}: bins not sorted or duplicated at {}", what, l.block_start, b.start));
    prev = b.start;
    if (b.start < l.block_start || b.start >= l.block_end() || (b.start - l.block_start) % l.bin_seconds != 0)
      throw eh::Error(fmt::format("store: {} block {}: bin start {} is not a bin of this block", what,
                                  l.block_start, b.start));
    if (b.frames == 0) continue;
    const size_t idx = static_cast<size_t>((b.start - l.block_start) / l.bin_seconds);
    bitmap[idx / 8] |= static_cast<uint8_t>(1u << (idx % 8));
    present.push_back(&b);
  }
  out.push_back(kFormat);
  put_varint(out, static_cast<uint64_t>(l.bins_per_block));
  out.insert(out.end(), bitmap.begin(), bitmap.end());
}

// Reads the header; returns the starts of the present bins.
std::vector<int64_t> read_header(const BlockLayout& l, const uint8_t* data, size_t n, size_t* pos, const char* what) {
  if (n < 1 || data[0] != kFormat)
    throw eh::Error(fmt::format("store: {} block {}: unknown encoding {} (expected {})", what, l.block_start,
                                n ? int(data[0]) : -1, int(kFormat)));
  *pos = 1;
  const uint64_t bpb = get_varint(data, n, pos);
  if (bpb != static_cast<uint64_t>(l.bins_per_block))
    throw eh::Error(fmt::format("store: {} block {}: holds {} bins, the store's layout has {}", what, l.block_start,
                                bpb, l.bins_per_block));
  const size_t nbytes = (static_cast<size_t>(bpb) + 7) / 8;
  if (*pos + nbytes > n) throw eh::Error(fmt::format("store: {} block {}: truncated bitmap", what, l.block_start));
  std::vector<int64_t> starts;
  for (size_t i = 0; i < static_cast<size_t>(bpb); ++i)
    if (data[*pos + i / 8] & (1u << (i % 8))) starts.push_back(l.block_start + static_cast<int64_t>(i) * l.bin_seconds);
  *pos += nbytes;
  return starts;
}

BinRecord& find_or_add(std::vector<BinRecord>& bins, int64_t start) {
  auto it = std::lower_bound(bins.begin(), bins.end(), start,
                             [](const BinRecord& b, int64_t s) { return b.start < s; });
  if (it != bins.end() && it->start == start) return *it;
  BinRecord r;
  r.start = start;
  return *bins.insert(it, r);
}

uint32_t to_u32(uint64_t v, const char* what, int64_t block) {
  if (v > std::numeric_limits<uint32_t>::max())
    throw eh::Error(fmt::format("store: {} block {}: value {} out of range", what, block, v));
  return static_cast<uint32_t>(v);
}

void check_end(size_t pos, size_t n, const char* what, int64_t block) {
  if (pos != n) throw eh::Error(fmt::format("store: {} block {}: {} trailing bytes", what, block, n - pos));
}

}  // namespace

const std::array<const char*, kNumClasses>& class_names() {
  static const std::array<const char*, kNumClasses> k = {"unknown",  "not_moving", "moving",   "running", "eating",
                                                         "drinking", "playing",    "standing", "lying"};
  return k;
}

uint32_t BinRecord::observed_s() const {
  uint32_t s = 0;
  for (auto v : behaviour_s) s += v;
  return s;
}

bool BinRecord::operator==(const BinRecord& o) const {
  return start == o.start && frames == o.frames && x_m == o.x_m && y_m == o.y_m && distance_m == o.distance_m &&
         active_s == o.active_s && behaviour_s == o.behaviour_s;
}

BinRecord quantised(const BinRecord& r) {
  BinRecord q = r;
  q.x_m = static_cast<float>(static_cast<double>(to_cm(r.x_m)) / 100.0);
  q.y_m = static_cast<float>(static_cast<double>(to_cm(r.y_m)) / 100.0);
  q.distance_m = static_cast<float>(static_cast<double>(to_cm(r.distance_m)) / 100.0);
  return q;
}

void DailyRecord::add(const BinRecord& b) {
  if (b.frames == 0) return;
  ++bins;
  frames += b.frames;
  distance_m += static_cast<double>(b.distance_m);
  active_s += b.active_s;
  for (size_t c = 0; c < behaviour_s.size(); ++c) {
    behaviour_s[c] += b.behaviour_s[c];
    observed_s += b.behaviour_s[c];
  }
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

uint64_t get_varint(const uint8_t* data, size_t n, size_t* pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= n) throw eh::Error("store: truncated varint in block");
    const uint8_t b = data[(*pos)++];
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  throw eh::Error("store: varint longer than 10 bytes in block");
}

int64_t floor_to(int64_t t, int64_t step) {
  int64_t q = t / step;
  if ((t % step != 0) && ((t < 0) != (step < 0))) --q;
  return q * step;
}

std::string iso_utc(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Sightings: per present bin: zigzag(frames - previous frames), zigzag(dx cm), zigzag(dy cm);
// deltas against the previous present bin of the block (the first against 0).
std::vector<uint8_t> encode_sightings(const BlockLayout& l, const std::vector<BinRecord>& bins) {
  std::vector<uint8_t> out;
  std::vector<const BinRecord*> present;
  write_header(l, bins, out, present, "sightings");
  int64_t pf = 0, px = 0, py = 0;
  for (const BinRecord* b : present) {
    const int64_t f = b->frames, x = to_cm(b->x_m), y = to_cm(b->y_m);
    put_varint(out, zigzag(f - pf));
    put_varint(out, zigzag(x - px));
    put_varint(out, zigzag(y - py));
    pf = f;
    px = x;
    py = y;
  }
  return out;
}

void decode_sightings(const BlockLayout& l, const uint8_t* data, size_t n, std::vector<BinRecord>& bins) {
  size_t pos = 0;
  const auto starts = read_header(l, data, n, &pos, "sightings");
  int64_t pf = 0, px = 0, py = 0;
  for (int64_t s : starts) {
    pf += unzigzag(get_varint(data, n, &pos));
    px += unzigzag(get_varint(data, n, &pos));
    py += unzigzag(get_varint(data, n, &pos));
    if (pf <= 0) throw eh::Error(fmt::format("store: sightings block {}: bad frame count {}", l.block_start, pf));
    BinRecord& r = find_or_add(bins, s);
    r.frames = to_u32(static_cast<uint64_t>(pf), "sightings", l.block_start);
    r.x_m = static_cast<float>(static_cast<double>(px) / 100.0);
    r.y_m = static_cast<float>(static_cast<double>(py) / 100.0);
  }
  check_end(pos, n, "sightings", l.block_start);
}

// Behaviour: per present bin: varint mask (bit order kMaskOrder), then varint seconds for each
// class in the mask, in mask-bit order.
std::vector<uint8_t> encode_behaviour(const BlockLayout& l, const std::vector<BinRecord>& bins) {
  std::vector<uint8_t> out;
  std::vector<const BinRecord*> present;
  write_header(l, bins, out, present, "behaviour");
  for (const BinRecord* b : present) {
    uint64_t mask = 0;
    for (int bit = 0; bit < kNumClasses; ++bit)
      if (b->behaviour_s[static_cast<size_t>(kMaskOrder[bit])] > 0) mask |= 1u << bit;
    put_varint(out, mask);
    for (int bit = 0; bit < kNumClasses; ++bit)
      if (mask & (1u << bit)) put_varint(out, b->behaviour_s[static_cast<size_t>(kMaskOrder[bit])]);
  }
  return out;
}

void decode_behaviour(const BlockLayout& l, const uint8_t* data, size_t n, std::vector<BinRecord>& bins) {
  size_t pos = 0;
  const auto starts = read_header(l, data, n, &pos, "behaviour");
  for (int64_t s : starts) {
    const uint64_t mask = get_varint(data, n, &pos);
    if (mask >> kNumClasses)
      throw eh::Error(fmt::format("store: behaviour block {}: bad class mask {}", l.block_start, mask));
    BinRecord& r = find_or_add(bins, s);
    r.behaviour_s.fill(0);
    for (int bit = 0; bit < kNumClasses; ++bit)
      if (mask & (1u << bit))
        r.behaviour_s[static_cast<size_t>(kMaskOrder[bit])] =
            to_u32(get_varint(data, n, &pos), "behaviour", l.block_start);
  }
  check_end(pos, n, "behaviour", l.block_start);
}

// Activity: per present bin: varint distance (cm), varint active seconds.
std::vector<uint8_t> encode_activity(const BlockLayout& l, const std::vector<BinRecord>& bins) {
  std::vector<uint8_t> out;
  std::vector<const BinRecord*> present;
  write_header(l, bins, out, present, "activity");
  for (const BinRecord* b : present) {
    const int64_t d = to_cm(b->distance_m);
    if (d < 0) throw eh::Error(fmt::format("store: activity block {}: negative distance", l.block_start));
    put_varint(out, static_cast<uint64_t>(d));
    put_varint(out, b->active_s);
  }
  return out;
}

void decode_activity(const BlockLayout& l, const uint8_t* data, size_t n, std::vector<BinRecord>& bins) {
  size_t pos = 0;
  const auto starts = read_header(l, data, n, &pos, "activity");
  for (int64_t s : starts) {
    const uint64_t d = get_varint(data, n, &pos);
    const uint64_t a = get_varint(data, n, &pos);
    BinRecord& r = find_or_add(bins, s);
    r.distance_m = static_cast<float>(static_cast<double>(d) / 100.0);
    r.active_s = to_u32(a, "activity", l.block_start);
  }
  check_end(pos, n, "activity", l.block_start);
}

}  // namespace eh::store

namespace eh::store {

std::vector<uint8_t> encode_bin(const BinRecord& b) {
  std::vector<uint8_t> out;
  out.push_back(kFormat);
  put_varint(out, b.frames);
  put_varint(out, zigzag(to_cm(b.x_m)));
  put_varint(out, zigzag(to_cm(b.y_m)));
  const int64_t d = to_cm(b.distance_m);
  if (d < 0) throw eh::Error(fmt::format("store: bin {}: negative distance", b.start));
  put_varint(out, static_cast<uint64_t>(d));
  put_varint(out, b.active_s);
  uint64_t mask = 0;
  for (int bit = 0; bit < kNumClasses; ++bit)
    if (b.behaviour_s[static_cast<size_t>(kMaskOrder[bit])] > 0) mask |= 1u << bit;
  put_varint(out, mask);
  for (int bit = 0; bit < kNumClasses; ++bit)
    if (mask & (1u << bit)) put_varint(out, b.behaviour_s[static_cast<size_t>(kMaskOrder[bit])]);
  return out;
}

BinRecord decode_bin(int64_t start, const uint8_t* data, size_t n) {
  if (n < 1 || data[0] != kFormat)
    throw eh::Error(fmt::format("store: open bin {}: unknown encoding {}", start, n ? int(data[0]) : -1));
  size_t pos = 1;
  BinRecord r;
  r.start = start;
  r.frames = to_u32(get_varint(data, n, &pos), "open bin", start);
  r.x_m = static_cast<float>(static_cast<double>(unzigzag(get_varint(data, n, &pos))) / 100.0);
  r.y_m = static_cast<float>(static_cast<double>(unzigzag(get_varint(data, n, &pos))) / 100.0);
  r.distance_m = static_cast<float>(static_cast<double>(get_varint(data, n, &pos)) / 100.0);
  r.active_s = to_u32(get_varint(data, n, &pos), "open bin", start);
  const uint64_t mask = get_varint(data, n, &pos);
  if (mask >> kNumClasses) throw eh::Error(fmt::format("store: open bin {}: bad class mask {}", start, mask));
  for (int bit = 0; bit < kNumClasses; ++bit)
    if (mask & (1u << bit))
      r.behaviour_s[static_cast<size_t>(kMaskOrder[bit])] = to_u32(get_varint(data, n, &pos), "open bin", start);
  check_end(pos, n, "open bin", start);
  return r;
}

}  // namespace eh::store
