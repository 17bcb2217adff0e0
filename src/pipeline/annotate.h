// Drawing a frame's tracked animals for the annotated video: each mask tinted in its id's
// colour (report/html.h id_rgb), the box outline, "id N label" and the frame time.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/rle.h"

namespace eh::pipeline {

struct AnnotatedObject {
  int id = 0;
  cv::Rect2f box;
  const eh::data::Rle* mask = nullptr;  // may be null
  std::string label;                    // e.g. "lying 0.93"
};

// Blends `bgr` (CV_8UC3) towards `colour` by `alpha` on the foreground pixels of `rle`, walking
// the runs (no full-frame decode). The RLE must have the image's size, else eh::Error.
void tint_rle(cv::Mat& bgr, const eh::data::Rle& rle, const cv::Scalar& colour, double alpha);

// Draws every object and a caption ("frame 123  t 20.5 s" plus `caption`) in place.
void annotate_frame(cv::Mat& bgr, const std::vector<AnnotatedObject>& objects, int64_t frame, double t,
                    const std::string& caption = "");

cv::Scalar id_bgr(int id);

}  // namespace eh::pipeline
