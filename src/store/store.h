// The longitudinal per-animal record: one SQLite file (schema in docs/store.md).
//
//   eh::store::Store db("pen1.db");                 // creates or migrates; WAL mode
//   eh::store::Recorder rec(db);                    // per-frame observations -> per-minute bins
//   rec.observe({animal_id, t_unix_s, x_m, y_m, behaviour_class});
//   rec.offer_embedding(animal_id, t, emb.data(), emb.size());
//   rec.flush();                                    // at shutdown (the destructor does it too)
//
// Writes are batched into transactions that commit every `commit_every_rows` rows or every
// `commit_interval_s` seconds (checked on every write and on poll()), so a crash or power cut
// loses at most about that much. A Store is one connection: use it from one thread; other
// processes may read the file at the same time (WAL).
#pragma once
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/codec.h"
#include "store/embedding_pool.h"
#include "store/sqlite_util.h"

namespace eh::store {

constexpr int kSchemaVersion = 3;
constexpr int32_t kApplicationId = 0x45485344;  // "EHSD"

enum class Synchronous { Normal, Full };

struct StoreOptions {
  bool create = true;       // create the file when missing
  bool read_only = false;   // no writes, no migration (an older schema is an error)
  // Layout of a new store (an existing one keeps its own, from the meta table).
  int bin_seconds = 60;      // sightings / behaviour / activity resolution
  int block_seconds = 3600;  // bins per row = block_seconds / bin_seconds; must divide a day
  // Batching: a write transaction commits after this many rows or this many seconds.
  int commit_every_rows = 1000;
  double commit_interval_s = 1.0;
  // FULL syncs the WAL at every commit (one fsync per batch), so a power cut loses at most the
  // open batch. NORMAL syncs only at checkpoints: a process crash loses nothing committed, but
  // a power cut can lose every commit since the last checkpoint (up to ~1000 WAL pages).
  Synchronous synchronous = Synchronous::Full;
  int busy_timeout_ms = 5000;
  int wal_autocheckpoint_pages = 1000;
};

struct Animal {
  int64_t id = 0;
  std::string tag;   // ear tag / RFID; empty when unknown
  std::string name;
  std::optional<int64_t> first_seen, last_seen;  // unix seconds
};

struct StoredEmbedding {
  int slot = 0;
  PoolEntry entry;
};

struct Thumbnail {
  int slot = 0;
  int64_t taken_at = 0;
  int width = 0, height = 0;
  std::vector<uint8_t> jpeg;
};

struct Outcome {
  int64_t id = 0;           // assigned by the store
  int64_t animal_id = 0;
  std::string kind;         // lameness, illness, reproduction, growth, ...
  double value = 0;         // 1/0 for events, a number for continuous outcomes
  std::optional<int64_t> onset;  // unix seconds
  std::string note;
};

struct TableSize {
  std::string table;
  int64_t rows = 0;
  int64_t bytes = 0;    // pages of the table and its indexes * page size
  int64_t payload = 0;  // bytes of records in those pages
};

struct SizeReport {
  int64_t page_size = 0, page_count = 0, freelist_pages = 0;
  int64_t file_bytes = 0, wal_bytes = 0;
  std::vector<TableSize> tables;  // includes "(schema)" and "(free)" pseudo-tables
};

class Store {
 public:
  explicit Store(const std::string& path, const StoreOptions& opt = {});
  ~Store();  // commits what is pending (errors are logged, not thrown)
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const { return kSchemaVersion; }
  int bin_seconds() const { return bin_s_; }
  int block_seconds() const { return block_s_; }
  BlockLayout layout(int64_t block_start) const { return {block_start, bin_s_, block_s_ / bin_s_}; }
  const StoreOptions& options() const { return opt_; }
  sqlite3* handle() const { return db_; }

  // ---- animals
  // Creates the animal when missing; returns whether it was created.
  bool ensure_animal(int64_t id);
  int64_t add_animal(const Animal& a);  // a.id == 0: assigned
  void set_animal_info(int64_t id, const std::string& tag, const std::string& name);
  std::vector<Animal> animals();
  std::optional<Animal> animal(int64_t id);
  std::optional<int64_t> animal_by_tag(const std::string& tag);

  // ---- bins (sightings, behaviour, activity): one row per animal per block in each table
  // Seals the block [block_start, block_start + block_seconds) of `animal`: replaces its rows
  // with `bins` and drops the block's open bins.
  void put_block(int64_t animal, int64_t block_start, const std::vector<BinRecord>& bins);
  // Writes bins of a block that is not sealed yet (one small row per bin in open_bins; the
  // Recorder's cheap provisional writes). bins() and block() include them.
  void put_open_bins(int64_t animal, const std::vector<BinRecord>& bins);
  // Seals every block that still has open bins and ends at or before `before` (e.g. of an animal
  // that left and was not seen again after a restart); refreshes their days. Returns how many.
  int seal_open_blocks(int64_t before);
  // Bins of `animal` with start in [t0, t1), decoded, sorted.
  std::vector<BinRecord> bins(int64_t animal, int64_t t0, int64_t t1);
  std::vector<BinRecord> block(int64_t animal, int64_t block_start);
  // Every (animal, block_start) present (sealed or open), in order.
  std::vector<std::pair<int64_t, int64_t>> block_keys();

  // ---- daily totals (derived from bins; refreshed by the Recorder when a block completes)
  DailyRecord compute_daily(int64_t animal, int64_t day);
  void refresh_daily(int64_t animal, int64_t day);
  std::vector<DailyRecord> daily(int64_t animal);

  // ---- embedding pool (see embedding_pool.h); slots are 0..max_size-1
  std::vector<StoredEmbedding> embeddings(int64_t animal);
  void put_embedding(int64_t animal, int slot, const PoolEntry& e);
  void touch_embedding(int64_t animal, int slot, int64_t last_seen, uint32_t hits);

  // ---- thumbnails (JPEG bytes as given; the caller encodes)
  std::vector<Thumbnail> thumbnails(int64_t animal, bool with_data = true);
  void put_thumbnail(int64_t animal, const Thumbnail& t);
  // Keeps at most max_count per animal and at least min_interval_s between them: when full,
  // drops the one (never the first nor the newest) closest in time to its predecessor, so the
  // kept ones spread over the animal's life. Returns false when the offer is not kept.
  bool offer_thumbnail(int64_t animal, int64_t t, const std::vector<uint8_t>& jpeg, int width, int height,
                       int max_count = 8, double min_interval_s = 6 * 3600.0);

  // ---- outcome labels
  int64_t add_outcome(const Outcome& o);
  std::vector<Outcome> outcomes();

  // ---- meta
  std::optional<std::string> meta(const std::string& key);
  void set_meta(const std::string& key, const std::string& value);

  // ---- transactions
  // Commits when a batch is due (rows or time). Cheap; call it regularly when writes pause.
  void poll();
  // Commits now (no-op when nothing is pending).
  void commit();
  // Commits, then checkpoints the WAL into the database (truncate: empties the WAL file).
  void checkpoint(bool truncate = true);
  // Called after every successful commit (e.g. to report progress).
  void set_commit_listener(std::function<void()> f) { on_commit_ = std::move(f); }
  int64_t commits() const { return commits_; }
  bool in_transaction() const { return in_txn_; }

  // ---- inspection
  SizeReport size_report();
  // "ok" or the problems PRAGMA integrity_check lists.
  std::string integrity_check();
  std::string journal_mode();

 private:
  void begin_write();
  void wrote(int rows);
  void prepare();
  void put_blob(sql::Stmt& s, int64_t animal, int64_t block_start, const std::vector<uint8_t>& data);
  void decode_rows(sql::Stmt& s, int64_t animal, int64_t b0, int64_t b1, int which, std::vector<BinRecord>& out);

  std::string path_;
  StoreOptions opt_;
  sqlite3* db_ = nullptr;
  int bin_s_ = 60, block_s_ = 3600;
  bool in_txn_ = false;
  int pending_rows_ = 0;
  std::chrono::steady_clock::time_point txn_start_;
  int64_t commits_ = 0;
  std::function<void()> on_commit_;

  struct Statements;
  std::unique_ptr<Statements> st_;
};

// Opens (and so migrates) a store, returns the schema version it had before.
int migrate_store(const std::string& path);

}  // namespace eh::store
