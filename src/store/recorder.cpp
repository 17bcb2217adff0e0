#include "store/recorder.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace eh::store {

Recorder::Recorder(Store& store, RecorderOptions opt)
    : store_(store), opt_(opt), bin_s_(store.bin_seconds()), block_s_(store.block_seconds()) {
  if (!(opt_.frame_interval_s > 0)) throw eh::Error("recorder: frame_interval_s must be > 0");
  if (!(opt_.max_gap_s > 0)) throw eh::Error("recorder: max_gap_s must be > 0");
  if (!(opt_.speed_smoothing_s > 0)) throw eh::Error("recorder: speed_smoothing_s must be > 0");
  last_flush_ = std::chrono::steady_clock::now();
}

Recorder::~Recorder() {
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("{}: recorder flush failed: {}", store_.path(), e.what());
  }
}

Recorder::AnimalState& Recorder::state(int64_t animal) {
  auto it = animals_.find(animal);
  if (it != animals_.end()) return it->second;
  store_.ensure_animal(animal);
  return animals_[animal];
}

BinRecord Recorder::finish(const Acc& a) {
  BinRecord r;
  r.start = a.start;
  r.frames = a.frames;
  if (a.frames > 0) {
    r.x_m = static_cast<float>(a.sx / a.frames);
    r.y_m = static_cast<float>(a.sy / a.frames);
  }
  r.distance_m = static_cast<float>(a.dist);
  // Whole seconds per class, largest remainder, so they sum to the rounded total.
  double total = 0;
  for (double v : a.beh) total += v;
  const int64_t want = std::llround(total);
  int64_t have = 0;
  std::array<double, kNumClasses> frac{};
  for (size_t c = 0; c < a.beh.size(); ++c) {
    const double f = std::floor(a.beh[c]);
    r.behaviour_s[c] = static_cast<uint32_t>(f);
    frac[c] = a.beh[c] - f;
    have += static_cast<int64_t>(f);
  }
  while (have < want) {
    size_t best = 0;
    for (size_t c = 1; c < frac.size(); ++c)
      if (frac[c] > frac[best]) best = c;
    if (frac[best] <= 0) break;
    ++r.behaviour_s[best];
    frac[best] = -1;
    ++have;
  }
  r.active_s = static_cast<uint32_t>(std::min<int64_t>(std::llround(a.active), have));
  return r;
}

void Recorder::close_bin(AnimalState& s) {
  if (!s.open_bin) return;
  s.bins.push_back(finish(s.acc));
  s.open_bin = false;
}

void Recorder::close_block(int64_t animal, AnimalState& s) {
  if (!s.open_block) return;
  close_bin(s);
  store_.put_block(animal, s.block_start, s.bins);
  store_.refresh_daily(animal, s.block_start);
  s.open_block = false;
  s.bins.clear();
  s.persisted = 0;
  s.dirty = false;
  ++stats_.blocks_written;
}

void Recorder::open_block(int64_t animal, AnimalState& s, int64_t block_start, int64_t bin_start) {
  s.open_block = true;
  s.block_start = block_start;
  s.bins = store_.block(animal, block_start);  // resume what an earlier run wrote
  s.open_bin = false;
  if (!s.bins.empty() && s.bins.back().start == bin_start) {
    // Continue the stored (provisional) bin.
    const BinRecord& b = s.bins.back();
    s.acc = Acc{};
    s.acc.start = b.start;
    s.acc.frames = b.frames;
    s.acc.sx = static_cast<double>(b.x_m) * b.frames;
    s.acc.sy = static_cast<double>(b.y_m) * b.frames;
    s.acc.dist = b.distance_m;
    s.acc.active = b.active_s;
    for (size_t c = 0; c < s.acc.beh.size(); ++c) s.acc.beh[c] = b.behaviour_s[c];
    s.open_bin = true;
    s.bins.pop_back();
  }
  s.persisted = s.bins.size();
}

void Recorder::observe(const Observation& o) {
  if (o.behaviour < 0 || o.behaviour >= kNumClasses)
    throw eh::Error(fmt::format("recorder: animal {}: behaviour class {} outside 0..{}", o.animal_id, o.behaviour,
                                kNumClasses - 1));
  if (!std::isfinite(o.t) || !std::isfinite(o.x_m) || !std::isfinite(o.y_m) || !std::isfinite(o.speed_mps))
    throw eh::Error(fmt::format("recorder: animal {}: non-finite time, position or speed", o.animal_id));
  AnimalState& s = state(o.animal_id);
  const int64_t bin = static_cast<int64_t>(std::floor(o.t / static_cast<double>(bin_s_))) * bin_s_;
  const int64_t last_bin = s.open_bin ? s.acc.start : (!s.bins.empty() ? s.bins.back().start + 1 : INT64_MIN);
  if (bin < last_bin || (s.open_block && bin < s.block_start)) {
    ++stats_.dropped_out_of_order;
    return;
  }
  if (s.open_bin && bin > s.acc.start) close_bin(s);
  const int64_t block = floor_to(bin, block_s_);
  if (s.open_block && block != s.block_start) close_block(o.animal_id, s);
  if (!s.open_block) {
    open_block(o.animal_id, s, block, bin);
    if (!s.open_bin && !s.bins.empty() && s.bins.back().start > bin) {
      ++stats_.dropped_out_of_order;  // the store already holds later bins of this hour
      return;
    }
  }
  if (!s.open_bin) {
    s.acc = Acc{};
    s.acc.start = bin;
    s.open_bin = true;
  }
  Acc& a = s.acc;
  ++a.frames;
  a.sx += o.x_m;
  a.sy += o.y_m;
  a.beh[static_cast<size_t>(o.behaviour)] += opt_.frame_interval_s;

  const double gap = o.t - s.last_t;
  if (s.have_last && gap > 0 && gap <= opt_.max_gap_s) {
    const double alpha = 1.0 - std::exp(-gap / opt_.speed_smoothing_s);
    s.vx += alpha * ((o.x_m - s.last_x) / gap - s.vx);
    s.vy += alpha * ((o.y_m - s.last_y) / gap - s.vy);
    s.px += alpha * (o.x_m - s.px);
    s.py += alpha * (o.y_m - s.py);
    const double dx = s.px - s.anchor_x, dy = s.py - s.anchor_y;
    const double d = std::sqrt(dx * dx + dy * dy);
    if (d > opt_.distance_deadband_m) {
      a.dist += d;
      s.anchor_x = s.px;
      s.anchor_y = s.py;
    }
  } else if (!s.have_last || gap > opt_.max_gap_s) {
    s.vx = s.vy = 0;
    s.px = s.anchor_x = o.x_m;
    s.py = s.anchor_y = o.y_m;
  }
  const double speed = o.speed_mps >= 0 ? o.speed_mps : std::sqrt(s.vx * s.vx + s.vy * s.vy);
  if (speed > opt_.active_speed_mps) a.active += opt_.frame_interval_s;
  if (!s.have_last || o.t >= s.last_t) {
    s.have_last = true;
    s.last_t = o.t;
    s.last_x = o.x_m;
    s.last_y = o.y_m;
  }
  s.dirty = true;
  if ((++stats_.observations & 63) == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_flush_).count() >= opt_.flush_interval_s) flush_provisional();
    store_.poll();
  }
}

void Recorder::advance(double t) {
  const int64_t bin_t = static_cast<int64_t>(std::floor(t / static_cast<double>(bin_s_))) * bin_s_;
  for (auto& [animal, s] : animals_) {
    if (s.open_bin && s.acc.start < bin_t) {
      close_bin(s);
      s.dirty = true;
    }
    if (s.open_block && static_cast<double>(s.block_start + block_s_) <= t) close_block(animal, s);
  }
  // Hours left open by an earlier run for animals this one has not seen.
  store_.seal_open_blocks(static_cast<int64_t>(std::floor(t)));
  store_.poll();
}

void Recorder::flush_provisional() {
  for (auto& [animal, s] : animals_) {
    if (!s.open_block || !s.dirty) continue;
    std::vector<BinRecord> fresh(s.bins.begin() + static_cast<std::ptrdiff_t>(s.persisted), s.bins.end());
    if (s.open_bin) fresh.push_back(finish(s.acc));
    store_.put_open_bins(animal, fresh);
    s.persisted = s.bins.size();
    s.dirty = false;
    ++stats_.provisional_writes;
  }
  write_pool_meta();
  store_.commit();
  last_flush_ = std::chrono::steady_clock::now();
}

void Recorder::flush() {
  flush_provisional();
  for (auto& [animal, s] : animals_)
    if (s.open_block) store_.refresh_daily(animal, s.block_start);
  store_.commit();
}

void Recorder::write_pool_meta() {
  for (auto& [animal, ps] : pools_) {
    const auto& e = ps.pool.entries();
    for (size_t i = 0; i < ps.meta_dirty.size() && i < e.size(); ++i)
      if (ps.meta_dirty[i]) {
        store_.touch_embedding(animal, static_cast<int>(i), e[i].last_seen, e[i].hits);
        ps.meta_dirty[i] = false;
      }
  }
}

EmbeddingPool::Action Recorder::offer_embedding(int64_t animal, double t, const float* v, size_t dim) {
  auto it = pools_.find(animal);
  if (it == pools_.end()) {
    PoolState ps{EmbeddingPool(opt_.pool), {}};
    auto stored = store_.embeddings(animal);
    std::vector<PoolEntry> entries;
    for (size_t i = 0; i < stored.size(); ++i) {
      if (stored[i].slot != static_cast<int>(i))
        throw eh::Error(fmt::format("{}: animal {}: embedding slots are not 0..{} (found slot {})", store_.path(),
                                    animal, stored.size() - 1, stored[i].slot));
      entries.push_back(std::move(stored[i].entry));
    }
    ps.pool.load(std::move(entries));
    it = pools_.emplace(animal, std::move(ps)).first;
  }
  PoolState& ps = it->second;
  const auto r = ps.pool.offer(v, dim, static_cast<int64_t>(std::llround(t)));
  ++stats_.embeddings_offered;
  ps.meta_dirty.resize(ps.pool.size(), false);
  if (r.action == EmbeddingPool::Action::Merged) {
    ps.meta_dirty[static_cast<size_t>(r.slot)] = true;
  } else {
    store_.put_embedding(animal, r.slot, ps.pool.entries()[static_cast<size_t>(r.slot)]);
    ps.meta_dirty[static_cast<size_t>(r.slot)] = false;
    ++stats_.embeddings_written;
  }
  return r.action;
}

bool Recorder::offer_thumbnail(int64_t animal, double t, const std::vector<uint8_t>& jpeg, int width, int height) {
  const bool kept = store_.offer_thumbnail(animal, static_cast<int64_t>(std::llround(t)), jpeg, width, height,
                                           opt_.max_thumbnails, opt_.thumbnail_min_interval_s);
  if (kept) ++stats_.thumbnails_kept;
  return kept;
}

const EmbeddingPool* Recorder::pool(int64_t animal) const {
  auto it = pools_.find(animal);
  return it == pools_.end() ? nullptr : &it->second.pool;
}

}  // namespace eh::store
