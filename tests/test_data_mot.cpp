// MOTChallenge reader/writer: tolerated variants, strict errors with file, line and column.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/mot_io.h"
#include "test_util.h"

using namespace eh::data;

namespace {

const std::string kDir = std::string(EH_TEST_DATA_DIR) + "/sim/";

// The message of the eh::Error thrown by parsing `text` ("" when none).
std::string parse_error(const std::string& text) {
  try {
    parse_mot(text, "t.txt");
  } catch (const eh::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(DataMot, ReadsTheUsualVariants) {
  const auto r = read_mot(kDir + "mot_variants.txt");
  ASSERT_EQ(r.size(), 6u);
  // 6 fields: conf 1, class and visibility absent
  EXPECT_EQ(r[0].frame, 1);
  EXPECT_EQ(r[0].id, 1);
  EXPECT_EQ(r[0].x, 10);
  EXPECT_EQ(r[0].h, 40);
  EXPECT_EQ(r[0].conf, 1);
  EXPECT_EQ(r[0].cls, -1);
  EXPECT_EQ(r[0].visibility, -1);
  EXPECT_EQ(r[0].num_fields, 6);
  // blanks around fields, 7 fields
  EXPECT_DOUBLE_EQ(r[1].x, 11.5);
  EXPECT_DOUBLE_EQ(r[1].y, 21.25);
  EXPECT_DOUBLE_EQ(r[1].conf, 0.9);
  // 8 fields with a trailing comma
  EXPECT_EQ(r[2].cls, 1);
  EXPECT_EQ(r[2].num_fields, 8);
  // 9 fields (MOT16/17 gt) with a trailing comma
  EXPECT_DOUBLE_EQ(r[3].visibility, 0.5);
  // 10 fields (MOT15 / detections: world x,y,z ignored), CRLF, after a blank line
  EXPECT_EQ(r[4].frame, 3);
  EXPECT_EQ(r[4].id, -1);
  EXPECT_DOUBLE_EQ(r[4].conf, 0.75);
  EXPECT_EQ(r[4].cls, -1);
  EXPECT_EQ(r[4].num_fields, 10);
  // two trailing commas
  EXPECT_DOUBLE_EQ(r[5].visibility, 0.25);
}

TEST(DataMot, WriteReadRoundTrip) {
  std::vector<MotRecord> recs;
  for (int f = 1; f <= 5; ++f)
    for (int id = 1; id <= 3; ++id) {
      MotRecord r;
      r.frame = f;
      r.id = id;
      r.x = f * 10 + id;
      r.y = 0.5 * id;
      r.w = 20.25;
      r.h = 10;
      r.cls = 1;
      r.visibility = id == 2 ? 0.3333 : 1;
      recs.push_back(r);
    }
  const auto dir = eh::test::temp_dir("data_mot");
  const std::string p = (dir / "gt" / "gt.txt").string();
  write_mot(p, recs);
  const auto back = read_mot(p);
  ASSERT_EQ(back.size(), recs.size());
  for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(back[i], recs[i]) << i;
  EXPECT_EQ(format_mot_line(recs[0]), "1,1,11,0.5,20.25,10,1,1,1");
  EXPECT_EQ(format_mot_line(recs[0], MotLayout::Results), "1,1,11,0.5,20.25,10,1,-1,-1,-1");
  const auto res = parse_mot(format_mot(recs, MotLayout::Results), "results");
  EXPECT_EQ(res[4].x, recs[4].x);
  EXPECT_EQ(res[4].visibility, -1);
}

TEST(DataMot, FormatNumber) {
  EXPECT_EQ(format_number(12.0), "12");
  EXPECT_EQ(format_number(0.25), "0.25");
  EXPECT_EQ(format_number(-0.00001), "0");
  EXPECT_EQ(format_number(1.23456789), "1.2346");
  EXPECT_EQ(format_number(3.0, 0), "3");
}

TEST(DataMot, MalformedLinesNameFileLineAndColumn) {
  // not a number: field 4 starts at column 8 of line 2
  std::string e = parse_error("1,1,10,20,30,40\n2,1,10,2O,30,40\n");
  EXPECT_NE(e.find("t.txt:2:8:"), std::string::npos) << e;
  EXPECT_NE(e.find("bb_top"), std::string::npos) << e;
  EXPECT_NE(e.find("'2O'"), std::string::npos) << e;
  // an empty field in the middle
  e = parse_error("1,1,,20,30,40\n");
  EXPECT_NE(e.find("t.txt:1:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("field 3 is empty"), std::string::npos) << e;
  // too few / too many fields
  e = parse_error("\n\n1,1,10,20,30\n");
  EXPECT_NE(e.find("t.txt:3:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("found 5"), std::string::npos) << e;
  e = parse_error("1,1,10,20,30,40,1,1,1,1,1\n");
  EXPECT_NE(e.find("found 11"), std::string::npos) << e;
  // frames are 1-based
  e = parse_error("0,1,10,20,30,40\n");
  EXPECT_NE(e.find("t.txt:1:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("frame must be >= 1"), std::string::npos) << e;
  // ids must be integers
  e = parse_error("1,1.5,10,20,30,40\n");
  EXPECT_NE(e.find("t.txt:1:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("integer"), std::string::npos) << e;
  // negative size, visibility out of range, non-finite number, header line
  e = parse_error("1,1,10,20,-3,40\n");
  EXPECT_NE(e.find("t.txt:1:11:"), std::string::npos) << e;
  e = parse_error("1,1,10,20,30,40,1,1,1.5\n");
  EXPECT_NE(e.find("visibility"), std::string::npos) << e;
  e = parse_error("1,1,nan,20,30,40\n");
  EXPECT_NE(e.find("finite"), std::string::npos) << e;
  e = parse_error("frame,id,x,y,w,h\n1,1,10,20,30,40\n");
  EXPECT_NE(e.find("t.txt:1:1:"), std::string::npos) << e;
  // trailing garbage after a number, with blanks before it: column points at the field
  e = parse_error("1,1,10,20,  30px,40\n");
  EXPECT_NE(e.find("t.txt:1:13:"), std::string::npos) << e;
}

TEST(DataMot, FileErrorsNameThePath) {
  try {
    read_mot(kDir + "mot_bad_number.txt");
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("mot_bad_number.txt:2:8:"), std::string::npos) << m;
  }
  EXPECT_THROW(read_mot(kDir + "does_not_exist.txt"), eh::Error);
  EXPECT_TRUE(parse_mot("", "empty").empty());
  EXPECT_TRUE(parse_mot("\n \r\n", "blank").empty());
}
