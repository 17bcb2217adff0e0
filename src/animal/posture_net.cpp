#include "animal/posture_net.h"

#include <torch/torch.h>

#include "core/error.h"
#include "data/rle.h"

namespace eh::animal {

int posture_group(eh::data::Posture p) {
  switch (p) {
    case eh::data::Posture::Standing: return 0;
    case eh::data::Posture::Sitting: return 1;
    case eh::data::Posture::LyingSternal:
    case eh::data::Posture::LyingLateral: return 2;
  }
  return 0;
}

PostureConfig PostureConfig::from_json(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object()) throw Error(label + ": field 'posture': expected a JSON object");
  Config c(j, label + " 'posture'");
  PostureConfig p;
  p.crop_size = c.get<int>("crop_size");
  p.margin = c.get<float>("margin");
  p.channels = c.get<std::vector<int>>("channels");
  c.finish();
  if (p.crop_size < 8 || p.crop_size > 512)
    throw Error(label + ": field 'posture.crop_size': expected 8..512, found " + std::to_string(p.crop_size));
  if (!(p.margin >= 0 && p.margin <= 1)) throw Error(label + ": field 'posture.margin': expected 0..1");
  if (p.channels.empty()) throw Error(label + ": field 'posture.channels': expected at least one block");
  for (int ch : p.channels)
    if (ch <= 0) throw Error(label + ": field 'posture.channels': widths must be > 0, found " + std::to_string(ch));
  return p;
}

nlohmann::json PostureConfig::to_json() const {
  return {{"crop_size", crop_size}, {"margin", margin}, {"channels", channels}};
}

bool append_posture_input(const cv::Mat& bgr, const cv::Rect2f& box, const eh::data::Rle* mask, const PostureConfig& c,
                          std::vector<float>* out) {
  cv::Mat crop;
  const bool ok = make_crop(bgr, box, c.crop(), &crop);
  append_normalised_chw(crop, out);
  const int n = c.crop_size * c.crop_size;
  const size_t base = out->size();
  out->resize(base + static_cast<size_t>(n), 0.5f);
  if (mask && mask->height > 0) {
    cv::Mat m;
    make_mask_crop(*mask, box, c.crop(), &m);
    float* p = out->data() + base;
    for (int y = 0; y < m.rows; ++y) {
      const uint8_t* row = m.ptr<uint8_t>(y);
      for (int x = 0; x < m.cols; ++x) p[y * m.cols + x] = row[x] / 255.0f;
    }
  }
  return ok;
}

PostureNetImpl::PostureNetImpl(const PostureConfig& c) {
  features = register_module("features", torch::nn::Sequential());
  int64_t in = 4;
  for (int ch : c.channels) {
    features->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, ch, 3).stride(2).padding(1).bias(false)));
    features->push_back(torch::nn::BatchNorm2d(ch));
    features->push_back(torch::nn::ReLU());
    in = ch;
  }
  head = register_module("head", torch::nn::Linear(in, kPostureGroups));
}

at::Tensor PostureNetImpl::forward(const at::Tensor& x) { return head->forward(features->forward(x).mean({2, 3})); }

std::vector<PostureProbs> posture_probs(PostureNet& net, const PostureConfig& c, const cv::Mat& bgr,
                                        const std::vector<TrackObservation>& obs) {
  std::vector<PostureProbs> out(obs.size());
  if (obs.empty()) return out;
  std::vector<float> x;
  std::vector<bool> valid(obs.size());
  const int64_t S = c.crop_size;
  x.reserve(obs.size() * 4 * static_cast<size_t>(S * S));
  for (size_t i = 0; i < obs.size(); ++i) valid[i] = append_posture_input(bgr, obs[i].box, obs[i].mask, c, &x);
  torch::NoGradGuard g;
  const at::Tensor p =
      torch::softmax(net->forward(torch::from_blob(x.data(), {static_cast<int64_t>(obs.size()), 4, S, S}, torch::kFloat)), 1)
          .contiguous();
  const float* pp = p.data_ptr<float>();
  for (size_t i = 0; i < obs.size(); ++i)
    for (int k = 0; k < kPostureGroups; ++k) out[i][k] = valid[i] ? pp[i * kPostureGroups + k] : 1.0f / kPostureGroups;
  return out;
}

}  // namespace eh::animal
