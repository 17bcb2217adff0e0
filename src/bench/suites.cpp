// The benchmark suites. Each adds rows to the context; heavy kernels are profiled so achieved
// GFLOP/s can be set against the `gemm` suite's yardstick measured in the same run.
#include <fmt/format.h>

#include <chrono>
#include <algorithm>
#include <map>
#include <optional>
#include <torch/torch.h>

#include "bench/bench.h"
#include "bench/op_profiler.h"
#include "bench/suites.h"
#include "models/dinov3_vit.h"
#include "models/sam3/detector.h"
#include "models/sam3/neck.h"
#include "models/sam3/pe_vit.h"
#include "models/sam3/tracker.h"
#include "models/student_encoder.h"

namespace eh::bench {

namespace {

// Per kernel kind: GFLOP per item, achieved GFLOP/s and its ratio to the gemm yardstick of the
// same run; for the memory-bound kinds (depthwise convs) also GB/s and its ratio to the copy
// bandwidth of the same run, and the arithmetic intensity (FLOP/byte) that explains it.
nlohmann::ordered_json kernel_values(const Context& ctx, const OpProfiler& prof, double items, const std::string& unit,
                                     double total_s) {
  nlohmann::ordered_json v;
  const double gemm = ctx.shared.value("gemm_gflops", 0.0), copy = ctx.shared.value("copy_gbps", 0.0);
  double kernel_s = 0;
  for (const auto& [kind, s] : prof.stats()) {
    kernel_s += s.seconds;
    v[kind + "_gflop_per_" + unit] = s.flops / 1e9 / items;
    v[kind + "_ms_per_" + unit] = s.seconds * 1e3 / items;
    v[kind + "_gflops"] = s.gflops_per_s();
    if (gemm > 0) v[kind + "_vs_gemm"] = s.gflops_per_s() / gemm;
    // Roofline: a kernel moving at least `bytes` cannot beat min(gemm, FLOP/byte x bandwidth).
    v[kind + "_flop_per_byte"] = s.flops_per_byte();
    if (gemm > 0 && copy > 0) {
      const double roof = std::min(gemm, s.flops_per_byte() * copy);
      v[kind + "_roofline_gflops"] = roof;
      v[kind + "_vs_roofline"] = roof > 0 ? s.gflops_per_s() / roof : 0.0;
    }
    if (kind == "dwconv") {
      v[kind + "_gbps"] = s.gbytes_per_s();
      if (copy > 0) v[kind + "_vs_copy"] = s.gbytes_per_s() / copy;
    }
  }
  if (total_s > 0) v["other_ms_per_" + unit] = std::max(0.0, total_s - kernel_s) * 1e3 / items;
  std::vector<std::pair<double, std::string>> other;
  for (const auto& [name, sec] : prof.other_seconds()) other.emplace_back(sec, name);
  std::sort(other.rbegin(), other.rend());
  std::string top;
  for (size_t i = 0; i < other.size() && i < 6; ++i)
    top += fmt::format("{}{} {:.0f}", top.empty() ? "" : ", ", other[i].second.substr(other[i].second.rfind(':') + 1),
                       other[i].first * 1e3 / items);
  if (!top.empty()) v["other_top_ms"] = top;
  return v;
}

double weight_mb(const torch::nn::Module& m) {
  double b = 0;
  for (const auto& p : m.parameters()) b += static_cast<double>(p.numel()) * static_cast<double>(p.element_size());
  for (const auto& p : m.buffers()) b += static_cast<double>(p.numel()) * static_cast<double>(p.element_size());
  return b / 1048576.0;
}

// Times a model forward and profiles one extra run for its kernel mix.
Row measure_model(Context& ctx, const std::string& suite, const std::string& name, const std::function<void()>& fwd,
                  double items_per_call, const std::string& unit, const MemProbe* since = nullptr) {
  torch::NoGradGuard g;
  std::optional<MemProbe> local;  // a probe resets the peak mark, so make one only if none was given
  if (!since) local.emplace();
  const MemProbe& mem = since ? *since : *local;  // `since` taken before the model was built: weights count
  // A single measured run (the teacher: minutes per forward) is also the profiled one; otherwise
  // one extra profiled run follows the timed ones.
  const bool single = ctx.reps <= 1 && ctx.warmup <= 0;
  std::optional<OpProfiler> prof_single;
  if (single) prof_single.emplace();
  auto t = time_it(fwd, ctx.warmup, ctx.reps);
  double peak = mem.peak_mb();
  double prof_s = single ? t.median / 1e3 : 0;
  Row r{suite, name, {}, ""};
  std::optional<OpProfiler> prof_extra;
  if (!single) {
    prof_extra.emplace();
    auto t0 = std::chrono::steady_clock::now();
    fwd();
    prof_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const OpProfiler& prof = single ? *prof_single : *prof_extra;
  r.values["ms_per_" + unit] = t.median / items_per_call;
  r.values["spread_ms"] = (t.max - t.min) / items_per_call;
  double flops = prof.total_flops() / items_per_call;
  r.values["gflop_per_" + unit] = flops / 1e9;
  r.values["gflops"] = flops / 1e9 / (t.median / items_per_call / 1e3);
  r.values["peak_rss_mb"] = peak;
  const auto kernels = kernel_values(ctx, prof, items_per_call, unit, prof_s);
  for (auto it = kernels.begin(); it != kernels.end(); ++it) r.values[it.key()] = it.value();
  return r;
}

}  // namespace

void efficiency_rows(Context& ctx, const std::string& suite, const std::string& model, const Row& r);

void gemm_suite(Context& ctx) {
  torch::NoGradGuard g;
  const int64_t n = 2048;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  auto t = time_it([&] { torch::mm(a, b); }, ctx.warmup, ctx.reps);
  const double gemm_gflops = 2.0 * n * n * n / (t.median / 1e3) / 1e9;
  ctx.shared["gemm_gflops"] = gemm_gflops;
  ctx.add({"gemm", fmt::format("fp32 matmul {}x{}x{}", n, n, n),
           {{"ms", t.median}, {"spread_ms", t.max - t.min}, {"gflops", gemm_gflops}}, "the yardstick of every *_vs_gemm"});
  auto x = torch::randn({1, 256, 96, 96});
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(256, 256, 3).padding(1));
  auto tc = time_it([&] { conv(x); }, ctx.warmup, ctx.reps);
  double flops = 2.0 * 256 * 256 * 9 * 96 * 96;
  ctx.add({"gemm", "fp32 conv3x3 256->256 @96x96", {{"ms", tc.median}, {"spread_ms", tc.max - tc.min}, {"gflops", flops / (tc.median / 1e3) / 1e9}}, ""});
  // Memory bandwidth: a 256 MiB copy (read + write), the yardstick of memory-bound kernels.
  auto src = torch::randn({64 << 20}), dst = torch::empty_like(src);
  auto tm = time_it([&] { dst.copy_(src); }, ctx.warmup, ctx.reps);
  const double gbps = 2.0 * src.numel() * 4 / (tm.median / 1e3) / 1e9;
  ctx.shared["copy_gbps"] = gbps;
  ctx.add({"gemm", "fp32 copy 256 MiB", {{"ms", tm.median}, {"spread_ms", tm.max - tm.min}, {"gbps", gbps}},
           "memory bandwidth (read + write): the yardstick of *_vs_copy"});
  // A depthwise 3x3 conv at a student size: 2*9 FLOP per output and >= 8 bytes moved per output.
  auto xd = torch::randn({1, 384, 128, 128});
  auto dw = torch::nn::Conv2d(torch::nn::Conv2dOptions(384, 384, 3).padding(1).groups(384).bias(false));
  auto td = time_it([&] { dw(xd); }, ctx.warmup, ctx.reps);
  const double dflops = 2.0 * 9 * xd.numel(), dbytes = 2.0 * xd.numel() * 4;
  ctx.add({"gemm", "fp32 depthwise conv3x3 384ch @128x128",
           {{"ms", td.median}, {"spread_ms", td.max - td.min}, {"gflops", dflops / (td.median / 1e3) / 1e9},
            {"gbps", dbytes / (td.median / 1e3) / 1e9}, {"flop_per_byte", dflops / dbytes}},
           "memory-bound: 2.25 FLOP per byte moved"});
}

void backbones_suite(Context& ctx) {
  // Student encoder at full size, fed the teacher's 1008x1008 frame (it resizes to its input).
  auto frame = torch::randn({1, 3, 1008, 1008});
  MemProbe student_mem;
  models::StudentEncoder student(models::StudentConfig::full_size());
  student->eval();
  auto rs = measure_model(ctx, "backbones", "student encoder (TinyViT-21M+FPN+fusion) 1008->512", [&] { student->forward(frame); }, 1,
                          "frame", &student_mem);
  rs.values["weights_mb"] = weight_mb(*student);
  rs.note = "output [1,1024,72,72]; peak counts weights + activations";
  ctx.add(rs);
  ctx.shared["student"] = {{"ms", rs.values["ms_per_frame"]}, {"peak_mb", rs.values["peak_rss_mb"]}};
  efficiency_rows(ctx, "backbones", "student", rs);

  // Teacher trunk (SAM 3 PE ViT-L+, random weights) at the same frame, measured in the same run.
  // One warm-up-free repetition: a forward is tens of seconds on two cores.
  {
    MemProbe teacher_mem;
    models::Sam3ViT teacher(models::sam3_full_trunk_config());
    teacher->eval();
    Context once = ctx;
    once.reps = 1;
    once.warmup = 0;
    auto rt = measure_model(once, "backbones", "teacher trunk (SAM 3 PE ViT-L+/14) 1008", [&] { teacher->forward(frame); }, 1, "frame", &teacher_mem);
    rt.values["weights_mb"] = weight_mb(*teacher);
    rt.note = "output [1,1024,72,72]; 1 repetition; peak counts weights + activations";
    ctx.add(rt);
    ctx.shared["teacher_trunk"] = {{"ms", rt.values["ms_per_frame"]}, {"peak_mb", rt.values["peak_rss_mb"]}};
    Row ratio{"backbones", "student / teacher", {}, "same frame, same run"};
    ratio.values["speedup"] = rt.values["ms_per_frame"].get<double>() / rs.values["ms_per_frame"].get<double>();
    ratio.values["peak_memory_ratio"] = rt.values["peak_rss_mb"].get<double>() / std::max(1.0, rs.values["peak_rss_mb"].get<double>());
    ratio.values["flop_ratio"] = rt.values["gflop_per_frame"].get<double>() / rs.values["gflop_per_frame"].get<double>();
    ratio.values["meets_10x_speed"] = ratio.values["speedup"].get<double>() >= 10 ? "yes" : "no";
    ratio.values["meets_4x_memory"] = ratio.values["peak_memory_ratio"].get<double>() >= 4 ? "yes" : "no";
    ctx.add(ratio);
  }

  // DINOv3 ViT-S/16 on a batch of per-animal crops.
  MemProbe dino_mem;
  models::DinoV3Config dc;
  models::DinoVisionTransformer dino(dc);
  dino->eval();
  auto crops = torch::randn({8, 3, 224, 224});
  auto rd = measure_model(ctx, "backbones", "DINOv3 ViT-S/16 224x224, batch 8", [&] { dino->forward_features(crops); }, 8, "crop", &dino_mem);
  rd.values["weights_mb"] = weight_mb(*dino);
  ctx.add(rd);
}

// The whole full-size SAM 3 video model per 1008x1008 frame (random weights): trunk, both necks (the
// detector's and the tracker's), the detector heads prompted with one text embedding of the length
// "pig" has, and the tracker propagating 8 objects. This is the teacher's per-frame cost and peak
// memory, the denominator of the system-level ratios.
void teacher_suite(Context& ctx) {
  torch::NoGradGuard g;
  auto frame = torch::randn({1, 3, 1008, 1008});
  MemProbe mem;  // before the models are built: weights count
  models::Sam3DualViTDetNeck backbone(models::sam3_full_backbone_config());
  models::Sam3Detector detector(models::sam3_full_detector_config());
  backbone->eval();
  detector->eval();
  const int64_t d = detector->config().d_model, text_len = 32, text_valid = 4;  // <sot> pig <eot> + padding
  auto text = torch::randn({text_len, 1, d});
  auto text_mask = torch::arange(text_len).ge(text_valid).unsqueeze(0);
  OpProfiler prof;
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) { return std::chrono::duration<double, std::milli>(clock::now() - t0).count(); };
  auto t0 = clock::now();
  auto trunk = backbone->trunk()->forward(frame);
  const double trunk_ms = ms_since(t0);
  auto t1 = clock::now();
  auto necks = backbone->forward_necks(trunk.back());
  const double necks_ms = ms_since(t1);
  auto t2 = clock::now();
  // SAM3VLBackbone's scalp: the detector reads the first three detector-neck levels.
  std::vector<at::Tensor> feats(necks.sam3_out.begin(), necks.sam3_out.begin() + 3);
  auto out = detector->forward(feats, text, text_mask);
  const double det_ms = ms_since(t2);
  // The tracker on the tracker neck: an initial frame with one point per object (the pen's 8 pigs),
  // then one tracked frame, whose memory attention reads the first frame's memories and pointers.
  models::Sam3Tracker tracker(models::sam3_full_tracker_config());
  tracker->eval();
  const int64_t objects = 8;
  models::Sam3TrackerFrame tf{necks.sam2_out[0], necks.sam2_out[1], necks.sam2_out[2], necks.sam2_pos[2]};
  models::Sam3TrackerPrompt points{torch::rand({objects, 1, 2}) * 1008.0, torch::ones({objects, 1}, torch::kLong), {}};
  models::Sam3TrackerMemory memory;
  auto t3 = clock::now();
  tracker->track(0, true, tf, points, memory, 2);
  const double track_init_ms = ms_since(t3);
  auto t4 = clock::now();
  tracker->track(1, false, tf, {}, memory, 2);
  const double track_ms = ms_since(t4);
  const double total_ms = trunk_ms + necks_ms + det_ms + track_ms;
  double params = 0;
  for (const auto& p : backbone->parameters()) params += static_cast<double>(p.numel());
  for (const auto& p : detector->parameters()) params += static_cast<double>(p.numel());
  for (const auto& p : tracker->parameters()) params += static_cast<double>(p.numel());
  Row r{"teacher", "SAM 3 full video model per 1008 frame (trunk + both necks + detector with a text prompt + tracker, 8 objects)", {},
        fmt::format("1 repetition; detector masks {}; ms_per_frame = trunk + necks + detector + one tracked frame; the "
                    "prompted first frame (tracker_init_ms) is not per-frame; text encoder excluded (prompt stored); "
                    "peak counts weights + activations", fmt::join(out.pred_masks.sizes(), "x"))};
  r.values["ms_per_frame"] = total_ms;
  r.values["trunk_ms"] = trunk_ms;
  r.values["necks_ms"] = necks_ms;
  r.values["detector_ms"] = det_ms;
  r.values["tracker_ms"] = track_ms;
  r.values["tracker_init_ms"] = track_init_ms;
  r.values["gflop_per_frame"] = prof.total_flops() / 1e9;
  r.values["gflops"] = prof.total_flops() / 1e9 / (total_ms / 1e3);
  r.values["params_m"] = params / 1e6;
  r.values["weights_mb"] = weight_mb(*backbone) + weight_mb(*detector);
  r.values["peak_rss_mb"] = mem.peak_mb();
  ctx.shared["teacher_full"] = {{"ms", total_ms}, {"peak_mb", r.values["peak_rss_mb"]}, {"detector_ms", det_ms}, {"tracker_ms", track_ms}};
  ctx.add(r);
}

// The student encoder alone with its kernel breakdown (no teacher): for iterating on kernels.
// One row per heavy kernel kind of a measured model: its share of the gemm yardstick, and when
// below 50% the reason in numbers (arithmetic intensity against the machine balance).
void efficiency_rows(Context& ctx, const std::string& suite, const std::string& model, const Row& r) {
  const double gemm = ctx.shared.value("gemm_gflops", 0.0), copy = ctx.shared.value("copy_gbps", 0.0);
  if (gemm <= 0) {
    ctx.add({suite, model + ": kernel efficiency", {}, "run with --suite gemm for the yardstick"});
    return;
  }
  const double balance = copy > 0 ? gemm / copy : 0;  // FLOP per byte the machine needs to be compute-bound
  const std::map<std::string, std::string> what = {
      {"matmul", "linear layers (qkv, proj, MLP fc1/fc2)"},
      {"bmm", "windowed attention (q k^T, attn v), all windows x heads batched"},
      {"conv", "dense convs (1x1 MBConv/PatchMerging/fusion/projection, 3x3 patch embed/FPN)"},
      {"dwconv", "depthwise 3x3 convs (MBConv, local conv, fusion)"}};
  for (const auto& [kind, desc] : what) {
    const std::string k = kind + "_vs_gemm";
    if (!r.values.contains(k)) continue;
    Row e{suite, model + ": " + kind, {}, desc};
    const double ratio = r.values[k].get<double>(), fpb = r.values.value(kind + "_flop_per_byte", 0.0);
    e.values["vs_gemm"] = ratio;
    e.values["gflops"] = r.values[kind + "_gflops"];
    e.values["ms_per_frame"] = r.values.value(kind + "_ms_per_frame", 0.0);
    e.values["flop_per_byte"] = fpb;
    e.values["machine_balance_flop_per_byte"] = balance;
    if (r.values.contains(kind + "_vs_roofline")) e.values["vs_roofline"] = r.values[kind + "_vs_roofline"];
    e.values["meets_50pct"] = ratio >= 0.5 ? "yes" : "no";
    if (ratio < 0.5) {
      const double roof = r.values.value(kind + "_vs_roofline", 0.0);
      if (balance > 0 && fpb < balance)
        e.note += fmt::format("; memory-bound by intensity: {:.2f} FLOP/byte < machine balance {:.1f}, so at most {:.0f}% of gemm "
                              "at full bandwidth; it reaches {:.0f}% of that roofline{}",
                              fpb, balance, 100 * std::min(1.0, fpb / balance), 100 * roof,
                              roof < 0.5 ? ": the kernel itself is slow here, not only the memory" : "");
      else
        e.note += "; compute-bound by intensity, below gemm: small/odd GEMM shapes per call (see *_gflop_per_frame and calls)";
    }
    ctx.add(e);
  }
}

void student_suite(Context& ctx) {
  auto frame = torch::randn({1, 3, 1008, 1008});
  MemProbe mem;
  models::StudentEncoder student(models::StudentConfig::full_size());
  student->eval();
  auto rs = measure_model(ctx, "student", "student encoder (TinyViT-21M+FPN+fusion) 1008->512", [&] { student->forward(frame); }, 1,
                          "frame", &mem);
  rs.values["weights_mb"] = weight_mb(*student);
  ctx.add(rs);
  efficiency_rows(ctx, "student", "student", rs);
}

const std::vector<Suite>& suites() {
  static const std::vector<Suite> all = {
      {"gemm", "fp32 matmul and conv3x3 GFLOP/s: the machine's practical peak", gemm_suite},
      {"backbones", "teacher trunk vs student encoder per frame; DINOv3 per crop", backbones_suite},
      {"teacher", "full-size SAM 3 video model (trunk, necks, detector, tracker) per 1008 frame: time per stage, peak RSS",
       teacher_suite},
      {"student", "student encoder alone with its kernel breakdown (a subset of backbones)", student_suite, false},
      {"pipeline", "ms/frame per stage (decode, backbone, necks, tracker, embedder, store), teacher vs student",
       [](Context& c) { pipeline_suite(c); }},
      {"memory", "peak RSS after 1k/5k/20k frames with pruning vs growth per frame without", [](Context& c) { memory_suite(c); }},
      {"store", "bytes per animal per year, inserts/s, query times", [](Context& c) { store_suite(c); }},
      {"metrics", "evaluation speed (CLEAR-MOT + IDF1 + HOTA) on a 20k-frame sequence", [](Context& c) { metrics_suite(c); }},
      {"envelope", "edge memory model: calibration, checks in fresh processes, fits a budget", [](Context& c) {
         EnvelopeSuiteParams p;
         p.budget = c.budget;
         envelope_suite(c, p);
       }},
  };
  return all;
}

}  // namespace eh::bench
