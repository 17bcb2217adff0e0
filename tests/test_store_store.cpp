// Store: blocks, daily totals, batching of transactions, the Recorder's aggregation and
// restart, thumbnails, outcomes, size report.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <thread>

#include "core/error.h"
#include "store/recorder.h"
#include "store/store.h"
#include "test_util.h"

namespace es = eh::store;

namespace {

constexpr int64_t kT0 = 1704067200;  // 2024-01-01T00:00:00Z

int64_t count_from_other_connection(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

es::BinRecord bin(int64_t start, uint32_t frames, int cls, uint32_t secs) {
  es::BinRecord r;
  r.start = start;
  r.frames = frames;
  r.x_m = 1.0f;
  r.y_m = 2.0f;
  r.behaviour_s[static_cast<size_t>(cls)] = secs;
  return r;
}

}  // namespace

TEST(StoreStore, BlocksRoundTripAndDailyTotals) {
  const auto dir = eh::test::temp_dir("store_blocks");
  es::Store s((dir / "s.db").string());
  std::vector<es::BinRecord> h0 = {bin(kT0, 360, es::kLying, 60), bin(kT0 + 60, 180, es::kEating, 30)};
  std::vector<es::BinRecord> h1 = {bin(kT0 + 3600 + 120, 360, es::kMoving, 60)};
  h1[0].distance_m = 12.34f;
  h1[0].active_s = 55;
  s.put_block(3, kT0, h0);
  s.put_block(3, kT0 + 3600, h1);
  EXPECT_THROW(s.put_block(3, kT0 + 10, h0), eh::Error);  // unaligned block
  auto all = s.bins(3, kT0, kT0 + 7200);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], es::quantised(h0[0]));
  EXPECT_EQ(all[2], es::quantised(h1[0]));
  EXPECT_EQ(s.bins(3, kT0 + 60, kT0 + 3600).size(), 1u);  // range filter inside a block
  EXPECT_TRUE(s.bins(4, kT0, kT0 + 7200).empty());
  // Replacing a block replaces it whole.
  s.put_block(3, kT0, {bin(kT0 + 600, 6, es::kStanding, 1)});
  EXPECT_EQ(s.block(3, kT0).size(), 1u);
  s.refresh_daily(3, kT0 + 5000);
  const auto d = s.daily(3);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].day, kT0);
  EXPECT_EQ(d[0].bins, 2u);
  EXPECT_EQ(d[0].frames, 366u);
  EXPECT_EQ(d[0].observed_s, 61u);
  EXPECT_NEAR(d[0].distance_m, 12.34, 1e-4);
  EXPECT_EQ(d[0].behaviour_s[es::kMoving], 60u);
  const auto a = s.animal(3);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first_seen.value_or(0), kT0);
  EXPECT_EQ(a->last_seen.value_or(0), kT0 + 3600 + 180);
  EXPECT_EQ(s.block_keys().size(), 2u);
}

TEST(StoreStore, WritesAreBatchedByRows) {
  const auto dir = eh::test::temp_dir("store_batch_rows");
  const std::string path = (dir / "s.db").string();
  es::StoreOptions o;
  o.commit_every_rows = 9;       // 3 blocks (3 rows each)
  o.commit_interval_s = 3600;    // never by time here
  es::Store s(path, o);
  int commits = 0;
  s.set_commit_listener([&] { ++commits; });
  for (int k = 0; k < 2; ++k) s.put_block(1, kT0 + 3600 * k, {bin(kT0 + 3600 * k, 6, es::kLying, 1)});
  EXPECT_TRUE(s.in_transaction());
  EXPECT_EQ(commits, 0);
  // Another connection does not see the open batch.
  EXPECT_EQ(count_from_other_connection(path, "SELECT count(*) FROM sightings"), 0);
  s.put_block(1, kT0 + 7200, {bin(kT0 + 7200, 6, es::kLying, 1)});
  EXPECT_EQ(commits, 1);
  EXPECT_FALSE(s.in_transaction());
  EXPECT_EQ(count_from_other_connection(path, "SELECT count(*) FROM sightings"), 3);
  s.put_block(1, kT0 + 3 * 3600, {bin(kT0 + 3 * 3600, 6, es::kLying, 1)});
  s.commit();
  EXPECT_EQ(commits, 2);
  EXPECT_EQ(count_from_other_connection(path, "SELECT count(*) FROM sightings"), 4);
}

TEST(StoreStore, WritesAreBatchedByTime) {
  const auto dir = eh::test::temp_dir("store_batch_time");
  const std::string path = (dir / "s.db").string();
  es::StoreOptions o;
  o.commit_every_rows = 1000000;
  o.commit_interval_s = 0.05;
  es::Store s(path, o);
  s.put_block(1, kT0, {bin(kT0, 6, es::kLying, 1)});
  EXPECT_TRUE(s.in_transaction());
  s.poll();
  EXPECT_TRUE(s.in_transaction());  // not yet due
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  s.poll();
  EXPECT_FALSE(s.in_transaction());
  EXPECT_EQ(count_from_other_connection(path, "SELECT count(*) FROM sightings"), 1);
  // A write after the interval commits by itself.
  s.put_block(1, kT0 + 3600, {bin(kT0 + 3600, 6, es::kLying, 1)});
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  s.put_block(1, kT0 + 7200, {bin(kT0 + 7200, 6, es::kLying, 1)});
  EXPECT_FALSE(s.in_transaction());
  EXPECT_EQ(count_from_other_connection(path, "SELECT count(*) FROM sightings"), 3);
}

TEST(StoreRecorder, AggregatesFramesIntoBins) {
  const auto dir = eh::test::temp_dir("recorder_agg");
  es::Store s((dir / "s.db").string());
  {
    es::RecorderOptions ro;
    ro.frame_interval_s = 1.0 / 6;
    es::Recorder rec(s, ro);
    // Minute 0: 6 fps, 30 s lying still at (1, 1) with +-1 cm jitter, 30 s walking +x at 0.5 m/s.
    for (int f = 0; f < 360; ++f) {
      const double t = kT0 + f / 6.0;
      es::Observation o;
      o.animal_id = 5;
      o.t = t;
      if (f < 180) {
        o.x_m = 1.0f + ((f % 2) ? 0.01f : -0.01f);
        o.y_m = 1.0f;
        o.behaviour = es::kLying;
      } else {
        o.x_m = static_cast<float>(1.0 + 0.5 * (t - kT0 - 30));
        o.y_m = 1.0f;
        o.behaviour = es::kMoving;
      }
      rec.observe(o);
    }
    // Minute 2 (minute 1 unseen): 10 frames eating.
    for (int f = 0; f < 10; ++f) rec.observe({5, kT0 + 120 + f / 6.0, 2.0f, 2.9f, es::kEating, -1.f});
    // Next hour: closes the first block.
    rec.observe({5, kT0 + 3600 + 1, 2.0f, 2.9f, es::kEating, -1.f});
    EXPECT_EQ(rec.stats().blocks_written, 1);
    // Out of order: dropped.
    rec.observe({5, kT0 + 100, 2.0f, 2.9f, es::kEating, -1.f});
    EXPECT_EQ(rec.stats().dropped_out_of_order, 1);
    EXPECT_THROW(rec.observe({5, kT0 + 3602, 2.0f, 2.9f, 9, -1.f}), eh::Error);
    EXPECT_THROW(rec.observe({5, NAN, 2.0f, 2.9f, 1, -1.f}), eh::Error);
  }
  const auto b = s.bins(5, kT0, kT0 + 7200);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].frames, 360u);
  EXPECT_EQ(b[0].behaviour_s[es::kLying], 30u);
  EXPECT_EQ(b[0].behaviour_s[es::kMoving], 30u);
  EXPECT_EQ(b[0].observed_s(), 60u);
  // Walked 0.5 m/s for ~30 s: ~15 m; the jitter while lying adds nothing.
  EXPECT_NEAR(b[0].distance_m, 15.0, 1.0);
  // Active roughly while walking (smoothed speed lags ~1 s).
  EXPECT_NEAR(static_cast<double>(b[0].active_s), 30.0, 3.0);
  // Mean x: half at 1.0, half walking from 1.0 (mean offset 0.5 m/s * 179/12 s).
  EXPECT_NEAR(b[0].x_m, (1.0 + (1.0 + 0.5 * 179.0 / 12.0)) / 2, 0.01);
  EXPECT_EQ(b[1].start, kT0 + 120);
  EXPECT_EQ(b[1].frames, 10u);
  EXPECT_EQ(b[1].behaviour_s[es::kEating], 2u);  // 10 frames = 1.67 s -> 2 s
  EXPECT_EQ(b[1].distance_m, 0.0f);
  EXPECT_EQ(b[2].start, kT0 + 3600);
  // The daily row covers both blocks (the open one refreshed by the final flush).
  const auto d = s.daily(5);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].bins, 3u);
  EXPECT_EQ(d[0].frames, 371u);
}

TEST(StoreRecorder, ProvisionalWritesAndRestartMerge) {
  const auto dir = eh::test::temp_dir("recorder_restart");
  const std::string path = (dir / "s.db").string();
  es::RecorderOptions ro;
  ro.flush_interval_s = 0;  // write open blocks on every check (every 64 frames)
  {
    es::Store s(path);
    es::Recorder rec(s, ro);
    for (int f = 0; f < 128; ++f) rec.observe({1, kT0 + f / 6.0, 1.0f, 1.0f, es::kLying, -1.f});
    EXPECT_GE(rec.stats().provisional_writes, 1);
    // Committed and visible to another connection while the hour is still open.
    EXPECT_GE(count_from_other_connection(path, "SELECT count(*) FROM open_bins"), 1);
    es::StoreOptions ro;
    ro.read_only = true;
    es::Store reader(path, ro);
    const auto seen = reader.bins(1, kT0, kT0 + 3600);
    ASSERT_FALSE(seen.empty());
    EXPECT_GE(seen[0].frames, 64u);
  }  // destructor flushes frames 0..127 (bins 0 and 1 partially)
  {
    es::Store s(path);
    es::Recorder rec(s, ro);
    // Resume in the same (open) bin 0:21.33 .. and continue to 120 s.
    for (int f = 128; f < 720; ++f) rec.observe({1, kT0 + f / 6.0, 1.0f, 1.0f, es::kLying, -1.f});
  }
  es::Store s(path);
  const auto b = s.bins(1, kT0, kT0 + 3600);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].frames, 360u);
  EXPECT_EQ(b[1].frames, 360u);
  EXPECT_EQ(b[0].behaviour_s[es::kLying], 60u);
  EXPECT_EQ(b[1].behaviour_s[es::kLying], 60u);
  EXPECT_EQ(s.daily(1).at(0).frames, 720u);
}

TEST(StoreStore, ThumbnailsAreBoundedAndSpreadOverTime) {
  const auto dir = eh::test::temp_dir("store_thumbs");
  es::Store s((dir / "s.db").string());
  const std::vector<uint8_t> jpeg = {0xff, 0xd8, 1, 2, 3, 0xff, 0xd9};
  int kept = 0;
  for (int day = 0; day < 120; ++day)
    for (int h = 0; h < 24; h += 3) kept += s.offer_thumbnail(2, kT0 + day * 86400 + h * 3600, jpeg, 64, 48, 6, 6 * 3600.0);
  EXPECT_GT(kept, 6);
  const auto t = s.thumbnails(2);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t.front().taken_at, kT0);  // the first is kept
  EXPECT_GE(t.back().taken_at, kT0 + 119 * 86400);  // and a recent one
  for (size_t i = 1; i < t.size(); ++i) EXPECT_GT(t[i].taken_at - t[i - 1].taken_at, 86400 * 3);  // spread out
  EXPECT_EQ(t[0].jpeg, jpeg);
  EXPECT_EQ(t[0].width, 64);
  // Too soon after the newest one: refused.
  EXPECT_FALSE(s.offer_thumbnail(2, t.back().taken_at + 60, jpeg, 64, 48, 6, 6 * 3600.0));
}

TEST(StoreStore, OutcomesAnimalsMetaAndSizes) {
  const auto dir = eh::test::temp_dir("store_misc");
  es::Store s((dir / "s.db").string());
  const int64_t id = s.add_animal({0, "EAR-1", "Babe", std::nullopt, std::nullopt});
  EXPECT_GT(id, 0);
  EXPECT_EQ(s.animal_by_tag("EAR-1").value_or(-1), id);
  EXPECT_THROW(s.add_animal({0, "EAR-1", "dup", std::nullopt, std::nullopt}), eh::Error);  // unique tag
  s.add_outcome({0, id, "lameness", 1, kT0 + 86400, "left hind, score 2"});
  s.add_outcome({0, id, "growth", 0.81, std::nullopt, ""});
  const auto o = s.outcomes();
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0].note, "left hind, score 2");
  EXPECT_EQ(o[0].onset.value_or(0), kT0 + 86400);
  EXPECT_FALSE(o[1].onset);
  s.set_meta("farm", "Home Farm");
  EXPECT_EQ(s.meta("farm").value_or(""), "Home Farm");
  s.put_block(id, kT0, {bin(kT0, 6, es::kLying, 1)});
  s.checkpoint();
  const auto r = s.size_report();
  EXPECT_EQ(r.wal_bytes, 0);
  EXPECT_EQ(r.file_bytes, r.page_count * r.page_size);
  int64_t sum = 0;
  bool saw_sightings = false;
  for (const auto& t : r.tables) {
    sum += t.bytes;
    if (t.table == "sightings") {
      saw_sightings = true;
      EXPECT_EQ(t.rows, 1);
    }
  }
  EXPECT_TRUE(saw_sightings);
  EXPECT_EQ(sum, r.page_count * r.page_size);
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST(StoreRecorder, ProvisionalFlushesDirtyFewPages) {
  // 30 animals at 6 fps, open blocks written every 64 observations: the open bins of all of them
  // share the tail of one b-tree, so each commit appends only a few pages to the WAL.
  const auto dir = eh::test::temp_dir("recorder_pages");
  const std::string path = (dir / "s.db").string();
  es::StoreOptions so;
  so.wal_autocheckpoint_pages = 0;  // keep every frame in the WAL so it can be counted
  so.synchronous = es::Synchronous::Normal;  // (no fsync per commit: same pages, faster test)
  es::Store s(path, so);
  es::RecorderOptions ro;
  ro.flush_interval_s = 0;
  es::Recorder rec(s, ro);
  for (int a = 1; a <= 30; ++a) rec.observe({a, kT0 + 60.0, 1.0f, 1.0f, es::kLying, -1.f});
  rec.flush();
  const int64_t commits0 = s.commits();
  const auto wal0 = std::filesystem::file_size(path + "-wal");
  for (int f = 1; f < 6 * 600; ++f)  // 10 minutes, inside one hour
    for (int a = 1; a <= 30; ++a)
      rec.observe({a, kT0 + 60.0 + f / 6.0, 1.0f + 0.001f * (f % 100), 1.0f, (f / 500 + a) % 2 ? es::kLying : es::kStanding, -1.f});
  const int64_t commits = s.commits() - commits0;
  const auto frames = static_cast<double>(std::filesystem::file_size(path + "-wal") - wal0) / (4096 + 24);
  ASSERT_GT(commits, 100);
  std::cout << commits << " commits, " << frames / commits << " WAL pages per commit\n";
  EXPECT_LE(frames / commits, 6.0);
}

TEST(StoreRecorder, AdvanceSealsHoursLeftOpenByAnEarlierRun) {
  const auto dir = eh::test::temp_dir("recorder_seal");
  const std::string path = (dir / "s.db").string();
  {
    es::Store s(path);
    es::Recorder rec(s);
    for (int f = 0; f < 600; ++f) rec.observe({1, kT0 + f / 6.0, 1.0f, 1.0f, es::kLying, -1.f});
  }  // animal 1 leaves; its hour stays open
  es::Store s(path);
  EXPECT_GT(count_from_other_connection(path, "SELECT count(*) FROM open_bins"), 0);
  es::Recorder rec(s);
  rec.observe({2, kT0 + 7200.0, 1.0f, 1.0f, es::kLying, -1.f});
  rec.advance(kT0 + 7200.0);
  rec.flush();
  EXPECT_EQ(count_from_other_connection(path, "SELECT count(*) FROM open_bins WHERE animal_id = 1"), 0);
  EXPECT_EQ(count_from_other_connection(path, "SELECT count(*) FROM sightings WHERE animal_id = 1"), 1);
  const auto b = s.block(1, kT0);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].frames + b[1].frames, 600u);
  EXPECT_EQ(s.daily(1).at(0).frames, 600u);
}
