#include "video/gt_run.h"

#include <fmt/core.h>

#include <fstream>
#include <optional>

#include "core/error.h"
#include "data/mot_io.h"
#include "track/instances_io.h"
#include "video/appearance.h"

namespace eh::video {

namespace {

// The ground-truth segmenter plus recording of what it returned (ids included), for one
// session on one thread.
class RecordingSegmenter : public Segmenter {
 public:
  RecordingSegmenter(std::shared_ptr<const Segmenter> inner, const GroundTruthSegmenter& gt, eh::eval::TrackSet* truth,
                     std::ofstream* gt_mot, eh::track::InstanceWriter* rec)
      : inner_(std::move(inner)), gt_(gt), truth_(truth), gt_mot_(gt_mot), rec_(rec) {}

  eh::track::Detections segment(const cv::Mat& image) const override { return inner_->segment(image); }
  eh::track::Detections segment(const Frame& frame) const override {
    eh::track::Detections d = inner_->segment(frame);
    const std::vector<int> ids = gt_.ids_of(frame);
    for (std::size_t j = 0; j < d.size(); ++j) {
      const auto& b = d.boxes[j];
      if (truth_) truth_->add(frame.index + 1, ids[j], eh::eval::Box{b.x, b.y, b.width, b.height});
      if (gt_mot_) {
        eh::data::MotRecord r;
        r.frame = static_cast<int>(frame.index + 1);
        r.id = ids[j];
        r.x = b.x;
        r.y = b.y;
        r.w = b.width;
        r.h = b.height;
        r.conf = 1;
        r.cls = 1;
        r.visibility = 1;
        *gt_mot_ << eh::data::format_mot_line(r, eh::data::MotLayout::GroundTruth) << '\n';
      }
    }
    if (rec_) {
      eh::track::InstanceFrame f;
      f.frame = frame.index + 1;
      f.t = frame.t;
      if (!d.rles.empty()) f.size = cv::Size(d.rles[0].width, d.rles[0].height);
      f.dets = d;
      f.ids = ids;
      rec_->write(f);
    }
    return d;
  }
  std::string name() const override { return inner_->name(); }

 private:
  std::shared_ptr<const Segmenter> inner_;
  const GroundTruthSegmenter& gt_;
  eh::eval::TrackSet* truth_;
  std::ofstream* gt_mot_;
  eh::track::InstanceWriter* rec_;
};

}  // namespace

GtRunResult run_ground_truth_tracking(const GtRunOptions& opt) {
  if (!(opt.source == "sim" || opt.source.rfind("sim:", 0) == 0))
    throw eh::UsageError(fmt::format("ground-truth instances need a simulator source (sim or sim:...), got '{}'",
                                     opt.source));
  SimSourceOptions sim = parse_sim_spec(opt.source);
  if (opt.colour_embeddings) sim.sim.render = true;  // the embedding reads the pixels
  auto gt = std::make_shared<GroundTruthSegmenter>(opt.gt);
  std::shared_ptr<const Segmenter> inner = gt;
  if (opt.colour_embeddings) inner = std::make_shared<ColourHistogramEmbedder>(gt);
  eh::eval::TrackSet truth, pred;
  truth.source = opt.source + " (ground truth)";
  pred.source = opt.source + " (tracks)";

  std::optional<std::ofstream> gt_mot;
  if (!opt.gt_out.empty()) {
    gt_mot.emplace(opt.gt_out);
    if (!*gt_mot) throw eh::Error(fmt::format("{}: cannot open for writing", opt.gt_out));
  }
  std::optional<eh::track::InstanceWriter> rec, inst;
  if (!opt.record_out.empty()) rec.emplace(opt.record_out);
  if (!opt.instances_out.empty()) inst.emplace(opt.instances_out);
  std::optional<MotTrackWriter> mot;
  if (!opt.tracks_out.empty()) mot.emplace(opt.tracks_out);

  auto model = std::make_shared<RecordingSegmenter>(inner, *gt, opt.evaluate ? &truth : nullptr,
                                                    gt_mot ? &*gt_mot : nullptr, rec ? &*rec : nullptr);
  Sink sink = [&](const FrameOutput& f) {
    if (mot) mot->write(f);
    if (opt.evaluate)
      for (const auto& o : f.objects)
        pred.add(f.frame + 1, o.id, eh::eval::Box{o.box.x, o.box.y, o.box.width, o.box.height}, o.score);
    if (inst) {
      eh::track::InstanceFrame x;
      x.frame = f.frame + 1;
      x.t = f.t;
      bool masks = !f.objects.empty(), embs = !f.objects.empty();
      for (const auto& o : f.objects) {
        masks = masks && o.mask.height > 0;
        embs = embs && !o.embedding.empty();
      }
      for (const auto& o : f.objects) {
        x.dets.add(o.box, o.score);
        if (masks) x.dets.rles.push_back(o.mask);
        if (embs) x.dets.embeddings.push_back(o.embedding);
        x.ids.push_back(o.id);
      }
      if (masks) x.size = cv::Size(f.objects[0].mask.width, f.objects[0].mask.height);
      inst->write(x);
    }
  };
  Session session(model, opt.session, sink);
  ThreadedReader reader(open_simulator(sim), opt.reader);
  RunOptions ro;
  ro.max_frames = opt.max_frames;
  ro.memory_checkpoints = opt.memory_checkpoints;
  ro.on_memory = opt.on_memory;
  ro.on_event = opt.on_event;
  ro.on_track_event = opt.on_track_event;

  GtRunResult res;
  res.run = run_stream(reader, session, ro);
  res.fps = sim.sim.fps;
  res.duration_s = static_cast<double>(res.run.frames) / sim.sim.fps;
  res.tracker = session.tracker().stats();
  res.session = session.stats();
  res.memory = reader.memory();
  for (auto& c : session.memory()) res.memory.push_back(c);
  if (mot) mot->close();
  if (rec) rec->close();
  if (inst) inst->close();
  if (gt_mot) gt_mot->close();
  if (opt.evaluate) {
    res.report = eh::eval::evaluate_mot(truth, pred);
    res.switches_per_10min =
        res.duration_s > 0 ? static_cast<double>(res.report.clear.num_switches) * 600.0 / res.duration_s : 0.0;
  }
  return res;
}

}  // namespace eh::video
