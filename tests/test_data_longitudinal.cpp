// Longitudinal mode: the planted outcomes show in the ground-truth records.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/longitudinal.h"
#include "test_util.h"

using namespace eh::data;
namespace fs = std::filesystem;

namespace {

LongitudinalConfig config() {
  LongitudinalConfig c;
  c.seed = 4;
  c.num_pigs = 8;
  c.days = 12;
  c.samples_per_hour = 1;
  c.sample_minutes = 1.0;
  c.first_hour = 7;
  c.last_hour = 18;
  c.size = cv::Size(640, 360);
  c.lame_fraction = 0.25;
  c.ill_fraction = 0.25;
  return c;
}

struct Stats {
  double frames = 0, lying = 0, eating = 0, distance = 0, minutes = 0;
};

}  // namespace

TEST(DataLongitudinal, PlanIsDeterministicAndGrows) {
  const auto c = config();
  const LongitudinalPlan a(c), b(c);
  ASSERT_EQ(a.outcomes().size(), 8u);
  int lame = 0, ill = 0;
  for (size_t i = 0; i < a.outcomes().size(); ++i) {
    const auto& o = a.outcomes()[i];
    EXPECT_EQ(o.outcome, b.outcomes()[i].outcome);
    EXPECT_EQ(o.onset_day, b.outcomes()[i].onset_day);
    EXPECT_GT(o.end_weight_kg, o.start_weight_kg + 5);
    lame += o.outcome == "lame";
    ill += o.outcome == "ill";
    if (o.outcome != "healthy") {
      EXPECT_GE(o.onset_day, 1);
      EXPECT_LT(o.onset_day, c.days);
      const int id = o.animal_id;
      EXPECT_EQ(a.health(id, o.onset_day - 0.5).lameness + a.health(id, o.onset_day - 0.5).illness, 0.0f);
      const auto later = a.health(id, o.onset_day + 2.5);
      EXPECT_GT(o.outcome == "lame" ? later.lameness : later.illness, 0.1f);
    }
    EXPECT_GT(a.health(o.animal_id, 10).growth, a.health(o.animal_id, 1).growth);
  }
  EXPECT_EQ(lame, 2);
  EXPECT_EQ(ill, 2);
  LongitudinalConfig bad = c;
  bad.lame_fraction = 0.8;
  bad.ill_fraction = 0.5;
  EXPECT_THROW(LongitudinalPlan{bad}, eh::Error);
}

TEST(DataLongitudinal, PlantedEffectsShowInTheRecords) {
  const auto c = config();
  const auto dir = eh::test::temp_dir("data_longitudinal");
  const auto r = run_longitudinal(c, dir.string());
  EXPECT_EQ(r.samples, c.days * 12);
  ASSERT_EQ(r.summaries.size(), static_cast<size_t>(r.samples * c.num_pigs));
  // Before onset vs. while affected (severity > 0.3), per affected animal.
  int checked = 0;
  for (const auto& o : r.outcomes) {
    if (o.outcome == "healthy") continue;
    Stats before, during;
    for (const auto& s : r.summaries) {
      if (s.animal_id != o.animal_id) continue;
      const float sev = o.outcome == "lame" ? s.lameness : s.illness;
      Stats* st = s.day < o.onset_day ? &before : (sev > 0.3f ? &during : nullptr);
      if (!st) continue;
      st->frames += s.frames;
      st->lying += s.behaviour_frames[static_cast<int>(Behaviour::Lying)];
      st->eating += s.behaviour_frames[static_cast<int>(Behaviour::Eating)];
      st->distance += s.distance_m;
      st->minutes += s.frames / c.fps / 60.0;
    }
    if (before.frames < 1000 || during.frames < 1000) continue;  // onset too close to an end
    ++checked;
    EXPECT_GT(during.lying / during.frames, before.lying / before.frames) << o.outcome << " animal " << o.animal_id;
    if (o.outcome == "ill") EXPECT_LT(during.eating / during.frames, before.eating / before.frames) << "animal " << o.animal_id;
    if (o.outcome == "lame")
      EXPECT_LT(during.distance / during.minutes, before.distance / before.minutes) << "animal " << o.animal_id;
  }
  EXPECT_GE(checked, 2);
  for (const char* f : {"outcomes.csv", "samples.csv", "daily.csv"}) EXPECT_TRUE(fs::exists(dir / f)) << f;
  std::ifstream oc(dir / "outcomes.csv");
  std::string header;
  std::getline(oc, header);
  EXPECT_EQ(header.rfind("animal_id,outcome,onset_day", 0), 0u) << header;
}
