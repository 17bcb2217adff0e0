#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "animal/behaviour_net.h"
#include "animal/embedder.h"
#include "core/config.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/state_dict.h"

namespace eh::animal {

namespace fs = std::filesystem;
constexpr int K = eh::data::kNumBehaviours;

BehaviourConfig BehaviourConfig::from_json(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object()) throw Error(label + ": expected a JSON object");
  Config c(j, label);
  BehaviourConfig b;
  const std::string arch = c.get<std::string>("arch");
  if (arch != "behaviour_mlp") throw Error(label + ": field 'arch': expected \"behaviour_mlp\", found \"" + arch + "\"");
  b.embedding_dim = c.get<int>("embedding_dim");
  c.ignore("posture");
  if (j.contains("posture") && !j.at("posture").is_null()) {
    b.has_posture = true;
    b.posture = PostureConfig::from_json(j.at("posture"), label);
  }
  b.hidden = c.get<std::vector<int>>("hidden");
  c.ignore("pen");
  if (!j.contains("pen")) throw Error(label + ": missing config field 'pen'");
  b.pen = PenLandmarks::from_json(j.at("pen"), label);
  b.stay = c.get<double>("stay");
  b.fps = c.get_or<double>("fps", 6.0);
  const auto feats = c.get<std::vector<std::string>>("features");
  if (feats != motion_feature_names())
    throw Error(label + ": field 'features' does not match this build's behaviour features (" +
                std::to_string(feats.size()) + " in the file, " + std::to_string(num_motion_features()) +
                " here): retrain the model");
  const auto classes = c.get<std::vector<std::string>>("classes");
  std::vector<std::string> mine;
  for (auto x : eh::data::all_behaviours()) mine.push_back(eh::data::behaviour_name(x));
  if (classes != mine) throw Error(label + ": field 'classes' must list the 9 behaviour classes in id order");
  for (auto k : {"training", "metrics", "scoring"}) c.ignore(k);
  c.finish();
  if (b.embedding_dim < 0) throw Error(label + ": field 'embedding_dim': expected >= 0");
  if (b.hidden.empty()) throw Error(label + ": field 'hidden': expected at least one layer width");
  for (int h : b.hidden)
    if (h <= 0) throw Error(label + ": field 'hidden': widths must be > 0, found " + std::to_string(h));
  if (!(b.stay >= 0 && b.stay < 1)) throw Error(label + ": field 'stay': expected 0 <= stay < 1, found " + std::to_string(b.stay));
  if (!(b.fps > 0)) throw Error(label + ": field 'fps': expected > 0");
  return b;
}

nlohmann::json BehaviourConfig::to_json() const {
  std::vector<std::string> classes;
  for (auto x : eh::data::all_behaviours()) classes.push_back(eh::data::behaviour_name(x));
  return {{"arch", "behaviour_mlp"},
          {"embedding_dim", embedding_dim},
          {"posture", has_posture ? posture.to_json() : nlohmann::json(nullptr)},
          {"hidden", hidden},
          {"pen", pen.to_json()},
          {"stay", stay},
          {"fps", fps},
          {"features", motion_feature_names()},
          {"classes", classes}};
}

BehaviourNetImpl::BehaviourNetImpl(const BehaviourConfig& c) {
  const int64_t n = c.inputs();
  feat_mean = register_buffer("feat_mean", torch::zeros({n}));
  feat_std = register_buffer("feat_std", torch::ones({n}));
  mlp = register_module("mlp", torch::nn::Sequential());
  int64_t in = n;
  for (int h : c.hidden) {
    mlp->push_back(torch::nn::Linear(in, h));
    mlp->push_back(torch::nn::GELU());
    in = h;
  }
  mlp->push_back(torch::nn::Linear(in, K));
  if (c.has_posture) posture = register_module("posture", PostureNet(c.posture));
}

at::Tensor BehaviourNetImpl::forward(const at::Tensor& x) { return mlp->forward((x - feat_mean) / feat_std); }

namespace {

class MlpBehaviourModel;

class MlpStream : public BehaviourStream {
 public:
  MlpStream(const MlpBehaviourModel* m, cv::Size frame, double fps);
  std::vector<BehaviourPrediction> update(const std::vector<TrackObservation>& obs) override;
  void drop(int id) override { tracks_.erase(id); }

 private:
  struct Track {
    TrackHistory hist;
    std::array<float, K> belief{};
    bool has_belief = false;
    double last_t = 0;
  };
  const MlpBehaviourModel* m_;
  TrackHistory::Landmarks lm_;
  double fps_;
  std::map<int, Track> tracks_;
};

class MlpBehaviourModel : public BehaviourModel {
 public:
  MlpBehaviourModel(BehaviourConfig cfg, BehaviourNet net, std::string name)
      : cfg_(std::move(cfg)), net_(std::move(net)), name_(std::move(name)) {
    net_->eval();
    for (const auto& p : net_->parameters()) bytes_ += p.numel() * p.element_size();
    for (const auto& b : net_->buffers()) bytes_ += b.numel() * b.element_size();
  }
  std::unique_ptr<BehaviourStream> new_stream(cv::Size frame_size, double fps) const override {
    if (frame_size.width <= 0 || frame_size.height <= 0)
      throw Error("behaviour model: frame size must be positive, found " + std::to_string(frame_size.width) + "x" +
                  std::to_string(frame_size.height));
    return std::make_unique<MlpStream>(this, frame_size, fps > 0 ? fps : cfg_.fps);
  }
  int embedding_dim() const override { return cfg_.embedding_dim; }
  bool uses_pixels() const override { return cfg_.has_posture; }
  std::vector<PostureProbs> posture(const cv::Mat& bgr, const std::vector<TrackObservation>& obs) const override {
    if (!cfg_.has_posture) return {};
    return posture_probs(net_->posture, cfg_.posture, bgr, obs);
  }
  std::string name() const override { return name_; }
  std::size_t bytes() const override { return bytes_; }
  const BehaviourConfig& cfg() const { return cfg_; }
  // [N, inputs] -> [N, 9] probabilities (unknown masked out).
  at::Tensor probs(const at::Tensor& x) const {
    torch::NoGradGuard g;
    at::Tensor logits = net_->forward(x);
    logits.select(1, 0).fill_(-1e9);
    return torch::softmax(logits, 1).contiguous();
  }

 private:
  BehaviourConfig cfg_;
  mutable BehaviourNet net_;  // forward() has no side effects; shared by streams
  std::string name_;
  std::size_t bytes_ = 0;
};

MlpStream::MlpStream(const MlpBehaviourModel* m, cv::Size frame, double fps)
    : m_(m), lm_(landmarks_in_pixels(m->cfg().pen, frame)), fps_(fps) {}

std::vector<BehaviourPrediction> MlpStream::update(const std::vector<TrackObservation>& obs) {
  std::vector<BehaviourPrediction> out(obs.size());
  if (obs.empty()) return out;
  const int F = num_motion_features(), P = m_->cfg().posture_inputs(), E = m_->cfg().embedding_dim, n = F + P + E;
  // Posture: precomputed, or from the frame for the observations that bring one (one batch).
  std::vector<PostureProbs> posture(obs.size());
  if (P > 0) {
    posture.assign(obs.size(), PostureProbs{1.0f / 3, 1.0f / 3, 1.0f / 3});
    std::vector<size_t> from_image;
    for (size_t i = 0; i < obs.size(); ++i) {
      if (obs[i].posture) posture[i] = *obs[i].posture;
      else if (obs[i].image && !obs[i].image->empty()) from_image.push_back(i);
    }
    // Observations of one update come from one frame.
    if (!from_image.empty()) {
      std::vector<TrackObservation> sub;
      for (size_t i : from_image) sub.push_back(obs[i]);
      const auto q = m_->posture(*obs[from_image[0]].image, sub);
      for (size_t k = 0; k < from_image.size(); ++k) posture[from_image[k]] = q[k];
    }
  }
  at::Tensor x = torch::zeros({static_cast<int64_t>(obs.size()), n});
  float* px = x.data_ptr<float>();
  for (size_t i = 0; i < obs.size(); ++i) {
    const auto& o = obs[i];
    Track& tr = tracks_[o.id];
    tr.hist.lm = &lm_;
    tr.hist.push_and_features(o.t, o.box, o.mask ? mask_shape(*o.mask, o.box) : MaskShape{}, px + i * n);
    for (int k = 0; k < P; ++k) px[i * n + F + k] = posture_feature(posture[i][k]);
    if (E > 0 && o.embedding && static_cast<int>(o.embedding->size()) == E)
      std::copy(o.embedding->begin(), o.embedding->end(), px + i * n + F + P);
  }
  at::Tensor p = m_->probs(x);
  const float* pp = p.data_ptr<float>();
  const double stay1 = m_->cfg().stay;
  for (size_t i = 0; i < obs.size(); ++i) {
    Track& tr = tracks_[obs[i].id];
    std::array<float, K> b{};
    double s = 0;
    const double dt = tr.has_belief ? obs[i].t - tr.last_t : 1e9;
    // Sticky-transition forward filter: prior = stay * belief + (1 - stay) * uniform, with
    // stay scaled to the time since the track's previous observation.
    const double stay = (tr.has_belief && dt >= 0 && dt < 1.5) ? std::pow(stay1, std::max(1e-3, dt * m_->cfg().fps)) : 0.0;
    for (int k = 1; k < K; ++k) {
      const double prior = stay * (tr.has_belief ? tr.belief[k] : 0.0) + (1 - stay) / (K - 1);
      b[k] = static_cast<float>(pp[i * K + k] * prior);
      s += b[k];
    }
    if (!(s > 0)) {
      for (int k = 1; k < K; ++k) b[k] = pp[i * K + k];
      s = 1;
    }
    BehaviourPrediction pr;
    int best = 1;
    for (int k = 1; k < K; ++k) {
      b[k] = static_cast<float>(b[k] / s);
      pr.probs[k] = b[k];
      if (b[k] > b[best]) best = k;
    }
    pr.label = static_cast<eh::data::Behaviour>(best);
    pr.confidence = b[best];
    tr.belief = b;
    tr.has_belief = true;
    tr.last_t = obs[i].t;
    out[i] = pr;
  }
  return out;
}

}  // namespace

std::shared_ptr<const BehaviourModel> load_behaviour_model(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error("behaviour model: directory '" + dir + "' does not exist");
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const std::string w_path = (fs::path(dir) / "weights.safetensors").string();
  if (!fs::exists(cfg_path)) throw Error("behaviour model: " + cfg_path + " is missing");
  if (!fs::exists(w_path)) throw Error("behaviour model: " + w_path + " is missing");
  BehaviourConfig cfg = BehaviourConfig::from_json(read_json_file(cfg_path), cfg_path);
  BehaviourNet net(cfg);
  load_state_dict(*net, w_path);
  std::string hid;
  for (int h : cfg.hidden) hid += (hid.empty() ? "" : "-") + std::to_string(h);
  const std::string name = "behaviour-mlp(" + std::to_string(cfg.inputs()) + "-" + hid + "-9" +
                           (cfg.has_posture ? ", pixel posture" : "") +
                           (cfg.embedding_dim ? ", with embedding" : (cfg.has_posture ? "" : ", motion only")) + ")";
  return std::make_shared<MlpBehaviourModel>(std::move(cfg), std::move(net), name);
}

}  // namespace eh::animal
