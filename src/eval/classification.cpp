#include "eval/classification.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <random>
#include <string_view>

#include "core/error.h"
#include "eval/evaluate.h"
#include "eval/numeric.h"

namespace eh::eval {

const std::vector<std::string>& edinburgh_pig_classes() {
  static const std::vector<std::string> names = {"unknown", "not_moving", "moving",   "running", "eating",
                                                 "drinking", "playing",   "standing", "lying"};
  return names;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const char* label_column(std::size_t col) {
  static const char* names[] = {"frame", "id", "label"};
  return col >= 1 && col <= 3 ? names[col - 1] : "extra";
}

[[noreturn]] void fail(const std::string& src, int line, std::size_t col, const std::string& what) {
  throw Error(fmt::format("{}:{}: column {} ({}): {}", src, line, col, label_column(col), what));
}

std::int64_t parse_int(std::string_view t, const std::string& src, int line, std::size_t col) {
  std::string_view s = t;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    fail(src, line, col, fmt::format("expected an integer, found '{}'", t));
  }
  return v;
}

}  // namespace

LabelSet read_labels(std::istream& in, const std::string& source, const std::vector<std::string>& class_names) {
  if (class_names.empty()) throw Error("labels: the class list is empty");
  LabelSet out;
  out.source = source;
  std::map<std::pair<std::int64_t, std::int64_t>, int> first_line;
  std::string raw;
  int line_no = 0;
  bool first_content = true;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> f;
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = line.find(',', start);
      f.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (first_content) {
      first_content = false;
      if (f.size() == 3 && lower(f[0]) == "frame" && lower(f[1]) == "id" && lower(f[2]) == "label") continue;
    }
    if (f.size() != 3) {
      throw Error(fmt::format("{}:{}: expected 3 columns (frame,id,label), found {}", source, line_no, f.size()));
    }
    const std::int64_t frame = parse_int(f[0], source, line_no, 1);
    const std::int64_t id = parse_int(f[1], source, line_no, 2);
    if (f[2].empty()) fail(source, line_no, 3, "empty label");
    int label = -1;
    std::int64_t idx = 0;
    const auto r = std::from_chars(f[2].data(), f[2].data() + f[2].size(), idx);
    if (r.ec == std::errc() && r.ptr == f[2].data() + f[2].size()) {
      if (idx < 0 || idx >= static_cast<std::int64_t>(class_names.size())) {
        fail(source, line_no, 3, fmt::format("class index {} out of range [0, {})", idx, class_names.size()));
      }
      label = static_cast<int>(idx);
    } else {
      const std::string want = lower(f[2]);
      for (std::size_t k = 0; k < class_names.size(); ++k) {
        if (lower(class_names[k]) == want) label = static_cast<int>(k);
      }
      if (label < 0) fail(source, line_no, 3, fmt::format("unknown class '{}'", f[2]));
    }
    const auto key = std::make_pair(frame, id);
    const auto [it, inserted] = first_line.emplace(key, line_no);
    if (!inserted) {
      fail(source, line_no, 2,
           fmt::format("id {} labelled twice in frame {} (first on line {})", id, frame, it->second));
    }
    out.labels.emplace(key, label);
  }
  if (in.bad()) throw Error(fmt::format("{}: read error", source));
  return out;
}

LabelSet load_labels(const std::string& path, const std::vector<std::string>& class_names) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot open file", path));
  return read_labels(in, path, class_names);
}

ClassificationResult evaluate_classification(const LabelSet& gt, const LabelSet& pred,
                                             const std::vector<std::string>& class_names) {
  const std::size_t k = class_names.size();
  if (k == 0) throw Error("classification: the class list is empty");
  ClassificationResult r;
  r.class_names = class_names;
  r.confusion.assign(k, std::vector<std::int64_t>(k, 0));
  r.missing.assign(k, 0);
  auto check = [&](int c, const std::string& src) {
    if (c < 0 || static_cast<std::size_t>(c) >= k) {
      throw Error(fmt::format("{}: class index {} out of range [0, {})", src, c, k));
    }
  };
  for (const auto& [key, g] : gt.labels) {
    check(g, gt.source);
    ++r.num_gt;
    const auto it = pred.labels.find(key);
    if (it == pred.labels.end()) {
      ++r.missing[static_cast<std::size_t>(g)];
      ++r.num_missing;
      continue;
    }
    check(it->second, pred.source);
    ++r.confusion[static_cast<std::size_t>(g)][static_cast<std::size_t>(it->second)];
    ++r.num_paired;
    if (g == it->second) ++r.num_correct;
  }
  for (const auto& [key, p] : pred.labels) {
    if (gt.labels.find(key) == gt.labels.end()) ++r.num_extra;
  }
  finish_from_counts(&r);
  return r;
}

void finish_from_counts(ClassificationResult* out) {
  ClassificationResult& r = *out;
  const std::size_t k = r.class_names.size();
  r.num_gt = r.num_paired = r.num_missing = r.num_correct = 0;
  for (std::size_t g = 0; g < k; ++g) {
    r.num_missing += r.missing[g];
    r.num_correct += r.confusion[g][g];
    for (std::size_t p = 0; p < k; ++p) r.num_paired += r.confusion[g][p];
  }
  r.num_gt = r.num_paired + r.num_missing;
  r.accuracy = quiet_divide(static_cast<double>(r.num_correct), static_cast<double>(r.num_gt));
  r.per_class.assign(k, ClassMetrics{});
  r.macro_classes = 0;
  double f1_sum = 0.0;
  for (std::size_t c = 0; c < k; ++c) {
    ClassMetrics& m = r.per_class[c];
    m.tp = r.confusion[c][c];
    m.support = r.missing[c];
    for (std::size_t p = 0; p < k; ++p) m.support += r.confusion[c][p];
    for (std::size_t g = 0; g < k; ++g) m.predicted += r.confusion[g][c];
    const double tp = static_cast<double>(m.tp);
    const double fp = static_cast<double>(m.predicted - m.tp);
    const double fn = static_cast<double>(m.support - m.tp);
    m.precision = m.predicted > 0 ? tp / (tp + fp) : 0.0;
    m.recall = m.support > 0 ? tp / (tp + fn) : 0.0;
    m.f1 = (2 * tp + fp + fn) > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
    if (m.support > 0 || m.predicted > 0) {
      ++r.macro_classes;
      f1_sum += m.f1;
    }
  }
  r.macro_f1 = r.macro_classes > 0 ? f1_sum / r.macro_classes : std::nan("");
}

ClassificationInterval bootstrap_interval(const std::vector<ClassificationResult>& units, int resamples, std::uint64_t seed,
                                          double level) {
  ClassificationInterval ci;
  ci.units = static_cast<int>(units.size());
  ci.resamples = resamples;
  ci.level = level;
  if (units.empty() || resamples < 1) throw Error("bootstrap_interval: needs at least one unit and one resample");
  const std::size_t k = units[0].class_names.size();
  for (const auto& u : units)
    if (u.class_names != units[0].class_names) throw Error("bootstrap_interval: the units have different class lists");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, units.size() - 1);
  std::vector<double> acc, f1;
  ClassificationResult sum;
  sum.class_names = units[0].class_names;
  for (int b = 0; b < resamples; ++b) {
    sum.confusion.assign(k, std::vector<std::int64_t>(k, 0));
    sum.missing.assign(k, 0);
    for (std::size_t i = 0; i < units.size(); ++i) {
      const auto& u = units[pick(rng)];
      for (std::size_t g = 0; g < k; ++g) {
        sum.missing[g] += u.missing[g];
        for (std::size_t p = 0; p < k; ++p) sum.confusion[g][p] += u.confusion[g][p];
      }
    }
    finish_from_counts(&sum);
    acc.push_back(sum.accuracy);
    f1.push_back(sum.macro_f1);
  }
  const double tail = (1 - level) / 2;
  ci.accuracy_lo = percentile(acc, tail);
  ci.accuracy_hi = percentile(acc, 1 - tail);
  ci.macro_f1_lo = percentile(f1, tail);
  ci.macro_f1_hi = percentile(f1, 1 - tail);
  return ci;
}

nlohmann::json to_json(const ClassificationResult& r) {
  nlohmann::json j;
  j["classes"] = r.class_names;
  j["num_gt"] = r.num_gt;
  j["num_paired"] = r.num_paired;
  j["num_missing"] = r.num_missing;
  j["num_extra"] = r.num_extra;
  j["num_correct"] = r.num_correct;
  j["accuracy"] = json_number(r.accuracy);
  j["macro_f1"] = json_number(r.macro_f1);
  j["macro_classes"] = r.macro_classes;
  j["confusion"] = r.confusion;
  j["missing_per_class"] = r.missing;
  nlohmann::json pc = nlohmann::json::object();
  for (std::size_t c = 0; c < r.per_class.size(); ++c) {
    const ClassMetrics& m = r.per_class[c];
    pc[r.class_names[c]] = {{"support", m.support}, {"predicted", m.predicted}, {"tp", m.tp},
                            {"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1}};
  }
  j["per_class"] = pc;
  return j;
}

std::string format_table(const ClassificationResult& r) {
  std::size_t w = 8;
  for (const auto& n : r.class_names) w = std::max(w, n.size());
  std::string out = fmt::format("{:<{}} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "class", w, "support", "predicted",
                                "precision", "recall", "F1");
  for (std::size_t c = 0; c < r.per_class.size(); ++c) {
    const ClassMetrics& m = r.per_class[c];
    out += fmt::format("{:<{}} {:>9} {:>9} {:>9.4f} {:>9.4f} {:>9.4f}\n", r.class_names[c], w, m.support, m.predicted,
                       m.precision, m.recall, m.f1);
  }
  out += fmt::format("\naccuracy {:.4f} ({} / {} labels; {} without prediction, {} extra predictions ignored)\n",
                     r.accuracy, r.num_correct, r.num_gt, r.num_missing, r.num_extra);
  out += fmt::format("macro-F1 {:.4f} (mean over {} classes present in ground truth or prediction)\n\n", r.macro_f1,
                     r.macro_classes);
  const std::size_t rw = w + 3;  // "<index> <name>"
  out += fmt::format("confusion (rows: ground truth, columns: prediction, last: no prediction)\n{:<{}}", "", rw);
  for (std::size_t c = 0; c < r.class_names.size(); ++c) out += fmt::format(" {:>6}", c);
  out += fmt::format(" {:>6}\n", "none");
  for (std::size_t g = 0; g < r.confusion.size(); ++g) {
    out += fmt::format("{:<{}}", fmt::format("{} {}", g, r.class_names[g]), rw);
    for (auto v : r.confusion[g]) out += fmt::format(" {:>6}", v);
    out += fmt::format(" {:>6}\n", r.missing[g]);
  }
  return out;
}

}  // namespace eh::eval
