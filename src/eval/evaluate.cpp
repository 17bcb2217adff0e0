#include "eval/evaluate.h"

#include <fmt/format.h>

#include <cmath>

namespace eh::eval {

MotReport evaluate_mot(const TrackSet& gt, const TrackSet& pred, const MotOptions& opt) {
  MotReport r;
  r.gt_source = gt.source;
  r.pred_source = pred.source;
  r.iou_threshold = opt.iou_threshold;
  ClearAndIdentity ci = compute_clear_and_identity(gt, pred, opt);
  r.clear = ci.clear;
  r.identity = ci.identity;
  r.hota = compute_hota(gt, pred);
  return r;
}

MotReport evaluate_agreement(const TrackSet& teacher, const TrackSet& student, const MotOptions& opt) {
  return evaluate_mot(teacher, student, opt);
}

nlohmann::json json_number(double v) {
  if (std::isfinite(v)) return v;
  return nullptr;
}

namespace {

nlohmann::json per_alpha(const HotaResult::PerAlpha& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(json_number(x));
  return a;
}

std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", 100.0 * v) : std::string("n/a"); }
std::string num(double v, int digits = 3) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : std::string("n/a");
}

}  // namespace

nlohmann::json to_json(const MotReport& r) {
  const ClearMotResult& c = r.clear;
  const IdentityResult& id = r.identity;
  const HotaResult& h = r.hota;
  nlohmann::json j;
  j["gt"] = r.gt_source;
  j["pred"] = r.pred_source;
  j["iou_threshold"] = r.iou_threshold;
  j["clear"] = {
      {"num_frames", c.num_frames},
      {"num_objects", c.num_objects},
      {"num_predictions", c.num_predictions},
      {"num_unique_objects", c.num_unique_objects},
      {"num_unique_predictions", c.num_unique_predictions},
      {"num_matches", c.num_matches},
      {"num_switches", c.num_switches},
      {"num_detections", c.num_detections},
      {"num_false_positives", c.num_false_positives},
      {"num_misses", c.num_misses},
      {"num_fragmentations", c.num_fragmentations},
      {"num_transfer", c.num_transfer},
      {"num_ascend", c.num_ascend},
      {"num_migrate", c.num_migrate},
      {"mostly_tracked", c.mostly_tracked},
      {"partially_tracked", c.partially_tracked},
      {"mostly_lost", c.mostly_lost},
      {"mota", json_number(c.mota)},
      {"motp", json_number(c.motp)},
      {"motp_iou", json_number(c.motp_iou)},
      {"recall", json_number(c.recall)},
      {"precision", json_number(c.precision)},
  };
  j["identity"] = {
      {"idtp", json_number(id.idtp)}, {"idfp", json_number(id.idfp)}, {"idfn", json_number(id.idfn)},
      {"idp", json_number(id.idp)},   {"idr", json_number(id.idr)},   {"idf1", json_number(id.idf1)},
  };
  j["hota"] = {
      {"HOTA", json_number(h.HOTA)},   {"DetA", json_number(h.DetA)},   {"AssA", json_number(h.AssA)},
      {"DetRe", json_number(h.DetRe)}, {"DetPr", json_number(h.DetPr)}, {"AssRe", json_number(h.AssRe)},
      {"AssPr", json_number(h.AssPr)}, {"LocA", json_number(h.LocA)},   {"OWTA", json_number(h.OWTA)},
      {"HOTA(0)", json_number(h.HOTA0)}, {"LocA(0)", json_number(h.LocA0)},
      {"HOTALocA(0)", json_number(h.HOTALocA0)},
  };
  j["hota"]["per_alpha"] = {
      {"alpha", per_alpha(h.alpha)}, {"HOTA", per_alpha(h.hota)},   {"DetA", per_alpha(h.deta)},
      {"AssA", per_alpha(h.assa)},   {"DetRe", per_alpha(h.deta_re)}, {"DetPr", per_alpha(h.deta_pr)},
      {"AssRe", per_alpha(h.assa_re)}, {"AssPr", per_alpha(h.assa_pr)}, {"LocA", per_alpha(h.loca)},
      {"OWTA", per_alpha(h.owta)},   {"TP", per_alpha(h.tp)},      {"FN", per_alpha(h.fn)},
      {"FP", per_alpha(h.fp)},
  };
  return j;
}

std::string format_table(const MotReport& r) {
  const ClearMotResult& c = r.clear;
  const IdentityResult& id = r.identity;
  const HotaResult& h = r.hota;
  std::string out;
  out += fmt::format("ground truth: {}\nprediction:   {}\nIoU threshold: {}\n\n", r.gt_source, r.pred_source,
                     r.iou_threshold);
  out += fmt::format("{:<10} {:>9} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9}\n", "CLEAR", "MOTA", "MOTP(IoU)",
                     "MOTP(1-IoU)", "Recall", "Precision", "MT/PT/ML", "Frames");
  out += fmt::format("{:<10} {:>9} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9}\n", "", pct(c.mota), num(c.motp_iou),
                     num(c.motp), pct(c.recall), pct(c.precision),
                     fmt::format("{}/{}/{}", c.mostly_tracked, c.partially_tracked, c.mostly_lost), c.num_frames);
  out += fmt::format("{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "counts", "GT", "Pred", "FP", "FN",
                     "IDsw", "Frag", "GT ids");
  out += fmt::format("{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n\n", "", c.num_objects, c.num_predictions,
                     c.num_false_positives, c.num_misses, c.num_switches, c.num_fragmentations,
                     c.num_unique_objects);
  out += fmt::format("{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "ID", "IDF1", "IDP", "IDR", "IDTP", "IDFP",
                     "IDFN");
  out += fmt::format("{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n\n", "", pct(id.idf1), pct(id.idp), pct(id.idr),
                     num(id.idtp, 0), num(id.idfp, 0), num(id.idfn, 0));
  out += fmt::format("{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "HOTA", "HOTA", "DetA", "AssA", "LocA",
                     "DetRe", "DetPr", "AssRe");
  out += fmt::format("{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "", pct(h.HOTA), pct(h.DetA),
                     pct(h.AssA), pct(h.LocA), pct(h.DetRe), pct(h.DetPr), pct(h.AssRe));
  return out;
}

}  // namespace eh::eval
