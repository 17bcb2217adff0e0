#include "models/parity.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/config.h"
#include "core/state_dict.h"
#include "core/tensor_io.h"
#include "models/registry.h"

namespace eh::models {

bool ParityResult::ok() const { return failures() == 0 && !rows.empty(); }

int ParityResult::failures() const {
  int n = 0;
  for (const auto& r : rows) n += (!r.skipped && !r.pass);
  return n;
}

std::string ParityResult::table() const {
  std::string s = fmt::format("{:<44} {:<22} {:>11} {:>11}  {}\n", "tensor", "shape", "max_abs", "max_rel", "result");
  int compared = 0, skipped = 0;
  for (const auto& r : rows) {
    if (r.skipped) {
      ++skipped;
      s += fmt::format("{:<44} {:<22} {:>11} {:>11}  SKIP ({})\n", r.name, r.ref_shape, "-", "-", r.note);
      continue;
    }
    ++compared;
    s += fmt::format("{:<44} {:<22} {:>11.3e} {:>11.3e}  {}{}\n", r.name, r.ref_shape, r.max_abs, r.max_rel,
                     r.pass ? "PASS" : "FAIL", r.note.empty() ? "" : " (" + r.note + ")");
  }
  s += fmt::format("{} compared, {} failed, {} skipped, {} produced without a reference: {}\n", compared, failures(),
                   skipped, extra, ok() ? "PASS" : "FAIL");
  return s;
}

ParityResult run_parity(const ParityRequest& req) {
  Config cfg = Config::load(req.config);
  auto model = build(req.arch, cfg);
  load_state_dict(model->module(), req.weights);  // strict: throws with every key problem listed
  model->module().eval();

  auto io = st::File::open(req.io);
  TensorMap inputs;
  for (const auto& t : io.tensors()) {
    if (t.name.rfind("input.", 0) != 0) continue;
    auto x = read_tensor(io, t);
    if (x.is_floating_point()) x = x.to(torch::kFloat);
    inputs[t.name.substr(6)] = x;
  }
  if (inputs.empty()) throw Error(req.io + ": no 'input.*' tensors");
  TensorMap ours = model->run(inputs);

  ParityResult res;
  for (const auto& t : io.tensors()) {
    const bool is_out = t.name.rfind("output.", 0) == 0;
    const bool is_mid = t.name.rfind("intermediate.", 0) == 0;
    if (!is_out && !is_mid) continue;
    ParityRow row;
    row.name = t.name;
    row.ref_shape = shape_str(at::IntArrayRef(t.shape));
    auto it = ours.find(t.name);
    if (it == ours.end()) {
      row.note = is_out ? "not produced by this port" : "intermediate not produced by this port";
      row.skipped = is_mid;
      res.rows.push_back(row);
      continue;
    }
    auto ref = read_tensor(io, t, torch::kDouble);
    auto got = it->second.detach().to(torch::kDouble);
    row.our_shape = shape_str(got.sizes());
    if (got.sizes() != ref.sizes()) {
      row.note = "shape mismatch: expected " + row.ref_shape + ", found " + row.our_shape;
      res.rows.push_back(row);
      continue;
    }
    auto diff = (got - ref).abs();
    auto bound = req.atol + req.rtol * ref.abs();
    row.max_abs = diff.numel() ? diff.max().item<double>() : 0.0;
    auto nz = ref.abs() > 0;
    row.max_rel = nz.any().item<bool>() ? (diff.masked_select(nz) / ref.abs().masked_select(nz)).max().item<double>() : 0.0;
    const bool finite = torch::isfinite(got).all().item<bool>() || !torch::isfinite(ref).all().item<bool>();
    row.pass = finite && (diff <= bound).all().item<bool>();
    if (!finite) row.note = "non-finite values";
    else if (!row.pass) row.note = fmt::format("exceeds {} + {}*|ref|", req.atol, req.rtol);
    res.rows.push_back(row);
  }
  for (const auto& [k, v] : ours) res.extra += !io.contains(k);
  return res;
}

}  // namespace eh::models
