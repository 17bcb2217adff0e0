// Acceptance on the simulated pen (issue 8): 8 pigs for 10 minutes per seed, ground-truth
// instances as input, scored with the eval module: IDF1 >= 95% and at most 1 ID switch per
// 10 min. Three variants: masks + motion + closed-pen re-identification alone (no appearance);
// plus colour-histogram embeddings from the rendered pixels; plus synthetic embeddings.
// The same runs: `edgeherd track sim:seed=S,frames=3600 --gt-instances --eval [--appearance colour]`.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "data/simulator.h"
#include "video/gt_run.h"

namespace {

constexpr int kFrames = 3600;  // 10 minutes at the simulator's 6 fps

eh::video::GtRunResult run(uint64_t seed, int embedding_dim = 0, bool colour = false) {
  eh::video::GtRunOptions o;
  o.source = "sim:seed=" + std::to_string(seed) + ",frames=" + std::to_string(kFrames);
  o.session.tracker.max_animals = 8;
  o.gt.embedding_dim = embedding_dim;
  o.colour_embeddings = colour;
  return eh::video::run_ground_truth_tracking(o);
}

// What happens in a seed's 10 minutes: visits to the out-of-view alley (leave and return),
// frames where pigs touch (visible masks of two pigs with overlapping boxes), lying groups.
struct SceneStats {
  int exits = 0;
  int contact_frames = 0;
  int huddle_frames = 0;  // >= 3 lying pigs with touching boxes
};

SceneStats scene_stats(uint64_t seed) {
  eh::data::SimConfig c;
  c.seed = seed;
  c.render = false;
  c.masks = false;  // boxes from the outline are enough here, and much faster
  eh::data::PenSimulator sim(c);
  SceneStats s;
  std::vector<char> in_view(c.num_pigs + 1, 1);
  for (int f = 0; f < kFrames; ++f) {
    sim.step();
    const auto& gt = sim.ground_truth();
    std::vector<char> now(c.num_pigs + 1, 0);
    for (const auto& g : gt) now[g.id] = 1;
    for (int id = 1; id <= c.num_pigs; ++id) s.exits += in_view[id] && !now[id];
    in_view = now;
    bool contact = false;
    int lying_touching = 0;
    for (std::size_t i = 0; i < gt.size(); ++i) {
      bool touches_lying = false;
      for (std::size_t j = 0; j < gt.size(); ++j) {
        if (i == j || (gt[i].box & gt[j].box).area() == 0) continue;
        contact = true;
        touches_lying = touches_lying || gt[j].behaviour == eh::data::Behaviour::Lying;
      }
      lying_touching += gt[i].behaviour == eh::data::Behaviour::Lying && touches_lying;
    }
    s.contact_frames += contact;
    s.huddle_frames += lying_touching >= 3;
  }
  return s;
}

const uint64_t kSeeds[] = {1, 2, 3};

TEST(SimulatedPen, GroundTruthInstancesKeepIdentities) {
  double minutes = 0;
  int64_t switches = 0, exits = 0, huddles = 0, reid = 0;
  for (uint64_t seed : kSeeds) {
    const auto r = run(seed);
    const auto st = scene_stats(seed);
    minutes += r.duration_s / 60;
    switches += r.report.clear.num_switches;
    exits += st.exits;
    huddles += st.huddle_frames;
    reid += r.tracker.reidentified;
    EXPECT_GE(r.report.identity.idf1, 0.95) << "seed " << seed;
    EXPECT_EQ(r.tracker.births, 8) << "seed " << seed << ": a closed pen of 8 never has more identities";
    EXPECT_EQ(r.report.clear.num_false_positives, 0) << "seed " << seed;
    RecordProperty("seed_" + std::to_string(seed) + "_idf1", std::to_string(r.report.identity.idf1));
    std::printf("seed %llu: IDF1 %.4f, ID switches %lld, MOTA %.4f, exits %d, huddle frames %d, contact frames %d\n",
                static_cast<unsigned long long>(seed), r.report.identity.idf1,
                static_cast<long long>(r.report.clear.num_switches), r.report.clear.mota, st.exits, st.huddle_frames,
                st.contact_frames);
  }
  EXPECT_LE(static_cast<double>(switches), minutes / 10.0) << switches << " ID switches in " << minutes << " min";
  // The seeds do exercise leave-and-return and huddles.
  EXPECT_GT(exits, 0);
  EXPECT_GT(reid, 0);
  EXPECT_GT(huddles, 100);
}

// Seed 4 has two pigs playing (tumbling, turning ~90 degrees between frames at 6 fps): masks
// and motion alone swap them (IDF1 92%); appearance from the pixels keeps them apart.
TEST(SimulatedPen, ColourAppearanceFromPixels) {
  const auto r = run(4, 0, true);
  EXPECT_GE(r.report.identity.idf1, 0.95);
  EXPECT_LE(r.report.clear.num_switches, 1);
  EXPECT_EQ(r.tracker.births, 8);
}

// With a synthetic stand-in for the embedder (seed 11: 4 switches without appearance).
TEST(SimulatedPen, SyntheticAppearanceEmbeddings) {
  const auto r = run(11, 64);
  EXPECT_GE(r.report.identity.idf1, 0.95);
  EXPECT_LE(r.report.clear.num_switches, 1);
}

}  // namespace
