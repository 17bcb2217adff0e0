#include "animal/behaviour_train.h"

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <numeric>

#include "animal/behaviour_net.h"
#include "animal/embedder.h"
#include "animal/posture_train.h"
#include "cli/progress.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/parallel.h"
#include "core/state_dict.h"
#include "data/rng.h"
#include "data/simulator.h"
#include "distill/adamw.h"
#include "report/svg_plot.h"

namespace eh::animal {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr int K = eh::data::kNumBehaviours;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct ClipObs {
  int id = 0;
  cv::Rect2f box;
  MaskShape shape;      // of the visible mask (what the features read)
  eh::data::Rle mask;   // kept only for clips run through the stream
  int label = 0;
  std::vector<float> emb;
  int posture_group = 0;  // ground truth (upright / sitting / lying)
  bool has_posture = false;
  PostureProbs posture{};  // the posture network's output, when one is given
};
struct ClipFrame {
  int index = 0;
  double t = 0;
  std::vector<ClipObs> obs;
};
struct Clip {
  cv::Size size;
  double fps = 6;
  PenLandmarks pen;
  std::vector<ClipFrame> frames;
};

double pen_hour(uint64_t seed, const BehaviourClipOptions& o) {
  eh::data::Rng r(eh::data::derive_seed(seed, 5150));
  return r.uniform(o.min_hour, o.max_hour);
}

// The posture network's output for the observations of one frame (BehaviourModel::posture).
using PostureFn = std::function<std::vector<PostureProbs>(const cv::Mat&, const std::vector<TrackObservation>&)>;

// posture_every > 1: the posture network and the embedder run (and frames are drawn) on every
// k-th frame only; only those observations become training samples (build_samples).
Clip simulate_clip(uint64_t seed, const BehaviourClipOptions& o, const Embedder* emb, const PostureFn* posture,
                   double* embed_s, bool keep_masks, int posture_every = 1) {
  eh::data::SimConfig cfg;
  cfg.seed = seed;
  cfg.start_hour = pen_hour(seed, o);
  if (o.max_activity > 1) {
    eh::data::Rng r(eh::data::derive_seed(seed, 5151));
    cfg.activity = std::exp(r.uniform(0.0, std::log(o.max_activity)));
  }
  cfg.render = emb != nullptr || posture != nullptr;
  if (posture) cfg.render_every = posture_every;
  cfg.masks = true;
  eh::data::PenSimulator sim(cfg);
  Clip c;
  c.size = cfg.size;
  c.fps = cfg.fps;
  c.pen = PenLandmarks::from_layout(sim.layout());
  const int n = static_cast<int>(std::lround(o.minutes * 60 * cfg.fps));
  c.frames.reserve(static_cast<size_t>(n));
  for (int f = 0; f < n; ++f) {
    sim.step();
    ClipFrame fr;
    fr.index = f;
    fr.t = sim.time_s();
    std::vector<TrackObservation> seen;  // for the posture network and the embedder
    for (const auto& g : sim.ground_truth()) {
      if (g.visible_pixels < o.min_visible_pixels || g.visible_box.area() <= 0) continue;
      ClipObs ob;
      ob.id = g.id;
      ob.box = cv::Rect2f(g.visible_box);
      ob.shape = mask_shape(g.mask, ob.box);
      if (keep_masks) ob.mask = g.mask;
      ob.label = static_cast<int>(g.behaviour);
      ob.posture_group = posture_group(g.pose.posture);
      TrackObservation t;
      t.id = g.id;
      t.box = ob.box;
      t.mask = &g.mask;
      seen.push_back(t);
      fr.obs.push_back(std::move(ob));
    }
    if (posture && !seen.empty() && !sim.frame().empty()) {
      const auto q = (*posture)(sim.frame(), seen);
      for (size_t i = 0; i < q.size(); ++i) {
        fr.obs[i].posture = q[i];
        fr.obs[i].has_posture = true;
      }
    }
    if (emb && !seen.empty() && !sim.frame().empty()) {
      std::vector<cv::Rect2f> boxes;
      std::vector<eh::data::Rle> masks;
      for (const auto& t : seen) {
        boxes.push_back(t.box);
        masks.push_back(*t.mask);
      }
      const auto t0 = Clock::now();
      auto e = emb->embed(sim.frame(), boxes, &masks);
      if (embed_s) *embed_s += seconds_since(t0);
      for (size_t i = 0; i < e.size(); ++i) fr.obs[i].emb = std::move(e[i]);
    }
    c.frames.push_back(std::move(fr));
  }
  return c;
}

// Features of every observation through the same TrackHistory code the stream uses. With a
// posture input, only observations that have the posture network's output become samples. With
// a look-ahead, each sample also gets the motion features of its track's latest observation
// within the look-ahead (in_lookahead, the stream's rule; its own at the end of the clip).
void clip_features(const Clip& c, const BehaviourConfig& cfg, std::vector<float>* X, std::vector<int64_t>* y) {
  const auto lm = landmarks_in_pixels(c.pen, c.size);
  std::map<int, TrackHistory> tracks;
  const int F = num_motion_features(), P = cfg.posture_inputs(), emb_dim = cfg.embedding_dim, n = cfg.inputs();
  const int L = cfg.lookahead_frames;
  // Motion features of every observation (frame by frame, in the order of fr.obs).
  std::vector<std::vector<float>> motion(c.frames.size());
  for (size_t f = 0; f < c.frames.size(); ++f) {
    const auto& fr = c.frames[f];
    motion[f].resize(fr.obs.size() * static_cast<size_t>(F));
    for (size_t i = 0; i < fr.obs.size(); ++i) {
      auto& h = tracks[fr.obs[i].id];
      h.lm = &lm;
      h.push_and_features(fr.t, fr.obs[i].box, fr.obs[i].shape, motion[f].data() + i * F);
    }
  }
  for (size_t f = 0; f < c.frames.size(); ++f) {
    const auto& fr = c.frames[f];
    for (size_t i = 0; i < fr.obs.size(); ++i) {
      const auto& o = fr.obs[i];
      if (P > 0 && !o.has_posture) continue;
      const size_t base = X->size();
      X->resize(base + static_cast<size_t>(n), 0.0f);
      float* row = X->data() + base;
      std::copy(motion[f].begin() + i * F, motion[f].begin() + (i + 1) * F, row);
      for (int k = 0; k < P; ++k) row[F + k] = posture_feature(o.has_posture ? o.posture[k] : 1.0f / kPostureGroups);
      if (emb_dim > 0 && static_cast<int>(o.emb.size()) == emb_dim) std::copy(o.emb.begin(), o.emb.end(), row + F + P);
      if (L > 0) {
        const float* ahead = motion[f].data() + i * F;
        for (size_t g = f + 1; g < c.frames.size() && in_lookahead(fr.t, c.frames[g].t, L, c.fps); ++g)
          for (size_t u = 0; u < c.frames[g].obs.size(); ++u)
            if (c.frames[g].obs[u].id == o.id) ahead = motion[g].data() + u * F;
        std::copy(ahead, ahead + F, row + F + P + emb_dim);
      }
      y->push_back(o.label);
    }
  }
}

// Runs a model's stream over one clip (as deployed: boxes, RLE masks, embeddings), adding the
// ground truth and the predictions to the label sets under keys (clip * 1e6 + frame, id).
struct StreamRun {
  eh::eval::LabelSet gt, pred;
  int frames = 0, observations = 0;
  double update_s = 0;
};

void run_stream(const BehaviourModel& m, const Clip& c, int64_t clip_index, StreamRun* run) {
  auto stream = m.new_stream(c.size, c.fps);
  // With a lag, a frame's labels are final once lag_frames later frames have been seen (or at
  // the end of the clip), as the pipeline emits them.
  const int lag = m.lag_frames();
  auto finalise = [&](const ClipFrame& fr) {
    for (const auto& o : fr.obs)
      if (const auto r = stream->revised(o.id, fr.t)) run->pred.labels[{clip_index * 1000000 + fr.index, o.id}] = static_cast<int>(r->label);
  };
  for (size_t f = 0; f < c.frames.size(); ++f) {
    const auto& fr = c.frames[f];
    std::vector<TrackObservation> obs;
    obs.reserve(fr.obs.size());
    for (const auto& o : fr.obs) {
      TrackObservation t;
      t.id = o.id;
      t.t = fr.t;
      t.box = o.box;
      t.mask = &o.mask;
      t.embedding = o.emb.empty() ? nullptr : &o.emb;
      t.posture = o.has_posture ? &o.posture : nullptr;
      obs.push_back(t);
    }
    const auto t0 = Clock::now();
    const auto p = stream->update(obs);
    run->update_s += seconds_since(t0);
    ++run->frames;
    for (size_t i = 0; i < obs.size(); ++i) {
      const std::pair<int64_t, int64_t> key{clip_index * 1000000 + fr.index, obs[i].id};
      run->gt.labels[key] = fr.obs[i].label;
      run->pred.labels[key] = static_cast<int>(p[i].label);
      ++run->observations;
    }
    if (lag > 0 && f >= static_cast<size_t>(lag)) finalise(c.frames[f - static_cast<size_t>(lag)]);
  }
  if (lag > 0)
    for (size_t f = c.frames.size() > static_cast<size_t>(lag) ? c.frames.size() - static_cast<size_t>(lag) : 0; f < c.frames.size(); ++f)
      finalise(c.frames[f]);
}

// Fills rep.boundary_*: keys are (clip * 1e6 + frame, id); an animal's frames within a clip are
// consecutive unless it was unobserved (a gap breaks its sequence).
void boundary_breakdown(const StreamRun& run, BehaviourEvalReport* rep) {
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> seqs;  // (clip, id) -> frames
  for (const auto& kv : run.gt.labels) seqs[{kv.first.first / 1000000, kv.first.second}].push_back(kv.first.first % 1000000);
  for (auto& [cid, seq] : seqs) {
    std::sort(seq.begin(), seq.end());
    const size_t n = seq.size();
    std::vector<int> label(n);
    for (size_t i = 0; i < n; ++i) label[i] = run.gt.labels.at({cid.first * 1000000 + seq[i], cid.second});
    // Distance to the nearest frame whose label differs from its predecessor's (observed in turn).
    const int64_t far = std::numeric_limits<int64_t>::max() / 4;
    std::vector<int64_t> dist(n, far);
    int64_t last = -far;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0 && label[i] != label[i - 1]) last = seq[i];
      dist[i] = std::min(dist[i], seq[i] - last);
    }
    last = far;
    for (size_t i = n; i-- > 0;) {
      if (i + 1 < n && label[i + 1] != label[i]) last = seq[i + 1];
      dist[i] = std::min(dist[i], last - seq[i]);
    }
    for (size_t i = 0; i < n; ++i) {
      int b = 0;
      while (b < BehaviourEvalReport::kBoundaryBuckets - 1 && dist[i] > BehaviourEvalReport::kBoundaryEdges[b]) ++b;
      const auto it = run.pred.labels.find({cid.first * 1000000 + seq[i], cid.second});
      ++rep->boundary_total[b];
      rep->boundary_wrong[b] += it == run.pred.labels.end() || it->second != label[i];
    }
  }
}

// Per-frame label transitions of the clips' animals (row = from, column = to), over pairs of
// consecutive frames in which the animal is observed; a pseudo-count keeps every transition
// between the 8 real classes possible. Class 0 (unknown, never produced) stays on itself.
std::vector<std::vector<double>> label_transitions(const std::vector<Clip>& clips, double pseudo = 0.1) {
  std::vector<std::vector<double>> n(K, std::vector<double>(K, 0.0));
  for (const auto& c : clips) {
    std::map<int, std::pair<int, int>> last;  // id -> (frame index, label)
    for (const auto& fr : c.frames)
      for (const auto& o : fr.obs) {
        const auto it = last.find(o.id);
        if (it != last.end() && it->second.first == fr.index - 1) n[it->second.second][o.label] += 1;
        last[o.id] = {fr.index, o.label};
      }
  }
  for (int r = 0; r < K; ++r) {
    double sum = 0;
    for (int c = 1; c < K; ++c) sum += (n[r][c] += r > 0 ? pseudo : 0.0);
    for (int c = 0; c < K; ++c) n[r][c] = sum > 0 ? n[r][c] / sum : (r == c);
  }
  return n;
}

BehaviourEvalReport finish_run(const StreamRun& run) {
  BehaviourEvalReport rep;
  rep.result = eh::eval::evaluate_classification(run.gt, run.pred, eh::eval::edinburgh_pig_classes());
  boundary_breakdown(run, &rep);
  rep.frames = run.frames;
  rep.observations = run.observations;
  rep.ms_per_frame = run.frames ? 1000 * run.update_s / run.frames : 0;
  return rep;
}

// Each pen (clip) of the run scored on its own, in clip order.
std::vector<eh::eval::ClassificationResult> results_per_pen(const StreamRun& run) {
  std::map<int64_t, std::pair<eh::eval::LabelSet, eh::eval::LabelSet>> pens;  // clip -> (truth, predictions)
  for (const auto& kv : run.gt.labels) pens[kv.first.first / 1000000].first.labels.insert(kv);
  for (const auto& kv : run.pred.labels) pens[kv.first.first / 1000000].second.labels.insert(kv);
  const int64_t n = pens.empty() ? 0 : pens.rbegin()->first + 1;
  std::vector<eh::eval::ClassificationResult> units;
  for (int64_t clip = 0; clip < n; ++clip) {  // a pen with no observation scores as empty
    const auto& sets = pens[clip];
    units.push_back(eh::eval::evaluate_classification(sets.first, sets.second, eh::eval::edinburgh_pig_classes()));
  }
  return units;
}

// One row per pen: its score and its most frequent error, so that a pen (or an animal in it)
// that holds many of the errors stands out.
std::string per_pen_markdown(const std::vector<eh::eval::ClassificationResult>& pens, int first_seed) {
  std::string s = "| pen | observations | top-1 | macro-F1 | errors | most frequent error |\n| ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (size_t i = 0; i < pens.size(); ++i) {
    const auto& r = pens[i];
    int64_t worst = 0;
    std::string what = "-";
    for (size_t g = 0; g < r.confusion.size(); ++g)
      for (size_t p = 0; p < r.confusion[g].size(); ++p)
        if (g != p && r.confusion[g][p] > worst) {
          worst = r.confusion[g][p];
          what = fmt::format("{} called {} ({})", r.class_names[g], r.class_names[p], worst);
        }
    s += fmt::format("| {} | {} | {:.2f}% | {:.2f}% | {} | {} |\n", first_seed + static_cast<int>(i), r.num_gt, 100 * r.accuracy,
                     100 * r.macro_f1, r.num_gt - r.num_correct, what);
  }
  return s;
}

void write_json(const std::string& path, const nlohmann::json& j) { eh::report::write_text(path, j.dump(2) + "\n"); }

std::string pct(double x) { return fmt::format("{:.2f}%", 100 * x); }

// Pens first .. first + count - 1, `threads` at a time (each pen is its own simulation, so the
// clips do not depend on the thread count).
std::vector<Clip> make_clips(int first, int count, const BehaviourClipOptions& o, const Embedder* emb, const PostureFn* posture,
                             const std::string& what, bool progress, double* embed_s, bool keep_masks, int threads,
                             int posture_every = 1) {
  std::vector<Clip> clips(static_cast<size_t>(std::max(0, count)));
  std::vector<double> pen_embed_s(clips.size(), 0.0);
  eh::cli::ProgressBar bar(what);
  eh::run_in_rounds(
      count, threads,
      [&](int i) {
        clips[static_cast<size_t>(i)] = simulate_clip(static_cast<uint64_t>(first + i), o, emb, posture,
                                                      &pen_embed_s[static_cast<size_t>(i)], keep_masks, posture_every);
      },
      [&](int done, int n) {
        if (progress) bar.update(done + n, count);
      });
  if (embed_s)
    for (double v : pen_embed_s) *embed_s += v;
  return clips;
}

}  // namespace

const char* BehaviourEvalReport::boundary_bucket_name(int b) {
  static const char* names[kBoundaryBuckets] = {"within 1 s of a true label change", "1-3 s from one", "farther"};
  return b >= 0 && b < kBoundaryBuckets ? names[b] : "?";
}

std::string confusion_markdown(const eh::eval::ClassificationResult& r) {
  const size_t n = r.class_names.size();
  std::string s = "| truth \\ predicted |";
  for (size_t j = 1; j < n; ++j) s += " " + r.class_names[j] + " |";
  s += " recall |\n| --- |";
  for (size_t j = 1; j < n; ++j) s += " ---: |";
  s += " ---: |\n";
  for (size_t i = 1; i < n; ++i) {
    s += "| " + r.class_names[i] + " |";
    for (size_t j = 1; j < n; ++j) s += " " + std::to_string(r.confusion[i][j]) + " |";
    s += fmt::format(" {:.1f}% |\n", 100 * r.per_class[i].recall);
  }
  return s;
}

std::string confusion_svg(const eh::eval::ClassificationResult& r, const std::string& title) {
  // Rows normalised by the truth count; class 0 (unknown: never produced, never predicted) left out.
  const int n = static_cast<int>(r.class_names.size()) - 1;
  const int cell = 56, left = 110, top = 60, W = left + n * cell + 20, H = top + n * cell + 90;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"20\" font-size=\"14\" text-anchor=\"middle\">{}</text>\n",
      W, H, W, H, W / 2, title);
  for (int i = 0; i < n; ++i) {
    int64_t row = 0;
    for (int j = 0; j < n; ++j) row += r.confusion[i + 1][j + 1];
    for (int j = 0; j < n; ++j) {
      const double f = row ? double(r.confusion[i + 1][j + 1]) / row : 0;
      const int shade = static_cast<int>(255 - 200 * f);
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},255)\" stroke=\"#ccc\"/>\n",
                       left + j * cell, top + i * cell, cell, cell, shade, shade);
      if (r.confusion[i + 1][j + 1] > 0)
        s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{:.1f}</text>\n", left + j * cell + cell / 2,
                         top + i * cell + cell / 2 + 4, f > 0.5 ? "white" : "black", 100 * f);
    }
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 6, top + i * cell + cell / 2 + 4,
                     r.class_names[i + 1]);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" transform=\"rotate(-45 {} {})\">{}</text>\n",
                     left + i * cell + cell / 2, top + n * cell + 14, left + i * cell + cell / 2, top + n * cell + 14,
                     r.class_names[i + 1]);
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">predicted (row %, truth = row)</text>\n", left + n * cell / 2,
                   H - 8);
  s += "</svg>\n";
  return s;
}

BehaviourEvalReport eval_behaviour(const BehaviourEvalOptions& o) {
  torch::set_num_threads(std::max(1, o.threads));
  if (o.pens <= 0) throw UsageError("eval-behaviour: --pens must be > 0");
  auto model = load_behaviour_model(o.model_dir);
  std::shared_ptr<const Embedder> emb;
  if (model->embedding_dim() > 0) {
    if (o.embedder_dir.empty())
      throw UsageError("eval-behaviour: the model in '" + o.model_dir + "' uses " + std::to_string(model->embedding_dim()) +
                       "-d embeddings: pass --embedder DIR");
    emb = load_embedder(o.embedder_dir);
    if (emb->dim() != model->embedding_dim())
      throw Error("eval-behaviour: embedder '" + o.embedder_dir + "' gives " + std::to_string(emb->dim()) +
                  "-d embeddings, the behaviour model expects " + std::to_string(model->embedding_dim()));
  }
  if (!o.smoothing) {
    // Same weights, stay = 0: a temporary copy of the model directory's config.
    nlohmann::json j = read_json_file((fs::path(o.model_dir) / "config.json").string());
    j["stay"] = 0.0;
    const fs::path tmp = fs::temp_directory_path() / fmt::format("eh-behaviour-nosmooth-{}", ::getpid());
    fs::create_directories(tmp);
    write_json((tmp / "config.json").string(), j);
    fs::copy_file(fs::path(o.model_dir) / "weights.safetensors", tmp / "weights.safetensors", fs::copy_options::overwrite_existing);
    model = load_behaviour_model(tmp.string());
    fs::remove_all(tmp);
  }
  double embed_s = 0;
  StreamRun run;
  PostureFn posture;
  if (model->uses_pixels())
    posture = [&model](const cv::Mat& bgr, const std::vector<TrackObservation>& obs) { return model->posture(bgr, obs); };
  eh::cli::ProgressBar bar("eval-behaviour pens");
  // `threads` pens at a time, each simulated and run through its own stream, then merged in pen
  // order; only that many pens' masks are held at once.
  std::vector<StreamRun> pen_runs(static_cast<size_t>(o.pens));
  std::vector<double> pen_embed_s(pen_runs.size(), 0.0);
  eh::run_in_rounds(
      o.pens, o.threads,
      [&](int i) {
        const Clip c = simulate_clip(static_cast<uint64_t>(o.first_seed + i), o.clip, emb.get(), posture ? &posture : nullptr,
                                     &pen_embed_s[static_cast<size_t>(i)], true);
        run_stream(*model, c, i, &pen_runs[static_cast<size_t>(i)]);
      },
      [&](int first, int count) {
        for (int i = first; i < first + count; ++i) {
          StreamRun& r = pen_runs[static_cast<size_t>(i)];
          run.gt.labels.insert(r.gt.labels.begin(), r.gt.labels.end());
          run.pred.labels.insert(r.pred.labels.begin(), r.pred.labels.end());
          run.frames += r.frames;
          run.observations += r.observations;
          run.update_s += r.update_s;
          embed_s += pen_embed_s[static_cast<size_t>(i)];
          r = StreamRun{};
        }
        if (o.progress) bar.update(first + count, o.pens);
      });
  BehaviourEvalReport rep = finish_run(run);
  // The 95% interval over the pens: each pen scored on its own, then resampled.
  rep.per_pen = results_per_pen(run);
  if (!rep.per_pen.empty()) rep.interval = eh::eval::bootstrap_interval(rep.per_pen, 2000, 1);
  rep.embed_ms_per_frame = rep.frames ? 1000 * embed_s / rep.frames : 0;
  rep.pens_at_a_time = std::clamp(o.threads, 1, o.pens);
  if (!o.out_dir.empty()) {
    fs::create_directories(o.out_dir);
    const std::string title = fmt::format("Behaviour on held-out pens {}..{}: top-1 {}, macro-F1 {}", o.first_seed,
                                          o.first_seed + o.pens - 1, pct(rep.result.accuracy), pct(rep.result.macro_f1));
    eh::report::write_text((fs::path(o.out_dir) / "confusion.svg").string(), confusion_svg(rep.result, title));
    eh::report::write_text((fs::path(o.out_dir) / "confusion.md").string(),
                           "# " + title + "\n\n" + confusion_markdown(rep.result) + "\n" + eh::eval::format_table(rep.result));
    nlohmann::json j = eh::eval::to_json(rep.result);
    j["frames"] = rep.frames;
    j["observations"] = rep.observations;
    j["ms_per_frame"] = rep.ms_per_frame;
    j["embed_ms_per_frame"] = rep.embed_ms_per_frame;
    j["pens_at_a_time"] = rep.pens_at_a_time;
    j["pens"] = {o.first_seed, o.first_seed + o.pens - 1};
    j["smoothing"] = o.smoothing;
    nlohmann::json bj = nlohmann::json::array();
    for (int b = 0; b < BehaviourEvalReport::kBoundaryBuckets; ++b)
      bj.push_back({{"where", BehaviourEvalReport::boundary_bucket_name(b)},
                    {"observations", rep.boundary_total[b]},
                    {"wrong", rep.boundary_wrong[b]}});
    j["errors_by_distance_to_label_change"] = bj;
    const auto& ci = rep.interval;
    j["interval_over_pens"] = {{"method", "percentile bootstrap over pens"}, {"level", ci.level},      {"pens", ci.units},
                               {"resamples", ci.resamples},                  {"top1", {ci.accuracy_lo, ci.accuracy_hi}},
                               {"macro_f1", {ci.macro_f1_lo, ci.macro_f1_hi}}};
    nlohmann::json pj = nlohmann::json::array();
    for (size_t i = 0; i < rep.per_pen.size(); ++i) {
      const auto& r = rep.per_pen[i];
      pj.push_back({{"pen", o.first_seed + static_cast<int>(i)},
                    {"observations", r.num_gt},
                    {"top1", r.accuracy},
                    {"macro_f1", r.macro_f1},
                    {"confusion", r.confusion}});
    }
    j["per_pen"] = pj;
    write_json((fs::path(o.out_dir) / "metrics.json").string(), j);
    eh::report::write_text((fs::path(o.out_dir) / "pens.md").string(), per_pen_markdown(rep.per_pen, o.first_seed));
  }
  return rep;
}

BehaviourTrainReport train_behaviour(const BehaviourTrainOptions& o) {
  const auto t_start = Clock::now();
  if (o.out_dir.empty()) throw UsageError("train-behaviour: --out is required");
  auto overlaps_heldout = [](int a, int n) { return a + n - 1 >= 9001 && a <= 9999; };
  if (o.train_pens < 1 || o.first_seed < 1 || overlaps_heldout(o.first_seed, o.train_pens) ||
      (o.val_pens > 0 && overlaps_heldout(o.first_val_seed, o.val_pens)))
    throw UsageError("train-behaviour: training and validation seeds must avoid 9001..9999 (held out)");
  if (o.val_pens > 0 && o.first_val_seed < o.first_seed + o.train_pens && o.first_val_seed + o.val_pens > o.first_seed)
    throw UsageError("train-behaviour: validation seeds overlap the training seeds");
  if (fs::exists(fs::path(o.out_dir) / "weights.safetensors") && !o.overwrite)
    throw Error("train-behaviour: " + (fs::path(o.out_dir) / "weights.safetensors").string() +
                " exists (pass --overwrite to replace it)");
  torch::set_num_threads(std::max(1, o.threads));
  torch::manual_seed(o.seed);
  BehaviourTrainReport rep;
  rep.dir = o.out_dir;
  std::shared_ptr<const Embedder> emb;
  if (!o.embedder_dir.empty()) emb = load_embedder(o.embedder_dir);
  BehaviourConfig cfg;
  cfg.embedding_dim = emb ? emb->dim() : 0;
  cfg.hidden = o.hidden;
  if (o.lag_frames < 0 || o.lag_frames > 60) throw UsageError("train-behaviour: --lag-frames must be in 0..60");
  if (o.lookahead_frames < 0 || (o.lookahead_frames > 0 && o.lookahead_frames != o.lag_frames))
    throw UsageError(fmt::format("train-behaviour: --lookahead-frames ({}) must be 0 or equal --lag-frames ({})", o.lookahead_frames,
                                 o.lag_frames));
  cfg.lag_frames = o.lag_frames;
  cfg.lookahead_frames = o.lookahead_frames;
  {
    eh::data::SimConfig sc;
    cfg.pen = PenLandmarks::from_layout(eh::data::make_pen_layout(sc.size));
    cfg.fps = sc.fps;
  }

  // ---- posture network first (pens of its own), then its outputs are inputs of the MLP
  PostureTrainResult posture;
  PostureFn posture_fn;
  if (o.posture.pens > 0 || !o.posture.from_dir.empty()) {
    const int a = o.posture.first_seed, b = a + o.posture.pens;
    if (o.posture.from_dir.empty() &&
        ((a < o.first_seed + o.train_pens && b > o.first_seed) || (o.val_pens > 0 && a < o.first_val_seed + o.val_pens && b > o.first_val_seed)))
      throw UsageError("train-behaviour: posture pen seeds overlap the training or validation seeds");
    posture = o.posture.from_dir.empty() ? train_posture(o.posture, o.clip, o.seed, o.threads, o.progress) : load_trained_posture(o.posture.from_dir);
    cfg.has_posture = true;
    cfg.posture = posture.cfg;
    rep.posture_samples = posture.samples;
    rep.posture_s = posture.data_s + posture.train_s;
    posture_fn = [&](const cv::Mat& bgr, const std::vector<TrackObservation>& obs) {
      return posture_probs(posture.net, posture.cfg, bgr, obs);
    };
  }
  const PostureFn* pf = cfg.has_posture ? &posture_fn : nullptr;

  // ---- data
  double embed_s = 0;
  const auto train = make_clips(o.first_seed, o.train_pens, o.clip, emb.get(), pf, "behaviour train pens", o.progress, &embed_s, false,
                                o.threads, std::max(1, o.posture.mlp_every));
  BehaviourClipOptions as_deployed = o.clip;
  as_deployed.max_activity = 1;
  const auto val = make_clips(o.first_val_seed, o.val_pens, as_deployed, emb.get(), pf, "behaviour val pens", o.progress, &embed_s, true,
                              o.threads);
  if (cfg.has_posture) {  // the posture network on the validation pens' animals
    int64_t right = 0, total = 0;
    for (const auto& c : val)
      for (const auto& fr : c.frames)
        for (const auto& ob : fr.obs) {
          const int best = static_cast<int>(std::max_element(ob.posture.begin(), ob.posture.end()) - ob.posture.begin());
          right += best == ob.posture_group;
          ++total;
        }
    rep.posture_val_accuracy = total ? static_cast<double>(right) / total : 0;
    if (o.progress) std::fprintf(stderr, "posture network on the validation pens: %.2f%% of %lld animals\n", 100 * rep.posture_val_accuracy, static_cast<long long>(total));
  }
  std::vector<float> Xv;
  std::vector<int64_t> yv;
  for (const auto& c : train) clip_features(c, cfg, &Xv, &yv);
  const int64_t N = static_cast<int64_t>(yv.size()), D = cfg.inputs();
  rep.train_samples = static_cast<int>(N);
  if (N < o.batch) throw Error(fmt::format("train-behaviour: only {} training samples", N));
  at::Tensor X = torch::from_blob(Xv.data(), {N, D}, torch::kFloat).clone();
  at::Tensor Y = torch::tensor(yv, torch::kLong);
  Xv.clear();
  Xv.shrink_to_fit();
  rep.data_s = seconds_since(t_start);

  // ---- model
  BehaviourNet net(cfg);
  {
    torch::NoGradGuard g;
    net->feat_mean.copy_(X.mean(0));
    net->feat_std.copy_(X.std(0).clamp_min(1e-3));
    if (cfg.has_posture) {  // the trained posture network, saved with the MLP as "posture.*"
      const auto src = posture.net->named_parameters(), srcb = posture.net->named_buffers();
      for (auto& p : net->posture->named_parameters()) p.value().copy_(src[p.key()]);
      for (auto& p : net->posture->named_buffers()) p.value().copy_(srcb[p.key()]);
      net->posture->eval();
    }
  }
  // Class weights 1/sqrt(frequency) (normalised to mean 1 over present classes): rare classes
  // (drinking, running, playing) count more, for macro-F1, without drowning lying.
  at::Tensor counts = torch::bincount(Y, {}, K).to(torch::kFloat);
  at::Tensor w = torch::where(counts > 0, 1.0 / counts.clamp_min(1).sqrt(), torch::zeros_like(counts));
  w = w / (w.sum() / (counts > 0).sum());
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& p : net->mlp->named_parameters()) params.emplace_back("mlp." + p.key(), p.value());  // not the posture network
  eh::distill::AdamW opt(params, {o.lr, 0.9, 0.999, 1e-8, o.weight_decay});
  const int64_t steps_per_epoch = (N + o.batch - 1) / o.batch, total = steps_per_epoch * o.epochs;
  eh::cli::ProgressBar bar("train-behaviour");
  std::vector<double> loss_hist;
  const auto t_train = Clock::now();
  int64_t step = 0;
  net->mlp->train();
  for (int ep = 0; ep < o.epochs; ++ep) {
    at::Tensor perm = torch::randperm(N, torch::kLong);
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      at::Tensor idx = perm.slice(0, b * o.batch, std::min(N, (b + 1) * o.batch));
      const double lr = 0.5 * o.lr * (1 + std::cos(M_PI * step / std::max<int64_t>(1, total)));
      at::Tensor loss = torch::nn::functional::cross_entropy(
          net->forward(X.index({idx})), Y.index({idx}), torch::nn::functional::CrossEntropyFuncOptions().weight(w));
      opt.zero_grad();
      loss.backward();
      opt.step(lr);
      loss_hist.push_back(loss.item<double>());
      if (o.progress) bar.update(step + 1, total, fmt::format("epoch {} loss {:.4f}", ep + 1, loss_hist.back()));
    }
  }
  net->eval();
  rep.train_s = seconds_since(t_train);

  // ---- write, then choose the smoothing constant on the validation pens through the stream
  fs::create_directories(o.out_dir);
  const std::string wpath = (fs::path(o.out_dir) / "weights.safetensors").string();
  if (fs::exists(wpath)) fs::remove(wpath);
  save_state_dict(*net, wpath, {{"seed", std::to_string(o.seed)}}, true);
  auto write_cfg = [&](double stay) {
    cfg.stay = stay;
    nlohmann::json j = cfg.to_json();
    j["notes"] = "Behaviour classifier for pen-tiny (edgeherd train-behaviour): motion/shape/position features" +
                 std::string(cfg.has_posture ? " + the posture network's log-probabilities (pixels)" : "") +
                 std::string(cfg.embedding_dim ? " + the embedder's vector" : "") +
                 " -> MLP -> 9 logits (unknown never predicted) -> forward filter" +
                 std::string(cfg.lookahead_frames > 0 ? ", reading the motion of lookahead_frames frames later."
                             : cfg.lag_frames > 0         ? ", labels revised with the next lag_frames frames."
                                                          : ".");
    j["seed"] = o.seed;
    j["scoring"] = "class 0 'unknown' is never produced by the simulator and never predicted: top-1 over all "
                   "observations, macro-F1 over the 8 classes present";
    write_json((fs::path(o.out_dir) / "config.json").string(), j);
  };
  nlohmann::json val_rows = nlohmann::json::array();
  double best = -1;
  const auto learned = label_transitions(train);
  // Livelier training pens shift the class frequencies away from the deployed ones (the
  // validation pens'): a logit bias log(deployed / training frequency), scaled by one of
  // o.prior_shift_grid, undoes some of the shift (0 keeps the livelier prior).
  std::vector<double> shift(K, 0.0);
  {
    std::vector<double> ntr(K, 0.0), nval(K, 0.0);
    for (int64_t y : yv) ntr[static_cast<size_t>(y)] += 1;
    for (const auto& c : val)
      for (const auto& fr : c.frames)
        for (const auto& ob : fr.obs) nval[static_cast<size_t>(ob.label)] += 1;
    const double st = std::accumulate(ntr.begin(), ntr.end(), 0.0), sv = std::accumulate(nval.begin(), nval.end(), 0.0);
    for (int k = 1; k < K; ++k)
      if (ntr[k] > 0 && nval[k] > 0) shift[k] = std::log((nval[k] / sv) / (ntr[k] / st));
  }
  auto smoothing = [&](double lambda, bool use_learned) {
    cfg.transitions = use_learned ? learned : std::vector<std::vector<double>>{};
    cfg.logit_bias.clear();
    if (lambda != 0)
      for (double v : shift) cfg.logit_bias.push_back(lambda * v);
  };
  std::vector<std::pair<double, bool>> variants;  // (prior shift, learned transitions)
  for (const double lambda : o.clip.max_activity > 1 ? o.prior_shift_grid : std::vector<double>{0.0})
    for (const bool use_learned : {false, true}) variants.emplace_back(lambda, use_learned);
  for (const auto& [lambda, use_learned] : variants) {
    smoothing(lambda, use_learned);
    for (double stay : o.stay_grid) {
      // With stay 0 the filter never reads the transitions: the identity row already ran it.
      if (use_learned && stay == 0) continue;
      write_cfg(stay);
      if (val.empty()) break;
      auto m = load_behaviour_model(o.out_dir);
      StreamRun run;
      for (size_t i = 0; i < val.size(); ++i) run_stream(*m, val[i], static_cast<int64_t>(i), &run);
      const auto r = finish_run(run);
      const double score = r.result.accuracy + r.result.macro_f1;
      val_rows.push_back({{"transitions", use_learned ? "training pens" : "identity"},
                          {"prior_shift", lambda},
                          {"stay", stay},
                          {"top1", r.result.accuracy},
                          {"macro_f1", r.result.macro_f1}});
      if (o.progress)
        std::fprintf(stderr, "validation prior shift %.1f, %s transitions, stay %.2f: top-1 %s macro-F1 %s\n", lambda,
                     use_learned ? "learned" : "identity", stay, pct(r.result.accuracy).c_str(), pct(r.result.macro_f1).c_str());
      if (score > best) {
        best = score;
        rep.chosen_stay = stay;
        rep.chosen_transitions = use_learned;
        rep.chosen_prior_shift = lambda;
        rep.val_accuracy = r.result.accuracy;
        rep.val_macro_f1 = r.result.macro_f1;
      }
    }
  }
  smoothing(rep.chosen_prior_shift, rep.chosen_transitions);
  write_cfg(rep.chosen_stay);
  {
    auto per_step = [](const std::string& name, const std::vector<double>& loss) {
      eh::report::Series s{name, {}, loss};
      for (size_t i = 0; i < loss.size(); ++i) s.x.push_back(static_cast<double>(i + 1));
      return s;
    };
    std::vector<eh::report::Series> series{per_step("weighted cross-entropy", loss_hist)};
    if (!posture.loss.empty()) series.push_back(per_step("posture network (its own steps)", posture.loss));
    eh::report::write_text((fs::path(o.out_dir) / "loss.svg").string(),
                           eh::report::line_plot_svg(series, {"Behaviour classifier training loss", "step", "loss", 720, 340, true}));
  }
  rep.wall_s = seconds_since(t_start);

  // ---- held-out test
  std::string test_md;
  if (o.eval_pens > 0) {
    BehaviourEvalOptions eo;
    eo.model_dir = o.out_dir;
    eo.embedder_dir = o.embedder_dir;
    eo.pens = o.eval_pens;
    eo.clip = as_deployed;
    eo.out_dir = o.out_dir;
    eo.progress = o.progress;
    eo.threads = o.threads;
    rep.test = eval_behaviour(eo);
    const auto& r = rep.test.result;
    test_md = fmt::format(
        "## Held-out evaluation\n\nPens {}..{} ({} min each, ground-truth boxes and masks as input, the stream as "
        "deployed): **top-1 {}**, **macro-F1 {}** over {} observations ({} classes scored; 'unknown' never occurs "
        "and is never predicted); 95% interval over the pens (percentile bootstrap): top-1 {}..{}, macro-F1 {}..{}. "
        "BehaviourStream::update: {:.2f} ms per frame{}. Confusion: confusion.md, "
        "confusion.svg; metrics.json.\n\nCommand: `edgeherd eval-behaviour --model {}{} --pens {}`\n\n{}\n",
        eo.first_seed, eo.first_seed + eo.pens - 1, o.clip.minutes, pct(r.accuracy), pct(r.macro_f1), r.num_gt,
        r.macro_classes, pct(rep.test.interval.accuracy_lo), pct(rep.test.interval.accuracy_hi), pct(rep.test.interval.macro_f1_lo),
        pct(rep.test.interval.macro_f1_hi), rep.test.ms_per_frame,
        (rep.test.embed_ms_per_frame > 0 ? fmt::format(" (+ {:.1f} ms embedder)", rep.test.embed_ms_per_frame) : "") +
            (rep.test.pens_at_a_time > 1 ? fmt::format(", {} pens at a time on {} threads", rep.test.pens_at_a_time, o.threads) : ""),
        o.out_dir, o.embedder_dir.empty() ? "" : " --embedder " + o.embedder_dir, eo.pens, confusion_markdown(r));
  }
  std::string card = "# pen-tiny behaviour classifier\n\n";
  std::string hid;
  for (int h : cfg.hidden) hid += (hid.empty() ? "" : "-") + std::to_string(h);
  card += fmt::format(
      "Per track and frame: {} motion/shape/position features (docs/animal.md){}{}; MLP {}-{}-9 (GELU) on standardised "
      "inputs{}; forward filter with {} transitions (stay = {:.2f} per frame at {} fps), both chosen on validation pens.{}\n\n",
      num_motion_features(), cfg.has_posture ? " + the posture network's 3 log-probabilities (upright / sitting / lying)" : "",
      cfg.embedding_dim ? fmt::format(" + the {}-d embedding", cfg.embedding_dim) : "", cfg.inputs(), hid,
      rep.chosen_prior_shift != 0 ? fmt::format(", logits shifted by {} x log(validation / training class frequency)", rep.chosen_prior_shift)
                                  : "",
      rep.chosen_transitions ? "the training pens' per-frame label" : "identity (sticky)", rep.chosen_stay, cfg.fps,
      cfg.lookahead_frames > 0
          ? fmt::format(" Look-ahead: the MLP also reads the motion features of the track's latest observation up to {} frames "
                        "later (each label is final {:.2f} s late).",
                        cfg.lookahead_frames, cfg.lookahead_frames / cfg.fps)
      : cfg.lag_frames > 0 ? fmt::format(" Labels are revised with the next {} frames (fixed-lag smoothing: each is final {:.2f} s late).",
                                         cfg.lag_frames, cfg.lag_frames / cfg.fps)
                           : "");
  if (cfg.has_posture && !o.posture.from_dir.empty()) {
    card += fmt::format("## Posture network\n\nTaken unchanged from `{}` (its card describes its training). Accuracy on this "
                        "model's validation pens' animals (ground-truth boxes and masks): {:.2f}%.\n\n",
                        o.posture.from_dir, 100 * rep.posture_val_accuracy);
  } else if (cfg.has_posture) {
    std::string ch;
    for (int c : cfg.posture.channels) ch += (ch.empty() ? "" : "-") + std::to_string(c);
    int64_t pp = 0;
    for (const auto& p : posture.net->parameters()) pp += p.numel();
    card += fmt::format(
        "## Posture network\n\nCNN on the animal's crop ({0}x{0}, margin {1}) plus its mask: {2} stride-2 conv blocks "
        "(conv 3x3, batch norm, ReLU; widths {3}), global mean, linear -> upright / sitting / lying; {4} parameters. Trained "
        "first, on pens {5}..{6} of its own ({7} min each, one frame in {8}, clock time anywhere in the day{19}): {9} crops "
        "(upright {10}, sitting {11}, lying {12}), boxes jittered, half the masks coarsened; {13} epochs, batch {14}, AdamW "
        "lr {15}; {16:.0f} s. Accuracy on the validation pens' animals (ground-truth boxes and masks): {17:.2f}%. The MLP's "
        "training samples are one frame in {18} of its pens (the frames the posture network saw; the motion history "
        "sees every frame).\n\n",
        cfg.posture.crop_size, cfg.posture.margin, cfg.posture.channels.size(), ch, pp, o.posture.first_seed,
        o.posture.first_seed + o.posture.pens - 1, o.posture.minutes, o.posture.every, posture.samples, posture.counts[0],
        posture.counts[1], posture.counts[2], o.posture.epochs, o.posture.batch, o.posture.lr, rep.posture_s,
        100 * rep.posture_val_accuracy, o.posture.mlp_every,
        fmt::format("{}{}", o.posture.max_activity > 1 ? fmt::format(", activity log-uniform in [1, {}]", o.posture.max_activity) : "",
                    o.posture.sit_every > 0 ? fmt::format(", sitting animals from one frame in {}", o.posture.sit_every) : ""));
  }
  card += fmt::format(
      "## Data\n\nGround-truth tracks of simulated pens (1280x720, 6 fps, 8 pigs, hard cases on), {} min each, clock time "
      "of frame 0 drawn per pen in {:.0f}:00-{:.0f}:00; animals with at least {} visible pixels are observed (box = "
      "bounding box of the visible mask). Training pens: seeds {}..{} ({} observations{}); validation (smoothing "
      "constant): {}..{}. Seeds 9001..9999 are held out.\n\n",
      o.clip.minutes, o.clip.min_hour, o.clip.max_hour, o.clip.min_visible_pixels, o.first_seed, o.first_seed + o.train_pens - 1,
      rep.train_samples,
      o.clip.max_activity > 1 ? fmt::format("; activity drawn per pen log-uniform in [1, {}], validation and held-out pens at 1",
                                            o.clip.max_activity)
                              : "",
      o.first_val_seed, o.first_val_seed + o.val_pens - 1);
  card += fmt::format(
      "## Training\n\nWeighted cross-entropy (1/sqrt(class frequency)), AdamW lr {} (cosine), weight decay {}, batch {}, {} "
      "epochs, seed {}, {} thread(s). Command: `{}`\n\nWall time: {:.0f} s (data {:.0f} s, training {:.0f} s). Loss: "
      "loss.svg. Validation: {}\n\n",
      o.lr, o.weight_decay, o.batch, o.epochs, o.seed, o.threads, o.command.empty() ? "(library call train_behaviour)" : o.command,
      rep.wall_s, rep.data_s, rep.train_s, val_rows.dump());
  card += test_md;
  eh::report::write_text((fs::path(o.out_dir) / "card.md").string(), card);
  return rep;
}

}  // namespace eh::animal
