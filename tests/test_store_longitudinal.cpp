// Issue 10, end to end on the simulator's longitudinal mode: what the camera sees of 16 animals
// over 18 days (planted lameness and illness with known onsets) is recorded through the
// Recorder into a store, and `edgeherd associate` must find the planted effects in the
// direction they were planted, and nothing for a placebo outcome given to healthy animals.
//   edgeherd simulate --longitudinal --days 18 --pigs 16 --out DIR --store DB
//   edgeherd associate --db DB --outcomes labels.csv --min-observed-h 0.5
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

struct Planted {
  int id = 0;
  std::string outcome;  // healthy | lame | ill
  int onset = -1;
};

std::vector<Planted> read_planted(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<Planted> v;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string id, outcome, onset;
    std::getline(ss, id, ',');
    std::getline(ss, outcome, ',');
    std::getline(ss, onset, ',');
    v.push_back({std::stoi(id), outcome, std::stoi(onset)});
  }
  return v;
}

const nlohmann::json& find_test(const nlohmann::json& r, const std::string& outcome, const std::string& feature) {
  for (const auto& t : r["tests"])
    if (t["outcome"] == outcome && t["feature"] == feature) return t;
  static const nlohmann::json none;
  ADD_FAILURE() << "no test " << outcome << " / " << feature;
  return none;
}

const nlohmann::json& find_model(const nlohmann::json& r, const std::string& outcome) {
  for (const auto& m : r["models"])
    if (m["outcome"] == outcome) return m;
  static const nlohmann::json none;
  ADD_FAILURE() << "no model for " << outcome;
  return none;
}

}  // namespace

TEST(StoreLongitudinal, AssociationFindsPlantedEffectsThroughTheStore) {
  const auto dir = eh::test::temp_dir("longitudinal_assoc");
  const std::string sim = (dir / "sim").string(), db = (dir / "pen.db").string();
  auto r = eh::test::run_cli("simulate --longitudinal --seed 3 --days 18 --pigs 16 --samples-per-hour 2 --sample-minutes 1 --out " +
                             sim + " --store " + db);
  ASSERT_EQ(r.code, 0) << r.out;

  // Labels: the planted lameness and illness; and, in a second run (so its cases do not leave
  // the clean controls of the first), a placebo outcome ("reproduction") given to every other
  // healthy animal with a made-up onset: nothing was planted for it.
  const auto planted = read_planted(sim + "/outcomes.csv");
  ASSERT_EQ(planted.size(), 16u);
  std::ostringstream labels, placebo_labels;
  labels << "animal_id,outcome,value,onset_day\n";
  placebo_labels << "animal_id,outcome,value,onset_day\n";
  int lame = 0, ill = 0, placebo = 0, healthy = 0;
  for (const auto& p : planted) {
    labels << p.id << ",lameness," << (p.outcome == "lame") << "," << (p.outcome == "lame" ? std::to_string(p.onset) : "") << "\n";
    labels << p.id << ",illness," << (p.outcome == "ill") << "," << (p.outcome == "ill" ? std::to_string(p.onset) : "") << "\n";
    lame += p.outcome == "lame";
    ill += p.outcome == "ill";
    if (p.outcome == "healthy") {
      const bool case_ = healthy++ % 2 == 0;
      placebo += case_;
      placebo_labels << p.id << ",reproduction," << case_ << "," << (case_ ? "9" : "") << "\n";
    }
  }
  ASSERT_GE(lame, 3);
  ASSERT_GE(ill, 3);
  ASSERT_GE(placebo, 3);
  auto associate = [&](const std::string& name, const std::string& csv) {
    const auto labels_path = dir / (name + ".csv"), json_path = dir / (name + ".json");
    std::ofstream(labels_path) << csv;
    // 2 minutes per hour are observed: a day holds 48 minutes of records, hence --min-observed-h.
    const auto res = eh::test::run_cli("associate --db " + db + " --outcomes " + labels_path.string() +
                                       " --min-observed-h 0.5 --json " + json_path.string());
    EXPECT_EQ(res.code, 0) << res.out;
    std::ifstream in(json_path);
    return nlohmann::json::parse(in);
  };
  const auto rep = associate("planted", labels.str());
  const auto prep = associate("placebo", placebo_labels.str());

  // Planted: lame animals lie more and move less; ill animals eat less and lie more.
  auto expect_found = [&](const std::string& outcome, const std::string& feature, int sign) {
    const auto& t = find_test(rep, outcome, feature);
    ASSERT_TRUE(t["significant"].is_boolean()) << t.dump();
    EXPECT_TRUE(t["significant"].get<bool>()) << outcome << " / " << feature << ": " << t.dump();
    ASSERT_TRUE(t["diff"].is_number()) << t.dump();
    EXPECT_GT(sign * t["diff"].get<double>(), 0) << outcome << " / " << feature << ": " << t.dump();
  };
  expect_found("lameness", "lying_frac.change", +1);
  expect_found("lameness", "distance_m_per_h.change", -1);
  expect_found("illness", "lying_frac.change", +1);
  expect_found("illness", "eating_frac.change", -1);
  for (const std::string outcome : {"lameness", "illness"}) {
    const auto& m = find_model(rep, outcome);
    ASSERT_TRUE(m["auc"].is_number()) << m.dump();
    EXPECT_GE(m["auc"].get<double>(), 0.9) << outcome;
    EXPECT_LE(m["auc_permutation_p"].get<double>(), 0.05) << outcome;
  }

  // Placebo: no feature significant, and the model predicts nothing beyond chance.
  int placebo_tests = 0;
  for (const auto& t : prep["tests"]) {
    EXPECT_EQ(t["outcome"], "reproduction");
    if (t["p"].is_number()) ++placebo_tests;
    EXPECT_FALSE(t["significant"].get<bool>()) << "placebo outcome: " << t.dump();
  }
  EXPECT_EQ(placebo_tests, 9);
  const auto& pm = find_model(prep, "reproduction");
  ASSERT_TRUE(pm["auc_permutation_p"].is_number()) << pm.dump();
  EXPECT_GT(pm["auc_permutation_p"].get<double>(), 0.05);
}
