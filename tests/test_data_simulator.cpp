// The pen simulator: determinism (and a golden hash), ground-truth consistency (occlusion
// masks, boxes, visibility), behaviour statistics, and the files it writes read back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "data/dataset_writer.h"
#include "data/edinburgh.h"
#include "data/hash.h"
#include "data/mot_io.h"
#include "data/rle.h"
#include "data/simulator.h"
#include "test_util.h"

using namespace eh::data;
namespace fs = std::filesystem;

namespace {

// MOT ground-truth text of the first `frames` frames.
std::string gt_text(const SimConfig& cfg, int frames) {
  PenSimulator sim(cfg);
  std::string s;
  for (int i = 0; i < frames; ++i) {
    sim.step();
    s += format_mot(to_mot_records(sim.ground_truth(), i));
  }
  return s;
}

SimConfig small_config(uint64_t seed) {
  SimConfig c;
  c.seed = seed;
  c.num_pigs = 6;
  c.size = cv::Size(640, 360);
  return c;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST(DataSimulator, SameSeedGivesByteIdenticalGroundTruth) {
  const SimConfig c = small_config(11);
  const int n = 60;
  const std::string a = gt_text(c, n), b = gt_text(c, n);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, gt_text(small_config(12), n));
  // Render-only options never change the ground truth.
  SimConfig quiet = c;
  quiet.sensor_noise = false;
  quiet.motion_blur = false;
  quiet.jpeg_quality = 60;
  EXPECT_EQ(gt_text(quiet, n), a);
  SimConfig no_render = c;
  no_render.render = false;
  EXPECT_EQ(gt_text(no_render, n), a);
  SimConfig sparse = c;  // drawing every third frame only: the same ground truth
  sparse.render_every = 3;
  EXPECT_EQ(gt_text(sparse, n), a);
  PenSimulator sim(sparse);
  for (int f = 0; f < 7; ++f) {
    sim.step();
    EXPECT_EQ(sim.frame().empty(), f % 3 != 0) << "frame " << f;
  }
  sparse.render_every = 0;
  EXPECT_THROW(PenSimulator{sparse}, eh::Error);
}

TEST(DataSimulator, GoldenGroundTruthHash) {
  // Pins the ground truth of a short clip. If a deliberate change to the simulator moves it,
  // check a contact sheet, then update the value (the failure message prints the new one).
  SimConfig c;
  c.seed = 7;
  c.num_pigs = 5;
  c.size = cv::Size(640, 360);
  c.render = false;  // ground truth only: faster, and identical (see the test above)
  const std::string text = gt_text(c, 90);
  const std::string h = hex64(fnv1a64(text));
  EXPECT_EQ(h, "694ef87c17ba554d") << "gt.txt hash changed; first lines:\n" << text.substr(0, 300);
  // FNV-1a itself (published test vectors)
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(DataSimulator, VisibleMasksAreDisjointAndMatchBoxes) {
  SimConfig c = small_config(3);
  c.num_pigs = 10;  // crowded: more overlaps
  PenSimulator sim(c);
  int occluded = 0;
  for (int i = 0; i < 90; ++i) {
    sim.step();
    const auto& gt = sim.ground_truth();
    const cv::Mat ids = sim.instance_map();
    for (size_t a = 0; a < gt.size(); ++a) {
      const GtObject& g = gt[a];
      ASSERT_EQ(g.mask.height, c.size.height);
      ASSERT_EQ(g.mask.width, c.size.width);
      // the mask is exactly where the instance map shows this pig
      ASSERT_EQ(g.mask, rle_encode(ids == g.id)) << "frame " << i << " id " << g.id;
      ASSERT_EQ(g.visible_pixels, g.mask.area());
      ASSERT_EQ(g.visible_box, g.mask.bbox());
      // the (full-body) box contains the visible box and lies in the image
      ASSERT_EQ(g.box & cv::Rect(0, 0, c.size.width, c.size.height), g.box);
      if (g.visible_pixels > 0) ASSERT_EQ(g.box | g.visible_box, g.box) << "frame " << i << " id " << g.id;
      ASSERT_GT(g.body_pixels, 0);
      ASSERT_NEAR(g.visibility, static_cast<double>(g.visible_pixels) / g.body_pixels, 5e-5);
      ASSERT_GE(g.visibility, 0.0f);
      ASSERT_LE(g.visibility, 1.0f);
      if (g.visibility < 0.98f && g.box.x + g.box.width < c.size.width) ++occluded;
      for (size_t b = a + 1; b < gt.size(); ++b)
        ASSERT_EQ(rle_intersection_area(g.mask, gt[b].mask), 0) << "frame " << i << " ids " << g.id << "," << gt[b].id;
    }
  }
  EXPECT_GT(occluded, 0) << "expected some pigs partly hidden by others";
}

TEST(DataSimulator, BehaviourStatisticsAndExits) {
  // Dynamics only (no rendering, boxes from outlines): two simulated hours of 8 pigs.
  SimConfig c;
  c.seed = 21;
  c.num_pigs = 8;
  c.size = cv::Size(640, 360);
  c.render = false;
  c.masks = false;
  PenSimulator sim(c);
  std::map<Behaviour, long> count;
  std::map<int, int> out_of_view_runs;
  std::vector<bool> was_out(c.num_pigs + 1, false);
  long total = 0;
  const int frames = static_cast<int>(2 * 3600 * c.fps);
  for (int i = 0; i < frames; ++i) {
    sim.step();
    for (const auto& g : sim.all_animals()) {
      ++count[g.behaviour];
      ++total;
      const bool out = g.box.empty();
      if (was_out[g.id] && !out) ++out_of_view_runs[g.id];  // came back into view
      was_out[g.id] = out;
      ASSERT_TRUE(sim.layout().pen.contains(g.pose.centre)) << "pig " << g.id << " left the pen";
    }
  }
  const double lying = static_cast<double>(count[Behaviour::Lying]) / total;
  EXPECT_GT(lying, 0.45) << "pigs lie most of the time";
  EXPECT_LT(lying, 0.9);
  for (Behaviour b : {Behaviour::NotMoving, Behaviour::Moving, Behaviour::Running, Behaviour::Eating, Behaviour::Drinking,
                      Behaviour::Playing, Behaviour::Standing})
    EXPECT_GT(count[b], 0) << behaviour_name(b) << " never happened";
  EXPECT_EQ(count[Behaviour::Unknown], 0);
  int returns = 0;
  for (const auto& [id, n] : out_of_view_runs) returns += n;
  EXPECT_GT(returns, 0) << "no pig left the view and came back";
}

TEST(DataSimulator, ConfigErrors) {
  SimConfig c;
  c.num_pigs = 0;
  EXPECT_THROW(PenSimulator{c}, eh::Error);
  c = SimConfig{};
  c.size = cv::Size(10, 10);
  EXPECT_THROW(PenSimulator{c}, eh::Error);
  c = SimConfig{};
  c.fps = 0;
  EXPECT_THROW(PenSimulator{c}, eh::Error);
  c = SimConfig{};
  c.num_pigs = 2;
  c.size = cv::Size(320, 180);
  PenSimulator sim(c);
  EXPECT_EQ(sim.frame_index(), -1);
  sim.step();
  EXPECT_EQ(sim.frame_index(), 0);
  EXPECT_EQ(sim.frame().size(), c.size);
  EXPECT_EQ(sim.frame().type(), CV_8UC3);
  EXPECT_THROW(sim.set_health(3, PigHealth{}), eh::Error);
  EXPECT_EQ(sim.animals().size(), 2u);
}

TEST(DataSimulator, WrittenFilesReadBackAsTheNativeGroundTruth) {
  const auto dir = eh::test::temp_dir("data_sim_files");
  SimulateOptions o;
  o.sim = small_config(5);
  o.sim.size = cv::Size(480, 270);
  o.minutes = 0.5;  // 180 frames
  o.out_dir = dir.string();
  o.write_video = false;
  o.write_contact_sheet = false;
  std::vector<std::vector<GtObject>> native;
  const auto res = run_simulation(o, {}, [&](const PenSimulator& s) { native.push_back(s.ground_truth()); });
  ASSERT_EQ(res.frames, 180);
  ASSERT_EQ(native.size(), 180u);

  // gt.txt: the MOT rows of every frame, and its hash
  const std::string gt = read_file(dir / "gt" / "gt.txt");
  EXPECT_EQ(hex64(fnv1a64(gt)), res.gt_fnv1a);
  const auto mot = read_mot((dir / "gt" / "gt.txt").string());
  std::vector<MotRecord> expect;
  for (int i = 0; i < 180; ++i)
    for (const auto& r : to_mot_records(native[i], i)) expect.push_back(r);
  ASSERT_EQ(mot.size(), expect.size());
  for (size_t i = 0; i < mot.size(); ++i) ASSERT_EQ(mot[i], expect[i]) << i;

  // Edinburgh output.json: every third frame, read back with carry-forward = native labels
  const auto ann = read_edinburgh_json((dir / "output.json").string());
  const auto frames = expand_edinburgh(ann, 60);
  size_t entries = 0;
  for (const auto& obj : ann.objects) entries += obj.entries.size();
  size_t labels = 0;
  for (int k = 0; k < 60; ++k) {
    const auto want = to_edinburgh_labels(native[3 * k]);
    labels += want.size();
    std::map<std::string, EdinburghLabel> got;
    for (const auto& l : frames[k]) got[l.id] = l;
    ASSERT_EQ(got.size(), want.size()) << "annotated frame " << k;
    for (const auto& w : want) {
      ASSERT_TRUE(got.count(w.id)) << "frame " << k << " id " << w.id;
      EXPECT_EQ(got[w.id].behaviour, w.behaviour) << "frame " << k << " id " << w.id;
      EXPECT_EQ(got[w.id].bbox, w.bbox) << "frame " << k << " id " << w.id;
    }
  }
  EXPECT_LT(entries, labels) << "entries are written only on change";

  // masks.jsonl: the visible masks of every frame
  std::ifstream mf(dir / "gt" / "masks.jsonl");
  std::string line;
  int f = 0;
  while (std::getline(mf, line)) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_EQ(j["frame"].get<int>(), f + 1);
    ASSERT_EQ(j["masks"].size(), native[f].size());
    for (size_t k = 0; k < native[f].size(); ++k) {
      EXPECT_EQ(j["masks"][k]["id"].get<int>(), native[f][k].id);
      EXPECT_EQ(rle_from_json(j["masks"][k]), native[f][k].mask);
    }
    ++f;
  }
  EXPECT_EQ(f, 180);

  // labels.csv: a header and one row per pig in view
  std::ifstream lf(dir / "gt" / "labels.csv");
  int rows = -1;
  while (std::getline(lf, line)) ++rows;
  EXPECT_EQ(static_cast<size_t>(rows), expect.size());
  EXPECT_TRUE(fs::exists(dir / "layout.json"));
  EXPECT_TRUE(fs::exists(dir / "seqinfo.ini"));
}

TEST(DataSimulator, VideoAndContactSheet) {
  const auto dir = eh::test::temp_dir("data_sim_video");
  SimulateOptions o;
  o.sim = small_config(9);
  o.sim.size = cv::Size(320, 180);
  o.minutes = 0.25;
  o.out_dir = dir.string();
  o.write_masks = false;
  const auto res = run_simulation(o);
  ASSERT_FALSE(res.video_path.empty());
  EXPECT_TRUE(fs::exists(res.video_path));
  EXPECT_GT(fs::file_size(res.video_path), 1000u);
  EXPECT_TRUE(fs::exists(dir / "contact_sheet.png"));
  // The Edinburgh reader finds the video through videoFileName and reads annotated frames.
  auto seq = EdinburghSequence::open(dir.string());
  EXPECT_TRUE(seq.from_video());
  EXPECT_EQ(seq.num_annotated_frames(), (res.frames + 2) / 3);
  const cv::Mat f = seq.read_annotated_frame(4);
  EXPECT_EQ(f.size(), o.sim.size);
}
