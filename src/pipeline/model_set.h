// What `edgeherd run --model` loads: the segmenter (teacher or student perception), the
// per-animal embedder and the behaviour model, plus what model.json says about the camera.
// The pipeline codes against the interfaces only (video::Segmenter, animal::Embedder,
// animal::BehaviourModel), so the full-size models and the pen-tiny defaults run through the
// same code.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "animal/embedder.h"
#include "video/segmenter.h"

namespace eh::pipeline {

struct ModelSet {
  std::string name;     // model.json "name", or "sim-gt"
  std::string variant;  // "teacher" | "student" | "" (built-in)
  std::string prompt = "pig";
  std::shared_ptr<const eh::video::Segmenter> segmenter;     // required
  std::shared_ptr<const eh::animal::Embedder> embedder;      // may be null (no appearance / segmenter attaches its own)
  std::shared_ptr<const eh::animal::BehaviourModel> behaviour;  // may be null (behaviours 'unknown')
  float pixels_per_metre = 0;  // from model.json; 0 = not given
  bool needs_simulator = false;  // sim-gt: ground truth comes with sim: frames only

  std::size_t weights_bytes() const;  // segmenter + embedder + behaviour
  // Throws eh::Error when the parts do not fit together: no segmenter, or a behaviour model
  // that reads embeddings of another dimension than the embedder's.
  void validate() const;
};

// model.json of a model directory (docs/model_dir.md).
struct ModelDirInfo {
  std::string dir;
  std::string name;
  std::string prompt = "pig";
  std::optional<std::pair<int, int>> frame_size;  // [W, H]
  float pixels_per_metre = 0;
};

// Checks a model directory for `variant` ("teacher" or "student"): model.json (readable JSON
// object with a string "name"), teacher/ (always: the student runs in front of its heads),
// student/ (variant student), embedder/ and behaviour/, each with config.json and
// weights.safetensors. Throws eh::Error naming the directory and listing everything missing
// or malformed; eh::UsageError for an unknown variant.
ModelDirInfo check_model_dir(const std::string& dir, const std::string& variant);

// "sim-gt": the simulator's ground-truth instances (GroundTruthSegmenter) with colour-histogram
// appearance embeddings attached from the rendered pixels; no behaviour model (behaviours are
// 'unknown'). Only valid with a sim: source (needs_simulator).
ModelSet sim_gt_model_set();

// "sim-gt" (built in) or a model directory. Throws eh::Error with a clear message (see
// check_model_dir) when the directory is wrong.
ModelSet load_model_set(const std::string& dir, const std::string& variant);

}  // namespace eh::pipeline
