// Footprint of a simulated animal-year and the write-rate measurement (no timing asserts).
#include <gtest/gtest.h>

#include <iostream>

#include "store/footprint.h"

namespace es = eh::store;

TEST(StoreFootprint, YearOfOneAnimalFitsTarget) {
  es::FootprintOptions o;  // 365 days, 6 fps, 1-min bins, pool 32 x 384, 8 thumbnails of 8 kB
  const auto r = es::measure_footprint(o);
  std::cout << es::format_table(r);
  EXPECT_GT(r.observations, 150'000'000);  // every frame went through the recorder
  EXPECT_EQ(r.thumbnails_kept >= 8, true);
  EXPECT_LE(r.bytes_per_animal_year, es::kTargetBytesPerAnimalYear);
  EXPECT_LT(r.bytes_per_animal_year, r.reference_bytes_per_animal_year / 9);
  EXPECT_EQ(r.file_bytes, r.page_count * r.page_size);  // WAL checkpointed away
  int64_t sum = 0;
  for (const auto& t : r.tables) sum += t.bytes;
  EXPECT_EQ(sum, r.file_bytes);
  const auto j = es::to_json(r);
  EXPECT_EQ(j["tables"].size(), r.tables.size());
}

TEST(StoreFootprint, RestlessAnimalsStillFit) {
  // Worst case: an animal 3x as active (short lying bouts, more walking, more mixed minutes),
  // two months extrapolated to a year.
  es::FootprintOptions o;
  o.days = 60;
  o.activity = 3.0;
  o.seed = 2;
  const auto r = es::measure_footprint(o);
  std::cout << es::format_table(r);
  EXPECT_LE(r.bytes_per_animal_year, es::kTargetBytesPerAnimalYear);
}

TEST(StoreFootprint, InsertRateIsMeasured) {
  es::InsertRateOptions o;
  o.animals = 10;
  o.seconds = 1200;
  o.block_rows = 600;
  o.autocommit_rows = 30;
  const auto r = es::measure_insert_rate(o);
  std::cout << es::to_json(r).dump() << "\n";
  EXPECT_GT(r.observations_per_s, 0);
  EXPECT_GT(r.block_rows_per_s, 0);
  EXPECT_GT(r.autocommit_rows_per_s, 0);
}
