// The edge-envelope model's arithmetic, on hand-computed cases.
#include <gtest/gtest.h>

#include "bench/envelope.h"
#include "core/error.h"

using namespace eh::bench;

namespace {
EnvelopeCalibration calib() {
  EnvelopeCalibration c;
  c.runtime_base = 100e6;
  c.student = {10e6, 20e6, 100, 512};
  c.teacher = {400e6, 900e6, 0, 1008};
  c.neck_params = 5e6;
  c.neck_act = 30e6;
  c.embedder_params = 20e6;
  c.embedder_act_fixed = 1e6;
  c.embedder_act_per_crop = 10e6;
  c.per_animal = 1000;
  c.per_animal_window_frame = 500;
  c.store = 2e6;
  c.sam_memory_per_object_frame = 1e6;
  return c;
}
double term(const EnvelopePrediction& p, const std::string& name) {
  for (const auto& t : p.terms)
    if (t.name == name) return t.bytes;
  ADD_FAILURE() << "no term " << name;
  return -1;
}
}  // namespace

TEST(BenchEnvelope, StudentFp32ByHand) {
  EnvelopeConfig cfg;  // student 1280x720, 8 animals, W16, queue 8, fp32, frames kept
  const auto p = predict_peak(calib(), cfg);
  EXPECT_DOUBLE_EQ(term(p, "runtime base"), 100e6);
  EXPECT_DOUBLE_EQ(term(p, "weights"), 4 * 35e6);
  // max(student 20e6 + 100 * 512^2 = 46,214,400; necks 30e6; embedder 1e6 + 8 * 10e6 = 81e6)
  EXPECT_DOUBLE_EQ(term(p, "activations (largest stage)"), 81e6);
  EXPECT_DOUBLE_EQ(term(p, "camera frames"), 26.0 * 1280 * 720 * 3);  // queue 8 + 2 in hand + window 16
  EXPECT_DOUBLE_EQ(term(p, "per-animal state"), 8 * (1000 + 16 * 500.0));
  EXPECT_DOUBLE_EQ(term(p, "store"), 2e6);
  EXPECT_DOUBLE_EQ(p.total, 394956800.0);
}

TEST(BenchEnvelope, Fp16HalvesWeightsAndActivationsOnly) {
  EnvelopeConfig cfg;
  cfg.precision = "fp16";
  const auto p = predict_peak(calib(), cfg);
  EXPECT_DOUBLE_EQ(term(p, "weights"), 2 * 35e6);
  EXPECT_DOUBLE_EQ(term(p, "activations (largest stage)"), 40.5e6);
  EXPECT_DOUBLE_EQ(term(p, "camera frames"), 26.0 * 1280 * 720 * 3);
  EXPECT_DOUBLE_EQ(p.total, 284456800.0);
}

TEST(BenchEnvelope, TeacherResolutionWindowAndSamMemory) {
  EnvelopeConfig cfg;
  cfg.backbone = "teacher";
  cfg.width = 1920;
  cfg.height = 1080;
  cfg.animals = 16;
  cfg.window = 32;
  cfg.keep_frames = false;
  cfg.sam_memory = true;
  const auto p = predict_peak(calib(), cfg);
  EXPECT_DOUBLE_EQ(term(p, "weights"), 4 * 425e6);
  EXPECT_DOUBLE_EQ(term(p, "activations (largest stage)"), 900e6);  // teacher 900e6 > embedder 161e6
  EXPECT_DOUBLE_EQ(term(p, "camera frames"), 10.0 * 1920 * 1080 * 3);
  // masks (RLE) scale with the frame width: 500 B * 1920/1280 per animal per window frame
  EXPECT_DOUBLE_EQ(term(p, "per-animal state"), 16 * (1000 + 32 * 750.0));
  EXPECT_DOUBLE_EQ(term(p, "SAM memory bank (not measured)"), 16 * 32 * 1e6);
}

TEST(BenchEnvelope, RejectsBadConfig) {
  EnvelopeConfig cfg;
  cfg.backbone = "resnet";
  EXPECT_THROW(predict_peak(calib(), cfg), eh::UsageError);
  cfg = {};
  cfg.precision = "int4";
  EXPECT_THROW(predict_peak(calib(), cfg), eh::UsageError);
  cfg = {};
  cfg.window = 0;
  EXPECT_THROW(predict_peak(calib(), cfg), eh::UsageError);
}

TEST(BenchEnvelope, ParseBytes) {
  EXPECT_DOUBLE_EQ(parse_bytes("16GiB"), 17179869184.0);
  EXPECT_DOUBLE_EQ(parse_bytes("512 MiB"), 536870912.0);
  EXPECT_DOUBLE_EQ(parse_bytes("8GB"), 8e9);
  EXPECT_DOUBLE_EQ(parse_bytes("1.5g"), 1.5e9);
  EXPECT_DOUBLE_EQ(parse_bytes("4096"), 4096.0);
  EXPECT_THROW(parse_bytes("lots"), eh::UsageError);
  EXPECT_THROW(parse_bytes("16XB"), eh::UsageError);
  EXPECT_THROW(parse_bytes("-1GB"), eh::UsageError);
}

TEST(BenchEnvelope, FitLine) {
  auto [a, b] = fit_line({1, 2, 3}, {3, 5, 7});
  EXPECT_NEAR(a, 1, 1e-12);
  EXPECT_NEAR(b, 2, 1e-12);
  auto [a1, b1] = fit_line({4}, {9});
  EXPECT_DOUBLE_EQ(a1, 9);
  EXPECT_DOUBLE_EQ(b1, 0);
  EXPECT_THROW(fit_line({1, 2}, {1}), eh::Error);
}

TEST(BenchEnvelope, CalibrationJsonRoundTrip) {
  const auto c = calib();
  const auto back = calibration_from_json(to_json(c));
  EnvelopeConfig cfg;
  cfg.sam_memory = true;
  EXPECT_DOUBLE_EQ(predict_peak(back, cfg).total, predict_peak(c, cfg).total);
  EXPECT_THROW(calibration_from_json(nlohmann::json{{"runtime_base", 1}}), eh::Error);
}
