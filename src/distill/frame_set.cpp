#include "distill/frame_set.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "core/error.h"

namespace fs = std::filesystem;

namespace eh::distill {

namespace {

bool is_image(const fs::path& p) {
  auto e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp";
}

at::Tensor to_tensor(const cv::Mat& bgr, int64_t size) {
  cv::Mat rgb, resized;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  cv::resize(rgb, resized, cv::Size(static_cast<int>(size), static_cast<int>(size)), 0, 0, cv::INTER_AREA);
  auto t = torch::from_blob(resized.data, {size, size, 3}, torch::kUInt8).clone();
  return t.permute({2, 0, 1}).contiguous();
}

}  // namespace

FrameSet FrameSet::load(const std::vector<std::string>& sources, int64_t size, int64_t max_frames, int64_t stride) {
  if (sources.empty()) throw Error("distill: no training data given");
  if (stride < 1) stride = 1;
  FrameSet fs_;
  std::vector<at::Tensor> frames;
  const int64_t per_source = std::max<int64_t>(1, max_frames / static_cast<int64_t>(sources.size()));
  for (const auto& src : sources) {
    int64_t taken = 0;
    if (fs::is_directory(src)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(src))
        if (e.is_regular_file() && is_image(e.path())) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      if (files.empty()) throw Error(src + ": no images (png/jpg/bmp) in this folder");
      for (size_t i = 0; i < files.size() && taken < per_source; i += stride) {
        cv::Mat img = cv::imread(files[i].string(), cv::IMREAD_COLOR);
        if (img.empty()) throw Error(files[i].string() + ": cannot decode image");
        fs_.keys.push_back(files[i].string() + "#0");
        frames.push_back(to_tensor(img, size));
        ++taken;
      }
    } else {
      cv::VideoCapture cap(src);
      if (!cap.isOpened()) throw Error(src + ": cannot open video (not a file OpenCV can decode, or missing)");
      cv::Mat img;
      for (int64_t i = 0; taken < per_source && cap.read(img); ++i) {
        if (img.empty()) continue;
        if (i % stride) continue;
        fs_.keys.push_back(src + "#" + std::to_string(i));
        frames.push_back(to_tensor(img, size));
        ++taken;
      }
      if (taken == 0) throw Error(src + ": no frame could be decoded");
    }
  }
  fs_.frames = torch::stack(frames);
  return fs_;
}

at::Tensor FrameSet::batch(const std::vector<int64_t>& idx) const {
  auto i = torch::tensor(idx, torch::kLong);
  return frames.index_select(0, i).to(torch::kFloat) / 255.0;
}

}  // namespace eh::distill
