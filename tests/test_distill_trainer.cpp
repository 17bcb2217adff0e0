// The distillation trainer end to end on the reduced SAM 3 backbone fixture as teacher and a
// tiny student: exact resume after an interrupt, a stale cache refused, bad input refused
// before any long work.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/state_dict.h"
#include "distill/trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using eh::distill::TrainOptions;

namespace {

const fs::path kTeacher = fs::path(EH_TEST_DATA_DIR) / "sam3_backbone";

fs::path make_frames(const std::string& name, int n) {
  auto d = eh::test::temp_dir(name);
  cv::RNG rng(5);
  for (int i = 0; i < n; ++i) {
    cv::Mat img(72, 96, CV_8UC3, cv::Scalar(90, 110, 120));
    for (int k = 0; k < 4; ++k)
      cv::ellipse(img, cv::Point(rng.uniform(10, 86), rng.uniform(10, 62)), cv::Size(rng.uniform(6, 14), rng.uniform(4, 9)),
                  rng.uniform(0, 180), 0, 360, cv::Scalar(rng.uniform(150, 230), rng.uniform(150, 210), rng.uniform(170, 240)), -1);
    cv::imwrite((d / ("f" + std::to_string(100 + i) + ".png")).string(), img);
  }
  return d;
}

fs::path student_config(const fs::path& dir, int out_channels, int grid) {
  auto p = dir / "student.json";
  std::ofstream(p) << R"({"trunk": {"img_size": 64, "num_classes": 0, "embed_dims": [16, 24, 32, 48], "depths": [1, 1, 1, 1],
      "num_heads": [1, 1, 1, 2], "window_sizes": [4, 4, 4, 2]}, "fpn_channels": 16, "fuse_channels": 32, "input_size": 64,
      "out_channels": )" << out_channels << R"(, "out_grid": )" << grid << "}";
  return p;
}

TrainOptions options(const fs::path& frames, const fs::path& out, const fs::path& student) {
  TrainOptions o;
  o.teacher_config = (kTeacher / "config.json").string();
  o.teacher_weights = (kTeacher / "weights.safetensors").string();
  o.student_config = student.string();
  o.data = {frames.string()};
  o.out = out.string();
  o.steps = 8;
  o.batch = 2;
  o.checkpoint_every = 2;
  o.lr_warmup = 2;
  o.loss.warmup_steps = 2;
  o.loss.ramp_steps = 2;
  o.loss.structure_tokens = 16;
  return o;
}

// The message of the eh::Error that training with `o` throws; a run that throws nothing gives a
// message no expectation matches.
std::string train_error(const TrainOptions& o) {
  try {
    eh::distill::train(o);
  } catch (const eh::Error& e) {
    return e.what();
  }
  return "(no error: train() returned)";
}

}  // namespace

TEST(DistillTrainer, ResumeAfterInterruptGivesTheSameWeights) {
  if (!fs::exists(kTeacher / "weights.safetensors")) GTEST_SKIP() << "no sam3_backbone fixture";
  auto frames = make_frames("frames_resume", 10);
  auto dir = eh::test::temp_dir("resume");
  auto cfg = student_config(dir, 128, 5);  // the fixture teacher: 128 channels on a 5x5 grid
  auto whole = options(frames, dir / "whole", cfg);
  auto r1 = eh::distill::train(whole);
  ASSERT_FALSE(r1.interrupted);
  EXPECT_EQ(r1.steps_done, 8);
  EXPECT_GT(r1.val_frames, 0);
  EXPECT_TRUE(fs::exists(dir / "whole" / "loss.svg"));

  auto part = options(frames, dir / "split", cfg);
  part.cache_dir = (dir / "whole" / "teacher_cache").string();  // reused across runs
  part.stop_after = 3;  // an interrupt between checkpoints: resumes from the state after step 3
  auto r2 = eh::distill::train(part);
  ASSERT_TRUE(r2.interrupted);
  part.stop_after = -1;
  auto r3 = eh::distill::train(part);
  ASSERT_FALSE(r3.interrupted);
  auto fa = eh::st::File::open(r1.weights), fb = eh::st::File::open(r3.weights);
  ASSERT_EQ(fa.tensors().size(), fb.tensors().size());
  for (const auto& t : fa.tensors())
    EXPECT_TRUE(torch::equal(eh::read_tensor(fa, t), eh::read_tensor(fb, t.name))) << t.name;
  EXPECT_DOUBLE_EQ(r1.val_cosine, r3.val_cosine);
}

TEST(DistillTrainer, StaleCacheIsRefusedBeforeTraining) {
  if (!fs::exists(kTeacher / "weights.safetensors")) GTEST_SKIP();
  auto frames = make_frames("frames_stale", 4);
  auto dir = eh::test::temp_dir("stale");
  auto o = options(frames, dir / "run", student_config(dir, 128, 5));
  o.steps = 1;
  eh::distill::train(o);
  // Same cache, another teacher: the fixture weights with one tensor changed.
  auto f = eh::st::File::open(o.teacher_weights);
  eh::NamedTensors ts;
  for (const auto& t : f.tensors()) ts.emplace_back(t.name, eh::read_tensor(f, t).clone() * (ts.empty() ? 2.0 : 1.0));
  auto w2 = dir / "teacher2.safetensors";
  eh::write_tensors(w2.string(), ts);
  o.teacher_weights = w2.string();
  const auto stale = train_error(o);
  EXPECT_NE(stale.find("stale"), std::string::npos) << stale;
  o.rebuild_cache = true;
  EXPECT_NO_THROW(eh::distill::train(o));
}

TEST(DistillTrainer, MisalignedStudentAndUnreadableDataAreClearErrors) {
  if (!fs::exists(kTeacher / "weights.safetensors")) GTEST_SKIP();
  auto frames = make_frames("frames_bad", 3);
  auto dir = eh::test::temp_dir("bad");
  auto o = options(frames, dir / "run", student_config(dir, 64, 5));
  const auto shapes = train_error(o);
  EXPECT_NE(shapes.find("[1, 128, 5, 5]"), std::string::npos) << shapes;
  EXPECT_NE(shapes.find("[1, 64, 5, 5]"), std::string::npos) << shapes;
  auto o2 = options(dir / "no_such_video.mp4", dir / "run2", student_config(dir, 128, 5));
  const auto missing = train_error(o2);
  EXPECT_NE(missing.find("no_such_video.mp4"), std::string::npos) << missing;
}

TEST(DistillTrainer, SupervisedTermNeedsATeacherWithHeads) {
  if (!fs::exists(kTeacher / "weights.safetensors")) GTEST_SKIP();
  auto frames = make_frames("frames_task", 3);
  auto dir = eh::test::temp_dir("task");
  auto o = options(frames, dir / "run", student_config(dir, 128, 5));
  o.task_weight = 1;
  o.task_loss = [](const at::Tensor& heads, const std::vector<std::string>&) { return heads.sum(); };
  // The SAM 3 backbone teacher has necks but no task heads: refused before any training.
  const auto no_heads = train_error(o);
  EXPECT_NE(no_heads.find("no task heads"), std::string::npos) << no_heads;
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoint.safetensors"));
}
