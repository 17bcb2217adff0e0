// Block encoding of per-bin records: round trips, compactness, corrupt input.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "store/codec.h"

namespace es = eh::store;

namespace {

std::vector<es::BinRecord> random_block(const es::BlockLayout& l, uint64_t seed, double present = 0.8) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<es::BinRecord> bins;
  for (int i = 0; i < l.bins_per_block; ++i) {
    if (u(rng) > present) continue;
    es::BinRecord r;
    r.start = l.block_start + static_cast<int64_t>(i) * l.bin_seconds;
    r.frames = 1 + static_cast<uint32_t>(rng() % 360);
    r.x_m = static_cast<float>(u(rng) * 10 - 2);
    r.y_m = static_cast<float>(u(rng) * 6);
    r.distance_m = static_cast<float>(u(rng) * 40);
    uint32_t left = static_cast<uint32_t>(l.bin_seconds);
    for (int c = 0; c < es::kNumClasses && left > 0; ++c) {
      if (u(rng) < 0.6) continue;
      const uint32_t s = static_cast<uint32_t>(rng() % (left + 1));
      r.behaviour_s[static_cast<size_t>(c)] = s;
      left -= s;
    }
    r.active_s = static_cast<uint32_t>(rng() % 61);
    bins.push_back(es::quantised(r));
  }
  return bins;
}

std::vector<es::BinRecord> decode_all(const es::BlockLayout& l, const std::vector<es::BinRecord>& bins) {
  std::vector<es::BinRecord> out;
  const auto a = es::encode_sightings(l, bins), b = es::encode_behaviour(l, bins), c = es::encode_activity(l, bins);
  es::decode_behaviour(l, b.data(), b.size(), out);
  es::decode_sightings(l, a.data(), a.size(), out);
  es::decode_activity(l, c.data(), c.size(), out);
  return out;
}

}  // namespace

TEST(StoreCodec, VarintAndZigzagRoundTrip) {
  const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, (1ull << 35) + 5, ~0ull};
  std::vector<uint8_t> buf;
  for (auto v : vals) es::put_varint(buf, v);
  size_t pos = 0;
  for (auto v : vals) EXPECT_EQ(es::get_varint(buf.data(), buf.size(), &pos), v);
  EXPECT_EQ(pos, buf.size());
  for (int64_t v : {0LL, 1LL, -1LL, 63LL, -64LL, 1LL << 40, -(1LL << 40)}) EXPECT_EQ(es::unzigzag(es::zigzag(v)), v);
  EXPECT_THROW(es::get_varint(buf.data(), 0, &pos), eh::Error);
}

TEST(StoreCodec, BlocksRoundTrip) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const es::BlockLayout l{1704067200 + 3600 * static_cast<int64_t>(seed), 60, 60};
    const auto bins = random_block(l, seed, seed % 3 == 0 ? 1.0 : 0.7);
    EXPECT_EQ(decode_all(l, bins), bins) << "seed " << seed;
  }
  // Other layouts: 5-minute bins in a day block; 1-s bins.
  const es::BlockLayout l5{1704067200, 300, 288}, l1{1704067200, 1, 3600};
  auto b5 = random_block(l5, 99);
  EXPECT_EQ(decode_all(l5, b5), b5);
  auto b1 = random_block(l1, 98, 0.5);
  EXPECT_EQ(decode_all(l1, b1), b1);
}

TEST(StoreCodec, LyingHourIsCompact) {
  const es::BlockLayout l{1704067200, 60, 60};
  std::vector<es::BinRecord> bins;
  for (int i = 0; i < 60; ++i) {
    es::BinRecord r;
    r.start = l.block_start + i * 60;
    r.frames = 360;
    r.x_m = 1.23f;
    r.y_m = 0.5f;
    r.behaviour_s[es::kLying] = 60;
    bins.push_back(r);
  }
  const size_t n = es::encode_sightings(l, bins).size() + es::encode_behaviour(l, bins).size() +
                   es::encode_activity(l, bins).size();
  // 3 headers (1 + 1 + 8 bytes) + per minute 3 (sightings) + 2 (behaviour) + 2 (activity) bytes.
  EXPECT_LE(n, 3 * 10 + 60 * 7 + 8u);
}

TEST(StoreCodec, RejectsBadInput) {
  const es::BlockLayout l{1704067200, 60, 60};
  es::BinRecord r;
  r.start = l.block_start + 30;  // not aligned
  r.frames = 1;
  EXPECT_THROW(es::encode_sightings(l, {r}), eh::Error);
  r.start = l.block_end();  // outside
  EXPECT_THROW(es::encode_behaviour(l, {r}), eh::Error);
  es::BinRecord a, b;
  a.start = b.start = l.block_start;
  a.frames = b.frames = 1;
  EXPECT_THROW(es::encode_activity(l, {a, b}), eh::Error);  // duplicate
  // Corrupt blobs: truncated, wrong layout, trailing bytes, wrong format byte.
  a.behaviour_s[es::kEating] = 60;
  auto blob = es::encode_behaviour(l, {a});
  std::vector<es::BinRecord> out;
  EXPECT_THROW(es::decode_behaviour(l, blob.data(), blob.size() - 1, out), eh::Error);
  EXPECT_THROW(es::decode_behaviour(es::BlockLayout{l.block_start, 60, 30}, blob.data(), blob.size(), out), eh::Error);
  auto longer = blob;
  longer.push_back(0);
  EXPECT_THROW(es::decode_behaviour(l, longer.data(), longer.size(), out), eh::Error);
  blob[0] = 9;
  EXPECT_THROW(es::decode_behaviour(l, blob.data(), blob.size(), out), eh::Error);
}
