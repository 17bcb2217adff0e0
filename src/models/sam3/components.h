// Parameter counts per component of the SAM 3 video model, derived from a key list (a
// manifest: key, shape, dtype), and the check that a checkpoint is the SAM 3 model (video or
// image-only) that is asked for. Both work on key names and shapes only, so they cover the parts
// not ported yet (text encoder, tracker) and need no weights.
//
// Key naming is the released `sam3.pt` (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e,
// sam3/model_builder.py `build_sam3_video_model`): `detector.*` (image detector incl. backbone and
// text encoder) and `tracker.*`. The image-only model (`build_sam3_image_model`) names the same
// modules without `detector.` and has no tracker (with instance interactivity its tracker is
// `inst_interactive_predictor.model.*` and the vision backbone gains `sam2_convs`).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/manifest_compare.h"

namespace eh::models {

struct Sam3ComponentRow {
  std::string name;    // "trunk (PE ViT-L+/14)"
  std::string prefix;  // video-model key prefix, "detector.backbone.vision_backbone.trunk."
  int level = 0;       // 0: component, 1: part of the component above
  int64_t keys = 0, params = 0, buffers = 0;
};

struct Sam3Components {
  std::vector<Sam3ComponentRow> rows;
  int64_t total_params = 0, total_buffers = 0, total_keys = 0;
  std::vector<std::string> unassigned;  // keys that belong to no component (should be empty)
};

// Elements of a manifest shape "[a, b, c]" ("[]" = 1).
int64_t manifest_numel(const std::string& shape);

// Maps a key to video-model naming: image-model keys gain `detector.`, the image model's
// `inst_interactive_predictor.model.` becomes `tracker.`; `root` (e.g. "detector." for the
// `sam3_detector` arch's own keys) is prepended first. Video-model keys are returned unchanged.
std::string sam3_video_key(const std::string& key, const std::string& root = "");

// Counts per component. A row's count is every key under its prefix; level-1 rows split their
// level-0 parent. Buffers: complex tensors (the trunk's RoPE tables) and the SAM prompt encoder's
// `positional_encoding_gaussian_matrix` (a registered buffer upstream); all else are parameters.
Sam3Components sam3_component_counts(const Manifest& m, const std::string& root = "");
// A table: component, keys, parameters (and M), buffer elements; then the total.
std::string format_sam3_components(const Sam3Components& c);

// The prefix under which an architecture's own keys sit in `sam3.pt` ("" when the arch is not
// a SAM 3 part).
std::string sam3_arch_root(const std::string& arch);

enum class Sam3ModelKind { Video, Image };
const char* sam3_model_kind_name(Sam3ModelKind k);  // "video" / "image"

// What a checkpoint's key names say it is.
struct Sam3CheckpointKind {
  bool video_naming = false;   // keys under detector.* / tracker.*
  bool image_naming = false;   // keys under backbone.* / transformer.* / geometry_encoder.* ... at top level
  bool has_tracker = false;    // tracker.* or inst_interactive_predictor.model.*
  std::string describe() const;  // "the SAM 3 image model", "the SAM 3 video model", ...
};
Sam3CheckpointKind sam3_checkpoint_kind(const std::vector<std::string>& keys);

// Throws eh::Error, before anything is bound, when the checkpoint `label` (its keys given) is not
// the `wanted` model: the message says what the checkpoint is and names every key group the
// wanted model needs that the checkpoint lacks, with the number of keys the model expects there
// and an example key. `expected` is the wanted model's key list in its own naming; when empty,
// the released model's key counts are used (see sam3_released_group_keys).
void sam3_check_checkpoint(const std::vector<std::string>& keys, const std::string& label, Sam3ModelKind wanted,
                           const std::vector<std::string>& expected = {});
// Reads only the safetensors header of `path`.
void sam3_check_checkpoint_file(const std::string& path, Sam3ModelKind wanted,
                                const std::vector<std::string>& expected = {});

struct Sam3KeyGroup {
  std::string prefix;   // video naming
  int64_t keys;         // keys of the released model under it (sam3.pt, incl. complex RoPE buffers)
  std::string example;  // one of them
};
// The top-level key groups of the released video model (from manifest_full.tsv).
const std::vector<Sam3KeyGroup>& sam3_released_group_keys();

}  // namespace eh::models
