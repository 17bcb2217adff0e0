// Versioned schema of the store (PRAGMA user_version) and its migrations. docs/store.md shows
// the current schema; each migration below takes a database from version N-1 to N.
#pragma once
#include <sqlite3.h>

#include <functional>
#include <string>
#include <vector>

namespace eh::store {

struct SchemaContext {
  int bin_seconds = 60;     // used when creating a new store (version 0 -> 1)
  int block_seconds = 3600;
};

struct Migration {
  int to_version;
  const char* description;
  std::function<void(sqlite3*, const SchemaContext&)> apply;
};

// Ordered by to_version: 1, 2, ..., kSchemaVersion.
const std::vector<Migration>& migrations();

// Brings an open read-write connection to kSchemaVersion inside one transaction (creating the
// schema in an empty database). Throws eh::Error, naming `path`, when the file is not an
// edgeherd store, when its schema is newer than this build knows, or when a migration fails (the
// database is then left as it was). Returns the version found.
int migrate(sqlite3* db, const std::string& path, const SchemaContext& ctx);

// Checks the header of an open connection without changing it; returns user_version. Throws
// eh::Error when the file is not an edgeherd store or its schema is newer than this build.
int check_header(sqlite3* db, const std::string& path);

}  // namespace eh::store
