#include "pipeline/model_set.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "animal/embedder.h"
#include "perception/segmenter.h"
#include "video/appearance.h"

namespace eh::pipeline {

namespace fs = std::filesystem;

std::size_t ModelSet::weights_bytes() const {
  std::size_t b = 0;
  if (segmenter) b += segmenter->bytes();
  if (embedder) b += embedder->bytes();
  if (behaviour) b += behaviour->bytes();
  return b;
}

void ModelSet::validate() const {
  if (!segmenter) throw eh::Error(fmt::format("model set '{}': no segmenter", name));
  if (behaviour && embedder && behaviour->embedding_dim() > 0 && behaviour->embedding_dim() != embedder->dim())
    throw eh::Error(fmt::format("model set '{}': behaviour model {} expects {}-dim embeddings, embedder {} gives {}", name,
                                behaviour->name(), behaviour->embedding_dim(), embedder->name(), embedder->dim()));
}

ModelSet sim_gt_model_set() {
  ModelSet m;
  m.name = "sim-gt";
  m.variant = "";
  eh::video::GroundTruthOptions g;
  g.masks = true;
  m.segmenter = std::make_shared<eh::video::ColourHistogramEmbedder>(std::make_shared<eh::video::GroundTruthSegmenter>(g));
  m.needs_simulator = true;
  return m;
}

ModelDirInfo check_model_dir(const std::string& dir, const std::string& variant) {
  if (variant != "teacher" && variant != "student")
    throw eh::UsageError(fmt::format("--variant: expected 'teacher' or 'student', got '{}'", variant));
  if (!fs::exists(dir))
    throw eh::Error(fmt::format("{}: model directory not found (expected a directory with model.json, teacher/, "
                                "student/, embedder/, behaviour/ as in docs/model_dir.md, or the built-in 'sim-gt')",
                                dir));
  if (!fs::is_directory(dir))
    throw eh::Error(fmt::format("{}: not a directory (a model directory holds model.json, teacher/, student/, "
                                "embedder/, behaviour/; see docs/model_dir.md)",
                                dir));
  std::vector<std::string> problems;
  ModelDirInfo info;
  info.dir = dir;
  const fs::path root(dir);
  const fs::path mj = root / "model.json";
  if (!fs::exists(mj)) {
    problems.push_back("model.json is missing");
  } else {
    std::ifstream in(mj);
    nlohmann::json j;
    try {
      in >> j;
    } catch (const std::exception& e) {
      problems.push_back(fmt::format("model.json is not valid JSON ({})", e.what()));
    }
    if (!j.is_null()) {
      if (!j.is_object()) {
        problems.push_back(fmt::format("model.json: expected a JSON object, found {}", j.type_name()));
      } else {
        if (!j.contains("name") || !j["name"].is_string())
          problems.push_back("model.json: key 'name' (string) is missing");
        else
          info.name = j["name"].get<std::string>();
        if (j.contains("prompt")) {
          if (!j["prompt"].is_string()) problems.push_back(fmt::format("model.json: 'prompt' must be a string, found {}", j["prompt"].dump()));
          else info.prompt = j["prompt"].get<std::string>();
        }
        if (j.contains("frame_size")) {
          const auto& f = j["frame_size"];
          if (!f.is_array() || f.size() != 2 || !f[0].is_number_integer() || !f[1].is_number_integer())
            problems.push_back(fmt::format("model.json: 'frame_size' must be [W, H] (integers), found {}", f.dump()));
          else
            info.frame_size = std::make_pair(f[0].get<int>(), f[1].get<int>());
        }
        if (j.contains("pixels_per_metre")) {
          const auto& p = j["pixels_per_metre"];
          if (!p.is_number() || !(p.get<double>() > 0))
            problems.push_back(fmt::format("model.json: 'pixels_per_metre' must be a positive number, found {}", p.dump()));
          else
            info.pixels_per_metre = p.get<float>();
        }
      }
    }
  }
  std::vector<std::string> parts{"teacher"};
  if (variant == "student") parts.push_back("student");
  parts.push_back("embedder");
  parts.push_back("behaviour");
  for (const auto& p : parts) {
    const fs::path d = root / p;
    if (!fs::is_directory(d)) {
      problems.push_back(p + "/ is missing");
      continue;
    }
    for (const char* f : {"config.json", "weights.safetensors"})
      if (!fs::exists(d / f)) problems.push_back(p + "/" + f + " is missing");
  }
  if (!problems.empty()) {
    std::string msg = fmt::format("{}: not a usable model directory for variant '{}':", dir, variant);
    for (const auto& p : problems) msg += "\n  - " + p;
    msg += "\n(layout: docs/model_dir.md; or use the built-in --model sim-gt with a sim: source)";
    throw eh::Error(msg);
  }
  return info;
}

ModelSet load_model_set(const std::string& dir, const std::string& variant) {
  if (dir == "sim-gt") return sim_gt_model_set();
  const ModelDirInfo info = check_model_dir(dir, variant);
  ModelSet m;
  m.name = info.name;
  m.variant = variant;
  m.prompt = info.prompt;
  m.pixels_per_metre = info.pixels_per_metre;
  m.segmenter = eh::perception::load_segmenter(dir, variant);
  m.behaviour = eh::animal::load_behaviour_model((fs::path(dir) / "behaviour").string());
  // model.json "appearance": "embedder" (default) gives the tracker and the store the embedder's
  // vectors; "colour-histogram" gives the tracker colour histograms from the masks instead, for a
  // model set whose embedder does not (yet) re-identify better than them (its card says).
  std::string appearance = "embedder";
  {
    std::ifstream in(fs::path(dir) / "model.json");
    const auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_object() && j.contains("appearance")) {
      if (!j["appearance"].is_string())
        throw eh::Error(fmt::format("{}/model.json: \"appearance\" must be a string, found {}", dir, j["appearance"].dump()));
      appearance = j["appearance"].get<std::string>();
    }
  }
  if (appearance == "embedder") {
    m.embedder = eh::animal::load_embedder((fs::path(dir) / "embedder").string());
  } else if (appearance == "colour-histogram") {
    m.segmenter = std::make_shared<eh::video::ColourHistogramEmbedder>(m.segmenter);
  } else {
    throw eh::Error(fmt::format("{}/model.json: \"appearance\" must be \"embedder\" or \"colour-histogram\", found \"{}\"", dir,
                                appearance));
  }
  m.validate();
  return m;
}

}  // namespace eh::pipeline
