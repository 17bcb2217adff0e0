// Export of a store to plain files, and a summary of what a store holds (docs/store.md).
//
// export_store() writes into `out_dir`: one CSV per table (animals, sightings, behaviour,
// activity, daily, embeddings, thumbnails, outcomes, meta), the thumbnails as JPEG files under
// thumbnails/, one JSON summary per animal under animals/<id>.json and summary.json with all of
// them. Bins are written decoded, one CSV row per animal per bin.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace eh::store {

class Store;

struct ExportResult {
  std::vector<std::string> files;  // relative to out_dir
  int64_t rows = 0;                // CSV data rows written
};

ExportResult export_store(Store& s, const std::string& out_dir);

// Per-animal summary: identity, time span, behaviour budget, distance, daily series, pool and
// thumbnail counts, outcomes.
nlohmann::json animal_summary(Store& s, int64_t animal);

// Sizes (file, WAL, per table), counts, layout, schema version, time span, animal-days and
// bytes per animal-year extrapolated from them.
nlohmann::json store_info(Store& s);
std::string format_info(const nlohmann::json& info);

// CSV field quoting (RFC 4180) when the field holds a comma, quote or line break.
std::string csv_field(const std::string& s);

}  // namespace eh::store
