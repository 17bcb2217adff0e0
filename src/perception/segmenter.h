// The trained pen-tiny segmenters as eh::video::Segmenter: a model directory (docs/model_dir.md)
// with teacher/ (SAM 3 trunk + necks + instance head) and student/ (student encoder in front of
// teacher/'s frozen necks and head).
#pragma once
#include <memory>
#include <string>

#include "video/segmenter.h"

namespace eh::perception {

// Reads <model_dir>/teacher/{config.json, weights.safetensors} and, for "student", also
// <model_dir>/student/{config.json, weights.safetensors}. Throws eh::Error naming the directory
// and the missing or malformed file; eh::UsageError for an unknown variant.
std::shared_ptr<const eh::video::Segmenter> load_segmenter(const std::string& model_dir, const std::string& variant);

// Parameter count of a loaded segmenter's network (0 when `s` is not a model segmenter); for the
// student, the encoder plus the teacher's necks and head it runs (not the unused teacher trunk).
int64_t segmenter_parameters(const eh::video::Segmenter& s);

}  // namespace eh::perception
