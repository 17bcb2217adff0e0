#include "track/instances_io.h"

#include <fmt/core.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace eh::track {

namespace {
using nlohmann::json;

double num(const json& j, const std::string& where, const char* what) {
  if (!j.is_number()) throw eh::Error(fmt::format("{}: '{}' must be a number", where, what));
  const double v = j.get<double>();
  if (!std::isfinite(v)) throw eh::Error(fmt::format("{}: '{}' is not finite", where, what));
  return v;
}
}  // namespace

InstanceFrame parse_instance_line(const std::string& line, const std::string& where) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    throw eh::Error(fmt::format("{}: not JSON ({})", where, e.what()));
  }
  if (!j.is_object()) throw eh::Error(fmt::format("{}: expected a JSON object", where));
  InstanceFrame f;
  if (!j.contains("frame") || !j["frame"].is_number_integer())
    throw eh::Error(fmt::format("{}: missing integer 'frame'", where));
  f.frame = j["frame"].get<int64_t>();
  if (f.frame < 1) throw eh::Error(fmt::format("{}: 'frame' must be >= 1, got {}", where, f.frame));
  f.t = j.contains("t") ? num(j["t"], where, "t") : 0.0;
  if (j.contains("size")) {
    const auto& s = j["size"];
    if (!s.is_array() || s.size() != 2 || !s[0].is_number_integer() || !s[1].is_number_integer())
      throw eh::Error(fmt::format("{}: 'size' must be [height, width]", where));
    f.size = cv::Size(s[1].get<int>(), s[0].get<int>());
  }
  if (!j.contains("instances") || !j["instances"].is_array())
    throw eh::Error(fmt::format("{}: missing array 'instances'", where));
  const auto& arr = j["instances"];
  bool any_mask = false, any_emb = false, any_id = false;
  for (const auto& in : arr) {
    any_mask = any_mask || in.contains("mask");
    any_emb = any_emb || in.contains("embedding");
    any_id = any_id || in.contains("id");
  }
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& in = arr[i];
    const std::string w = fmt::format("{}: instance {}", where, i);
    if (!in.is_object()) throw eh::Error(w + ": expected an object");
    if (!in.contains("box") || !in["box"].is_array() || in["box"].size() != 4)
      throw eh::Error(w + ": 'box' must be [x, y, w, h]");
    const auto& b = in["box"];
    const cv::Rect2f box(static_cast<float>(num(b[0], w, "box")), static_cast<float>(num(b[1], w, "box")),
                         static_cast<float>(num(b[2], w, "box")), static_cast<float>(num(b[3], w, "box")));
    const float score = in.contains("score") ? static_cast<float>(num(in["score"], w, "score")) : 1.0f;
    f.dets.add(box, score);
    if (any_mask) {
      if (!in.contains("mask")) throw eh::Error(w + ": 'mask' missing (other instances of the frame have one)");
      if (f.size.area() <= 0) throw eh::Error(w + ": masks need the frame's 'size'");
      const auto& m = in["mask"];
      if (m.is_string()) {
        f.dets.rles.push_back(eh::data::rle_from_string(m.get<std::string>(), f.size.height, f.size.width));
      } else {
        f.dets.rles.push_back(eh::data::rle_from_json(m));
      }
    }
    if (any_emb) {
      if (!in.contains("embedding") || !in["embedding"].is_array())
        throw eh::Error(w + ": 'embedding' missing or not an array");
      std::vector<float> e;
      for (const auto& x : in["embedding"]) e.push_back(static_cast<float>(num(x, w, "embedding")));
      f.dets.embeddings.push_back(std::move(e));
    }
    if (any_id) {
      if (!in.contains("id") || !in["id"].is_number_integer()) throw eh::Error(w + ": 'id' missing or not an integer");
      f.ids.push_back(in["id"].get<int>());
    }
  }
  f.dets.validate(where);
  return f;
}

std::vector<InstanceFrame> read_instances(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw eh::Error(fmt::format("{}: cannot open", path));
  std::vector<InstanceFrame> out;
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    out.push_back(parse_instance_line(line, fmt::format("{}:{}", path, no)));
    if (out.size() > 1 && out.back().frame <= out[out.size() - 2].frame)
      throw eh::Error(fmt::format("{}:{}: frames must increase ({} after {})", path, no, out.back().frame,
                                  out[out.size() - 2].frame));
  }
  return out;
}

std::string format_instance_line(const InstanceFrame& f) {
  json j;
  j["frame"] = f.frame;
  j["t"] = std::round(f.t * 1e6) / 1e6;
  if (f.size.area() > 0) j["size"] = {f.size.height, f.size.width};
  json arr = json::array();
  auto r4 = [](float v) { return std::round(static_cast<double>(v) * 1e4) / 1e4; };
  for (std::size_t i = 0; i < f.dets.size(); ++i) {
    json in;
    const auto& b = f.dets.boxes[i];
    in["box"] = {r4(b.x), r4(b.y), r4(b.width), r4(b.height)};
    in["score"] = r4(f.dets.scores[i]);
    if (!f.dets.rles.empty()) in["mask"] = eh::data::rle_to_string(f.dets.rles[i]);
    else if (!f.dets.masks.empty()) in["mask"] = eh::data::rle_to_string(eh::data::rle_encode(f.dets.masks[i]));
    if (!f.dets.embeddings.empty()) {
      json e = json::array();
      for (float v : f.dets.embeddings[i]) e.push_back(r4(v));
      in["embedding"] = e;
    }
    if (!f.ids.empty()) in["id"] = f.ids[i];
    arr.push_back(in);
  }
  j["instances"] = arr;
  return j.dump();
}

InstanceWriter::InstanceWriter(const std::string& path) : path_(path), out_(path) {
  if (!out_) throw eh::Error(fmt::format("{}: cannot open for writing", path));
}

void InstanceWriter::write(const InstanceFrame& f) {
  out_ << format_instance_line(f) << '\n';
  if (!out_) throw eh::Error(fmt::format("{}: write failed", path_));
}

void InstanceWriter::close() {
  if (out_.is_open()) {
    out_.close();
    if (out_.fail()) throw eh::Error(fmt::format("{}: write failed", path_));
  }
}

}  // namespace eh::track
