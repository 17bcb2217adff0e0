// toy_mlp: a deliberately small model that exercises every binding path (weights, biases,
// a LayerNorm, BatchNorm buffers with the int64 counter, nested Sequential names). The
// tests use it to check `parity` and `manifest` end to end without any upstream fixture.
#include <torch/torch.h>

#include "models/registry.h"

namespace eh::models {
namespace {

struct ToyMlpImpl : torch::nn::Module {
  torch::nn::Sequential body{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  torch::nn::Linear head{nullptr};
  ToyMlpImpl(int64_t in, int64_t hidden, int64_t out) {
    body = register_module("body", torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::GELU(),
                                                          torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden}))));
    bn = register_module("bn", torch::nn::BatchNorm1d(hidden));
    head = register_module("head", torch::nn::Linear(hidden, out));
  }
};
TORCH_MODULE(ToyMlp);

class ToyMlpModel : public ArchModel {
 public:
  explicit ToyMlpModel(Config& c)
      : net_(c.get<int64_t>("in_features"), c.get<int64_t>("hidden_features"), c.get<int64_t>("out_features")) {
    c.finish();
    net_->eval();
  }
  torch::nn::Module& module() override { return *net_; }
  TensorMap run(const TensorMap& in) override {
    torch::NoGradGuard g;
    const auto& x = require_input(in, "x", "toy_mlp");
    auto h = net_->bn(net_->body->forward(x));
    return {{"intermediate.hidden", h}, {"output.y", net_->head(h)}};
  }

 private:
  ToyMlp net_;
};

}  // namespace

Arch toy_mlp_arch() {
  return {"toy_mlp", "test model: Linear-GELU-LayerNorm-BatchNorm1d-Linear (in_features, hidden_features, out_features)",
          [](Config& c) { return std::make_unique<ToyMlpModel>(c); }};
}

}  // namespace eh::models
