#include "store/store.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "store/schema.h"

namespace eh::store {

namespace fs = std::filesystem;

struct Store::Statements {
  sql::Stmt put[3], sel[3];
  sql::Stmt ensure_animal, add_animal, set_info, seen, animals, animal, animal_by_tag, block_keys;
  sql::Stmt put_daily, del_daily, sel_daily;
  sql::Stmt put_open, sel_open, del_open, open_keys;
  sql::Stmt sel_emb, put_emb, touch_emb;
  sql::Stmt sel_thumb, sel_thumb_meta, put_thumb;
  sql::Stmt add_outcome, sel_outcomes;
  sql::Stmt get_meta, set_meta;
};

namespace {
constexpr const char* kBlockTables[3] = {"sightings", "behaviour", "activity"};
using Decoder = void (*)(const BlockLayout&, const uint8_t*, size_t, std::vector<BinRecord>&);
constexpr Decoder kDecoders[3] = {decode_sightings, decode_behaviour, decode_activity};
}  // namespace

Store::Store(const std::string& path, const StoreOptions& opt) : path_(path), opt_(opt) {
  if (opt_.commit_every_rows < 1) throw eh::Error(fmt::format("store: commit_every_rows must be >= 1"));
  if (!(opt_.commit_interval_s >= 0)) throw eh::Error(fmt::format("store: commit_interval_s must be >= 0"));
  const bool exists = fs::exists(path);
  if (!exists && (!opt_.create || opt_.read_only)) throw eh::Error(fmt::format("{}: no such store", path));
  int flags = opt_.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw eh::Error(fmt::format("{}: cannot open store: {}", path, msg));
  }
  try {
    sqlite3_busy_timeout(db_, opt_.busy_timeout_ms);
    sqlite3_extended_result_codes(db_, 1);
    int version = 0;
    try {
      version = check_header(db_, path_);
    } catch (const eh::Error&) {
      if (sqlite3_errcode(db_) == SQLITE_NOTADB)
        throw eh::Error(fmt::format("{}: not an edgeherd store (not an SQLite database)", path_));
      throw;
    }
    if (opt_.read_only) {
      if (version < kSchemaVersion)
        throw eh::Error(fmt::format("{}: store schema v{} is older than v{}; open it read-write once to migrate "
                                    "(edgeherd store migrate --db {})",
                                    path_, version, kSchemaVersion, path_));
    } else {
      const std::string mode = sql::query_text(db_, "PRAGMA journal_mode = WAL", path_);
      if (mode != "wal") throw eh::Error(fmt::format("{}: cannot switch to WAL mode (journal_mode is '{}')", path_, mode));
      sql::exec(db_,
                fmt::format("PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = {}; "
                            "PRAGMA journal_size_limit = {};",
                            opt_.synchronous == Synchronous::Full ? "FULL" : "NORMAL", opt_.wal_autocheckpoint_pages,
                            16 << 20),
                path_);
      SchemaContext ctx{opt_.bin_seconds, opt_.block_seconds};
      migrate(db_, path_, ctx);
    }
    const auto bin = meta("bin_seconds"), block = meta("block_seconds");
    if (!bin || !block) throw eh::Error(fmt::format("{}: meta table lacks bin_seconds/block_seconds", path_));
    bin_s_ = std::stoi(*bin);
    block_s_ = std::stoi(*block);
    if (bin_s_ <= 0 || block_s_ <= 0 || block_s_ % bin_s_ != 0 || kDaySeconds % block_s_ != 0)
      throw eh::Error(fmt::format("{}: bad layout in meta: bin {} s, block {} s", path_, bin_s_, block_s_));
    prepare();
  } catch (...) {
    st_.reset();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  try {
    commit();
  } catch (const std::exception& e) {
    spdlog::error("{}: final commit failed: {}", path_, e.what());
  }
  st_.reset();
  if (db_) sqlite3_close(db_);
}

void Store::prepare() {
  st_ = std::make_unique<Statements>();
  auto& s = *st_;
  auto P = [&](const std::string& q) { return sql::Stmt(db_, q, path_); };
  for (int i = 0; i < 3; ++i) {
    s.put[i] = P(fmt::format("INSERT OR REPLACE INTO {}(animal_id, block_start, data) VALUES(?, ?, ?)", kBlockTables[i]));
    s.sel[i] = P(fmt::format("SELECT block_start, data FROM {} WHERE animal_id = ? AND block_start >= ? AND "
                             "block_start < ? ORDER BY block_start",
                             kBlockTables[i]));
  }
  s.ensure_animal = P("INSERT OR IGNORE INTO animals(id) VALUES(?)");
  s.add_animal = P("INSERT INTO animals(id, tag, name) VALUES(?, ?, ?)");
  s.set_info = P("UPDATE animals SET tag = ?, name = ? WHERE id = ?");
  s.seen = P(
      "UPDATE animals SET first_seen = min(coalesce(first_seen, ?1), ?1), last_seen = max(coalesce(last_seen, ?2), "
      "?2) WHERE id = ?3");
  s.animals = P("SELECT id, tag, name, first_seen, last_seen FROM animals ORDER BY id");
  s.animal = P("SELECT id, tag, name, first_seen, last_seen FROM animals WHERE id = ?");
  s.animal_by_tag = P("SELECT id FROM animals WHERE tag = ?");
  s.block_keys = P(
      "SELECT animal_id, block_start FROM sightings UNION SELECT animal_id, block_start FROM behaviour UNION "
      "SELECT animal_id, block_start FROM activity ORDER BY 1, 2");
  s.put_open = P("INSERT OR REPLACE INTO open_bins(bin_start, animal_id, data) VALUES(?, ?, ?)");
  s.sel_open = P(
      "SELECT bin_start, data FROM open_bins WHERE bin_start >= ? AND bin_start < ? AND animal_id = ? ORDER BY "
      "bin_start");
  s.del_open = P("DELETE FROM open_bins WHERE bin_start >= ? AND bin_start < ? AND animal_id = ?");
  s.open_keys = P("SELECT DISTINCT animal_id, bin_start FROM open_bins");
  s.put_daily = P("INSERT OR REPLACE INTO daily VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.del_daily = P("DELETE FROM daily WHERE animal_id = ? AND day = ?");
  s.sel_daily = P(
      "SELECT animal_id, day, bins, frames, observed_s, distance_m, active_s, unknown_s, not_moving_s, moving_s, "
      "running_s, eating_s, drinking_s, playing_s, standing_s, lying_s FROM daily WHERE animal_id = ? ORDER BY day");
  s.sel_emb = P("SELECT slot, added_at, last_seen, hits, scale, vec FROM embeddings WHERE animal_id = ? ORDER BY slot");
  s.put_emb = P(
      "INSERT OR REPLACE INTO embeddings(animal_id, slot, added_at, last_seen, hits, scale, vec) VALUES(?,?,?,?,?,?,?)");
  s.touch_emb = P("UPDATE embeddings SET last_seen = ?, hits = ? WHERE animal_id = ? AND slot = ?");
  s.sel_thumb = P(
      "SELECT slot, taken_at, width, height, jpeg FROM thumbnails WHERE animal_id = ? ORDER BY taken_at, slot");
  s.sel_thumb_meta = P(
      "SELECT slot, taken_at, width, height, NULL FROM thumbnails WHERE animal_id = ? ORDER BY taken_at, slot");
  s.put_thumb = P(
      "INSERT OR REPLACE INTO thumbnails(animal_id, slot, taken_at, width, height, jpeg) VALUES(?,?,?,?,?,?)");
  s.add_outcome = P("INSERT INTO outcomes(animal_id, kind, value, onset, note) VALUES(?,?,?,?,?)");
  s.sel_outcomes = P("SELECT id, animal_id, kind, value, onset, note FROM outcomes ORDER BY id");
  s.get_meta = P("SELECT value FROM meta WHERE key = ?");
  s.set_meta = P("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
}

// ---- transactions ------------------------------------------------------------------------

void Store::begin_write() {
  if (opt_.read_only) throw eh::Error(fmt::format("{}: store opened read-only", path_));
  if (in_txn_) return;
  sql::exec(db_, "BEGIN IMMEDIATE", path_);
  in_txn_ = true;
  pending_rows_ = 0;
  txn_start_ = std::chrono::steady_clock::now();
}

void Store::wrote(int rows) {
  pending_rows_ += rows;
  poll();
}

void Store::poll() {
  if (!in_txn_) return;
  if (pending_rows_ >= opt_.commit_every_rows ||
      std::chrono::duration<double>(std::chrono::steady_clock::now() - txn_start_).count() >= opt_.commit_interval_s)
    commit();
}

void Store::commit() {
  if (!in_txn_ || !db_) return;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    const std::string msg = sqlite3_errmsg(db_);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    in_txn_ = false;
    throw eh::Error(fmt::format("{}: commit failed ({} rows lost): {}", path_, pending_rows_, msg));
  }
  in_txn_ = false;
  pending_rows_ = 0;
  ++commits_;
  if (on_commit_) on_commit_();
}

void Store::checkpoint(bool truncate) {
  commit();
  if (opt_.read_only) return;
  int log = 0, ckpt = 0;
  if (sqlite3_wal_checkpoint_v2(db_, nullptr, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, &log,
                                &ckpt) != SQLITE_OK)
    sql::fail(db_, path_, "checkpoint");
}

// ---- animals -----------------------------------------------------------------------------

bool Store::ensure_animal(int64_t id) {
  begin_write();
  st_->ensure_animal.reset().bind(1, id).run();
  const bool created = sqlite3_changes(db_) > 0;
  if (created) wrote(1);
  return created;
}

int64_t Store::add_animal(const Animal& a) {
  begin_write();
  auto& s = st_->add_animal;
  s.reset();
  if (a.id > 0) s.bind(1, a.id); else s.bind_null(1);
  if (a.tag.empty()) s.bind_null(2); else s.bind(2, a.tag);
  if (a.name.empty()) s.bind_null(3); else s.bind(3, a.name);
  s.run();
  const int64_t id = sqlite3_last_insert_rowid(db_);
  wrote(1);
  return id;
}

void Store::set_animal_info(int64_t id, const std::string& tag, const std::string& name) {
  ensure_animal(id);
  auto& s = st_->set_info;
  s.reset();
  if (tag.empty()) s.bind_null(1); else s.bind(1, tag);
  if (name.empty()) s.bind_null(2); else s.bind(2, name);
  s.bind(3, id).run();
  wrote(1);
}

namespace {
Animal read_animal(const sql::Stmt& s) {
  Animal a;
  a.id = s.col_int(0);
  a.tag = s.col_text(1);
  a.name = s.col_text(2);
  if (!s.is_null(3)) a.first_seen = s.col_int(3);
  if (!s.is_null(4)) a.last_seen = s.col_int(4);
  return a;
}
}  // namespace

std::vector<Animal> Store::animals() {
  sql::ResetGuard g(st_->animals);
  std::vector<Animal> out;
  while (st_->animals.step()) out.push_back(read_animal(st_->animals));
  return out;
}

std::optional<Animal> Store::animal(int64_t id) {
  sql::ResetGuard g(st_->animal);
  st_->animal.bind(1, id);
  if (!st_->animal.step()) return std::nullopt;
  return read_animal(st_->animal);
}

std::optional<int64_t> Store::animal_by_tag(const std::string& tag) {
  sql::ResetGuard g(st_->animal_by_tag);
  st_->animal_by_tag.bind(1, tag);
  if (!st_->animal_by_tag.step()) return std::nullopt;
  return st_->animal_by_tag.col_int(0);
}

// ---- bins --------------------------------------------------------------------------------

void Store::put_blob(sql::Stmt& s, int64_t animal, int64_t block_start, const std::vector<uint8_t>& data) {
  s.reset().bind(1, animal).bind(2, block_start).bind_blob(3, data.data(), data.size()).run();
}

void Store::put_block(int64_t animal, int64_t block_start, const std::vector<BinRecord>& bins) {
  if (block_start % block_s_ != 0)
    throw eh::Error(fmt::format("{}: block start {} is not a multiple of {} s", path_, block_start, block_s_));
  const BlockLayout l = layout(block_start);
  // Encode first: a bad record throws before anything is written.
  const auto a = encode_sightings(l, bins), b = encode_behaviour(l, bins), c = encode_activity(l, bins);
  begin_write();
  st_->ensure_animal.reset().bind(1, animal).run();
  put_blob(st_->put[0], animal, block_start, a);
  put_blob(st_->put[1], animal, block_start, b);
  put_blob(st_->put[2], animal, block_start, c);
  int64_t first = 0, last = 0;
  bool any = false;
  for (const auto& r : bins)
    if (r.frames > 0) {
      if (!any) first = r.start;
      last = r.start + bin_s_;
      any = true;
    }
  if (any) st_->seen.reset().bind(1, first).bind(2, last).bind(3, animal).run();
  st_->del_open.reset().bind(1, block_start).bind(2, block_start + block_s_).bind(3, animal).run();
  wrote(3);
}

void Store::put_open_bins(int64_t animal, const std::vector<BinRecord>& bins) {
  std::vector<std::vector<uint8_t>> blobs;
  for (const auto& b : bins) {
    if (b.start % bin_s_ != 0)
      throw eh::Error(fmt::format("{}: bin start {} is not a multiple of {} s", path_, b.start, bin_s_));
    blobs.push_back(encode_bin(b));
  }
  if (bins.empty()) return;
  begin_write();
  st_->ensure_animal.reset().bind(1, animal).run();
  for (size_t i = 0; i < bins.size(); ++i)
    st_->put_open.reset().bind(1, bins[i].start).bind(2, animal).bind_blob(3, blobs[i].data(), blobs[i].size()).run();
  wrote(static_cast<int>(bins.size()));
}

int Store::seal_open_blocks(int64_t before) {
  const int64_t limit = floor_to(before, block_s_);
  std::set<std::pair<int64_t, int64_t>> keys;
  {
    sql::Stmt q(db_, "SELECT DISTINCT animal_id, bin_start FROM open_bins WHERE bin_start < ?", path_);
    q.bind(1, limit);
    while (q.step()) keys.emplace(q.col_int(0), floor_to(q.col_int(1), block_s_));
  }
  for (const auto& [animal, block_start] : keys) {
    put_block(animal, block_start, block(animal, block_start));
    refresh_daily(animal, block_start);
  }
  return static_cast<int>(keys.size());
}

void Store::decode_rows(sql::Stmt& s, int64_t animal, int64_t b0, int64_t b1, int which, std::vector<BinRecord>& out) {
  sql::ResetGuard g(s);
  s.bind(1, animal).bind(2, b0).bind(3, b1);
  while (s.step()) {
    const int64_t start = s.col_int(0);
    size_t n = 0;
    const uint8_t* p = s.col_blob_ptr(1, &n);
    try {
      kDecoders[which](layout(start), p, n, out);
    } catch (const eh::Error& e) {
      throw eh::Error(fmt::format("{}: {} row (animal {}, block {}): {}", path_, kBlockTables[which], animal, start,
                                  e.what()));
    }
  }
}

std::vector<BinRecord> Store::bins(int64_t animal, int64_t t0, int64_t t1) {
  std::vector<BinRecord> out;
  if (t1 <= t0) return out;
  const int64_t b0 = floor_to(t0, block_s_);
  for (int i = 0; i < 3; ++i) decode_rows(st_->sel[i], animal, b0, t1, i, out);
  {
    auto& q = st_->sel_open;
    sql::ResetGuard g(q);
    q.bind(1, t0).bind(2, t1).bind(3, animal);
    while (q.step()) {
      const int64_t start = q.col_int(0);
      size_t n = 0;
      const uint8_t* p = q.col_blob_ptr(1, &n);
      BinRecord r;
      try {
        r = decode_bin(start, p, n);
      } catch (const eh::Error& e) {
        throw eh::Error(fmt::format("{}: open_bins row (animal {}, bin {}): {}", path_, animal, start, e.what()));
      }
      auto it = std::lower_bound(out.begin(), out.end(), start,
                                 [](const BinRecord& b, int64_t v) { return b.start < v; });
      if (it != out.end() && it->start == start) *it = r;
      else out.insert(it, r);
    }
  }
  out.erase(std::remove_if(out.begin(), out.end(), [&](const BinRecord& r) { return r.start < t0 || r.start >= t1; }),
            out.end());
  return out;
}

std::vector<BinRecord> Store::block(int64_t animal, int64_t block_start) {
  return bins(animal, block_start, block_start + block_s_);
}

std::vector<std::pair<int64_t, int64_t>> Store::block_keys() {
  sql::ResetGuard g(st_->block_keys);
  std::set<std::pair<int64_t, int64_t>> keys;
  while (st_->block_keys.step()) keys.emplace(st_->block_keys.col_int(0), st_->block_keys.col_int(1));
  sql::ResetGuard g2(st_->open_keys);
  while (st_->open_keys.step())
    keys.emplace(st_->open_keys.col_int(0), floor_to(st_->open_keys.col_int(1), block_s_));
  return {keys.begin(), keys.end()};
}

// ---- daily -------------------------------------------------------------------------------

DailyRecord Store::compute_daily(int64_t animal, int64_t day) {
  DailyRecord d;
  d.animal_id = animal;
  d.day = floor_to(day, kDaySeconds);
  for (const auto& b : bins(animal, d.day, d.day + kDaySeconds)) d.add(b);
  return d;
}

void Store::refresh_daily(int64_t animal, int64_t day) {
  const DailyRecord d = compute_daily(animal, day);
  begin_write();
  if (d.bins == 0) {
    st_->del_daily.reset().bind(1, animal).bind(2, d.day).run();
  } else {
    auto& s = st_->put_daily;
    s.reset();
    int i = 1;
    s.bind(i++, d.animal_id);
    s.bind(i++, d.day);
    s.bind(i++, static_cast<int64_t>(d.bins));
    s.bind(i++, static_cast<int64_t>(d.frames));
    s.bind(i++, static_cast<int64_t>(d.observed_s));
    s.bind(i++, d.distance_m);
    s.bind(i++, static_cast<int64_t>(d.active_s));
    for (auto v : d.behaviour_s) s.bind(i++, static_cast<int64_t>(v));
    s.run();
  }
  wrote(1);
}

std::vector<DailyRecord> Store::daily(int64_t animal) {
  auto& s = st_->sel_daily;
  sql::ResetGuard g(s);
  s.bind(1, animal);
  std::vector<DailyRecord> out;
  while (s.step()) {
    DailyRecord d;
    d.animal_id = s.col_int(0);
    d.day = s.col_int(1);
    d.bins = static_cast<uint32_t>(s.col_int(2));
    d.frames = static_cast<uint64_t>(s.col_int(3));
    d.observed_s = static_cast<uint64_t>(s.col_int(4));
    d.distance_m = s.col_double(5);
    d.active_s = static_cast<uint64_t>(s.col_int(6));
    for (int c = 0; c < kNumClasses; ++c) d.behaviour_s[static_cast<size_t>(c)] = static_cast<uint64_t>(s.col_int(7 + c));
    out.push_back(d);
  }
  return out;
}

// ---- embeddings --------------------------------------------------------------------------

std::vector<StoredEmbedding> Store::embeddings(int64_t animal) {
  auto& s = st_->sel_emb;
  sql::ResetGuard g(s);
  s.bind(1, animal);
  std::vector<StoredEmbedding> out;
  while (s.step()) {
    StoredEmbedding e;
    e.slot = static_cast<int>(s.col_int(0));
    e.entry.added_at = s.col_int(1);
    e.entry.last_seen = s.col_int(2);
    e.entry.hits = static_cast<uint32_t>(s.col_int(3));
    e.entry.vec.scale = static_cast<float>(s.col_double(4));
    size_t n = 0;
    const uint8_t* p = s.col_blob_ptr(5, &n);
    e.entry.vec.q.assign(reinterpret_cast<const int8_t*>(p), reinterpret_cast<const int8_t*>(p) + n);
    out.push_back(std::move(e));
  }
  return out;
}

void Store::put_embedding(int64_t animal, int slot, const PoolEntry& e) {
  begin_write();
  st_->ensure_animal.reset().bind(1, animal).run();
  st_->put_emb.reset()
      .bind(1, animal)
      .bind(2, slot)
      .bind(3, e.added_at)
      .bind(4, e.last_seen)
      .bind(5, static_cast<int64_t>(e.hits))
      .bind(6, static_cast<double>(e.vec.scale))
      .bind_blob(7, e.vec.q.data(), e.vec.q.size())
      .run();
  wrote(1);
}

void Store::touch_embedding(int64_t animal, int slot, int64_t last_seen, uint32_t hits) {
  begin_write();
  st_->touch_emb.reset().bind(1, last_seen).bind(2, static_cast<int64_t>(hits)).bind(3, animal).bind(4, slot).run();
  wrote(1);
}

// ---- thumbnails --------------------------------------------------------------------------

std::vector<Thumbnail> Store::thumbnails(int64_t animal, bool with_data) {
  auto& s = with_data ? st_->sel_thumb : st_->sel_thumb_meta;
  sql::ResetGuard g(s);
  s.bind(1, animal);
  std::vector<Thumbnail> out;
  while (s.step()) {
    Thumbnail t;
    t.slot = static_cast<int>(s.col_int(0));
    t.taken_at = s.col_int(1);
    t.width = static_cast<int>(s.col_int(2));
    t.height = static_cast<int>(s.col_int(3));
    if (with_data) t.jpeg = s.col_blob(4);
    out.push_back(std::move(t));
  }
  return out;
}

void Store::put_thumbnail(int64_t animal, const Thumbnail& t) {
  begin_write();
  st_->ensure_animal.reset().bind(1, animal).run();
  st_->put_thumb.reset()
      .bind(1, animal)
      .bind(2, t.slot)
      .bind(3, t.taken_at)
      .bind(4, t.width)
      .bind(5, t.height)
      .bind_blob(6, t.jpeg.data(), t.jpeg.size())
      .run();
  wrote(1);
}

bool Store::offer_thumbnail(int64_t animal, int64_t t, const std::vector<uint8_t>& jpeg, int width, int height,
                            int max_count, double min_interval_s) {
  if (max_count < 1) throw eh::Error("store: thumbnail max_count must be >= 1");
  auto kept = thumbnails(animal, false);  // sorted by taken_at
  for (const auto& k : kept)
    if (std::fabs(static_cast<double>(t - k.taken_at)) < min_interval_s) return false;
  Thumbnail th{0, t, width, height, jpeg};
  if (kept.size() < static_cast<size_t>(max_count)) {
    int slot = 0;
    std::vector<bool> used(kept.size() + 1, false);
    for (const auto& k : kept)
      if (k.slot >= 0 && static_cast<size_t>(k.slot) < used.size()) used[static_cast<size_t>(k.slot)] = true;
    while (used[static_cast<size_t>(slot)]) ++slot;
    th.slot = slot;
  } else {
    // With the new one appended in time order, drop the one (not the first, not the newest)
    // with the smallest gap to its predecessor.
    std::vector<std::pair<int64_t, int>> seq;  // (taken_at, slot); slot -1 = new
    for (const auto& k : kept) seq.emplace_back(k.taken_at, k.slot);
    seq.emplace_back(t, -1);
    std::sort(seq.begin(), seq.end());
    if (seq.size() < 3) {
      // max_count == 1: the newest replaces the old one.
      th.slot = kept.front().slot;
    } else {
      size_t drop = 1;
      for (size_t i = 1; i + 1 < seq.size(); ++i)
        if (seq[i].first - seq[i - 1].first < seq[drop].first - seq[drop - 1].first) drop = i;
      if (seq[drop].second == -1) return false;  // the offer itself is the most redundant
      th.slot = seq[drop].second;
    }
  }
  put_thumbnail(animal, th);
  return true;
}

// ---- outcomes, meta ----------------------------------------------------------------------

int64_t Store::add_outcome(const Outcome& o) {
  begin_write();
  st_->ensure_animal.reset().bind(1, o.animal_id).run();
  auto& s = st_->add_outcome;
  s.reset().bind(1, o.animal_id).bind(2, o.kind).bind(3, o.value);
  if (o.onset) s.bind(4, *o.onset); else s.bind_null(4);
  if (o.note.empty()) s.bind_null(5); else s.bind(5, o.note);
  s.run();
  const int64_t id = sqlite3_last_insert_rowid(db_);
  wrote(1);
  return id;
}

std::vector<Outcome> Store::outcomes() {
  auto& s = st_->sel_outcomes;
  sql::ResetGuard g(s);
  std::vector<Outcome> out;
  while (s.step()) {
    Outcome o;
    o.id = s.col_int(0);
    o.animal_id = s.col_int(1);
    o.kind = s.col_text(2);
    o.value = s.col_double(3);
    if (!s.is_null(4)) o.onset = s.col_int(4);
    o.note = s.col_text(5);
    out.push_back(std::move(o));
  }
  return out;
}

std::optional<std::string> Store::meta(const std::string& key) {
  sql::Stmt s(db_, "SELECT value FROM meta WHERE key = ?", path_);
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  return s.col_text(0);
}

void Store::set_meta(const std::string& key, const std::string& value) {
  begin_write();
  st_->set_meta.reset().bind(1, key).bind(2, value).run();
  wrote(1);
}

// ---- inspection --------------------------------------------------------------------------

SizeReport Store::size_report() {
  SizeReport r;
  r.page_size = sql::query_int(db_, "PRAGMA page_size", path_);
  r.page_count = sql::query_int(db_, "PRAGMA page_count", path_);
  r.freelist_pages = sql::query_int(db_, "PRAGMA freelist_count", path_);
  std::error_code ec;
  const auto fsz = fs::file_size(path_, ec);
  r.file_bytes = ec ? 0 : static_cast<int64_t>(fsz);
  const auto wsz = fs::file_size(path_ + "-wal", ec);
  r.wal_bytes = ec ? 0 : static_cast<int64_t>(wsz);

  std::map<std::string, std::string> owner;  // b-tree name -> table
  {
    sql::Stmt s(db_, "SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')", path_);
    while (s.step()) owner[s.col_text(0)] = s.col_text(1);
  }
  std::map<std::string, TableSize> tables;
  {
    sql::Stmt s(db_, "SELECT name, sum(pgsize), sum(payload) FROM dbstat GROUP BY name", path_);
    while (s.step()) {
      std::string name = s.col_text(0);
      auto it = owner.find(name);
      std::string table = name == "sqlite_schema" || name == "sqlite_master" ? "(schema)"
                          : it != owner.end()                                 ? it->second
                                                                              : name;
      auto& t = tables[table];
      t.table = table;
      t.bytes += s.col_int(1);
      t.payload += s.col_int(2);
    }
  }
  for (auto& [name, t] : tables) {
    if (name.front() == '(' || owner.find(name) == owner.end()) continue;
    t.rows = sql::query_int(db_, fmt::format("SELECT count(*) FROM \"{}\"", name), path_);
  }
  if (r.freelist_pages > 0) tables["(free)"] = TableSize{"(free)", 0, r.freelist_pages * r.page_size, 0};
  for (auto& [name, t] : tables) r.tables.push_back(t);
  std::sort(r.tables.begin(), r.tables.end(), [](const TableSize& a, const TableSize& b) { return a.bytes > b.bytes; });
  return r;
}

std::string Store::integrity_check() {
  sql::Stmt s(db_, "PRAGMA integrity_check", path_);
  std::string out;
  while (s.step()) {
    if (!out.empty()) out += "\n";
    out += s.col_text(0);
  }
  return out;
}

std::string Store::journal_mode() { return sql::query_text(db_, "PRAGMA journal_mode", path_); }

int migrate_store(const std::string& path) {
  sqlite3* db = nullptr;
  if (!fs::exists(path)) throw eh::Error(fmt::format("{}: no such store", path));
  int before = 0;
  {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      throw eh::Error(fmt::format("{}: cannot open store", path));
    }
    try {
      before = check_header(db, path);
    } catch (...) {
      sqlite3_close(db);
      throw;
    }
    sqlite3_close(db);
  }
  StoreOptions o;
  o.create = false;
  Store s(path, o);
  return before;
}

}  // namespace eh::store
