#include "data/longitudinal.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

#include "core/error.h"
#include "data/mot_io.h"
#include "data/rng.h"

namespace fs = std::filesystem;

namespace eh::data {

namespace {
void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  if (!f) throw Error("cannot write '" + p.string() + "'");
  f.write(s.data(), static_cast<std::streamsize>(s.size()));
  if (!f) throw Error("failed writing '" + p.string() + "'");
}
}  // namespace

LongitudinalPlan::LongitudinalPlan(const LongitudinalConfig& cfg) : cfg_(cfg) {
  if (cfg.num_pigs < 1 || cfg.num_pigs > 64) throw Error("longitudinal: num_pigs must be in 1..64");
  if (cfg.days < 1 || cfg.days > 400) throw Error("longitudinal: days must be in 1..400");
  if (cfg.lame_fraction < 0 || cfg.ill_fraction < 0 || cfg.lame_fraction + cfg.ill_fraction > 1)
    throw Error("longitudinal: lame_fraction and ill_fraction must be >= 0 with a sum <= 1");
  Rng rng(derive_seed(cfg.seed, 77));
  const int n = cfg.num_pigs;
  std::vector<int> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = i;
  for (int i = n - 1; i > 0; --i) std::swap(ids[i], ids[static_cast<size_t>(rng.uniform_int(0, i))]);  // Fisher-Yates
  const int n_lame = static_cast<int>(std::lround(cfg.lame_fraction * n));
  const int n_ill = std::min(n - n_lame, static_cast<int>(std::lround(cfg.ill_fraction * n)));
  courses_.assign(n, Course{});
  for (int k = 0; k < n; ++k) {
    Course& c = courses_[ids[k]];
    c.gain = std::max(0.4, rng.normal(cfg.daily_gain_kg, 0.08 * cfg.daily_gain_kg));
    if (k < n_lame + n_ill) {
      c.kind = k < n_lame ? 1 : 2;
      const double lo = std::max(1.0, 0.2 * cfg.days), hi = std::max(lo, 0.6 * cfg.days);
      c.onset = std::floor(rng.uniform(lo, hi + 0.999));
      c.ramp = c.kind == 1 ? rng.uniform(3, 7) : rng.uniform(1, 3);
      c.severity = rng.uniform(0.55, 0.9);
      if (c.kind == 2) c.recover = c.onset + c.ramp + rng.uniform(4, 9);
    }
  }
  // Weights day by day: healthy gain, reduced while lame or ill.
  weight_.assign(n, std::vector<float>(cfg.days + 1, 0.f));
  outcomes_.resize(n);
  for (int i = 0; i < n; ++i) {
    const Course& c = courses_[i];
    double w = cfg.start_weight_kg * rng.uniform(0.92, 1.08);
    for (int d = 0; d <= cfg.days; ++d) {
      weight_[i][d] = static_cast<float>(w);
      const double s = severity_at(c, d + 0.5);
      const double factor = c.kind == 2 ? 1 - 0.7 * s : (c.kind == 1 ? 1 - 0.3 * s : 1.0);
      w += c.gain * factor;
    }
    AnimalOutcome& o = outcomes_[i];
    o.animal_id = i + 1;
    o.outcome = c.kind == 0 ? "healthy" : (c.kind == 1 ? "lame" : "ill");
    o.onset_day = c.kind == 0 ? -1 : static_cast<int>(c.onset);
    o.recovery_day = (c.kind == 2 && c.recover + 3 < cfg.days) ? static_cast<int>(std::ceil(c.recover + 3)) : -1;
    o.max_severity = static_cast<float>(c.kind == 0 ? 0 : c.severity);
    o.start_weight_kg = weight_[i][0];
    o.end_weight_kg = weight_[i][cfg.days];
  }
}

double LongitudinalPlan::severity_at(const Course& c, double day) const {
  if (c.kind == 0 || day < c.onset) return 0;
  double s = c.severity * std::min(1.0, (day - c.onset) / c.ramp);
  if (day > c.recover) s *= std::max(0.0, 1.0 - (day - c.recover) / 3.0);  // recovery over 3 days
  return s;
}

PigHealth LongitudinalPlan::health(int animal_id, double day) const {
  if (animal_id < 1 || animal_id > static_cast<int>(courses_.size())) throw Error("longitudinal: no animal " + std::to_string(animal_id));
  const Course& c = courses_[animal_id - 1];
  PigHealth h;
  const double s = severity_at(c, day);
  if (c.kind == 1) h.lameness = static_cast<float>(s);
  if (c.kind == 2) h.illness = static_cast<float>(s);
  const int d0 = std::clamp(static_cast<int>(std::floor(day)), 0, cfg_.days);
  const int d1 = std::min(d0 + 1, cfg_.days);
  const double f = std::clamp(day - d0, 0.0, 1.0);
  h.weight_kg = static_cast<float>(weight_[animal_id - 1][d0] * (1 - f) + weight_[animal_id - 1][d1] * f);
  h.growth = static_cast<float>(std::cbrt(h.weight_kg / 30.0));
  return h;
}

LongitudinalResult run_longitudinal(const LongitudinalConfig& cfg, const std::string& out_dir, const ProgressFn& progress,
                                    const LongitudinalFrameFn& on_frame) {
  if (cfg.samples_per_hour < 1 || cfg.samples_per_hour > 60) throw Error("longitudinal: samples_per_hour must be in 1..60");
  if (!(cfg.sample_minutes > 0) || cfg.sample_minutes * cfg.samples_per_hour > 60)
    throw Error("longitudinal: sample_minutes must be > 0 and fit samples_per_hour times in an hour");
  if (cfg.first_hour < 0 || cfg.last_hour > 23 || cfg.first_hour > cfg.last_hour)
    throw Error("longitudinal: hours must satisfy 0 <= first_hour <= last_hour <= 23");
  const LongitudinalPlan plan(cfg);
  LongitudinalResult res;
  res.outcomes = plan.outcomes();
  const uint64_t appearance = derive_seed(cfg.seed, 99);
  const int hours = cfg.last_hour - cfg.first_hour + 1;
  const int total_samples = cfg.days * hours * cfg.samples_per_hour;
  const int frames_per_sample = std::max(1, static_cast<int>(std::lround(cfg.sample_minutes * 60 * cfg.fps)));
  const float ppm = make_pen_layout(cfg.size).pixels_per_metre;
  if (!out_dir.empty()) fs::create_directories(out_dir);

  int done = 0;
  for (int day = 0; day < cfg.days; ++day) {
    for (int hour = cfg.first_hour; hour <= cfg.last_hour; ++hour) {
      for (int k = 0; k < cfg.samples_per_hour; ++k) {
        SimConfig sc;
        sc.seed = derive_seed(cfg.seed, 1000000ULL + static_cast<uint64_t>(day) * 1000 + hour * 10 + k);
        sc.appearance_seed = appearance;
        sc.num_pigs = cfg.num_pigs;
        sc.size = cfg.size;
        sc.fps = cfg.fps;
        sc.start_hour = hour + (k * 60.0 / cfg.samples_per_hour) / 60.0;
        sc.render = cfg.render;
        sc.masks = cfg.render;
        const double dayf = day + sc.start_hour / 24.0;
        for (int id = 1; id <= cfg.num_pigs; ++id) sc.health.push_back(plan.health(id, dayf));

        std::vector<SampleSummary> sums(cfg.num_pigs);
        std::vector<cv::Point2f> last(cfg.num_pigs);
        std::vector<bool> has_last(cfg.num_pigs, false);
        for (int i = 0; i < cfg.num_pigs; ++i) {
          SampleSummary& s = sums[i];
          s.day = day;
          s.hour = hour;
          s.sample = k;
          s.animal_id = i + 1;
          s.lameness = sc.health[i].lameness;
          s.illness = sc.health[i].illness;
          s.weight_kg = sc.health[i].weight_kg;
        }
        const double sample_start_s = day * 86400.0 + sc.start_hour * 3600.0;
        auto collect = [&](const PenSimulator& sim) {
          if (on_frame) on_frame(sample_start_s + sim.time_s(), sim);
          for (const auto& g : sim.all_animals()) {
            SampleSummary& s = sums[g.id - 1];
            ++s.frames;
            if (!g.box.empty()) ++s.frames_in_view;
            ++s.behaviour_frames[static_cast<int>(g.behaviour)];
            if (has_last[g.id - 1]) {
              const cv::Point2f d = g.pose.centre - last[g.id - 1];
              s.distance_m += std::hypot(d.x, d.y) / ppm;
            }
            last[g.id - 1] = g.pose.centre;
            has_last[g.id - 1] = true;
          }
        };
        if (cfg.render && !out_dir.empty()) {
          SimulateOptions so;
          so.sim = sc;
          so.minutes = cfg.sample_minutes;
          so.out_dir = (fs::path(out_dir) / "samples" / fmt::format("d{:03d}_h{:02d}_s{}", day, hour, k)).string();
          so.write_masks = false;
          so.write_edinburgh = false;
          so.write_contact_sheet = false;
          const SimulateResult r = run_simulation(so, {}, collect);
          for (const auto& n : r.notes)
            if (std::find(res.notes.begin(), res.notes.end(), n) == res.notes.end()) res.notes.push_back(n);
        } else {
          sc.render = false;
          sc.masks = false;
          PenSimulator sim(sc);
          for (int f = 0; f < frames_per_sample; ++f) {
            sim.step();
            collect(sim);
          }
        }
        res.frames += frames_per_sample;
        for (auto& s : sums) res.summaries.push_back(s);
        ++res.samples;
        ++done;
        if (progress && !progress(done, total_samples)) throw Error("cancelled");
      }
    }
  }

  if (!out_dir.empty()) {
    const fs::path out(out_dir);
    // Appearance descriptions of the animals (same seed as the samples).
    {
      SimConfig sc;
      sc.appearance_seed = appearance;
      sc.num_pigs = cfg.num_pigs;
      sc.size = cfg.size;
      sc.render = false;
      sc.masks = false;
      PenSimulator sim(sc);
      for (const auto& a : sim.animals()) res.outcomes[a.id - 1].description = a.description;
    }
    std::string s = "animal_id,outcome,onset_day,recovery_day,max_severity,start_weight_kg,end_weight_kg,description\n";
    for (const auto& o : res.outcomes)
      s += fmt::format("{},{},{},{},{},{},{},\"{}\"\n", o.animal_id, o.outcome, o.onset_day, o.recovery_day,
                       format_number(o.max_severity, 3), format_number(o.start_weight_kg, 1), format_number(o.end_weight_kg, 1),
                       o.description);
    write_text(out / "outcomes.csv", s);

    s = "day,hour,sample,animal_id,frames,frames_in_view";
    for (Behaviour b : all_behaviours()) s += std::string(",") + behaviour_name(b);
    s += ",distance_m,lameness,illness,weight_kg\n";
    for (const auto& m : res.summaries) {
      s += fmt::format("{},{},{},{},{},{}", m.day, m.hour, m.sample, m.animal_id, m.frames, m.frames_in_view);
      for (int b = 0; b < kNumBehaviours; ++b) s += "," + format_number(m.frames ? static_cast<double>(m.behaviour_frames[b]) / m.frames : 0, 4);
      s += fmt::format(",{},{},{},{}\n", format_number(m.distance_m, 3), format_number(m.lameness, 3), format_number(m.illness, 3),
                       format_number(m.weight_kg, 2));
    }
    write_text(out / "samples.csv", s);

    // Daily per-animal aggregates.
    s = "day,animal_id,weight_kg,lying,eating,drinking,active,distance_m_per_min,lameness,illness\n";
    for (int day = 0; day < cfg.days; ++day) {
      for (int id = 1; id <= cfg.num_pigs; ++id) {
        double frames = 0, lying = 0, eating = 0, drinking = 0, active = 0, dist = 0, lame = 0, ill = 0, n = 0;
        float weight = 0;
        for (const auto& m : res.summaries) {
          if (m.day != day || m.animal_id != id) continue;
          frames += m.frames;
          lying += m.behaviour_frames[static_cast<int>(Behaviour::Lying)];
          eating += m.behaviour_frames[static_cast<int>(Behaviour::Eating)];
          drinking += m.behaviour_frames[static_cast<int>(Behaviour::Drinking)];
          active += m.behaviour_frames[static_cast<int>(Behaviour::Moving)] + m.behaviour_frames[static_cast<int>(Behaviour::Running)] +
                    m.behaviour_frames[static_cast<int>(Behaviour::Playing)];
          dist += m.distance_m;
          lame += m.lameness;
          ill += m.illness;
          n += 1;
          weight = m.weight_kg;
        }
        if (frames <= 0) continue;
        const double minutes = frames / cfg.fps / 60.0;
        s += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", day, id, format_number(weight, 2), format_number(lying / frames, 4),
                         format_number(eating / frames, 4), format_number(drinking / frames, 4), format_number(active / frames, 4),
                         format_number(dist / minutes, 3), format_number(lame / n, 3), format_number(ill / n, 3));
      }
    }
    write_text(out / "daily.csv", s);
  }
  return res;
}

}  // namespace eh::data
