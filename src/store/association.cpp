#include "store/association.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "core/error.h"
#include "eval/numeric.h"
#include "store/store.h"

namespace eh::store {

// ---- statistics primitives -----------------------------------------------------------------

double auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  if (scores.size() != labels.size()) throw eh::Error("auc: scores and labels differ in length");
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0;
  size_t n1 = 0;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j < idx.size() && scores[idx[j]] == scores[idx[i]]) ++j;
    const double mid = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2.0;  // 1-based mid-rank
    for (size_t k = i; k < j; ++k)
      if (labels[idx[k]] == 1) rank_sum += mid;
    i = j;
  }
  for (int l : labels) {
    if (l != 0 && l != 1) throw eh::Error(fmt::format("auc: label {} is not 0 or 1", l));
    n1 += l == 1;
  }
  const size_t n0 = labels.size() - n1;
  if (n1 == 0 || n0 == 0) return NAN;
  return (rank_sum - static_cast<double>(n1) * (n1 + 1) / 2.0) / (static_cast<double>(n1) * n0);
}

namespace {

double sigmoid(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }

// Solves A x = b for symmetric positive definite A (Cholesky); A is n x n row-major.
std::vector<double> solve_spd(std::vector<double> A, std::vector<double> b, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double d = A[j * n + j];
    for (size_t k = 0; k < j; ++k) d -= A[j * n + k] * A[j * n + k];
    if (!(d > 0)) d = 1e-12;
    const double l = std::sqrt(d);
    A[j * n + j] = l;
    for (size_t i = j + 1; i < n; ++i) {
      double s = A[i * n + j];
      for (size_t k = 0; k < j; ++k) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / l;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= A[i * n + k] * b[k];
    b[i] = s / A[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= A[k * n + i] * b[k];
    b[i] = s / A[i * n + i];
  }
  return b;
}

using eh::eval::percentile;

uint64_t mix(uint64_t seed, uint64_t k) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (k + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

LogisticModel fit_logistic(const std::vector<std::vector<double>>& X, const std::vector<int>& y, double l2) {
  if (X.size() != y.size()) throw eh::Error("logistic: X and y differ in length");
  if (!(l2 >= 0)) throw eh::Error("logistic: l2 must be >= 0");
  const size_t n = X.size(), p = n ? X[0].size() : 0;
  for (const auto& r : X)
    if (r.size() != p) throw eh::Error("logistic: rows of X differ in length");
  for (int l : y)
    if (l != 0 && l != 1) throw eh::Error(fmt::format("logistic: label {} is not 0 or 1", l));
  LogisticModel m;
  m.mean.assign(p, 0);
  m.sd.assign(p, 1);
  m.w.assign(p, 0);
  if (n == 0) return m;
  for (size_t j = 0; j < p; ++j) {
    double s = 0, ss = 0;
    for (const auto& r : X) s += r[j];
    m.mean[j] = s / n;
    for (const auto& r : X) ss += (r[j] - m.mean[j]) * (r[j] - m.mean[j]);
    const double sd = n > 1 ? std::sqrt(ss / (n - 1)) : 0;
    m.sd[j] = sd > 1e-12 ? sd : 1;
  }
  std::vector<std::vector<double>> Z(n, std::vector<double>(p + 1, 1.0));  // column 0: intercept
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < p; ++j) Z[i][j + 1] = (X[i][j] - m.mean[j]) / m.sd[j];
  const size_t d = p + 1;
  std::vector<double> theta(d, 0);
  auto loss = [&](const std::vector<double>& th) {
    double L = 0;
    for (size_t i = 0; i < n; ++i) {
      double z = 0;
      for (size_t k = 0; k < d; ++k) z += Z[i][k] * th[k];
      // -log sigmoid(+-z), stably
      const double s = y[i] ? -z : z;
      L += s > 0 ? s + std::log1p(std::exp(-s)) : std::log1p(std::exp(s));
    }
    for (size_t k = 1; k < d; ++k) L += 0.5 * l2 * th[k] * th[k];
    return L;
  };
  double cur = loss(theta);
  for (int it = 0; it < 100; ++it) {
    std::vector<double> g(d, 0), H(d * d, 0);
    for (size_t i = 0; i < n; ++i) {
      double z = 0;
      for (size_t k = 0; k < d; ++k) z += Z[i][k] * theta[k];
      const double pr = sigmoid(z), w = std::max(pr * (1 - pr), 1e-12);
      for (size_t a = 0; a < d; ++a) {
        g[a] += (pr - y[i]) * Z[i][a];
        for (size_t b = 0; b <= a; ++b) H[a * d + b] += w * Z[i][a] * Z[i][b];
      }
    }
    for (size_t a = 1; a < d; ++a) {
      g[a] += l2 * theta[a];
      H[a * d + a] += l2;
    }
    H[0] += 1e-9;
    for (size_t a = 0; a < d; ++a)
      for (size_t b = a + 1; b < d; ++b) H[a * d + b] = H[b * d + a];
    const auto step = solve_spd(H, g, d);
    double t = 1;
    std::vector<double> next(d);
    double nl = cur;
    for (int h = 0; h < 30; ++h) {
      for (size_t k = 0; k < d; ++k) next[k] = theta[k] - t * step[k];
      nl = loss(next);
      if (nl <= cur + 1e-12) break;
      t *= 0.5;
    }
    double change = 0;
    for (size_t k = 0; k < d; ++k) change = std::max(change, std::fabs(next[k] - theta[k]));
    theta = next;
    m.iterations = it + 1;
    const double prev = cur;
    cur = nl;
    if (change < 1e-9 || std::fabs(prev - cur) < 1e-12 * (1 + std::fabs(cur))) break;
  }
  m.b = theta[0];
  for (size_t j = 0; j < p; ++j) m.w[j] = theta[j + 1];
  return m;
}

double predict(const LogisticModel& m, const std::vector<double>& x) {
  if (x.size() != m.w.size()) throw eh::Error("logistic: feature count differs from the model's");
  double z = m.b;
  for (size_t j = 0; j < x.size(); ++j) z += m.w[j] * (x[j] - m.mean[j]) / m.sd[j];
  return sigmoid(z);
}

std::vector<double> cv_predictions(const std::vector<std::vector<double>>& X, const std::vector<int>& y, double l2,
                                   int folds, uint64_t seed) {
  const size_t n = X.size();
  std::vector<double> out(n, NAN);
  if (n < 2) return out;
  std::vector<int> fold(n);
  size_t k = folds <= 1 || static_cast<size_t>(folds) >= n ? n : static_cast<size_t>(folds);
  if (k == n) {
    std::iota(fold.begin(), fold.end(), 0);
  } else {
    std::mt19937_64 rng(seed);
    size_t next = 0;
    for (int cls = 1; cls >= 0; --cls) {
      std::vector<size_t> idx;
      for (size_t i = 0; i < n; ++i)
        if (y[i] == cls) idx.push_back(i);
      std::shuffle(idx.begin(), idx.end(), rng);
      for (size_t i : idx) fold[i] = static_cast<int>(next++ % k);
    }
  }
  for (size_t f = 0; f < k; ++f) {
    std::vector<std::vector<double>> Xt;
    std::vector<int> yt;
    for (size_t i = 0; i < n; ++i)
      if (fold[i] != static_cast<int>(f)) {
        Xt.push_back(X[i]);
        yt.push_back(y[i]);
      }
    const auto m = fit_logistic(Xt, yt, l2);
    for (size_t i = 0; i < n; ++i)
      if (fold[i] == static_cast<int>(f)) out[i] = predict(m, X[i]);
  }
  return out;
}

std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> idx(m);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> q(m);
  double running = 1.0;
  for (size_t r = m; r-- > 0;) {
    running = std::min(running, p[idx[r]] * static_cast<double>(m) / static_cast<double>(r + 1));
    q[idx[r]] = std::min(running, 1.0);
  }
  return q;
}

std::vector<double> holm(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> idx(m);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> out(m);
  double running = 0;
  for (size_t r = 0; r < m; ++r) {
    running = std::max(running, std::min(1.0, p[idx[r]] * static_cast<double>(m - r)));
    out[idx[r]] = running;
  }
  return out;
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double variance(const std::vector<double>& v) {
  if (v.size() < 2) return NAN;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

double hedges_g(const std::vector<double>& a, const std::vector<double>& b) {
  const double n1 = static_cast<double>(a.size()), n0 = static_cast<double>(b.size());
  if (a.size() < 2 || b.size() < 2) return NAN;
  const double sp = std::sqrt(((n1 - 1) * variance(a) + (n0 - 1) * variance(b)) / (n1 + n0 - 2));
  if (!(sp > 0)) return NAN;
  const double J = 1 - 3 / (4 * (n1 + n0) - 9);
  return J * (mean(a) - mean(b)) / sp;
}

std::pair<double, double> hedges_g_ci(double g, size_t n1, size_t n0, double z) {
  if (!std::isfinite(g) || n1 < 2 || n0 < 2) return {NAN, NAN};
  const double a = static_cast<double>(n1), b = static_cast<double>(n0);
  const double se = std::sqrt((a + b) / (a * b) + g * g / (2 * (a + b)));
  return {g - z * se, g + z * se};
}

double permutation_p(const std::vector<double>& a, const std::vector<double>& b, int permutations, uint64_t seed) {
  if (a.empty() || b.empty() || permutations < 1) return NAN;
  std::vector<double> pool(a);
  pool.insert(pool.end(), b.begin(), b.end());
  const size_t n1 = a.size(), n = pool.size();
  double total = 0;
  for (double x : pool) total += x;
  const auto diff_of = [&](double s1) {
    return s1 / static_cast<double>(n1) - (total - s1) / static_cast<double>(n - n1);
  };
  double s1 = 0;
  for (double x : a) s1 += x;
  const double obs = std::fabs(diff_of(s1));
  const double tol = 1e-12 * (1 + obs);
  std::mt19937_64 rng(seed);
  int hits = 0;
  for (int it = 0; it < permutations; ++it) {
    double s = 0;
    for (size_t i = 0; i < n1; ++i) {
      std::uniform_int_distribution<size_t> u(i, n - 1);
      std::swap(pool[i], pool[u(rng)]);
      s += pool[i];
    }
    if (std::fabs(diff_of(s)) >= obs - tol) ++hits;
  }
  return (1.0 + hits) / (1.0 + permutations);
}

std::pair<double, double> bootstrap_diff_ci(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                                            uint64_t seed, double level) {
  if (a.empty() || b.empty() || resamples < 2) return {NAN, NAN};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> ua(0, a.size() - 1), ub(0, b.size() - 1);
  std::vector<double> d(static_cast<size_t>(resamples));
  for (auto& x : d) {
    double sa = 0, sb = 0;
    for (size_t i = 0; i < a.size(); ++i) sa += a[ua(rng)];
    for (size_t i = 0; i < b.size(); ++i) sb += b[ub(rng)];
    x = sa / static_cast<double>(a.size()) - sb / static_cast<double>(b.size());
  }
  const double tail = (1 - level) / 2;
  return {percentile(d, tail), percentile(d, 1 - tail)};
}

double pearson_r(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 3) return NAN;
  const double mx = mean(x), my = mean(y);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (!(sxx > 0 && syy > 0)) return NAN;
  return sxy / std::sqrt(sxx * syy);
}

// ---- data ----------------------------------------------------------------------------------

const std::array<const char*, kNumFeatures>& feature_names() {
  static const std::array<const char*, kNumFeatures> k = {
      "lying_frac",   "eating_frac",  "drinking_frac",  "standing_frac", "moving_frac",
      "playing_frac", "sitting_frac", "distance_m_per_h", "active_frac"};
  return k;
}

DailyPoint daily_point(const DailyRecord& d, int day_index) {
  DailyPoint p;
  p.day = day_index;
  p.observed_h = static_cast<double>(d.observed_s) / 3600.0;
  p.f.fill(NAN);
  const double known = static_cast<double>(d.observed_s - std::min(d.observed_s, d.behaviour_s[kUnknown]));
  if (known >= 1) {
    const auto frac = [&](int c) { return static_cast<double>(d.behaviour_s[static_cast<size_t>(c)]) / known; };
    p.f[kLyingFrac] = frac(kLying);
    p.f[kEatingFrac] = frac(kEating);
    p.f[kDrinkingFrac] = frac(kDrinking);
    p.f[kStandingFrac] = frac(kStanding);
    p.f[kMovingFrac] = frac(kMoving) + frac(kRunning);
    p.f[kPlayingFrac] = frac(kPlaying);
    p.f[kSittingFrac] = frac(kNotMoving);
  }
  if (d.observed_s > 0) {
    p.f[kDistancePerH] = d.distance_m / p.observed_h;
    p.f[kActiveFrac] = static_cast<double>(d.active_s) / static_cast<double>(d.observed_s);
  }
  return p;
}

std::vector<AnimalSeries> load_series(Store& s, int64_t* day0) {
  std::vector<AnimalSeries> out;
  std::vector<std::vector<DailyRecord>> all;
  int64_t first = INT64_MAX;
  for (const auto& a : s.animals()) {
    auto d = s.daily(a.id);
    if (!d.empty()) first = std::min(first, d.front().day);
    AnimalSeries as;
    as.animal_id = a.id;
    as.tag = a.tag;
    out.push_back(as);
    all.push_back(std::move(d));
  }
  if (first == INT64_MAX) first = 0;
  for (size_t i = 0; i < out.size(); ++i)
    for (const auto& d : all[i]) out[i].days.push_back(daily_point(d, static_cast<int>((d.day - first) / kDaySeconds)));
  if (day0) *day0 = first;
  return out;
}

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  for (auto& f : out) {
    const auto b = f.find_first_not_of(" \t"), e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return out;
}

bool parse_double(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*v);
}

// Days since the epoch of an ISO date YYYY-MM-DD, or nullopt.
std::optional<int64_t> iso_day(const std::string& s) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
    return std::nullopt;
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::vector<OutcomeLabel> read_outcomes_csv(const std::string& path, int64_t day0) {
  std::ifstream in(path);
  if (!in) throw eh::Error(fmt::format("{}: cannot open outcome labels", path));
  std::string line;
  int lineno = 0;
  std::map<std::string, size_t> col;
  bool simulator = false;  // the simulator's outcomes.csv: one row per animal, outcome healthy|lame|ill
  std::vector<OutcomeLabel> out;
  auto parse_onset = [&](const std::string& onset, OutcomeLabel& l) {
    if (onset.empty()) return;
    double d = 0;
    if (parse_double(onset, &d)) {
      if (d >= 0) l.onset_day = d;  // the simulator writes -1 for "none"
    } else if (auto iso = iso_day(onset)) {
      l.onset_day = static_cast<double>(*iso - floor_to(day0, kDaySeconds) / kDaySeconds);
    } else {
      throw eh::Error(fmt::format("{}:{}: onset_day '{}' is neither a day number nor YYYY-MM-DD", path, lineno, onset));
    }
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') continue;
    auto f = split_csv_line(line);
    if (col.empty()) {
      for (size_t i = 0; i < f.size(); ++i) col[lower(f[i])] = i;
      auto alias = [&](const char* a, const char* b) {
        if (!col.count(a) && col.count(b)) col[a] = col[b];
      };
      alias("animal_id", "animal");
      alias("outcome", "kind");
      simulator = !col.count("value") && col.count("outcome") && col.count("onset_day");
      for (const char* need : {"animal_id", "outcome"})
        if (!col.count(need))
          throw eh::Error(fmt::format("{}:{}: header lacks column '{}' (need animal_id, outcome, value[, onset_day, "
                                      "note], or the simulator's animal_id, outcome, onset_day, ...)",
                                      path, lineno, need));
      if (!simulator && !col.count("value"))
        throw eh::Error(fmt::format("{}:{}: header lacks column 'value'", path, lineno));
      continue;
    }
    auto get = [&](const char* name) -> std::string {
      auto it = col.find(name);
      return it != col.end() && it->second < f.size() ? f[it->second] : std::string();
    };
    OutcomeLabel l;
    l.line = lineno;
    l.animal = get("animal_id");
    l.outcome = lower(get("outcome"));
    l.note = get("note");
    if (l.animal.empty()) throw eh::Error(fmt::format("{}:{}: empty animal_id", path, lineno));
    if (l.outcome.empty()) throw eh::Error(fmt::format("{}:{}: empty outcome", path, lineno));
    if (simulator) {
      // One row per animal -> lameness and illness events (and weight gain when given).
      const std::string state = l.outcome;
      if (state != "healthy" && state != "lame" && state != "ill")
        throw eh::Error(fmt::format("{}:{}: outcome '{}' is not healthy, lame or ill (simulator format)", path,
                                    lineno, state));
      OutcomeLabel onset;
      parse_onset(get("onset_day"), onset);
      for (const char* kind : {"lameness", "illness"}) {
        OutcomeLabel e = l;
        e.outcome = kind;
        e.value = (state == "lame" && e.outcome == "lameness") || (state == "ill" && e.outcome == "illness") ? 1 : 0;
        if (e.value == 1) e.onset_day = onset.onset_day;
        out.push_back(e);
      }
      double w0 = 0, w1 = 0;
      if (parse_double(get("start_weight_kg"), &w0) && parse_double(get("end_weight_kg"), &w1)) {
        OutcomeLabel g = l;
        g.outcome = "weight_gain_kg";
        g.value = w1 - w0;
        out.push_back(g);
      }
      continue;
    }
    const std::string value = get("value");
    if (!parse_double(value, &l.value))
      throw eh::Error(fmt::format("{}:{}: value '{}' is not a number", path, lineno, value));
    parse_onset(get("onset_day"), l);
    out.push_back(std::move(l));
  }
  if (col.empty()) throw eh::Error(fmt::format("{}: empty outcome labels file", path));
  return out;
}

void resolve_animals(std::vector<OutcomeLabel>& labels, Store& s) {
  for (auto& l : labels) {
    char* end = nullptr;
    const long long id = std::strtoll(l.animal.c_str(), &end, 10);
    if (!l.animal.empty() && end == l.animal.c_str() + l.animal.size()) {
      l.animal_id = id;
      continue;
    }
    const auto t = s.animal_by_tag(l.animal);
    if (!t) throw eh::Error(fmt::format("outcome labels line {}: no animal with id or tag '{}' in {}", l.line, l.animal, s.path()));
    l.animal_id = *t;
  }
}

std::vector<OutcomeLabel> outcomes_from_store(Store& s, int64_t day0) {
  std::vector<OutcomeLabel> out;
  for (const auto& o : s.outcomes()) {
    OutcomeLabel l;
    l.animal = std::to_string(o.animal_id);
    l.animal_id = o.animal_id;
    l.outcome = lower(o.kind);
    l.value = o.value;
    if (o.onset) l.onset_day = static_cast<double>(*o.onset - day0) / kDaySeconds;
    l.note = o.note;
    out.push_back(std::move(l));
  }
  return out;
}

// ---- analysis ------------------------------------------------------------------------------

namespace {

// Mean of feature f over days in [d0, d1) with enough observation; NaN with fewer than min_days.
double window_mean(const AnimalSeries& a, int f, double d0, double d1, const AssociationOptions& o) {
  double s = 0;
  int n = 0;
  for (const auto& p : a.days) {
    if (p.day < d0 || p.day >= d1 || p.observed_h < o.min_observed_h) continue;
    const double v = p.f[static_cast<size_t>(f)];
    if (!std::isfinite(v)) continue;
    s += v;
    ++n;
  }
  return n >= o.min_days ? s / n : NAN;
}

bool is_event(const std::vector<const OutcomeLabel*>& ls) {
  for (const auto* l : ls)
    if (l->value != 0 && l->value != 1) return false;
  return true;
}

std::string fmt_n(double v, int prec = 3) { return std::isfinite(v) ? fmt::format("{:+.{}f}", v, prec) : "n/a"; }

}  // namespace

AssociationReport associate(const std::vector<AnimalSeries>& series, const std::vector<OutcomeLabel>& labels,
                            const AssociationOptions& opt) {
  if (opt.baseline_days < 1 || opt.response_days < 1 || opt.min_days < 1)
    throw eh::Error("associate: baseline_days, response_days and min_days must be >= 1");
  AssociationReport rep;
  rep.options = opt;
  rep.n_animals = static_cast<int>(series.size());
  std::map<int64_t, const AnimalSeries*> by_id;
  for (const auto& a : series) by_id[a.animal_id] = &a;

  std::map<std::string, std::vector<const OutcomeLabel*>> by_outcome;
  for (const auto& l : labels) {
    if (!by_id.count(l.animal_id)) {
      rep.warnings.push_back(fmt::format("outcome '{}' for animal {} (line {}): no records in the store; skipped",
                                         l.outcome, l.animal, l.line));
      continue;
    }
    by_outcome[l.outcome].push_back(&l);
  }
  // Animals positive for an event outcome (for clean controls).
  std::map<std::string, std::set<int64_t>> positives;
  for (const auto& [kind, ls] : by_outcome) {
    if (!is_event(ls)) continue;
    for (const auto* l : ls)
      if (l->value == 1) positives[kind].insert(l->animal_id);
  }

  uint64_t test_no = 0;
  for (const auto& [kind, ls] : by_outcome) {
    std::set<int64_t> seen;
    for (const auto* l : ls)
      if (!seen.insert(l->animal_id).second)
        throw eh::Error(fmt::format("outcome '{}': animal {} is labelled twice (line {})", kind, l->animal, l->line));

    if (is_event(ls)) {
      // Cases (with onset) and controls.
      std::vector<std::pair<const AnimalSeries*, double>> cases;  // (animal, onset day)
      std::vector<const AnimalSeries*> controls;
      int no_onset = 0, dropped_controls = 0;
      auto positive_elsewhere = [&](int64_t id) {
        for (const auto& [k, ids] : positives)
          if (k != kind && ids.count(id)) return true;
        return false;
      };
      for (const auto* l : ls) {
        const AnimalSeries* a = by_id[l->animal_id];
        if (l->value == 1) {
          if (!l->onset_day) {
            ++no_onset;
            continue;
          }
          cases.emplace_back(a, *l->onset_day);
        } else if (opt.clean_controls && positive_elsewhere(l->animal_id)) {
          ++dropped_controls;
        } else {
          controls.push_back(a);
        }
      }
      if (opt.unlisted_controls)
        for (const auto& a : series)
          if (!seen.count(a.animal_id) && !(opt.clean_controls && positive_elsewhere(a.animal_id)))
            controls.push_back(&a);
      if (no_onset)
        rep.warnings.push_back(fmt::format("outcome '{}': {} case(s) without onset_day skipped", kind, no_onset));
      if (dropped_controls)
        rep.warnings.push_back(fmt::format(
            "outcome '{}': {} control(s) positive for another outcome left out (clean controls)", kind, dropped_controls));
      if (!opt.unlisted_controls && series.size() > seen.size())
        rep.warnings.push_back(fmt::format("outcome '{}': {} animal(s) in the store have no label and are not used",
                                           kind, series.size() - seen.size()));
      if (cases.empty()) {
        rep.warnings.push_back(fmt::format("outcome '{}': no cases with an onset; nothing to test", kind));
        continue;
      }
      std::vector<double> onsets;
      for (const auto& c : cases) onsets.push_back(c.second);
      const double control_index = std::floor(percentile(onsets, 0.5));

      // change[f][animal]: NaN when a window lacks days.
      auto change = [&](const AnimalSeries& a, double idx, int f) {
        const double base = window_mean(a, f, idx - opt.baseline_days, idx, opt);
        const double resp = window_mean(a, f, idx, idx + opt.response_days, opt);
        return resp - base;
      };
      std::vector<std::vector<double>> case_x(cases.size()), control_x(controls.size());
      for (size_t i = 0; i < cases.size(); ++i)
        for (int f = 0; f < kNumFeatures; ++f) case_x[i].push_back(change(*cases[i].first, cases[i].second, f));
      for (size_t i = 0; i < controls.size(); ++i)
        for (int f = 0; f < kNumFeatures; ++f) control_x[i].push_back(change(*controls[i], control_index, f));

      for (int f = 0; f < kNumFeatures; ++f) {
        FeatureTest t;
        t.outcome = kind;
        t.feature = std::string(feature_names()[static_cast<size_t>(f)]) + ".change";
        t.type = "event";
        std::vector<double> a, b;
        for (const auto& x : case_x)
          if (std::isfinite(x[static_cast<size_t>(f)])) a.push_back(x[static_cast<size_t>(f)]);
        for (const auto& x : control_x)
          if (std::isfinite(x[static_cast<size_t>(f)])) b.push_back(x[static_cast<size_t>(f)]);
        t.n_case = static_cast<int>(a.size());
        t.n_control = static_cast<int>(b.size());
        const uint64_t seed = mix(opt.seed, test_no++);
        if (a.size() < 2 || b.size() < 2) {
          t.warnings.push_back(fmt::format("not tested: needs >= 2 cases and >= 2 controls with data in both windows "
                                           "(have {} and {})",
                                           a.size(), b.size()));
          rep.tests.push_back(std::move(t));
          continue;
        }
        t.mean_case = mean(a);
        t.mean_control = mean(b);
        t.diff = t.mean_case - t.mean_control;
        std::tie(t.diff_lo, t.diff_hi) = bootstrap_diff_ci(a, b, opt.bootstrap, mix(seed, 1));
        t.effect = hedges_g(a, b);
        std::tie(t.effect_lo, t.effect_hi) = hedges_g_ci(t.effect, a.size(), b.size());
        t.p = permutation_p(a, b, opt.permutations, mix(seed, 2));
        if (t.n_case < opt.small_n || t.n_control < opt.small_n)
          t.warnings.push_back(fmt::format("small sample (n_case={}, n_control={} < {}): wide CIs, low power",
                                           t.n_case, t.n_control, opt.small_n));
        rep.tests.push_back(std::move(t));
      }

      // Predictive model on all change features (animals with every feature).
      ModelResult m;
      m.outcome = kind;
      for (int f = 0; f < kNumFeatures; ++f)
        m.features.push_back(std::string(feature_names()[static_cast<size_t>(f)]) + ".change");
      std::vector<std::vector<double>> X;
      std::vector<int> y;
      auto complete = [](const std::vector<double>& x) {
        return std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); });
      };
      for (const auto& x : case_x)
        if (complete(x)) {
          X.push_back(x);
          y.push_back(1);
        }
      for (const auto& x : control_x)
        if (complete(x)) {
          X.push_back(x);
          y.push_back(0);
        }
      m.n_case = static_cast<int>(std::count(y.begin(), y.end(), 1));
      m.n_control = static_cast<int>(y.size()) - m.n_case;
      const bool loo = opt.folds <= 1 && static_cast<int>(y.size()) <= opt.loo_max_n;
      const int folds = loo ? 0 : (opt.folds > 1 ? opt.folds : 5);
      m.cv = loo ? "leave-one-out" : fmt::format("{}-fold stratified", folds);
      if (m.n_case < 2 || m.n_control < 2) {
        m.warnings.push_back(fmt::format("not fitted: needs >= 2 cases and >= 2 controls with every feature (have {} and {})",
                                         m.n_case, m.n_control));
      } else {
        const uint64_t seed = mix(opt.seed, 1000 + test_no++);
        const auto full = fit_logistic(X, y, opt.l2);
        m.coef = full.w;
        const auto pred = cv_predictions(X, y, opt.l2, folds, mix(seed, 1));
        m.auc = auc(pred, y);
        // Bootstrap CI of the AUC over the out-of-fold predictions (stratified).
        {
          std::mt19937_64 rng(mix(seed, 2));
          std::vector<size_t> pos, neg;
          for (size_t i = 0; i < y.size(); ++i) (y[i] ? pos : neg).push_back(i);
          std::uniform_int_distribution<size_t> up(0, pos.size() - 1), un(0, neg.size() - 1);
          std::vector<double> aucs;
          for (int r = 0; r < opt.bootstrap; ++r) {
            std::vector<double> s;
            std::vector<int> l;
            for (size_t i = 0; i < pos.size(); ++i) {
              s.push_back(pred[pos[up(rng)]]);
              l.push_back(1);
            }
            for (size_t i = 0; i < neg.size(); ++i) {
              s.push_back(pred[neg[un(rng)]]);
              l.push_back(0);
            }
            aucs.push_back(auc(s, l));
          }
          m.auc_lo = percentile(aucs, 0.025);
          m.auc_hi = percentile(aucs, 0.975);
        }
        // Label-permutation p-value of the cross-validated AUC (one-sided: better than chance).
        if (opt.auc_permutations > 0) {
          std::mt19937_64 rng(mix(seed, 3));
          int hits = 0;
          std::vector<int> yp = y;
          for (int r = 0; r < opt.auc_permutations; ++r) {
            std::shuffle(yp.begin(), yp.end(), rng);
            const auto pp = cv_predictions(X, yp, opt.l2, folds, mix(seed, 10 + static_cast<uint64_t>(r)));
            if (auc(pp, yp) >= m.auc - 1e-12) ++hits;
          }
          m.auc_p = (1.0 + hits) / (1.0 + opt.auc_permutations);
        }
        if (m.n_case < opt.small_n || m.n_control < opt.small_n)
          m.warnings.push_back(fmt::format("small sample (n_case={}, n_control={} < {}): the AUC is unstable",
                                           m.n_case, m.n_control, opt.small_n));
        if (static_cast<int>(X.size()) < 2 * kNumFeatures)
          m.warnings.push_back(fmt::format("{} animals for {} features: the model leans on the L2 penalty", X.size(),
                                           kNumFeatures));
      }
      rep.models.push_back(std::move(m));
    } else {
      // Continuous outcome: feature level before the onset (or over the whole record) vs value.
      for (int f = 0; f < kNumFeatures; ++f) {
        FeatureTest t;
        t.outcome = kind;
        t.feature = std::string(feature_names()[static_cast<size_t>(f)]) + ".level";
        t.type = "continuous";
        std::vector<double> x, v;
        for (const auto* l : ls) {
          const AnimalSeries& a = *by_id[l->animal_id];
          const double end = l->onset_day ? *l->onset_day : 1e18;
          const double lv = window_mean(a, f, -1e18, end, opt);
          if (std::isfinite(lv)) {
            x.push_back(lv);
            v.push_back(l->value);
          }
        }
        t.n_case = static_cast<int>(x.size());
        const uint64_t seed = mix(opt.seed, test_no++);
        t.effect = pearson_r(x, v);
        if (!std::isfinite(t.effect)) {
          t.warnings.push_back(fmt::format("not tested: {} animals with data or no variation", x.size()));
          rep.tests.push_back(std::move(t));
          continue;
        }
        if (x.size() > 3) {
          const double z = std::atanh(std::clamp(t.effect, -0.999999, 0.999999));
          const double se = 1 / std::sqrt(static_cast<double>(x.size()) - 3);
          t.effect_lo = std::tanh(z - 1.959963985 * se);
          t.effect_hi = std::tanh(z + 1.959963985 * se);
        }
        // Permutation p of |r|: shuffle the outcome values.
        std::mt19937_64 rng(mix(seed, 2));
        std::vector<double> vp = v;
        int hits = 0;
        for (int r = 0; r < opt.permutations; ++r) {
          std::shuffle(vp.begin(), vp.end(), rng);
          const double rr = pearson_r(x, vp);
          if (std::isfinite(rr) && std::fabs(rr) >= std::fabs(t.effect) - 1e-12) ++hits;
        }
        t.p = (1.0 + hits) / (1.0 + opt.permutations);
        if (t.n_case < 2 * opt.small_n)
          t.warnings.push_back(fmt::format("small sample (n={} < {}): wide CI", t.n_case, 2 * opt.small_n));
        rep.tests.push_back(std::move(t));
      }
    }
  }

  // Multiple comparisons over every test that has a p-value.
  std::vector<double> ps;
  std::vector<size_t> which;
  for (size_t i = 0; i < rep.tests.size(); ++i)
    if (std::isfinite(rep.tests[i].p)) {
      ps.push_back(rep.tests[i].p);
      which.push_back(i);
    }
  const auto q = benjamini_hochberg(ps), h = holm(ps);
  for (size_t k = 0; k < which.size(); ++k) {
    auto& t = rep.tests[which[k]];
    t.q = q[k];
    t.p_holm = h[k];
    t.significant = (opt.correction == AssociationOptions::Correction::Holm ? t.p_holm : t.q) < opt.alpha;
  }
  const double min_p = 1.0 / (1.0 + opt.permutations);
  if (!ps.empty() && min_p * static_cast<double>(ps.size()) > opt.alpha)
    rep.warnings.push_back(fmt::format("{} permutations cannot reach q < {} over {} tests; use more permutations",
                                       opt.permutations, opt.alpha, ps.size()));
  return rep;
}

nlohmann::json to_json(const AssociationReport& r) {
  auto num = [](double v) -> nlohmann::json { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  nlohmann::json j;
  const auto& o = r.options;
  j["options"] = {{"baseline_days", o.baseline_days}, {"response_days", o.response_days},
                  {"min_days", o.min_days},           {"min_observed_h", o.min_observed_h},
                  {"permutations", o.permutations},   {"bootstrap", o.bootstrap},
                  {"auc_permutations", o.auc_permutations}, {"seed", o.seed},
                  {"alpha", o.alpha},                 {"l2", o.l2},
                  {"clean_controls", o.clean_controls}, {"unlisted_controls", o.unlisted_controls},
                  {"multiple_comparisons", "benjamini-hochberg (q), holm (p_holm)"},
                  {"significance_by", o.correction == AssociationOptions::Correction::Holm ? "p_holm" : "q"}};
  j["n_animals"] = r.n_animals;
  j["tests"] = nlohmann::json::array();
  for (const auto& t : r.tests)
    j["tests"].push_back({{"outcome", t.outcome},
                          {"feature", t.feature},
                          {"type", t.type},
                          {"n_case", t.n_case},
                          {"n_control", t.n_control},
                          {"mean_case", num(t.mean_case)},
                          {"mean_control", num(t.mean_control)},
                          {"diff", num(t.diff)},
                          {"diff_ci", {num(t.diff_lo), num(t.diff_hi)}},
                          {"effect", num(t.effect)},
                          {"effect_kind", t.type == "event" ? "hedges_g" : "pearson_r"},
                          {"effect_ci", {num(t.effect_lo), num(t.effect_hi)}},
                          {"p", num(t.p)},
                          {"q", num(t.q)},
                          {"p_holm", num(t.p_holm)},
                          {"significant", t.significant},
                          {"warnings", t.warnings}});
  j["models"] = nlohmann::json::array();
  for (const auto& m : r.models) {
    nlohmann::json coef = nlohmann::json::array();
    for (double c : m.coef) coef.push_back(num(c));
    j["models"].push_back({{"outcome", m.outcome},
                           {"model", "logistic regression, L2"},
                           {"n_case", m.n_case},
                           {"n_control", m.n_control},
                           {"features", m.features},
                           {"coef_standardised", coef},
                           {"cv", m.cv},
                           {"auc", num(m.auc)},
                           {"auc_ci", {num(m.auc_lo), num(m.auc_hi)}},
                           {"auc_permutation_p", num(m.auc_p)},
                           {"warnings", m.warnings}});
  }
  j["warnings"] = r.warnings;
  return j;
}

std::string format_table(const AssociationReport& r) {
  std::string s = fmt::format(
      "outcome association: {} animals; event outcomes: change = mean(onset .. +{} d) - mean(-{} d .. onset)\n",
      r.n_animals, r.options.response_days, r.options.baseline_days);
  s += fmt::format("{:<14} {:<24} {:>5} {:>5} {:>9} {:>9}  {:<28} {:<22} {:>8} {:>8} {:>8}\n", "outcome", "feature",
                   "n1", "n0", "mean1", "mean0", "diff [95% CI]", "g or r [95% CI]", "p", "q(BH)", "p(Holm)");
  for (const auto& t : r.tests) {
    const std::string diff =
        t.type == "event" ? fmt::format("{} [{}, {}]", fmt_n(t.diff), fmt_n(t.diff_lo), fmt_n(t.diff_hi)) : "";
    const std::string eff = fmt::format("{} [{}, {}]", fmt_n(t.effect, 2), fmt_n(t.effect_lo, 2), fmt_n(t.effect_hi, 2));
    const auto pv = [](double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : std::string("n/a"); };
    s += fmt::format("{:<14} {:<24} {:>5} {:>5} {:>9} {:>9}  {:<28} {:<22} {:>8} {:>8} {:>8}{}\n", t.outcome, t.feature,
                     t.n_case, t.type == "event" ? std::to_string(t.n_control) : "-", fmt_n(t.mean_case),
                     fmt_n(t.mean_control), diff, eff, pv(t.p), pv(t.q), pv(t.p_holm), t.significant ? " *" : "");
  }
  for (const auto& m : r.models) {
    if (!std::isfinite(m.auc)) {
      s += fmt::format("model {}: not fitted\n", m.outcome);
      continue;
    }
    s += fmt::format(
        "model {}: logistic regression (L2 {}) on {} change features, {} CV AUC {:.3f} [{:.3f}, {:.3f}], "
        "permutation p {:.4f} (n1={}, n0={})\n",
        m.outcome, r.options.l2, m.features.size(), m.cv, m.auc, m.auc_lo, m.auc_hi, m.auc_p, m.n_case, m.n_control);
  }
  std::vector<std::string> warn = r.warnings;
  for (const auto& t : r.tests)
    for (const auto& w : t.warnings) warn.push_back(fmt::format("{}: {}", t.outcome, w));
  for (const auto& m : r.models)
    for (const auto& w : m.warnings) warn.push_back(fmt::format("model {}: {}", m.outcome, w));
  // Collapse repeated small-sample warnings.
  std::set<std::string> shown;
  for (const auto& w : warn)
    if (shown.insert(w).second) s += "warning: " + w + "\n";
  s += fmt::format("* {} < {} (over {} tests); p: two-sided permutation ({} permutations)\n",
                   r.options.correction == AssociationOptions::Correction::Holm ? "Holm-adjusted p" : "Benjamini-Hochberg q",
                   r.options.alpha, std::count_if(r.tests.begin(), r.tests.end(), [](const FeatureTest& t) {
                     return std::isfinite(t.p);
                   }),
                   r.options.permutations);
  return s;
}

}  // namespace eh::store
