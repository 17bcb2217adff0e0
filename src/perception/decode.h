// From the instance head's maps to instances (no LibTorch here): centre peaks with max-pool NMS,
// foreground pixels grouped by the centre their offset votes for, masks at frame size, boxes,
// scores and RLE masks as eh::track::Detections. Also the inverse used for training: dense
// targets (foreground, centre heatmap, offsets) from a ground-truth instance label image.
#pragma once
#include <opencv2/core.hpp>
#include <vector>

#include "core/config.h"
#include "track/detections.h"

namespace eh::perception {

// The head's output for one frame at head resolution (h x w cells), CV_32FC1 each.
struct HeadMaps {
  cv::Mat foreground;  // probability
  cv::Mat centre;      // probability (heatmap)
  cv::Mat dx, dy;      // offset to the instance centre, in cells
};

struct DecodeOptions {
  float centre_threshold = 0.3f;  // a centre peak must reach this probability
  int nms_kernel = 5;             // odd: a peak is the maximum of its nms_kernel^2 neighbourhood
  int max_instances = 32;
  float foreground_threshold = 0.5f;
  float work_scale = 0.25f;       // grouping runs at this fraction of the frame size (masks upsampled from it)
  int min_area = 150;             // instances with fewer frame pixels are dropped
  bool largest_component = false; // keep only each instance's largest connected piece
  static DecodeOptions from(Config& c);
};

struct Peak {
  cv::Point2f at;  // cell coordinates (cell (x, y) spans [x, x+1) x [y, y+1))
  float score = 0;
};

// Local maxima of the centre map at or above the threshold, best first, at most max_instances.
std::vector<Peak> find_peaks(const cv::Mat& centre, const DecodeOptions& opt);

// Instances at frame size. Throws eh::Error when the maps differ in size or type.
eh::track::Detections decode(const HeadMaps& maps, cv::Size frame, const DecodeOptions& opt);

// Training targets at head resolution from a label image (CV_8UC1, 0 = background, k = instance
// k) at frame size: foreground (CV_32F 0/1), centre heatmap (Gaussian of `sigma` cells at each
// instance's visible-mask centroid, maximum over instances), offsets to that centroid (cells,
// zero on background). Instances whose centroid falls in no foreground cell are still drawn.
struct Targets {
  cv::Mat foreground, centre, dx, dy;
};
Targets make_targets(const cv::Mat& labels, cv::Size head, float sigma = 2.0f);

}  // namespace eh::perception
