// Storage footprint and write-rate measurements of the store (for tests, `edgeherd store
// footprint` and `edgeherd bench --suite store`).
//
// measure_footprint() simulates `days` of one or more animals' lives at the camera rate (6 fps
// by default), runs every frame through the Recorder into a fresh store (per-minute bins in
// hour blocks, an embedding pool offered an embedding every 10 min, a thumbnail offered every
// 6 h), checkpoints, and reports the file size per animal per year with a per-table breakdown.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.h"

namespace eh::store {

// The reference design, bytes per animal per year (not measured here).
constexpr double kReferenceBytesPerAnimalYear = 94e6;
constexpr double kTargetBytesPerAnimalYear = 10e6;

struct FootprintOptions {
  int days = 365;
  int animals = 1;
  double fps = 6.0;
  uint64_t seed = 1;
  double activity = 1.0;      // > 1: restless animals (shorter lying bouts, more walking)
  double missing_frames = 0.03;  // fraction of frames the tracker loses the animal (occlusion)
  int bin_seconds = 60;
  int block_seconds = 3600;
  int embedding_dim = 384;
  int pool_size = 32;
  double embedding_interval_s = 600;
  size_t thumbnail_bytes = 8000;   // a 128x128 JPEG
  int max_thumbnails = 8;
  double thumbnail_interval_s = 6 * 3600.0;
  Synchronous synchronous = Synchronous::Full;
  std::string path;   // where to write the store; empty: a temporary file, removed afterwards
  std::function<void(double)> progress;  // fraction done, called about once per simulated day
};

struct FootprintReport {
  FootprintOptions options;
  int64_t observations = 0;      // frames recorded
  int64_t bins = 0;              // non-empty bins stored
  int64_t file_bytes = 0;        // after a truncating checkpoint (WAL empty)
  int64_t page_size = 0, page_count = 0, freelist_pages = 0;
  double bytes_per_animal_year = 0;
  double reference_bytes_per_animal_year = kReferenceBytesPerAnimalYear;
  double target_bytes_per_animal_year = kTargetBytesPerAnimalYear;
  std::vector<TableSize> tables;  // whole store
  double seconds = 0;             // wall time of the simulation + writing
  double observations_per_s = 0;
  int64_t embeddings_written = 0, thumbnails_kept = 0, provisional_writes = 0, commits = 0;
};

FootprintReport measure_footprint(const FootprintOptions& opt);
nlohmann::json to_json(const FootprintReport& r);
std::string format_table(const FootprintReport& r);

struct InsertRateOptions {
  int animals = 20;
  double seconds = 3600;     // simulated time
  double fps = 6.0;
  int block_rows = 3000;     // rows for the raw block-write measurement
  int autocommit_rows = 100; // rows written one transaction each (fsync per row)
  Synchronous synchronous = Synchronous::Full;
  std::string dir;           // where to put the temporary stores; empty: system temp dir
};

struct InsertRateReport {
  double observations_per_s = 0;     // frames through Recorder into SQLite (batched)
  double block_rows_per_s = 0;       // raw put_block rows (3 table rows each count 1), batched
  double autocommit_rows_per_s = 0;  // rows with one transaction each
  int64_t commits = 0;               // during the observation run
  double seconds = 0;
};

InsertRateReport measure_insert_rate(const InsertRateOptions& opt);
nlohmann::json to_json(const InsertRateReport& r);

}  // namespace eh::store
