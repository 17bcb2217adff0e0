// Edinburgh Pig output.json: carry-forward, the behaviour table, writer round trip, sequences
// on disk with missing frames.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "core/error.h"
#include "data/edinburgh.h"
#include "test_util.h"

using namespace eh::data;
namespace fs = std::filesystem;

namespace {
const std::string kDir = std::string(EH_TEST_DATA_DIR) + "/sim/";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const eh::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(DataEdinburgh, BehaviourTableHas17StringsCoveringTheClasses) {
  const auto& t = edinburgh_behaviour_table();
  EXPECT_EQ(t.size(), 17u);
  std::set<std::string> names;
  std::set<int> classes;
  for (const auto& [n, b] : t) {
    names.insert(n);
    classes.insert(static_cast<int>(b));
  }
  EXPECT_EQ(names.size(), 17u);
  EXPECT_EQ(classes.size(), 9u);  // every class is reachable
  // the writer's string for each class reads back as that class
  for (Behaviour b : all_behaviours()) EXPECT_EQ(edinburgh_behaviour(edinburgh_name(b)), b);
  EXPECT_EQ(edinburgh_behaviour("eat"), Behaviour::Eating);
  EXPECT_EQ(edinburgh_behaviour("Drink"), Behaviour::Drinking);
  EXPECT_EQ(edinburgh_behaviour(" not moving "), Behaviour::NotMoving);
  EXPECT_EQ(edinburgh_behaviour("Lying-Lateral"), Behaviour::Lying);
  EXPECT_THROW(edinburgh_behaviour("dancing"), eh::Error);
}

TEST(DataEdinburgh, CarryForwardAndVisibility) {
  const auto a = read_edinburgh_json(kDir + "edinburgh_small/output.json");
  EXPECT_EQ(a.video_file, "color.mp4");
  ASSERT_EQ(a.objects.size(), 3u);
  EXPECT_EQ(a.objects[2].id, "3");  // integer ids become strings
  EXPECT_EQ(a.max_frame_number(), 9);
  const auto f = expand_edinburgh(a);
  ASSERT_EQ(f.size(), 10u);
  auto find = [&](int k, const std::string& id) -> const EdinburghLabel* {
    for (const auto& l : f[k])
      if (l.id == id) return &l;
    return nullptr;
  };
  // 179: lying 0..3, standing 4..5, absent 6..7 (visible: false), moving 8..9
  for (int k = 0; k <= 3; ++k) {
    ASSERT_NE(find(k, "179"), nullptr) << k;
    EXPECT_EQ(find(k, "179")->behaviour, Behaviour::Lying);
    EXPECT_EQ(find(k, "179")->bbox, (EdinburghBox{59, 16, 22, 9}));
  }
  EXPECT_EQ(find(5, "179")->behaviour, Behaviour::Standing);
  EXPECT_EQ(find(6, "179"), nullptr);
  EXPECT_EQ(find(7, "179"), nullptr);
  EXPECT_EQ(find(9, "179")->behaviour, Behaviour::Moving);
  // 214: absent 0..1, eat 2..4; two entries at frame 5 (listed out of order): the later one holds
  EXPECT_EQ(find(1, "214"), nullptr);
  EXPECT_EQ(find(4, "214")->behaviour, Behaviour::Eating);
  EXPECT_EQ(find(5, "214")->behaviour, Behaviour::Drinking);
  EXPECT_EQ(find(9, "214")->bbox, (EdinburghBox{32, 42, 16, 14}));
  // 3: only frame 9; a quoted number is accepted
  EXPECT_EQ(find(8, "3"), nullptr);
  EXPECT_EQ(find(9, "3")->behaviour, Behaviour::NotMoving);
  EXPECT_EQ(find(9, "3")->bbox, (EdinburghBox{5, 6, 7.5, 8}));
  // more frames than annotated: carried to the end
  const auto g = expand_edinburgh(a, 12);
  EXPECT_EQ(g[11].size(), 3u);
}

TEST(DataEdinburgh, ClearErrors) {
  std::string e = error_of([] { read_edinburgh_json(kDir + "edinburgh_unknown_label.json"); });
  EXPECT_NE(e.find("edinburgh_unknown_label.json"), std::string::npos) << e;
  EXPECT_NE(e.find("object id 7"), std::string::npos) << e;
  EXPECT_NE(e.find("frameNumber 3"), std::string::npos) << e;
  EXPECT_NE(e.find("'dancing'"), std::string::npos) << e;
  EXPECT_NE(e.find("accepted: lying"), std::string::npos) << e;

  e = error_of([] { parse_edinburgh_json(R"({"objects":[{"id":"1","frames":[{"frameNumber":2,"visible":true,"behaviour":"lying"}]}]})", "x.json"); });
  EXPECT_NE(e.find("x.json: object id 1, frames[0] (frameNumber 2): missing key 'bbox'"), std::string::npos) << e;
  e = error_of([] { parse_edinburgh_json(R"({"objects":[{"id":"1","frames":[{"frameNumber":-1}]}]})", "x.json"); });
  EXPECT_NE(e.find("non-negative integer"), std::string::npos) << e;
  e = error_of([] { parse_edinburgh_json(R"({"objects":[{"id":"1","frames":[{"bbox":{}}]}]})", "x.json"); });
  EXPECT_NE(e.find("missing key 'frameNumber'"), std::string::npos) << e;
  e = error_of([] { parse_edinburgh_json("{\"objects\": [", "x.json"); });
  EXPECT_NE(e.find("x.json: not valid JSON"), std::string::npos) << e;
  e = error_of([] { parse_edinburgh_json("{}", "x.json"); });
  EXPECT_NE(e.find("missing array 'objects'"), std::string::npos) << e;
  // an invisible entry needs neither box nor behaviour
  EXPECT_NO_THROW(parse_edinburgh_json(R"({"objects":[{"id":"1","frames":[{"frameNumber":0,"visible":false}]}]})", "x.json"));
}

TEST(DataEdinburgh, WriterKeepsOnlyChangesAndRoundTrips) {
  // 3 objects over 20 annotated frames; one leaves for frames 8..11.
  std::vector<std::vector<EdinburghLabel>> frames(20);
  for (int k = 0; k < 20; ++k) {
    frames[k].push_back({"1", {10, 10, 50, 20}, Behaviour::Lying, ""});                                      // never changes
    frames[k].push_back({"2", {static_cast<double>(k), 5, 30, 30}, k < 10 ? Behaviour::Moving : Behaviour::Running, ""});  // moves
    if (k < 8 || k >= 12) frames[k].push_back({"3", {100, 100, 40, 40}, k < 15 ? Behaviour::Eating : Behaviour::Drinking, ""});
  }
  EdinburghWriter w("color.mp4", 0.5);
  for (int k = 0; k < 20; ++k) w.add_frame(k, frames[k]);
  // 1: one entry; 2: every frame; 3: enter, leave, re-enter, change
  EXPECT_EQ(w.num_entries(), 1u + 20u + 4u);
  const auto a = parse_edinburgh_json(w.to_json_text(), "written");
  const auto back = expand_edinburgh(a, 20);
  for (int k = 0; k < 20; ++k) {
    ASSERT_EQ(back[k].size(), frames[k].size()) << k;
    for (size_t i = 0; i < frames[k].size(); ++i) EXPECT_EQ(back[k][i], frames[k][i]) << k << " " << i;
  }
  EXPECT_THROW(w.add_frame(5, {}), eh::Error);  // frames must increase
  // with a tolerance, small moves are not written
  EdinburghWriter t("color.mp4", 0.5, 2.0);
  for (int k = 0; k < 20; ++k) t.add_frame(k, frames[k]);
  EXPECT_LT(t.num_entries(), w.num_entries());
}

TEST(DataEdinburgh, SequenceFromImagesReportsMissingFrames) {
  const auto dir = eh::test::temp_dir("data_edinburgh_seq");
  fs::copy_file(kDir + "edinburgh_small/output.json", dir / "output.json");
  fs::create_directories(dir / "frames");
  const cv::Mat img(24, 32, CV_8UC3, cv::Scalar(10, 20, 30));
  // annotated frames 0..9 are raw frames 0, 3, ..., 27; leave out raw frame 15 (annotated 5)
  for (int raw = 0; raw <= 27; ++raw)
    if (raw != 15) cv::imwrite((dir / "frames" / cv::format("%06d.png", raw)).string(), img);
  const std::string e = error_of([&] { EdinburghSequence::open(dir.string()); });
  EXPECT_NE(e.find("missing frame: annotated frame 5 (raw frame 15)"), std::string::npos) << e;

  cv::imwrite((dir / "frames" / "000015.png").string(), img);
  auto seq = EdinburghSequence::open(dir.string());
  EXPECT_FALSE(seq.from_video());
  EXPECT_EQ(seq.num_annotated_frames(), 10);
  EXPECT_EQ(seq.read_annotated_frame(9).size(), img.size());
  EXPECT_EQ(seq.labels(5).size(), 2u);
  EXPECT_EQ(seq.labels_at_raw_frame(17).size(), seq.labels(5).size());  // 17 / 3 = 5
  EXPECT_THROW(seq.labels(10), eh::Error);

  const auto empty = eh::test::temp_dir("data_edinburgh_noframes");
  fs::copy_file(kDir + "edinburgh_small/output.json", empty / "output.json");
  EXPECT_NE(error_of([&] { EdinburghSequence::open(empty.string()); }).find("no frames"), std::string::npos);
}
