// Longitudinal mode: many simulated days sampled a few minutes per hour. The same animals
// (same appearance seed) grow every day; some develop lameness (slower, uneven gait, more lying
// and sitting) or illness (less eating, more lying, slower growth) from an onset day. The planted
// truth is written per animal (outcomes.csv) and carried by every ground-truth record, so the
// longitudinal record and its outcome association can be checked against it.
#pragma once
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "data/behaviour.h"
#include "data/dataset_writer.h"
#include "data/simulator.h"

namespace eh::data {

struct LongitudinalConfig {
  uint64_t seed = 1;
  int num_pigs = 8;
  int days = 14;
  int samples_per_hour = 2;      // evenly spaced in the hour
  double sample_minutes = 1.0;   // length of each sample
  int first_hour = 0, last_hour = 23;  // hours sampled each day (inclusive)
  double fps = 6.0;
  cv::Size size{1280, 720};
  double lame_fraction = 0.25;   // share of animals that become lame
  double ill_fraction = 0.25;    // share that fall ill (disjoint from the lame ones)
  double start_weight_kg = 30;
  double daily_gain_kg = 0.85;   // mean average daily gain of a healthy animal
  bool render = false;           // render each sample (video + MOT gt) instead of ground truth only
};

struct AnimalOutcome {
  int animal_id = 0;
  std::string outcome = "healthy";  // healthy | lame | ill
  int onset_day = -1;               // first day with the condition; -1 when healthy
  int recovery_day = -1;            // ill animals recover; -1 = not within the run
  float max_severity = 0;
  float start_weight_kg = 0, end_weight_kg = 0;
  std::string description;          // appearance
};

// The planted course of every animal, a pure function of the config.
class LongitudinalPlan {
 public:
  explicit LongitudinalPlan(const LongitudinalConfig& cfg);
  const std::vector<AnimalOutcome>& outcomes() const { return outcomes_; }
  // State of an animal at a (fractional) day since the start.
  PigHealth health(int animal_id, double day) const;

 private:
  struct Course {
    int kind = 0;  // 0 healthy, 1 lame, 2 ill
    double onset = 0, ramp = 1, recover = 1e9, severity = 0;
    double gain = 0.85;
  };
  double severity_at(const Course& c, double day) const;
  LongitudinalConfig cfg_;
  std::vector<Course> courses_;
  std::vector<std::vector<float>> weight_;  // [animal][day] weight at the start of the day
  std::vector<AnimalOutcome> outcomes_;
};

struct SampleSummary {
  int day = 0, hour = 0, sample = 0;
  int animal_id = 0;
  int frames = 0, frames_in_view = 0;
  std::array<int, kNumBehaviours> behaviour_frames{};  // by Behaviour id
  double distance_m = 0;      // path length of the trunk centre
  float lameness = 0, illness = 0, weight_kg = 0;
};

struct LongitudinalResult {
  int samples = 0;
  long long frames = 0;
  std::vector<AnimalOutcome> outcomes;
  std::vector<SampleSummary> summaries;
  std::vector<std::string> notes;
};

// Called after every simulated frame with the frame's clock time in seconds since 00:00 of
// day 0 (samples are in time order) and the simulator (ground truth of the animals in view).
using LongitudinalFrameFn = std::function<void(double t_s, const PenSimulator& sim)>;

// Runs every sample. With a non-empty out_dir writes outcomes.csv, samples.csv, daily.csv and,
// when cfg.render, samples/dDDD_hHH_sK/ with each sample's video and ground truth.
LongitudinalResult run_longitudinal(const LongitudinalConfig& cfg, const std::string& out_dir = "",
                                    const ProgressFn& progress = {}, const LongitudinalFrameFn& on_frame = {});

}  // namespace eh::data
