#include "perception/segmenter.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/state_dict.h"
#include "perception/pen_model.h"

namespace fs = std::filesystem;

namespace eh::perception {

namespace {

std::string need_file(const fs::path& dir, const std::string& name, const std::string& what) {
  if (!fs::is_directory(dir))
    throw Error(fmt::format("{}: model directory not found (expected {} with config.json and weights.safetensors; "
                            "see docs/model_dir.md)",
                            dir.string(), what));
  const fs::path p = dir / name;
  if (!fs::is_regular_file(p)) throw Error(fmt::format("{}: missing {} ({})", dir.string(), name, what));
  return p.string();
}

int64_t count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

class ModelSegmenter : public eh::video::Segmenter {
 public:
  ModelSegmenter(const std::string& dir, const std::string& variant) : variant_(variant) {
    const fs::path root(dir);
    if (!fs::is_directory(root)) throw Error(fmt::format("{}: model directory not found", dir));
    const fs::path tdir = root / "teacher";
    const auto tcfg = need_file(tdir, "config.json", "the teacher segmenter");
    const auto tw = need_file(tdir, "weights.safetensors", "the teacher segmenter");
    cfg_ = PenModelConfig::load(tcfg);
    if (variant == "teacher") {
      teacher_ = PenModel(cfg_);
      load_state_dict(*teacher_, tw);
      teacher_->eval();
      size_ = cfg_.input_size();
      params_ = count(*teacher_);
    } else {
      const fs::path sdir = root / "student";
      const auto scfg_path = need_file(sdir, "config.json", "the student encoder");
      const auto sw = need_file(sdir, "weights.safetensors", "the student encoder");
      Config sc = Config::load(scfg_path);
      auto scfg = models::StudentConfig::from(sc);
      cfg_.decode = student_decode(cfg_, sc);
      student_ = PenStudent(scfg, cfg_);
      // Necks and head from the teacher's file (its trunk is not needed), the encoder from the student's.
      auto rep = load_state_dict(*student_->teacher, tw, {false, ""});
      for (const auto& k : rep.missing)
        if (k.rfind("backbone.trunk.", 0) != 0) throw Error(fmt::format("{}: missing tensor '{}'", tw, k));
      if (!rep.mismatched.empty() || !rep.unexpected.empty()) throw Error(rep.summary());
      load_state_dict(*student_->encoder, sw);
      student_->eval();
      size_ = scfg.input_size;
      params_ = count(*student_->encoder) + count(*student_->teacher->head);
      for (const auto& c : student_->teacher->backbone->named_children())
        if (c.key() != "trunk") params_ += count(*c.value());
    }
    // Weights the forward uses (the student's copy of the teacher trunk is never run).
    bytes_ = static_cast<std::size_t>(params_) * sizeof(float);
    name_ = fmt::format("pen-tiny {} ({})", variant, dir);
  }

  eh::track::Detections segment(const cv::Mat& image) const override {
    torch::NoGradGuard g;
    auto x = frame_to_tensor(image, size_);
    auto h = teacher_ ? teacher_->forward(x) : student_->forward(x);
    return decode(to_head_maps(h), image.size(), cfg_.decode);
  }
  std::string name() const override { return name_; }
  std::size_t bytes() const override { return bytes_; }
  int64_t params() const { return params_; }

 private:
  std::string variant_, name_;
  PenModelConfig cfg_;
  // Modules are used read-only (eval mode, no grad): forward is safe from several threads.
  mutable PenModel teacher_{nullptr};
  mutable PenStudent student_{nullptr};
  int64_t size_ = 0, params_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace

std::shared_ptr<const eh::video::Segmenter> load_segmenter(const std::string& model_dir, const std::string& variant) {
  if (variant != "teacher" && variant != "student")
    throw UsageError(fmt::format("segmenter variant must be 'teacher' or 'student', got '{}'", variant));
  return std::make_shared<ModelSegmenter>(model_dir, variant);
}

int64_t segmenter_parameters(const eh::video::Segmenter& s) {
  auto* m = dynamic_cast<const ModelSegmenter*>(&s);
  return m ? m->params() : 0;
}

}  // namespace eh::perception
