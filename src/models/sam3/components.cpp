// SAM 3 component table and checkpoint-kind check (key names only). Groups follow the module
// tree of facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e, sam3/model_builder.py
// (`build_sam3_video_model`: Sam3VideoInferenceWithInstanceInteractivity(detector=Sam3ImageOnVideoMultiGPU,
// tracker=Sam3TrackerPredictor)) and `_load_checkpoint` (image model: `detector.` stripped,
// `tracker.` -> `inst_interactive_predictor.model.`).
#include "models/sam3/components.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/safetensors.h"

namespace eh::models {

namespace {

constexpr const char* kVB = "detector.backbone.vision_backbone.";

struct RowDef {
  const char* name;
  std::string prefix;
  int level;
};

std::vector<RowDef> row_defs() {
  const std::string vb = kVB;
  return {
      {"vision backbone", vb, 0},
      {"trunk (PE ViT)", vb + "trunk.", 1},
      {"neck convs (detector)", vb + "convs.", 1},
      {"neck sam2_convs (tracker)", vb + "sam2_convs.", 1},
      {"text encoder (language_backbone)", "detector.backbone.language_backbone.", 0},
      {"detector", "detector.", 0},
      {"geometry/prompt encoder (geometry_encoder)", "detector.geometry_encoder.", 1},
      {"fusion encoder (transformer.encoder)", "detector.transformer.encoder.", 1},
      {"box head (transformer.decoder.bbox_embed)", "detector.transformer.decoder.bbox_embed.", 1},
      {"presence head (decoder.presence_token_head, _out_norm)", "detector.transformer.decoder.presence_token_", 1},
      {"decoder (rest: layers, queries, presence token, boxRPB)", "detector.transformer.decoder.", 1},
      {"score head (dot_prod_scoring)", "detector.dot_prod_scoring.", 1},
      {"segmentation head (segmentation_head)", "detector.segmentation_head.", 1},
      {"tracker", "tracker.", 0},
      {"memory encoder (maskmem_backbone)", "tracker.maskmem_backbone.", 1},
      {"memory attention (transformer)", "tracker.transformer.", 1},
      {"SAM prompt encoder (sam_prompt_encoder)", "tracker.sam_prompt_encoder.", 1},
      {"SAM mask decoder (sam_mask_decoder)", "tracker.sam_mask_decoder.", 1},
      {"object pointers, memory embeddings, mask downsampler (other tracker.*)", "tracker.", 1},
  };
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

bool is_buffer(const std::string& key, const std::string& dtype) {
  if (dtype.rfind("complex", 0) == 0) return true;  // trunk RoPE tables (persistent complex64 buffers)
  const std::string g = ".positional_encoding_gaussian_matrix";  // PositionEmbeddingRandom.register_buffer
  return key.size() >= g.size() && key.compare(key.size() - g.size(), g.size(), g) == 0;
}

// Top-level module names of the image model (Sam3Image) that the video model has under `detector.`.
const std::vector<std::string>& image_top_level() {
  static const std::vector<std::string> v = {"backbone.", "geometry_encoder.", "transformer.", "segmentation_head.",
                                             "dot_prod_scoring."};
  return v;
}

}  // namespace

int64_t manifest_numel(const std::string& shape) {
  if (shape.size() < 2 || shape.front() != '[' || shape.back() != ']')
    throw Error("manifest shape '" + shape + "': expected '[a, b, ...]'");
  int64_t n = 1;
  std::stringstream ss(shape.substr(1, shape.size() - 2));
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    if (tok.find_first_not_of(' ') == std::string::npos) continue;
    n *= std::stoll(tok);
  }
  return n;
}

std::string sam3_video_key(const std::string& key, const std::string& root) {
  std::string k = root + key;
  if (starts_with(k, "detector.") || starts_with(k, "tracker.")) return k;
  const std::string inst = "inst_interactive_predictor.model.";
  if (starts_with(k, inst)) return "tracker." + k.substr(inst.size());
  return "detector." + k;
}

Sam3Components sam3_component_counts(const Manifest& m, const std::string& root) {
  Sam3Components c;
  std::vector<int> parent;  // index of the level-0 row a level-1 row belongs to
  int last_top = -1;
  for (const auto& d : row_defs()) {
    if (d.level == 0) last_top = int(c.rows.size());
    parent.push_back(d.level == 0 ? -1 : last_top);
    c.rows.push_back({d.name, d.prefix, d.level});
  }
  for (const auto& e : m.entries) {
    const std::string k = sam3_video_key(e.key, root);
    const int64_t n = manifest_numel(e.shape);
    const bool buf = is_buffer(k, e.dtype);
    // First matching component (vision backbone and text encoder come before "detector."), then
    // the first matching part of it (specific prefixes come before the catch-all ones).
    int top = -1, sub = -1;
    for (size_t i = 0; i < c.rows.size() && top < 0; ++i)
      if (c.rows[i].level == 0 && starts_with(k, c.rows[i].prefix)) top = int(i);
    for (size_t i = 0; i < c.rows.size() && top >= 0 && sub < 0; ++i)
      if (parent[i] == top && starts_with(k, c.rows[i].prefix)) sub = int(i);
    for (int i : {top, sub}) {
      if (i < 0) continue;
      ++c.rows[i].keys;
      (buf ? c.rows[i].buffers : c.rows[i].params) += n;
    }
    if (top < 0) c.unassigned.push_back(e.key);
    ++c.total_keys;
    (buf ? c.total_buffers : c.total_params) += n;
  }
  return c;
}

std::string format_sam3_components(const Sam3Components& c) {
  std::string s = fmt::format("{:<64} {:>6} {:>14} {:>9} {:>10}\n", "component", "keys", "parameters", "(M)",
                              "buffers");
  for (const auto& r : c.rows) {
    if (r.keys == 0 && r.level == 1) continue;
    std::string name = (r.level ? "  " : "") + r.name;
    s += fmt::format("{:<64} {:>6} {:>14} {:>9.3f} {:>10}\n", name, r.keys, r.params, r.params / 1e6, r.buffers);
  }
  s += fmt::format("{:<64} {:>6} {:>14} {:>9.3f} {:>10}\n", "total", c.total_keys, c.total_params,
                   c.total_params / 1e6, c.total_buffers);
  for (const auto& k : c.unassigned) s += "not a SAM 3 component: " + k + "\n";
  return s;
}

std::string sam3_arch_root(const std::string& arch) {
  if (arch == "sam3_backbone") return kVB;
  if (arch == "sam3_detector") return "detector.";
  if (arch == "sam3_text_encoder") return "detector.backbone.language_backbone.";
  if (arch == "sam3_tracker") return "tracker.";
  return "";
}

const char* sam3_model_kind_name(Sam3ModelKind k) { return k == Sam3ModelKind::Video ? "video" : "image"; }

const std::vector<Sam3KeyGroup>& sam3_released_group_keys() {
  // Counted from tests/data/sam3_backbone/manifest_full.tsv (the test checks these numbers).
  static const std::vector<Sam3KeyGroup> g = {
      {"detector.backbone.vision_backbone.trunk.", 420, "detector.backbone.vision_backbone.trunk.pos_embed"},
      {"detector.backbone.vision_backbone.convs.", 22, "detector.backbone.vision_backbone.convs.0.dconv_2x2_0.weight"},
      {"detector.backbone.vision_backbone.sam2_convs.", 22,
       "detector.backbone.vision_backbone.sam2_convs.0.dconv_2x2_0.weight"},
      {"detector.backbone.language_backbone.", 295, "detector.backbone.language_backbone.encoder.positional_embedding"},
      {"detector.geometry_encoder.", 76, "detector.geometry_encoder.label_embed.weight"},
      {"detector.transformer.", 283, "detector.transformer.encoder.layers.0.self_attn.in_proj_weight"},
      {"detector.segmentation_head.", 28, "detector.segmentation_head.pixel_decoder.conv_layers.0.weight"},
      {"detector.dot_prod_scoring.", 10, "detector.dot_prod_scoring.prompt_mlp.layers.0.weight"},
      {"tracker.", 309, "tracker.maskmem_tpos_enc"},
  };
  return g;
}

Sam3CheckpointKind sam3_checkpoint_kind(const std::vector<std::string>& keys) {
  Sam3CheckpointKind k;
  for (const auto& key : keys) {
    if (starts_with(key, "detector.")) k.video_naming = true;
    if (starts_with(key, "tracker.")) k.video_naming = k.has_tracker = true;
    if (starts_with(key, "inst_interactive_predictor.model.")) k.image_naming = k.has_tracker = true;
    for (const auto& p : image_top_level())
      if (starts_with(key, p)) k.image_naming = true;
  }
  return k;
}

std::string Sam3CheckpointKind::describe() const {
  if (video_naming && image_naming) return "a mix of SAM 3 video-model (detector.*/tracker.*) and image-model keys";
  if (video_naming)
    return has_tracker ? "the SAM 3 video model (detector.* and tracker.*)"
                       : "the SAM 3 detector alone in video-model naming (detector.* without tracker.*)";
  if (image_naming)
    return has_tracker ? "the SAM 3 image model with instance interactivity (no 'detector.' prefix)"
                       : "the SAM 3 image model (no 'detector.' prefix, no tracker)";
  return "not a SAM 3 checkpoint (no detector.*, tracker.* or image-model keys)";
}

void sam3_check_checkpoint(const std::vector<std::string>& keys, const std::string& label, Sam3ModelKind wanted,
                           const std::vector<std::string>& expected) {
  // The groups the wanted model needs, in its own naming.
  struct Need {
    std::string prefix;
    int64_t keys = 0;
    std::string example;
  };
  std::vector<Need> needs;
  for (const auto& g : sam3_released_group_keys()) {
    std::string p = g.prefix;
    if (wanted == Sam3ModelKind::Image) {
      if (p == "tracker." || p == std::string(kVB) + "sam2_convs.") continue;  // not in the image model
      p = p.substr(std::string("detector.").size());
    }
    needs.push_back({p, 0, ""});
  }
  if (expected.empty()) {
    for (auto& n : needs)
      for (const auto& g : sam3_released_group_keys())
        if (sam3_video_key(n.prefix) == g.prefix || n.prefix == g.prefix) {
          n.keys = g.keys;
          n.example = wanted == Sam3ModelKind::Image ? g.example.substr(std::string("detector.").size()) : g.example;
        }
  } else {
    for (auto& n : needs)
      for (const auto& e : expected)
        if (starts_with(e, n.prefix)) {
          if (n.example.empty()) n.example = e;
          ++n.keys;
        }
    needs.erase(std::remove_if(needs.begin(), needs.end(), [](const Need& n) { return n.keys == 0; }), needs.end());
  }
  std::vector<const Need*> missing;
  for (const auto& n : needs) {
    bool found = false;
    for (const auto& k : keys)
      if (starts_with(k, n.prefix)) {
        found = true;
        break;
      }
    if (!found) missing.push_back(&n);
  }
  if (missing.empty()) return;
  // Collapse the groups to their top level for the message when a whole top level is absent
  // (e.g. every detector.* group): name each missing group with its count and an example.
  std::string list;
  int64_t total = 0;
  for (const auto* n : missing) {
    list += fmt::format("{}{}* ({} keys, e.g. {})", list.empty() ? "" : ", ", n->prefix, n->keys, n->example);
    total += n->keys;
  }
  const auto kind = sam3_checkpoint_kind(keys);
  std::string hint;
  if (wanted == Sam3ModelKind::Video && kind.image_naming && !kind.video_naming)
    hint = "; an image-model checkpoint has no tracker: use the released video checkpoint (sam3.pt, "
           "detector.* + tracker.*)";
  else if (wanted == Sam3ModelKind::Image && kind.video_naming && !kind.image_naming)
    hint = "; the video checkpoint holds the image model under 'detector.': convert with "
           "tools/convert_checkpoint.py --prefix detector. --strip-prefix (and --drop '\\.attn\\.freqs_cis$')";
  throw Error(fmt::format("checkpoint {} is {}: the SAM 3 {} model needs {} (missing {} key group{}, {} keys){}", label,
                          kind.describe(), sam3_model_kind_name(wanted), list, missing.size(),
                          missing.size() == 1 ? "" : "s", total, hint));
}

void sam3_check_checkpoint_file(const std::string& path, Sam3ModelKind wanted, const std::vector<std::string>& expected) {
  auto f = st::File::open(path);
  std::vector<std::string> keys;
  keys.reserve(f.tensors().size());
  for (const auto& t : f.tensors()) keys.push_back(t.name);
  sam3_check_checkpoint(keys, path, wanted, expected);
}

}  // namespace eh::models
