// Agreement with the reference implementations on three random sequences (crowded scenes, id
// swaps, new ids, dropped boxes, false positives, ignore-flagged GT rows, thresholds 0.5 and 0.3).
// The expected numbers in tests/data/eval/parity_expected.json were produced by TrackEval's HOTA
// and by the py-motmetrics 1.4 algorithm (see the file's _provenance), never by this code.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/evaluate.h"

namespace {

const std::string kDir = std::string(EH_TEST_DATA_DIR) + "/eval/";

void expect_same(double mine, const nlohmann::json& ref, const std::string& what) {
  if (ref.is_null()) {
    EXPECT_FALSE(std::isfinite(mine)) << what;
    return;
  }
  EXPECT_DOUBLE_EQ(mine, ref.get<double>()) << what;
}

TEST(EvalParity, MatchesPyMotmetricsAndTrackEval) {
  std::ifstream in(kDir + "parity_expected.json");
  ASSERT_TRUE(in) << "missing parity_expected.json";
  const nlohmann::json expected = nlohmann::json::parse(in);
  ASSERT_EQ(expected["cases"].size(), 3u);
  for (const auto& [name, ref] : expected["cases"].items()) {
    SCOPED_TRACE("case " + name);
    const auto gt = eh::eval::load_mot(kDir + "parity_" + name + "_gt.txt");
    const auto pred = eh::eval::load_mot(kDir + "parity_" + name + "_pred.txt");
    eh::eval::MotOptions opt;
    opt.iou_threshold = ref["iou_threshold"].get<double>();
    const auto r = eh::eval::evaluate_mot(gt, pred, opt);
    const nlohmann::json mine = eh::eval::to_json(r);
    for (const auto& [key, value] : ref["clear"].items()) {
      const bool id = key.rfind("id", 0) == 0;
      const nlohmann::json& m = mine[id ? "identity" : "clear"][key];
      ASSERT_FALSE(m.is_null() && !value.is_null()) << key;
      if (value.is_number_integer()) {
        EXPECT_EQ(m.get<std::int64_t>(), value.get<std::int64_t>()) << key;
      } else {
        expect_same(m.is_null() ? std::nan("") : m.get<double>(), value, key);
      }
    }
    for (const auto& [key, value] : ref["hota"].items()) {
      expect_same(mine["hota"][key].get<double>(), value, "hota " + key);
    }
  }
}

}  // namespace
