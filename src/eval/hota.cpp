#include "eval/hota.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "eval/assignment.h"
#include "eval/detail.h"

namespace eh::eval {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr int kA = HotaResult::kNumAlphas;

double mean19(const HotaResult::PerAlpha& v) { return numpy_sum(v.data(), v.size()) / kA; }

void final_fields(HotaResult* r) {
  for (int a = 0; a < kA; ++a) {
    const double tp = r->tp[a], fn = r->fn[a], fp = r->fp[a];
    r->deta_re[a] = tp / std::max(1.0, tp + fn);
    r->deta_pr[a] = tp / std::max(1.0, tp + fp);
    r->deta[a] = tp / std::max(1.0, tp + fn + fp);
    r->hota[a] = std::sqrt(r->deta[a] * r->assa[a]);
    r->owta[a] = std::sqrt(r->deta_re[a] * r->assa[a]);
  }
}

void summarise(HotaResult* r) {
  r->HOTA = mean19(r->hota);
  r->DetA = mean19(r->deta);
  r->AssA = mean19(r->assa);
  r->DetRe = mean19(r->deta_re);
  r->DetPr = mean19(r->deta_pr);
  r->AssRe = mean19(r->assa_re);
  r->AssPr = mean19(r->assa_pr);
  r->LocA = mean19(r->loca);
  r->OWTA = mean19(r->owta);
  r->HOTA0 = r->hota[0];
  r->LocA0 = r->loca[0];
  r->HOTALocA0 = r->HOTA0 * r->LocA0;
}

// Row sums and column sums of a g x t row-major matrix in numpy's order: along a row numpy
// sums pairwise; down a column it accumulates row by row, except when the matrix has a single
// column, where the column is the contiguous axis and is summed pairwise.
void margins(const std::vector<double>& m, std::size_t g, std::size_t t, std::vector<double>* rows,
             std::vector<double>* cols) {
  rows->assign(g, 0.0);
  cols->assign(t, 0.0);
  for (std::size_t i = 0; i < g; ++i) (*rows)[i] = numpy_sum(m.data() + i * t, t);
  if (t == 1) {
    (*cols)[0] = numpy_sum(m.data(), g);
  } else {
    for (std::size_t i = 0; i < g; ++i)
      for (std::size_t j = 0; j < t; ++j) (*cols)[j] += m[i * t + j];
  }
}

}  // namespace

HotaResult::PerAlpha hota_alphas() {
  HotaResult::PerAlpha a{};
  for (int i = 0; i < kA; ++i) a[i] = 0.05 + i * 0.05;
  return a;
}

HotaResult compute_hota(const TrackSet& gt, const TrackSet& pred) {
  validate(gt);
  validate(pred);
  HotaResult res;
  res.alpha = hota_alphas();
  const std::size_t n_gt_dets = gt.num_detections(), n_pr_dets = pred.num_detections();
  if (n_pr_dets == 0 || n_gt_dets == 0) {
    // TrackEval returns early here, without computing the final fields: everything is 0 except
    // the unmatched count and LocA = 1.
    for (int a = 0; a < kA; ++a) {
      if (n_pr_dets == 0) {
        res.fn[a] = static_cast<double>(n_gt_dets);
      } else {
        res.fp[a] = static_cast<double>(n_pr_dets);
      }
      res.loca[a] = 1.0;
    }
    summarise(&res);
    res.HOTA0 = 0.0;
    res.LocA0 = 1.0;
    res.HOTALocA0 = 0.0;
    return res;
  }

  const detail::IdIndex gid(gt), tid(pred);
  const std::uint64_t T = tid.size();
  const std::vector<std::int64_t> frames = detail::frame_union(gt, pred);

  // Per-frame similarity matrices (TrackEval's box IoU), kept for the second pass.
  struct FrameData {
    std::vector<std::size_t> g, t;  // relabelled ids, file order
    std::vector<double> sim;       // g.size() x t.size()
  };
  std::vector<FrameData> fd(frames.size());
  std::vector<double> gt_count(gid.size(), 0.0), tr_count(T, 0.0);
  std::unordered_map<std::uint64_t, double> potential;  // (g * T + t) -> sum of normalised sims
  std::vector<double> rows, cols;

  for (std::size_t k = 0; k < frames.size(); ++k) {
    const auto& gd = detail::frame_or_empty(gt, frames[k]);
    const auto& td = detail::frame_or_empty(pred, frames[k]);
    FrameData& f = fd[k];
    for (const auto& d : gd) f.g.push_back(gid[d.id]);
    for (const auto& d : td) f.t.push_back(tid[d.id]);
    const std::size_t ng = f.g.size(), nt = f.t.size();
    f.sim.resize(ng * nt);
    for (std::size_t i = 0; i < ng; ++i)
      for (std::size_t j = 0; j < nt; ++j) f.sim[i * nt + j] = iou_trackeval(gd[i].box, td[j].box);
    // Potential matches, each similarity normalised by the "union" of the two boxes' rows/columns.
    margins(f.sim, ng, nt, &rows, &cols);
    for (std::size_t i = 0; i < ng; ++i) {
      for (std::size_t j = 0; j < nt; ++j) {
        const double s = f.sim[i * nt + j];
        const double denom = cols[j] + rows[i] - s;
        if (denom > 0.0 + kEps && s != 0.0) potential[f.g[i] * T + f.t[j]] += s / denom;
      }
    }
    for (auto g : f.g) gt_count[g] += 1.0;
    for (auto t : f.t) tr_count[t] += 1.0;
  }

  auto alignment = [&](std::size_t g, std::size_t t) {
    const auto it = potential.find(g * T + t);
    const double pm = it == potential.end() ? 0.0 : it->second;
    return pm / (gt_count[g] + tr_count[t] - pm);
  };

  // Per (gt id, tracker id) pair: number of frames matched at each alpha.
  std::unordered_map<std::uint64_t, HotaResult::PerAlpha> matches;
  CostMatrix cost;
  for (const FrameData& f : fd) {
    const std::size_t ng = f.g.size(), nt = f.t.size();
    if (ng == 0) {
      for (int a = 0; a < kA; ++a) res.fp[a] += static_cast<double>(nt);
      continue;
    }
    if (nt == 0) {
      for (int a = 0; a < kA; ++a) res.fn[a] += static_cast<double>(ng);
      continue;
    }
    // Score = global alignment x similarity, maximised (cost = -score). Pairs that do not
    // overlap score 0 whatever their alignment, so the alignment is only looked up for overlaps.
    cost = CostMatrix(ng, nt);
    for (std::size_t i = 0; i < ng; ++i) {
      for (std::size_t j = 0; j < nt; ++j) {
        const double s = f.sim[i * nt + j];
        cost(i, j) = s == 0.0 ? -0.0 : -(alignment(f.g[i], f.t[j]) * s);
      }
    }
    const Assignment m = solve_dense(cost);
    for (int a = 0; a < kA; ++a) {
      const double thr = res.alpha[a] - kEps;
      double n = 0.0;
      double loc = 0.0;  // Python's sum(): 0 + s0 + s1 + ..., in match order
      for (const auto& [i, j] : m) {
        const double s = f.sim[i * nt + j];
        if (!(s >= thr)) continue;
        n += 1.0;
        loc += s;
      }
      res.tp[a] += n;
      res.fn[a] += static_cast<double>(ng) - n;
      res.fp[a] += static_cast<double>(nt) - n;
      if (n > 0) res.loca[a] += loc;
    }
    for (const auto& [i, j] : m) {
      const double s = f.sim[i * nt + j];
      if (!(s >= res.alpha[0] - kEps)) continue;
      HotaResult::PerAlpha& c = matches[f.g[i] * T + f.t[j]];
      for (int a = 0; a < kA && s >= res.alpha[a] - kEps; ++a) c[a] += 1.0;
    }
  }

  const std::uint64_t G = gid.size();
  std::vector<std::pair<std::uint64_t, HotaResult::PerAlpha>> mc(matches.begin(), matches.end());
  std::sort(mc.begin(), mc.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::pair<std::uint64_t, double>> e_a, e_re, e_pr;
  for (int a = 0; a < kA; ++a) {
    e_a.clear();
    e_re.clear();
    e_pr.clear();
    for (const auto& [key, counts] : mc) {
      const double c = counts[a];
      if (c == 0.0) continue;
      const double gc = gt_count[key / T], tc = tr_count[key % T];
      e_a.emplace_back(key, c * (c / std::max(1.0, gc + tc - c)));
      e_re.emplace_back(key, c * (c / std::max(1.0, gc)));
      e_pr.emplace_back(key, c * (c / std::max(1.0, tc)));
    }
    const double denom = std::max(1.0, res.tp[a]);
    res.assa[a] = numpy_sum_sparse(e_a, G * T) / denom;
    res.assa_re[a] = numpy_sum_sparse(e_re, G * T) / denom;
    res.assa_pr[a] = numpy_sum_sparse(e_pr, G * T) / denom;
    res.loca[a] = std::max(1e-10, res.loca[a]) / std::max(1e-10, res.tp[a]);
  }
  final_fields(&res);
  summarise(&res);
  return res;
}

}  // namespace eh::eval
