// Training frames sampled from videos and image folders, decoded once and kept as uint8 RGB at
// one square size (both teacher and student resize from it). Every source is opened and its
// first frame read before any long work starts, so an unreadable input fails fast.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace eh::distill {

struct FrameSet {
  std::vector<std::string> keys;  // "<source>#<frame index>", stable across runs
  at::Tensor frames;              // [N, 3, S, S] uint8 RGB

  // Takes every `stride`-th frame of each source, at most `max_frames` in all (spread evenly
  // over the sources in order). Throws eh::Error naming the source that cannot be read.
  static FrameSet load(const std::vector<std::string>& sources, int64_t size, int64_t max_frames, int64_t stride);
  int64_t size() const { return static_cast<int64_t>(keys.size()); }
  // Frames i.. as float RGB in [0, 1], [n, 3, S, S].
  at::Tensor batch(const std::vector<int64_t>& idx) const;
};

}  // namespace eh::distill
