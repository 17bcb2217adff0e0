// The edge envelope: a model of a deployment's peak memory from measured per-component costs,
// and whether it fits a device budget. Pure arithmetic (no LibTorch): calibration happens in the
// `envelope` suite (envelope_suite.cpp), which also checks predictions against peak RSS measured
// in fresh processes.
//
// peak = base                                   runtime (LibTorch, OpenCV, SQLite loaded)
//      + b * (P_backbone + P_necks + P_embedder) weights
//      + (b/4) * max(A_backbone(S), A_necks, A_embedder(N))   the largest stage's activations
//      + (queue + 2 + W*keep_frames) * w*h*3      camera frames (uint8 BGR) in flight and in the window
//      + N * (c_animal + W * c_frame * w/1280)    session + tracker state per animal
//      + N * W * m_sam * (b/4)                    SAM-style memory bank (only when sam_memory)
//      + store                                    SQLite page cache + Recorder buffers
// with b = 4 bytes (fp32) or 2 (fp16), S the backbone's input side, N animals, W window frames,
// A_backbone(S) = a0 + a1 * S^2 and A_embedder(N) = e0 + e1 * N, fitted on fp32 measurements.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eh::bench {

struct EnvelopeCalibration {
  double runtime_base = 0;  // bytes
  struct Backbone {
    double params = 0;              // parameters + buffers (elements)
    double act_fixed = 0;           // fp32 activation bytes: act_fixed + act_per_pixel * S^2
    double act_per_pixel = 0;
    int64_t native = 0;             // input side S the backbone runs at
  };
  Backbone teacher, student;
  double neck_params = 0, neck_act = 0;
  double embedder_params = 0, embedder_act_fixed = 0, embedder_act_per_crop = 0;
  double per_animal = 0;               // bytes per animal, independent of the window
  double per_animal_window_frame = 0;  // bytes per animal per window frame at 1280 px width
  double store = 0;                    // bytes
  // SAM 2/3 tracker memory per object per memory frame at fp32: memory features + their
  // positional encoding (2 x 64 ch x 72 x 72 x 4 B) + an object pointer (256 x 4 B). From the
  // upstream architecture, NOT measured: the tracker is not ported in this tree.
  double sam_memory_per_object_frame = 2.0 * 64 * 72 * 72 * 4 + 256 * 4;
};

struct EnvelopeConfig {
  std::string backbone = "student";  // "student" | "teacher"
  int width = 1280, height = 720;    // camera frame
  int animals = 8;
  int window = 16;                   // frames of per-object memory
  int queue = 8;                     // reader queue
  std::string precision = "fp32";    // "fp32" | "fp16"
  bool keep_frames = true;           // the window holds the frames (a memory-attention model reads them)
  bool sam_memory = false;           // add the SAM-style memory bank (heads not ported: formula only)
  int64_t input = 0;                 // backbone input side; 0 = native
  std::string describe() const;
};

struct EnvelopeTerm {
  std::string name;
  double bytes = 0;
};

struct EnvelopePrediction {
  std::vector<EnvelopeTerm> terms;
  double total = 0;
};

// Throws eh::UsageError for an unknown backbone or precision, or non-positive sizes.
EnvelopePrediction predict_peak(const EnvelopeCalibration& c, const EnvelopeConfig& cfg);

// "16GiB", "16 GB", "512MiB", "1.5G", "123456" (bytes). Binary units for Ki/Mi/Gi, decimal for
// K/M/G/KB/MB/GB. Throws eh::UsageError naming the text.
double parse_bytes(const std::string& text);

// Least-squares line y = a + b x through the points; with one point, b = 0.
std::pair<double, double> fit_line(const std::vector<double>& x, const std::vector<double>& y);

nlohmann::ordered_json to_json(const EnvelopeCalibration& c);
// The formula and the meaning of each term, as markdown (docs/performance.md carries it).
std::string envelope_formula_markdown();
EnvelopeCalibration calibration_from_json(const nlohmann::json& j);

}  // namespace eh::bench
