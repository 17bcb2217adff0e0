#include "distill/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/state_dict.h"
#include "distill/adamw.h"
#include "distill/feature_cache.h"
#include "distill/frame_set.h"
#include "distill/models.h"
#include "report/svg_plot.h"

namespace fs = std::filesystem;

namespace eh::distill {

std::atomic<bool> stop_requested{false};

namespace {

double lr_at(const TrainOptions& o, int64_t step) {
  if (step < o.lr_warmup) return o.lr * double(step + 1) / double(o.lr_warmup);
  double t = double(step - o.lr_warmup) / std::max<double>(1.0, double(o.steps - o.lr_warmup));
  return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, t))));
}

// Photometric augmentation of the student's input only; the teacher saw the clean frame, so the
// student learns to be invariant to lighting and sensor changes the pens are full of.
at::Tensor augment(const at::Tensor& x, at::Generator& gen) {
  const auto B = x.size(0);
  auto gain = 1 + 0.25 * (torch::rand({B, 1, 1, 1}, gen) - 0.5) * 2;
  auto bias = 0.1 * (torch::rand({B, 1, 1, 1}, gen) - 0.5) * 2;
  auto tint = 1 + 0.05 * (torch::rand({B, 3, 1, 1}, gen) - 0.5) * 2;
  auto noise = 0.02 * torch::randn(x.sizes(), gen);
  return (x * gain * tint + bias + noise).clamp(0, 1);
}

NamedTensors prefixed(const NamedTensors& in, const std::string& p) {
  NamedTensors o;
  for (auto& [k, v] : in) o.emplace_back(p + k, v);
  return o;
}

void write_history(const fs::path& dir, const std::vector<HistoryRow>& h, bool with_task) {
  std::ofstream f(dir / "history.csv");
  f << "step,total,direction,scale,structure,downstream,lr,task\n";
  for (const auto& r : h)
    f << fmt::format("{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n", r.step, r.total, r.direction, r.scale, r.structure,
                     r.downstream, r.lr, r.task);
  std::vector<std::string> names = {"total", "direction", "scale", "structure", "downstream"};
  if (with_task) names.push_back("task (supervised)");
  std::vector<report::Series> s(names.size());
  for (size_t i = 0; i < s.size(); ++i) s[i].name = names[i];
  for (const auto& r : h) {
    double v[] = {r.total, r.direction, r.scale, r.structure, r.downstream, r.task};
    for (size_t i = 0; i < s.size(); ++i) {
      s[i].x.push_back(double(r.step));
      s[i].y.push_back(v[i]);
    }
  }
  report::write_text((dir / "loss.svg").string(),
                     report::line_plot_svg(s, {"Distillation loss", "step", "loss (unweighted terms)", 720, 340, true}));
}

std::vector<std::string> keys_of(const FrameSet& f, const std::vector<int64_t>& idx) {
  std::vector<std::string> k;
  for (auto i : idx) k.push_back(f.keys[i]);
  return k;
}

}  // namespace

TrainReport train(const TrainOptions& o, const Progress& progress) {
  auto say = [&](const std::string& phase, int64_t d, int64_t t, const std::string& detail) {
    if (progress) progress(phase, d, t, detail);
  };
  if (o.out.empty()) throw UsageError("distill: --out is required");
  if (o.steps < 1 || o.batch < 1) throw UsageError("distill: steps and batch must be positive");
  fs::create_directories(o.out);
  const fs::path out(o.out);

  // Everything that can fail on bad input fails here, before any long work.
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  auto teacher = o.teacher_factory ? o.teacher_factory() : make_teacher(o.teacher_arch, o.teacher_config, o.teacher_weights);
  Student student(o.student_config, o.student_weights);
  const int64_t frame_size = o.frame_size > 0 ? o.frame_size
                                             : std::max<int64_t>(student.net->config().input_size,
                                                                 2 * student.net->config().out_grid);  // storage size of frames
  auto frames = FrameSet::load(o.data, std::max<int64_t>(frame_size, 64), o.max_frames, o.frame_stride);
  {
    torch::NoGradGuard g;
    auto probe = frames.batch({0});
    auto t = teacher->trunk(probe);
    auto s = student.forward(probe);
    if (t.sizes() != s.sizes())
      throw Error(fmt::format("distill: teacher trunk yields {} but the student yields {}; set the student's "
                              "out_channels/out_grid to the teacher's",
                              shape_str(t.sizes()), shape_str(s.sizes())));
    if (o.task_loss) {
      at::Tensor heads;
      teacher->necks_and_heads(t, heads);
      if (!heads.defined()) throw Error("distill: a supervised task term was asked for, but this teacher has no task heads");
    }
  }
  FeatureCache cache(o.cache_dir.empty() ? (out / "teacher_cache").string() : o.cache_dir, teacher->fingerprint(),
                     o.rebuild_cache);

  // Teacher once per frame.
  {
    torch::NoGradGuard g;
    std::vector<int64_t> todo;
    for (int64_t i = 0; i < frames.size(); ++i)
      if (!cache.has(frames.keys[i])) todo.push_back(i);
    for (size_t i = 0; i < todo.size(); i += 4) {
      std::vector<int64_t> idx(todo.begin() + i, todo.begin() + std::min(todo.size(), i + 4));
      auto maps = teacher->trunk(frames.batch(idx));
      for (size_t k = 0; k < idx.size(); ++k) cache.put(frames.keys[idx[k]], maps[k]);
      say("teacher", static_cast<int64_t>(i + idx.size()), static_cast<int64_t>(todo.size()), "");
    }
    cache.flush();
  }

  std::vector<int64_t> train_idx, val_idx;
  for (int64_t i = 0; i < frames.size(); ++i) (o.val_every > 0 && i % o.val_every == o.val_every - 1 ? val_idx : train_idx).push_back(i);
  if (train_idx.empty()) throw Error("distill: no training frames after holding out validation frames");

  std::vector<std::pair<std::string, at::Tensor>> params;
  for (auto& p : student.net->named_parameters()) params.emplace_back(p.key(), p.value());
  AdamW opt(params, {o.lr, 0.9, 0.999, 1e-8, o.weight_decay});

  TrainReport rep;
  rep.train_frames = static_cast<int64_t>(train_idx.size());
  rep.val_frames = static_cast<int64_t>(val_idx.size());
  int64_t start = 0;
  const fs::path ckpt = out / "checkpoint.safetensors";
  if (o.resume && fs::exists(ckpt)) {
    auto f = st::File::open(ckpt.string());
    NamedTensors ost;
    for (const auto& t : f.tensors())
      if (t.name.rfind("opt.", 0) == 0) ost.emplace_back(t.name.substr(4), read_tensor(f, t).clone());
    load_state_dict(*student.net, f, {true, "student."});
    opt.load_state(ost);
    start = opt.steps();
    std::ifstream hist(out / "history.csv");
    std::string line;
    std::getline(hist, line);
    while (std::getline(hist, line)) {
      HistoryRow r{};
      // Histories written before the task column have 7 fields.
      if (std::sscanf(line.c_str(), "%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r.step, &r.total, &r.direction, &r.scale, &r.structure,
                      &r.downstream, &r.lr, &r.task) >= 7 && r.step < start)
        rep.history.push_back(r);
    }
    spdlog::info("distill: resuming from {} at step {}", ckpt.string(), start);
  }
  auto save_checkpoint = [&](int64_t step_done) {
    NamedTensors all = prefixed(state_dict(*student.net), "student.");
    for (auto& kv : prefixed(opt.state(), "opt.")) all.push_back(kv);
    write_tensors((out / "checkpoint.safetensors.new").string(), all, {{"step", std::to_string(step_done)}}, true);
    fs::rename(out / "checkpoint.safetensors.new", ckpt);
    write_history(out, rep.history, static_cast<bool>(o.task_loss));
  };

  const auto G = student.net->config().out_grid;
  student.net->train();
  int64_t step = start;
  for (; step < o.steps; ++step) {
    if (stop_requested || (o.stop_after >= 0 && step >= o.stop_after)) {
      rep.interrupted = true;
      break;
    }
    // Batch, augmentation and sampled positions are a pure function of (seed, step).
    std::mt19937_64 rng(static_cast<uint64_t>(o.seed) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(step));
    std::vector<int64_t> idx;
    for (int64_t b = 0; b < o.batch; ++b) idx.push_back(train_idx[rng() % train_idx.size()]);
    auto gen = at::detail::createCPUGenerator(rng());
    auto x = frames.batch(idx);
    if (o.augment) x = augment(x, gen);
    std::vector<at::Tensor> tm;
    for (auto i : idx) tm.push_back(cache.get(frames.keys[i]));
    auto tmap = torch::stack(tm);
    auto pos = torch::randperm(G * G, gen, torch::kLong).slice(0, 0, std::min<int64_t>(o.loss.structure_tokens, G * G));

    auto smap = student.forward(x);
    std::vector<at::Tensor> tn;
    {
      torch::NoGradGuard g;
      tn = teacher->necks(tmap);
    }
    at::Tensor heads;
    std::vector<at::Tensor> sn;
    if (o.loss.w_downstream > 0 || o.task_loss) sn = teacher->necks_and_heads(smap, heads);
    if (o.loss.w_downstream <= 0) sn.clear();
    if (sn.empty()) tn.clear();
    auto L = distill_loss(smap, tmap, sn, tn, pos, o.loss, step);
    double task = 0;
    if (o.task_loss) {
      auto T = o.task_loss(heads, keys_of(frames, idx));
      L.total = L.total + o.task_weight * schedule_at(o.loss, step).scale_group * T;
      task = T.item<double>();
    }
    opt.zero_grad();
    L.total.backward();
    clip_grad_norm(params, o.clip);
    const double lr = lr_at(o, step);
    opt.step(lr);
    rep.history.push_back({step, L.total.item<double>(), L.direction.item<double>(), L.scale.item<double>(),
                           L.structure.item<double>(), L.downstream.item<double>(), lr, task});
    say("train", step + 1, o.steps,
        fmt::format("loss {:.4f} dir {:.4f} scale {:.4f} struct {:.4f} down {:.4f}{}", rep.history.back().total,
                    rep.history.back().direction, rep.history.back().scale, rep.history.back().structure,
                    rep.history.back().downstream, o.task_loss ? fmt::format(" task {:.4f}", task) : std::string()));
    if (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0) save_checkpoint(step + 1);
  }
  rep.steps_done = step;
  save_checkpoint(step);
  if (rep.interrupted) return rep;

  // Held-out agreement.
  student.net->eval();
  torch::NoGradGuard g;
  double n = 0;
  for (size_t i = 0; i < val_idx.size(); i += 4) {
    std::vector<int64_t> idx(val_idx.begin() + i, val_idx.begin() + std::min(val_idx.size(), i + 4));
    std::vector<at::Tensor> tm;
    for (auto k : idx) tm.push_back(cache.get(frames.keys[k]));
    auto t = torch::stack(tm), s = student.forward(frames.batch(idx));
    const double w = static_cast<double>(idx.size());
    rep.val_direction += w * direction_term(s, t, 1e-6).item<double>();
    rep.val_scale += w * scale_term(s, t, 1e-6).item<double>();
    auto p = torch::arange(std::min<int64_t>(o.loss.structure_tokens, G * G), torch::kLong) * ((G * G) / std::min<int64_t>(o.loss.structure_tokens, G * G));
    rep.val_structure += w * structure_term(s, t, p, 1e-6).item<double>();
    at::Tensor heads;
    auto sn = o.task_loss ? teacher->necks_and_heads(s, heads) : teacher->necks(s);
    rep.val_downstream += w * downstream_term(sn, teacher->necks(t), 1e-6).item<double>();
    if (o.task_loss) rep.val_task += w * o.task_loss(heads, keys_of(frames, idx)).item<double>();
    n += w;
  }
  if (n > 0) {
    rep.val_direction /= n;
    rep.val_scale /= n;
    rep.val_structure /= n;
    rep.val_downstream /= n;
    rep.val_task /= n;
    rep.val_cosine = 1 - rep.val_direction;
  }
  rep.weights = (out / "student.safetensors").string();
  save_state_dict(*student.net, rep.weights, {{"steps", std::to_string(step)}, {"seed", std::to_string(o.seed)}}, true);
  nlohmann::json j = {{"steps", rep.steps_done},       {"train_frames", rep.train_frames}, {"val_frames", rep.val_frames},
                      {"val_cosine", rep.val_cosine},   {"val_direction", rep.val_direction},
                      {"val_scale", rep.val_scale},     {"val_structure", rep.val_structure},
                      {"val_downstream", rep.val_downstream}, {"weights", rep.weights}};
  if (o.task_loss) j["val_task"] = rep.val_task;
  std::ofstream(out / "report.json") << j.dump(2) << "\n";
  return rep;
}

}  // namespace eh::distill
