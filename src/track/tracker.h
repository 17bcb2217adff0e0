// Multi-animal tracker over per-frame instances from any segmenter (see docs/tracking.md).
//
//   eh::track::TrackerConfig cfg;  cfg.max_animals = 8;        // closed pen of 8
//   eh::track::Tracker tracker(cfg);
//   for (each frame) {
//     eh::track::TrackerOutput out = tracker.update(dets, frame_index, t_seconds);
//     for (const auto& r : out.rows) ...   // frame, id, box, score of confirmed tracks
//     for (const auto& r : out.late) ...   // earlier frames of tracks confirmed just now
//   }
//
// Per frame: every live track's Kalman filter predicts to the frame time; then
//  1. confirmed tracks x confident instances: cost = (1 - overlap) + w_motion min(1, d2 / 9.49)
//     + w_app (1 - cosine), d2 the Kalman filter's Mahalanobis distance of the instance box, and
//     overlap is the IoU of the track's last mask shifted by the predicted motion with the
//     instance mask (box IoU of the prediction when either has no mask); pairs below
//     `min_overlap` are not allowed; leaving a track or an instance unmatched costs
//     `unmatched_cost`;
//  2. tracked (not lost) tracks left over x low-score instances, by overlap alone;
//  3. tentative tracks x remaining confident instances, as in 1;
//  4. lost confirmed tracks x remaining confident instances by distance from where the track
//     stopped, within a radius growing at `max_speed` body lengths per second (plus appearance);
//  5. remaining confident instances start tentative tracks; a tentative track with `min_hits`
//     consecutive hits is confirmed and given an identity: a returning identity (lost or
//     retired: closest last position, most similar embedding-pool samples) or a new one. With
//     `max_animals` set (closed pen) no identity beyond that number is ever created: once the
//     pen is full a confirmed track must be re-identified as one of the identities not in
//     view, and waits (unreported) while there is none.
// Swap repair: a walking animal that crosses a lying one can carry the lying one's track away (the
// segmenter returns one mask for both for a frame or two) while its own track is found again on
// the lying animal's spot. A track that stayed on one spot for `settle_s` and leaves it is watched
// for `swap_window_s`; if meanwhile a track it merged with (one of the two went unmatched while
// touching the other's instance) from 1 s before leaving on, and not earlier in the 2 windows
// before, sits on that spot (box IoU >= `swap_iou`) for `swap_hold` frames while the settled track
// is away from it (IoU < `away_iou`), the two tracks exchange identities from that frame on (rows
// already reported keep theirs).
// Tracks unseen for `retire_after_s` seconds are retired: their motion state and mask are
// freed; the identity (last position, embedding pool) is kept for re-identification.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "track/cache_usage.h"
#include "track/detections.h"
#include "track/embedding_pool.h"
#include "track/kalman.h"

namespace eh::track {

struct TrackerConfig {
  // Births.
  int min_hits = 3;            // consecutive hits before a track is confirmed (1 = at once)
  float birth_score = 0.5f;    // instances below this score only extend existing tracks
  float low_score = 0.1f;      // instances below this score are ignored
  // Association.
  float min_overlap = 0.1f;    // mask (or box) IoU gate for matching a track to an instance
  float low_overlap = 0.5f;    // IoU gate for low-score instances (stage 2)
  float appearance_weight = 0.3f;  // weight of (1 - cosine) when both sides have embeddings
  float motion_weight = 0.5f;  // weight of min(1, Mahalanobis^2 / chi2_95) of the Kalman fit
  float unmatched_cost = 0.75f; // price of leaving a track or an instance unmatched (stages 1, 3)
  double coast_s = 1.0;        // unmatched tracks follow their velocity this long, then stop
  double max_speed = 2.5;      // body lengths per second: growth of the lost-track search radius
  double retire_after_s = 10.0;  // T: unseen this long -> retired (identity kept for re-ID)
  // Identities.
  int max_animals = 0;         // > 0: closed pen with this many animals; 0: open world
  float reid_min_similarity = 0.75f;  // open world: re-ID needs this cosine (needs embeddings)
  float reid_appearance_weight = 0.7f;  // re-ID cost = (1-w) position term + w appearance term
  float new_identity_cost = 0.5f;     // closed pen not yet full: cost of a new identity
  int max_kept_identities = 256;      // open world: retired identities kept (oldest dropped)
  // Appearance memory.
  PoolConfig pool;             // per-animal embedding pool (bounded, diverse, int8/fp16)
  int pool_every = 3;          // frames between pool samples of one track
  float embedding_ema = 0.8f;  // weight of the old track embedding in its running average
  // Subtract (90% of) this stream's running mean embedding before comparing: removes what all
  // animals share (species, light); the mean adapts at `centering_rate` per instance.
  bool center_embeddings = true;
  double centering_rate = 1e-3;
  int max_pending = 30;        // rows kept for a not-yet-confirmed track (reported late)
  // Swap repair (see the header comment); settle_s = 0 turns it off.
  double settle_s = 5.0;       // a track whose box kept IoU >= settle_iou with its spot this long is settled
  float settle_iou = 0.7f;
  double swap_window_s = 4.0;  // how long after leaving its spot a settled track's identity may be handed on
  float swap_iou = 0.6f;       // another track on the spot: box IoU with it at least this
  float away_iou = 0.3f;       // the settled track away from the spot: box IoU below this
  int swap_hold = 2;           // consecutive frames both must hold before the identities are exchanged
  KalmanParams kalman;

  // Throws eh::UsageError naming the field when a value is out of range.
  void validate() const;
};

enum class TrackState { Tentative, Tracked, Lost };
const char* track_state_name(TrackState s);

struct TrackRow {
  int64_t frame = 0;
  double t = 0;
  int id = 0;
  cv::Rect2f box;   // the instance's box
  float score = 0;
  int det = -1;     // index of the instance in that frame's Detections
};

struct TrackEvent {
  enum class Kind { Born, Reidentified, Recovered, Lost, Retired };
  Kind kind = Kind::Born;
  int64_t frame = 0;
  double t = 0;
  int id = 0;
  double unseen_s = 0;  // Reidentified / Recovered / Retired: how long the identity was unseen
};
const char* event_name(TrackEvent::Kind k);

struct TrackerOutput {
  std::vector<TrackRow> rows;  // confirmed tracks matched in this frame
  std::vector<TrackRow> late;  // earlier rows of tracks confirmed in this frame (older frames)
  std::vector<int> det_ids;    // per instance of this frame: its identity, 0 if none (yet)
  std::vector<TrackEvent> events;
};

struct TrackInfo {
  int id = 0;  // 0 while tentative
  TrackState state = TrackState::Tentative;
  cv::Rect2f box;  // current Kalman estimate
  cv::Point2f velocity;
  double last_seen_t = 0;
  int64_t last_frame = 0;
  int hits = 0;
};

struct IdentityInfo {
  int id = 0;
  bool in_view = false;  // owned by a live track (tracked or lost)
  cv::Point2f last_centre;
  double last_seen_t = 0;
  int64_t last_frame = 0;
  int pool_size = 0;
};

struct TrackerStats {
  int64_t frames = 0;
  int64_t births = 0;          // new identities
  int64_t reidentified = 0;    // confirmed tracks given a returning identity
  int64_t recovered = 0;       // lost tracks re-found by distance (stage 4)
  int64_t retired = 0;
  int64_t swaps_repaired = 0;  // identity exchanges by swap repair
  int64_t rows = 0;            // rows reported (including late ones)
};

class Tracker {
 public:
  explicit Tracker(const TrackerConfig& cfg = {});
  ~Tracker();
  Tracker(Tracker&&) noexcept;
  Tracker& operator=(Tracker&&) noexcept;

  // `t` in seconds must not decrease (a smaller t is treated as no time passing). Throws
  // eh::Error when `dets` is malformed (see Detections::validate).
  TrackerOutput update(const Detections& dets, int64_t frame, double t);

  std::vector<TrackInfo> tracks() const;
  std::vector<IdentityInfo> identities() const;
  const TrackerStats& stats() const;
  const TrackerConfig& config() const;
  // Bytes held: live tracks (masks, filters, pending rows) and identities (embedding pools).
  std::vector<CacheUsage> memory() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eh::track
