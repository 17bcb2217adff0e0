#include "store/footprint.h"

#include <fmt/core.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "store/recorder.h"

namespace eh::store {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kEpoch = 1704067200;  // 2024-01-01T00:00:00Z

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    if (!s) s = 1;
    for (int i = 0; i < 4; ++i) next();
  }
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  double uni() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double expo(double mean) { return -mean * std::log(1.0 - uni()); }
  double gamma2(double mean) { return expo(mean / 2) + expo(mean / 2); }  // shape 2
};

// Standard normal samples from a fixed table (fast enough for 10^8 draws).
class Gauss {
 public:
  Gauss() {
    Rng r(12345);
    for (size_t i = 0; i < t_.size(); i += 2) {
      const double u1 = std::max(r.uni(), 1e-12), u2 = r.uni();
      const double m = std::sqrt(-2 * std::log(u1));
      t_[i] = static_cast<float>(m * std::cos(2 * M_PI * u2));
      t_[i + 1] = static_cast<float>(m * std::sin(2 * M_PI * u2));
    }
  }
  float operator()(Rng& r) const { return t_[r.next() >> 52]; }

 private:
  std::array<float, 4096> t_{};
};

// Mean bout length (s) by class, day and night; next-state weights after a bout.
struct Ethogram {
  std::array<double, kNumClasses> bout_day{}, bout_night{}, p_day{}, p_night{};
};

Ethogram make_ethogram(double activity) {
  Ethogram e;
  auto set = [&](int c, double bd, double bn, double pd, double pn) {
    e.bout_day[c] = bd;
    e.bout_night[c] = bn;
    e.p_day[c] = pd;
    e.p_night[c] = pn;
  };
  const double a = std::max(activity, 0.05);
  set(kLying, 25 * 60 / a, 90 * 60 / a, 0.30, 0.60);
  set(kStanding, 180, 120, 0.18, 0.12);
  set(kEating, 600, 300, 0.15, 0.04);
  set(kDrinking, 60, 60, 0.06, 0.04);
  set(kMoving, 40, 30, 0.18 * a, 0.12 * a);
  set(kRunning, 8, 6, 0.02 * a, 0.005 * a);
  set(kPlaying, 90, 60, 0.05 * a, 0.005 * a);
  set(kNotMoving, 240, 240, 0.05, 0.06);
  set(kUnknown, 5, 5, 0.01, 0.01);
  return e;
}

struct SimAnimal {
  Rng rng;
  int state = kLying;      // what the animal does (label)
  int goal = -1;           // walking to the place of this state
  double bout_end = 0;
  double x = 1, y = 1, heading = 0, tx = 0, ty = 0;
  int burst_class = -1;    // classifier error burst
  double burst_end = 0;
  double next_embedding = 0, next_thumbnail = 0;
  std::vector<float> identity, drift;
  std::array<std::vector<float>, 3> pose;  // lying, standing, moving appearance
  explicit SimAnimal(uint64_t seed) : rng(seed) {}
};

constexpr double kPenW = 5.0, kPenH = 3.0, kAlleyX = 4.6;

void random_unit(std::vector<float>& v, size_t dim, Rng& r, const Gauss& g) {
  v.resize(dim);
  double n = 0;
  for (auto& x : v) {
    x = g(r);
    n += static_cast<double>(x) * x;
  }
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(n));
}

void choose_next(SimAnimal& a, const Ethogram& e, bool day, double t) {
  const auto& p = day ? e.p_day : e.p_night;
  double total = 0;
  for (int c = 0; c < kNumClasses; ++c)
    if (c != a.state) total += p[static_cast<size_t>(c)];
  double u = a.rng.uni() * total;
  int next = kStanding;
  for (int c = 0; c < kNumClasses; ++c) {
    if (c == a.state) continue;
    u -= p[static_cast<size_t>(c)];
    if (u <= 0) {
      next = c;
      break;
    }
  }
  const double mean = (day ? e.bout_day : e.bout_night)[static_cast<size_t>(next)];
  if (next == kLying || next == kEating || next == kDrinking) {
    if (next == kLying) {
      a.tx = 0.3 + 1.8 * a.rng.uni();
      a.ty = 0.3 + 1.2 * a.rng.uni();
    } else if (next == kEating) {
      a.tx = 1.5 + 2.0 * a.rng.uni();
      a.ty = 2.75;
    } else {
      a.tx = 4.2;
      a.ty = 0.25;
    }
    a.goal = next;
    a.state = kMoving;
    a.bout_end = std::numeric_limits<double>::infinity();
    return;
  }
  a.goal = -1;
  a.state = next;
  a.heading = a.rng.uni() * 2 * M_PI;
  a.bout_end = t + a.rng.gamma2(mean);
}

void move(SimAnimal& a, const Ethogram& e, bool day, double t, double dt, const Gauss& g) {
  auto clampwalls = [&] {
    if (a.x < 0.2) { a.x = 0.2; a.heading = M_PI - a.heading; }
    if (a.x > kPenW - 0.2) { a.x = kPenW - 0.2; a.heading = M_PI - a.heading; }
    if (a.y < 0.2) { a.y = 0.2; a.heading = -a.heading; }
    if (a.y > kPenH - 0.2) { a.y = kPenH - 0.2; a.heading = -a.heading; }
  };
  if (a.goal >= 0) {
    const double dx = a.tx - a.x, dy = a.ty - a.y, d = std::hypot(dx, dy), step = 0.6 * dt;
    if (d <= step) {
      a.x = a.tx;
      a.y = a.ty;
      a.state = a.goal;
      a.goal = -1;
      a.bout_end = t + a.rng.gamma2((day ? e.bout_day : e.bout_night)[static_cast<size_t>(a.state)]);
    } else {
      a.x += dx / d * step;
      a.y += dy / d * step;
    }
    return;
  }
  double speed = 0;
  if (a.state == kMoving) speed = 0.5;
  else if (a.state == kRunning) speed = 1.5;
  else if (a.state == kPlaying) speed = 0.3;
  if (speed > 0) {
    a.heading += 0.8 * std::sqrt(dt) * g(a.rng);
    a.x += std::cos(a.heading) * speed * dt;
    a.y += std::sin(a.heading) * speed * dt;
    clampwalls();
  }
}

std::string temp_store_path(const std::string& tag) {
  static std::atomic<int> counter{0};
  return (fs::temp_directory_path() /
          fmt::format("edgeherd_{}_{}_{}.db", tag, static_cast<int>(::getpid()), counter++))
      .string();
}

void remove_store(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  fs::remove(path + "-wal", ec);
  fs::remove(path + "-shm", ec);
}

}  // namespace

FootprintReport measure_footprint(const FootprintOptions& opt) {
  if (opt.days < 1 || opt.animals < 1 || !(opt.fps > 0) || opt.embedding_dim < 1)
    throw eh::Error("footprint: days, animals, fps and embedding_dim must be positive");
  const bool temp = opt.path.empty();
  const std::string path = temp ? temp_store_path("footprint") : opt.path;
  if (fs::exists(path)) throw eh::Error(fmt::format("footprint: {} already exists; give a new path", path));
  struct Cleanup {
    std::string p;
    bool on;
    ~Cleanup() {
      if (on) remove_store(p);
    }
  } cleanup{path, temp};

  FootprintReport rep;
  rep.options = opt;
  rep.options.progress = nullptr;
  const auto t_start = std::chrono::steady_clock::now();
  {
    StoreOptions so;
    so.bin_seconds = opt.bin_seconds;
    so.block_seconds = opt.block_seconds;
    so.synchronous = opt.synchronous;
    Store store(path, so);
    RecorderOptions ro;
    ro.frame_interval_s = 1.0 / opt.fps;
    ro.pool.max_size = opt.pool_size;
    ro.max_thumbnails = opt.max_thumbnails;
    ro.thumbnail_min_interval_s = opt.thumbnail_interval_s;
    Recorder rec(store, ro);

    const Gauss g;
    const Ethogram eth = make_ethogram(opt.activity);
    const size_t dim = static_cast<size_t>(opt.embedding_dim);
    std::vector<SimAnimal> herd;
    for (int i = 0; i < opt.animals; ++i) {
      herd.emplace_back(opt.seed * 1000 + static_cast<uint64_t>(i) + 1);
      SimAnimal& a = herd.back();
      random_unit(a.identity, dim, a.rng, g);
      random_unit(a.drift, dim, a.rng, g);
      for (auto& p : a.pose) random_unit(p, dim, a.rng, g);
      a.x = 0.5 + 3.5 * a.rng.uni();
      a.y = 0.5 + 2.0 * a.rng.uni();
      a.bout_end = a.rng.expo(1800);
    }
    std::vector<float> emb(dim);
    std::vector<uint8_t> jpeg(opt.thumbnail_bytes);
    const double dt = 1.0 / opt.fps;
    const int64_t frames_per_day = static_cast<int64_t>(std::llround(86400.0 * opt.fps));
    for (int day = 0; day < opt.days; ++day) {
      for (int64_t f = 0; f < frames_per_day; ++f) {
        const double tod = static_cast<double>(f) * dt;  // seconds since midnight
        const double t = static_cast<double>(kEpoch) + day * 86400.0 + tod;
        const bool is_day = tod >= 6 * 3600 && tod < 19 * 3600;
        for (size_t i = 0; i < herd.size(); ++i) {
          SimAnimal& a = herd[i];
          if (t >= a.bout_end) choose_next(a, eth, is_day, t);
          move(a, eth, is_day, t, dt, g);
          if (a.x > kAlleyX || a.rng.uni() < opt.missing_frames) continue;  // out of view / lost
          int label = a.state;
          if (a.burst_class >= 0 && t < a.burst_end) {
            label = a.burst_class;
          } else {
            a.burst_class = -1;
            if (a.rng.uni() < 0.002) {  // classifier error burst of 1-3 s
              a.burst_class = static_cast<int>(a.rng.next() % kNumClasses);
              a.burst_end = t + 1 + 2 * a.rng.uni();
            }
          }
          Observation o;
          o.animal_id = static_cast<int64_t>(i) + 1;
          o.t = t;
          o.x_m = static_cast<float>(a.x + 0.02 * g(a.rng));
          o.y_m = static_cast<float>(a.y + 0.02 * g(a.rng));
          o.behaviour = label;
          rec.observe(o);
          ++rep.observations;
          if (t >= a.next_embedding) {
            const double growth = (day + tod / 86400.0) / 365.0;
            const auto& pose = a.pose[a.state == kLying ? 0 : (a.state == kMoving || a.state == kRunning) ? 2 : 1];
            for (size_t k = 0; k < dim; ++k)
              emb[k] = a.identity[k] + static_cast<float>(0.6 * growth) * a.drift[k] + 0.3f * pose[k] +
                       0.35f / std::sqrt(static_cast<float>(dim)) * g(a.rng);
            rec.offer_embedding(o.animal_id, t, emb.data(), dim);
            a.next_embedding = t + opt.embedding_interval_s;
          }
          if (t >= a.next_thumbnail) {
            for (auto& b : jpeg) b = static_cast<uint8_t>(a.rng.next() >> 56);
            rec.offer_thumbnail(o.animal_id, t, jpeg, 128, 128);
            a.next_thumbnail = t + opt.thumbnail_interval_s;
          }
        }
      }
      if (opt.progress) opt.progress(static_cast<double>(day + 1) / opt.days);
    }
    rec.advance(static_cast<double>(kEpoch) + opt.days * 86400.0);
    rec.flush();
    store.checkpoint(true);
    rep.embeddings_written = rec.stats().embeddings_written;
    rep.thumbnails_kept = rec.stats().thumbnails_kept;
    rep.provisional_writes = rec.stats().provisional_writes;
    rep.commits = store.commits();
    const SizeReport sr = store.size_report();
    rep.page_size = sr.page_size;
    rep.page_count = sr.page_count;
    rep.freelist_pages = sr.freelist_pages;
    rep.file_bytes = sr.file_bytes + sr.wal_bytes;
    rep.tables = sr.tables;
    for (const auto& d : store.daily(1)) rep.bins += d.bins;
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  rep.observations_per_s = rep.seconds > 0 ? static_cast<double>(rep.observations) / rep.seconds : 0;
  rep.bytes_per_animal_year = static_cast<double>(rep.file_bytes) / opt.animals * (365.0 / opt.days);
  return rep;
}

nlohmann::json to_json(const FootprintReport& r) {
  nlohmann::json j;
  const auto& o = r.options;
  j["options"] = {{"days", o.days},
                  {"animals", o.animals},
                  {"fps", o.fps},
                  {"seed", o.seed},
                  {"activity", o.activity},
                  {"bin_seconds", o.bin_seconds},
                  {"block_seconds", o.block_seconds},
                  {"embedding_dim", o.embedding_dim},
                  {"pool_size", o.pool_size},
                  {"embedding_interval_s", o.embedding_interval_s},
                  {"thumbnail_bytes", o.thumbnail_bytes},
                  {"max_thumbnails", o.max_thumbnails}};
  j["observations"] = r.observations;
  j["bins_animal1"] = r.bins;
  j["file_bytes"] = r.file_bytes;
  j["page_size"] = r.page_size;
  j["page_count"] = r.page_count;
  j["freelist_pages"] = r.freelist_pages;
  j["bytes_per_animal_year"] = r.bytes_per_animal_year;
  j["reference_bytes_per_animal_year"] = r.reference_bytes_per_animal_year;
  j["target_bytes_per_animal_year"] = r.target_bytes_per_animal_year;
  j["embeddings_written"] = r.embeddings_written;
  j["thumbnails_kept"] = r.thumbnails_kept;
  j["commits"] = r.commits;
  j["seconds"] = r.seconds;
  j["observations_per_s"] = r.observations_per_s;
  const double scale = 365.0 / o.days / o.animals;
  for (const auto& t : r.tables)
    j["tables"].push_back({{"table", t.table},
                           {"rows", t.rows},
                           {"bytes", t.bytes},
                           {"payload", t.payload},
                           {"bytes_per_animal_year", static_cast<double>(t.bytes) * scale}});
  return j;
}

std::string format_table(const FootprintReport& r) {
  const auto& o = r.options;
  std::string s = fmt::format(
      "store footprint: {} day(s) x {} animal(s) at {} fps, {} s bins in {} s blocks, pool {}x{}-d int8, "
      "{} thumbnails of {} B\n",
      o.days, o.animals, o.fps, o.bin_seconds, o.block_seconds, o.pool_size, o.embedding_dim, o.max_thumbnails,
      o.thumbnail_bytes);
  s += fmt::format("  frames recorded: {} ({:.0f} frames/s incl. SQLite, {:.1f} s)\n", r.observations,
                   r.observations_per_s, r.seconds);
  s += fmt::format("  file: {} B ({} pages of {} B, {} free)\n", r.file_bytes, r.page_count, r.page_size,
                   r.freelist_pages);
  s += fmt::format("  bytes per animal per year: {:.2f} MB   (reference design {:.0f} MB, target <= {:.0f} MB)\n",
                   r.bytes_per_animal_year / 1e6, r.reference_bytes_per_animal_year / 1e6,
                   r.target_bytes_per_animal_year / 1e6);
  const double scale = 365.0 / o.days / o.animals;
  s += fmt::format("  {:<12} {:>10} {:>12} {:>14} {:>8}\n", "table", "rows", "bytes", "MB/animal/yr", "share");
  for (const auto& t : r.tables)
    s += fmt::format("  {:<12} {:>10} {:>12} {:>14.3f} {:>7.1f}%\n", t.table, t.rows, t.bytes,
                     static_cast<double>(t.bytes) * scale / 1e6,
                     r.file_bytes ? 100.0 * static_cast<double>(t.bytes) / static_cast<double>(r.file_bytes) : 0.0);
  return s;
}

InsertRateReport measure_insert_rate(const InsertRateOptions& opt) {
  if (opt.animals < 1 || !(opt.seconds > 0) || !(opt.fps > 0)) throw eh::Error("insert rate: bad options");
  InsertRateReport rep;
  auto path_for = [&](const char* tag) {
    if (opt.dir.empty()) return temp_store_path(tag);
    static std::atomic<int> n{0};
    return (fs::path(opt.dir) / fmt::format("edgeherd_{}_{}_{}.db", tag, static_cast<int>(::getpid()), n++)).string();
  };
  const auto t_all = std::chrono::steady_clock::now();
  // 1. Frames through the Recorder.
  {
    const std::string path = path_for("rate_obs");
    remove_store(path);
    int64_t n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    {
      StoreOptions so;
      so.synchronous = opt.synchronous;
      Store store(path, so);
      Recorder rec(store, RecorderOptions{});
      Rng r(7);
      const int64_t frames = static_cast<int64_t>(opt.seconds * opt.fps);
      std::vector<std::array<double, 2>> pos(static_cast<size_t>(opt.animals), {1.0, 1.0});
      for (int64_t f = 0; f < frames; ++f) {
        const double t = static_cast<double>(kEpoch) + static_cast<double>(f) / opt.fps;
        for (int a = 0; a < opt.animals; ++a) {
          auto& p = pos[static_cast<size_t>(a)];
          p[0] = std::clamp(p[0] + (r.uni() - 0.5) * 0.1, 0.0, 5.0);
          p[1] = std::clamp(p[1] + (r.uni() - 0.5) * 0.1, 0.0, 3.0);
          rec.observe({a + 1, t, static_cast<float>(p[0]), static_cast<float>(p[1]),
                       static_cast<int>((f / 600 + a) % kNumClasses), -1.f});
          ++n;
        }
      }
      rec.flush();
      rep.commits = store.commits();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rep.observations_per_s = s > 0 ? static_cast<double>(n) / s : 0;
    remove_store(path);
  }
  // 2. Raw block rows, batched; 3. one transaction per row.
  for (int pass = 0; pass < 2; ++pass) {
    const std::string path = path_for(pass == 0 ? "rate_rows" : "rate_autocommit");
    remove_store(path);
    StoreOptions so;
    so.synchronous = opt.synchronous;
    if (pass == 1) so.commit_every_rows = 1;
    const int rows = pass == 0 ? opt.block_rows : opt.autocommit_rows;
    std::vector<BinRecord> bins(60);
    for (int i = 0; i < 60; ++i) {
      bins[static_cast<size_t>(i)].frames = 360;
      bins[static_cast<size_t>(i)].x_m = 1.0f + 0.01f * i;
      bins[static_cast<size_t>(i)].behaviour_s[kLying] = 60;
    }
    const auto t0 = std::chrono::steady_clock::now();
    {
      Store store(path, so);
      for (int k = 0; k < (rows + 2) / 3; ++k) {
        const int64_t block = kEpoch + static_cast<int64_t>(k) * 3600;
        for (int i = 0; i < 60; ++i) bins[static_cast<size_t>(i)].start = block + i * 60;
        store.put_block(1 + k % opt.animals, block, bins);
      }
      store.commit();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double r = s > 0 ? 3.0 * ((rows + 2) / 3) / s : 0;
    (pass == 0 ? rep.block_rows_per_s : rep.autocommit_rows_per_s) = r;
    remove_store(path);
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();
  return rep;
}

nlohmann::json to_json(const InsertRateReport& r) {
  return {{"observations_per_s", r.observations_per_s},
          {"block_rows_per_s", r.block_rows_per_s},
          {"autocommit_rows_per_s", r.autocommit_rows_per_s},
          {"commits", r.commits},
          {"seconds", r.seconds}};
}

}  // namespace eh::store
