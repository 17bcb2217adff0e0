// Export: CSV per table and JSON per animal read back equal to the store; store_info.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "store/export.h"
#include "store/recorder.h"
#include "store/store.h"
#include "test_util.h"

namespace es = eh::store;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kT0 = 1704067200;

// Minimal RFC 4180 reader (quoted fields with "" escapes, no embedded newlines needed here).
std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::string cur;
    bool q = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (q) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
        else if (c == '"') q = false;
        else cur += c;
      } else if (c == '"') q = true;
      else if (c == ',') f.push_back(cur), cur.clear();
      else cur += c;
    }
    f.push_back(cur);
    rows.push_back(f);
  }
  return rows;
}

std::map<std::string, size_t> header(const std::vector<std::string>& h) {
  std::map<std::string, size_t> m;
  for (size_t i = 0; i < h.size(); ++i) m[h[i]] = i;
  return m;
}

void fill(es::Store& s) {
  s.add_animal({1, "DK-1", "Alpha, the first", std::nullopt, std::nullopt});
  s.add_animal({2, "", "", std::nullopt, std::nullopt});
  es::Recorder rec(s);
  for (int f = 0; f < 6 * 5400; ++f) {  // 1.5 h at 6 fps
    const double t = kT0 + 1800 + f / 6.0;
    const float x = static_cast<float>(1.0 + 0.3 * std::sin(f / 500.0));
    rec.observe({1, t, x, 1.5f, (f / 700) % 2 ? es::kLying : es::kEating, -1.f});
    if (f % 3 == 0) rec.observe({2, t, 2.0f, static_cast<float>(0.5 + 0.001 * (f % 900)), es::kMoving, -1.f});
  }
  std::vector<float> e(16);
  for (int k = 0; k < 5; ++k) {
    for (size_t i = 0; i < e.size(); ++i) e[i] = static_cast<float>(std::sin(k * 3.1 + i));
    rec.offer_embedding(1, kT0 + k, e.data(), e.size());
  }
  rec.offer_thumbnail(1, kT0 + 2000, {0xff, 0xd8, 7, 7, 0xff, 0xd9}, 8, 8);
  rec.flush();
  s.add_outcome({0, 1, "lameness", 1, kT0 + 86400, "score 2, \"left hind\""});
  s.add_outcome({0, 2, "growth", 0.85, std::nullopt, ""});
  s.commit();
}

}  // namespace

TEST(StoreExport, CsvAndJsonRoundTrip) {
  const auto dir = eh::test::temp_dir("export");
  es::Store s((dir / "s.db").string());
  fill(s);
  const auto out = dir / "out";
  const auto res = es::export_store(s, out.string());
  EXPECT_GT(res.rows, 100);
  for (const char* f : {"animals.csv", "sightings.csv", "behaviour.csv", "activity.csv", "daily.csv", "embeddings.csv",
                        "thumbnails.csv", "outcomes.csv", "meta.csv", "summary.json", "animals/1.json",
                        "animals/2.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;

  // Bins: every CSV row equals the decoded store, and every stored bin is exported.
  std::map<std::pair<int64_t, int64_t>, es::BinRecord> stored;
  for (int64_t a : {1, 2})
    for (const auto& b : s.bins(a, kT0 - 86400, kT0 + 86400)) stored[{a, b.start}] = b;
  ASSERT_FALSE(stored.empty());
  std::map<std::pair<int64_t, int64_t>, es::BinRecord> got;
  {
    const auto rows = read_csv(out / "sightings.csv");
    const auto h = header(rows[0]);
    for (size_t i = 1; i < rows.size(); ++i) {
      const auto& r = rows[i];
      auto& b = got[{std::stoll(r[h.at("animal_id")]), std::stoll(r[h.at("bin_start")])}];
      b.start = std::stoll(r[h.at("bin_start")]);
      b.frames = static_cast<uint32_t>(std::stoul(r[h.at("frames")]));
      b.x_m = std::stof(r[h.at("x_m")]);
      b.y_m = std::stof(r[h.at("y_m")]);
    }
  }
  {
    const auto rows = read_csv(out / "behaviour.csv");
    const auto h = header(rows[0]);
    for (size_t i = 1; i < rows.size(); ++i) {
      auto& b = got[{std::stoll(rows[i][0]), std::stoll(rows[i][1])}];
      for (int c = 0; c < es::kNumClasses; ++c)
        b.behaviour_s[static_cast<size_t>(c)] =
            static_cast<uint32_t>(std::stoul(rows[i][h.at(std::string(es::class_names()[static_cast<size_t>(c)]) + "_s")]));
    }
  }
  {
    const auto rows = read_csv(out / "activity.csv");
    const auto h = header(rows[0]);
    for (size_t i = 1; i < rows.size(); ++i) {
      auto& b = got[{std::stoll(rows[i][0]), std::stoll(rows[i][1])}];
      b.distance_m = std::stof(rows[i][h.at("distance_m")]);
      b.active_s = static_cast<uint32_t>(std::stoul(rows[i][h.at("active_s")]));
    }
  }
  ASSERT_EQ(got.size(), stored.size());
  for (const auto& [k, b] : stored) EXPECT_EQ(got.at(k), b) << "animal " << k.first << " bin " << k.second;

  // Animals and outcomes with quoting.
  const auto animals = read_csv(out / "animals.csv");
  ASSERT_EQ(animals.size(), 3u);
  EXPECT_EQ(animals[1][1], "DK-1");
  EXPECT_EQ(animals[1][2], "Alpha, the first");
  const auto outcomes = read_csv(out / "outcomes.csv");
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[1][header(outcomes[0]).at("note")], "score 2, \"left hind\"");
  EXPECT_EQ(outcomes[1][header(outcomes[0]).at("onset")], std::to_string(kT0 + 86400));
  EXPECT_EQ(outcomes[2][header(outcomes[0]).at("onset")], "");

  // Embeddings: the int8 values and scale.
  const auto emb = read_csv(out / "embeddings.csv");
  const auto stored_emb = s.embeddings(1);
  ASSERT_EQ(emb.size(), stored_emb.size() + 1);
  {
    std::istringstream q(emb[1][header(emb[0]).at("q")]);
    std::vector<int8_t> v;
    int x;
    while (q >> x) v.push_back(static_cast<int8_t>(x));
    EXPECT_EQ(v, stored_emb[0].entry.vec.q);
    EXPECT_FLOAT_EQ(std::stof(emb[1][header(emb[0]).at("scale")]), stored_emb[0].entry.vec.scale);
  }
  // Thumbnail bytes.
  const auto th = read_csv(out / "thumbnails.csv");
  ASSERT_EQ(th.size(), 2u);
  std::ifstream jf(out / th[1][header(th[0]).at("file")], std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(jf)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, s.thumbnails(1).at(0).jpeg);

  // Daily totals in CSV and JSON agree with the store.
  const auto daily = read_csv(out / "daily.csv");
  const auto d1 = s.daily(1);
  ASSERT_EQ(d1.size(), 1u);
  const auto dh = header(daily[0]);
  EXPECT_EQ(std::stoull(daily[1][dh.at("observed_s")]), d1[0].observed_s);
  EXPECT_EQ(std::stoull(daily[1][dh.at("lying_s")]), d1[0].behaviour_s[es::kLying]);
  std::ifstream js(out / "animals/1.json");
  const auto j = nlohmann::json::parse(js);
  EXPECT_EQ(j["tag"], "DK-1");
  EXPECT_EQ(j["days_observed"], 1);
  EXPECT_NEAR(j["observed_hours"].get<double>(), d1[0].observed_s / 3600.0, 1e-9);
  EXPECT_NEAR(j["behaviour_fraction"]["lying"].get<double>() + j["behaviour_fraction"]["eating"].get<double>(), 1.0, 1e-9);
  EXPECT_EQ(j["embeddings"]["count"], stored_emb.size());
  EXPECT_EQ(j["thumbnails"].size(), 1u);
  EXPECT_EQ(j["outcomes"][0]["outcome"], "lameness");
  EXPECT_EQ(j["daily"].size(), 1u);
  std::ifstream ss(out / "summary.json");
  const auto summary = nlohmann::json::parse(ss);
  EXPECT_EQ(summary["animals"].size(), 2u);
}

TEST(StoreExport, InfoReportsSizesAndCounts) {
  const auto dir = eh::test::temp_dir("export_info");
  es::Store s((dir / "s.db").string());
  fill(s);
  s.checkpoint();
  const auto j = es::store_info(s);
  EXPECT_EQ(j["animals"], 2);
  EXPECT_EQ(j["outcomes"], 2);
  EXPECT_EQ(j["animal_days"], 2);
  EXPECT_EQ(j["journal_mode"], "wal");
  EXPECT_EQ(j["file_bytes"].get<int64_t>(), j["page_count"].get<int64_t>() * j["page_size"].get<int64_t>());
  EXPECT_FALSE(j["tables"].empty());
  const std::string text = es::format_info(j);
  EXPECT_NE(text.find("sightings"), std::string::npos);
  EXPECT_EQ(es::csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(es::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(es::csv_field("plain"), "plain");
}
