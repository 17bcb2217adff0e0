// The pixel posture network of the behaviour model (LibTorch; internal to src/animal): a small
// CNN on the animal's crop plus its mask -> upright / sitting / lying. From above, posture is in
// the pixels and hardly in the outline: a standing pig shows its hooves past the trunk and casts
// a longer, darker shadow; a pig lying on its belly is a little wider and its shadow hugs it
// (src/data/pen_render.cpp). Motion cannot tell standing still from lying, and these two
// were the behaviour model's main confusion (docs/animal.md).
#pragma once
#include <torch/nn.h>

#include <array>
#include <string>
#include <vector>

#include "animal/crops.h"
#include "animal/embedder.h"
#include "core/config.h"
#include "data/simulator.h"

namespace eh::data {
struct Rle;
}

namespace eh::animal {

// Posture groups the behaviour classes need: Standing -> upright, Sitting -> sitting,
// LyingSternal / LyingLateral -> lying.
// (kPostureGroups and PostureProbs are in animal/embedder.h.)
int posture_group(eh::data::Posture p);

struct PostureConfig {
  int crop_size = 48;
  float margin = 0.15f;                // more than the embedder's: the shadow falls beside the body
  std::vector<int> channels{16, 32, 64, 64};  // one stride-2 conv block per entry
  static PostureConfig from_json(const nlohmann::json& j, const std::string& label);
  nlohmann::json to_json() const;
  CropOptions crop() const { return {crop_size, margin}; }
};

// Input planes of one animal: RGB (ImageNet-normalised) and the mask (0 / 1), 4 x S x S floats
// appended to `out`. Without a mask the plane is all 0.5 ("unknown"). Returns false when the
// box does not overlap the image (all padding).
bool append_posture_input(const cv::Mat& bgr, const cv::Rect2f& box, const eh::data::Rle* mask, const PostureConfig& c,
                          std::vector<float>* out);

struct PostureNetImpl : torch::nn::Module {
  explicit PostureNetImpl(const PostureConfig& c);
  at::Tensor forward(const at::Tensor& x);  // [N, 4, S, S] -> [N, 3] logits
  torch::nn::Sequential features{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(PostureNet);

// Softmax probabilities for observations of one frame (their box and mask; eval mode, no
// gradients). An animal whose box misses the image gets the uniform 1/3.
std::vector<PostureProbs> posture_probs(PostureNet& net, const PostureConfig& c, const cv::Mat& bgr,
                                        const std::vector<TrackObservation>& obs);

}  // namespace eh::animal
