// `edgeherd eval`: tracking metrics (CLEAR-MOT, IDF1, HOTA) of predicted tracks against ground
// truth or a teacher, or behaviour classification metrics with --behaviour. See docs/eval.md.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/command.h"
#include "core/error.h"
#include "eval/classification.h"
#include "eval/evaluate.h"
#include "eval/mot.h"

#if __has_include("data/edinburgh.h")
#include "data/edinburgh.h"
#define EH_EVAL_HAVE_EDINBURGH 1
#endif

namespace {

struct EvalArgs {
  std::string gt, pred, format = "mot", json_out, classes;
  double iou = 0.5;
  double gt_min_conf = -std::numeric_limits<double>::infinity();
  bool behaviour = false;
};

std::vector<std::string> split_classes(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) throw eh::UsageError("--classes: empty class name in '" + s + "'");
    out.push_back(item);
  }
  if (out.empty()) throw eh::UsageError("--classes: no class names given");
  return out;
}

#ifdef EH_EVAL_HAVE_EDINBURGH
// Edinburgh Pig output.json, expanded to one entry per annotated frame (frame id = annotated
// frame index k, raw video frame 3k). Object ids are strings; both files share one id map so
// that (frame, id) keys line up: numeric ids keep their value, otherwise ids are numbered in
// sorted order.
struct EdinburghPair {
  std::vector<std::vector<eh::data::EdinburghLabel>> gt, pred;
  std::map<std::string, std::int64_t> ids;
};

EdinburghPair load_edinburgh_pair(const std::string& gt_path, const std::string& pred_path) {
  EdinburghPair p;
  p.gt = eh::data::expand_edinburgh(eh::data::read_edinburgh_json(gt_path));
  p.pred = eh::data::expand_edinburgh(eh::data::read_edinburgh_json(pred_path));
  std::set<std::string> names;
  for (const auto* seq : {&p.gt, &p.pred})
    for (const auto& frame : *seq)
      for (const auto& l : frame) names.insert(l.id);
  bool numeric = true;
  for (const auto& n : names) {
    std::int64_t v = 0;
    const auto r = std::from_chars(n.data(), n.data() + n.size(), v);
    if (n.empty() || r.ec != std::errc() || r.ptr != n.data() + n.size()) numeric = false;
  }
  std::int64_t next = 0;
  for (const auto& n : names) p.ids[n] = numeric ? std::stoll(n) : next++;
  return p;
}

eh::eval::TrackSet edinburgh_tracks(const std::vector<std::vector<eh::data::EdinburghLabel>>& frames,
                                    const std::map<std::string, std::int64_t>& ids, const std::string& source) {
  eh::eval::TrackSet t;
  t.source = source;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    if (frames[k].empty()) continue;
    for (const auto& l : frames[k]) {
      t.add(static_cast<std::int64_t>(k), ids.at(l.id), {l.bbox.x, l.bbox.y, l.bbox.width, l.bbox.height});
    }
  }
  eh::eval::validate(t);
  return t;
}

eh::eval::LabelSet edinburgh_labels(const std::vector<std::vector<eh::data::EdinburghLabel>>& frames,
                                    const std::map<std::string, std::int64_t>& ids, const std::string& source) {
  eh::eval::LabelSet s;
  s.source = source;
  for (std::size_t k = 0; k < frames.size(); ++k)
    for (const auto& l : frames[k])
      s.labels[{static_cast<std::int64_t>(k), ids.at(l.id)}] = static_cast<int>(l.behaviour);
  return s;
}
#endif

std::pair<eh::eval::TrackSet, eh::eval::TrackSet> load_tracks(const EvalArgs& a) {
  if (a.format == "mot") return {eh::eval::load_mot(a.gt), eh::eval::load_mot(a.pred)};
#ifdef EH_EVAL_HAVE_EDINBURGH
  const EdinburghPair p = load_edinburgh_pair(a.gt, a.pred);
  return {edinburgh_tracks(p.gt, p.ids, a.gt), edinburgh_tracks(p.pred, p.ids, a.pred)};
#else
  throw eh::UsageError("edinburgh format needs the data module");
#endif
}

std::pair<eh::eval::LabelSet, eh::eval::LabelSet> load_label_pair(const EvalArgs& a,
                                                                  const std::vector<std::string>& classes) {
  if (a.format == "mot") return {eh::eval::load_labels(a.gt, classes), eh::eval::load_labels(a.pred, classes)};
#ifdef EH_EVAL_HAVE_EDINBURGH
  const EdinburghPair p = load_edinburgh_pair(a.gt, a.pred);
  return {edinburgh_labels(p.gt, p.ids, a.gt), edinburgh_labels(p.pred, p.ids, a.pred)};
#else
  throw eh::UsageError("edinburgh format needs the data module");
#endif
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  if (!out) throw eh::Error(fmt::format("{}: cannot open for writing", path));
  out << j.dump(2) << '\n';
  if (!out) throw eh::Error(fmt::format("{}: write failed", path));
  spdlog::info("wrote {}", path);
}

int run_eval(const EvalArgs& a) {
  if (a.behaviour) {
    if (a.format == "edinburgh" && !a.classes.empty()) {
      throw eh::UsageError("--classes cannot be used with --format edinburgh (its 9 classes are fixed)");
    }
    const auto classes = a.classes.empty() ? eh::eval::edinburgh_pig_classes() : split_classes(a.classes);
    const auto [gt, pred] = load_label_pair(a, classes);
    const auto res = eh::eval::evaluate_classification(gt, pred, classes);
    fmt::print("{}", eh::eval::format_table(res));
    if (!a.json_out.empty()) {
      nlohmann::json j = eh::eval::to_json(res);
      j["gt"] = a.gt;
      j["pred"] = a.pred;
      write_json(a.json_out, j);
    }
    return 0;
  }
  if (!a.classes.empty()) throw eh::UsageError("--classes needs --behaviour");
  if (!(a.iou >= 0.0 && a.iou <= 1.0)) throw eh::UsageError(fmt::format("--iou must be in [0, 1], got {}", a.iou));
  auto [gt, pred] = load_tracks(a);
  if (a.gt_min_conf > -std::numeric_limits<double>::infinity()) gt = eh::eval::filter_confidence(gt, a.gt_min_conf);
  eh::eval::MotOptions opt;
  opt.iou_threshold = a.iou;
  const auto report = eh::eval::evaluate_mot(gt, pred, opt);
  fmt::print("{}", eh::eval::format_table(report));
  if (!a.json_out.empty()) write_json(a.json_out, eh::eval::to_json(report));
  return 0;
}

const eh::cli::Registrar kRegistrar{eh::cli::Command{
    "eval",
    "Score tracks (MOTA, IDF1, HOTA, ...) or behaviour labels against ground truth or a teacher",
    [](CLI::App& sub) -> eh::cli::Action {
      auto a = std::make_shared<EvalArgs>();
      sub.add_option("--gt", a->gt, "Ground truth (or teacher) file: MOTChallenge text, or labels CSV with --behaviour")
          ->required();
      sub.add_option("--pred", a->pred, "Predicted tracks (MOTChallenge text) or labels CSV with --behaviour")
          ->required();
      sub.add_option("--format", a->format,
                     "Input format: mot (MOTChallenge text / labels CSV) | edinburgh (Edinburgh Pig output.json)")
          ->check(CLI::IsMember({"mot", "edinburgh"}))
          ->capture_default_str();
      sub.add_option("--iou", a->iou, "Minimum IoU for a match in CLEAR-MOT / IDF1")->capture_default_str();
      sub.add_option("--gt-min-conf", a->gt_min_conf,
                     "Drop ground-truth rows whose confidence column is below this (MOTChallenge GT: 1)");
      sub.add_option("--json", a->json_out, "Also write all metrics as JSON to this file");
      sub.add_flag("--behaviour", a->behaviour, "Score behaviour labels (CSV frame,id,label) instead of tracks");
      sub.add_option("--classes", a->classes,
                     "Comma-separated class names for --behaviour (default: the 9 Edinburgh Pig classes)");
      return [a] { return run_eval(*a); };
    }}};

}  // namespace
