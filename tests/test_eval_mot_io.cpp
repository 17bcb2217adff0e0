// The strict MOTChallenge reader of the eval module and the labels CSV reader: accepted forms,
// and malformed inputs whose errors must name the file, the line and the column.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "core/error.h"
#include "eval/classification.h"
#include "eval/mot.h"

namespace {

using eh::eval::TrackSet;

const std::string kData = std::string(EH_TEST_DATA_DIR) + "/eval/";

TrackSet parse(const std::string& text, const std::string& name = "gt.txt") {
  std::istringstream in(text);
  return eh::eval::read_mot(in, name);
}

// Runs f, expects an eh::Error, returns its message.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const eh::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no eh::Error thrown";
  return {};
}

TEST(EvalMotIo, ReadsTenColumnLinesInFileOrder) {
  const TrackSet t = parse("1,3,10.5,20,30,40,0.9,-1,-1,-1\n1,1,0,0,5,5,1,-1,-1,-1\n2,3,11,20,30,40,0.8,-1,-1,-1\n");
  ASSERT_EQ(t.frames.size(), 2u);
  const auto& f1 = t.frames.at(1);
  ASSERT_EQ(f1.size(), 2u);
  EXPECT_EQ(f1[0].id, 3);  // file order is kept within a frame
  EXPECT_EQ(f1[1].id, 1);
  EXPECT_DOUBLE_EQ(f1[0].box.x, 10.5);
  EXPECT_DOUBLE_EQ(f1[0].box.h, 40);
  EXPECT_DOUBLE_EQ(f1[0].conf, 0.9);
  EXPECT_EQ(f1[0].line, 1);
  EXPECT_EQ(t.num_detections(), 3u);
  EXPECT_EQ(t.num_ids(), 2u);
}

TEST(EvalMotIo, AcceptsCommonVariations) {
  // 6 columns (conf defaults to 1), blanks around fields, a trailing comma, CRLF, a comment, an
  // empty line, whitespace-separated columns, "3.0" as an integer.
  const TrackSet t = parse(
      "# comment\n"
      "1, 1, 0, 0, 10, 10\n"
      "\n"
      "2,1,0,0,10,10,0.5,\r\n"
      "3 1 0 0 10 10 1\n"
      "4.0,2,0,0,0,0,1\n");
  ASSERT_EQ(t.frames.size(), 4u);
  EXPECT_DOUBLE_EQ(t.frames.at(1)[0].conf, 1.0);
  EXPECT_DOUBLE_EQ(t.frames.at(2)[0].conf, 0.5);
  EXPECT_EQ(t.frames.at(3)[0].id, 1);
  EXPECT_EQ(t.frames.at(4)[0].id, 2);
  EXPECT_EQ(t.frames.at(4)[0].line, 6);
}

TEST(EvalMotIo, NonNumericFieldNamesFileLineAndColumn) {
  const std::string msg = error_of([] { parse("1,1,0,0,10,10,1\n2,1,abc,0,10,10,1\n"); });
  EXPECT_NE(msg.find("gt.txt:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("column 3 (x)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'abc'"), std::string::npos) << msg;
}

TEST(EvalMotIo, NegativeSizeIsAnError) {
  std::string msg = error_of([] { parse("1,1,0,0,-10,10,1\n"); });
  EXPECT_NE(msg.find("gt.txt:1: column 5 (w)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("negative width"), std::string::npos) << msg;
  msg = error_of([] { parse("1,1,0,0,10,10,1\n1,2,0,0,10,-0.5,1\n"); });
  EXPECT_NE(msg.find("gt.txt:2: column 6 (h)"), std::string::npos) << msg;
}

TEST(EvalMotIo, DuplicateIdInFrameNamesBothLines) {
  const std::string msg = error_of([] { parse("1,4,0,0,10,10,1\n1,5,0,0,10,10,1\n1,4,5,5,10,10,1\n"); });
  EXPECT_NE(msg.find("gt.txt:3: column 2 (id)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("id 4 appears twice in frame 1 (first on line 1)"), std::string::npos) << msg;
  // The same id in different frames is of course fine.
  EXPECT_NO_THROW(parse("1,4,0,0,10,10,1\n2,4,0,0,10,10,1\n"));
}

TEST(EvalMotIo, OtherMalformedLines) {
  std::string msg = error_of([] { parse("1,2,3,4,5\n"); });
  EXPECT_NE(msg.find("gt.txt:1: expected at least 6 columns"), std::string::npos) << msg;
  msg = error_of([] { parse("1,,0,0,10,10\n"); });
  EXPECT_NE(msg.find("gt.txt:1: column 2 (id)"), std::string::npos) << msg;
  msg = error_of([] { parse("1,2.5,0,0,10,10\n"); });
  EXPECT_NE(msg.find("column 2 (id): expected an integer"), std::string::npos) << msg;
  msg = error_of([] { parse("-1,2,0,0,10,10\n"); });
  EXPECT_NE(msg.find("column 1 (frame)"), std::string::npos) << msg;
  msg = error_of([] { parse("1,2,nan,0,10,10\n"); });
  EXPECT_NE(msg.find("column 3 (x): expected a finite number"), std::string::npos) << msg;
  msg = error_of([] { parse("1,2,0,0,10,10,1,x\n"); });
  EXPECT_NE(msg.find("column 8 (extra)"), std::string::npos) << msg;
  msg = error_of([] { parse("1,2,0,0,10,10,high\n"); });
  EXPECT_NE(msg.find("column 7 (conf)"), std::string::npos) << msg;
}

TEST(EvalMotIo, FileErrorsCarryThePath) {
  std::string msg = error_of([] { eh::eval::load_mot(kData + "bad_negative_width.txt"); });
  EXPECT_NE(msg.find(kData + "bad_negative_width.txt:3: column 5 (w)"), std::string::npos) << msg;
  msg = error_of([] { eh::eval::load_mot(kData + "bad_duplicate_id.txt"); });
  EXPECT_NE(msg.find(kData + "bad_duplicate_id.txt:3: column 2 (id)"), std::string::npos) << msg;
  msg = error_of([] { eh::eval::load_mot(kData + "bad_non_numeric.txt"); });
  EXPECT_NE(msg.find(kData + "bad_non_numeric.txt:2: column 4 (y)"), std::string::npos) << msg;
  msg = error_of([] { eh::eval::load_mot(kData + "does_not_exist.txt"); });
  EXPECT_NE(msg.find("does_not_exist.txt: cannot open"), std::string::npos) << msg;
}

TEST(EvalMotIo, LoadsFixtureAndFiltersConfidence) {
  const TrackSet gt = eh::eval::load_mot(kData + "gt_swap.txt");
  EXPECT_EQ(gt.num_detections(), 9u);
  EXPECT_EQ(gt.frames.size(), 5u);
  // Frame 5 holds only a conf-0 ("ignore") box: filtering drops the box and the frame.
  const TrackSet kept = eh::eval::filter_confidence(gt, 1.0);
  EXPECT_EQ(kept.num_detections(), 8u);
  EXPECT_EQ(kept.frames.size(), 4u);
}

TEST(EvalMotIo, ValidateCatchesProgrammaticMistakes) {
  TrackSet t;
  t.source = "built";
  t.add(3, 1, {0, 0, 10, 10});
  t.add(3, 1, {5, 5, 10, 10});
  std::string msg = error_of([&] { eh::eval::validate(t); });
  EXPECT_NE(msg.find("built: frame 3: id 1 appears twice in frame 3"), std::string::npos) << msg;
  TrackSet n;
  n.source = "built";
  n.add(1, 2, {0, 0, -1, 10});
  msg = error_of([&] { eh::eval::validate(n); });
  EXPECT_NE(msg.find("negative box size"), std::string::npos) << msg;
}

TEST(EvalLabelsIo, ReadsNamesIndicesAndHeader) {
  const auto& classes = eh::eval::edinburgh_pig_classes();
  ASSERT_EQ(classes.size(), 9u);
  EXPECT_EQ(classes[0], "unknown");
  EXPECT_EQ(classes[8], "lying");
  std::istringstream in("frame,id,label\n1,1,eating\n1,2,8\n2,1,Not_Moving\n");
  const auto l = eh::eval::read_labels(in, "labels.csv", classes);
  ASSERT_EQ(l.labels.size(), 3u);
  EXPECT_EQ(l.labels.at({1, 1}), 4);
  EXPECT_EQ(l.labels.at({1, 2}), 8);
  EXPECT_EQ(l.labels.at({2, 1}), 1);
}

TEST(EvalLabelsIo, MalformedLabels) {
  const auto& classes = eh::eval::edinburgh_pig_classes();
  auto read = [&](const std::string& text) {
    std::istringstream in(text);
    return eh::eval::read_labels(in, "labels.csv", classes);
  };
  std::string msg = error_of([&] { read("1,1,eating\n1,2,sleeping\n"); });
  EXPECT_NE(msg.find("labels.csv:2: column 3 (label): unknown class 'sleeping'"), std::string::npos) << msg;
  msg = error_of([&] { read("1,1,9\n"); });
  EXPECT_NE(msg.find("labels.csv:1: column 3 (label): class index 9 out of range"), std::string::npos) << msg;
  msg = error_of([&] { read("1,1,eating\n1,1,lying\n"); });
  EXPECT_NE(msg.find("labels.csv:2: column 2 (id): id 1 labelled twice in frame 1 (first on line 1)"),
            std::string::npos)
      << msg;
  msg = error_of([&] { read("x,1,eating\n"); });
  EXPECT_NE(msg.find("labels.csv:1: column 1 (frame)"), std::string::npos) << msg;
  msg = error_of([&] { read("1,1\n"); });
  EXPECT_NE(msg.find("labels.csv:1: expected 3 columns"), std::string::npos) << msg;
}

}  // namespace
