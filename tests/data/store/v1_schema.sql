-- A store as schema version 1 created it (frozen copy, for the migration test). Do not edit:
-- later versions must keep migrating this.
PRAGMA application_id = 1162367812;
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
INSERT INTO meta VALUES('bin_seconds', '60'), ('block_seconds', '3600'), ('position_unit', 'm (stored as integer cm)'),
  ('created_at', '1704067200');
INSERT INTO animals(id, name, first_seen, last_seen) VALUES(7, 'Peppa', 1704067200, 1704070800);
INSERT INTO outcomes(animal_id, kind, value, onset) VALUES(7, 'lameness', 1, 1704153600);
PRAGMA user_version = 1;
