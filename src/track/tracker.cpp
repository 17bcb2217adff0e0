#include "track/tracker.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>

#include "core/error.h"
#include "track/assignment.h"
#include "track/mask.h"

namespace eh::track {

void TrackerConfig::validate() const {
  auto bad = [](const std::string& m) { throw eh::UsageError("tracker config: " + m); };
  if (min_hits < 1) bad(fmt::format("min_hits must be >= 1, got {}", min_hits));
  if (!(low_score <= birth_score)) bad("low_score must be <= birth_score");
  if (!(min_overlap >= 0 && min_overlap < 1)) bad(fmt::format("min_overlap must be in [0, 1), got {}", min_overlap));
  if (!(low_overlap >= 0 && low_overlap < 1)) bad(fmt::format("low_overlap must be in [0, 1), got {}", low_overlap));
  if (!(appearance_weight >= 0)) bad("appearance_weight must be >= 0");
  if (!(unmatched_cost > 0)) bad("unmatched_cost must be > 0");
  if (!(coast_s >= 0)) bad("coast_s must be >= 0");
  if (!(max_speed > 0)) bad("max_speed must be > 0");
  if (!(retire_after_s > 0)) bad(fmt::format("retire_after_s must be > 0, got {}", retire_after_s));
  if (max_animals < 0) bad(fmt::format("max_animals must be >= 0, got {}", max_animals));
  if (!(reid_min_similarity >= -1 && reid_min_similarity <= 1)) bad("reid_min_similarity must be in [-1, 1]");
  if (!(reid_appearance_weight >= 0 && reid_appearance_weight <= 1)) bad("reid_appearance_weight must be in [0, 1]");
  if (max_kept_identities < 1) bad("max_kept_identities must be >= 1");
  if (pool.capacity < 1) bad("pool.capacity must be >= 1");
  if (pool_every < 1) bad("pool_every must be >= 1");
  if (!(embedding_ema >= 0 && embedding_ema < 1)) bad("embedding_ema must be in [0, 1)");
  if (max_pending < 1) bad("max_pending must be >= 1");
  if (!(centering_rate > 0 && centering_rate <= 1)) bad("centering_rate must be in (0, 1]");
  if (!(settle_s >= 0)) bad(fmt::format("settle_s must be >= 0, got {}", settle_s));
  if (!(swap_window_s >= 0)) bad(fmt::format("swap_window_s must be >= 0, got {}", swap_window_s));
  for (auto [name, v] : {std::pair{"settle_iou", settle_iou}, {"swap_iou", swap_iou}, {"away_iou", away_iou}})
    if (!(v > 0 && v <= 1)) bad(fmt::format("{} must be in (0, 1], got {}", name, v));
  if (swap_hold < 1) bad(fmt::format("swap_hold must be >= 1, got {}", swap_hold));
}

const char* track_state_name(TrackState s) {
  switch (s) {
    case TrackState::Tentative: return "tentative";
    case TrackState::Tracked: return "tracked";
    case TrackState::Lost: return "lost";
  }
  return "?";
}

const char* event_name(TrackEvent::Kind k) {
  switch (k) {
    case TrackEvent::Kind::Born: return "born";
    case TrackEvent::Kind::Reidentified: return "reidentified";
    case TrackEvent::Kind::Recovered: return "recovered";
    case TrackEvent::Kind::Lost: return "lost";
    case TrackEvent::Kind::Retired: return "retired";
  }
  return "?";
}

namespace {

struct Track {
  int id = 0;
  TrackState state = TrackState::Tentative;
  BoxKalman kf;
  double filter_t = 0;
  double first_t = 0, last_seen_t = 0;
  int64_t last_frame = 0;
  cv::Point2f first_centre;
  CropMask mask;
  cv::Point2f mask_anchor;  // Kalman centre when `mask` was observed
  std::vector<float> emb;   // normalised running average; empty without embeddings
  int hits = 0;
  bool stopped = false;
  bool dead = false;
  int64_t last_pool_frame = std::numeric_limits<int64_t>::min() / 2;
  std::deque<TrackRow> pending;  // tentative: rows not yet reported
  // Swap repair: the spot the track's observed boxes have stayed on since `spot_since`, and the
  // settled spot it first left in this episode, at `left_t` (none while left_t is -inf).
  cv::Rect2f spot, left_spot;
  double spot_since = -1, left_since = 0;
  double left_t = -std::numeric_limits<double>::infinity();
  int hold = 0, hold_with = 0;  // consecutive frames another track (id hold_with) sat on left_spot
  std::vector<std::pair<int, double>> merged_with;  // (id, time) per frame of a merge, 2 windows back
};

struct Identity {
  int id = 0;
  EmbeddingPool pool;
  cv::Point2f last_centre;
  float last_scale = 1;
  double last_seen_t = 0;
  int64_t last_frame = 0;
  bool live = false;
};

constexpr double kChi2Gate4 = 9.4877;  // 95% quantile of chi-square with 4 dof
// Swap repair: a merge this shortly before a settled track's departure belongs to it (the
// settled animal was hidden under the walker, then its track was found on the walker).
constexpr double kMergeLead = 1.0;

cv::Point2f centre_of(const cv::Rect2f& b) { return {b.x + 0.5f * b.width, b.y + 0.5f * b.height}; }
float scale_of(const cv::Rect2f& b) { return std::max({b.width, b.height, 1.0f}); }
double dist(cv::Point2f a, cv::Point2f b) { return std::hypot(static_cast<double>(a.x - b.x), static_cast<double>(a.y - b.y)); }

}  // namespace

struct Tracker::Impl {
  TrackerConfig cfg;
  std::vector<Track> tracks;
  std::map<int, Identity> ids;
  int next_id = 1;
  TrackerStats stats;
  double last_t = -std::numeric_limits<double>::infinity();

  // Running mean of the (normalised) embeddings of this stream, removed before comparing.
  std::vector<double> emb_mean;
  int64_t emb_count = 0;

  void center(std::vector<std::vector<float>>& embs) {
    const std::size_t dim = embs.empty() ? 0 : embs[0].size();
    if (dim == 0) return;
    if (emb_mean.size() != dim) {
      emb_mean.assign(dim, 0.0);
      emb_count = 0;
    }
    for (const auto& e : embs) {
      ++emb_count;
      const double rate = std::max(1.0 / static_cast<double>(emb_count), cfg.centering_rate);
      for (std::size_t k = 0; k < dim; ++k) emb_mean[k] += rate * (e[k] - emb_mean[k]);
    }
    for (auto& e : embs) {
      std::vector<float> c(dim);
      // 90% of the mean: an animal that is alone in the stream (embedding = mean) keeps its
      // direction instead of collapsing to noise.
      for (std::size_t k = 0; k < dim; ++k) c[k] = static_cast<float>(e[k] - 0.9 * emb_mean[k]);
      bool nonzero = false;
      for (float x : c) nonzero = nonzero || std::abs(x) > 1e-7f;
      if (nonzero) e = normalised(c);
    }
  }

  // Per-frame instance data.
  std::vector<CropMask> dmask;
  std::vector<std::vector<float>> demb;

  double overlap(const Track& tr, const Detections& d, std::size_t j) const {
    if (!tr.mask.empty() && !dmask[j].empty()) {
      const cv::Point2f c = tr.kf.centre();
      const cv::Point shift(cvRound(c.x - tr.mask_anchor.x), cvRound(c.y - tr.mask_anchor.y));
      // Motion-compensated, or in place when the predicted motion is off (erratic play).
      return std::max(mask_iou(tr.mask, dmask[j], shift), mask_iou(tr.mask, dmask[j]));
    }
    return box_iou(tr.kf.box(), d.boxes[j]);
  }

  double appearance_term(const Track& tr, std::size_t j) const {
    if (tr.emb.empty() || demb.empty() || demb[j].empty() || tr.emb.size() != demb[j].size()) return 0;
    double c = 0;
    for (std::size_t k = 0; k < tr.emb.size(); ++k) c += static_cast<double>(tr.emb[k]) * demb[j][k];
    return cfg.appearance_weight * (1.0 - std::clamp(c, 0.0, 1.0));
  }

  // Overlap-based association of `rows` (track indices) with `cols` (instance indices).
  std::vector<std::pair<std::size_t, std::size_t>> match_overlap(const std::vector<std::size_t>& rows,
                                                                const std::vector<std::size_t>& cols,
                                                                const Detections& d, double gate,
                                                                bool appearance, double unmatched) const {
    Costs c(rows.size(), cols.size());
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::size_t k = 0; k < cols.size(); ++k) {
        const Track& tr = tracks[rows[r]];
        if (box_iou(tr.kf.box(), d.boxes[cols[k]]) <= 0 && tr.mask.empty()) continue;
        const double ov = overlap(tr, d, cols[k]);
        if (ov < gate || ov <= 0) continue;
        const double motion = cfg.motion_weight * std::min(1.0, tr.kf.mahalanobis2(d.boxes[cols[k]]) / kChi2Gate4);
        c(r, k) = (1.0 - ov) + motion + (appearance ? appearance_term(tr, cols[k]) : 0.0);
      }
    return assign(c, unmatched);
  }

  void observe(Track& tr, const Detections& d, std::size_t j, int64_t frame, double t) {
    tr.kf.update(d.boxes[j]);
    tr.last_seen_t = t;
    tr.last_frame = frame;
    tr.stopped = false;
    if (!dmask.empty() && !dmask[j].empty()) {
      tr.mask = dmask[j];
      tr.mask_anchor = tr.kf.centre();
    } else {
      tr.mask = CropMask{};
    }
    if (!demb.empty() && !demb[j].empty()) {
      if (tr.emb.size() != demb[j].size()) {
        tr.emb = demb[j];
      } else {
        const float a = cfg.embedding_ema;
        for (std::size_t k = 0; k < tr.emb.size(); ++k) tr.emb[k] = a * tr.emb[k] + (1 - a) * demb[j][k];
        tr.emb = normalised(tr.emb);
      }
    }
    ++tr.hits;
  }

  // Swap repair bookkeeping for a confirmed track observed at `box`: its current spot, and the
  // settled spot it first left in this episode (left_t; the episode ends swap_window_s later).
  void follow_spot(Track& tr, const cv::Rect2f& box, double t) const {
    if (tr.spot_since < 0) {
      tr.spot = box;
      tr.spot_since = t;
      return;
    }
    if (box_iou(box, tr.spot) >= cfg.settle_iou) return;
    if (std::isfinite(tr.left_t) && box_iou(box, tr.left_spot) >= cfg.settle_iou) {
      // Back on the spot: settled there as before; the episode (and its window) goes on.
      tr.spot = tr.left_spot;
      tr.spot_since = tr.left_since;
      return;
    }
    if (cfg.settle_s > 0 && t - tr.spot_since >= cfg.settle_s && !std::isfinite(tr.left_t)) {
      tr.left_spot = tr.spot;
      tr.left_since = tr.spot_since;
      tr.left_t = t;
      tr.hold = 0;
    }
    tr.spot = box;
    tr.spot_since = t;
  }

  // Recent merges of each confirmed track, then the exchange: a settled track that left its spot
  // while a track it merged with since leaving sits there for swap_hold frames (the animal on the
  // spot is the one that lay there). Only a partner of a merge that began with the departure may
  // take the identity: a settled animal that gets up and walks off, or lies down beside its old
  // spot, never shared a mask with the one that comes to lie there; two animals lying in one
  // mask before the departure make a spot that is both of theirs.
  void repair_swaps(const Detections& d, const std::vector<int>& track_det, int64_t frame, double t) {
    for (std::size_t s = 0; s < tracks.size(); ++s) {
      Track& S = tracks[s];
      if (S.dead || S.id <= 0 || S.state == TrackState::Tentative) continue;
      auto& mw = S.merged_with;
      mw.erase(std::remove_if(mw.begin(), mw.end(), [&](const auto& e) { return t - e.second > 2 * cfg.swap_window_s; }),
               mw.end());
      const cv::Rect2f now = track_det[s] >= 0 ? d.boxes[static_cast<std::size_t>(track_det[s])] : S.kf.box();
      // A merge: a confirmed neighbour touching this track's instance went unmatched (its animal
      // is inside the same mask). Logged on both: either may be the one that then leaves.
      if (track_det[s] >= 0)
        for (std::size_t k = 0; k < tracks.size(); ++k) {
          Track& o = tracks[k];
          if (k == s || o.dead || o.id <= 0 || o.state == TrackState::Tentative || track_det[k] >= 0) continue;
          if (box_iou(o.kf.box(), now) <= 0) continue;
          mw.emplace_back(o.id, t);
          o.merged_with.emplace_back(S.id, t);
        }
      if (!std::isfinite(S.left_t)) continue;
      if (t - S.left_t > cfg.swap_window_s) {
        S.left_t = -std::numeric_limits<double>::infinity();
        continue;
      }
      int best = -1;
      double best_iou = cfg.swap_iou;
      if (box_iou(now, S.left_spot) < cfg.away_iou)
        for (std::size_t a = 0; a < tracks.size(); ++a) {
          const Track& A = tracks[a];
          if (a == s || A.dead || A.id <= 0 || A.state != TrackState::Tracked || track_det[a] < 0) continue;
          bool since = false, before = false;
          for (const auto& [id, when] : mw)
            if (id == A.id) (when >= S.left_t - kMergeLead ? since : before) = true;
          if (!since || before) continue;
          const double v = box_iou(d.boxes[static_cast<std::size_t>(track_det[a])], S.left_spot);
          if (v >= best_iou) best_iou = v, best = static_cast<int>(a);
        }
      if (best < 0) {
        S.hold = 0;
        continue;
      }
      Track& A = tracks[static_cast<std::size_t>(best)];
      S.hold = S.hold_with == A.id ? S.hold + 1 : 1;
      S.hold_with = A.id;
      if (S.hold < cfg.swap_hold) continue;
      std::swap(S.id, A.id);
      A.spot = S.left_spot;  // A now carries the settled animal's identity and its spot
      A.spot_since = S.left_since;
      A.left_t = S.left_t = -std::numeric_limits<double>::infinity();
      S.hold = A.hold = 0;
      S.merged_with.clear();
      A.merged_with.clear();
      for (Track* tr : {&S, &A}) {
        const std::size_t i = static_cast<std::size_t>(tr - tracks.data());
        if (track_det[i] >= 0) touch_identity(*tr, d, static_cast<std::size_t>(track_det[i]), frame, t);
      }
      ++stats.swaps_repaired;
    }
  }

  void touch_identity(Track& tr, const Detections& d, std::size_t j, int64_t frame, double t) {
    Identity& I = ids.at(tr.id);
    I.last_centre = centre_of(d.boxes[j]);
    I.last_scale = scale_of(d.boxes[j]);
    I.last_seen_t = t;
    I.last_frame = frame;
    I.live = true;
    if (!demb.empty() && !demb[j].empty() && frame - tr.last_pool_frame >= cfg.pool_every) {
      I.pool.add(demb[j]);
      tr.last_pool_frame = frame;
    }
  }

  TrackRow row_of(const Track& tr, const Detections& d, std::size_t j, int64_t frame, double t) const {
    TrackRow r;
    r.frame = frame;
    r.t = t;
    r.id = tr.id;
    r.box = d.boxes[j];
    r.score = d.scores[j];
    r.det = static_cast<int>(j);
    return r;
  }

  void confirm(std::vector<std::size_t>& cands_tracks, const Detections& d, int64_t frame, double t,
               const std::vector<int>& track_det, TrackerOutput& out);
};

Tracker::Tracker(const TrackerConfig& cfg) : impl_(std::make_unique<Impl>()) {
  cfg.validate();
  impl_->cfg = cfg;
}
Tracker::~Tracker() = default;
Tracker::Tracker(Tracker&&) noexcept = default;
Tracker& Tracker::operator=(Tracker&&) noexcept = default;

const TrackerStats& Tracker::stats() const { return impl_->stats; }
const TrackerConfig& Tracker::config() const { return impl_->cfg; }

void Tracker::Impl::confirm(std::vector<std::size_t>& conf, const Detections& d, int64_t frame, double t,
                            const std::vector<int>& track_det, TrackerOutput& out) {
  if (conf.empty()) return;
  // Candidate identities: not in view, or in view but lost and not re-found this frame.
  std::vector<int> cand;
  std::map<int, std::size_t> lost_track_of;
  for (std::size_t i = 0; i < tracks.size(); ++i) {
    const Track& tr = tracks[i];
    if (tr.id > 0 && tr.state == TrackState::Lost && !tr.dead && track_det[i] < 0) lost_track_of[tr.id] = i;
  }
  for (const auto& [id, I] : ids)
    if (!I.live || lost_track_of.count(id)) cand.push_back(id);
  const bool closed = cfg.max_animals > 0;
  std::size_t new_slots = conf.size();
  if (closed) new_slots = std::min<std::size_t>(conf.size(), std::max<int>(0, cfg.max_animals - static_cast<int>(ids.size())));
  const float w = cfg.reid_appearance_weight;
  Costs c(conf.size(), cand.size() + new_slots);
  for (std::size_t r = 0; r < conf.size(); ++r) {
    const Track& tr = tracks[conf[r]];
    for (std::size_t k = 0; k < cand.size(); ++k) {
      const Identity& I = ids.at(cand[k]);
      const double u = std::max(0.0, tr.first_t - I.last_seen_t);
      const double reach = I.last_scale * (1.0 + cfg.max_speed * u);
      const double dd = dist(tr.first_centre, I.last_centre);
      const double pos = dd / (dd + reach);
      const bool app = !tr.emb.empty() && I.pool.size() > 0 && I.pool.dim() == static_cast<int>(tr.emb.size());
      if (app) {
        const double sim = I.pool.top_k_similarity(tr.emb, 3);
        if (!closed && sim < cfg.reid_min_similarity) continue;
        c(r, k) = (1 - w) * pos + w * (1.0 - std::clamp(sim, 0.0, 1.0));
      } else {
        if (!closed) continue;  // open world: re-identification needs appearance
        c(r, k) = pos;
      }
    }
    for (std::size_t k = 0; k < new_slots; ++k) c(r, cand.size() + k) = cfg.new_identity_cost;
  }
  // A large unmatched price: every confirmed track that can get an identity gets one.
  const auto pairs = assign(c, 1e3);
  for (const auto& [r, k] : pairs) {
    Track& tr = tracks[conf[r]];
    const std::size_t j = static_cast<std::size_t>(track_det[conf[r]]);
    TrackEvent ev;
    ev.frame = frame;
    ev.t = t;
    // Rows of the track's tentative frames are emitted late, but only for frames after the
    // identity was last seen: a track confirmed onto an identity whose previous track was still
    // reporting rows in those frames must not give the identity two boxes in one frame.
    int64_t rows_after = -1;
    if (k < cand.size()) {
      const int id = cand[k];
      Identity& I = ids.at(id);
      rows_after = I.last_frame;
      auto it = lost_track_of.find(id);
      if (it != lost_track_of.end()) tracks[it->second].dead = true;  // the new track takes over
      tr.id = id;
      ev.kind = TrackEvent::Kind::Reidentified;
      ev.unseen_s = std::max(0.0, tr.first_t - I.last_seen_t);
      ++stats.reidentified;
    } else {
      tr.id = next_id++;
      ids.emplace(tr.id, Identity{tr.id, EmbeddingPool(cfg.pool), {}, 1, t, frame, true});
      ev.kind = TrackEvent::Kind::Born;
      ++stats.births;
    }
    ev.id = tr.id;
    out.events.push_back(ev);
    tr.state = TrackState::Tracked;
    ids.at(tr.id).live = true;
    for (auto& p : tr.pending)
      if (p.frame != frame && p.frame > rows_after) {
        p.id = tr.id;
        out.late.push_back(p);
      }
    tr.pending.clear();
    touch_identity(tr, d, j, frame, t);
  }
}

TrackerOutput Tracker::update(const Detections& d, int64_t frame, double t) {
  Impl& m = *impl_;
  const TrackerConfig& cfg = m.cfg;
  d.validate(fmt::format("tracker frame {}", frame));
  if (!(t >= m.last_t)) t = std::isfinite(m.last_t) ? m.last_t : t;
  m.last_t = t;
  ++m.stats.frames;
  TrackerOutput out;
  const std::size_t n = d.size();
  out.det_ids.assign(n, 0);

  // Instance masks (cropped) and normalised embeddings.
  m.dmask.clear();
  m.demb.clear();
  if (!d.masks.empty()) {
    m.dmask.resize(n);
    for (std::size_t j = 0; j < n; ++j) m.dmask[j] = crop_mask(d.masks[j]);
  } else if (!d.rles.empty()) {
    m.dmask.resize(n);
    for (std::size_t j = 0; j < n; ++j) m.dmask[j] = crop_mask(d.rles[j]);
  }
  if (!d.embeddings.empty()) {
    m.demb.resize(n);
    for (std::size_t j = 0; j < n; ++j) m.demb[j] = normalised(d.embeddings[j]);
    if (cfg.center_embeddings) m.center(m.demb);
  }

  // Predict.
  for (Track& tr : m.tracks) {
    tr.kf.predict(t - tr.filter_t);
    tr.filter_t = t;
    if (tr.state == TrackState::Lost && !tr.stopped && t - tr.last_seen_t > cfg.coast_s) {
      tr.kf.stop();
      tr.stopped = true;
    }
  }

  std::vector<int> track_det(m.tracks.size(), -1);
  std::vector<char> used(n, 0);
  std::vector<std::size_t> high, low;
  for (std::size_t j = 0; j < n; ++j) {
    if (d.scores[j] >= cfg.birth_score) high.push_back(j);
    else if (d.scores[j] >= cfg.low_score) low.push_back(j);
  }
  auto remaining = [&](const std::vector<std::size_t>& v) {
    std::vector<std::size_t> r;
    for (std::size_t j : v)
      if (!used[j]) r.push_back(j);
    return r;
  };
  auto take = [&](const std::vector<std::size_t>& rows, const std::vector<std::size_t>& cols,
                  const std::vector<std::pair<std::size_t, std::size_t>>& pairs) {
    for (const auto& [r, k] : pairs) {
      track_det[rows[r]] = static_cast<int>(cols[k]);
      used[cols[k]] = 1;
    }
  };

  // 1. Confirmed tracks x confident instances, by overlap (+ appearance).
  {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < m.tracks.size(); ++i)
      if (m.tracks[i].state != TrackState::Tentative) rows.push_back(i);
    const auto cols = remaining(high);
    take(rows, cols, m.match_overlap(rows, cols, d, cfg.min_overlap, true, cfg.unmatched_cost));
  }
  // 2. Tracked tracks left over x low-score instances.
  {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < m.tracks.size(); ++i)
      if (m.tracks[i].state == TrackState::Tracked && track_det[i] < 0) rows.push_back(i);
    const auto cols = remaining(low);
    take(rows, cols, m.match_overlap(rows, cols, d, cfg.low_overlap, false, 0.5));
  }
  // 3. Tentative tracks x remaining confident instances.
  {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < m.tracks.size(); ++i)
      if (m.tracks[i].state == TrackState::Tentative) rows.push_back(i);
    const auto cols = remaining(high);
    take(rows, cols, m.match_overlap(rows, cols, d, cfg.min_overlap, true, cfg.unmatched_cost));
  }
  // 4. Lost tracks x remaining confident instances, by distance from where they stopped.
  {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < m.tracks.size(); ++i)
      if (m.tracks[i].state != TrackState::Tentative && track_det[i] < 0) rows.push_back(i);
    const auto cols = remaining(high);
    Costs c(rows.size(), cols.size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const Track& tr = m.tracks[rows[r]];
      const double u = std::max(0.0, t - tr.last_seen_t);
      const double reach = tr.kf.scale() * (0.5 + cfg.max_speed * u);
      for (std::size_t k = 0; k < cols.size(); ++k) {
        const std::size_t j = cols[k];
        const double dd = dist(centre_of(d.boxes[j]), tr.kf.centre());
        if (dd > reach) continue;
        double cost = dd / reach;
        if (!tr.emb.empty() && !m.demb.empty() && m.demb[j].size() == tr.emb.size()) {
          const double sim = cosine(tr.emb, m.demb[j]);
          if (cfg.max_animals == 0 && sim < cfg.reid_min_similarity) continue;
          cost += cfg.appearance_weight * (1.0 - std::clamp(sim, 0.0, 1.0));
        }
        c(r, k) = cost;
      }
    }
    const auto pairs = assign(c, 0.5 * (1.0 + cfg.appearance_weight));
    take(rows, cols, pairs);
    for (const auto& [r, k] : pairs) {
      const Track& tr = m.tracks[rows[r]];
      if (tr.state != TrackState::Lost) continue;
      TrackEvent ev{TrackEvent::Kind::Recovered, frame, t, tr.id, t - tr.last_seen_t};
      out.events.push_back(ev);
      ++m.stats.recovered;
    }
  }

  // Apply matches; unmatched tracks age.
  for (std::size_t i = 0; i < m.tracks.size(); ++i) {
    Track& tr = m.tracks[i];
    const int j = track_det[i];
    if (j >= 0) {
      m.observe(tr, d, static_cast<std::size_t>(j), frame, t);
      if (tr.state == TrackState::Tentative) {
        tr.pending.push_back(m.row_of(tr, d, j, frame, t));
        while (static_cast<int>(tr.pending.size()) > cfg.max_pending) tr.pending.pop_front();
      } else {
        tr.state = TrackState::Tracked;
        m.touch_identity(tr, d, j, frame, t);
        m.follow_spot(tr, d.boxes[static_cast<std::size_t>(j)], t);
      }
    } else if (tr.state == TrackState::Tentative) {
      tr.dead = true;  // births need consecutive hits
    } else {
      tr.hits = 0;
      if (tr.state == TrackState::Tracked) {
        tr.state = TrackState::Lost;
        out.events.push_back(TrackEvent{TrackEvent::Kind::Lost, frame, t, tr.id, 0});
      }
      if (t - tr.last_seen_t > cfg.retire_after_s) {
        tr.dead = true;
        m.ids.at(tr.id).live = false;
        out.events.push_back(TrackEvent{TrackEvent::Kind::Retired, frame, t, tr.id, t - tr.last_seen_t});
        ++m.stats.retired;
      }
    }
  }

  m.repair_swaps(d, track_det, frame, t);

  // 5. Births from the remaining confident instances.
  for (std::size_t j : remaining(high)) {
    Track tr;
    tr.kf = BoxKalman(d.boxes[j], cfg.kalman);
    tr.filter_t = t;
    tr.first_t = t;
    tr.first_centre = centre_of(d.boxes[j]);
    if (!m.dmask.empty() && !m.dmask[j].empty()) {
      tr.mask = m.dmask[j];
      tr.mask_anchor = tr.kf.centre();
    }
    if (!m.demb.empty()) tr.emb = m.demb[j];
    tr.hits = 1;
    tr.last_seen_t = t;
    tr.last_frame = frame;
    tr.pending.push_back(m.row_of(tr, d, j, frame, t));
    m.tracks.push_back(std::move(tr));
    track_det.push_back(static_cast<int>(j));
    used[j] = 1;
  }

  // Confirmation of tentative tracks with enough consecutive hits.
  {
    std::vector<std::size_t> conf;
    for (std::size_t i = 0; i < m.tracks.size(); ++i) {
      const Track& tr = m.tracks[i];
      if (tr.state == TrackState::Tentative && !tr.dead && track_det[i] >= 0 && tr.hits >= cfg.min_hits)
        conf.push_back(i);
    }
    m.confirm(conf, d, frame, t, track_det, out);
  }

  // Rows of this frame.
  for (std::size_t i = 0; i < m.tracks.size(); ++i) {
    const Track& tr = m.tracks[i];
    if (tr.dead || tr.state != TrackState::Tracked || track_det[i] < 0) continue;
    const auto j = static_cast<std::size_t>(track_det[i]);
    out.rows.push_back(m.row_of(tr, d, j, frame, t));
    out.det_ids[j] = tr.id;
  }
  std::sort(out.rows.begin(), out.rows.end(), [](const TrackRow& a, const TrackRow& b) { return a.id < b.id; });
  std::sort(out.late.begin(), out.late.end(), [](const TrackRow& a, const TrackRow& b) {
    return a.frame != b.frame ? a.frame < b.frame : a.id < b.id;
  });
  m.stats.rows += static_cast<int64_t>(out.rows.size() + out.late.size());

  // Drop dead tracks (a track taken over by a re-identification keeps its identity live).
  for (const Track& tr : m.tracks)
    if (tr.dead && tr.id > 0 && tr.state == TrackState::Lost) {
      bool owned = false;
      for (const Track& o : m.tracks)
        if (&o != &tr && !o.dead && o.id == tr.id) owned = true;
      if (!owned) m.ids.at(tr.id).live = false;
    }
  m.tracks.erase(std::remove_if(m.tracks.begin(), m.tracks.end(), [](const Track& tr) { return tr.dead; }),
                 m.tracks.end());

  // Open world: bound the retired identities kept for re-identification.
  if (cfg.max_animals == 0) {
    std::vector<std::pair<double, int>> retired;
    for (const auto& [id, I] : m.ids)
      if (!I.live) retired.emplace_back(I.last_seen_t, id);
    if (static_cast<int>(retired.size()) > cfg.max_kept_identities) {
      std::sort(retired.begin(), retired.end());
      const std::size_t drop = retired.size() - static_cast<std::size_t>(cfg.max_kept_identities);
      for (std::size_t k = 0; k < drop; ++k) m.ids.erase(retired[k].second);
    }
  }
  m.dmask.clear();
  m.demb.clear();
  return out;
}

std::vector<TrackInfo> Tracker::tracks() const {
  std::vector<TrackInfo> v;
  for (const Track& tr : impl_->tracks)
    v.push_back(TrackInfo{tr.id, tr.state, tr.kf.box(), tr.kf.velocity(), tr.last_seen_t, tr.last_frame, tr.hits});
  return v;
}

std::vector<IdentityInfo> Tracker::identities() const {
  std::vector<IdentityInfo> v;
  for (const auto& [id, I] : impl_->ids)
    v.push_back(IdentityInfo{id, I.live, I.last_centre, I.last_seen_t, I.last_frame, I.pool.size()});
  return v;
}

std::vector<CacheUsage> Tracker::memory() const {
  CacheUsage tracks{"tracker.tracks", 0, impl_->tracks.size()};
  for (const Track& tr : impl_->tracks)
    tracks.bytes += sizeof(Track) + tr.mask.bytes() + tr.emb.capacity() * sizeof(float) +
                    tr.pending.size() * sizeof(TrackRow) + tr.merged_with.capacity() * sizeof(tr.merged_with[0]);
  CacheUsage pools{"tracker.identities", 0, impl_->ids.size()};
  for (const auto& [id, I] : impl_->ids) pools.bytes += sizeof(Identity) + I.pool.bytes();
  return {tracks, pools};
}

}  // namespace eh::track

