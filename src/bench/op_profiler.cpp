#include "bench/op_profiler.h"

#include <ATen/record_function.h>

#include <chrono>
#include <cstring>
#include <vector>

namespace eh::bench {

namespace {

struct ThreadState {
  std::map<std::string, KernelStats> stats;
  std::map<std::string, double> other;  // top-level non-heavy ops: name -> seconds outside heavy kernels
  int depth = 0;      // counted (heavy) ops currently open on this thread
  int all_depth = 0;  // any op currently open
  double heavy_s = 0; // running total of counted kernel seconds
};
thread_local ThreadState* tls = nullptr;

using Clock = std::chrono::steady_clock;

struct Ctx : at::ObserverContext {
  const char* kind = nullptr;  // null: not counted (nested or not a heavy op)
  bool heavy = false;          // a heavy op (counted or nested)
  bool top = false;            // outermost op on this thread
  const char* name = nullptr;
  double flops = 0, bytes = 0, heavy_s0 = 0;
  Clock::time_point t0;
};

std::vector<int64_t> sizes_of(const c10::IValue& v) {
  return v.isTensor() ? v.toTensor().sizes().vec() : std::vector<int64_t>{};
}

double prod(const std::vector<int64_t>& v, size_t from = 0) {
  double p = 1;
  for (size_t i = from; i < v.size(); ++i) p *= static_cast<double>(v[i]);
  return p;
}

double bytes_of(const c10::IValue& v) {
  return v.isTensor() ? static_cast<double>(v.toTensor().numel()) * static_cast<double>(v.toTensor().element_size()) : 0.0;
}

// Returns the kind, FLOPs and operand bytes of a heavy op, or nullptr for anything else.
const char* classify(const at::RecordFunction& fn, double* flops, double* bytes) {
  const char* name = fn.name();
  auto in = fn.inputs();
  auto mm_bytes = [&](double m, double k, double n, double batch, double esize) { *bytes = batch * (m * k + k * n + m * n) * esize; };
  auto esize = [&](const c10::IValue& v) { return v.isTensor() ? static_cast<double>(v.toTensor().element_size()) : 4.0; };
  if (!std::strcmp(name, "aten::mm") && in.size() >= 2) {
    auto a = sizes_of(in[0]), b = sizes_of(in[1]);
    if (a.size() == 2 && b.size() == 2) {
      *flops = 2.0 * a[0] * a[1] * b[1];
      mm_bytes(a[0], a[1], b[1], 1, esize(in[0]));
    }
    return "matmul";
  }
  if (!std::strcmp(name, "aten::addmm") && in.size() >= 3) {
    auto a = sizes_of(in[1]), b = sizes_of(in[2]);
    if (a.size() == 2 && b.size() == 2) {
      *flops = 2.0 * a[0] * a[1] * b[1];
      mm_bytes(a[0], a[1], b[1], 1, esize(in[1]));
    }
    return "matmul";
  }
  if ((!std::strcmp(name, "aten::bmm") || !std::strcmp(name, "aten::baddbmm")) && in.size() >= 2) {
    size_t o = std::strcmp(name, "aten::bmm") ? 1 : 0;
    auto a = sizes_of(in[o]), b = sizes_of(in[o + 1]);
    if (a.size() == 3 && b.size() == 3) {
      *flops = 2.0 * a[0] * a[1] * a[2] * b[2];
      mm_bytes(a[1], a[2], b[2], a[0], esize(in[o]));
    }
    return "bmm";
  }
  if (!std::strcmp(name, "aten::convolution") && in.size() >= 9) {
    auto x = sizes_of(in[0]), w = sizes_of(in[1]);
    const bool transposed = in[6].isBool() && in[6].toBool();
    const int64_t groups = in[8].isInt() ? in[8].toInt() : 1;
    const bool depthwise = x.size() == 4 && groups > 1 && groups == x[1] && !transposed;
    if (x.size() == 4 && w.size() == 4 && in[3].isIntList() && in[4].isIntList() && in[5].isIntList()) {
      auto s = in[3].toIntVector(), p = in[4].toIntVector(), d = in[5].toIntVector();
      double out = 1, out_ch = transposed ? static_cast<double>(w[1] * groups) : static_cast<double>(w[0]);
      if (transposed) {
        // weight [Cin, Cout/groups, kh, kw]: every input pixel scatters a kh x kw x Cout/groups patch
        *flops = 2.0 * x[0] * x[2] * x[3] * prod(w);
        for (int i = 0; i < 2; ++i) out *= static_cast<double>((x[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (w[2 + i] - 1) + 1);
      } else {
        for (int i = 0; i < 2; ++i) out *= static_cast<double>((x[2 + i] + 2 * p[i] - d[i] * (w[2 + i] - 1) - 1) / s[i] + 1);
        // weight [Cout, Cin/groups, kh, kw]
        *flops = 2.0 * x[0] * w[0] * out * prod(w, 1);
      }
      *bytes = bytes_of(in[0]) + bytes_of(in[1]) + static_cast<double>(x[0]) * out_ch * out * esize(in[0]);
    }
    return depthwise ? "dwconv" : "conv";
  }
  return nullptr;
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (!tls) return nullptr;
  double flops = 0, bytes = 0;
  const char* kind = classify(fn, &flops, &bytes);
  auto c = std::make_unique<Ctx>();
  c->top = tls->all_depth++ == 0;
  c->name = fn.name();
  c->heavy_s0 = tls->heavy_s;
  if (kind) {
    c->heavy = true;
    if (tls->depth++ == 0) {
      c->kind = kind;
      c->flops = flops;
      c->bytes = bytes;
    }
  }
  c->t0 = Clock::now();
  return c;
}

void on_end(const at::RecordFunction&, at::ObserverContext* ctx) {
  if (!tls || !ctx) return;
  auto* c = static_cast<Ctx*>(ctx);
  const double secs = std::chrono::duration<double>(Clock::now() - c->t0).count();
  --tls->all_depth;
  if (c->heavy) --tls->depth;
  if (c->kind) {
    auto& s = tls->stats[c->kind];
    s.flops += c->flops;
    s.bytes += c->bytes;
    s.seconds += secs;
    s.calls += 1;
    tls->heavy_s += secs;
  } else if (c->top && !c->heavy) {
    tls->other[c->name] += std::max(0.0, secs - (tls->heavy_s - c->heavy_s0));
  }
}

}  // namespace

OpProfiler::OpProfiler() {
  tls = new ThreadState();
  handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end).needsInputs(true));
}

OpProfiler::~OpProfiler() {
  at::removeCallback(handle_);
  delete tls;
  tls = nullptr;
}

std::map<std::string, KernelStats> OpProfiler::stats() const { return tls ? tls->stats : std::map<std::string, KernelStats>{}; }

std::map<std::string, double> OpProfiler::other_seconds() const { return tls ? tls->other : std::map<std::string, double>{}; }

double OpProfiler::total_flops() const {
  double f = 0;
  for (const auto& [k, s] : stats()) f += s.flops;
  return f;
}

}  // namespace eh::bench
