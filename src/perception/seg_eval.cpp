#include "perception/seg_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "core/error.h"
#include "perception/mem_meter.h"
#include "perception/segmenter.h"
#include "video/source.h"

namespace eh::perception {

namespace {

// Runs the model, records timing, ground truth (boxes with simulator ids) and detection scores.
class ScoringSegmenter : public video::Segmenter {
 public:
  ScoringSegmenter(std::shared_ptr<const video::Segmenter> inner, double match_iou, eval::TrackSet* truth,
                   DetectionScore* score, std::vector<double>* ms)
      : inner_(std::move(inner)), iou_(match_iou), truth_(truth), score_(score), ms_(ms) {}
  track::Detections segment(const cv::Mat& image) const override { return inner_->segment(image); }
  track::Detections segment(const video::Frame& frame) const override {
    const auto t0 = std::chrono::steady_clock::now();
    auto d = inner_->segment(frame.image);
    ms_->push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    auto g = gt_.segment(frame);
    const auto ids = gt_.ids_of(frame);
    for (size_t j = 0; j < g.size(); ++j) {
      const auto& b = g.boxes[j];
      truth_->add(frame.index + 1, ids[j], eval::Box{b.x, b.y, b.width, b.height});
    }
    auto s = score_detections(d.rles, g.rles, iou_);
    score_->gt += s.gt;
    score_->predictions += s.predictions;
    score_->matched += s.matched;
    score_->mask_iou_sum += s.mask_iou_sum;
    return d;
  }
  std::string name() const override { return inner_->name(); }

 private:
  std::shared_ptr<const video::Segmenter> inner_;
  video::GroundTruthSegmenter gt_;
  double iou_;
  eval::TrackSet* truth_;
  DetectionScore* score_;
  std::vector<double>* ms_;
};

}  // namespace

DetectionScore score_detections(const std::vector<data::Rle>& pred, const std::vector<data::Rle>& gt, double min_iou) {
  DetectionScore s;
  s.gt = static_cast<int64_t>(gt.size());
  s.predictions = static_cast<int64_t>(pred.size());
  struct Pair {
    double iou;
    size_t p, g;
  };
  std::vector<Pair> pairs;
  std::vector<int64_t> pa(pred.size()), ga(gt.size());
  for (size_t i = 0; i < pred.size(); ++i) pa[i] = pred[i].area();
  for (size_t j = 0; j < gt.size(); ++j) ga[j] = gt[j].area();
  for (size_t i = 0; i < pred.size(); ++i)
    for (size_t j = 0; j < gt.size(); ++j) {
      if (pred[i].bbox().width == 0 || !(pred[i].bbox() & gt[j].bbox()).area()) continue;
      const double in = static_cast<double>(data::rle_intersection_area(pred[i], gt[j]));
      const double u = static_cast<double>(pa[i] + ga[j]) - in;
      const double iou = u > 0 ? in / u : 0;
      if (iou >= min_iou) pairs.push_back({iou, i, j});
    }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
  std::vector<bool> pu(pred.size()), gu(gt.size());
  for (const auto& p : pairs) {
    if (pu[p.p] || gu[p.g]) continue;
    pu[p.p] = gu[p.g] = true;
    ++s.matched;
    s.mask_iou_sum += p.iou;
  }
  return s;
}

SegEvalResult evaluate_segmenter(const SegEvalOptions& opt) {
  if (opt.variants.empty()) throw UsageError("eval-segmenter: no variant given (teacher, student)");
  if (opt.sims.empty()) throw UsageError("eval-segmenter: no simulated pen given");
  std::vector<video::SimSourceOptions> sims;
  for (const auto& s : opt.sims) {
    if (!(s == "sim" || s.rfind("sim:", 0) == 0))
      throw UsageError(fmt::format("eval-segmenter: '{}' is not a simulator spec (sim:seed=S,frames=N)", s));
    auto so = video::parse_sim_spec(s);
    if (so.sim.seed < 9001 || so.sim.seed > 9999)
      throw UsageError(fmt::format("eval-segmenter: seed {} in '{}' is not a held-out pen (use 9001..9999)", so.sim.seed, s));
    so.sim.render = true;
    so.sim.masks = true;
    sims.push_back(so);
  }
  std::vector<std::shared_ptr<const video::Segmenter>> models;
  for (const auto& v : opt.variants) models.push_back(load_segmenter(opt.model_dir, v));

  SegEvalResult res;
  for (size_t si = 0; si < sims.size(); ++si) {
    size_t first = res.runs.size();
    for (size_t vi = 0; vi < models.size(); ++vi) {
      SegEvalRun r;
      r.variant = opt.variants[vi];
      r.sim = opt.sims[si];
      r.params = segmenter_parameters(*models[vi]);
      r.weight_bytes = models[vi]->bytes();
      {  // Peak memory of one frame, after a warm-up frame (first-call allocations excluded).
        auto src = video::open_simulator(sims[si]);
        auto rr = src->read();
        if (rr.status == video::ReadStatus::Ok && !rr.frame.image.empty()) {
          models[vi]->segment(rr.frame.image);
          PeakMemoryMeter meter;
          for (int k = 0; k < 2; ++k) models[vi]->segment(rr.frame.image);
          r.activation_peak_bytes = meter.peak_bytes();
        }
      }
      eval::TrackSet truth;
      truth.source = r.sim + " (ground truth)";
      r.tracks.source = r.sim + " (" + r.variant + " tracks)";
      std::vector<double> ms;
      auto scorer = std::make_shared<ScoringSegmenter>(models[vi], opt.match_iou, &truth, &r.detections, &ms);
      video::Session session(scorer, opt.session, [&](const video::FrameOutput& f) {
        for (const auto& o : f.objects) r.tracks.add(f.frame + 1, o.id, eval::Box{o.box.x, o.box.y, o.box.width, o.box.height}, o.score);
      });
      video::ThreadedReader reader(video::open_simulator(sims[si]));
      video::RunOptions ro;
      const int64_t total = sims[si].frames;
      ro.on_progress = [&](int64_t done) {
        if (opt.progress) opt.progress(r.variant, r.sim, done, total);
        return true;
      };
      auto sum = video::run_stream(reader, session, ro);
      r.frames = sum.frames;
      r.mot = eval::evaluate_mot(truth, r.tracks);
      if (!ms.empty()) {
        double t = 0;
        for (double m : ms) t += m;
        r.ms_per_frame_mean = t / static_cast<double>(ms.size());
        std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
        r.ms_per_frame = ms[ms.size() / 2];
      }
      res.runs.push_back(std::move(r));
    }
    if (models.size() >= 2)
      res.agreement.emplace_back(opt.sims[si], eval::evaluate_agreement(res.runs[first].tracks, res.runs[first + 1].tracks));
  }
  return res;
}

nlohmann::ordered_json SegEvalResult::to_json() const {
  nlohmann::ordered_json j;
  j["runs"] = nlohmann::ordered_json::array();
  for (const auto& r : runs) {
    nlohmann::ordered_json x;
    x["variant"] = r.variant;
    x["sim"] = r.sim;
    x["frames"] = r.frames;
    x["mota"] = eval::json_number(r.mot.clear.mota);
    x["idf1"] = eval::json_number(r.mot.identity.idf1);
    x["hota"] = eval::json_number(r.mot.hota.HOTA);
    x["id_switches"] = r.mot.clear.num_switches;
    x["det_precision"] = r.detections.precision();
    x["det_recall"] = r.detections.recall();
    x["mean_mask_iou"] = r.detections.mean_mask_iou();
    x["ms_per_frame_median"] = r.ms_per_frame;
    x["ms_per_frame_mean"] = r.ms_per_frame_mean;
    x["params"] = r.params;
    x["weight_bytes"] = r.weight_bytes;
    x["activation_peak_bytes"] = r.activation_peak_bytes;
    x["peak_memory_bytes"] = r.peak_bytes();
    x["mot"] = eval::to_json(r.mot);
    j["runs"].push_back(x);
  }
  j["agreement"] = nlohmann::ordered_json::array();
  for (const auto& [sim, a] : agreement) {
    nlohmann::ordered_json x;
    x["sim"] = sim;
    x["mota"] = eval::json_number(a.clear.mota);
    x["idf1"] = eval::json_number(a.identity.idf1);
    x["hota"] = eval::json_number(a.hota.HOTA);
    j["agreement"].push_back(x);
  }
  return j;
}

std::string SegEvalResult::table() const {
  std::string s = fmt::format("{:<28} {:<8} {:>6} {:>7} {:>7} {:>7} {:>5} {:>7} {:>7} {:>7} {:>8} {:>9} {:>8}\n", "pen", "variant",
                              "frames", "MOTA%", "IDF1%", "HOTA%", "IDsw", "detP%", "detR%", "mIoU", "ms/frame", "params", "peakMB");
  for (const auto& r : runs)
    s += fmt::format("{:<28} {:<8} {:>6} {:>7.2f} {:>7.2f} {:>7.2f} {:>5} {:>7.2f} {:>7.2f} {:>7.3f} {:>8.1f} {:>9} {:>8.2f}\n", r.sim,
                     r.variant, r.frames, 100 * r.mot.clear.mota, 100 * r.mot.identity.idf1, 100 * r.mot.hota.HOTA,
                     r.mot.clear.num_switches, 100 * r.detections.precision(), 100 * r.detections.recall(),
                     r.detections.mean_mask_iou(), r.ms_per_frame, r.params, r.peak_bytes() / 1048576.0);
  for (const auto& [sim, a] : agreement)
    s += fmt::format("{:<28} agreement (2nd variant vs 1st as ground truth): MOTA {:.2f}%  IDF1 {:.2f}%  HOTA {:.2f}%\n", sim,
                     100 * a.clear.mota, 100 * a.identity.idf1, 100 * a.hota.HOTA);
  return s;
}

}  // namespace eh::perception
