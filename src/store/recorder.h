// Turns per-frame observations of tracked animals into the store's per-bin records.
//
// Each observation stands for one frame (frame_interval_s of time). Per animal and bin the
// recorder keeps: frames seen, mean position, path length (of the exponentially smoothed track,
// counted in steps beyond a dead band, so position jitter of a resting animal adds no distance),
// seconds above an activity speed (from a smoothed velocity, classifier-free), and seconds per behaviour class (rounded to whole seconds so the
// classes sum to the bin's observed time). A block (hour) is sealed into the block tables when the
// animal's observations move past it. Until then, every flush_interval_s of wall time, the bins
// closed since the last flush and the open bin are written as small rows of open_bins (for all
// animals these sit together at the end of one b-tree, so a flush dirties a page or two, not
// three pages per animal) and committed: a crash loses at most that much. A recorder that starts
// in the middle of an hour merges with what the store already holds for it.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "store/store.h"

namespace eh::store {

struct Observation {
  int64_t animal_id = 0;
  double t = 0;          // unix seconds of the frame
  float x_m = 0, y_m = 0;  // pen floor position, metres
  int behaviour = 0;     // class id 0..8 (codec.h / eh::data::Behaviour)
  float speed_mps = -1;  // optional: speed from the tracker; < 0 = derive from positions
};

struct RecorderOptions {
  double frame_interval_s = 1.0 / 6.0;  // time one observation stands for (camera fps)
  double max_gap_s = 2.0;               // no distance or speed across longer gaps
  double distance_deadband_m = 0.05;    // path length counts moves beyond this from the last anchor
  double active_speed_mps = 0.15;       // smoothed speed above this counts as active
  double speed_smoothing_s = 1.0;       // time constant of the position and velocity smoothing
  double flush_interval_s = 1.0;        // wall-clock cadence of provisional block writes
  PoolOptions pool;                     // embedding pool per animal
  int max_thumbnails = 8;
  double thumbnail_min_interval_s = 6 * 3600.0;
};

struct RecorderStats {
  int64_t observations = 0;
  int64_t dropped_out_of_order = 0;
  int64_t blocks_written = 0;      // completed blocks
  int64_t provisional_writes = 0;  // open blocks written early
  int64_t embeddings_offered = 0, embeddings_written = 0;
  int64_t thumbnails_kept = 0;
};

class Recorder {
 public:
  explicit Recorder(Store& store, RecorderOptions opt = {});
  ~Recorder();  // flush(); errors are logged
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Observations of one animal must come in time order; an observation older than the
  // animal's open bin is dropped (counted in stats). Throws eh::Error on a bad class id or a
  // non-finite value.
  void observe(const Observation& o);
  // Closes every bin before `t` and seals every block that ends at or before `t`, including
  // blocks an earlier run left open for animals not seen since.
  void advance(double t);
  // Writes every open block provisionally, refreshes today's daily totals, commits.
  void flush();

  EmbeddingPool::Action offer_embedding(int64_t animal, double t, const float* v, size_t dim);
  bool offer_thumbnail(int64_t animal, double t, const std::vector<uint8_t>& jpeg, int width, int height);

  const RecorderStats& stats() const { return stats_; }
  const EmbeddingPool* pool(int64_t animal) const;

 private:
  struct Acc {
    int64_t start = 0;
    uint32_t frames = 0;
    double sx = 0, sy = 0, dist = 0, active = 0;
    std::array<double, kNumClasses> beh{};
  };
  struct AnimalState {
    bool open_block = false;
    int64_t block_start = 0;
    std::vector<BinRecord> bins;  // closed bins of the open block
    size_t persisted = 0;         // bins[0 .. persisted) are in the store in their final form
    bool open_bin = false;
    Acc acc;
    bool dirty = false;
    // continuity
    bool have_last = false;
    double last_t = 0;
    float last_x = 0, last_y = 0;
    double px = 0, py = 0;            // smoothed position
    double anchor_x = 0, anchor_y = 0;  // last smoothed position that added distance
    double vx = 0, vy = 0;            // smoothed velocity
  };
  struct PoolState {
    EmbeddingPool pool;
    std::vector<bool> meta_dirty;
  };

  AnimalState& state(int64_t animal);
  void close_bin(AnimalState& s);
  void close_block(int64_t animal, AnimalState& s);
  void open_block(int64_t animal, AnimalState& s, int64_t block_start, int64_t bin_start);
  void flush_provisional();
  void write_pool_meta();
  static BinRecord finish(const Acc& a);

  Store& store_;
  RecorderOptions opt_;
  int64_t bin_s_, block_s_;
  std::map<int64_t, AnimalState> animals_;
  std::map<int64_t, PoolState> pools_;
  std::chrono::steady_clock::time_point last_flush_;
  RecorderStats stats_;
};

}  // namespace eh::store
