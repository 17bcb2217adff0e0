// The op profiler's FLOP and byte counts and kernel classes, on hand-computed shapes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bench/bench.h"
#include "bench/op_profiler.h"

using namespace eh::bench;

TEST(BenchProfiler, CountsEachKernelKind) {
  torch::NoGradGuard g;
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).padding(1).bias(false));
  auto dw = torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1).groups(8).bias(false));
  auto up = torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(8, 4, 2).stride(2).bias(false));
  auto lin = torch::nn::Linear(10, 20);
  auto x = torch::randn({1, 8, 10, 10}), a = torch::randn({4, 5, 6}), b = torch::randn({4, 6, 7});
  auto xs = torch::randn({1, 8, 4, 4}), v = torch::randn({3, 10});
  OpProfiler prof;
  conv(x);
  dw(x);
  up(xs);
  torch::bmm(a, b);
  lin(v);
  const auto s = prof.stats();
  ASSERT_TRUE(s.count("conv") && s.count("dwconv") && s.count("bmm") && s.count("matmul"));
  // dense 3x3: 2 * Cout(16) * out pixels(100) * Cin*k*k(72); transposed 2x2 s2: 2 * in pixels(16) * 8*4*2*2
  EXPECT_DOUBLE_EQ(s.at("conv").flops, 2.0 * 16 * 100 * 72 + 2.0 * 16 * 128);
  EXPECT_EQ(s.at("conv").calls, 2);
  EXPECT_DOUBLE_EQ(s.at("dwconv").flops, 2.0 * 8 * 100 * 9);
  // depthwise bytes: input 800 + weight 72 + output 800 floats
  EXPECT_DOUBLE_EQ(s.at("dwconv").bytes, (800 + 72 + 800) * 4.0);
  EXPECT_DOUBLE_EQ(s.at("bmm").flops, 2.0 * 4 * 5 * 6 * 7);
  EXPECT_DOUBLE_EQ(s.at("bmm").bytes, 4.0 * (5 * 6 + 6 * 7 + 5 * 7) * 4);
  EXPECT_DOUBLE_EQ(s.at("matmul").flops, 2.0 * 3 * 10 * 20);
  EXPECT_DOUBLE_EQ(prof.total_flops(), s.at("conv").flops + s.at("dwconv").flops + s.at("bmm").flops + s.at("matmul").flops);
}

TEST(BenchProfiler, NothingOutsideItsLifetime) {
  torch::NoGradGuard g;
  auto a = torch::randn({8, 8});
  { OpProfiler p; }
  torch::mm(a, a);
  OpProfiler prof;
  EXPECT_EQ(prof.total_flops(), 0);
  torch::mm(a, a);
  EXPECT_DOUBLE_EQ(prof.total_flops(), 2.0 * 8 * 8 * 8);
}

TEST(BenchTiming, MedianAndSpread) {
  int calls = 0;
  auto t = time_it([&] { ++calls; }, 2, 5);
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(t.ms.size(), 5u);
  EXPECT_LE(t.min, t.median);
  EXPECT_LE(t.median, t.max);
  EXPECT_DOUBLE_EQ(median_of({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median_of({4, 1, 2, 3}), 2.5);
}

TEST(BenchReport, MachineInfoAndMarkdown) {
  auto m = machine_info();
  EXPECT_TRUE(m.contains("cores") && m.contains("blas") && m.contains("libtorch") && m.contains("commit") &&
              m.contains("load_start") && m.contains("torch_threads"));
  finish_machine_info(m);
  EXPECT_TRUE(m.contains("load_end"));
  m["load_start"] = 1000.0;  // a busy machine is flagged
  finish_machine_info(m);
  ASSERT_TRUE(m.contains("warning"));
  Report r{m, {{"s", "case a", {{"ms", 1.5}}, "n"}, {"s", "case b", {{"ms", 250.0}}, ""}}};
  const auto md = to_markdown(r);
  EXPECT_NE(md.find("**Warning:**"), std::string::npos);
  EXPECT_NE(md.find("| case a | ms 1.5 | n |"), std::string::npos);
  EXPECT_NE(md.find("| case b | ms 250 |  |"), std::string::npos);
  EXPECT_EQ(to_json(r)["rows"].size(), 2u);
}
