// `edgeherd track` end to end. Skipped when the edgeherd binary has not been built (the video
// suite does not force building it: it is the one target that compiles LibTorch code).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

namespace fs = std::filesystem;

namespace {

bool have_binary() { return fs::exists(EH_BINARY); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TrackCli, SimulatedPenWithGroundTruthInstances) {
  if (!have_binary()) GTEST_SKIP() << EH_BINARY << " not built";
  const auto dir = eh::test::temp_dir("track_cli_sim");
  const auto tracks = dir / "tracks.txt", gt = dir / "gt.txt", js = dir / "m.json";
  const auto r = eh::test::run_cli("track sim:seed=1,frames=300 --gt-instances --eval --memory-report -o " +
                                   tracks.string() + " --gt-out " + gt.string() + " --json " + js.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("IDF1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("process peak RSS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tracker.identities"), std::string::npos) << r.out;
  ASSERT_TRUE(fs::exists(tracks));
  ASSERT_TRUE(fs::exists(js));
  // The files work with `edgeherd eval`.
  const auto e = eh::test::run_cli("eval --gt " + gt.string() + " --pred " + tracks.string());
  EXPECT_EQ(e.code, 0) << e.out;
}

TEST(TrackCli, RecordedInstancesGiveTheGoldenTracks) {
  if (!have_binary()) GTEST_SKIP() << EH_BINARY << " not built";
  const auto dir = eh::test::temp_dir("track_cli_inst");
  const fs::path data = fs::path(EH_TEST_DATA_DIR) / "track";
  const auto out = dir / "crossing.txt";
  const auto r = eh::test::run_cli("track --instances " + (data / "crossing.jsonl").string() + " --eval -o " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(slurp(out), slurp(data / "crossing.expected.txt"));
}

TEST(TrackCli, UsageErrors) {
  if (!have_binary()) GTEST_SKIP() << EH_BINARY << " not built";
  EXPECT_EQ(eh::test::run_cli("track").code, 2);
  EXPECT_EQ(eh::test::run_cli("track /nonexistent.mp4 --gt-instances").code, 2);
  EXPECT_EQ(eh::test::run_cli("track sim:bogus=1 --gt-instances").code, 2);
  EXPECT_EQ(eh::test::run_cli("track sim --gt-instances --window 1").code, 2);
  EXPECT_EQ(eh::test::run_cli("track /nonexistent.mp4").code, 1);
}

// A folder with a broken image: read to the end, the broken one reported, exit 0.
TEST(TrackCli, BrokenImageInAFolderIsNotFatal) {
  if (!have_binary()) GTEST_SKIP() << EH_BINARY << " not built";
  const auto dir = eh::test::temp_dir("track_cli_folder");
  for (int i = 0; i < 3; ++i) {
    std::ofstream f(dir / ("f" + std::to_string(i) + ".png"), std::ios::binary);
    if (i == 1) f << "broken";
  }
  // Only f1 has bytes (broken); f0 and f2 are empty files: also unreadable. Write one real PGM.
  std::ofstream(dir / "f3.pgm", std::ios::binary) << "P5\n2 2\n255\n" << std::string(4, '\x80');
  const auto r = eh::test::run_cli("track " + dir.string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("frames 1, skipped 3"), std::string::npos) << r.out;
}

}  // namespace
