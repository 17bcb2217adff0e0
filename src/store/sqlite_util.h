// Thin RAII helpers over the SQLite C API for the store: a connection, prepared statements
// that reset themselves, and errors that say which database and which statement failed.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

namespace eh::store::sql {

// Throws eh::Error: "<where>: <what>: <sqlite message> (code N)".
[[noreturn]] void fail(sqlite3* db, const std::string& where, const std::string& what);

// Runs one or more statements that return no rows the caller needs.
void exec(sqlite3* db, const std::string& sql, const std::string& where = "sqlite");

// A single integer from a query such as "PRAGMA user_version".
int64_t query_int(sqlite3* db, const std::string& sql, const std::string& where = "sqlite");
std::string query_text(sqlite3* db, const std::string& sql, const std::string& where = "sqlite");

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, const std::string& sql, std::string where = "sqlite");
  ~Stmt();
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Resets the statement and clears bindings; call before binding a new use.
  Stmt& reset();
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::string& v);
  Stmt& bind_blob(int i, const void* data, size_t n);
  Stmt& bind_null(int i);

  // Advances: true when a row is available, false when done. Throws on error.
  bool step();
  // step() for statements that return no rows, then reset() so no lock is held.
  void run();

  bool is_null(int c) const;
  int64_t col_int(int c) const;
  double col_double(int c) const;
  std::string col_text(int c) const;
  std::vector<uint8_t> col_blob(int c) const;
  const uint8_t* col_blob_ptr(int c, size_t* n) const;

  sqlite3_stmt* get() const { return st_; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
  std::string where_;
  std::string sql_;
};

// Resets the statement when it goes out of scope (a SELECT left mid-way would otherwise keep a
// read snapshot open and stall WAL checkpoints).
class ResetGuard {
 public:
  explicit ResetGuard(Stmt& s) : s_(s) { s_.reset(); }
  ~ResetGuard() { s_.reset(); }
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;

 private:
  Stmt& s_;
};

}  // namespace eh::store::sql
