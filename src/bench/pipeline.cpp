// `pipeline` suite: ms per frame of every stage of the edge pipeline on a simulated 1280x720 pen
// with 8 pigs, for the teacher configuration (SAM 3 trunk + necks) and the student one (student
// encoder + the same necks), random weights at full size. Stages whose model is not in this
// tree yet are listed as not measured rather than left out.
#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "bench/bench.h"
#include "bench/pipeline_models.h"
#include "bench/suites.h"
#include "models/dinov3_vit.h"
#include "models/sam3/neck.h"
#include "models/student_encoder.h"
#include "store/recorder.h"
#include "store/store.h"
#include "video/segmenter.h"
#include "video/session.h"
#include "video/source.h"

namespace eh::bench {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

Timing timing_of(std::vector<double> ms) {
  Timing t;
  t.ms = ms;
  if (ms.empty()) return t;
  t.median = median_of(ms);
  t.min = *std::min_element(ms.begin(), ms.end());
  t.max = *std::max_element(ms.begin(), ms.end());
  return t;
}

}  // namespace

at::Tensor frame_to_input(const cv::Mat& bgr, int64_t size) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  auto t = torch::from_blob(rgb.data, {1, rgb.rows, rgb.cols, 3}, torch::kUInt8).permute({0, 3, 1, 2}).to(torch::kFloat).div_(255.0);
  t = torch::nn::functional::interpolate(
      t, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kBilinear).align_corners(false));
  return t.sub_(0.5).div_(0.5);  // SAM 3: mean = std = 0.5
}

at::Tensor crops_to_input(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes, int64_t size) {
  std::vector<at::Tensor> out;
  const cv::Rect img(0, 0, bgr.cols, bgr.rows);
  for (const auto& b : boxes) {
    cv::Rect r = cv::Rect(cv::Rect2f(b)) & img;
    cv::Mat crop = cv::Mat::zeros(static_cast<int>(size), static_cast<int>(size), CV_8UC3);
    if (r.area() > 0) cv::resize(bgr(r), crop, cv::Size(static_cast<int>(size), static_cast<int>(size)), 0, 0, cv::INTER_LINEAR);
    cv::cvtColor(crop, crop, cv::COLOR_BGR2RGB);
    out.push_back(torch::from_blob(crop.data, {size, size, 3}, torch::kUInt8).permute({2, 0, 1}).to(torch::kFloat).div_(255.0));
  }
  if (out.empty()) return torch::zeros({0, 3, size, size});
  return models::imagenet_normalize(torch::stack(out));
}

void pipeline_suite(Context& ctx, const PipelineSuiteParams& p) {
  namespace fs = std::filesystem;
  torch::NoGradGuard no_grad;
  const int n = p.frames > 0 ? p.frames : std::max(ctx.reps, 1);
  const PipelineModels M = p.full_size ? PipelineModels::full_size() : PipelineModels::tiny();
  const std::string pen = fmt::format("{}x{}, {} pigs", p.width, p.height, p.pigs);
  struct Stage {
    std::string name, applies;  // applies: "both" | "teacher" | "student"
    double ms = 0, spread = 0;
    std::string note;
    bool measured = true;
  };
  std::vector<Stage> stages;
  auto add_stage = [&](const std::string& name, const std::string& applies, const Timing& t, const std::string& note) {
    stages.push_back({name, applies, t.median, t.max - t.min, note, true});
  };

  // ---- source: simulate + render, then the same frames encoded (MJPG) and decoded
  const std::string spec = fmt::format("sim:seed=5,pigs={},width={},height={},render=1,frames={}", p.pigs, p.width, p.height, n + 1);
  auto sim = video::open_simulator(video::parse_sim_spec(spec));
  std::vector<video::Frame> frames;
  std::vector<double> sim_ms;
  for (int i = 0; i < n + 1; ++i) {
    auto t0 = Clock::now();
    auto r = sim->read();
    const double ms = ms_since(t0);
    if (r.status != video::ReadStatus::Ok) break;
    if (i > 0) sim_ms.push_back(ms);  // the first frame sets the pen up
    frames.push_back(std::move(r.frame));
  }
  if (frames.empty()) throw Error("pipeline bench: the simulator gave no frame");
  add_stage("simulate + render (stands in for the camera)", "none", timing_of(sim_ms), "not counted in the totals");

  const fs::path avi = fs::temp_directory_path() / fmt::format("edgeherd-bench-{}.avi", ::getpid());
  {
    cv::VideoWriter w(avi.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 6.0, frames[0].image.size());
    if (!w.isOpened()) throw Error(avi.string() + ": OpenCV cannot write an MJPG AVI");
    for (const auto& f : frames) w.write(f.image);
  }
  {
    auto src = video::open_video_file(avi.string());
    std::vector<double> dec;
    for (;;) {
      auto t0 = Clock::now();
      auto r = src->read();
      const double ms = ms_since(t0);
      if (r.status != video::ReadStatus::Ok) break;
      dec.push_back(ms);
    }
    add_stage("decode (MJPG AVI, OpenCV)", "both", timing_of(dec), "");
  }
  std::error_code ec;
  fs::remove(avi, ec);

  // ---- preprocessing: BGR frame -> normalised RGB at the backbone's native size
  for (const auto& ws : {std::pair<std::string, int64_t>{"teacher", M.teacher.img_size}, {"student", M.student.input_size}}) {
    const int64_t size = ws.second;
    size_t i = 0;
    auto t = time_it([&] { frame_to_input(frames[i++ % frames.size()].image, size); }, ctx.warmup, n);
    add_stage(fmt::format("preprocess (resize to {0}x{0}, normalise)", size), ws.first, t, "");
  }

  // ---- backbones
  {
    models::StudentEncoder student(M.student);
    student->eval();
    auto x = frame_to_input(frames[0].image, M.student.input_size);
    add_stage("backbone: student encoder", "student", time_it([&] { student->forward(x); }, ctx.warmup, n), "");
  }
  if (p.teacher) {
    const bool reuse = p.full_size && ctx.shared.contains("teacher_trunk");
    if (reuse) {
      Timing t;
      t.median = ctx.shared["teacher_trunk"]["ms"].get<double>();
      add_stage("backbone: teacher trunk", "teacher", t, "from the backbones suite of this run (1 repetition)");
    } else {
      models::Sam3ViT teacher(M.teacher);
      teacher->eval();
      auto x = frame_to_input(frames[0].image, M.teacher.img_size);
      add_stage("backbone: teacher trunk", "teacher", time_it([&] { teacher->forward(x); }, 0, 1), "1 repetition");
    }
  } else {
    stages.push_back({"backbone: teacher trunk", "teacher", 0, 0, "skipped (teacher = false)", false});
  }

  // ---- necks (the same SAM 3 necks behind either backbone: the student substitutes the trunk)
  {
    auto cfg = M.backbone;
    cfg.trunk.depth = 0;  // the necks alone; the trunk is measured above
    cfg.trunk.global_att_blocks.clear();
    models::Sam3DualViTDetNeck necks(cfg);
    necks->eval();
    const int64_t g = M.teacher.img_size / M.teacher.patch_size;
    auto map = torch::randn({1, M.teacher.embed_dim, g, g});
    add_stage("necks: detector + tracker (4 scales each)", "both", time_it([&] { necks->forward_necks(map); }, ctx.warmup, n),
              "");
  }
  // ---- heads: SAM 3's detector (text prompt) and tracker (8 objects), fed by either backbone. Minutes
  // per frame at full size, so the teacher suite's single measurement of this run is reused.
  if (p.full_size && ctx.shared.contains("teacher_full")) {
    const auto& tf = ctx.shared["teacher_full"];
    Timing det, trk;
    det.median = tf["detector_ms"].get<double>();
    trk.median = tf["tracker_ms"].get<double>();
    add_stage("heads: detector (text prompt: encoder, decoder, mask head)", "both", det,
              "from the teacher suite of this run (1 repetition)");
    add_stage("heads: tracker (memory attention, mask decoder, memory encoder), 8 objects", "both", trk,
              "from the teacher suite of this run (1 repetition)");
  } else {
    stages.push_back({"heads: detector / tracker", "both", 0, 0,
                      p.full_size ? "not measured: run with --suite teacher (it measures them)"
                                  : "not measured at the tiny size (see the teacher suite at full size)",
                      false});
  }

  // ---- tracker: the streaming session on ground-truth instances (masks) of the pen
  {
    const std::string tspec = fmt::format("sim:seed=5,pigs={},width={},height={},render=0,frames={}", p.pigs, p.width, p.height,
                                          std::max(60, 50 * n));
    auto tsrc = video::open_simulator(video::parse_sim_spec(tspec));
    video::GroundTruthSegmenter gt;
    video::SessionConfig sc;
    sc.tracker.max_animals = p.pigs;
    video::Session session(nullptr, sc, [](const video::FrameOutput&) {});
    std::vector<double> ms;
    for (;;) {
      auto r = tsrc->read();
      if (r.status != video::ReadStatus::Ok) break;
      auto dets = gt.segment(r.frame);
      auto t0 = Clock::now();
      session.process(r.frame, std::move(dets));
      ms.push_back(ms_since(t0));
    }
    session.finish();
    add_stage("tracker + session (masks, Kalman, window)", "both", timing_of(ms), fmt::format("{} frames", ms.size()));
  }

  // ---- embedder: DINOv3 ViT-S/16 on every animal's crop
  {
    models::DinoVisionTransformer dino(M.dino);
    dino->eval();
    size_t i = 0;
    auto t = time_it(
        [&] {
          const auto& f = frames[i++ % frames.size()];
          std::vector<cv::Rect2f> boxes;
          if (f.truth)
            for (const auto& o : *f.truth) boxes.emplace_back(o.visible_box);
          auto x = crops_to_input(f.image, boxes, M.crop);
          if (x.size(0) > 0) dino->forward_features(x);
        },
        ctx.warmup, n);
    add_stage(fmt::format("embedder: DINOv3 ViT-S/16, {0}x{0} crop per animal", M.crop), "both", t,
              fmt::format("{} crops per frame, batched", p.pigs));
  }
  stages.push_back({"behaviour model", "both", 0, 0,
                    "not measured here (the bench does not link the animal module): BehaviourStream::update's time per "
                    "frame is in the behaviour model's card (models/pen-tiny/behaviour/card.md)",
                    false});

  // ---- store: per-frame observations of every animal through the Recorder into SQLite
  {
    const fs::path db_path = fs::temp_directory_path() / fmt::format("edgeherd-bench-pipe-{}.db", ::getpid());
    std::vector<double> ms;
    {
      store::Store db(db_path.string());
      store::Recorder rec(db);
      const int frames_n = 6 * 600;  // ten minutes at 6 fps
      std::vector<float> emb(384, 0.05f);
      for (int f = 0; f < frames_n; ++f) {
        const double t = 1.7e9 + f / 6.0;
        auto t0 = Clock::now();
        for (int a = 1; a <= p.pigs; ++a) {
          rec.observe({a, t, 1.0f + 0.1f * a + 0.001f * (f % 50), 2.0f, f / 600 % 9});
          if (f % 3600 == 0) rec.offer_embedding(a, t, emb.data(), emb.size());
        }
        ms.push_back(ms_since(t0));
      }
      rec.flush();
    }
    fs::remove(db_path, ec);
    fs::remove(db_path.string() + "-wal", ec);
    fs::remove(db_path.string() + "-shm", ec);
    add_stage("store (Recorder -> SQLite, FULL sync)", "both", timing_of(ms), "3600 frames");
  }

  // ---- rows and totals
  double total[2] = {0, 0};  // teacher, student
  bool complete = true;
  for (const auto& s : stages) {
    Row r{"pipeline", s.name, {}, s.note};
    if (s.measured) {
      r.values["ms_per_frame"] = s.ms;
      r.values["spread_ms"] = s.spread;
      if (s.applies == "both" || s.applies == "teacher") total[0] += s.ms;
      if (s.applies == "both" || s.applies == "student") total[1] += s.ms;
    } else {
      r.values["ms_per_frame"] = "-";
      complete = false;
    }
    r.values["config"] = s.applies == "none" ? "-" : s.applies;
    ctx.add(r);
  }
  const std::string missing = complete ? "" : "; stages marked not measured are missing from the total";
  if (p.teacher)
    ctx.add({"pipeline", "total: teacher (SAM 3 trunk + every shared stage) " + pen,
             {{"ms_per_frame", total[0]}, {"frames_per_s", 1e3 / total[0]}}, "sum of the stage medians" + missing});
  ctx.add({"pipeline", "total: student (student encoder + every shared stage) " + pen, {{"ms_per_frame", total[1]}, {"frames_per_s", 1e3 / total[1]}},
           "sum of the stage medians" + missing});
  if (p.teacher) ctx.add({"pipeline", "student / teacher", {{"speedup", total[0] / total[1]}}, "whole pipeline, same run"});

  if (!ctx.model_dir.empty()) {
    const bool exists = fs::is_directory(ctx.model_dir);
    ctx.add({"pipeline", "model set " + ctx.model_dir, {{"ms_per_frame", "-"}},
             exists ? "not measured here: the stages above are the full-size models with random weights; `edgeherd run "
                      "--model DIR` measures a model set end to end (per-stage ms/frame in its report.json)"
                    : "not measured: directory not found"});
  }
}

}  // namespace eh::bench
