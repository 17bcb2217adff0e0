#include "animal/embedder_train.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "animal/embed_net.h"
#include "cli/progress.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/parallel.h"
#include "core/state_dict.h"
#include "data/rng.h"
#include "data/simulator.h"
#include "distill/adamw.h"
#include "report/svg_plot.h"
#include "store/embedding_pool.h"
#include "track/mask.h"
#include "video/appearance.h"

namespace eh::animal {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct CropSample {
  int pen = 0;  // appearance seed
  int id = 0;   // pig id in that pen
  int posture = 0;  // eh::data::Posture
  cv::Mat crop; // BGR 8-bit
};

// A segmenter's mask, not the renderer's: half of them coarsened to a quarter of the crop's
// resolution, a quarter dilated and a quarter eroded by a pixel (the posture network's
// training does the same, posture_train.cpp).
void roughen_mask(cv::Mat* m, eh::data::Rng& rng) {
  if (rng.bernoulli(0.5)) {
    cv::Mat small;
    cv::resize(*m, small, cv::Size(std::max(1, m->cols / 4), std::max(1, m->rows / 4)), 0, 0, cv::INTER_AREA);
    cv::resize(small, *m, m->size(), 0, 0, cv::INTER_LINEAR);
  }
  const double u = rng.uniform01();
  const cv::Mat k = cv::getStructuringElement(cv::MORPH_ELLIPSE, {3, 3});
  if (u < 0.25) cv::dilate(*m, *m, k);
  else if (u < 0.5) cv::erode(*m, *m, k);
}

// Renders one clip and crops every sufficiently visible animal at frames 0, stride, 2 stride, ...
void collect_clip(uint64_t app_seed, uint64_t dyn_seed, double hour, int frames, int stride, float min_vis,
                  const CropOptions& copt, const EmbedderConfig& ecfg, std::vector<CropSample>* out) {
  eh::data::Rng mask_rng(eh::data::derive_seed(dyn_seed, 7101));
  const auto roughen = [&mask_rng](cv::Mat* m) { roughen_mask(m, mask_rng); };
  eh::data::SimConfig cfg;
  cfg.seed = dyn_seed;
  cfg.appearance_seed = app_seed;
  cfg.start_hour = hour;
  cfg.render_every = stride;  // only the sampled frames are drawn
  eh::data::PenSimulator sim(cfg);
  const int last = (frames - 1) * stride;
  for (int f = 0; f <= last; ++f) {
    sim.step();
    if (f % stride != 0) continue;
    for (const auto& g : sim.ground_truth()) {
      if (g.visibility < min_vis || g.visible_box.area() <= 0) continue;
      CropSample s;
      s.pen = static_cast<int>(app_seed);
      s.id = g.id;
      s.posture = static_cast<int>(g.pose.posture);
      make_embedder_crop(sim.frame(), cv::Rect2f(g.visible_box), &g.mask, ecfg, copt, &s.crop, roughen);
      out->push_back(std::move(s));
    }
  }
}

double clock_hour(uint64_t app_seed, uint64_t clip) {
  eh::data::Rng r(eh::data::derive_seed(app_seed, 7001 + clip));
  return r.uniform(0.0, 24.0);
}

std::vector<float> normalised(std::vector<float> v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  n = std::sqrt(n);
  if (n > 0)
    for (float& x : v) x = static_cast<float>(x / n);
  return v;
}

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Rank-1 and cosine statistics for one method: per pen a gallery (rows, ids) and queries.
struct PenEmb {
  std::vector<std::vector<float>> gallery;
  std::vector<int> gallery_ids;
  std::vector<std::vector<float>> query;
  std::vector<int> query_ids;
};

// One gallery animal: its pen (index), id and similarity to a query vector.
struct GalleryAnimal {
  int pen, id;
  std::function<float(const std::vector<float>&)> sim;
};

// Rank-1 within the pen and among all animals, mean similarity to the same / other animals of
// the pen, and the AUC of same > other, over the queries of every pen whose animal is in the
// gallery. `queries[p]` are pen p's query vectors as the similarities expect them.
ReidMetrics rank_queries(const std::string& method, const std::vector<GalleryAnimal>& all, const std::vector<PenEmb>& pens,
                         const std::vector<std::vector<std::vector<float>>>& queries) {
  ReidMetrics m;
  m.method = method;
  int64_t n = 0, ok_pen = 0, ok_all = 0;
  std::vector<double> same_c, diff_c;
  for (size_t p = 0; p < pens.size(); ++p) {
    for (size_t qi = 0; qi < queries[p].size(); ++qi) {
      const int qid = pens[p].query_ids[qi];
      const auto& q = queries[p][qi];
      bool has = false;
      for (const auto& g : all) has |= (g.pen == static_cast<int>(p) && g.id == qid);
      if (!has) continue;  // animal not in the gallery
      ++n;
      float best_pen = -3, best_all = -3;
      bool pen_right = false, all_right = false;
      for (const auto& g : all) {
        const float c = g.sim(q);
        const bool right = g.pen == static_cast<int>(p) && g.id == qid;
        if (c > best_all) {
          best_all = c;
          all_right = right;
        }
        if (g.pen != static_cast<int>(p)) continue;
        if (c > best_pen) {
          best_pen = c;
          pen_right = right;
        }
        (right ? same_c : diff_c).push_back(c);
      }
      ok_pen += pen_right;
      ok_all += all_right;
    }
  }
  m.queries = static_cast<int>(n);
  if (n > 0) {
    m.rank1_pen = double(ok_pen) / n;
    m.rank1_pool = double(ok_all) / n;
  }
  auto mean = [](const std::vector<double>& v) { return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size(); };
  m.cos_same = mean(same_c);
  m.cos_diff = mean(diff_c);
  // AUC by sorting: P(same > diff) + 0.5 P(tie).
  if (!same_c.empty() && !diff_c.empty()) {
    std::sort(diff_c.begin(), diff_c.end());
    double acc = 0;
    for (double s : same_c) {
      const auto lo = std::lower_bound(diff_c.begin(), diff_c.end(), s) - diff_c.begin();
      const auto hi = std::upper_bound(diff_c.begin(), diff_c.end(), s) - diff_c.begin();
      acc += lo + 0.5 * (hi - lo);
    }
    m.auc = acc / (double(same_c.size()) * diff_c.size());
  }
  return m;
}

// Per-animal gallery means (after optional centring by the pen's gallery mean), cosine to the
// query.
ReidMetrics score(const std::string& method, const std::vector<PenEmb>& pens, bool centred) {
  std::vector<GalleryAnimal> all;
  std::vector<std::vector<std::vector<float>>> queries(pens.size());
  for (size_t p = 0; p < pens.size(); ++p) {
    const auto& pe = pens[p];
    if (pe.gallery.empty()) continue;
    const size_t D = pe.gallery[0].size();
    std::vector<float> centre(D, 0.0f);
    if (centred) {
      for (const auto& g : pe.gallery)
        for (size_t i = 0; i < D; ++i) centre[i] += g[i] / pe.gallery.size();
    }
    auto prep = [&](std::vector<float> v) {
      for (size_t i = 0; i < D; ++i) v[i] -= centre[i];
      return normalised(std::move(v));
    };
    std::map<int, std::vector<float>> sum;
    for (size_t i = 0; i < pe.gallery.size(); ++i) {
      auto v = prep(pe.gallery[i]);
      auto& s = sum[pe.gallery_ids[i]];
      if (s.empty()) s.assign(D, 0.0f);
      for (size_t k = 0; k < D; ++k) s[k] += v[k];
    }
    for (auto& [id, s] : sum)
      all.push_back({static_cast<int>(p), id, [v = normalised(s)](const std::vector<float>& q) { return dot(q, v); }});
    for (const auto& q : pe.query) queries[p].push_back(prep(q));
  }
  return rank_queries(method + (centred ? " centred" : " raw"), all, pens, queries);
}

// What the store keeps (store/embedding_pool.h): each animal's gallery vectors offered in order
// to a pool (int8, at most 32, near-duplicates merged), a query scored by its most similar
// member; and the same rule on the float vectors, all kept. The two differ only by what the
// store does to the vectors.
ReidMetrics score_members(const std::string& method, const std::vector<PenEmb>& pens, bool store_pool) {
  std::vector<GalleryAnimal> all;
  std::vector<std::vector<std::vector<float>>> queries(pens.size());
  for (size_t p = 0; p < pens.size(); ++p) {
    const auto& pe = pens[p];
    std::map<int, std::vector<std::vector<float>>> members;
    for (size_t i = 0; i < pe.gallery.size(); ++i) members[pe.gallery_ids[i]].push_back(normalised(pe.gallery[i]));
    for (auto& [id, vs] : members) {
      if (store_pool) {
        auto pool = std::make_shared<eh::store::EmbeddingPool>();
        for (size_t t = 0; t < vs.size(); ++t) pool->offer(vs[t].data(), vs[t].size(), static_cast<int64_t>(t));
        all.push_back({static_cast<int>(p), id,
                       [pool](const std::vector<float>& q) { return pool->best_similarity(q.data(), q.size()); }});
      } else {
        all.push_back({static_cast<int>(p), id, [vs = std::move(vs)](const std::vector<float>& q) {
                         float best = -2;
                         for (const auto& v : vs) best = std::max(best, dot(q, v));
                         return best;
                       }});
      }
    }
    for (const auto& q : pe.query) queries[p].push_back(normalised(q));
  }
  return rank_queries(method + (store_pool ? " store pool (int8, <= 32)" : " nearest member (float)"), all, pens, queries);
}

std::string fmt_pct(double x) { return fmt::format("{:.1f}%", 100 * x); }

// Stored training crops are larger than the model's input so that augmentation can shift and
// scale the window: the central crop_size x crop_size of a stored crop is exactly what
// make_crop gives at inference.
constexpr int kStoreNum = 5, kStoreDen = 4;

// Body-aligned crops (body_aligned) keep their axis along x: they are only turned by 180 degrees
// (the head may be either side), never mirrored or transposed.
at::Tensor augment_batch(const at::Tensor& crops_u8, const std::vector<int64_t>& idx, int S, bool body_aligned,
                         eh::data::Rng& rng) {
  const int64_t St = crops_u8.size(1);
  std::vector<at::Tensor> out;
  out.reserve(idx.size());
  for (int64_t i : idx) {
    // [St, St, 3] BGR uint8 -> [3, St, St] RGB float 0..1
    at::Tensor x = crops_u8[i].permute({2, 0, 1}).flip({0}).to(torch::kFloat).div(255.0);
    const double sc = rng.uniform(0.85, 1.15);
    const int64_t w = std::clamp<int64_t>(static_cast<int64_t>(std::lround(S * sc)), 8, St);
    const int64_t c0 = (St - w) / 2;
    const int64_t jit = std::max<int64_t>(0, std::min<int64_t>(c0, S / 16));
    const int64_t x0 = std::clamp<int64_t>(c0 + rng.uniform_int(-jit, jit), 0, St - w);
    const int64_t y0 = std::clamp<int64_t>(c0 + rng.uniform_int(-jit, jit), 0, St - w);
    x = x.slice(1, y0, y0 + w).slice(2, x0, x0 + w).unsqueeze(0);
    x = torch::nn::functional::interpolate(
            x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{S, S}).mode(torch::kBilinear).align_corners(false))
            .squeeze(0);
    if (body_aligned) {
      if (rng.bernoulli(0.5)) x = x.flip({1, 2});
    } else {
      if (rng.bernoulli(0.5)) x = x.flip({2});
      if (rng.bernoulli(0.5)) x = x.flip({1});
      if (rng.bernoulli(0.5)) x = x.transpose(1, 2);
    }
    // Photometric: brightness, contrast, grey (IR night), noise.
    const double b = rng.uniform(0.6, 1.4), c = rng.uniform(0.7, 1.3);
    at::Tensor mean = x.mean();
    x = (x - mean) * c + mean * b;
    if (rng.bernoulli(0.2)) {
      at::Tensor g = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2];
      x = g.unsqueeze(0).expand({3, S, S});
    }
    x = x + 0.02 * torch::randn({3, S, S});
    out.push_back(x.clamp(0, 1));
  }
  return eh::models::imagenet_normalize(torch::stack(out));
}

void write_file(const std::string& path, const std::string& text) { eh::report::write_text(path, text); }

}  // namespace

std::string format_reid_table(const std::vector<ReidMetrics>& rows) {
  std::string s = "| embedding | queries | rank-1 (within pen) | rank-1 (all held-out animals) | cos same | cos different | AUC same>diff |\n";
  s += "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& r : rows)
    s += fmt::format("| {} | {} | {} | {} | {:.3f} | {:.3f} | {:.3f} |\n", r.method, r.queries, fmt_pct(r.rank1_pen),
                     fmt_pct(r.rank1_pool), r.cos_same, r.cos_diff, r.auc);
  return s;
}

nlohmann::json reid_json(const std::vector<ReidMetrics>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows)
    j.push_back({{"method", r.method}, {"queries", r.queries}, {"rank1_pen", r.rank1_pen}, {"rank1_pool", r.rank1_pool},
                 {"cos_same", r.cos_same}, {"cos_diff", r.cos_diff}, {"auc", r.auc}});
  return j;
}

std::vector<ReidMetrics> evaluate_reid(const Embedder& embedder, const ReidOptions& opt) {
  if (opt.pens <= 0 || opt.frames <= 0 || opt.frame_stride <= 0)
    throw Error("re-identification: pens, frames and frame stride must be > 0");
  std::vector<PenEmb> mine(static_cast<size_t>(opt.pens)), hist(static_cast<size_t>(opt.pens));
  eh::cli::ProgressBar bar("re-id eval");
  for (int p = 0; p < opt.pens; ++p) {
    const uint64_t app = static_cast<uint64_t>(opt.first_pen + p);
    for (int clip = 0; clip < 2; ++clip) {
      // Re-render to get the frame for the embedder: collect boxes via a second pass of the
      // same clip (deterministic), embedding frame by frame.
      eh::data::SimConfig cfg;
      cfg.seed = app * 1000 + 1 + clip;
      cfg.appearance_seed = app;
      cfg.start_hour = clock_hour(app, 100 + clip);
      eh::data::PenSimulator sim(cfg);
      const int last = (opt.frames - 1) * opt.frame_stride;
      for (int f = 0; f <= last; ++f) {
        sim.step();
        if (f % opt.frame_stride != 0) continue;
        std::vector<cv::Rect2f> boxes;
        std::vector<eh::data::Rle> masks;
        std::vector<int> ids;
        std::vector<std::vector<float>> hs;
        for (const auto& g : sim.ground_truth()) {
          if (g.visibility < opt.min_visibility || g.visible_box.area() <= 0) continue;
          const eh::track::CropMask cm = eh::track::crop_mask(g.mask);
          std::vector<float> h = cm.empty() ? std::vector<float>() : eh::video::colour_histogram_embedding(sim.frame(), cm.bits, cm.roi);
          if (h.empty()) continue;  // both methods see the same animals
          boxes.emplace_back(g.visible_box);
          masks.push_back(g.mask);
          ids.push_back(g.id);
          hs.push_back(std::move(h));
        }
        const auto e = embedder.embed(sim.frame(), boxes, &masks);
        auto& M = mine[static_cast<size_t>(p)];
        auto& H = hist[static_cast<size_t>(p)];
        for (size_t i = 0; i < boxes.size(); ++i) {
          (clip == 0 ? M.gallery : M.query).push_back(e[i]);
          (clip == 0 ? M.gallery_ids : M.query_ids).push_back(ids[i]);
          (clip == 0 ? H.gallery : H.query).push_back(hs[i]);
          (clip == 0 ? H.gallery_ids : H.query_ids).push_back(ids[i]);
        }
      }
    }
    if (opt.progress) bar.update(p + 1, opt.pens);
  }
  return {score("dinov3-embedder", mine, false),         score("dinov3-embedder", mine, true),
          score_members("dinov3-embedder", mine, false), score_members("dinov3-embedder", mine, true),
          score("colour-histogram", hist, false),        score("colour-histogram", hist, true)};
}

EmbedderTrainReport train_embedder(const EmbedderTrainOptions& o) {
  const auto t_start = Clock::now();
  if (o.out_dir.empty()) throw UsageError("train-embedder: --out is required");
  if (o.first_pen < 1 || o.train_pens < 1 || o.first_pen + o.train_pens - 1 >= 9001)
    throw UsageError(fmt::format("train-embedder: training appearance seeds {}..{} must lie in 1..9000 (9001..9999 are held out)",
                                 o.first_pen, o.first_pen + o.train_pens - 1));
  if (o.clips_per_pen < 1 || o.frames_per_clip < 1 || o.frame_stride < 1 || o.steps < 1 || o.batch < 2)
    throw UsageError("train-embedder: clips, frames, stride, steps must be >= 1 and batch >= 2");
  if (fs::exists(fs::path(o.out_dir) / "weights.safetensors") && !o.overwrite)
    throw Error("train-embedder: " + (fs::path(o.out_dir) / "weights.safetensors").string() +
                " exists (pass --overwrite to replace it)");
  const nlohmann::json cj = read_json_file(o.config_path);
  EmbedderConfig cfg = EmbedderConfig::from_json(cj, o.config_path);
  torch::set_num_threads(std::max(1, o.threads));
  torch::manual_seed(o.seed);
  EmbedderTrainReport rep;
  rep.dir = o.out_dir;

  // ---- data
  const int S = cfg.crop_size, St = S * kStoreNum / kStoreDen;
  const float store_margin = ((1 + 2 * cfg.crop_margin) * kStoreNum / kStoreDen - 1) / 2;
  std::vector<CropSample> samples;
  {
    // Pens are independent simulations: `threads` of them at a time, appended in pen order (the
    // crops do not depend on the thread count).
    eh::cli::ProgressBar bar("embedder data");
    std::vector<std::vector<CropSample>> pens(static_cast<size_t>(o.train_pens));
    eh::run_in_rounds(
        o.train_pens, o.threads,
        [&](int i) {
          const uint64_t app = static_cast<uint64_t>(o.first_pen + i);
          for (int k = 0; k < o.clips_per_pen; ++k)
            collect_clip(app, app * 1000 + 1 + k, clock_hour(app, k), o.frames_per_clip, o.frame_stride, o.min_visibility,
                         {St, store_margin}, cfg, &pens[static_cast<size_t>(i)]);
        },
        [&](int first, int count) {
          for (int i = first; i < first + count; ++i) {
            auto& v = pens[static_cast<size_t>(i)];
            std::move(v.begin(), v.end(), std::back_inserter(samples));
            std::vector<CropSample>().swap(v);
          }
          if (o.progress) bar.update(first + count, o.train_pens, fmt::format("{} crops", samples.size()));
        });
  }
  std::map<std::pair<int, int>, int64_t> ident;
  std::vector<int64_t> labels, postures;
  at::Tensor crops = torch::empty({static_cast<int64_t>(samples.size()), St, St, 3}, torch::kUInt8);
  for (size_t i = 0; i < samples.size(); ++i) {
    auto key = std::make_pair(samples[i].pen, samples[i].id);
    auto it = ident.find(key);
    if (it == ident.end()) it = ident.emplace(key, static_cast<int64_t>(ident.size())).first;
    labels.push_back(it->second);
    postures.push_back(samples[i].posture);
    std::memcpy(crops[static_cast<int64_t>(i)].data_ptr<uint8_t>(), samples[i].crop.data, static_cast<size_t>(St * St * 3));
  }
  samples.clear();
  samples.shrink_to_fit();
  rep.identities = static_cast<int>(ident.size());
  rep.crops = static_cast<int>(labels.size());
  if (rep.crops < o.batch) throw Error(fmt::format("train-embedder: only {} crops collected (batch {})", rep.crops, o.batch));
  rep.data_s = seconds_since(t_start);

  // ---- model
  EmbedNet net(cfg);
  net->init_for_training(o.seed);
  net->train();
  const int64_t C = rep.identities, E = cfg.embedding_dim;
  at::Tensor proxies = torch::randn({C, E}) * 0.1;
  proxies.set_requires_grad(true);
  // Auxiliary posture head (training only): keeps standing / sitting / lying readable from the
  // embedding, which the behaviour classifier uses.
  torch::nn::Linear posture_head(E, 4);
  for (const auto& p : net->parameters()) rep.params += p.numel();
  std::vector<std::pair<std::string, at::Tensor>> decay, no_decay;
  for (const auto& p : net->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (p.value().dim() >= 2 && p.key().find("token") == std::string::npos ? decay : no_decay).emplace_back(p.key(), p.value());
  }
  decay.emplace_back("proxies", proxies);
  for (const auto& p : posture_head->named_parameters()) (p.value().dim() >= 2 ? decay : no_decay).emplace_back("posture_head." + p.key(), p.value());
  eh::distill::AdamW opt_d(decay, {o.lr, 0.9, 0.999, 1e-8, o.weight_decay});
  eh::distill::AdamW opt_n(no_decay, {o.lr, 0.9, 0.999, 1e-8, 0.0});
  eh::data::Rng rng(eh::data::derive_seed(o.seed, 77));
  std::vector<double> loss_hist;
  const auto t_train = Clock::now();
  eh::cli::ProgressBar bar("train-embedder");
  const at::Tensor label_t = torch::tensor(labels, torch::kLong);
  const at::Tensor posture_t = torch::tensor(postures, torch::kLong);
  double ema = 0;
  for (int step = 0; step < o.steps; ++step) {
    const double lr = step < o.warmup ? o.lr * (step + 1) / o.warmup
                                      : 0.5 * o.lr * (1 + std::cos(M_PI * (step - o.warmup) / std::max(1, o.steps - o.warmup)));
    std::vector<int64_t> idx(static_cast<size_t>(o.batch));
    for (auto& i : idx) i = rng.uniform_int(0, rep.crops - 1);
    at::Tensor x = augment_batch(crops, idx, S, cfg.body_aligned(), rng);
    at::Tensor y = label_t.index({torch::tensor(idx, torch::kLong)});
    at::Tensor e = net->forward(x);
    at::Tensor w = torch::nn::functional::normalize(proxies, torch::nn::functional::NormalizeFuncOptions().dim(1));
    at::Tensor cosv = torch::matmul(e, w.t());
    at::Tensor logits = o.cos_scale * (cosv - o.cos_margin * torch::one_hot(y, C).to(torch::kFloat));
    const at::Tensor idx_t = torch::tensor(idx, torch::kLong);
    at::Tensor loss = torch::nn::functional::cross_entropy(logits, y) +
                      o.posture_weight * torch::nn::functional::cross_entropy(posture_head(e), posture_t.index({idx_t}));
    opt_d.zero_grad();
    opt_n.zero_grad();
    loss.backward();
    std::vector<std::pair<std::string, at::Tensor>> all = decay;
    all.insert(all.end(), no_decay.begin(), no_decay.end());
    eh::distill::clip_grad_norm(all, 5.0);
    opt_d.step(lr);
    opt_n.step(lr);
    const double l = loss.item<double>();
    loss_hist.push_back(l);
    ema = step == 0 ? l : 0.98 * ema + 0.02 * l;
    if (o.progress) bar.update(step + 1, o.steps, fmt::format("loss {:.3f} lr {:.2e}", ema, lr));
  }
  rep.train_s = seconds_since(t_train);
  {
    const size_t k = std::max<size_t>(1, loss_hist.size() / 10);
    rep.final_loss = std::accumulate(loss_hist.end() - k, loss_hist.end(), 0.0) / k;
  }
  net->eval();

  // ---- write
  fs::create_directories(o.out_dir);
  const std::string wpath = (fs::path(o.out_dir) / "weights.safetensors").string();
  if (fs::exists(wpath)) fs::remove(wpath);
  save_state_dict(*net, wpath, {{"seed", std::to_string(o.seed)}, {"steps", std::to_string(o.steps)}}, true);
  nlohmann::json out_cfg = cfg.to_json();
  out_cfg["notes"] = "Per-animal embedder for pen-tiny: DINOv3 ViT (reduced) -> [CLS, mean patch] -> linear -> L2. Trained by edgeherd train-embedder.";
  out_cfg["seed"] = o.seed;
  {
    std::ofstream f(fs::path(o.out_dir) / "config.json");
    f << out_cfg.dump(2) << "\n";
  }
  {
    eh::report::Series s{"CosFace loss (mean of 25 steps)", {}, {}};
    for (size_t i = 0; i + 25 <= loss_hist.size(); i += 25) {
      s.x.push_back(static_cast<double>(i + 25));
      s.y.push_back(std::accumulate(loss_hist.begin() + i, loss_hist.begin() + i + 25, 0.0) / 25);
    }
    write_file((fs::path(o.out_dir) / "loss.svg").string(),
               eh::report::line_plot_svg({s}, {"Embedder training loss", "step", "loss", 720, 340, false}));
  }

  // ---- evaluate on held-out pens
  const auto t_eval = Clock::now();
  auto emb = load_embedder(o.out_dir);  // what users load, not the in-memory net
  ReidOptions ro;
  ro.pens = o.eval_pens;
  ro.progress = o.progress;
  if (o.eval_pens > 0) rep.reid = evaluate_reid(*emb, ro);
  rep.eval_s = seconds_since(t_eval);
  rep.wall_s = seconds_since(t_start);

  const nlohmann::json mj = reid_json(rep.reid);
  {
    nlohmann::json j = {{"reid", mj}, {"identities", rep.identities}, {"crops", rep.crops}, {"params", rep.params},
                        {"data_s", rep.data_s}, {"train_s", rep.train_s}, {"eval_s", rep.eval_s}, {"wall_s", rep.wall_s},
                        {"final_loss", rep.final_loss}, {"threads", o.threads}, {"seed", o.seed}};
    std::ofstream f(fs::path(o.out_dir) / "reid.json");
    f << j.dump(2) << "\n";
  }
  const auto& b = cfg.backbone;
  std::string card = "# pen-tiny embedder\n\n";
  card += fmt::format(
      "DINOv3 ViT architecture (`dinov3_vit`, src/models/dinov3_vit.h) at a reduced size: patch {}, dim {}, depth {}, "
      "{} heads, {} storage tokens, {}x{} crops; [CLS, mean patch token] -> linear -> {}-d, L2-normalised. "
      "{} parameters ({:.2f} MB float32).\n\n",
      b.patch_size, b.embed_dim, b.depth, b.num_heads, b.n_storage_tokens, S, S, E, rep.params, rep.params * 4 / 1e6);
  card += "## Data\n\n";
  card += fmt::format(
      "Simulated pens (`PenSimulator`, 1280x720, 8 pigs): appearance seeds {}..{} ({} identities), {} clips per "
      "appearance seed (dynamics seed = 1000 * appearance + 1 + clip, random clock time so some clips are infrared "
      "night), {} frames {} apart per clip; crops ({}) of every pig at least {:.0f}% visible: {} crops. "
      "Appearance seeds 9001..9999 are never used for training.\n\n",
      o.first_pen, o.first_pen + o.train_pens - 1, rep.identities, o.clips_per_pen, o.frames_per_clip, o.frame_stride,
      cfg.body_aligned() ? "square on the visible mask's centroid, turned so that its principal axis runs along x"
                         : "square on the visible box",
      100 * o.min_visibility, rep.crops);
  card += "## Training\n\n";
  card += fmt::format(
      "CosFace (normalised softmax with margin) over the identities, s = {}, m = {}, plus {} x cross-entropy of a "
      "linear posture head on the embedding (standing / sitting / lying sternal / lateral; training only, so that the "
      "behaviour classifier can read posture from the embedding); augmentations: scale 0.85-1.15, "
      "shift, {}, brightness/contrast, 20% grey (IR), noise. AdamW lr {} (cosine, {} warm-up steps), "
      "weight decay {}, batch {}, {} steps, seed {}, {} thread(s).\n\n"
      "Command: `{}`\n\nWall time: {:.0f} s (data {:.0f} s, training {:.0f} s, evaluation {:.0f} s). Final loss {:.3f}. "
      "Loss curve: loss.svg.\n\n",
      o.cos_scale, o.cos_margin, o.posture_weight,
      cfg.body_aligned() ? "half-turns (the head either side; the embedding sums both turns)" : "flips, transpose", o.lr,
      o.warmup, o.weight_decay, o.batch, o.steps, o.seed, o.threads,
      o.command.empty() ? "(library call train_embedder)" : o.command, rep.wall_s, rep.data_s, rep.train_s, rep.eval_s,
      rep.final_loss);
  card += fmt::format(
      "## Re-identification on held-out pens\n\n"
      "Appearance seeds {}..{}: per pen, a gallery clip (dynamics seed 1000 a + 1) and a query clip (1000 a + 2) at "
      "different random clock times, {} frames {} apart each; rank-1 = the nearest per-animal gallery mean is the "
      "right animal. Same crops for both embeddings (colour histogram: video/appearance.h, inside the ground-truth "
      "mask). 'centred' subtracts the pen's gallery mean first (as the tracker does). 'nearest member' scores each "
      "animal by its most similar gallery vector; 'store pool' does the same through the longitudinal store's "
      "embedding pool (int8, at most 32 per animal, near-duplicates merged): what the store keeps.\n\n",
      ro.first_pen, ro.first_pen + ro.pens - 1, ro.frames, ro.frame_stride);
  card += format_reid_table(rep.reid);
  write_file((fs::path(o.out_dir) / "card.md").string(), card);
  return rep;
}

}  // namespace eh::animal
