// Per-animal appearance embedding (DINOv3 architecture at any size) and the behaviour model:
// the interfaces the pipeline codes against. Models are shared, read-only state (several
// streams share one); per-stream state lives in the objects new_stream() returns.
#pragma once
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/behaviour.h"
#include "data/rle.h"

namespace eh::animal {

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual int dim() const = 0;
  // One L2-normalised row per box (x, y, w, h in pixels of `bgr`), in order; boxes are
  // clipped to the image, an empty clipped box gives an all-zero row. `masks`: null, or the
  // boxes' visible masks (whole image), which an embedder that aligns its crops to the body
  // reads (without them it aligns to the box).
  virtual std::vector<std::vector<float>> embed(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes,
                                                const std::vector<eh::data::Rle>* masks = nullptr) const = 0;
  // Whether embed() reads `masks`: callers then pass them (full-frame masks cost an RLE encoding
  // per instance, which an embedder cropping by the box would throw away).
  virtual bool reads_masks() const { return false; }
  virtual std::string name() const = 0;
  virtual std::size_t bytes() const = 0;  // weights held
};

// A model directory with config.json + weights.safetensors (+ card.md). Throws eh::Error naming
// the file and what is wrong.
std::shared_ptr<const Embedder> load_embedder(const std::string& dir);

// Posture from pixels (behaviour models with a posture network): probabilities of upright,
// sitting, lying.
constexpr int kPostureGroups = 3;
using PostureProbs = std::array<float, kPostureGroups>;

// What the behaviour model sees of one tracked animal in one frame.
struct TrackObservation {
  int id = 0;                              // track id (stable while tracked)
  double t = 0;                            // seconds
  cv::Rect2f box;                          // pixels
  const eh::data::Rle* mask = nullptr;     // may be null
  const std::vector<float>* embedding = nullptr;  // may be null or empty
  // The frame (BGR), for models that read pixels (BehaviourModel::uses_pixels()); may be null:
  // the posture input is then "unknown" (uniform).
  const cv::Mat* image = nullptr;
  // Precomputed BehaviourModel::posture() for this observation; when set, `image` is not read.
  const PostureProbs* posture = nullptr;
};

struct BehaviourPrediction {
  eh::data::Behaviour label = eh::data::Behaviour::Unknown;
  float confidence = 0;                              // probability of `label` after smoothing
  std::array<float, eh::data::kNumBehaviours> probs{};  // smoothed class probabilities
};

// Per-stream behaviour state: motion history per track and temporal smoothing.
class BehaviourStream {
 public:
  virtual ~BehaviourStream() = default;
  // One prediction per observation, same order. Observations of one track come in time order.
  virtual std::vector<BehaviourPrediction> update(const std::vector<TrackObservation>& obs) = 0;
  // Forget a track (retired by the tracker).
  virtual void drop(int id) = 0;
  // Fixed-lag smoothing: the prediction for track `id`'s observation at time `t`, revised with
  // the observations that came after it (at most BehaviourModel::lag_frames() of them are
  // kept). nullopt when that observation is no longer kept (or the model does not revise).
  // With a look-ahead model this makes the label final (with the later observations there are
  // so far): ask once BehaviourModel::lag_frames() frames have passed, or at the end.
  virtual std::optional<BehaviourPrediction> revised(int /*id*/, double /*t*/) { return std::nullopt; }
};

class BehaviourModel {
 public:
  virtual ~BehaviourModel() = default;
  // frame_size: pixels of the frames the observations refer to (the pen layout in the model's
  // config is in normalised image coordinates); fps: nominal frame rate.
  virtual std::unique_ptr<BehaviourStream> new_stream(cv::Size frame_size, double fps) const = 0;
  virtual int embedding_dim() const = 0;  // 0 when the model ignores embeddings
  // True when the model has a posture network and reads TrackObservation::image.
  virtual bool uses_pixels() const { return false; }
  // The posture network's output for observations of one frame (what the stream computes from
  // `image`); empty when the model has no posture network.
  virtual std::vector<PostureProbs> posture(const cv::Mat& /*bgr*/, const std::vector<TrackObservation>& /*obs*/) const {
    return {};
  }
  virtual std::string name() const = 0;
  virtual std::size_t bytes() const = 0;
  // Frames by which a deployment delays each label to revise it with what came after
  // (BehaviourStream::revised); 0: labels are final when update() returns them.
  virtual int lag_frames() const { return 0; }
};

std::shared_ptr<const BehaviourModel> load_behaviour_model(const std::string& dir);

}  // namespace eh::animal
