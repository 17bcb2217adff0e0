// `edgeherd run` end to end on simulated pens (ground-truth instances, so the expected tracks
// are known from an independent path) and on synthetic videos: every output is written,
// consistent with the others, and valid however the run ends.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "data/simulator.h"
#include "eval/evaluate.h"
#include "eval/mot.h"
#include "pipeline/pipeline.h"
#include "store/store.h"
#include "test_pipeline_doubles.h"
#include "test_util.h"
#include "track/instances_io.h"
#include "video/gt_run.h"

namespace fs = std::filesystem;
using eh::pipeline::ModelSet;
using eh::pipeline::RunOptions;
using eh::pipeline::RunResult;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

nlohmann::json load_json(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> v;
  std::string l;
  while (std::getline(f, l)) v.push_back(l);
  return v;
}

int64_t video_frames(const fs::path& p, cv::Size* size = nullptr) {
  cv::VideoCapture cap(p.string());
  if (!cap.isOpened()) return -1;
  int64_t n = 0;
  cv::Mat m;
  while (cap.read(m)) {
    if (size) *size = m.size();
    ++n;
  }
  return n;
}

// Everything that must hold for the outputs of any run, however it ended.
void expect_valid_outputs(const fs::path& out, const RunResult& r) {
  for (const char* f : {"tracks.txt", "masks.jsonl", "behaviours.csv", "store.sqlite", "memory.csv", "report.json", "report.html"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const eh::eval::TrackSet tracks = eh::eval::load_mot((out / "tracks.txt").string());  // throws when malformed
  const auto inst = eh::track::read_instances((out / "masks.jsonl").string());
  // Every processed frame left the window, in order, once.
  ASSERT_EQ(static_cast<int64_t>(inst.size()), r.frames);
  for (std::size_t i = 1; i < inst.size(); ++i) EXPECT_GT(inst[i].frame, inst[i - 1].frame);
  std::size_t rows = 0;
  for (const auto& f : inst) rows += f.dets.size();
  EXPECT_EQ(rows, tracks.num_detections());
  const auto beh = lines_of(out / "behaviours.csv");
  ASSERT_FALSE(beh.empty());
  EXPECT_EQ(beh[0], "frame,id,label,confidence");
  EXPECT_EQ(beh.size() - 1, rows);
  const auto j = load_json(out / "report.json");
  EXPECT_EQ(j.at("edgeherd_report"), 1);
  EXPECT_EQ(j.at("frames").get<int64_t>(), r.frames);
  EXPECT_EQ(j.at("interrupted").get<bool>(), r.interrupted);
  EXPECT_FALSE(j.at("end_reason").get<std::string>().empty());
  const std::string html = slurp(out / "report.html");
  EXPECT_NE(html.find("</html>"), std::string::npos);
  eh::store::StoreOptions so;
  so.read_only = true;
  eh::store::Store st((out / "store.sqlite").string(), so);
  EXPECT_EQ(st.integrity_check(), "ok");
  EXPECT_EQ(static_cast<int>(st.animals().size()), r.identities);
}

RunOptions sim_options(const std::string& spec, const fs::path& out) {
  RunOptions o;
  o.source = spec;
  o.out_dir = out.string();
  return o;
}

}  // namespace

// The pipeline with the built-in sim-gt model must give exactly the tracks of the existing
// tracker-isolation path (ground-truth instances + colour-histogram embeddings, same session
// settings), and its MOTA must equal an independent evaluation of its own tracks.txt against
// the simulator ground truth written by that path.
TEST(PipelineSim, SimGtReproducesTheGroundTruthTrackingPathAndItsScores) {
  const auto dir = eh::test::temp_dir("pipe_simgt");
  const std::string spec = "sim:seed=21,pigs=4,width=640,height=360,frames=150";
  const RunResult r = eh::pipeline::run_pipeline(sim_options(spec, dir / "run"), eh::pipeline::sim_gt_model_set());
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.frames, 150);
  EXPECT_FALSE(r.interrupted);
  expect_valid_outputs(dir / "run", r);

  eh::video::GtRunOptions g;
  g.source = spec;  // render off there: ground truth does not depend on rendering
  g.colour_embeddings = true;
  g.session.tracker.max_animals = 4;
  g.tracks_out = (dir / "ref_tracks.txt").string();
  g.gt_out = (dir / "gt.txt").string();
  const auto ref = eh::video::run_ground_truth_tracking(g);
  EXPECT_EQ(slurp(dir / "run" / "tracks.txt"), slurp(dir / "ref_tracks.txt"));

  ASSERT_TRUE(r.evaluated);
  const auto indep = eh::eval::evaluate_mot(eh::eval::load_mot((dir / "gt.txt").string()),
                                            eh::eval::load_mot((dir / "run" / "tracks.txt").string()));
  EXPECT_DOUBLE_EQ(r.mot.clear.mota, indep.clear.mota);
  EXPECT_DOUBLE_EQ(r.mot.identity.idf1, indep.identity.idf1);
  EXPECT_DOUBLE_EQ(r.mot.hota.HOTA, indep.hota.HOTA);
  EXPECT_DOUBLE_EQ(r.mot.clear.mota, ref.report.clear.mota);
  const auto j = r.report;
  EXPECT_DOUBLE_EQ(j["eval"]["mot"]["mota"].get<double>(), indep.clear.mota);
  // No behaviour model: every label is 'unknown', and no behaviour score is claimed.
  for (std::size_t i = 1; i < lines_of(dir / "run" / "behaviours.csv").size(); ++i)
    EXPECT_NE(lines_of(dir / "run" / "behaviours.csv")[i].find(",unknown,"), std::string::npos);
  EXPECT_TRUE(j["eval"]["behaviour"].is_null());
}

// Per-animal figures of the report add up to what the other outputs hold.
TEST(PipelineSim, ReportFiguresAgreeWithTheOutputFiles) {
  const auto dir = eh::test::temp_dir("pipe_report");
  RunOptions o = sim_options("sim:seed=5,pigs=3,width=640,height=360,frames=90", dir);
  const RunResult r = eh::pipeline::run_pipeline(o, eh::pipeline::sim_gt_model_set());
  ASSERT_TRUE(r.error.empty()) << r.error;
  const auto tracks = eh::eval::load_mot((dir / "tracks.txt").string());
  std::map<int64_t, int64_t> rows_per_id;
  for (const auto& [f, v] : tracks.frames)
    for (const auto& d : v) ++rows_per_id[d.id];
  const auto& j = r.report;
  ASSERT_EQ(j["animals"].size(), rows_per_id.size());
  double heat = 0;
  for (const auto& c : j["heatmap"]["counts"]) heat += c.get<double>();
  EXPECT_EQ(heat, static_cast<double>(tracks.num_detections()));
  const double dt = 1.0 / 6.0;
  for (const auto& a : j["animals"]) {
    const int64_t id = a["id"].get<int64_t>();
    EXPECT_EQ(a["frames"].get<int64_t>(), rows_per_id[id]);
    EXPECT_NEAR(a["seen_s"].get<double>(), rows_per_id[id] * dt, 1e-9);
    double budget = 0;
    for (const auto& b : a["budget_s"]) budget += b.get<double>();
    EXPECT_NEAR(budget, a["seen_s"].get<double>(), 1e-9);
    EXPECT_EQ(a["timeline"].size(), j["timeline"]["bins"].get<std::size_t>());
    EXPECT_GE(a["thumbnails"].size(), 1u);  // rendered frames: the first sighting at least
  }
  // Ground-truth positions in metres: the simulator's scale.
  const float ppm = eh::data::make_pen_layout(cv::Size(640, 360)).pixels_per_metre;
  EXPECT_FLOAT_EQ(j["pixels_per_metre"].get<float>(), ppm);
  // The store saw every row and the animals' time.
  eh::store::StoreOptions so;
  so.read_only = true;
  eh::store::Store st((dir / "store.sqlite").string(), so);
  EXPECT_EQ(j["store"]["observations"].get<int64_t>(), static_cast<int64_t>(tracks.num_detections()));
  const double t0 = j["store_time_origin"].get<double>();
  for (const auto& [id, n] : rows_per_id) {
    uint64_t frames = 0;
    for (const auto& b : st.bins(id, static_cast<int64_t>(t0) - 3600, static_cast<int64_t>(t0) + 3600)) frames += b.frames;
    EXPECT_EQ(static_cast<int64_t>(frames), n) << "animal " << id;
  }
  EXPECT_GT(j["store"]["embeddings_written"].get<int64_t>(), 0);
  // memory.csv: the process RSS at every sample, and the stage times are all present.
  const auto mem = lines_of(dir / "memory.csv");
  EXPECT_EQ(mem[0], "frame,t,name,items,bytes");
  int rss_rows = 0;
  for (const auto& l : mem) rss_rows += l.find(",process.rss,") != std::string::npos;
  EXPECT_EQ(rss_rows, 90 / 30 + 1);  // every 30 frames, plus the final sample
  for (const char* s : {"decode", "segment", "embed", "track", "behaviour", "store", "write", "total"})
    EXPECT_TRUE(j["timing"]["ms_per_frame"][s].is_number()) << s;
  EXPECT_GT(j["timing"]["ms_per_frame"]["segment"].get<double>(), 0);
  double cpu_sum = 0;
  for (const char* s : {"segment", "embed", "track", "behaviour", "store", "write"}) {
    const double v = j["timing"]["cpu_ms_per_frame"][s].get<double>();
    EXPECT_GE(v, 0) << s;
    cpu_sum += v;
  }
  EXPECT_NEAR(j["timing"]["cpu_ms_per_frame"]["total"].get<double>(), cpu_sum, 1e-9);
  EXPECT_GT(j["timing"]["cpu_ms_per_frame"]["segment"].get<double>(), 0);
}

TEST(PipelineSim, AnnotatedVideoHasEveryFrame) {
  const auto dir = eh::test::temp_dir("pipe_video");
  const RunResult r = eh::pipeline::run_pipeline(sim_options("sim:seed=3,pigs=2,width=320,height=180,frames=40", dir),
                                                 eh::pipeline::sim_gt_model_set());
  ASSERT_TRUE(r.error.empty()) << r.error;
  if (r.video_path.empty()) GTEST_SKIP() << "this OpenCV build writes no video";
  cv::Size size;
  EXPECT_EQ(video_frames(r.video_path, &size), 40);
  EXPECT_EQ(size, cv::Size(320, 180));
}

TEST(PipelineSim, LargeFramesGiveAScaledVideo) {
  const auto dir = eh::test::temp_dir("pipe_video_large");
  const RunResult r = eh::pipeline::run_pipeline(sim_options("sim:seed=3,pigs=2,frames=8", dir), eh::pipeline::sim_gt_model_set());
  ASSERT_TRUE(r.error.empty()) << r.error;
  if (r.video_path.empty()) GTEST_SKIP() << "this OpenCV build writes no video";
  cv::Size size;
  EXPECT_EQ(video_frames(r.video_path, &size), 8);
  EXPECT_EQ(size, cv::Size(640, 360));  // auto: 1280x720 halved (at most 960 wide)
}

// A stop request (what Ctrl-C sets) ends the run early with every output closed and valid: the
// frames still in the window are drained, so masks.jsonl holds every processed frame.
TEST(PipelineSim, StopRequestFinishesCleanly) {
  const auto dir = eh::test::temp_dir("pipe_stop");
  std::atomic<bool> stop{false};
  RunOptions o = sim_options("sim:seed=8,pigs=3,width=320,height=180,frames=600", dir);
  o.stop = &stop;
  o.on_progress = [&](const eh::pipeline::Progress& p) {
    EXPECT_EQ(p.total, 600);
    if (p.frames == 45) stop = true;
  };
  const RunResult r = eh::pipeline::run_pipeline(o, eh::pipeline::sim_gt_model_set());
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.frames, 45);
  expect_valid_outputs(dir, r);
  const auto j = load_json(dir / "report.json");
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_NE(slurp(dir / "report.html").find("interrupted"), std::string::npos);
  if (!r.video_path.empty()) {
    EXPECT_EQ(video_frames(r.video_path), 45);
  }
}

// The interfaces as the trained models use them: the embedder's vectors reach the tracker and
// the store, the behaviour stream sees every emitted row in time order per track, and the
// behaviour score is computed against the simulator's labels. With a model that always says
// "lying", top-1 must be the share of lying among the ground-truth labels of the animal-frames
// that were matched, which is counted here directly from the simulator.
TEST(PipelineSim, EmbedderAndBehaviourInterfaces) {
  const auto dir = eh::test::temp_dir("pipe_iface");
  const std::string spec = "sim:seed=13,pigs=4,width=640,height=360,frames=120";
  auto log = std::make_shared<eh::test::BehaviourLog>();
  auto emb = std::make_shared<eh::test::MeanColourEmbedder>();
  ModelSet m;
  m.name = "test-doubles";
  m.variant = "student";
  m.segmenter = std::make_shared<eh::video::GroundTruthSegmenter>();
  m.embedder = emb;
  m.behaviour = std::make_shared<eh::test::ConstantBehaviour>(eh::data::Behaviour::Lying, log);
  const RunResult r = eh::pipeline::run_pipeline(sim_options(spec, dir), m);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(emb->calls.load(), 120);  // every frame has pigs in view
  EXPECT_EQ(log->streams, 1);
  EXPECT_EQ(log->frame_size, cv::Size(640, 360));
  EXPECT_DOUBLE_EQ(log->fps, 6.0);
  const auto tracks = eh::eval::load_mot((dir / "tracks.txt").string());
  EXPECT_EQ(log->observations, static_cast<int64_t>(tracks.num_detections()));
  EXPECT_EQ(log->out_of_order, 0);
  EXPECT_EQ(log->with_mask, log->observations);
  EXPECT_EQ(log->with_embedding, log->observations);
  EXPECT_EQ(r.report["label"], "student");
  EXPECT_GT(r.report["store"]["embeddings_written"].get<int64_t>(), 0);

  ASSERT_TRUE(r.behaviour_evaluated);
  // Independent count: simulate the same pen; for every frame, the visible pigs' labels.
  const auto so = eh::video::parse_sim_spec(spec);
  eh::data::SimConfig cfg = so.sim;
  cfg.render = false;
  eh::data::PenSimulator sim(cfg);
  std::map<std::pair<int64_t, int64_t>, int> truth;
  for (int k = 0; k < 120; ++k) {
    sim.step();
    for (const auto& g : sim.ground_truth())
      if (g.visible_pixels >= 1 && !g.visible_box.empty()) truth[{k + 1, g.id}] = static_cast<int>(g.behaviour);
  }
  // The pairs scored are a subset of the truth (the tracker confirms after 3 frames); their
  // count and the lying share among them, from the classification result's own pairs.
  int64_t lying = 0, paired = 0;
  for (std::size_t g = 0; g < r.behaviour.confusion.size(); ++g)
    for (std::size_t p = 0; p < r.behaviour.confusion[g].size(); ++p) {
      paired += r.behaviour.confusion[g][p];
      if (g == 8) lying += r.behaviour.confusion[g][p];
      if (p != 8) {
        EXPECT_EQ(r.behaviour.confusion[g][p], 0) << "the model only says lying";
      }
    }
  EXPECT_EQ(paired, r.behaviour.num_paired);
  EXPECT_DOUBLE_EQ(r.behaviour.accuracy, static_cast<double>(lying) / static_cast<double>(paired));
  int64_t truth_lying = 0, truth_unknown = 0;
  for (const auto& [k, v] : truth) truth_lying += v == 8, truth_unknown += v == 0;
  ASSERT_EQ(truth_unknown, 0) << "the simulator labels every visible pig";
  // Same ground truth as the MOT evaluation; every box the tracker matched is scored (the
  // instances are the ground truth's own boxes, so IoU matching finds exactly those pairs).
  EXPECT_EQ(r.mot.clear.num_objects, static_cast<int64_t>(truth.size()));
  EXPECT_EQ(paired, r.mot.clear.num_detections);
  const int64_t missed = r.mot.clear.num_objects - r.mot.clear.num_detections;
  EXPECT_LE(lying, truth_lying);
  EXPECT_GE(lying, truth_lying - missed);
  EXPECT_GT(lying, 0) << "pick a seed where some pigs lie";
  EXPECT_EQ(r.report["eval"]["behaviour"]["top1"].get<double>(), r.behaviour.accuracy);
}

TEST(PipelineSim, LaggedBehaviourLabelsAreRevisedAndNoneAreLost) {
  // A model with a 3-frame lag: every frame's rows still go out (the last 3 after the stream
  // ends), in frame order, with the revised label wherever the track was still known.
  const auto dir = eh::test::temp_dir("pipe_lag");
  auto log = std::make_shared<eh::test::BehaviourLog>();
  ModelSet m;
  m.name = "test-doubles";
  m.variant = "student";
  m.segmenter = std::make_shared<eh::video::GroundTruthSegmenter>();
  m.behaviour = std::make_shared<eh::test::ConstantBehaviour>(eh::data::Behaviour::Lying, log, 3, eh::data::Behaviour::Standing);
  const RunResult r = eh::pipeline::run_pipeline(sim_options("sim:seed=13,pigs=4,width=640,height=360,frames=60", dir), m);
  ASSERT_TRUE(r.error.empty()) << r.error;
  const auto tracks = eh::eval::load_mot((dir / "tracks.txt").string());
  std::ifstream in(dir / "behaviours.csv");
  std::string line;
  int64_t rows = 0, standing = 0, last_frame = 0;
  std::set<std::pair<int64_t, int64_t>> seen;
  while (std::getline(in, line)) {
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    std::stringstream ss(line);
    std::string f, id, label;
    std::getline(ss, f, ',');
    std::getline(ss, id, ',');
    std::getline(ss, label, ',');
    ++rows;
    standing += label == "standing";
    EXPECT_GE(std::stoll(f), last_frame);
    last_frame = std::stoll(f);
    seen.insert({std::stoll(f), std::stoll(id)});
  }
  EXPECT_EQ(rows, static_cast<int64_t>(tracks.num_detections()));
  EXPECT_EQ(static_cast<int64_t>(seen.size()), rows);
  EXPECT_EQ(last_frame, 60);
  EXPECT_EQ(standing, log->revisions);
  EXPECT_GT(standing, rows * 9 / 10) << "nearly every label was revised";
}

TEST(PipelineSim, SimGtNeedsASimulatorSource) {
  const auto dir = eh::test::temp_dir("pipe_simgt_file");
  RunOptions o;
  o.source = (dir / "video.mp4").string();
  o.out_dir = (dir / "out").string();
  EXPECT_THROW(eh::pipeline::run_pipeline(o, eh::pipeline::sim_gt_model_set()), eh::UsageError);
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing is written for a refused run";
}

// ---- video files: a stream that breaks off, a pen without animals ----------------------------------

ModelSet blob_models() {
  ModelSet m;
  m.name = "dark-blobs";
  m.segmenter = std::make_shared<eh::test::DarkBlobSegmenter>();
  m.embedder = std::make_shared<eh::test::MeanColourEmbedder>();
  return m;
}

TEST(PipelineVideo, TracksDiscsInAVideoFile) {
  const auto dir = eh::test::temp_dir("pipe_discs");
  const auto video = eh::test::write_disc_video(dir / "discs.avi", 60, 3);
  if (video.empty()) GTEST_SKIP() << "this OpenCV build cannot write MJPG/AVI";
  RunOptions o;
  o.source = video.string();
  o.out_dir = (dir / "out").string();
  const RunResult r = eh::pipeline::run_pipeline(o, blob_models());
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.frames, 60);
  EXPECT_EQ(r.identities, 3);
  expect_valid_outputs(dir / "out", r);
  EXPECT_EQ(eh::eval::load_mot((dir / "out" / "tracks.txt").string()).num_detections(), 3u * 60u);
  EXPECT_FALSE(r.evaluated);  // no ground truth given
  EXPECT_EQ(r.report["source_kind"], "video file");
  EXPECT_TRUE(r.report["pixels_per_metre"].is_null());  // no scale known: positions in pixels
}

// A file cut in the middle (a camera recording that stopped, a copy that broke off): the run
// ends with a message saying where, and everything made up to there is written and valid.
TEST(PipelineVideo, TruncatedVideoEndsWithAMessageAndIntactOutputs) {
  const auto dir = eh::test::temp_dir("pipe_trunc");
  const auto video = eh::test::write_disc_video(dir / "cut.avi", 80, 3);
  if (video.empty()) GTEST_SKIP() << "this OpenCV build cannot write MJPG/AVI";
  fs::resize_file(video, fs::file_size(video) / 2);
  RunOptions o;
  o.source = video.string();
  o.out_dir = (dir / "out").string();
  RunResult r;
  try {
    r = eh::pipeline::run_pipeline(o, blob_models());
  } catch (const eh::Error& e) {
    // Some demuxers refuse a file whose index went with the tail: then at open, with the name.
    EXPECT_NE(std::string(e.what()).find("cut.avi"), std::string::npos) << e.what();
    return;
  }
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_GT(r.frames, 5);
  EXPECT_LT(r.frames, 80);
  // The message says the file broke off (the demuxer's "stopped at frame X of Y", or frames
  // that could not be decoded).
  EXPECT_TRUE(r.end_reason.find("stopped at frame") != std::string::npos ||
              r.end_reason.find("could not be decoded") != std::string::npos)
      << r.end_reason;
  EXPECT_NE(r.report["end_reason"].get<std::string>().find("cut.avi"), std::string::npos);
  expect_valid_outputs(dir / "out", r);
  EXPECT_EQ(r.identities, 3);
  if (!r.video_path.empty()) {
    EXPECT_EQ(video_frames(r.video_path), r.frames);
  }
}

// A camera that disappears mid-run: reconnects are tried, then the run ends with the reason,
// and everything made up to then is written.
TEST(PipelineVideo, CameraThatDisappearsEndsWithAMessageAndIntactOutputs) {
  const auto dir = eh::test::temp_dir("pipe_camera");
  RunOptions o;
  o.source = "camera-test";
  o.out_dir = dir.string();
  o.open_source = [] { return std::make_unique<eh::test::VanishingCamera>(50, 2); };
  o.reader.max_reconnects = 2;
  o.reader.reconnect_wait_s = 0.05;
  o.reader.drop_when_full = false;  // keep every frame (the test checks the count)
  std::vector<std::string> events;
  o.on_event = [&](const eh::video::SourceEvent& e) { events.push_back(eh::video::event_kind_name(e.kind)); };
  const RunResult r = eh::pipeline::run_pipeline(o, blob_models());
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.frames, 50);
  EXPECT_EQ(r.identities, 2);
  EXPECT_NE(r.end_reason.find("gave up after 2 reconnect attempts"), std::string::npos) << r.end_reason;
  EXPECT_EQ(std::count(events.begin(), events.end(), "disconnected"), 2);
  EXPECT_EQ(r.report["source_kind"], "stream");
  expect_valid_outputs(dir, r);
  // Both discs in every frame (rows of the first frames are filled in once a track is confirmed).
  EXPECT_EQ(eh::eval::load_mot((dir / "tracks.txt").string()).num_detections(), 2u * 50u);
}

TEST(PipelineVideo, CorruptBytesAreSkippedAndReported) {
  const auto dir = eh::test::temp_dir("pipe_corrupt");
  const auto video = eh::test::write_disc_video(dir / "bad.avi", 60, 2);
  if (video.empty()) GTEST_SKIP() << "this OpenCV build cannot write MJPG/AVI";
  {
    std::fstream f(video, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const long n = static_cast<long>(f.tellg());
    const std::string junk(400, 'Z');
    for (double frac : {0.3, 0.6}) {
      f.seekp(static_cast<long>(n * frac));
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  RunOptions o;
  o.source = video.string();
  o.out_dir = (dir / "out").string();
  const RunResult r = eh::pipeline::run_pipeline(o, blob_models());
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_GE(r.frames, 40);
  EXPECT_LT(r.frames, 60);
  expect_valid_outputs(dir / "out", r);
  EXPECT_GE(r.report["warning_count"].get<int64_t>(), 1);
}

TEST(PipelineVideo, EmptyPenGivesEmptyValidOutputs) {
  const auto dir = eh::test::temp_dir("pipe_empty");
  const auto video = eh::test::write_disc_video(dir / "empty.avi", 30, 0);
  if (video.empty()) GTEST_SKIP() << "this OpenCV build cannot write MJPG/AVI";
  RunOptions o;
  o.source = video.string();
  o.out_dir = (dir / "out").string();
  const RunResult r = eh::pipeline::run_pipeline(o, blob_models());
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.frames, 30);
  EXPECT_EQ(r.identities, 0);
  expect_valid_outputs(dir / "out", r);
  EXPECT_EQ(fs::file_size(dir / "out" / "tracks.txt"), 0u);
  EXPECT_NE(slurp(dir / "out" / "report.html").find("no animals were found"), std::string::npos);
  if (!r.video_path.empty()) {
    EXPECT_EQ(video_frames(r.video_path), 30);
  }
}

TEST(PipelineVideo, MissingSourceIsAnErrorBeforeAnyOutput) {
  const auto dir = eh::test::temp_dir("pipe_missing");
  RunOptions o;
  o.source = (dir / "nope.mp4").string();
  o.out_dir = (dir / "out").string();
  try {
    eh::pipeline::run_pipeline(o, blob_models());
    FAIL() << "expected eh::Error";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.mp4"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "out"));
}
