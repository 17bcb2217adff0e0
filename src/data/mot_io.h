// MOTChallenge text files: one object per line,
//   frame, id, bb_left, bb_top, bb_width, bb_height [, conf [, class [, visibility]]]   (6-9 fields)
//   frame, id, bb_left, bb_top, bb_width, bb_height, conf, x, y, z                       (10 fields)
// Frames are 1-based. The reader accepts 6 to 10 comma-separated fields, whitespace around
// fields, trailing commas, CRLF line ends and blank lines; anything else (a non-number, an
// empty field, a wrong field count, frame < 1, negative width/height) is an eh::Error that
// names the file, the line and the column. See docs/formats.md.
#pragma once
#include <string>
#include <vector>

namespace eh::data {

struct MotRecord {
  int frame = 0;        // 1-based
  int id = -1;          // -1 for detections without identity
  double x = 0, y = 0;  // top-left corner, pixels (0-based image coordinates)
  double w = 0, h = 0;
  double conf = 1;      // 7th field; 1 when absent
  int cls = -1;         // 8th field (object class; edgeherd: 1 = pig); -1 when absent
  double visibility = -1;  // 9th field in [0, 1]; -1 when absent
  int num_fields = 9;   // how many fields the line had (set by the reader)

  bool operator==(const MotRecord& o) const {
    return frame == o.frame && id == o.id && x == o.x && y == o.y && w == o.w && h == o.h &&
           conf == o.conf && cls == o.cls && visibility == o.visibility;
  }
};

enum class MotLayout {
  GroundTruth,  // 9 fields: frame,id,x,y,w,h,conf,class,visibility (MOT16/17 gt.txt)
  Results,      // 10 fields: frame,id,x,y,w,h,conf,-1,-1,-1 (tracker output)
};

// `source` names the text in error messages (usually the path).
std::vector<MotRecord> parse_mot(const std::string& text, const std::string& source);
std::vector<MotRecord> read_mot(const std::string& path);

// Numbers are written in the shortest form that round-trips to 4 decimals ("12", "0.25").
std::string format_mot_line(const MotRecord& r, MotLayout layout = MotLayout::GroundTruth);
std::string format_mot(const std::vector<MotRecord>& records, MotLayout layout = MotLayout::GroundTruth);
void write_mot(const std::string& path, const std::vector<MotRecord>& records,
               MotLayout layout = MotLayout::GroundTruth);

// Formats v with at most `decimals` decimals, trailing zeros (and the dot) removed; "-0" is "0".
std::string format_number(double v, int decimals = 4);

}  // namespace eh::data
