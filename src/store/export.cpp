#include "store/export.h"

#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "store/association.h"
#include "store/schema.h"
#include "store/store.h"

namespace eh::store {

namespace fs = std::filesystem;

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

class Csv {
 public:
  Csv(const fs::path& dir, const std::string& name, const std::string& header, ExportResult& res)
      : path_(dir / name), res_(res) {
    out_.open(path_);
    if (!out_) throw eh::Error(fmt::format("{}: cannot open for writing", path_.string()));
    out_ << header << '\n';
    res_.files.push_back(name);
  }
  void row(const std::string& line) {
    out_ << line << '\n';
    ++res_.rows;
  }
  void close() {
    out_.close();
    if (!out_) throw eh::Error(fmt::format("{}: write failed", path_.string()));
  }

 private:
  fs::path path_;
  std::ofstream out_;
  ExportResult& res_;
};

std::string opt_int(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string(); }
std::string opt_iso(const std::optional<int64_t>& v) { return v ? iso_utc(*v) : std::string(); }
std::string date_of(int64_t day) { return iso_utc(day).substr(0, 10); }

std::string class_header() {
  std::string h;
  for (const char* c : class_names()) h += fmt::format(",{}_s", c);
  return h;
}

void write_json(const fs::path& p, const nlohmann::json& j) {
  std::ofstream out(p);
  if (!out) throw eh::Error(fmt::format("{}: cannot open for writing", p.string()));
  out << j.dump(2) << '\n';
  if (!out) throw eh::Error(fmt::format("{}: write failed", p.string()));
}

}  // namespace

ExportResult export_store(Store& s, const std::string& out_dir) {
  ExportResult res;
  const fs::path dir(out_dir);
  std::error_code ec;
  fs::create_directories(dir / "animals", ec);
  fs::create_directories(dir / "thumbnails", ec);
  if (!fs::is_directory(dir / "animals") || !fs::is_directory(dir / "thumbnails"))
    throw eh::Error(fmt::format("{}: cannot create the export directory", out_dir));

  const auto animals = s.animals();
  {
    Csv c(dir, "animals.csv", "id,tag,name,first_seen,last_seen,first_seen_utc,last_seen_utc", res);
    for (const auto& a : animals)
      c.row(fmt::format("{},{},{},{},{},{},{}", a.id, csv_field(a.tag), csv_field(a.name), opt_int(a.first_seen),
                        opt_int(a.last_seen), opt_iso(a.first_seen), opt_iso(a.last_seen)));
    c.close();
  }
  {
    Csv cs(dir, "sightings.csv", "animal_id,bin_start,time_utc,frames,x_m,y_m", res);
    Csv cb(dir, "behaviour.csv", "animal_id,bin_start,time_utc" + class_header(), res);
    Csv ca(dir, "activity.csv", "animal_id,bin_start,time_utc,distance_m,active_s", res);
    for (const auto& [animal, block] : s.block_keys()) {
      for (const auto& b : s.block(animal, block)) {
        if (b.frames == 0) continue;
        const std::string t = iso_utc(b.start);
        cs.row(fmt::format("{},{},{},{},{:.2f},{:.2f}", animal, b.start, t, b.frames, b.x_m, b.y_m));
        std::string beh = fmt::format("{},{},{}", animal, b.start, t);
        for (auto v : b.behaviour_s) beh += fmt::format(",{}", v);
        cb.row(beh);
        ca.row(fmt::format("{},{},{},{:.2f},{}", animal, b.start, t, b.distance_m, b.active_s));
      }
    }
    cs.close();
    cb.close();
    ca.close();
  }
  {
    Csv c(dir, "daily.csv", "animal_id,day,date,bins,frames,observed_s,distance_m,active_s" + class_header(), res);
    for (const auto& a : animals)
      for (const auto& d : s.daily(a.id)) {
        std::string line = fmt::format("{},{},{},{},{},{},{:.2f},{}", d.animal_id, d.day, date_of(d.day), d.bins,
                                       d.frames, d.observed_s, d.distance_m, d.active_s);
        for (auto v : d.behaviour_s) line += fmt::format(",{}", v);
        c.row(line);
      }
    c.close();
  }
  {
    Csv c(dir, "embeddings.csv", "animal_id,slot,added_at,last_seen,hits,dim,scale,q", res);
    for (const auto& a : animals)
      for (const auto& e : s.embeddings(a.id)) {
        std::string q;
        for (size_t i = 0; i < e.entry.vec.q.size(); ++i) q += fmt::format("{}{}", i ? " " : "", int(e.entry.vec.q[i]));
        c.row(fmt::format("{},{},{},{},{},{},{:.9g},{}", a.id, e.slot, e.entry.added_at, e.entry.last_seen,
                          e.entry.hits, e.entry.vec.q.size(), e.entry.vec.scale, q));
      }
    c.close();
  }
  {
    Csv c(dir, "thumbnails.csv", "animal_id,slot,taken_at,time_utc,width,height,bytes,file", res);
    for (const auto& a : animals)
      for (const auto& t : s.thumbnails(a.id, true)) {
        const std::string rel = fmt::format("thumbnails/animal{}_slot{}.jpg", a.id, t.slot);
        std::ofstream out(dir / rel, std::ios::binary);
        out.write(reinterpret_cast<const char*>(t.jpeg.data()), static_cast<std::streamsize>(t.jpeg.size()));
        if (!out) throw eh::Error(fmt::format("{}: write failed", (dir / rel).string()));
        res.files.push_back(rel);
        c.row(fmt::format("{},{},{},{},{},{},{},{}", a.id, t.slot, t.taken_at, iso_utc(t.taken_at), t.width, t.height,
                          t.jpeg.size(), rel));
      }
    c.close();
  }
  {
    Csv c(dir, "outcomes.csv", "id,animal_id,outcome,value,onset,onset_utc,note", res);
    for (const auto& o : s.outcomes())
      c.row(fmt::format("{},{},{},{:.9g},{},{},{}", o.id, o.animal_id, csv_field(o.kind), o.value, opt_int(o.onset),
                        opt_iso(o.onset), csv_field(o.note)));
    c.close();
  }
  {
    Csv c(dir, "meta.csv", "key,value", res);
    sql::Stmt st(s.handle(), "SELECT key, value FROM meta ORDER BY key", s.path());
    while (st.step()) c.row(fmt::format("{},{}", csv_field(st.col_text(0)), csv_field(st.col_text(1))));
    c.row(fmt::format("schema_version,{}", kSchemaVersion));
    c.close();
  }
  nlohmann::json all = nlohmann::json::array();
  for (const auto& a : animals) {
    auto j = animal_summary(s, a.id);
    const std::string rel = fmt::format("animals/{}.json", a.id);
    write_json(dir / rel, j);
    res.files.push_back(rel);
    j.erase("daily");
    all.push_back(std::move(j));
  }
  write_json(dir / "summary.json", {{"store", s.path()}, {"schema_version", kSchemaVersion}, {"animals", all}});
  res.files.push_back("summary.json");
  return res;
}

nlohmann::json animal_summary(Store& s, int64_t animal) {
  const auto a = s.animal(animal);
  if (!a) throw eh::Error(fmt::format("{}: no animal {}", s.path(), animal));
  nlohmann::json j;
  j["id"] = a->id;
  j["tag"] = a->tag;
  j["name"] = a->name;
  j["first_seen"] = a->first_seen ? nlohmann::json(iso_utc(*a->first_seen)) : nlohmann::json();
  j["last_seen"] = a->last_seen ? nlohmann::json(iso_utc(*a->last_seen)) : nlohmann::json();
  const auto days = s.daily(animal);
  DailyRecord total;
  for (const auto& d : days) {
    total.bins += d.bins;
    total.frames += d.frames;
    total.observed_s += d.observed_s;
    total.distance_m += d.distance_m;
    total.active_s += d.active_s;
    for (size_t c = 0; c < total.behaviour_s.size(); ++c) total.behaviour_s[c] += d.behaviour_s[c];
  }
  j["days_observed"] = days.size();
  j["observed_hours"] = static_cast<double>(total.observed_s) / 3600.0;
  nlohmann::json hours, frac;
  for (int c = 0; c < kNumClasses; ++c) {
    const double h = static_cast<double>(total.behaviour_s[static_cast<size_t>(c)]) / 3600.0;
    hours[class_names()[static_cast<size_t>(c)]] = h;
    frac[class_names()[static_cast<size_t>(c)]] =
        total.observed_s ? static_cast<double>(total.behaviour_s[static_cast<size_t>(c)]) / total.observed_s : 0.0;
  }
  j["behaviour_hours"] = hours;
  j["behaviour_fraction"] = frac;
  j["distance_m_total"] = total.distance_m;
  j["distance_m_per_day_mean"] = days.empty() ? 0.0 : total.distance_m / static_cast<double>(days.size());
  j["active_fraction"] = total.observed_s ? static_cast<double>(total.active_s) / total.observed_s : 0.0;
  nlohmann::json daily = nlohmann::json::array();
  for (const auto& d : days) {
    const DailyPoint p = daily_point(d, 0);
    nlohmann::json row = {{"date", date_of(d.day)}, {"observed_h", p.observed_h}, {"distance_m", d.distance_m}};
    for (int f = 0; f < kNumFeatures; ++f)
      row[feature_names()[static_cast<size_t>(f)]] =
          std::isfinite(p.f[static_cast<size_t>(f)]) ? nlohmann::json(p.f[static_cast<size_t>(f)]) : nlohmann::json();
    daily.push_back(row);
  }
  j["daily"] = daily;
  const auto emb = s.embeddings(animal);
  j["embeddings"] = {{"count", emb.size()}, {"dim", emb.empty() ? 0 : emb.front().entry.vec.q.size()}};
  nlohmann::json th = nlohmann::json::array();
  for (const auto& t : s.thumbnails(animal, false))
    th.push_back({{"slot", t.slot},
                  {"taken_at", iso_utc(t.taken_at)},
                  {"file", fmt::format("thumbnails/animal{}_slot{}.jpg", animal, t.slot)}});
  j["thumbnails"] = th;
  nlohmann::json oc = nlohmann::json::array();
  for (const auto& o : s.outcomes())
    if (o.animal_id == animal)
      oc.push_back({{"outcome", o.kind},
                    {"value", o.value},
                    {"onset", o.onset ? nlohmann::json(iso_utc(*o.onset)) : nlohmann::json()},
                    {"note", o.note}});
  j["outcomes"] = oc;
  return j;
}

nlohmann::json store_info(Store& s) {
  const SizeReport r = s.size_report();
  nlohmann::json j;
  j["path"] = s.path();
  j["schema_version"] = kSchemaVersion;
  j["journal_mode"] = s.journal_mode();
  j["bin_seconds"] = s.bin_seconds();
  j["block_seconds"] = s.block_seconds();
  j["page_size"] = r.page_size;
  j["page_count"] = r.page_count;
  j["freelist_pages"] = r.freelist_pages;
  j["file_bytes"] = r.file_bytes;
  j["wal_bytes"] = r.wal_bytes;
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : r.tables)
    tables.push_back({{"table", t.table}, {"rows", t.rows}, {"bytes", t.bytes}, {"payload", t.payload}});
  j["tables"] = tables;
  const auto animals = s.animals();
  j["animals"] = animals.size();
  std::optional<int64_t> first, last;
  int64_t animal_days = 0;
  for (const auto& a : animals) {
    if (a.first_seen) first = first ? std::min(*first, *a.first_seen) : *a.first_seen;
    if (a.last_seen) last = last ? std::max(*last, *a.last_seen) : *a.last_seen;
    animal_days += static_cast<int64_t>(s.daily(a.id).size());
  }
  j["first_seen"] = first ? nlohmann::json(iso_utc(*first)) : nlohmann::json();
  j["last_seen"] = last ? nlohmann::json(iso_utc(*last)) : nlohmann::json();
  j["animal_days"] = animal_days;
  const double bytes = static_cast<double>(r.page_count * r.page_size);
  j["bytes_per_animal_year_estimate"] =
      animal_days > 0 ? nlohmann::json(bytes / static_cast<double>(animal_days) * 365.0) : nlohmann::json();
  j["outcomes"] = s.outcomes().size();
  return j;
}

std::string format_info(const nlohmann::json& j) {
  std::string s = fmt::format("{}: schema v{}, journal {}, {} s bins in {} s blocks\n", j["path"].get<std::string>(),
                              j["schema_version"].get<int>(), j["journal_mode"].get<std::string>(),
                              j["bin_seconds"].get<int>(), j["block_seconds"].get<int>());
  s += fmt::format("  file {} B + WAL {} B ({} pages of {} B, {} free)\n", j["file_bytes"].get<int64_t>(),
                   j["wal_bytes"].get<int64_t>(), j["page_count"].get<int64_t>(), j["page_size"].get<int64_t>(),
                   j["freelist_pages"].get<int64_t>());
  s += fmt::format("  animals {}, animal-days {}, outcomes {}, span {} .. {}\n", j["animals"].get<size_t>(),
                   j["animal_days"].get<int64_t>(), j["outcomes"].get<size_t>(),
                   j["first_seen"].is_null() ? "-" : j["first_seen"].get<std::string>(),
                   j["last_seen"].is_null() ? "-" : j["last_seen"].get<std::string>());
  if (!j["bytes_per_animal_year_estimate"].is_null())
    s += fmt::format("  ~{:.2f} MB per animal per year at this density\n",
                     j["bytes_per_animal_year_estimate"].get<double>() / 1e6);
  s += fmt::format("  {:<12} {:>10} {:>12} {:>12}\n", "table", "rows", "bytes", "payload");
  for (const auto& t : j["tables"])
    s += fmt::format("  {:<12} {:>10} {:>12} {:>12}\n", t["table"].get<std::string>(), t["rows"].get<int64_t>(),
                     t["bytes"].get<int64_t>(), t["payload"].get<int64_t>());
  return s;
}

}  // namespace eh::store
