// The benchmark suites. Each adds rows to the context; heavy kernels are profiled so achieved
// GFLOP/s can be set against the `gemm` suite's yardstick measured in the same run.
#include <fmt/format.h>

#include <optional>
#include <torch/torch.h>

#include "bench/bench.h"
#include "bench/op_profiler.h"
#include "models/dinov3_vit.h"
#include "models/sam3/pe_vit.h"
#include "models/student_encoder.h"

namespace eh::bench {

namespace {

double gemm_gflops = 0;  // the yardstick, filled by the gemm suite when it runs first

nlohmann::ordered_json kernel_values(const OpProfiler& prof, double items, const std::string& unit) {
  nlohmann::ordered_json v;
  for (const auto& [kind, s] : prof.stats()) {
    v[kind + "_gflop_per_" + unit] = s.flops / 1e9 / items;
    v[kind + "_gflops"] = s.gflops_per_s();
    if (gemm_gflops > 0) v[kind + "_vs_gemm"] = s.gflops_per_s() / gemm_gflops;
  }
  return v;
}

// Times a model forward and profiles one extra run for its kernel mix.
Row measure_model(Context& ctx, const std::string& suite, const std::string& name, const std::function<void()>& fwd,
                  double items_per_call, const std::string& unit, const MemProbe* since = nullptr) {
  torch::NoGradGuard g;
  std::optional<MemProbe> local;  // a probe resets the peak mark, so make one only if none was given
  if (!since) local.emplace();
  const MemProbe& mem = since ? *since : *local;  // `since` taken before the model was built: weights count
  auto t = time_it(fwd, ctx.warmup, ctx.reps);
  double peak = mem.peak_mb();
  OpProfiler prof;
  fwd();
  Row r{suite, name, {}, ""};
  r.values["ms_per_" + unit] = t.median / items_per_call;
  r.values["spread_ms"] = (t.max - t.min) / items_per_call;
  double flops = prof.total_flops() / items_per_call;
  r.values["gflop_per_" + unit] = flops / 1e9;
  r.values["gflops"] = flops / 1e9 / (t.median / items_per_call / 1e3);
  r.values["peak_rss_mb"] = peak;
  const auto kernels = kernel_values(prof, items_per_call, unit);
  for (auto it = kernels.begin(); it != kernels.end(); ++it) r.values[it.key()] = it.value();
  return r;
}

void gemm_suite(Context& ctx) {
  torch::NoGradGuard g;
  const int64_t n = 2048;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  auto t = time_it([&] { torch::mm(a, b); }, ctx.warmup, ctx.reps);
  gemm_gflops = 2.0 * n * n * n / (t.median / 1e3) / 1e9;
  ctx.add({"gemm", fmt::format("fp32 matmul {}x{}x{}", n, n, n),
           {{"ms", t.median}, {"spread_ms", t.max - t.min}, {"gflops", gemm_gflops}}, "the yardstick"});
  auto x = torch::randn({1, 256, 96, 96});
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(256, 256, 3).padding(1));
  auto tc = time_it([&] { conv(x); }, ctx.warmup, ctx.reps);
  double flops = 2.0 * 256 * 256 * 9 * 96 * 96;
  ctx.add({"gemm", "fp32 conv3x3 256->256 @96x96", {{"ms", tc.median}, {"spread_ms", tc.max - tc.min}, {"gflops", flops / (tc.median / 1e3) / 1e9}}, ""});
}

void backbones_suite(Context& ctx) {
  // Student encoder at full size, fed the teacher's 1008x1008 frame (it resizes to its input).
  auto frame = torch::randn({1, 3, 1008, 1008});
  MemProbe student_mem;
  models::StudentEncoder student(models::StudentConfig::full_size());
  student->eval();
  auto rs = measure_model(ctx, "backbones", "student encoder (TinyViT-21M+FPN+fusion) 1008->512", [&] { student->forward(frame); }, 1,
                          "frame", &student_mem);
  rs.note = "output [1,1024,72,72]";
  ctx.add(rs);

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
    rt.note = "output [1,1024,72,72]; 1 repetition";
    ctx.add(rt);
    Row ratio{"backbones", "student / teacher", {}, "same frame, same run"};
    ratio.values["speedup"] = rt.values["ms_per_frame"].get<double>() / rs.values["ms_per_frame"].get<double>();
    ratio.values["peak_memory_ratio"] = rt.values["peak_rss_mb"].get<double>() / std::max(1.0, rs.values["peak_rss_mb"].get<double>());
    ratio.values["flop_ratio"] = rt.values["gflop_per_frame"].get<double>() / rs.values["gflop_per_frame"].get<double>();
    ctx.add(ratio);
  }

  // DINOv3 ViT-S/16 on a batch of per-animal crops.
  MemProbe dino_mem;
  models::DinoV3Config dc;
  models::DinoVisionTransformer dino(dc);
  dino->eval();
  auto crops = torch::randn({8, 3, 224, 224});
  auto rd = measure_model(ctx, "backbones", "DINOv3 ViT-S/16 224x224, batch 8", [&] { dino->forward_features(crops); }, 8, "crop", &dino_mem);
  ctx.add(rd);
}

}  // namespace

const std::vector<Suite>& suites() {
  static const std::vector<Suite> all = {
      {"gemm", "fp32 matmul and conv3x3 GFLOP/s: the machine's practical peak", gemm_suite},
      {"backbones", "teacher trunk vs student encoder per frame; DINOv3 per crop", backbones_suite},
  };
  return all;
}

}  // namespace eh::bench
