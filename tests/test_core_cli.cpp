// `edgeherd parity` and `edgeherd manifest` end to end on the toy_mlp architecture. The
// reference outputs are computed here with torch functional ops, independently of the port.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/state_dict.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

struct ToyCase {
  fs::path dir, config, weights, io;
};

ToyCase make_toy_case(const std::string& name, bool perturb) {
  ToyCase c;
  c.dir = eh::test::temp_dir("toy_" + name);
  c.config = c.dir / "config.json";
  c.weights = c.dir / "weights.safetensors";
  c.io = c.dir / "io.safetensors";
  std::ofstream(c.config) << R"({"class": "toy", "in_features": 5, "hidden_features": 8, "out_features": 3})";
  torch::manual_seed(7);
  auto w1 = torch::randn({8, 5}) / std::sqrt(5.0), b1 = 0.05 * torch::randn({8});
  auto lnw = 1 + 0.1 * torch::randn({8}), lnb = 0.05 * torch::randn({8});
  auto bnw = 1 + 0.1 * torch::randn({8}), bnb = 0.05 * torch::randn({8});
  auto rm = 0.1 * torch::randn({8}), rv = 0.5 + torch::rand({8});
  auto w2 = torch::randn({3, 8}) / std::sqrt(8.0), b2 = 0.05 * torch::randn({3});
  eh::write_tensors(c.weights, {{"body.0.weight", w1}, {"body.0.bias", b1}, {"body.2.weight", lnw},
                                {"body.2.bias", lnb}, {"bn.weight", bnw}, {"bn.bias", bnb},
                                {"bn.running_mean", rm}, {"bn.running_var", rv},
                                {"bn.num_batches_tracked", torch::zeros({}, torch::kLong)},
                                {"head.weight", w2}, {"head.bias", b2}});
  auto x = torch::randn({4, 5});
  // Independent reference, in float64: y = W2 bn(ln(gelu(W1 x + b1))) + b2.
  auto xd = x.to(torch::kDouble);
  auto h = torch::matmul(xd, w1.to(torch::kDouble).t()) + b1.to(torch::kDouble);
  h = 0.5 * h * (1 + torch::erf(h / std::sqrt(2.0)));
  auto mu = h.mean(-1, true), var = h.var(-1, false, true);
  h = (h - mu) / torch::sqrt(var + 1e-5) * lnw.to(torch::kDouble) + lnb.to(torch::kDouble);
  h = (h - rm.to(torch::kDouble)) / torch::sqrt(rv.to(torch::kDouble) + 1e-5) * bnw.to(torch::kDouble) +
      bnb.to(torch::kDouble);
  auto y = torch::matmul(h, w2.to(torch::kDouble).t()) + b2.to(torch::kDouble);
  if (perturb) y = y + 1e-3;  // larger than the tolerance: parity must fail
  eh::write_tensors(c.io, {{"input.x", x}, {"output.y", y.to(torch::kFloat)}, {"intermediate.hidden", h.to(torch::kFloat)}});
  return c;
}

std::string parity_cmd(const ToyCase& c) {
  return "parity --arch toy_mlp --config " + c.config.string() + " --weights " + c.weights.string() + " --io " +
         c.io.string();
}

}  // namespace

TEST(Cli, ParityPassesOnIndependentReference) {
  auto c = make_toy_case("ok", false);
  auto r = eh::test::run_cli(parity_cmd(c));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("output.y"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("intermediate.hidden"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 compared, 0 failed, 0 skipped"), std::string::npos) << r.out;
}

TEST(Cli, ParityFailsWhenOutputsDiffer) {
  auto c = make_toy_case("bad", true);
  auto r = eh::test::run_cli(parity_cmd(c));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << r.out;
}

TEST(Cli, ParityReportsEveryBadKey) {
  auto c = make_toy_case("keys", false);
  auto f = eh::st::File::open(c.weights.string());
  eh::NamedTensors ts;
  for (const auto& t : f.tensors())
    if (t.name != "head.bias") ts.emplace_back(t.name == "bn.bias" ? "bn.biass" : t.name, eh::read_tensor(f, t));
  fs::remove(c.weights);
  eh::write_tensors(c.weights, ts);
  auto r = eh::test::run_cli(parity_cmd(c));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("missing key: head.bias"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing key: bn.bias"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unexpected key: bn.biass"), std::string::npos) << r.out;
}

TEST(Cli, ManifestListsKeysInStateDictOrder) {
  auto c = make_toy_case("manifest", false);
  auto r = eh::test::run_cli("manifest --arch toy_mlp --config " + c.config.string());
  ASSERT_EQ(r.code, 0) << r.out;
  // params: 5*8+8 + 8+8 + 8+8 + 8*3+3 = 107; buffers: 8+8+1 = 17.
  EXPECT_NE(r.out.find("# params=107 buffers=17"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("body.0.weight\t[8, 5]\tfloat32\nbody.0.bias\t[8]\tfloat32\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bn.num_batches_tracked\t[]\tint64\nhead.weight\t[3, 8]\tfloat32"), std::string::npos) << r.out;
}

TEST(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(eh::test::run_cli("parity --arch toy_mlp").code, 2);
  EXPECT_EQ(eh::test::run_cli("no-such-command").code, 2);
  auto c = make_toy_case("unknown_arch", false);
  auto r = eh::test::run_cli("manifest --arch nope --config " + c.config.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("toy_mlp"), std::string::npos) << r.out;  // lists the known ones
}

TEST(Cli, UnknownConfigFieldIsRejected) {
  auto c = make_toy_case("field", false);
  std::ofstream(c.config) << R"({"in_features": 5, "hidden_features": 8, "out_features": 3, "hiden": 2})";
  auto r = eh::test::run_cli("manifest --arch toy_mlp --config " + c.config.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("'hiden'"), std::string::npos) << r.out;
}
