#include "store/sqlite_util.h"

#include <fmt/core.h>

#include "core/error.h"

namespace eh::store::sql {

void fail(sqlite3* db, const std::string& where, const std::string& what) {
  const int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  const char* msg = db ? sqlite3_errmsg(db) : "no connection";
  throw eh::Error(fmt::format("{}: {}: {} (sqlite code {})", where, what, msg, code));
}

void exec(sqlite3* db, const std::string& sql, const std::string& where) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw eh::Error(fmt::format("{}: {} (sqlite code {}) in: {}", where, msg, sqlite3_extended_errcode(db),
                                sql.substr(0, 200)));
  }
}

int64_t query_int(sqlite3* db, const std::string& sql, const std::string& where) {
  Stmt s(db, sql, where);
  if (!s.step()) throw eh::Error(fmt::format("{}: no row from: {}", where, sql));
  return s.col_int(0);
}

std::string query_text(sqlite3* db, const std::string& sql, const std::string& where) {
  Stmt s(db, sql, where);
  if (!s.step()) throw eh::Error(fmt::format("{}: no row from: {}", where, sql));
  return s.col_text(0);
}

Stmt::Stmt(sqlite3* db, const std::string& sql, std::string where) : db_(db), where_(std::move(where)), sql_(sql) {
  if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr) != SQLITE_OK)
    fail(db, where_, "cannot prepare '" + sql + "'");
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_), where_(std::move(o.where_)), sql_(std::move(o.sql_)) {
  o.st_ = nullptr;
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (st_) sqlite3_finalize(st_);
    db_ = o.db_;
    st_ = o.st_;
    where_ = std::move(o.where_);
    sql_ = std::move(o.sql_);
    o.st_ = nullptr;
  }
  return *this;
}

Stmt& Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
  return *this;
}

Stmt& Stmt::bind(int i, int64_t v) {
  if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail(db_, where_, "bind in '" + sql_ + "'");
  return *this;
}

Stmt& Stmt::bind(int i, double v) {
  if (sqlite3_bind_double(st_, i, v) != SQLITE_OK) fail(db_, where_, "bind in '" + sql_ + "'");
  return *this;
}

Stmt& Stmt::bind(int i, const std::string& v) {
  if (sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(db_, where_, "bind in '" + sql_ + "'");
  return *this;
}

Stmt& Stmt::bind_blob(int i, const void* data, size_t n) {
  // A zero-length blob must still be a blob, not NULL.
  static const char kEmpty = 0;
  if (sqlite3_bind_blob(st_, i, n ? data : &kEmpty, static_cast<int>(n), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(db_, where_, "bind in '" + sql_ + "'");
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  if (sqlite3_bind_null(st_, i) != SQLITE_OK) fail(db_, where_, "bind in '" + sql_ + "'");
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string what = "step '" + sql_ + "'";
  sqlite3_reset(st_);
  fail(db_, where_, what);
}

void Stmt::run() {
  step();
  sqlite3_reset(st_);
}

bool Stmt::is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
int64_t Stmt::col_int(int c) const { return sqlite3_column_int64(st_, c); }
double Stmt::col_double(int c) const { return sqlite3_column_double(st_, c); }

std::string Stmt::col_text(int c) const {
  const auto* p = sqlite3_column_text(st_, c);
  const int n = sqlite3_column_bytes(st_, c);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::vector<uint8_t> Stmt::col_blob(int c) const {
  size_t n = 0;
  const uint8_t* p = col_blob_ptr(c, &n);
  return std::vector<uint8_t>(p, p + n);
}

const uint8_t* Stmt::col_blob_ptr(int c, size_t* n) const {
  const void* p = sqlite3_column_blob(st_, c);
  *n = static_cast<size_t>(sqlite3_column_bytes(st_, c));
  return static_cast<const uint8_t*>(p);
}

}  // namespace eh::store::sql
