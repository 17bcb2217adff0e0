#include "eval/clear_mot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>

#include "core/error.h"
#include "eval/assignment.h"
#include "eval/detail.h"

namespace eh::eval {

double quiet_divide(double a, double b) {
  if (b != 0.0) return a / b;
  if (a == 0.0 || std::isnan(a)) return std::numeric_limits<double>::quiet_NaN();
  return std::copysign(std::numeric_limits<double>::infinity(), a) * std::copysign(1.0, b);
}

namespace {

constexpr double kForbidden = std::numeric_limits<double>::infinity();

// py-motmetrics' MOTChallenge loader shifts x and y by -1 (MATLAB's 1-based pixels) before
// computing overlaps. IoU is shift-invariant in exact arithmetic; we shift too so that the
// floating-point result is the same to the last bit.
Box motmetrics_box(const Box& b) { return Box{b.x - 1.0, b.y - 1.0, b.w, b.h}; }

struct ObjectState {
  std::int64_t last_hyp = -1;          // prediction index of the last match ("m"), -1 if none
  std::optional<std::int64_t> last_match_frame;
  std::int64_t present = 0;            // frames in which the object appears
  std::int64_t tracked = 0;            // frames in which it was matched (MATCH or SWITCH)
  bool seen_tracked = false;           // fragmentation scan: tracked at least once so far
  bool in_miss_run = false;            // ...and missed since the last tracked frame
  std::int64_t fragments = 0;
};

struct HypState {
  std::int64_t last_obj = -1;  // object index of the last match ("res_m"), -1 if none
  bool ever_matched = false;   // "hypHistory"
  std::int64_t present = 0;
};

void identity_measures(const std::vector<ObjectState>& objs, const std::vector<HypState>& hyps,
                       const std::unordered_map<std::uint64_t, std::int64_t>& overlaps, std::size_t nh,
                       double num_objects, double num_predictions, IdentityResult* out) {
  // Ristani et al.: a one-to-one map between whole trajectories that maximises the number of
  // frames in which mapped trajectories overlap (IoU over threshold). As in py-motmetrics, each
  // ground-truth id o and each predicted id h gets a dummy partner, and the square matrix
  //   cost(o, h)        = (frames(o) - overlap(o,h)) + (frames(h) - overlap(o,h))
  //   cost(o, dummy_o)  = frames(o)     (o unmatched: all its frames are ID false negatives)
  //   cost(dummy_h, h)  = frames(h)     (h unmatched: all its frames are ID false positives)
  //   cost(dummy, dummy) = 0, every other dummy pair forbidden
  // is solved for minimum cost. Ids that overlap nothing cost the same whatever they are paired
  // with, so they are left out of the matrix and counted directly (same optimum, smaller matrix).
  std::vector<std::size_t> act_o, act_h;
  std::vector<std::int64_t> o_pos(objs.size(), -1), h_pos(nh, -1);
  for (const auto& [key, n] : overlaps) {
    if (n <= 0) continue;
    const std::size_t o = key / nh, h = key % nh;
    if (o_pos[o] < 0) {
      o_pos[o] = 0;
      act_o.push_back(o);
    }
    if (h_pos[h] < 0) {
      h_pos[h] = 0;
      act_h.push_back(h);
    }
  }
  std::sort(act_o.begin(), act_o.end());
  std::sort(act_h.begin(), act_h.end());
  for (std::size_t k = 0; k < act_o.size(); ++k) o_pos[act_o[k]] = static_cast<std::int64_t>(k);
  for (std::size_t k = 0; k < act_h.size(); ++k) h_pos[act_h[k]] = static_cast<std::int64_t>(k);

  double idfn = 0, idfp = 0;
  for (std::size_t o = 0; o < objs.size(); ++o)
    if (o_pos[o] < 0) idfn += static_cast<double>(objs[o].present);
  for (std::size_t h = 0; h < nh; ++h)
    if (h_pos[h] < 0) idfp += static_cast<double>(hyps[h].present);

  const std::size_t no = act_o.size(), nhh = act_h.size(), n = no + nhh;
  if (n > 0) {
    CostMatrix fp(n, n, 0.0), fn(n, n, 0.0);
    for (std::size_t r = 0; r < no; ++r) {
      const double oc = static_cast<double>(objs[act_o[r]].present);
      for (std::size_t c = 0; c < nhh; ++c) fn(r, c) = oc;
      for (std::size_t c = nhh; c < n; ++c) fn(r, c) = kForbidden;
      fn(r, nhh + r) = oc;
    }
    for (std::size_t c = 0; c < nhh; ++c) {
      const double hc = static_cast<double>(hyps[act_h[c]].present);
      for (std::size_t r = 0; r < no; ++r) fp(r, c) = hc;
      for (std::size_t r = no; r < n; ++r) fp(r, c) = kForbidden;
      fp(c + no, c) = hc;
    }
    for (const auto& [key, ex] : overlaps) {
      const std::size_t o = key / nh, h = key % nh;
      if (ex <= 0) continue;
      const auto r = static_cast<std::size_t>(o_pos[o]);
      const auto c = static_cast<std::size_t>(h_pos[h]);
      fp(r, c) -= static_cast<double>(ex);
      fn(r, c) -= static_cast<double>(ex);
    }
    CostMatrix cost(n, n);
    for (std::size_t k = 0; k < n * n; ++k) cost.data[k] = fp.data[k] + fn.data[k];
    const Assignment a = solve(cost);
    if (a.size() != n) throw Error("ID measures: trajectory assignment is incomplete (internal error)");
    for (const auto& [r, c] : a) {
      idfp += fp(r, c);
      idfn += fn(r, c);
    }
  }
  out->idfp = idfp;
  out->idfn = idfn;
  out->idtp = num_objects - idfn;
  out->idp = quiet_divide(out->idtp, out->idtp + idfp);
  out->idr = quiet_divide(out->idtp, out->idtp + idfn);
  out->idf1 = quiet_divide(2.0 * out->idtp, num_objects + num_predictions);
}

}  // namespace

ClearAndIdentity compute_clear_and_identity(const TrackSet& gt, const TrackSet& pred, const MotOptions& opt) {
  if (!(opt.iou_threshold >= 0.0 && opt.iou_threshold <= 1.0)) {
    throw Error("IoU threshold must be in [0, 1]");
  }
  validate(gt);
  validate(pred);
  const double max_dist = 1.0 - opt.iou_threshold;
  const detail::IdIndex oid(gt), hid(pred);
  const std::size_t nh_total = hid.size();
  std::vector<ObjectState> objs(oid.size());
  std::vector<HypState> hyps(nh_total);
  std::unordered_map<std::uint64_t, std::int64_t> overlaps;  // (o * nh + h) -> frames with finite distance

  ClearAndIdentity res;
  ClearMotResult& r = res.clear;
  std::vector<double> event_dist;  // D column of the non-RAW events, NaN stored as 0 (pandas sum)
  std::vector<double> match_iou;
  std::optional<std::int64_t> last_update;

  std::vector<Box> gb, pb;
  std::vector<std::size_t> go, ph;
  CostMatrix dist, masked;
  std::vector<char> omask, hmask;

  for (const std::int64_t frame : detail::frame_union(gt, pred)) {
    const auto& gdets = detail::frame_or_empty(gt, frame);
    const auto& pdets = detail::frame_or_empty(pred, frame);
    const std::size_t no = gdets.size(), nh = pdets.size();
    ++r.num_frames;
    gb.resize(no);
    go.resize(no);
    pb.resize(nh);
    ph.resize(nh);
    for (std::size_t i = 0; i < no; ++i) {
      gb[i] = motmetrics_box(gdets[i].box);
      go[i] = oid[gdets[i].id];
      ++objs[go[i]].present;
    }
    for (std::size_t j = 0; j < nh; ++j) {
      pb[j] = motmetrics_box(pdets[j].box);
      ph[j] = hid[pdets[j].id];
      ++hyps[ph[j]].present;
    }
    dist = CostMatrix(no, nh, kForbidden);
    for (std::size_t i = 0; i < no; ++i) {
      for (std::size_t j = 0; j < nh; ++j) {
        const double d = 1.0 - iou_motmetrics(gb[i], pb[j]);
        if (!(d > max_dist)) {
          dist(i, j) = d;
          ++overlaps[static_cast<std::uint64_t>(go[i]) * nh_total + ph[j]];
        }
      }
    }
    omask.assign(no, 0);
    hmask.assign(nh, 0);
    auto record_match = [&](std::size_t i, std::size_t j) {
      event_dist.push_back(dist(i, j));
      match_iou.push_back(iou_motmetrics(gb[i], pb[j]));
      omask[i] = 1;
      hmask[j] = 1;
    };

    if (no > 0 && nh > 0) {
      // 1. Keep the pairs matched in the previous update if they are still allowed.
      for (std::size_t i = 0; i < no; ++i) {
        ObjectState& o = objs[go[i]];
        if (o.last_hyp < 0 || !last_update || o.last_match_frame != last_update) continue;
        for (std::size_t j = 0; j < nh; ++j) {
          if (hmask[j] || static_cast<std::int64_t>(ph[j]) != o.last_hyp) continue;
          if (std::isfinite(dist(i, j))) {
            record_match(i, j);
            ++r.num_matches;
            o.last_match_frame = frame;
            hyps[ph[j]].ever_matched = true;
          }
          break;
        }
      }
      // 2. Minimum-cost assignment of the rest (rows and columns kept above are forbidden).
      masked = dist;
      bool any_allowed = false;
      for (std::size_t i = 0; i < no; ++i) {
        for (std::size_t j = 0; j < nh; ++j) {
          if (omask[i] || hmask[j]) masked(i, j) = kForbidden;
          any_allowed = any_allowed || std::isfinite(masked(i, j));
        }
      }
      if (any_allowed) {
        for (const auto& [i, j] : solve(masked)) {
          ObjectState& o = objs[go[i]];
          HypState& h = hyps[ph[j]];
          const auto hj = static_cast<std::int64_t>(ph[j]);
          const auto oi = static_cast<std::int64_t>(go[i]);
          const bool is_switch = o.last_hyp >= 0 && o.last_hyp != hj;
          if (is_switch && !h.ever_matched) ++r.num_ascend;
          const bool is_transfer = h.last_obj >= 0 && h.last_obj != oi;
          if (is_transfer) {
            ++r.num_transfer;
            if (!o.last_match_frame) ++r.num_migrate;
          }
          h.ever_matched = true;
          o.last_match_frame = frame;
          record_match(i, j);
          if (is_switch) {
            ++r.num_switches;
          } else {
            ++r.num_matches;
          }
          o.last_hyp = hj;
          h.last_obj = oi;
        }
      }
    }
    // 3. Unmatched objects are misses, 4. unmatched predictions are false positives.
    for (std::size_t i = 0; i < no; ++i) {
      if (!omask[i]) {
        ++r.num_misses;
        event_dist.push_back(0.0);
      }
    }
    for (std::size_t j = 0; j < nh; ++j) {
      if (!hmask[j]) {
        ++r.num_false_positives;
        event_dist.push_back(0.0);
      }
    }
    // Per-object tracked/missed history (MT/PT/ML and fragmentations).
    for (std::size_t i = 0; i < no; ++i) {
      ObjectState& o = objs[go[i]];
      if (omask[i]) {
        ++o.tracked;
        if (o.seen_tracked && o.in_miss_run) ++o.fragments;
        o.seen_tracked = true;
        o.in_miss_run = false;
      } else if (o.seen_tracked) {
        o.in_miss_run = true;
      }
    }
    last_update = frame;
  }

  r.num_objects = static_cast<std::int64_t>(gt.num_detections());
  r.num_predictions = static_cast<std::int64_t>(pred.num_detections());
  r.num_unique_objects = static_cast<std::int64_t>(oid.size());
  r.num_unique_predictions = static_cast<std::int64_t>(hid.size());
  r.num_detections = r.num_matches + r.num_switches;
  for (const auto& o : objs) {
    r.num_fragmentations += o.fragments;
    const double ratio = static_cast<double>(o.tracked) / static_cast<double>(o.present);
    if (ratio >= 0.8) {
      ++r.mostly_tracked;
    } else if (ratio >= 0.2) {
      ++r.partially_tracked;
    } else {
      ++r.mostly_lost;
    }
  }
  const double det = static_cast<double>(r.num_detections);
  const double nobj = static_cast<double>(r.num_objects);
  r.mota = 1.0 - quiet_divide(static_cast<double>(r.num_misses + r.num_switches + r.num_false_positives), nobj);
  r.motp = quiet_divide(numpy_sum(event_dist), det);
  r.motp_iou = quiet_divide(numpy_sum(match_iou), det);
  r.recall = quiet_divide(det, nobj);
  r.precision = quiet_divide(det, static_cast<double>(r.num_false_positives) + det);

  identity_measures(objs, hyps, overlaps, nh_total, nobj, static_cast<double>(r.num_predictions), &res.identity);
  return res;
}

}  // namespace eh::eval
