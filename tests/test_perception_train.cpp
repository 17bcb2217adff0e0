// The pen segmenters end to end at toy size on simulated pens: teacher training with exact
// resume, the student distilled from it and substituted in front of its frozen neck and head,
// both loaded from the model directory as video::Segmenters; bad directories and held-out seeds
// refused with clear errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor_io.h"
#include "core/state_dict.h"
#include "data/simulator.h"
#include "distill/loss.h"
#include "distill/models.h"
#include "distill/trainer.h"
#include "perception/instance_head.h"
#include "perception/pen_model.h"
#include "perception/segmenter.h"
#include "perception/train.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace eh::perception;

namespace {

// 64 x 64 input, patch 16 -> 4 x 4 tokens (window 2, one global block); neck 16/8/4; head 16 x 16.
const char* kTeacher = R"({"arch": "pen_segmenter",
 "backbone": {"trunk": {"img_size": 64, "patch_size": 16, "embed_dim": 16, "depth": 2, "num_heads": 1, "mlp_ratio": 2.0,
   "window_size": 2, "global_att_blocks": [1], "pretrain_img_size": 32, "retain_cls_token": false, "ln_pre": true,
   "bias_patch_embed": false, "use_interp_rope": true},
   "position_encoding": {"num_pos_feats": 8}, "d_model": 8, "scale_factors": [4.0, 2.0, 1.0]},
 "head": {"in_channels": 8, "channels": 8, "levels": 3},
 "decode": {"min_area": 1, "centre_threshold": 0.05}})";

const char* kStudent = R"({"trunk": {"img_size": 64, "num_classes": 0, "embed_dims": [8, 16, 16, 16], "depths": [1, 1, 1, 1],
 "num_heads": [1, 1, 1, 1], "window_sizes": [2, 2, 2, 2]}, "fpn_channels": 8, "fuse_channels": 8, "input_size": 64,
 "out_channels": 16, "out_grid": 4})";

fs::path write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p;
}

SegTrainOptions toy(const fs::path& root, const fs::path& cfg) {
  SegTrainOptions o;
  o.config = cfg.string();
  o.out = (root / "teacher").string();
  o.work = (root / "work").string();
  o.data = {1, 2, 2, 3, 4};  // pens 1-2, two frames each, 4 pigs
  o.steps = 6;
  o.batch = 2;
  o.warmup = 2;
  o.checkpoint_every = 0;
  o.seed = 3;
  return o;
}

// A 4-step student on pens 101-102 (5 frames each, 4 pigs) from the teacher in model/teacher.
StudentTrainOptions toy_student(const fs::path& model, const fs::path& work, const fs::path& cfg) {
  StudentTrainOptions s;
  s.model_dir = model.string();
  s.student_config = cfg.string();
  s.work = work.string();
  s.data = {101, 2, 5, 1, 4};
  s.steps = 4;
  s.batch = 2;
  s.warmup = 1;
  s.checkpoint_every = 0;
  s.heldout_frames = 2;
  return s;
}

std::map<std::string, at::Tensor> tensors(const fs::path& p) {
  auto f = eh::st::File::open(p.string());
  std::map<std::string, at::Tensor> m;
  for (const auto& t : f.tensors()) m[t.name] = eh::read_tensor(f, t).clone();
  return m;
}

}  // namespace

TEST(PerceptionTrain, TeacherResumesExactlyAndLoadsAsSegmenter) {
  torch::set_num_threads(1);
  auto dir = eh::test::temp_dir("perception_teacher");
  auto cfg = write(dir / "teacher.json", kTeacher);
  auto a = toy(dir / "a", cfg);
  auto ra = train_segmenter(a);
  EXPECT_EQ(ra.steps_done, 6);
  EXPECT_EQ(ra.frames, 4);
  EXPECT_FALSE(ra.interrupted);
  for (const char* f : {"config.json", "weights.safetensors", "card.md", "loss.svg"}) EXPECT_TRUE(fs::exists(dir / "a" / "teacher" / f)) << f;

  auto b = toy(dir / "b", cfg);
  b.stop_after = 3;
  auto rb = train_segmenter(b);
  EXPECT_TRUE(rb.interrupted);
  EXPECT_EQ(rb.steps_done, 3);
  EXPECT_FALSE(fs::exists(dir / "b" / "teacher" / "weights.safetensors"));
  b.stop_after = -1;
  rb = train_segmenter(b);
  EXPECT_EQ(rb.steps_done, 6);
  auto wa = tensors(dir / "a" / "teacher" / "weights.safetensors"), wb = tensors(dir / "b" / "teacher" / "weights.safetensors");
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& [k, v] : wa) EXPECT_TRUE(torch::equal(v, wb.at(k))) << k;

  auto seg = load_segmenter((dir / "a").string(), "teacher");
  eh::data::SimConfig sc;
  sc.seed = 9001;
  sc.num_pigs = 4;
  eh::data::PenSimulator sim(sc);
  sim.step();
  auto d = seg->segment(sim.frame());
  d.validate("teacher output");
  EXPECT_EQ(d.rles.size(), d.size());
  for (const auto& r : d.rles) EXPECT_EQ(cv::Size(r.width, r.height), sim.frame().size());
  EXPECT_GT(seg->bytes(), 0u);
  EXPECT_GT(segmenter_parameters(*seg), 0);

  // The student, distilled from that teacher, runs in front of the teacher's neck and head.
  auto rs = distill_student(toy_student(dir / "a", dir / "swork", write(dir / "student.json", kStudent)));
  EXPECT_EQ(rs.steps_done, 4);
  EXPECT_TRUE(std::isfinite(rs.val_cosine));
  for (const char* f : {"config.json", "weights.safetensors", "card.md"}) EXPECT_TRUE(fs::exists(dir / "a" / "student" / f)) << f;
  auto st = load_segmenter((dir / "a").string(), "student");
  auto ds = st->segment(sim.frame());
  ds.validate("student output");
  // Encoder + neck + head, without the teacher trunk.
  EXPECT_GT(segmenter_parameters(*st), 0);
  EXPECT_NE(segmenter_parameters(*st), segmenter_parameters(*seg));

  // The distiller's view of the teacher: the neck levels, then the frozen head's outputs, which
  // equal the head maps that PenModel::heads computes on the same trunk map.
  auto cfg_t = PenModelConfig::load((dir / "a" / "teacher" / "config.json").string());
  PenModel model(cfg_t);
  eh::load_state_dict(*model, (dir / "a" / "teacher" / "weights.safetensors").string());
  model->eval();
  auto x = frame_to_tensor(sim.frame(), cfg_t.input_size());
  torch::NoGradGuard ng;
  auto map = model->trunk(x);
  auto h = model->heads(map);
  auto plain = make_pen_teacher((dir / "a" / "teacher").string(), false)->necks(map);
  auto with_head = make_pen_teacher((dir / "a" / "teacher").string(), true)->necks(map);
  ASSERT_EQ(plain.size(), static_cast<size_t>(cfg_t.levels()));
  ASSERT_EQ(with_head.size(), plain.size() + 3);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(torch::equal(plain[i], with_head[i])) << i;
  const auto L = plain.size();
  auto fg = torch::sigmoid(h.slice(1, kForeground, kForeground + 1));
  EXPECT_TRUE(torch::allclose(with_head[L], fg));
  EXPECT_TRUE(torch::allclose(with_head[L + 1], torch::sigmoid(h.slice(1, kCentre, kCentre + 1))));
  EXPECT_TRUE(torch::allclose(with_head[L + 2], h.slice(1, kOffsetX, kOffsetY + 1) * fg));
  // A perturbed map moves the head terms: the downstream term sees what decoding reads.
  auto other = make_pen_teacher((dir / "a" / "teacher").string(), true)->necks(map + 0.5 * torch::randn_like(map));
  std::vector<at::Tensor> head_only(with_head.begin() + L, with_head.end()), other_head(other.begin() + L, other.end());
  EXPECT_GT(eh::distill::downstream_term(other_head, head_only, 1e-6).item<double>(), 1e-4);
  EXPECT_EQ(eh::distill::downstream_term(head_only, head_only, 1e-6).item<double>(), 0.0);
}

// The student's ground-truth term: every frame's stored targets are the simulator's own, the
// supervised hook sees exactly the frames of each training batch (never a held-out one), and the
// term reaches the student's weights.
TEST(PerceptionTrain, StudentGroundTruthTermUsesEachFramesOwnTargets) {
  torch::set_num_threads(1);
  auto dir = eh::test::temp_dir("perception_gt");
  auto cfg = write(dir / "teacher.json", kTeacher);
  train_segmenter(toy(dir / "m", cfg));
  auto options = [&](const fs::path& model, double gt) {
    fs::create_directories(model);
    fs::copy(dir / "m" / "teacher", model / "teacher", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    auto s = toy_student(model, model / "work", write(dir / "student.json", kStudent));
    s.steps = 3;
    s.scale_warmup = 0;  // the ground-truth term (scale group) counts from the first step
    s.scale_ramp = 0;
    s.heldout_frames = 1;
    s.gt_weight = gt;
    return s;
  };
  auto with = options(dir / "gt", 1.0);
  distill_student(with);
  distill_student(options(dir / "plain", 0.0));

  // targets.safetensors: one [4, 16, 16] tensor per stored frame, named by its file.
  auto targets = tensors(fs::path(with.work) / "targets.safetensors");
  std::set<std::string> pngs;
  for (const auto& e : fs::directory_iterator(fs::path(with.work) / "frames")) pngs.insert(e.path().filename().string());
  ASSERT_EQ(pngs.size(), 10u);
  std::set<std::string> names;
  for (const auto& [k, v] : targets) {
    names.insert(k);
    EXPECT_EQ(v.sizes(), (std::vector<int64_t>{4, 16, 16})) << k;
  }
  EXPECT_EQ(names, pngs);
  // Pen 102's third frame (index 2), as the simulator draws it.
  eh::data::SimConfig sc;
  sc.seed = 102;
  sc.num_pigs = 4;
  sc.start_hour = std::fmod(102 * 7.37, 24.0);
  eh::data::PenSimulator sim(sc);
  for (int i = 0; i < 3; ++i) sim.step();
  auto tg = make_targets(sim.instance_map(), cv::Size(16, 16));
  const auto& t = targets.at("s00102_f00002.png");
  int c = 0;
  for (const cv::Mat* m : {&tg.foreground, &tg.centre, &tg.dx, &tg.dy})
    EXPECT_TRUE(torch::equal(t[c++], torch::from_blob(const_cast<float*>(m->ptr<float>()), {16, 16}, torch::kFloat))) << c;
  EXPECT_GT(t[kForeground].sum().item<float>(), 0.0f);

  // The history's task column is the unweighted supervised loss of each step.
  std::ifstream h(fs::path(with.work) / "distill" / "history.csv");
  std::string line;
  std::getline(h, line);
  EXPECT_EQ(line.substr(line.rfind(',') + 1), "task");
  int rows = 0;
  while (std::getline(h, line)) {
    const double task = std::stod(line.substr(line.rfind(',') + 1));
    EXPECT_TRUE(std::isfinite(task) && task > 0) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 3);
  // The term reaches the gradients: same seed and batches, different weights.
  auto a = tensors(dir / "gt" / "student" / "weights.safetensors"), b = tensors(dir / "plain" / "student" / "weights.safetensors");
  ASSERT_EQ(a.size(), b.size());
  double diff = 0;
  for (const auto& [k, v] : a) diff += (v - b.at(k)).abs().sum().item<double>();
  EXPECT_GT(diff, 0.0);

  // The distiller's hook sees each step's batch by frame key: training frames only (every 10th
  // frame is held out), batch-many per step; then the held-out ones once for val_task.
  eh::distill::TrainOptions d;
  d.teacher_factory = [&] { return make_pen_teacher((dir / "m" / "teacher").string(), true); };
  d.student_config = (dir / "student.json").string();
  d.data = {(fs::path(with.work) / "frames").string()};
  d.max_frames = 10;
  d.frame_size = 64;
  d.out = (dir / "hook").string();
  d.steps = 2;
  d.batch = 3;
  d.checkpoint_every = 0;
  d.loss.structure_tokens = 8;
  std::vector<std::vector<std::string>> seen;
  d.task_weight = 1;
  d.task_loss = [&](const at::Tensor& heads, const std::vector<std::string>& keys) {
    EXPECT_EQ(heads.size(0), static_cast<int64_t>(keys.size()));
    EXPECT_EQ(heads.size(1), 4);
    seen.push_back(keys);
    return heads.pow(2).mean();
  };
  auto r = eh::distill::train(d);
  ASSERT_EQ(seen.size(), 3u);  // two steps, then one validation batch
  EXPECT_EQ(seen[0].size(), 3u);
  EXPECT_EQ(seen[1].size(), 3u);
  // FrameSet order is the sorted file names; index 9 (the 10th) is the held-out one.
  const std::string held_out = *std::next(pngs.begin(), 9);
  for (int s = 0; s < 2; ++s)
    for (const auto& k : seen[s]) EXPECT_EQ(k.find(held_out), std::string::npos) << k;
  ASSERT_EQ(seen[2].size(), 1u);
  EXPECT_NE(seen[2][0].find(held_out), std::string::npos) << seen[2][0];
  EXPECT_GT(r.val_task, 0.0);
}

TEST(PerceptionTrain, RefusesHeldOutSeedsAndBadDirectories) {
  SimFrames f;
  f.first_seed = 8990;
  f.seeds = 20;
  EXPECT_THROW(check_training_seeds(f), eh::UsageError);
  f.first_seed = 1;
  EXPECT_NO_THROW(check_training_seeds(f));

  auto dir = eh::test::temp_dir("perception_bad");
  auto msg = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const eh::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([&] { load_segmenter((dir / "nope").string(), "teacher"); }).find("nope"), std::string::npos);
  fs::create_directories(dir / "m" / "teacher");
  write(dir / "m" / "teacher" / "config.json", kTeacher);
  EXPECT_NE(msg([&] { load_segmenter((dir / "m").string(), "teacher"); }).find("weights.safetensors"), std::string::npos);
  EXPECT_THROW(load_segmenter((dir / "m").string(), "teacher2"), eh::UsageError);
  write(dir / "m" / "teacher" / "weights.safetensors", "not a safetensors file");
  EXPECT_NE(msg([&] { load_segmenter((dir / "m").string(), "teacher"); }).find("weights.safetensors"), std::string::npos);
  EXPECT_NE(msg([&] { load_segmenter((dir / "m").string(), "student"); }).find("student"), std::string::npos);
}

TEST(PerceptionTrain, SimulatedFramesDoNotDependOnTheWorkers) {
  // Three pens simulated one or two at a time: the same frames, labels and indices, in the same
  // order, with progress counted up to the total.
  SimFrames f;
  f.first_seed = 11;
  f.seeds = 3;
  f.frames_per_seed = 2;
  f.stride = 3;
  f.pigs = 3;
  struct Seen {
    cv::Mat bgr, labels;
    uint64_t seed;
    int64_t index;
  };
  auto collect = [&](int workers, int64_t* last_done) {
    std::vector<Seen> v;
    for_each_sim_frame(
        f, [&](const cv::Mat& bgr, const cv::Mat& labels, uint64_t seed, int64_t i) { v.push_back({bgr.clone(), labels.clone(), seed, i}); },
        [&](const std::string&, int64_t done, int64_t total, const std::string&) {
          EXPECT_EQ(total, 6);
          *last_done = done;
        },
        workers);
    return v;
  };
  int64_t done1 = 0, done2 = 0;
  const auto one = collect(1, &done1), two = collect(2, &done2);
  EXPECT_EQ(done1, 6);
  EXPECT_EQ(done2, 6);
  ASSERT_EQ(one.size(), 6u);
  ASSERT_EQ(two.size(), 6u);
  for (size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(one[k].seed, 11 + k / 2) << k;
    EXPECT_EQ(one[k].index, static_cast<int64_t>(3 * (k % 2))) << k;
    EXPECT_EQ(two[k].seed, one[k].seed) << k;
    EXPECT_EQ(two[k].index, one[k].index) << k;
    EXPECT_EQ(cv::norm(one[k].bgr, two[k].bgr, cv::NORM_INF), 0.0) << k;
    EXPECT_EQ(cv::norm(one[k].labels, two[k].labels, cv::NORM_INF), 0.0) << k;
  }
}
