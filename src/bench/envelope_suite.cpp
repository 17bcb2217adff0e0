// `envelope` suite: calibrates the edge-envelope model (envelope.h) from measurements, checks it
// against the peak RSS of whole configurations run in fresh processes, and gives the verdict for
// a memory budget. Activation and check measurements run in child processes
// (`edgeherd bench --envelope-probe JSON`) so that nothing an earlier suite left in the heap can
// hide or inflate them.
#include <fmt/format.h>
#include <malloc.h>
#include <sqlite3.h>
#include <torch/torch.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "bench/bench.h"
#include "bench/envelope.h"
#include "bench/pipeline_models.h"
#include "bench/suites.h"
#include "core/error.h"
#include "core/runtime.h"
#include "store/recorder.h"
#include "store/store.h"
#include "video/memory.h"
#include "video/reader.h"
#include "video/segmenter.h"
#include "video/session.h"
#include "video/source.h"

namespace eh::bench {

namespace {

double count_elements(const torch::nn::Module& m) {
  double n = 0;
  for (const auto& p : m.parameters()) n += static_cast<double>(p.numel());
  for (const auto& p : m.buffers()) n += static_cast<double>(p.numel());
  return n;
}

// The necks alone: the SAM 3 dual neck with an empty trunk (depth 0: patch embedding and
// positions only, counted with the necks).
models::Sam3DualViTDetNeck make_necks(const PipelineModels& M) {
  auto cfg = M.backbone;
  cfg.trunk.depth = 0;
  cfg.trunk.global_att_blocks.clear();
  models::Sam3DualViTDetNeck n(cfg);
  n->eval();
  return n;
}

models::Sam3ViTConfig teacher_at_depth(const PipelineModels& M, int depth) {
  auto t = M.teacher;
  if (depth > 0 && depth < t.depth) {
    t.depth = depth;
    t.global_att_blocks = {depth - 1};  // the last block global, the rest windowed
  }
  return t;
}

struct ProbeMarks {
  long long start = 0, built = 0;
};

void reset_peak() {
  malloc_trim(0);
  video::reset_peak_rss();
}

// One fresh-process measurement. kind: base | student | teacher | necks | embedder | pipeline.
nlohmann::json run_probe(const nlohmann::json& spec) {
  torch::NoGradGuard g;
  const bool tiny = spec.value("tiny", false);
  const PipelineModels M = tiny ? PipelineModels::tiny() : PipelineModels::full_size();
  const std::string kind = spec.at("kind");
  nlohmann::json out;
  out["kind"] = kind;
  ProbeMarks mk;
  mk.start = runtime::current_rss_bytes();
  if (kind == "base") {
    auto x = torch::ones({64, 64});
    auto y = torch::mm(x, x);
    reset_peak();
    mk.built = runtime::current_rss_bytes();
  } else if (kind == "student") {
    auto cfg = M.student;
    cfg.input_size = spec.value("input", cfg.input_size);
    models::StudentEncoder m(cfg);
    m->eval();
    out["params"] = count_elements(*m);
    auto x = torch::randn({1, 3, cfg.input_size, cfg.input_size});
    mk.built = runtime::current_rss_bytes();
    reset_peak();
    m->forward(x);
  } else if (kind == "teacher") {
    models::Sam3ViT m(teacher_at_depth(M, spec.value("depth", 0)));
    m->eval();
    out["params"] = count_elements(*m);
    auto x = torch::randn({1, 3, M.teacher.img_size, M.teacher.img_size});
    mk.built = runtime::current_rss_bytes();
    reset_peak();
    m->forward(x);
  } else if (kind == "necks") {
    auto n = make_necks(M);
    out["params"] = count_elements(*n);
    const int64_t gsz = M.teacher.img_size / M.teacher.patch_size;
    auto x = torch::randn({1, M.teacher.embed_dim, gsz, gsz});
    mk.built = runtime::current_rss_bytes();
    reset_peak();
    n->forward_necks(x);
  } else if (kind == "embedder") {
    models::DinoVisionTransformer m(M.dino);
    m->eval();
    out["params"] = count_elements(*m);
    auto x = torch::randn({spec.value("crops", 1), 3, M.crop, M.crop});
    mk.built = runtime::current_rss_bytes();
    reset_peak();
    m->forward_features(x);
  } else if (kind == "pipeline") {
    const std::string backbone = spec.value("backbone", "student");
    const int width = spec.value("width", 1280), height = spec.value("height", 720), animals = spec.value("animals", 8),
              window = spec.value("window", 16), queue = spec.value("queue", 8);
    std::optional<models::StudentEncoder> student;
    std::optional<models::Sam3ViT> teacher;
    double params = 0;
    if (backbone == "student") {
      student.emplace(M.student);
      (*student)->eval();
      params += count_elements(**student);
    } else {
      teacher.emplace(teacher_at_depth(M, spec.value("depth", 0)));
      (*teacher)->eval();
      params += count_elements(**teacher);
    }
    out["backbone_params"] = params;
    auto necks = make_necks(M);
    models::DinoVisionTransformer dino(M.dino);
    dino->eval();
    params += count_elements(*necks) + count_elements(*dino);
    out["params"] = params;
    mk.built = runtime::current_rss_bytes();
    reset_peak();
    const int consume = window + 4;
    video::ReaderOptions ro;
    ro.queue_capacity = static_cast<size_t>(queue);
    const std::string spec_s = fmt::format("sim:seed=3,pigs={},width={},height={},render=1,frames={}", animals, width, height,
                                           consume + 3 * queue + 8);
    video::ThreadedReader reader(video::open_simulator(video::parse_sim_spec(spec_s)), ro);
    video::GroundTruthSegmenter gt;
    video::SessionConfig sc;
    sc.tracker.max_animals = animals;
    sc.window = window;
    video::Session session(nullptr, sc, [](const video::FrameOutput&) {});
    const auto db_path = std::filesystem::temp_directory_path() / fmt::format("edgeherd-probe-{}.db", ::getpid());
    {
      store::Store db(db_path.string());
      store::Recorder rec(db);
      int consumed = 0;
      while (consumed < consume) {
        auto item = reader.next();
        if (!item) break;
        if (!item->frame) continue;
        const auto& f = *item->frame;
        auto dets = gt.segment(f);
        std::vector<cv::Rect2f> boxes = dets.boxes;
        session.process(f, std::move(dets));
        int id = 1;
        for (const auto& b : boxes) rec.observe({id++, 1.7e9 + f.t, b.x / 100.0f, b.y / 100.0f, 1});
        if (++consumed == consume) {  // the window is full and the queue refilled: run the models
          auto fmap = student ? (*student)->forward(frame_to_input(f.image, M.student.input_size))
                              : (*teacher)->forward(frame_to_input(f.image, M.teacher.img_size)).back();
          if (fmap.size(2) == M.teacher.img_size / M.teacher.patch_size) necks->forward_necks(fmap);
          fmap = at::Tensor();
          auto crops = crops_to_input(f.image, boxes, M.crop);
          if (crops.size(0) > 0) dino->forward_features(crops);
          out["queue_at_models"] = reader.memory().empty() ? 0 : reader.memory()[0].items;
        }
      }
      rec.flush();
      out["session_bytes"] = eh::track::total_bytes(session.memory());
    }
    std::error_code ec;
    for (const char* sfx : {"", "-wal", "-shm"}) std::filesystem::remove(db_path.string() + sfx, ec);
  } else {
    throw eh::UsageError(fmt::format("--envelope-probe: unknown kind '{}'", kind));
  }
  out["start_rss"] = mk.start;
  out["built_rss"] = mk.built;
  out["peak_rss"] = runtime::peak_rss_bytes();
  out["act"] = static_cast<double>(runtime::peak_rss_bytes() - mk.built);
  return out;
}

std::string self_exe() {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  return n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : std::string("edgeherd");
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a probe in a fresh `edgeherd` process; returns its JSON.
nlohmann::json probe(const std::string& exe, nlohmann::json spec, bool tiny) {
  spec["tiny"] = tiny;
  const std::string cmd = fmt::format("{} --log-level warn --threads {} bench --envelope-probe {} 2>&1", shell_quote(exe),
                                      torch::get_num_threads(), shell_quote(spec.dump()));
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw eh::Error("envelope: cannot start " + exe);
  std::string text;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), p)) text += buf.data();
  const int rc = pclose(p);
  const auto pos = text.rfind("\nPROBE ");
  const auto start = text.rfind("PROBE ", 0) == 0 ? 0 : (pos == std::string::npos ? std::string::npos : pos + 1);
  if (rc != 0 || start == std::string::npos)
    throw eh::Error(fmt::format("envelope probe {} failed (exit {}): {}", spec.dump(), rc, text.substr(0, 2000)));
  const auto end = text.find('\n', start);
  return nlohmann::json::parse(text.substr(start + 6, end == std::string::npos ? std::string::npos : end - start - 6));
}

double mib(double b) { return b / 1048576.0; }

}  // namespace

int envelope_probe_main(const std::string& spec_json) {
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(spec_json);
  } catch (const nlohmann::json::exception& e) {
    throw eh::UsageError(std::string("--envelope-probe: not JSON: ") + e.what());
  }
  const auto out = run_probe(spec);
  std::cout << "PROBE " << out.dump() << "\n";
  return 0;
}

void envelope_suite(Context& ctx, const EnvelopeSuiteParams& p) {
  const bool tiny = !p.full_size;
  const std::string exe = p.exe.empty() ? self_exe() : p.exe;
  const PipelineModels M = tiny ? PipelineModels::tiny() : PipelineModels::full_size();
  EnvelopeCalibration c;

  // ---- runtime base and activations, each in a fresh process
  c.runtime_base = probe(exe, {{"kind", "base"}}, tiny)["peak_rss"].get<double>();
  {
    std::vector<double> px, act;
    const int64_t S = M.student.input_size;
    for (int64_t s : {S / 2, S * 3 / 4, S}) {
      auto r = probe(exe, {{"kind", "student"}, {"input", s}}, tiny);
      px.push_back(static_cast<double>(s * s));
      act.push_back(r["act"].get<double>());
      c.student.params = r["params"].get<double>();
      ctx.add({"envelope", fmt::format("measured: student activations at {0}x{0} input", s), {{"act_mb", mib(act.back())}},
               "fresh process; peak RSS above the built model"});
    }
    auto [a0, a1] = fit_line(px, act);
    c.student.act_fixed = a0;
    c.student.act_per_pixel = a1;
    c.student.native = S;
  }
  {
    const int depth = tiny ? 0 : 2;  // activations do not depend on depth (inference frees each block's)
    auto r = probe(exe, {{"kind", "teacher"}, {"depth", depth}}, tiny);
    c.teacher.act_fixed = r["act"].get<double>();
    c.teacher.native = M.teacher.img_size;
    ctx.add({"envelope", fmt::format("measured: teacher activations at {0}x{0}", M.teacher.img_size),
             {{"act_mb", mib(c.teacher.act_fixed)}},
             depth ? "trunk cut to 2 blocks (1 windowed, 1 global): the activation peak of one block is the trunk's" : ""});
    models::Sam3ViT full(M.teacher);
    c.teacher.params = count_elements(*full);
  }
  {
    auto r = probe(exe, {{"kind", "necks"}}, tiny);
    c.neck_params = r["params"].get<double>();
    c.neck_act = r["act"].get<double>();
    ctx.add({"envelope", "measured: necks activations", {{"act_mb", mib(c.neck_act)}}, ""});
  }
  {
    std::vector<double> n, act;
    for (int k : {1, 8}) {
      auto r = probe(exe, {{"kind", "embedder"}, {"crops", k}}, tiny);
      n.push_back(k);
      act.push_back(r["act"].get<double>());
      c.embedder_params = r["params"].get<double>();
    }
    auto [e0, e1] = fit_line(n, act);
    c.embedder_act_fixed = e0;
    c.embedder_act_per_crop = e1;
    ctx.add({"envelope", "measured: embedder activations, 1 and 8 crops", {{"act_1_mb", mib(act[0])}, {"act_8_mb", mib(act[1])}}, ""});
  }

  // ---- per-animal state from the session's own memory report (window 16 vs 32)
  {
    const int animals = 8;
    std::array<double, 2> bytes{};
    const std::array<int, 2> windows{16, 32};
    for (int i = 0; i < 2; ++i) {
      auto src = video::open_simulator(video::parse_sim_spec(fmt::format("sim:seed=3,pigs={},render=0,frames={}", animals, windows[i] + 40)));
      video::GroundTruthSegmenter gt;
      video::SessionConfig sc;
      sc.tracker.max_animals = animals;
      sc.window = windows[i];
      video::Session session(nullptr, sc, [](const video::FrameOutput&) {});
      for (;;) {
        auto r = src->read();
        if (r.status != video::ReadStatus::Ok) break;
        session.process(r.frame, gt.segment(r.frame));
      }
      for (const auto& u : session.memory())
        if (u.name != "session.window.frames") bytes[i] += static_cast<double>(u.bytes);
    }
    c.per_animal_window_frame = std::max(0.0, (bytes[1] - bytes[0]) / (windows[1] - windows[0]) / animals);
    c.per_animal = std::max(0.0, bytes[0] / animals - windows[0] * c.per_animal_window_frame);
    ctx.add({"envelope", "measured: session + tracker state per animal (1280x720 masks)",
             {{"per_animal_kb", c.per_animal / 1024}, {"per_animal_per_window_frame_kb", c.per_animal_window_frame / 1024}},
             "from Session::memory() at window 16 and 32, 8 pigs"});
  }
  // ---- store buffers: SQLite's own heap high-water mark while recording 8 animals for an hour
  {
    const auto path = std::filesystem::temp_directory_path() / fmt::format("edgeherd-bench-env-{}.db", ::getpid());
    sqlite3_memory_highwater(1);
    const double before = static_cast<double>(sqlite3_memory_used());
    {
      store::Store db(path.string());
      store::Recorder rec(db);
      for (int f = 0; f < 6 * 3600; ++f)
        for (int a = 1; a <= 8; ++a) rec.observe({a, 1.7e9 + f / 6.0, 1.0f + 0.01f * (f % 100), 2.0f, 1});
      rec.flush();
    }
    c.store = std::max(0.0, static_cast<double>(sqlite3_memory_highwater(0)) - before);
    std::error_code ec;
    for (const char* sfx : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + sfx, ec);
    ctx.add({"envelope", "measured: store (SQLite heap high-water, 8 animals, 1 h)", {{"mb", mib(c.store)}}, ""});
  }
  ctx.shared["envelope_calibration"] = to_json(c);
  {
    Row r{"envelope", "calibration", {}, "bytes; activations at fp32"};
    r.values["runtime_base_mb"] = mib(c.runtime_base);
    r.values["student_params_m"] = c.student.params / 1e6;
    r.values["teacher_params_m"] = c.teacher.params / 1e6;
    r.values["necks_params_m"] = c.neck_params / 1e6;
    r.values["embedder_params_m"] = c.embedder_params / 1e6;
    r.values["student_act_fixed_mb"] = mib(c.student.act_fixed);
    r.values["student_act_per_input_pixel_b"] = c.student.act_per_pixel;
    r.values["teacher_act_mb"] = mib(c.teacher.act_fixed);
    r.values["sam_memory_per_object_frame_mb"] = mib(c.sam_memory_per_object_frame);
    ctx.add(r);
  }

  // ---- checks: whole configurations in fresh processes, predicted vs measured peak RSS
  if (p.checks) {
    struct Check {
      EnvelopeConfig cfg;
      int depth;  // teacher depth (0 = full)
    };
    std::vector<Check> checks;
    if (tiny) {
      checks.push_back({EnvelopeConfig{"student", 320, 240, 4, 8, 4, "fp32"}, 0});
      checks.push_back({EnvelopeConfig{"teacher", 320, 240, 6, 12, 4, "fp32"}, 0});
    } else {
      checks.push_back({EnvelopeConfig{"student", 1280, 720, 8, 16, 8, "fp32"}, 0});
      checks.push_back({EnvelopeConfig{"student", 1920, 1080, 16, 32, 8, "fp32"}, 0});
      checks.push_back({EnvelopeConfig{"teacher", 1280, 720, 8, 16, 8, "fp32"}, 8});
    }
    std::vector<double> errors;
    for (const auto& ch : checks) {
      nlohmann::json spec = {{"kind", "pipeline"},        {"backbone", ch.cfg.backbone}, {"width", ch.cfg.width},
                             {"height", ch.cfg.height},  {"animals", ch.cfg.animals},   {"window", ch.cfg.window},
                             {"queue", ch.cfg.queue},    {"depth", ch.depth}};
      auto r = probe(exe, spec, tiny);
      EnvelopeCalibration cc = c;
      if (ch.cfg.backbone == "teacher") cc.teacher.params = r["backbone_params"].get<double>();  // the trunk actually built
      const auto pred = predict_peak(cc, ch.cfg);
      const double meas = r["peak_rss"].get<double>();
      const double err = (pred.total - meas) / meas;
      errors.push_back(std::abs(err));
      Row row{"envelope", "check: " + ch.cfg.describe() + (ch.depth ? fmt::format(" (trunk {} blocks)", ch.depth) : ""), {}, ""};
      row.values["predicted_mb"] = mib(pred.total);
      row.values["measured_mb"] = mib(meas);
      row.values["error_pct"] = 100 * err;
      for (const auto& t : pred.terms) row.values["pred_" + t.name] = mib(t.bytes);
      row.note = "fresh process, peak RSS (VmHWM); terms in MiB";
      ctx.add(row);
    }
    double worst = 0;
    for (double e : errors) worst = std::max(worst, e);
    ctx.add({"envelope", "check summary", {{"configurations", static_cast<double>(errors.size())}, {"worst_abs_error_pct", 100 * worst}}, ""});
  }

  // ---- verdict for the budget
  const double budget = parse_bytes(p.budget), reserve = parse_bytes(p.reserve);
  std::vector<EnvelopeConfig> grid;
  for (const std::string bb : {"student", "teacher"})
    for (const std::string prec : {"fp32", "fp16"})
      for (const auto& [w, h, n, win] : std::vector<std::array<int, 4>>{{1280, 720, 8, 16}, {1920, 1080, 16, 32}}) {
        EnvelopeConfig e{bb, w, h, n, win, 8, prec};
        e.sam_memory = true;
        grid.push_back(e);
      }
  {  // what pruning buys: the window grows with the stream when nothing is dropped (10 min at 6 fps)
    EnvelopeConfig e{"student", 1280, 720, 8, 3600, 8, "fp16"};
    e.sam_memory = true;
    grid.push_back(e);
  }
  for (const auto& e : grid) {
    const auto pr = predict_peak(c, e);
    const double avail = budget - reserve;
    Row r{"envelope", "fits " + p.budget + "? " + e.describe(), {}, ""};
    r.values["predicted_mb"] = mib(pr.total);
    r.values["headroom_mb"] = mib(avail - pr.total);
    r.values["fits"] = pr.total <= avail ? "yes" : "no";
    r.note = fmt::format("budget {} minus {} reserved for the OS and the GPU runtime (assumed)", p.budget, p.reserve);
    ctx.add(r);
  }
}

}  // namespace eh::bench
