#include "animal/posture_train.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "cli/progress.h"
#include "core/json_file.h"
#include "core/parallel.h"
#include "core/state_dict.h"
#include "core/error.h"
#include "data/rng.h"
#include "data/simulator.h"
#include "distill/adamw.h"
#include "models/dinov3_vit.h"

namespace eh::animal {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Samples {
  int size = 0;
  std::vector<uint8_t> bgr, mask;  // [N, S, S, 3], [N, S, S]
  std::vector<int64_t> label;
};

// Posture crops of one pen (its own random stream: the crops do not depend on which thread
// draws them).
Samples collect_pen(const PostureTrainOptions& o, const BehaviourClipOptions& clip, const PostureConfig& pc, uint64_t seed,
                    uint64_t pen) {
  Samples s;
  s.size = pc.crop_size;
  const size_t px = static_cast<size_t>(pc.crop_size) * pc.crop_size;
  eh::data::Rng rng(eh::data::derive_seed(seed ^ pen, 4417));
  eh::data::SimConfig cfg;
  cfg.seed = pen;
  cfg.start_hour = rng.uniform(0, 24);
  if (o.max_activity > 1) cfg.activity = std::exp(rng.uniform(0.0, std::log(o.max_activity)));
  const int draw_every = o.sit_every > 0 ? o.sit_every : o.every;
  cfg.render_every = draw_every;  // only the frames taken are drawn
  eh::data::PenSimulator sim(cfg);
  const int n = static_cast<int>(std::lround(o.minutes * 60 * cfg.fps));
  for (int f = 0; f < n; ++f) {
    sim.step();
    if (f % draw_every) continue;
    const bool all = f % o.every == 0;  // else sitting animals only
    for (const auto& g : sim.ground_truth()) {
      if (g.visible_pixels < clip.min_visible_pixels || g.visible_box.area() <= 0) continue;
      if (!all && g.pose.posture != eh::data::Posture::Sitting) continue;
      // A segmenter's box is not the exact visible box: jitter position and size a little.
      cv::Rect2f b(g.visible_box);
      const float w = b.width, h = b.height;
      b.x += static_cast<float>(rng.uniform(-0.04, 0.04)) * w;
      b.y += static_cast<float>(rng.uniform(-0.04, 0.04)) * h;
      b.width *= static_cast<float>(rng.uniform(0.94, 1.06));
      b.height *= static_cast<float>(rng.uniform(0.94, 1.06));
      cv::Mat crop, m;
      if (!make_crop(sim.frame(), b, pc.crop(), &crop)) continue;
      make_mask_crop(g.mask, b, pc.crop(), &m);
      s.bgr.insert(s.bgr.end(), crop.data, crop.data + 3 * px);
      s.mask.insert(s.mask.end(), m.data, m.data + px);
      s.label.push_back(posture_group(g.pose.posture));
    }
  }
  return s;
}

// All posture pens, `threads` at a time, appended in pen order.
Samples collect(const PostureTrainOptions& o, const BehaviourClipOptions& clip, const PostureConfig& pc, uint64_t seed,
                int threads, bool progress) {
  Samples s;
  s.size = pc.crop_size;
  eh::cli::ProgressBar bar("posture pens");
  std::vector<Samples> pens(static_cast<size_t>(o.pens));
  eh::run_in_rounds(
      o.pens, threads,
      [&](int i) { pens[static_cast<size_t>(i)] = collect_pen(o, clip, pc, seed, static_cast<uint64_t>(o.first_seed + i)); },
      [&](int first, int count) {
        for (int i = first; i < first + count; ++i) {
          Samples& p = pens[static_cast<size_t>(i)];
          s.bgr.insert(s.bgr.end(), p.bgr.begin(), p.bgr.end());
          s.mask.insert(s.mask.end(), p.mask.begin(), p.mask.end());
          s.label.insert(s.label.end(), p.label.begin(), p.label.end());
          p = Samples{};
        }
        if (progress) bar.update(first + count, o.pens, fmt::format("{} crops", s.label.size()));
      });
  return s;
}

// Batch tensors with augmentation: [B, 4, S, S] inputs.
at::Tensor make_batch(const Samples& s, const at::Tensor& idx, bool augment) {
  const int64_t B = idx.size(0), S = s.size;
  const auto* ip = idx.data_ptr<int64_t>();
  at::Tensor img = torch::empty({B, S, S, 3}, torch::kUInt8), msk = torch::empty({B, S, S}, torch::kUInt8);
  const size_t px = static_cast<size_t>(S * S);
  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(img.data_ptr<uint8_t>() + b * 3 * px, s.bgr.data() + ip[b] * 3 * px, 3 * px);
    std::memcpy(msk.data_ptr<uint8_t>() + b * px, s.mask.data() + ip[b] * px, px);
  }
  at::Tensor x = img.to(torch::kFloat).div_(255).flip({3}).permute({0, 3, 1, 2});  // RGB in [0, 1]
  at::Tensor m = msk.to(torch::kFloat).div_(255).unsqueeze(1);
  if (augment) {
    namespace F = torch::nn::functional;
    // Brightness, contrast and a per-channel tint (skin colours must not decide the posture).
    x = x * torch::empty({B, 1, 1, 1}).uniform_(0.7, 1.3) * torch::empty({B, 3, 1, 1}).uniform_(0.85, 1.15) +
        torch::empty({B, 1, 1, 1}).uniform_(-0.08, 0.08);
    const at::Tensor grey = torch::rand({B, 1, 1, 1}) < 0.2;
    const at::Tensor lum = (x * torch::tensor({0.299f, 0.587f, 0.114f}).view({1, 3, 1, 1})).sum(1, true).expand_as(x);
    x = torch::where(grey, lum, x).clamp(0, 1);
    // Masks as a segmenter makes them: coarse (a head-map cell is several crop pixels), a
    // little too large or too small.
    const at::Tensor coarse = torch::rand({B, 1, 1, 1}) < 0.5;
    at::Tensor mc = F::interpolate(F::avg_pool2d(m, F::AvgPool2dFuncOptions(4)),
                                   F::InterpolateFuncOptions().size(std::vector<int64_t>{S, S}).mode(torch::kBilinear).align_corners(false));
    m = torch::where(coarse, (mc > 0.5).to(torch::kFloat), m);
    const at::Tensor r = torch::rand({B, 1, 1, 1});
    const auto pool = F::MaxPool2dFuncOptions(3).stride(1).padding(1);
    m = torch::where(r < 0.2, F::max_pool2d(m, pool), torch::where(r > 0.8, -F::max_pool2d(-m, pool), m));
  }
  return torch::cat({eh::models::imagenet_normalize(x), m}, 1).contiguous();
}

}  // namespace

PostureTrainResult train_posture(const PostureTrainOptions& o, const BehaviourClipOptions& clip, uint64_t seed, int threads,
                                 bool progress) {
  if (o.pens <= 0) throw UsageError("posture: --posture-pens must be > 0");
  if (o.first_seed < 1 || (o.first_seed + o.pens - 1 >= 9001 && o.first_seed <= 9999))
    throw UsageError("posture: pen seeds must avoid 9001..9999 (held out)");
  if (o.every < 1 || o.epochs < 1 || o.batch < 2) throw UsageError("posture: every, epochs must be >= 1 and batch >= 2");
  if (o.max_activity < 1) throw UsageError("posture: --posture-activity must be >= 1");
  if (o.sit_every < 0 || (o.sit_every > 0 && o.every % o.sit_every != 0))
    throw UsageError(fmt::format("posture: --posture-sit-every must divide --posture-every ({}), got {}", o.every, o.sit_every));
  PostureTrainResult r;
  r.cfg.crop_size = o.crop_size;
  r.cfg.margin = o.margin;
  r.cfg.channels = o.channels;
  const auto t0 = Clock::now();
  const Samples s = collect(o, clip, r.cfg, seed, threads, progress);
  r.data_s = seconds_since(t0);
  const int64_t N = static_cast<int64_t>(s.label.size());
  r.samples = static_cast<int>(N);
  if (N < o.batch) throw Error(fmt::format("posture: only {} crops from {} pens", N, o.pens));
  const at::Tensor Y = torch::tensor(s.label, torch::kLong);
  const at::Tensor counts = torch::bincount(Y, {}, kPostureGroups).to(torch::kFloat);
  for (int k = 0; k < kPostureGroups; ++k) r.counts[k] = static_cast<int>(counts[k].item<float>());
  at::Tensor w = torch::where(counts > 0, 1.0 / counts.clamp_min(1).sqrt(), torch::zeros_like(counts));
  w = w / (w.sum() / (counts > 0).sum());

  torch::manual_seed(seed + 77);
  r.net = PostureNet(r.cfg);
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& p : r.net->named_parameters()) params.emplace_back(p.key(), p.value());
  eh::distill::AdamW opt(params, {o.lr, 0.9, 0.999, 1e-8, 1e-4});
  const int64_t per_epoch = N / o.batch, total = per_epoch * o.epochs;
  const int64_t warmup = std::min<int64_t>(50, total / 10);
  eh::cli::ProgressBar bar("train posture");
  const auto t1 = Clock::now();
  r.net->train();
  int64_t step = 0;
  for (int ep = 0; ep < o.epochs; ++ep) {
    const at::Tensor perm = torch::randperm(N, torch::kLong);
    for (int64_t b = 0; b < per_epoch; ++b, ++step) {
      const at::Tensor idx = perm.slice(0, b * o.batch, (b + 1) * o.batch).contiguous();
      const double lr = step < warmup ? o.lr * (step + 1) / warmup
                                      : 0.5 * o.lr * (1 + std::cos(M_PI * (step - warmup) / std::max<int64_t>(1, total - warmup)));
      const at::Tensor loss = torch::nn::functional::cross_entropy(
          r.net->forward(make_batch(s, idx, true)), Y.index({idx}), torch::nn::functional::CrossEntropyFuncOptions().weight(w));
      opt.zero_grad();
      loss.backward();
      opt.step(lr);
      r.loss.push_back(loss.item<double>());
      if (progress) bar.update(step + 1, total, fmt::format("epoch {} loss {:.4f}", ep + 1, r.loss.back()));
    }
  }
  r.net->eval();
  r.train_s = seconds_since(t1);
  return r;
}

PostureTrainResult load_trained_posture(const std::string& model_dir) {
  namespace fs = std::filesystem;
  const std::string cfg_path = (fs::path(model_dir) / "config.json").string();
  if (!fs::exists(cfg_path)) throw Error("posture: " + cfg_path + " is missing");
  const nlohmann::json j = read_json_file(cfg_path);
  if (!j.contains("posture") || j.at("posture").is_null())
    throw Error(cfg_path + ": field 'posture': this behaviour model has no posture network");
  PostureTrainResult r;
  r.cfg = PostureConfig::from_json(j.at("posture"), cfg_path);
  r.net = PostureNet(r.cfg);
  BindOptions bo;
  bo.prefix = "posture.";
  load_state_dict(*r.net, (fs::path(model_dir) / "weights.safetensors").string(), bo);
  r.net->eval();
  return r;
}

}  // namespace eh::animal
