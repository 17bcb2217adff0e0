#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/runtime.h"
#include "core/state_dict.h"

namespace fs = std::filesystem;

namespace {

struct Inner : torch::nn::Module {
  Inner() {
    register_parameter("weight", torch::ones({2, 3}));
    register_buffer("running", torch::zeros({2}));
  }
};
struct Outer : torch::nn::Module {
  Outer() {
    register_module("a", std::make_shared<Inner>());
    register_parameter("scale", torch::ones({4}));
    register_module("b", torch::nn::Linear(3, 2));
  }
};

fs::path tmp(const std::string& name) {
  auto d = fs::temp_directory_path() / ("eh_sd_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

}  // namespace

TEST(StateDict, OrderFollowsPyTorch) {
  // PyTorch: own params, own buffers, then children in registration order.
  Outer m;
  std::vector<std::string> keys;
  for (auto& [k, v] : eh::state_dict(m)) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"scale", "a.weight", "a.running", "b.weight", "b.bias"}));
}

TEST(StateDict, StrictBindingListsEveryProblemAtOnce) {
  auto p = tmp("bad.safetensors");
  fs::remove(p);
  eh::write_tensors(p, {{"scale", torch::ones({4})},
                        {"a.weight", torch::ones({3, 2})},  // wrong shape
                        {"b.weight", torch::ones({2, 3})},
                        {"extra.thing", torch::ones({1})}});
  Outer m;
  try {
    eh::load_state_dict(m, p.string());
    FAIL();
  } catch (const eh::Error& e) {
    std::string s = e.what();
    EXPECT_NE(s.find("missing key: a.running"), std::string::npos) << s;
    EXPECT_NE(s.find("missing key: b.bias"), std::string::npos) << s;
    EXPECT_NE(s.find("unexpected key: extra.thing"), std::string::npos) << s;
    EXPECT_NE(s.find("a.weight: expected [2, 3], found [3, 2]"), std::string::npos) << s;
    EXPECT_NE(s.find(p.string()), std::string::npos) << s;
  }
  // Nothing was half-loaded by the failed strict bind.
  EXPECT_TRUE(torch::equal(m.named_parameters()["scale"], torch::ones({4})));

  auto r = eh::load_state_dict(m, p.string(), eh::BindOptions{false, ""});
  EXPECT_EQ(r.loaded, (std::vector<std::string>{"scale", "b.weight"}));
  EXPECT_EQ(r.missing.size(), 2u);
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"extra.thing"}));
}

TEST(StateDict, ConvertsHalfAndLongAndHonoursPrefix) {
  auto p = tmp("prefixed.safetensors");
  fs::remove(p);
  Outer src;
  torch::manual_seed(3);
  eh::NamedTensors ts;
  for (auto& [k, v] : eh::state_dict(src)) {
    auto t = torch::randn(v.sizes());
    // Half for weights, int64 for buffers: the binder converts to the model's fp32.
    ts.emplace_back("model.trunk." + k, k == "a.running" ? torch::arange(2, torch::kLong) : t.to(torch::kHalf));
  }
  ts.emplace_back("model.other.x", torch::ones({1}));
  eh::write_tensors(p, ts, {{"note", "prefix test"}});
  Outer m;
  auto r = eh::load_state_dict(m, p.string(), eh::BindOptions{true, "model.trunk."});
  EXPECT_TRUE(r.ok());
  auto sd = eh::state_dict(m);
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].second.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(sd[i].second, ts[i].second.to(torch::kFloat))) << sd[i].first;
  }
  EXPECT_EQ(eh::st::File::open(p.string()).metadata().at("note"), "prefix test");
}

TEST(StateDict, WriterRefusesToOverwrite) {
  auto p = tmp("once.safetensors");
  fs::remove(p);
  eh::write_tensors(p, {{"x", torch::ones({1})}});
  EXPECT_THROW(eh::write_tensors(p, {{"x", torch::ones({1})}}), eh::Error);
}

TEST(StateDict, ZeroCopyReadSharesTheMapping) {
  auto p = tmp("zc.safetensors");
  fs::remove(p);
  eh::write_tensors(p, {{"x", torch::arange(6, torch::kFloat).reshape({2, 3})}});
  at::Tensor t;
  {
    auto f = eh::st::File::open(p.string());
    t = eh::read_tensor(f, "x");
  }  // the File is gone; the tensor keeps the mapping alive
  EXPECT_FLOAT_EQ(t[1][2].item<float>(), 5.f);
  t.add_(1);  // copy-on-write mapping: writing is allowed and private
  EXPECT_FLOAT_EQ(t[0][0].item<float>(), 1.f);
}

TEST(Runtime, OpenBlasIsTheBlasInUse) {
  eh::runtime::init(0);
  torch::mm(torch::ones({64, 64}), torch::ones({64, 64}));  // make sure BLAS is loaded
  EXPECT_FALSE(eh::runtime::blas_is_reference()) << eh::runtime::blas_library();
  EXPECT_EQ(torch::get_num_threads(), eh::runtime::num_cores());
}
