#include "video/segmenter.h"

#include <random>

#include "core/error.h"

namespace eh::video {

namespace {
uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::vector<float> gaussian(uint64_t seed, int dim) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = n(rng);
  return v;
}
}  // namespace

GroundTruthSegmenter::GroundTruthSegmenter(const GroundTruthOptions& opt) : opt_(opt) {
  if (opt.embedding_dim < 0) throw eh::UsageError("ground-truth segmenter: embedding_dim must be >= 0");
}

eh::track::Detections GroundTruthSegmenter::segment(const cv::Mat&) const {
  throw eh::Error("ground-truth segmenter: needs frames with simulator ground truth (use a sim: source)");
}

std::vector<int> GroundTruthSegmenter::ids_of(const Frame& frame) const {
  std::vector<int> ids;
  if (!frame.truth) return ids;
  for (const auto& g : *frame.truth)
    if (g.visible_pixels >= opt_.min_visible_pixels && !g.visible_box.empty()) ids.push_back(g.id);
  return ids;
}

eh::track::Detections GroundTruthSegmenter::segment(const Frame& frame) const {
  if (!frame.truth) return segment(frame.image);
  eh::track::Detections d;
  for (const auto& g : *frame.truth) {
    if (g.visible_pixels < opt_.min_visible_pixels || g.visible_box.empty()) continue;
    d.add(cv::Rect2f(g.visible_box), 1.0f);
    if (opt_.masks && g.mask.height > 0) d.rles.push_back(g.mask);
    if (opt_.embedding_dim > 0) {
      const uint64_t base_seed = mix(opt_.seed ^ mix(static_cast<uint64_t>(g.id)));
      std::vector<float> e = gaussian(base_seed, opt_.embedding_dim);
      const std::vector<float> noise =
          gaussian(mix(base_seed ^ mix(static_cast<uint64_t>(frame.index) + 0x51ed27ULL)), opt_.embedding_dim);
      for (int k = 0; k < opt_.embedding_dim; ++k) e[k] += opt_.embedding_noise * noise[k];
      d.embeddings.push_back(std::move(e));
    }
  }
  if (!d.rles.empty() && d.rles.size() != d.size()) d.rles.clear();  // masks off in the simulator
  return d;
}

}  // namespace eh::video
