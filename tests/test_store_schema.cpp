// Store schema: creation, WAL, migrations from a hand-made v1 store, refusal of newer or foreign
// files, rollback of a failed migration.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "store/schema.h"
#include "store/store.h"
#include "test_util.h"

namespace es = eh::store;

namespace {

std::string read_text(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs SQL on a file with a plain connection (no edgeherd code).
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

int64_t raw_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

void raw_put_blob(const std::string& path, const std::string& table, int64_t animal, int64_t block,
                  const std::vector<uint8_t>& data) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  const std::string sql = "INSERT INTO " + table + "(animal_id, block_start, data) VALUES(?, ?, ?)";
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
  sqlite3_bind_int64(st, 1, animal);
  sqlite3_bind_int64(st, 2, block);
  sqlite3_bind_blob(st, 3, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

std::vector<es::BinRecord> two_hours_of_bins(int64_t block) {
  std::vector<es::BinRecord> bins;
  for (int i = 0; i < 60; i += 2) {
    es::BinRecord r;
    r.start = block + i * 60;
    r.frames = 300 + i;
    r.x_m = 1.5f + 0.01f * i;
    r.y_m = 2.0f;
    r.distance_m = 0.25f * (i % 5);
    r.active_s = i % 7;
    r.behaviour_s[es::kLying] = 40;
    r.behaviour_s[es::kEating] = 20;
    bins.push_back(es::quantised(r));
  }
  return bins;
}

// A v1 store made from the frozen SQL, with one block of animal 7.
std::string make_v1(const std::string& name, bool corrupt_block = false) {
  const auto dir = eh::test::temp_dir(name);
  const std::string path = (dir / "v1.db").string();
  raw_exec(path, read_text(std::string(EH_TEST_DATA_DIR) + "/store/v1_schema.sql"));
  const int64_t block = 1704067200;
  const auto bins = two_hours_of_bins(block);
  const es::BlockLayout l{block, 60, 60};
  auto beh = es::encode_behaviour(l, bins);
  if (corrupt_block) beh.resize(beh.size() - 3);
  raw_put_blob(path, "sightings", 7, block, es::encode_sightings(l, bins));
  raw_put_blob(path, "behaviour", 7, block, beh);
  raw_put_blob(path, "activity", 7, block, es::encode_activity(l, bins));
  return path;
}

}  // namespace

TEST(StoreSchema, FreshStoreIsCurrentAndInWalMode) {
  const auto dir = eh::test::temp_dir("schema_fresh");
  const std::string path = (dir / "s.db").string();
  {
    es::Store s(path);
    EXPECT_EQ(s.journal_mode(), "wal");
    EXPECT_EQ(s.bin_seconds(), 60);
    EXPECT_EQ(s.block_seconds(), 3600);
  }
  EXPECT_EQ(raw_int(path, "PRAGMA user_version"), es::kSchemaVersion);
  EXPECT_EQ(raw_int(path, "PRAGMA application_id"), es::kApplicationId);
  EXPECT_EQ(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('animals','sightings','behaviour',"
                          "'activity','embeddings','thumbnails','outcomes','daily','open_bins','meta')"),
            10);
  // WAL mode is persistent: a plain connection sees it too.
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  // The layout of a new store is chosen at creation and kept.
  es::StoreOptions o;
  o.bin_seconds = 300;
  o.block_seconds = 86400;
  es::Store s(path, o);
  EXPECT_EQ(s.bin_seconds(), 60);
  es::Store s2((dir / "day.db").string(), o);
  EXPECT_EQ(s2.bin_seconds(), 300);
  EXPECT_EQ(s2.block_seconds(), 86400);
  o.block_seconds = 7000;  // does not divide a day
  EXPECT_THROW(es::Store((dir / "bad.db").string(), o), eh::Error);
}

TEST(StoreSchema, MigrationsAreOrderedAndComplete) {
  const auto& m = es::migrations();
  ASSERT_EQ(static_cast<int>(m.size()), es::kSchemaVersion);
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].to_version, static_cast<int>(i) + 1);
}

TEST(StoreSchema, V1StoreIsMigratedOnOpen) {
  const std::string path = make_v1("schema_v1");
  ASSERT_EQ(raw_int(path, "PRAGMA user_version"), 1);
  {
    es::Store s(path);
    EXPECT_EQ(raw_int(path, "PRAGMA user_version"), es::kSchemaVersion);
    // v1 data is still there.
    const auto a = s.animal(7);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->name, "Peppa");
    EXPECT_TRUE(a->tag.empty());  // v2 column
    const auto bins = s.block(7, 1704067200);
    EXPECT_EQ(bins, two_hours_of_bins(1704067200));
    const auto outcomes = s.outcomes();
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0].kind, "lameness");
    EXPECT_TRUE(outcomes[0].note.empty());  // v2 column
    // v3: daily totals backfilled from the v1 blocks.
    const auto daily = s.daily(7);
    ASSERT_EQ(daily.size(), 1u);
    EXPECT_EQ(daily[0].day, 1704067200);
    EXPECT_EQ(daily[0].bins, 30u);
    EXPECT_EQ(daily[0].behaviour_s[es::kLying], 30u * 40);
    EXPECT_EQ(daily[0].behaviour_s[es::kEating], 30u * 20);
    // v2 features work.
    s.set_animal_info(7, "DK-123", "Peppa");
    EXPECT_EQ(s.animal_by_tag("DK-123").value_or(0), 7);
    EXPECT_TRUE(s.offer_thumbnail(7, 1704067200, {0xff, 0xd8, 0xff, 0xd9}, 2, 2));
    EXPECT_EQ(s.integrity_check(), "ok");
  }
  // Opening again is a no-op.
  es::Store again(path);
  EXPECT_EQ(again.daily(7).size(), 1u);
}

TEST(StoreSchema, FailedMigrationLeavesTheStoreUntouched) {
  const std::string path = make_v1("schema_v1_bad", /*corrupt_block=*/true);
  try {
    es::Store s(path);
    FAIL() << "expected the v3 backfill to fail on the corrupt block";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("migration to schema v3"), std::string::npos) << e.what();
  }
  EXPECT_EQ(raw_int(path, "PRAGMA user_version"), 1);
  EXPECT_EQ(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('thumbnails', 'daily')"), 0);
  EXPECT_EQ(raw_int(path, "SELECT count(*) FROM pragma_table_info('animals') WHERE name = 'tag'"), 0);
}

TEST(StoreSchema, NewerSchemaIsAClearError) {
  const auto dir = eh::test::temp_dir("schema_newer");
  const std::string path = (dir / "s.db").string();
  { es::Store s(path); }
  raw_exec(path, "PRAGMA user_version = " + std::to_string(es::kSchemaVersion + 1));
  try {
    es::Store s(path);
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("newer"), std::string::npos) << m;
    EXPECT_NE(m.find(std::to_string(es::kSchemaVersion + 1)), std::string::npos) << m;
    EXPECT_NE(m.find(path), std::string::npos) << m;
  }
  es::StoreOptions ro;
  ro.read_only = true;
  EXPECT_THROW(es::Store(path, ro), eh::Error);
  // Untouched.
  EXPECT_EQ(raw_int(path, "PRAGMA user_version"), es::kSchemaVersion + 1);
}

TEST(StoreSchema, ForeignFilesAreRefused) {
  const auto dir = eh::test::temp_dir("schema_foreign");
  const std::string other = (dir / "other.db").string();
  raw_exec(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
  EXPECT_THROW(es::Store s(other), eh::Error);
  EXPECT_EQ(raw_int(other, "SELECT count(*) FROM t"), 1);
  const std::string app = (dir / "app.db").string();
  raw_exec(app, "PRAGMA application_id = 42; PRAGMA user_version = 1;");
  EXPECT_THROW(es::Store s(app), eh::Error);
  std::ofstream(dir / "junk.db") << "this is not a database, just some text that is long enough to be a header";
  EXPECT_THROW(es::Store s((dir / "junk.db").string()), eh::Error);
  es::StoreOptions no_create;
  no_create.create = false;
  EXPECT_THROW(es::Store s((dir / "missing.db").string(), no_create), eh::Error);
}

TEST(StoreSchema, ReadOnlyDoesNotMigrate) {
  const std::string path = make_v1("schema_ro");
  es::StoreOptions ro;
  ro.read_only = true;
  try {
    es::Store s(path, ro);
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("store migrate"), std::string::npos) << e.what();
  }
  EXPECT_EQ(raw_int(path, "PRAGMA user_version"), 1);
  EXPECT_EQ(es::migrate_store(path), 1);
  EXPECT_EQ(raw_int(path, "PRAGMA user_version"), es::kSchemaVersion);
  es::Store s(path, ro);
  EXPECT_EQ(s.daily(7).size(), 1u);
  EXPECT_THROW(s.add_outcome({0, 7, "illness", 1, std::nullopt, ""}), eh::Error);
}
