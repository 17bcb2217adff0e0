#include "perception/train.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "core/error.h"
#include "core/parallel.h"
#include "core/runtime.h"
#include "core/state_dict.h"
#include "data/simulator.h"
#include "models/dinov3_vit.h"
#include "distill/adamw.h"
#include "distill/feature_cache.h"
#include "distill/loss.h"
#include "distill/models.h"
#include "distill/trainer.h"
#include "perception/decode.h"
#include "perception/pen_model.h"
#include "perception/seg_loss.h"
#include "report/svg_plot.h"

namespace fs = std::filesystem;

namespace eh::perception {

void check_training_seeds(const SimFrames& f) {
  if (f.seeds < 1 || f.frames_per_seed < 1 || f.stride < 1 || f.pigs < 1)
    throw UsageError("training data: seeds, frames per seed, stride and pigs must be positive");
  const int64_t a = f.first_seed, b = f.first_seed + f.seeds - 1;
  if (a < 0) throw UsageError("training data: seeds must be non-negative");
  if (a <= 9999 && b >= 9001)
    throw UsageError(fmt::format("training data: simulator seeds {}..{} overlap the held-out evaluation seeds 9001..9999", a, b));
}

void for_each_sim_frame(const SimFrames& f,
                        const std::function<void(const cv::Mat&, const cv::Mat&, uint64_t, int64_t)>& fn,
                        const Progress& progress, int workers) {
  check_training_seeds(f);
  const int64_t total = f.seeds * f.frames_per_seed;
  int64_t done = 0;
  struct Taken {
    cv::Mat bgr, labels;
    int64_t index;
  };
  std::vector<std::vector<Taken>> pens(static_cast<size_t>(f.seeds));
  auto seed_of = [&](int s) { return static_cast<uint64_t>(f.first_seed + s); };
  eh::run_in_rounds(
      static_cast<int>(f.seeds), workers,
      [&](int s) {
        data::SimConfig c;
        c.seed = seed_of(s);
        c.num_pigs = f.pigs;
        // Clock times spread over the day, so night (infrared) and dim scenes are in the data.
        c.start_hour = std::fmod(static_cast<double>(c.seed) * 7.37, 24.0);
        data::PenSimulator sim(c);
        auto& taken = pens[static_cast<size_t>(s)];
        for (int64_t i = 0; i < f.frames_per_seed * f.stride; ++i) {
          sim.step();
          if (i % f.stride) continue;
          taken.push_back({sim.frame().clone(), sim.instance_map(), i});  // instance_map() is already a copy
        }
      },
      [&](int first, int count) {
        for (int s = first; s < first + count; ++s) {
          for (const auto& t : pens[static_cast<size_t>(s)]) {
            fn(t.bgr, t.labels, seed_of(s), t.index);
            if (progress) progress("simulate", ++done, total, fmt::format("pen {}", seed_of(s)));
          }
          pens[static_cast<size_t>(s)].clear();
        }
      });
}

namespace {

double lr_at(double lr, double min_ratio, int64_t warmup, int64_t steps, int64_t step) {
  if (step < warmup) return lr * double(step + 1) / double(warmup);
  double t = double(step - warmup) / std::max<double>(1.0, double(steps - warmup));
  return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, t))));
}

// Flips (targets follow: offsets change sign) and photometric changes (gain, bias, tint, noise,
// occasional grey as under infrared), all drawn from `gen`.
void augment(at::Tensor& x, at::Tensor& t, at::Generator& gen) {
  const auto B = x.size(0);
  auto r = torch::rand({B, 3}, gen);
  for (int64_t b = 0; b < B; ++b) {
    if (r[b][0].item<float>() < 0.5f) {
      x[b] = x[b].flip({2});
      t[b] = t[b].flip({2});
      t[b][kOffsetX].neg_();
    }
    if (r[b][1].item<float>() < 0.5f) {
      x[b] = x[b].flip({1});
      t[b] = t[b].flip({1});
      t[b][kOffsetY].neg_();
    }
    if (r[b][2].item<float>() < 0.1f) x[b] = x[b].mean(0, true).expand({3, x.size(2), x.size(3)}).clone();
  }
  auto gain = 1 + 0.3 * (torch::rand({B, 1, 1, 1}, gen) - 0.5) * 2;
  auto bias = 0.1 * (torch::rand({B, 1, 1, 1}, gen) - 0.5) * 2;
  auto tint = 1 + 0.08 * (torch::rand({B, 3, 1, 1}, gen) - 0.5) * 2;
  auto noise = 0.03 * torch::rand({B, 1, 1, 1}, gen) * torch::randn(x.sizes(), gen);
  x = (x * gain * tint + bias + noise).clamp(0, 1);
}

// The head's dense targets of one instance label image as [4, hs, hs] in the head's channel order.
at::Tensor target_tensor(const cv::Mat& labels, int64_t hs, float sigma) {
  auto tg = make_targets(labels, cv::Size(static_cast<int>(hs), static_cast<int>(hs)), sigma);
  auto t = torch::empty({4, hs, hs}, torch::kFloat);
  int c = 0;
  for (const cv::Mat* m : {&tg.foreground, &tg.centre, &tg.dx, &tg.dy})
    t[c++] = torch::from_blob(const_cast<float*>(m->ptr<float>()), {hs, hs}, torch::kFloat);
  return t;
}

NamedTensors prefixed(const NamedTensors& in, const std::string& p) {
  NamedTensors o;
  for (auto& [k, v] : in) o.emplace_back(p + k, v);
  return o;
}

struct Row {
  int64_t step;
  double total, fg, centre, offset, lr;
};

void write_history(const fs::path& dir, const std::vector<Row>& h) {
  std::ofstream f(dir / "history.csv");
  f << "step,total,foreground,centre,offset,lr\n";
  for (const auto& r : h) f << fmt::format("{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n", r.step, r.total, r.fg, r.centre, r.offset, r.lr);
  std::vector<report::Series> s(4);
  const char* names[] = {"total", "foreground (BCE)", "centre (focal)", "offset (L1, cells)"};
  for (int i = 0; i < 4; ++i) s[i].name = names[i];
  for (const auto& r : h) {
    double v[] = {r.total, r.fg, r.centre, r.offset};
    for (int i = 0; i < 4; ++i) {
      s[i].x.push_back(double(r.step));
      s[i].y.push_back(std::max(v[i], 1e-6));
    }
  }
  report::write_text((dir / "loss.svg").string(),
                     report::line_plot_svg(s, {"Segmenter training loss", "step", "loss (unweighted terms)", 720, 340, true}));
}

int64_t count_params(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::string now_utc() {
  auto t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return b;
}

}  // namespace

SegTrainReport train_segmenter(const SegTrainOptions& o, const Progress& progress) {
  auto say = [&](const std::string& ph, int64_t d, int64_t t, const std::string& det) {
    if (progress) progress(ph, d, t, det);
  };
  if (o.out.empty()) throw UsageError("train-segmenter: --out is required");
  if (o.config.empty()) throw UsageError("train-segmenter: --config is required");
  if (o.steps < 1 || o.batch < 1) throw UsageError("train-segmenter: steps and batch must be positive");
  check_training_seeds(o.data);
  const auto t0 = std::chrono::steady_clock::now();
  auto cfg = PenModelConfig::load(o.config);
  const fs::path dest(o.out), out(o.work.empty() ? fs::path("out") / "segmenter-work" / "teacher" : fs::path(o.work));
  fs::create_directories(dest);
  fs::create_directories(out);
  torch::manual_seed(o.seed);
  PenModel model(cfg);
  const int64_t S = cfg.input_size();
  const int64_t g = S / cfg.backbone.trunk.patch_size, hs = cfg.head_size();
  if (cfg.backbone.trunk.grid() != g || g * cfg.backbone.trunk.patch_size != S)
    throw Error(o.config + ": backbone.trunk img_size must be a multiple of patch_size");

  // Frames and dense targets, once.
  const int64_t N = o.data.seeds * o.data.frames_per_seed;
  auto X = torch::empty({N, 3, S, S}, torch::kUInt8);
  auto T = torch::empty({N, 4, hs, hs}, torch::kFloat);
  int64_t n = 0;
  for_each_sim_frame(o.data, [&](const cv::Mat& bgr, const cv::Mat& labels, uint64_t, int64_t) {
    X[n] = (frame_to_tensor(bgr, S)[0] * 255).round().to(torch::kUInt8);
    T[n] = target_tensor(labels, hs, o.sigma);
    ++n;
  }, progress, at::get_num_threads());

  std::vector<std::pair<std::string, at::Tensor>> params;
  for (auto& p : model->named_parameters()) params.emplace_back(p.key(), p.value());
  distill::AdamW opt(params, {o.lr, 0.9, 0.999, 1e-8, o.weight_decay});
  std::vector<Row> hist;
  const fs::path ckpt = out / "checkpoint.safetensors";
  int64_t start = 0;
  if (o.resume && fs::exists(ckpt)) {
    auto f = st::File::open(ckpt.string());
    NamedTensors ost;
    for (const auto& t : f.tensors())
      if (t.name.rfind("opt.", 0) == 0) ost.emplace_back(t.name.substr(4), read_tensor(f, t).clone());
    load_state_dict(*model, f, {true, "model."});
    opt.load_state(ost);
    start = opt.steps();
    std::ifstream h(out / "history.csv");
    std::string line;
    std::getline(h, line);
    while (std::getline(h, line)) {
      Row r{};
      if (std::sscanf(line.c_str(), "%ld,%lf,%lf,%lf,%lf,%lf", &r.step, &r.total, &r.fg, &r.centre, &r.offset, &r.lr) == 6 &&
          r.step < start)
        hist.push_back(r);
    }
    spdlog::info("train-segmenter: resuming from {} at step {}", ckpt.string(), start);
  }
  auto save_checkpoint = [&](int64_t done) {
    NamedTensors all = prefixed(state_dict(*model), "model.");
    for (auto& kv : prefixed(opt.state(), "opt.")) all.push_back(kv);
    write_tensors((out / "checkpoint.safetensors.new").string(), all, {{"step", std::to_string(done)}}, true);
    fs::rename(out / "checkpoint.safetensors.new", ckpt);
    write_history(out, hist);
  };

  SegLossWeights w{o.w_foreground, o.w_centre, o.w_offset};
  SegTrainReport rep;
  rep.frames = N;
  model->train();
  int64_t step = start;
  for (; step < o.steps; ++step) {
    if (distill::stop_requested || (o.stop_after >= 0 && step >= o.stop_after)) {
      rep.interrupted = true;
      break;
    }
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(step) + 1);
    std::vector<int64_t> idx;
    for (int64_t b = 0; b < o.batch; ++b) idx.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(N)));
    auto gen = at::detail::createCPUGenerator(rng());
    auto ii = torch::tensor(idx, torch::kLong);
    auto x = X.index_select(0, ii).to(torch::kFloat).div_(255.0);
    auto t = T.index_select(0, ii);
    if (o.augment) augment(x, t, gen);
    auto L = seg_loss(model->forward(x), t, w);
    opt.zero_grad();
    L.total.backward();
    distill::clip_grad_norm(params, o.clip);
    const double lr = lr_at(o.lr, o.min_lr_ratio, o.warmup, o.steps, step);
    opt.step(lr);
    hist.push_back({step, L.total.item<double>(), L.foreground.item<double>(), L.centre.item<double>(), L.offset.item<double>(), lr});
    say("train", step + 1, o.steps,
        fmt::format("loss {:.4f} fg {:.4f} centre {:.4f} offset {:.4f}", hist.back().total, hist.back().fg, hist.back().centre,
                    hist.back().offset));
    if (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0) save_checkpoint(step + 1);
  }
  rep.steps_done = step;
  save_checkpoint(step);
  rep.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rep.interrupted) return rep;
  // Mean of the last 5% of steps (a single step is noisy).
  int64_t k = 0;
  for (size_t i = hist.size() - std::min<size_t>(hist.size(), std::max<size_t>(1, hist.size() / 20)); i < hist.size(); ++i, ++k)
    rep.final_loss += hist[i].total;
  rep.final_loss /= std::max<int64_t>(1, k);
  rep.params = count_params(*model);

  model->eval();
  {
    std::ofstream f(dest / "config.json");
    f << cfg.json.dump(2) << "\n";
  }
  save_state_dict(*model, (dest / "weights.safetensors").string(),
                  {{"steps", std::to_string(step)}, {"seed", std::to_string(o.seed)}}, true);
  fs::copy_file(out / "loss.svg", dest / "loss.svg", fs::copy_options::overwrite_existing);
  std::ofstream card(dest / "card.md");
  card << fmt::format(
      "# pen-tiny teacher segmenter\n\n"
      "SAM 3 vision-backbone architecture at a reduced size (PE ViT trunk: patch {p}, {d} blocks, width {w}, "
      "global blocks {gb}, 2D RoPE; Sam3DualViTDetNeck detector neck, d_model {dm}, scale factors {sf}) + dense instance "
      "head (foreground, centre heatmap, offsets; docs/perception.md). {np} parameters. Input: the frame resized to "
      "{S}x{S} (as SAM 3 resizes to 1008x1008), a {g}x{g} token grid, head maps {hs}x{hs}.\n\n"
      "## Data\n\nSimulated pens (src/data/simulator.h, 1280x720, {pigs} pigs, huddles, lighting events, exits): seeds "
      "{s0}..{s1}, {fps} frames each, every {st}th frame from the start, start hour seed*7.37 mod 24 ({N} frames). "
      "Seeds 9001..9999 are held out for evaluation and never trained on. Augmentation: flips, gain/bias/tint, noise, grey.\n\n"
      "## Training\n\n- command: `{cmd}`\n- seed: {seed}\n- steps {steps}, batch {batch}, AdamW lr {lr} (warm-up {wu}, cosine to "
      "{mlr}x), weight decay {wd}, clip {clip}\n- loss: {wf} BCE(foreground) + {wc} focal(centre) + {wo} L1(offsets on "
      "foreground)\n- final loss (mean of the last 5% steps): {fl:.4f}\n- wall time: {wall:.0f} s on {rt}, finished {when}\n\n"
      "Loss curve: loss.svg (not part of the model directory contract).\n",
      fmt::arg("p", cfg.backbone.trunk.patch_size), fmt::arg("d", cfg.backbone.trunk.depth),
      fmt::arg("w", cfg.backbone.trunk.embed_dim), fmt::arg("gb", fmt::join(cfg.backbone.trunk.global_att_blocks, ",")),
      fmt::arg("dm", cfg.backbone.d_model), fmt::arg("sf", fmt::join(cfg.backbone.scale_factors, ",")),
      fmt::arg("np", rep.params), fmt::arg("S", S), fmt::arg("g", g), fmt::arg("hs", hs), fmt::arg("pigs", o.data.pigs),
      fmt::arg("s0", o.data.first_seed), fmt::arg("s1", o.data.first_seed + o.data.seeds - 1),
      fmt::arg("fps", o.data.frames_per_seed), fmt::arg("st", o.data.stride), fmt::arg("N", N),
      fmt::arg("cmd", o.command), fmt::arg("seed", o.seed), fmt::arg("steps", o.steps), fmt::arg("batch", o.batch),
      fmt::arg("lr", o.lr), fmt::arg("wu", o.warmup), fmt::arg("mlr", o.min_lr_ratio), fmt::arg("wd", o.weight_decay),
      fmt::arg("clip", o.clip), fmt::arg("wf", o.w_foreground), fmt::arg("wc", o.w_centre), fmt::arg("wo", o.w_offset),
      fmt::arg("fl", rep.final_loss), fmt::arg("wall", rep.wall_s), fmt::arg("rt", runtime::describe()),
      fmt::arg("when", now_utc()));
  return rep;
}

namespace {

// The pen-tiny teacher as the distiller sees it. Its downstream maps are the detector neck's
// levels and, with head_term, the frozen instance head's outputs where decoding reads them:
// foreground and centre probabilities, and the offsets weighted by the map's own foreground
// probability (background offsets are never trained, so they carry no target).
class PenTeacher : public distill::Teacher {
 public:
  PenTeacher(const PenModelConfig& cfg, const std::string& weights, bool head_term) : model_(cfg), head_term_(head_term) {
    load_state_dict(*model_, weights);
    distill::freeze(*model_);
    fp_ = fmt::format("pen_segmenter config={} weights={:016x} preprocess=resize{}-bilinear,mean0.5,std0.5", cfg.json.dump(),
                      distill::fnv1a_file(weights), cfg.input_size());
  }
  torch::nn::Module& module() override { return *model_; }
  at::Tensor trunk(const at::Tensor& rgb01) override { return model_->trunk(rgb01); }
  std::vector<at::Tensor> necks(const at::Tensor& map) override { return run(map, nullptr); }
  // The raw head maps (logits, offsets) are what seg_loss reads: the ground-truth term.
  std::vector<at::Tensor> necks_and_heads(const at::Tensor& map, at::Tensor& heads) override { return run(map, &heads); }
  std::string fingerprint() const override { return fp_; }

 private:
  std::vector<at::Tensor> run(const at::Tensor& map, at::Tensor* raw) {
    auto levels = model_->backbone->forward_necks(map, nullptr, model_->config().levels()).sam3_out;
    if (!head_term_ && !raw) return levels;
    auto h = model_->head->forward(levels);
    if (raw) *raw = h;
    if (!head_term_) return levels;
    auto fg = torch::sigmoid(h.slice(1, kForeground, kForeground + 1));
    levels.push_back(fg);
    levels.push_back(torch::sigmoid(h.slice(1, kCentre, kCentre + 1)));
    levels.push_back(h.slice(1, kOffsetX, kOffsetY + 1) * fg);
    return levels;
  }

  PenModel model_;
  bool head_term_;
  std::string fp_;
};

}  // namespace

std::unique_ptr<distill::Teacher> make_pen_teacher(const std::string& teacher_dir, bool head_term) {
  const fs::path d(teacher_dir);
  return std::make_unique<PenTeacher>(PenModelConfig::load((d / "config.json").string()), (d / "weights.safetensors").string(),
                                      head_term);
}

StudentTrainReport distill_student(const StudentTrainOptions& o, const Progress& progress) {
  if (o.model_dir.empty() || o.student_config.empty()) throw UsageError("distill-student: model dir and student config are required");
  check_training_seeds(o.data);
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path root(o.model_dir), tdir = root / "teacher", sdir = root / "student";
  for (const char* f : {"config.json", "weights.safetensors"})
    if (!fs::is_regular_file(tdir / f))
      throw Error(fmt::format("{}: missing {} (train the teacher first)", tdir.string(), f));
  auto cfg = PenModelConfig::load((tdir / "config.json").string());
  PenModel teacher(cfg);
  load_state_dict(*teacher, (tdir / "weights.safetensors").string());
  const int64_t S = cfg.input_size();
  const fs::path work = o.work.empty() ? fs::path("out") / "segmenter-work" / "student" : fs::path(o.work);
  fs::create_directories(work / "frames");

  // Training frames as images at the teacher's input size (the distiller reads folders), and the
  // head's ground-truth targets of each (targets.safetensors, one tensor per image, named by it).
  const int64_t N = o.data.seeds * o.data.frames_per_seed, hs = cfg.head_size();
  const auto stamp = fmt::format("{} {} {} {} {} {} targets {} {}", o.data.first_seed, o.data.seeds, o.data.frames_per_seed,
                                 o.data.stride, o.data.pigs, S, hs, o.sigma);
  const fs::path targets_file = work / "targets.safetensors";
  std::string have;
  std::getline(std::ifstream(work / "frames.done") >> std::ws, have);
  if (have != stamp) {
    fs::remove_all(work / "frames");
    fs::create_directories(work / "frames");
    NamedTensors targets;
    for_each_sim_frame(o.data, [&](const cv::Mat& bgr, const cv::Mat& labels, uint64_t seed, int64_t i) {
      cv::Mat small;
      cv::resize(bgr, small, cv::Size(static_cast<int>(S), static_cast<int>(S)), 0, 0, cv::INTER_AREA);
      const auto name = fmt::format("s{:05d}_f{:05d}.png", seed, i);
      cv::imwrite((work / "frames" / name).string(), small);
      targets.emplace_back(name, target_tensor(labels, hs, o.sigma));
    }, progress, at::get_num_threads());
    write_tensors(targets_file.string(), targets, {}, true);
    std::ofstream(work / "frames.done") << stamp << "\n";
  }
  // The teacher's trunk + neck as a sam3_backbone teacher, for `edgeherd distill` and
  // `distill-ablation` on the same frames (docs/distillation.md); this run uses make_pen_teacher.
  {
    std::ofstream f(work / "teacher_backbone.json");
    f << cfg.json.at("backbone").dump(2) << "\n";
  }
  save_state_dict(*teacher->backbone, (work / "teacher_backbone.safetensors").string(), {}, true);

  distill::TrainOptions d;
  d.teacher_factory = [&] { return make_pen_teacher(tdir.string(), o.head_term); };
  d.student_config = o.student_config;
  d.data = {(work / "frames").string()};
  d.max_frames = N;
  d.val_every = 10;
  d.out = (work / "distill").string();
  d.resume = o.resume;
  d.steps = o.steps;
  d.batch = o.batch;
  d.checkpoint_every = o.checkpoint_every;
  d.seed = static_cast<int64_t>(o.seed);
  d.lr_warmup = o.warmup;
  d.lr = o.lr;
  d.weight_decay = o.weight_decay;
  d.frame_size = S;
  d.loss.warmup_steps = o.scale_warmup >= 0 ? o.scale_warmup : o.steps * 15 / 100;
  d.loss.ramp_steps = o.scale_ramp >= 0 ? o.scale_ramp : o.steps * 15 / 100;
  // Ground truth through the frozen head: the teacher's own training loss on the student's maps,
  // so the student is not held to the teacher's mistakes (pigs split or merged in huddles).
  std::map<std::string, at::Tensor> truth;
  if (o.gt_weight > 0) {
    auto f = st::File::open(targets_file.string());
    for (const auto& t : f.tensors()) truth[t.name] = read_tensor(f, t).clone();
    const SegLossWeights sw{o.w_foreground, o.w_centre, o.w_offset};
    d.task_weight = o.gt_weight;
    d.task_loss = [&truth, sw, targets_file](const at::Tensor& heads, const std::vector<std::string>& keys) {
      std::vector<at::Tensor> t;
      for (const auto& k : keys) {
        // FrameSet keys of a folder are "<file path>#0".
        const auto name = fs::path(k.substr(0, k.rfind('#'))).filename().string();
        auto it = truth.find(name);
        if (it == truth.end()) throw Error(fmt::format("{}: no targets for frame {}", targets_file.string(), name));
        t.push_back(it->second);
      }
      return seg_loss(heads, torch::stack(t), sw).total;
    };
  }
  auto dr = distill::train(d, progress);
  StudentTrainReport rep;
  rep.steps_done = dr.steps_done;
  rep.interrupted = dr.interrupted;
  rep.train_frames = dr.train_frames;
  rep.val_frames = dr.val_frames;
  if (dr.interrupted) return rep;

  // Held-out agreement on frames of pens never trained on (evaluation seed 9002).
  Config sc = Config::load(o.student_config);
  auto scfg = models::StudentConfig::from(sc);
  models::StudentEncoder student(scfg);
  load_state_dict(*student, dr.weights);
  student->eval();
  teacher->eval();
  {
    torch::NoGradGuard g;
    data::SimConfig c;
    c.seed = 9002;
    data::PenSimulator sim(c);
    double sum = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < 8 * o.heldout_frames; ++i) {
      sim.step();
      if (i % 8) continue;
      auto x = frame_to_tensor(sim.frame(), S);
      auto t = teacher->trunk(x);
      auto s = student->forward(models::imagenet_normalize(resize_square(x, scfg.input_size)));
      sum += distill::mean_cosine(s, t);
      ++k;
    }
    rep.val_cosine = sum / std::max<int64_t>(1, k);
  }
  rep.params = count_params(*student);
  fs::create_directories(sdir);
  fs::copy_file(o.student_config, sdir / "config.json", fs::copy_options::overwrite_existing);
  fs::copy_file(dr.weights, sdir / "weights.safetensors", fs::copy_options::overwrite_existing);
  if (fs::exists(fs::path(d.out) / "loss.svg")) fs::copy_file(fs::path(d.out) / "loss.svg", sdir / "loss.svg", fs::copy_options::overwrite_existing);
  rep.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ofstream card(sdir / "card.md");
  card << fmt::format(
      "# pen-tiny student encoder\n\n"
      "TinyViT + FPN + fusion/projection (src/models/student_encoder.h; config.json), {np} parameters, input {si}x{si} "
      "(the teacher runs at {S}x{S}), output [{C}, {G}, {G}] = the teacher trunk's map. At run time it is put in front of "
      "teacher/'s frozen necks and instance head (load_segmenter(dir, \"student\")).\n\n"
      "## Data\n\nSimulated pens seeds {s0}..{s1}, {fps} frames each, every {st}th frame ({N} frames, stored at the "
      "teacher's input size); every 10th frame held out by the distiller. Seeds 9001..9999 never trained on.\n\n"
      "## Distillation\n\n- command: `{cmd}`\n- seed: {seed}\n- eh::distill four-term loss (direction, scale, structure, "
      "downstream through the teacher's frozen detector neck{head}){gt}, scale terms after {sw} steps ramped over {sr}; {steps} steps, "
      "batch {batch}, AdamW lr {lr}, warm-up {wu}\n- distiller's held-out frames: mean cosine {vc:.4f} ({vf} frames)\n"
      "- held-out pen (seed 9002, {hf} frames, every 8th): mean per-token cosine student vs teacher trunk map {hc:.4f}\n"
      "- wall time: {wall:.0f} s on {rt}, finished {when}\n\nLoss curve: loss.svg.\n",
      fmt::arg("np", rep.params), fmt::arg("si", scfg.input_size), fmt::arg("S", S), fmt::arg("C", scfg.out_channels),
      fmt::arg("G", scfg.out_grid), fmt::arg("s0", o.data.first_seed), fmt::arg("s1", o.data.first_seed + o.data.seeds - 1),
      fmt::arg("fps", o.data.frames_per_seed), fmt::arg("st", o.data.stride), fmt::arg("N", N), fmt::arg("cmd", o.command),
      fmt::arg("seed", o.seed),
      fmt::arg("head", o.head_term ? " and instance head: foreground, centre, foreground-weighted offsets" : ""),
      fmt::arg("gt", o.gt_weight > 0 ? fmt::format(" + {} x the segmentation loss against the simulator's ground truth through "
                                                   "the same frozen neck and head ({} BCE + {} focal + {} L1, as the teacher's "
                                                   "training; in the scale group)",
                                                   o.gt_weight, o.w_foreground, o.w_centre, o.w_offset)
                                     : std::string()), fmt::arg("sw", d.loss.warmup_steps), fmt::arg("sr", d.loss.ramp_steps),
      fmt::arg("steps", o.steps), fmt::arg("batch", o.batch), fmt::arg("lr", o.lr), fmt::arg("wu", o.warmup),
      fmt::arg("vc", dr.val_cosine), fmt::arg("vf", dr.val_frames), fmt::arg("hc", rep.val_cosine), fmt::arg("hf", o.heldout_frames), fmt::arg("wall", rep.wall_s),
      fmt::arg("rt", runtime::describe()), fmt::arg("when", now_utc()));
  return rep;
}

}  // namespace eh::perception
