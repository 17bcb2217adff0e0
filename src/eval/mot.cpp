#include "eval/mot.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <random>
#include <set>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

namespace eh::eval {

std::size_t TrackSet::num_detections() const {
  std::size_t n = 0;
  for (const auto& [f, dets] : frames) n += dets.size();
  return n;
}

std::size_t TrackSet::num_ids() const {
  std::set<std::int64_t> ids;
  for (const auto& [f, dets] : frames)
    for (const auto& d : dets) ids.insert(d.id);
  return ids.size();
}

namespace {

const char* column_name(std::size_t col) {  // 1-based
  static const char* names[] = {"frame", "id", "x", "y", "w", "h", "conf"};
  return col >= 1 && col <= 7 ? names[col - 1] : "extra";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  if (line.find(',') != std::string_view::npos) {
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = line.find(',', start);
      out.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    while (!out.empty() && out.back().empty()) out.pop_back();  // trailing commas
  } else {
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
      if (i > start) out.push_back(line.substr(start, i - start));
    }
  }
  return out;
}

class LineError {
 public:
  LineError(const std::string& source, int line) : source_(source), line_(line) {}
  [[noreturn]] void fail(std::size_t col, const std::string& what) const {
    throw Error(fmt::format("{}:{}: column {} ({}): {}", source_, line_, col, column_name(col), what));
  }
  [[noreturn]] void fail_line(const std::string& what) const {
    throw Error(fmt::format("{}:{}: {}", source_, line_, what));
  }

 private:
  const std::string& source_;
  int line_;
};

double parse_number(std::string_view text, std::size_t col, const LineError& err) {
  if (text.empty()) err.fail(col, "empty field, expected a number");
  std::string_view t = text;
  if (t.front() == '+') t.remove_prefix(1);
  double v = 0.0;
  const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
  if (res.ec != std::errc() || res.ptr != t.data() + t.size()) {
    err.fail(col, fmt::format("expected a number, found '{}'", text));
  }
  if (!std::isfinite(v)) err.fail(col, fmt::format("expected a finite number, found '{}'", text));
  return v;
}

std::int64_t parse_integer(std::string_view text, std::size_t col, const LineError& err) {
  if (text.empty()) err.fail(col, "empty field, expected an integer");
  std::string_view t = text;
  if (t.front() == '+') t.remove_prefix(1);
  std::int64_t v = 0;
  const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
  if (res.ec == std::errc() && res.ptr == t.data() + t.size()) return v;
  const double d = parse_number(text, col, err);  // "3.0" is fine, "abc" is not
  if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0) {
    err.fail(col, fmt::format("expected an integer, found '{}'", text));
  }
  return static_cast<std::int64_t>(d);
}

}  // namespace

TrackSet read_mot(std::istream& in, const std::string& source) {
  TrackSet out;
  out.source = source;
  // frame -> (id -> line) to report duplicates with both lines
  std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, int>> seen;
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const LineError err(source, line_no);
    const auto fields = split_fields(line);
    if (fields.size() < 6) {
      err.fail_line(fmt::format("expected at least 6 columns (frame,id,x,y,w,h[,conf,...]), found {}", fields.size()));
    }
    for (std::size_t k = 0; k < fields.size(); ++k) {
      if (fields[k].empty()) err.fail(k + 1, "empty field");
    }
    const std::int64_t frame = parse_integer(fields[0], 1, err);
    if (frame < 0) err.fail(1, fmt::format("frame must be >= 0, found {}", frame));
    const std::int64_t id = parse_integer(fields[1], 2, err);
    Box b;
    b.x = parse_number(fields[2], 3, err);
    b.y = parse_number(fields[3], 4, err);
    b.w = parse_number(fields[4], 5, err);
    b.h = parse_number(fields[5], 6, err);
    if (b.w < 0) err.fail(5, fmt::format("negative width {}", fields[4]));
    if (b.h < 0) err.fail(6, fmt::format("negative height {}", fields[5]));
    double conf = 1.0;
    if (fields.size() >= 7) conf = parse_number(fields[6], 7, err);
    for (std::size_t k = 7; k < fields.size(); ++k) parse_number(fields[k], k + 1, err);
    auto [it, inserted] = seen[frame].emplace(id, line_no);
    if (!inserted) {
      err.fail(2, fmt::format("id {} appears twice in frame {} (first on line {})", id, frame, it->second));
    }
    out.frames[frame].push_back(Detection{id, b, conf, line_no});
  }
  if (in.bad()) throw Error(fmt::format("{}: read error", source));
  return out;
}

TrackSet load_mot(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot open file", path));
  return read_mot(in, path);
}

void validate(const TrackSet& tracks) {
  for (const auto& [frame, dets] : tracks.frames) {
    std::unordered_map<std::int64_t, std::size_t> ids;
    for (std::size_t k = 0; k < dets.size(); ++k) {
      const Detection& d = dets[k];
      const std::string where =
          d.line > 0 ? fmt::format("{}:{}", tracks.source, d.line) : fmt::format("{}: frame {}", tracks.source, frame);
      if (!ids.emplace(d.id, k).second) throw Error(fmt::format("{}: id {} appears twice in frame {}", where, d.id, frame));
      const Box& b = d.box;
      if (!std::isfinite(b.x) || !std::isfinite(b.y) || !std::isfinite(b.w) || !std::isfinite(b.h) ||
          !std::isfinite(d.conf)) {
        throw Error(fmt::format("{}: id {}: non-finite box or confidence", where, d.id));
      }
      if (b.w < 0 || b.h < 0) {
        throw Error(fmt::format("{}: id {}: negative box size {} x {}", where, d.id, b.w, b.h));
      }
    }
  }
}

TrackSet filter_confidence(const TrackSet& tracks, double min_conf) {
  TrackSet out;
  out.source = tracks.source;
  for (const auto& [frame, dets] : tracks.frames) {
    std::vector<Detection> kept;
    for (const auto& d : dets)
      if (d.conf >= min_conf) kept.push_back(d);
    if (!kept.empty()) out.frames.emplace(frame, std::move(kept));
  }
  return out;
}

namespace {
// Portable uniform double in [0, 1) from a 32-bit Mersenne twister (std distributions differ
// between standard libraries; this does not).
double unit(std::mt19937& g) { return static_cast<double>(g()) / 4294967296.0; }
}  // namespace

TrackSet make_synthetic_sequence(const SyntheticSpec& spec) {
  TrackSet out;
  out.source = fmt::format("synthetic({} frames x {} objects)", spec.num_frames, spec.num_objects);
  std::mt19937 g(spec.seed);
  struct Motion {
    double x0, amp, period, phase, w;
  };
  std::vector<Motion> m(static_cast<std::size_t>(std::max(0, spec.num_objects)));
  for (auto& o : m) {
    o.x0 = 100.0 + 600.0 * unit(g);
    o.amp = 20.0 + 80.0 * unit(g);
    o.period = 200.0 + 800.0 * unit(g);
    o.phase = 6.283185307179586 * unit(g);
    o.w = 40.0 + 30.0 * unit(g);
  }
  for (int f = 1; f <= spec.num_frames; ++f) {
    auto& dets = out.frames[f];
    dets.reserve(m.size());
    for (std::size_t k = 0; k < m.size(); ++k) {
      const Motion& o = m[k];
      Box b;
      b.x = o.x0 + o.amp * std::sin(6.283185307179586 * f / o.period + o.phase);
      b.y = 10.0 + 40.0 * static_cast<double>(k);  // one lane per object: boxes never overlap
      b.w = o.w;
      b.h = 30.0;
      dets.push_back(Detection{static_cast<std::int64_t>(k + 1), b, 1.0, 0});
    }
  }
  return out;
}

TrackSet perturb(const TrackSet& gt, const PerturbSpec& spec) {
  TrackSet out;
  out.source = "perturbed " + gt.source;
  std::mt19937 g(spec.seed);
  double max_y = 0;
  for (const auto& [f, dets] : gt.frames)
    for (const auto& d : dets) max_y = std::max(max_y, d.box.y + d.box.h);
  std::int64_t next_fp_id = 1000000;
  for (const auto& [f, dets] : gt.frames) {
    auto& o = out.frames[f];
    const std::int64_t epoch = spec.id_switch_every > 0 ? f / spec.id_switch_every : 0;
    for (const auto& d : dets) {
      if (unit(g) < spec.drop) continue;
      Detection p = d;
      p.line = 0;
      p.box.x += spec.jitter * (2.0 * unit(g) - 1.0);
      p.box.y += spec.jitter * (2.0 * unit(g) - 1.0);
      if (epoch > 0 && d.id % 5 == 0) p.id = d.id + 10000 * epoch;  // a fresh id each epoch
      o.push_back(p);
    }
    for (int k = 0; k < spec.false_positives; ++k) {
      Box b{600.0 * unit(g), max_y + 50.0 + 200.0 * unit(g), 40.0, 30.0};  // below every object
      o.push_back(Detection{next_fp_id++, b, 0.5, 0});
    }
  }
  return out;
}

}  // namespace eh::eval
