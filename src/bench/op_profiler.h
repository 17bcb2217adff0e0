// Counts the floating-point work and time of the heavy kernels (matmuls and convolutions) that
// run while a profiler is active on this thread, using LibTorch's RecordFunction callbacks, so
// achieved GFLOP/s can be reported per kernel kind without hand-written FLOP formulas per model.
#pragma once
#include <map>
#include <string>

namespace eh::bench {

struct KernelStats {
  double flops = 0;    // multiply-add counted as 2
  double bytes = 0;    // operands read + result written, at their element size (a lower bound on traffic)
  double seconds = 0;  // wall time inside the kernel
  long calls = 0;
  double gflops_per_s() const { return seconds > 0 ? flops / seconds / 1e9 : 0; }
  double gbytes_per_s() const { return seconds > 0 ? bytes / seconds / 1e9 : 0; }
  double flops_per_byte() const { return bytes > 0 ? flops / bytes : 0; }
};

class OpProfiler {
 public:
  OpProfiler();   // starts recording on the calling thread
  ~OpProfiler();  // stops
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;
  // Per kind: "matmul" (mm, addmm: linear layers), "bmm" (bmm, baddbmm: attention), "conv"
  // (dense and grouped convolutions, transposed included) and "dwconv" (depthwise: one input
  // channel per group). Nested calls of a counted op inside another (e.g. im2col convolution
  // calling addmm) are not counted twice.
  std::map<std::string, KernelStats> stats() const;
  double total_flops() const;
  // Outermost ops that are not heavy kernels (gelu, layer_norm, softmax, copies, ...): seconds
  // spent in them outside any heavy kernel they call, per op name.
  std::map<std::string, double> other_seconds() const;

 private:
  unsigned long long handle_;
};

}  // namespace eh::bench
