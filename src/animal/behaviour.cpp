#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
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
  b.lag_frames = c.get_or<int>("lag_frames", 0);
  if (b.lag_frames < 0 || b.lag_frames > 60)
    throw Error(label + ": field 'lag_frames': expected 0..60, found " + std::to_string(b.lag_frames));
  b.lookahead_frames = c.get_or<int>("lookahead_frames", 0);
  if (b.lookahead_frames < 0 || b.lookahead_frames > 60)
    throw Error(label + ": field 'lookahead_frames': expected 0..60, found " + std::to_string(b.lookahead_frames));
  if (b.lookahead_frames > 0 && b.lag_frames != b.lookahead_frames)
    throw Error(label + ": field 'lookahead_frames' (" + std::to_string(b.lookahead_frames) +
                ") must equal 'lag_frames' (" + std::to_string(b.lag_frames) + "): labels are final when the look-ahead has come");
  c.ignore("logit_bias");
  if (j.contains("logit_bias") && !j.at("logit_bias").is_null()) {
    const auto& v = j.at("logit_bias");
    if (!v.is_array() || v.size() != K) throw Error(label + ": field 'logit_bias': expected 9 numbers, found " + v.dump());
    for (const auto& x : v) {
      if (!x.is_number() || !std::isfinite(x.get<double>()))
        throw Error(label + ": field 'logit_bias': expected finite numbers, found " + x.dump());
      b.logit_bias.push_back(x.get<double>());
    }
  }
  c.ignore("transitions");
  if (j.contains("transitions") && !j.at("transitions").is_null()) {
    const auto& t = j.at("transitions");
    if (!t.is_array() || t.size() != K) throw Error(label + ": field 'transitions': expected 9 rows of 9 numbers");
    for (size_t r = 0; r < K; ++r) {
      if (!t[r].is_array() || t[r].size() != K)
        throw Error(label + ": field 'transitions': row " + std::to_string(r) + ": expected 9 numbers, found " + t[r].dump());
      std::vector<double> row;
      double sum = 0;
      for (const auto& v : t[r]) {
        if (!v.is_number() || v.get<double>() < 0)
          throw Error(label + ": field 'transitions': row " + std::to_string(r) + ": expected probabilities >= 0, found " + v.dump());
        row.push_back(v.get<double>());
        sum += row.back();
      }
      if (std::fabs(sum - 1) > 1e-3)
        throw Error(label + ": field 'transitions': row " + std::to_string(r) + " sums to " + std::to_string(sum) + ", expected 1");
      b.transitions.push_back(row);
    }
  }
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
          {"transitions", transitions.empty() ? nlohmann::json(nullptr) : nlohmann::json(transitions)},
          {"logit_bias", logit_bias.empty() ? nlohmann::json(nullptr) : nlohmann::json(logit_bias)},
          {"lag_frames", lag_frames},
          {"lookahead_frames", lookahead_frames},
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
  std::optional<BehaviourPrediction> revised(int id, double t) override;

 private:
  // One observation kept for fixed-lag smoothing: the classifier's probabilities, the filtered
  // belief, and the step that led to it from the previous kept one (prior = stay * T^n' b +
  // (1 - stay) * uniform; stay 0 after a gap).
  struct Kept {
    double t = 0;
    std::array<float, K> p{}, belief{};
    double stay = 0;
    int steps = 1;
  };
  // Look-ahead: an observation waiting for its later one (inputs without the look-ahead part),
  // and a final label.
  struct Pending {
    double t = 0;
    std::vector<float> x;
  };
  struct Final {
    double t = 0;
    BehaviourPrediction pr;
  };
  struct Track {
    TrackHistory hist;
    std::array<float, K> belief{};
    bool has_belief = false;
    double last_t = 0;
    std::deque<Kept> kept;      // the last lag_frames + 1 observations (backward pass only)
    std::deque<Pending> pending;  // look-ahead: not yet classified, oldest first
    std::deque<Final> done;       // look-ahead: the latest final labels
  };
  // The forward filter's step for an observation at time t with classifier probabilities p
  // (row of K); commit = false leaves the track as it was (a provisional label).
  BehaviourPrediction filter(Track& tr, double t, const float* p, bool commit);
  // Look-ahead: the input row of tr.pending[i] (its inputs + the motion features of its
  // look-ahead observation among the pending ones).
  void lookahead_row(const Track& tr, size_t i, float* row) const;
  // Look-ahead: classifies and filters the `count` oldest pending observations of each track
  // (one batch), moving them to done.
  void finalise(const std::vector<std::pair<Track*, size_t>>& jobs);
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
    // Powers of the transition matrix for gaps of 1..kMaxSteps frames (row-major, from -> to).
    std::array<double, K * K> t{};
    for (int r = 0; r < K; ++r)
      for (int c = 0; c < K; ++c) t[r * K + c] = cfg_.transitions.empty() ? (r == c) : cfg_.transitions[r][c];
    steps_[0] = t;
    for (int n = 1; n < kMaxSteps; ++n)
      for (int r = 0; r < K; ++r)
        for (int c = 0; c < K; ++c) {
          double v = 0;
          for (int m = 0; m < K; ++m) v += steps_[n - 1][r * K + m] * t[m * K + c];
          steps_[n][r * K + c] = v;
        }
    if (!cfg_.logit_bias.empty()) logit_bias_ = torch::tensor(cfg_.logit_bias, torch::kDouble).to(torch::kFloat);
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
  int lag_frames() const override { return cfg_.lag_frames; }
  const BehaviourConfig& cfg() const { return cfg_; }
  static constexpr int kMaxSteps = 12;
  // The transition matrix to the power n, row-major, from -> to; n is clamped to 1..kMaxSteps.
  const std::array<double, K * K>& transition(int n) const { return steps_[std::clamp(n, 1, kMaxSteps) - 1]; }
  // Transition steps for `frames` frames between two observations (any value, even huge or
  // negative), as transition() takes them.
  static int steps_for(double frames) {
    return static_cast<int>(std::clamp(std::round(frames), 1.0, static_cast<double>(kMaxSteps)));
  }
  // [N, inputs] -> [N, 9] probabilities (unknown masked out).
  at::Tensor probs(const at::Tensor& x) const {
    torch::NoGradGuard g;
    at::Tensor logits = net_->forward(x);
    if (logit_bias_.defined()) logits += logit_bias_;
    logits.select(1, 0).fill_(-1e9);
    return torch::softmax(logits, 1).contiguous();
  }

 private:
  BehaviourConfig cfg_;
  mutable BehaviourNet net_;  // forward() has no side effects; shared by streams
  std::string name_;
  std::size_t bytes_ = 0;
  std::array<std::array<double, K * K>, kMaxSteps> steps_{};
  at::Tensor logit_bias_;  // [9] from cfg_.logit_bias; undefined when it is empty
};

MlpStream::MlpStream(const MlpBehaviourModel* m, cv::Size frame, double fps)
    : m_(m), lm_(landmarks_in_pixels(m->cfg().pen, frame)), fps_(fps) {}

BehaviourPrediction MlpStream::filter(Track& tr, double t, const float* p, bool commit) {
  // Forward filter: prior = stay * (T^n' belief) + (1 - stay) * uniform, with stay and the
  // number n of transition steps scaled to the time since the track's previous observation.
  const double dt = tr.has_belief ? t - tr.last_t : 1e9;
  const double frames = dt * m_->cfg().fps;
  const double stay = (tr.has_belief && dt >= 0 && dt < 1.5) ? std::pow(m_->cfg().stay, std::max(1e-3, frames)) : 0.0;
  const int steps = MlpBehaviourModel::steps_for(frames);
  const auto& T = m_->transition(steps);
  std::array<float, K> b{};
  double s = 0;
  for (int k = 1; k < K; ++k) {
    double moved = 0;
    if (stay > 0)
      for (int j = 1; j < K; ++j) moved += tr.belief[j] * T[j * K + k];
    const double prior = stay * moved + (1 - stay) / (K - 1);
    b[k] = static_cast<float>(p[k] * prior);
    s += b[k];
  }
  if (!(s > 0)) {
    for (int k = 1; k < K; ++k) b[k] = p[k];
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
  if (!commit) return pr;
  tr.belief = b;
  tr.has_belief = true;
  tr.last_t = t;
  const int lag = m_->cfg().lag_frames;
  if (lag > 0 && m_->cfg().lookahead_frames == 0) {
    Kept k;
    k.t = t;
    std::copy(p, p + K, k.p.begin());
    k.belief = b;
    k.stay = stay;
    k.steps = steps;
    tr.kept.push_back(k);
    while (static_cast<int>(tr.kept.size()) > lag + 1) tr.kept.pop_front();
  }
  return pr;
}

void MlpStream::lookahead_row(const Track& tr, size_t i, float* row) const {
  const int F = num_motion_features();
  const auto& own = tr.pending[i];
  size_t j = i;
  for (size_t u = i + 1; u < tr.pending.size() && in_lookahead(own.t, tr.pending[u].t, m_->cfg().lookahead_frames, fps_); ++u) j = u;
  std::copy(own.x.begin(), own.x.end(), row);
  std::copy(tr.pending[j].x.begin(), tr.pending[j].x.begin() + F, row + own.x.size());
}

void MlpStream::finalise(const std::vector<std::pair<Track*, size_t>>& jobs) {
  const int n = m_->cfg().inputs();
  size_t rows = 0;
  for (const auto& [tr, count] : jobs) rows += count;
  if (rows == 0) return;
  at::Tensor x = torch::zeros({static_cast<int64_t>(rows), n});
  float* px = x.data_ptr<float>();
  size_t r = 0;
  for (const auto& [tr, count] : jobs)
    for (size_t i = 0; i < count; ++i) lookahead_row(*tr, i, px + (r++) * n);
  const at::Tensor p = m_->probs(x);
  const float* pp = p.data_ptr<float>();
  r = 0;
  for (const auto& [tr, count] : jobs) {
    for (size_t i = 0; i < count; ++i) {
      const double t = tr->pending.front().t;
      tr->done.push_back({t, filter(*tr, t, pp + (r++) * K, true)});
      tr->pending.pop_front();
    }
    // The pipeline asks for a label lookahead_frames frames after it, by when it is among the
    // newest few final ones; twice that is slack for frames the track was not seen in.
    while (static_cast<int>(tr->done.size()) > 2 * m_->cfg().lookahead_frames + 2) tr->done.pop_front();
  }
}

std::vector<BehaviourPrediction> MlpStream::update(const std::vector<TrackObservation>& obs) {
  std::vector<BehaviourPrediction> out(obs.size());
  if (obs.empty()) return out;
  const int F = num_motion_features(), P = m_->cfg().posture_inputs(), E = m_->cfg().embedding_dim;
  const int L = m_->cfg().lookahead_frames, own = F + P + E, n = m_->cfg().inputs();
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
  // Inputs of each observation; with a look-ahead, the provisional row reads its own motion
  // features as the look-ahead part (as at the end of a track).
  at::Tensor x = torch::zeros({static_cast<int64_t>(obs.size()), n});
  float* px = x.data_ptr<float>();
  for (size_t i = 0; i < obs.size(); ++i) {
    const auto& o = obs[i];
    Track& tr = tracks_[o.id];
    tr.hist.lm = &lm_;
    float* row = px + i * n;
    tr.hist.push_and_features(o.t, o.box, o.mask ? mask_shape(*o.mask, o.box) : MaskShape{}, row);
    for (int k = 0; k < P; ++k) row[F + k] = posture_feature(posture[i][k]);
    if (E > 0 && o.embedding && static_cast<int>(o.embedding->size()) == E)
      std::copy(o.embedding->begin(), o.embedding->end(), row + F + P);
    if (L > 0) std::copy(row, row + F, row + own);
  }
  if (L > 0) {
    // An observation is classified once one of its track's observations lies beyond its
    // look-ahead (or exactly at its end): its look-ahead is then complete.
    std::vector<std::pair<Track*, size_t>> jobs;
    for (size_t i = 0; i < obs.size(); ++i) {
      Track& tr = tracks_[obs[i].id];
      tr.pending.push_back({obs[i].t, std::vector<float>(px + i * n, px + i * n + own)});
      size_t count = 0;
      while (count < tr.pending.size() && lookahead_complete(tr.pending[count].t, obs[i].t, L, fps_)) ++count;
      if (count > 0) jobs.emplace_back(&tr, count);
    }
    finalise(jobs);
  }
  at::Tensor p = m_->probs(x);
  const float* pp = p.data_ptr<float>();
  for (size_t i = 0; i < obs.size(); ++i) out[i] = filter(tracks_[obs[i].id], obs[i].t, pp + i * K, L == 0);
  return out;
}

std::optional<BehaviourPrediction> MlpStream::revised(int id, double t) {
  const auto it = tracks_.find(id);
  if (it == tracks_.end()) return std::nullopt;
  Track& tr = it->second;
  if (m_->cfg().lookahead_frames > 0) {
    for (const auto& d : tr.done)
      if (std::fabs(d.t - t) < 1e-9) return d.pr;
    for (size_t i = 0; i < tr.pending.size(); ++i)
      if (std::fabs(tr.pending[i].t - t) < 1e-9) {
        finalise({{&tr, i + 1}});
        return tr.done.back().pr;
      }
    return std::nullopt;
  }
  const auto& kept = tr.kept;
  size_t at = kept.size();
  for (size_t i = 0; i < kept.size(); ++i)
    if (std::fabs(kept[i].t - t) < 1e-9) at = i;
  if (at == kept.size()) return std::nullopt;
  // Backward pass from the newest kept observation: beta_{u-1}(j) = sum_k M_u(j, k) p_u(k) beta_u(k),
  // M_u = stay_u * T^n_u + (1 - stay_u) / 8 (the forward filter's own step); normalised.
  std::array<double, K> beta;
  beta.fill(1.0);
  for (size_t u = kept.size() - 1; u > at; --u) {
    const Kept& e = kept[u];
    const auto& T = m_->transition(e.steps);
    std::array<double, K> nb{};
    double s = 0;
    for (int j = 1; j < K; ++j) {
      double v = 0;
      for (int k = 1; k < K; ++k) v += (e.stay * T[j * K + k] + (1 - e.stay) / (K - 1)) * e.p[k] * beta[k];
      nb[j] = v;
      s += v;
    }
    if (!(s > 0)) break;
    for (int j = 1; j < K; ++j) beta[j] = nb[j] / s;
  }
  BehaviourPrediction pr;
  double s = 0;
  for (int k = 1; k < K; ++k) s += kept[at].belief[k] * beta[k];
  if (!(s > 0)) return std::nullopt;
  int best = 1;
  for (int k = 1; k < K; ++k) {
    pr.probs[k] = static_cast<float>(kept[at].belief[k] * beta[k] / s);
    if (pr.probs[k] > pr.probs[best]) best = k;
  }
  pr.label = static_cast<eh::data::Behaviour>(best);
  pr.confidence = pr.probs[best];
  return pr;
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
