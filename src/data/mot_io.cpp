#include "data/mot_io.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace eh::data {

namespace {

constexpr const char* kFieldNames[10] = {"frame", "id", "bb_left", "bb_top", "bb_width",
                                         "bb_height", "conf", "class/x", "visibility/y", "z"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

struct Field {
  std::string text;
  int column;  // 1-based column of the field's first non-blank character (or of its position)
};

[[noreturn]] void fail(const std::string& source, int line, int column, const std::string& msg) {
  throw Error(source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + msg);
}

double parse_double(const Field& f, int index, const std::string& source, int line) {
  const char* b = f.text.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(b, &end);
  if (end == b || *end != '\0')
    fail(source, line, f.column,
         std::string("field ") + std::to_string(index + 1) + " (" + kFieldNames[index] +
             ") is not a number: '" + f.text + "'");
  if (!std::isfinite(v) || errno == ERANGE)
    fail(source, line, f.column,
         std::string("field ") + std::to_string(index + 1) + " (" + kFieldNames[index] +
             ") is not a finite number: '" + f.text + "'");
  return v;
}

int parse_int(const Field& f, int index, const std::string& source, int line) {
  const double v = parse_double(f, index, source, line);
  if (v != std::floor(v) || std::fabs(v) > 2147483647.0)
    fail(source, line, f.column,
         std::string("field ") + std::to_string(index + 1) + " (" + kFieldNames[index] +
             ") must be an integer, found '" + f.text + "'");
  return static_cast<int>(v);
}

}  // namespace

std::string format_number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::vector<MotRecord> parse_mot(const std::string& text, const std::string& source) {
  std::vector<MotRecord> out;
  int line_no = 0;
  size_t pos = 0;
  std::vector<Field> fields;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string_view line(text.data() + pos, nl - pos);
    ++line_no;
    pos = nl + 1;

    bool blank = true;
    for (char c : line)
      if (!is_space(c)) {
        blank = false;
        break;
      }
    if (blank) {
      if (nl == text.size()) break;
      continue;
    }

    // Split on commas, remembering where each field starts.
    fields.clear();
    size_t start = 0;
    while (true) {
      size_t comma = line.find(',', start);
      const size_t end = comma == std::string_view::npos ? line.size() : comma;
      size_t b = start, e = end;
      while (b < e && is_space(line[b])) ++b;
      while (e > b && is_space(line[e - 1])) --e;
      fields.push_back({std::string(line.substr(b, e - b)), static_cast<int>(b == e ? start : b) + 1});
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    // Trailing commas (and the empty fields they make) are tolerated.
    while (fields.size() > 1 && fields.back().text.empty()) fields.pop_back();
    for (size_t i = 0; i < fields.size(); ++i)
      if (fields[i].text.empty())
        fail(source, line_no, fields[i].column, "field " + std::to_string(i + 1) + " is empty");
    if (fields.size() < 6 || fields.size() > 10)
      fail(source, line_no, 1,
           "expected 6 to 10 comma-separated fields (frame,id,x,y,w,h[,conf,...]), found " +
               std::to_string(fields.size()));

    MotRecord r;
    r.num_fields = static_cast<int>(fields.size());
    r.frame = parse_int(fields[0], 0, source, line_no);
    if (r.frame < 1) fail(source, line_no, fields[0].column, "frame must be >= 1 (frames are 1-based), found " + fields[0].text);
    r.id = parse_int(fields[1], 1, source, line_no);
    r.x = parse_double(fields[2], 2, source, line_no);
    r.y = parse_double(fields[3], 3, source, line_no);
    r.w = parse_double(fields[4], 4, source, line_no);
    r.h = parse_double(fields[5], 5, source, line_no);
    if (r.w < 0) fail(source, line_no, fields[4].column, "bb_width must not be negative, found " + fields[4].text);
    if (r.h < 0) fail(source, line_no, fields[5].column, "bb_height must not be negative, found " + fields[5].text);
    if (fields.size() >= 7) r.conf = parse_double(fields[6], 6, source, line_no);
    if (fields.size() == 10) {
      // MOT15 / detection layout: the last three are world coordinates; check, then ignore.
      for (int i = 7; i < 10; ++i) (void)parse_double(fields[i], i, source, line_no);
    } else {
      if (fields.size() >= 8) r.cls = parse_int(fields[7], 7, source, line_no);
      if (fields.size() >= 9) {
        r.visibility = parse_double(fields[8], 8, source, line_no);
        if (r.visibility < 0 || r.visibility > 1)
          fail(source, line_no, fields[8].column, "visibility must be in [0, 1], found " + fields[8].text);
      }
    }
    out.push_back(r);
    if (nl == text.size()) break;
  }
  return out;
}

std::vector<MotRecord> read_mot(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open MOT file '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_mot(ss.str(), path);
}

std::string format_mot_line(const MotRecord& r, MotLayout layout) {
  std::string s = std::to_string(r.frame) + "," + std::to_string(r.id) + "," + format_number(r.x) + "," +
                  format_number(r.y) + "," + format_number(r.w) + "," + format_number(r.h) + "," +
                  format_number(r.conf);
  if (layout == MotLayout::GroundTruth) {
    s += "," + std::to_string(r.cls) + "," + format_number(r.visibility);
  } else {
    s += ",-1,-1,-1";
  }
  return s;
}

std::string format_mot(const std::vector<MotRecord>& records, MotLayout layout) {
  std::string s;
  s.reserve(records.size() * 40);
  for (const auto& r : records) {
    s += format_mot_line(r, layout);
    s += '\n';
  }
  return s;
}

void write_mot(const std::string& path, const std::vector<MotRecord>& records, MotLayout layout) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error("cannot write MOT file '" + path + "'");
  const std::string s = format_mot(records, layout);
  f.write(s.data(), static_cast<std::streamsize>(s.size()));
  if (!f) throw Error("failed writing MOT file '" + path + "'");
}

}  // namespace eh::data
