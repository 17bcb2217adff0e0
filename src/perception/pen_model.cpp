#include "perception/pen_model.h"

#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/tensor_io.h"
#include "models/dinov3_vit.h"

namespace eh::perception {

PenModelConfig PenModelConfig::from(Config& c) {
  PenModelConfig p;
  p.json = c.json();
  for (const char* k : {"backbone", "head"})
    if (!c.has(k) || !c.json().at(k).is_object()) throw Error(c.label() + ": missing object '" + k + "'");
  Config b(c.json().at("backbone"), c.label() + " backbone");
  p.backbone = models::Sam3BackboneConfig::from(b);
  Config h(c.json().at("head"), c.label() + " head");
  p.head = HeadConfig::from(h);
  if (c.has("decode")) {
    Config d(c.json().at("decode"), c.label() + " decode");
    p.decode = DecodeOptions::from(d);
  }
  c.ignore("backbone");
  c.ignore("head");
  c.ignore("decode");
  c.finish();
  if (p.head.in_channels != p.backbone.d_model)
    throw Error(c.label() + ": head.in_channels (" + std::to_string(p.head.in_channels) + ") must equal backbone.d_model (" +
                std::to_string(p.backbone.d_model) + ")");
  if (p.head.levels > static_cast<int64_t>(p.backbone.scale_factors.size()))
    throw Error(c.label() + ": head.levels exceeds the neck's scale_factors");
  if (p.backbone.scale_factors[0] != 4.0) throw Error(c.label() + ": the head expects the neck's first scale factor to be 4");
  return p;
}

DecodeOptions student_decode(const PenModelConfig& teacher, const Config& student) {
  if (!student.has("decode")) return teacher.decode;
  if (!student.json().at("decode").is_object()) throw Error(student.label() + ": field 'decode' must be an object");
  nlohmann::json merged = teacher.json.contains("decode") ? teacher.json.at("decode") : nlohmann::json::object();
  merged.update(student.json().at("decode"));
  Config d(merged, student.label() + " decode (over the teacher's)");
  return DecodeOptions::from(d);
}

PenModelConfig PenModelConfig::load(const std::string& path) {
  Config c = Config::load(path);
  return from(c);
}

at::Tensor resize_square(const at::Tensor& x, int64_t s) {
  if (x.size(2) == s && x.size(3) == s) return x;
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{s, s}).mode(torch::kBilinear).align_corners(false));
}

PenModelImpl::PenModelImpl(const PenModelConfig& cfg) : cfg_(cfg) {
  backbone = register_module("backbone", models::Sam3DualViTDetNeck(cfg.backbone));
  head = register_module("head", InstanceHead(cfg.head));
}

at::Tensor PenModelImpl::trunk(const at::Tensor& rgb01) {
  return backbone->trunk()->forward((resize_square(rgb01, cfg_.input_size()) - 0.5) / 0.5).back();
}

at::Tensor PenModelImpl::heads(const at::Tensor& map) {
  return head->forward(backbone->forward_necks(map, nullptr, cfg_.levels()).sam3_out);
}

at::Tensor PenModelImpl::forward(const at::Tensor& rgb01) { return heads(trunk(rgb01)); }

PenStudentImpl::PenStudentImpl(const models::StudentConfig& s, const PenModelConfig& t) : size_(s.input_size) {
  encoder = register_module("encoder", models::StudentEncoder(s));
  teacher = register_module("teacher", PenModel(t));
}

at::Tensor PenStudentImpl::forward(const at::Tensor& rgb01) {
  return teacher->heads(encoder->forward(models::imagenet_normalize(resize_square(rgb01, size_))));
}

at::Tensor frame_to_tensor(const cv::Mat& bgr, int64_t size) {
  if (bgr.empty() || bgr.type() != CV_8UC3) throw Error("segmenter: expected a non-empty 8-bit BGR frame");
  cv::Mat small, rgb;
  cv::resize(bgr, small, cv::Size(static_cast<int>(size), static_cast<int>(size)), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, rgb, cv::COLOR_BGR2RGB);
  auto t = torch::from_blob(rgb.data, {size, size, 3}, torch::kUInt8).permute({2, 0, 1}).to(torch::kFloat).div_(255.0);
  return t.unsqueeze(0).contiguous();
}

HeadMaps to_head_maps(const at::Tensor& head, int64_t b) {
  auto h = head[b].detach().to(torch::kFloat).contiguous();
  const int rows = static_cast<int>(h.size(1)), cols = static_cast<int>(h.size(2));
  auto mat = [&](const at::Tensor& t) {
    auto c = t.contiguous();
    return cv::Mat(rows, cols, CV_32FC1, c.data_ptr<float>()).clone();
  };
  HeadMaps m;
  m.foreground = mat(torch::sigmoid(h[kForeground]));
  m.centre = mat(torch::sigmoid(h[kCentre]));
  m.dx = mat(h[kOffsetX]);
  m.dy = mat(h[kOffsetY]);
  return m;
}

}  // namespace eh::perception
