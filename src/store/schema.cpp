#include "store/schema.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <map>

#include "core/error.h"
#include "store/codec.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace eh::store {

namespace {

const char* kV1 = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE animals(
  id INTEGER PRIMARY KEY,
  name TEXT,
  first_seen INTEGER,
  last_seen INTEGER);
CREATE TABLE sightings(
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  block_start INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(animal_id, block_start)) WITHOUT ROWID;
CREATE TABLE behaviour(
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  block_start INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(animal_id, block_start)) WITHOUT ROWID;
CREATE TABLE activity(
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  block_start INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(animal_id, block_start)) WITHOUT ROWID;
CREATE TABLE embeddings(
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  slot INTEGER NOT NULL,
  added_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  hits INTEGER NOT NULL,
  scale REAL NOT NULL,
  vec BLOB NOT NULL,
  PRIMARY KEY(animal_id, slot)) WITHOUT ROWID;
CREATE TABLE outcomes(
  id INTEGER PRIMARY KEY,
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  value REAL NOT NULL,
  onset INTEGER);
CREATE INDEX outcomes_animal ON outcomes(animal_id);
)sql";

const char* kV2 = R"sql(
ALTER TABLE animals ADD COLUMN tag TEXT;
CREATE UNIQUE INDEX animals_tag ON animals(tag) WHERE tag IS NOT NULL;
ALTER TABLE outcomes ADD COLUMN note TEXT;
CREATE TABLE thumbnails(
  id INTEGER PRIMARY KEY,
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  slot INTEGER NOT NULL,
  taken_at INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  jpeg BLOB NOT NULL,
  UNIQUE(animal_id, slot));
)sql";

const char* kV3 = R"sql(
CREATE TABLE daily(
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  day INTEGER NOT NULL,
  bins INTEGER NOT NULL,
  frames INTEGER NOT NULL,
  observed_s INTEGER NOT NULL,
  distance_m REAL NOT NULL,
  active_s INTEGER NOT NULL,
  unknown_s INTEGER NOT NULL,
  not_moving_s INTEGER NOT NULL,
  moving_s INTEGER NOT NULL,
  running_s INTEGER NOT NULL,
  eating_s INTEGER NOT NULL,
  drinking_s INTEGER NOT NULL,
  playing_s INTEGER NOT NULL,
  standing_s INTEGER NOT NULL,
  lying_s INTEGER NOT NULL,
  PRIMARY KEY(animal_id, day)) WITHOUT ROWID;
CREATE TABLE open_bins(
  bin_start INTEGER NOT NULL,
  animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
  data BLOB NOT NULL,
  PRIMARY KEY(bin_start, animal_id)) WITHOUT ROWID;
)sql";

int meta_int(sqlite3* db, const char* key) {
  sql::Stmt s(db, "SELECT value FROM meta WHERE key = ?", "store meta");
  s.bind(1, std::string(key));
  if (!s.step()) throw eh::Error(fmt::format("store: meta key '{}' missing", key));
  try {
    return std::stoi(s.col_text(0));
  } catch (const std::exception&) {
    throw eh::Error(fmt::format("store: meta key '{}' is not an integer: '{}'", key, s.col_text(0)));
  }
}

void check_layout(int bin_s, int block_s) {
  if (bin_s <= 0 || block_s <= 0 || block_s % bin_s != 0 || kDaySeconds % block_s != 0 || block_s / bin_s > 4096)
    throw eh::Error(fmt::format(
        "store: bad layout: bin {} s, block {} s (need bin > 0, block a multiple of bin that divides a day, "
        "<= 4096 bins per block)",
        bin_s, block_s));
}

// v3 backfill: daily totals from every block already stored.
void backfill_daily(sqlite3* db) {
  const int bin_s = meta_int(db, "bin_seconds");
  const int block_s = meta_int(db, "block_seconds");
  check_layout(bin_s, block_s);
  std::map<std::pair<int64_t, int64_t>, DailyRecord> days;
  const struct {
    const char* table;
    void (*decode)(const BlockLayout&, const uint8_t*, size_t, std::vector<BinRecord>&);
  } tables[] = {{"sightings", decode_sightings}, {"behaviour", decode_behaviour}, {"activity", decode_activity}};
  std::map<std::pair<int64_t, int64_t>, std::vector<BinRecord>> blocks;
  for (const auto& t : tables) {
    sql::Stmt s(db, fmt::format("SELECT animal_id, block_start, data FROM {}", t.table), "store migration v3");
    while (s.step()) {
      const int64_t a = s.col_int(0), b = s.col_int(1);
      size_t n = 0;
      const uint8_t* p = s.col_blob_ptr(2, &n);
      t.decode(BlockLayout{b, bin_s, block_s / bin_s}, p, n, blocks[{a, b}]);
    }
  }
  for (const auto& [key, bins] : blocks) {
    const int64_t day = floor_to(key.second, kDaySeconds);
    DailyRecord& d = days[{key.first, day}];
    d.animal_id = key.first;
    d.day = day;
    for (const auto& b : bins) d.add(b);
  }
  sql::Stmt ins(db,
                "INSERT INTO daily VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", "store migration v3");
  for (const auto& [key, d] : days) {
    ins.reset();
    int i = 1;
    ins.bind(i++, d.animal_id);
    ins.bind(i++, d.day);
    ins.bind(i++, static_cast<int64_t>(d.bins));
    ins.bind(i++, static_cast<int64_t>(d.frames));
    ins.bind(i++, static_cast<int64_t>(d.observed_s));
    ins.bind(i++, d.distance_m);
    ins.bind(i++, static_cast<int64_t>(d.active_s));
    for (auto v : d.behaviour_s) ins.bind(i++, static_cast<int64_t>(v));
    ins.run();
  }
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> m = {
      {1, "animals, hour blocks of sightings/behaviour/activity, embeddings, outcomes",
       [](sqlite3* db, const SchemaContext& ctx) {
         check_layout(ctx.bin_seconds, ctx.block_seconds);
         sql::exec(db, kV1, "store migration v1");
         sql::Stmt s(db, "INSERT INTO meta(key, value) VALUES(?, ?)", "store migration v1");
         const std::pair<const char*, std::string> rows[] = {
             {"bin_seconds", std::to_string(ctx.bin_seconds)},
             {"block_seconds", std::to_string(ctx.block_seconds)},
             {"position_unit", "m (stored as integer cm)"},
             {"created_at", std::to_string(static_cast<int64_t>(time(nullptr)))}};
         for (const auto& [k, v] : rows) s.reset().bind(1, std::string(k)).bind(2, v).run();
       }},
      {2, "animal tags, outcome notes, thumbnails",
       [](sqlite3* db, const SchemaContext&) { sql::exec(db, kV2, "store migration v2"); }},
      {3, "daily totals (backfilled from the stored blocks); open_bins for blocks not yet sealed",
       [](sqlite3* db, const SchemaContext&) {
         sql::exec(db, kV3, "store migration v3");
         backfill_daily(db);
       }},
  };
  return m;
}

int check_header(sqlite3* db, const std::string& path) {
  const int64_t app = sql::query_int(db, "PRAGMA application_id", path);
  const int64_t version = sql::query_int(db, "PRAGMA user_version", path);
  const int64_t objects = sql::query_int(db, "SELECT count(*) FROM sqlite_schema", path);
  if (app != 0 && app != kApplicationId)
    throw eh::Error(fmt::format("{}: not an edgeherd store (SQLite application_id {:#x}, expected {:#x})", path, app,
                                kApplicationId));
  if (version == 0 && objects > 0)
    throw eh::Error(fmt::format("{}: not an edgeherd store (has {} schema objects but no schema version)", path,
                                objects));
  if (version > kSchemaVersion)
    throw eh::Error(fmt::format(
        "{}: store schema version {} is newer than this edgeherd supports ({}); use a newer edgeherd", path,
        version, kSchemaVersion));
  if (version < 0) throw eh::Error(fmt::format("{}: bad store schema version {}", path, version));
  return static_cast<int>(version);
}

int migrate(sqlite3* db, const std::string& path, const SchemaContext& ctx) {
  int found = check_header(db, path);
  if (found == kSchemaVersion) return found;
  sql::exec(db, "BEGIN IMMEDIATE", path);
  try {
    // Another process may have migrated between the check and the lock.
    found = check_header(db, path);
    for (const auto& m : migrations()) {
      if (m.to_version <= found) continue;
      try {
        m.apply(db, ctx);
      } catch (const std::exception& e) {
        throw eh::Error(fmt::format("{}: migration to schema v{} ({}) failed: {}", path, m.to_version,
                                    m.description, e.what()));
      }
    }
    sql::exec(db, fmt::format("PRAGMA user_version = {}; PRAGMA application_id = {};", kSchemaVersion, kApplicationId),
              path);
    sql::Stmt fk(db, "PRAGMA foreign_key_check", path);
    if (fk.step())
      throw eh::Error(fmt::format("{}: after migration, table {} row {} refers to a missing {}", path, fk.col_text(0),
                                  fk.col_int(1), fk.col_text(2)));
    fk.reset();
    sql::exec(db, "COMMIT", path);
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  if (found > 0) spdlog::info("{}: migrated store schema v{} -> v{}", path, found, kSchemaVersion);
  return found;
}

}  // namespace eh::store
