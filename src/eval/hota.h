// HOTA (Luiten et al., IJCV 2021) computed as TrackEval's HOTA.eval_sequence does, for one
// sequence: localisation thresholds alpha = 0.05, 0.10, ..., 0.95 (19 values), per alpha a
// one-to-one matching per frame that maximises (global alignment score x IoU), then DetA, AssA,
// LocA; the headline numbers are the means over alpha.
#pragma once
#include <array>

#include "eval/mot.h"

namespace eh::eval {

struct HotaResult {
  static constexpr int kNumAlphas = 19;
  using PerAlpha = std::array<double, kNumAlphas>;
  PerAlpha alpha{};
  PerAlpha hota{}, deta{}, assa{}, deta_re{}, deta_pr{}, assa_re{}, assa_pr{}, loca{}, owta{};
  PerAlpha tp{}, fn{}, fp{};
  // Means over alpha (what TrackEval's summary prints).
  double HOTA = 0, DetA = 0, AssA = 0, DetRe = 0, DetPr = 0, AssRe = 0, AssPr = 0, LocA = 0, OWTA = 0;
  double HOTA0 = 0, LocA0 = 0, HOTALocA0 = 0;  // values at alpha = 0.05
};

// The alpha grid: alpha[i] = 0.05 + i * 0.05 (numpy.arange(0.05, 0.99, 0.05)).
HotaResult::PerAlpha hota_alphas();

HotaResult compute_hota(const TrackSet& gt, const TrackSet& pred);

}  // namespace eh::eval
