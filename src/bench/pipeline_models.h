// Model configurations the pipeline and envelope suites run: full size (random weights) or
// tiny (tests), and the frame/crop conversions in front of them.
#pragma once
#include <opencv2/core.hpp>
#include <vector>

#include "models/dinov3_vit.h"
#include "models/sam3/neck.h"
#include "models/sam3/pe_vit.h"
#include "models/student_encoder.h"

namespace eh::bench {

struct PipelineModels {
  models::StudentConfig student;
  models::Sam3ViTConfig teacher;      // == backbone.trunk
  models::Sam3BackboneConfig backbone;
  models::DinoV3Config dino;
  int64_t crop = 224;

  static PipelineModels full_size() {
    PipelineModels m;
    m.student = models::StudentConfig::full_size();
    m.backbone = models::sam3_full_backbone_config();
    m.teacher = m.backbone.trunk;
    return m;
  }
  // A few-thousand-parameter version of every model with the same structure (tests).
  static PipelineModels tiny() {
    PipelineModels m;
    auto& s = m.student;
    s.trunk.embed_dims = {16, 32, 48, 64};
    s.trunk.depths = {1, 1, 1, 1};
    s.trunk.num_heads = {1, 1, 2, 2};
    s.trunk.window_sizes = {4, 4, 4, 4};
    s.trunk.num_classes = 0;
    s.fpn_channels = 32;
    s.fuse_channels = 48;
    s.input_size = 128;
    s.out_channels = 64;
    s.out_grid = 8;
    auto& t = m.backbone.trunk;
    t.img_size = 112;
    t.embed_dim = 64;
    t.depth = 2;
    t.num_heads = 2;
    t.window_size = 4;
    t.global_att_blocks = {1};
    t.pretrain_img_size = 56;
    m.backbone.d_model = 32;
    m.backbone.position_encoding.num_pos_feats = 32;
    m.teacher = t;
    m.dino.embed_dim = 32;
    m.dino.depth = 2;
    m.dino.num_heads = 2;
    m.crop = 32;
    return m;
  }
};

// BGR frame -> [1, 3, size, size] RGB normalised with mean = std = 0.5 (SAM 3), bilinear resize.
at::Tensor frame_to_input(const cv::Mat& bgr, int64_t size);
// Crops (clipped to the frame; an empty one is black) resized to size x size, ImageNet-normalised.
at::Tensor crops_to_input(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes, int64_t size);

}  // namespace eh::bench
