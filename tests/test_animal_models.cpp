// Embedder and behaviour model: loading (errors), output contracts, the segmenter wrapper, and
// the trainers end to end at a toy size.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>

#include "animal/behaviour_net.h"
#include "animal/behaviour_train.h"
#include "animal/embed_net.h"
#include "animal/embedder.h"
#include "animal/embedder_train.h"
#include "animal/embedding_segmenter.h"
#include "animal/posture_train.h"
#include "core/error.h"
#include "core/state_dict.h"
#include "core/tensor_io.h"
#include "test_util.h"

using namespace eh::animal;
namespace fs = std::filesystem;

namespace {

nlohmann::json tiny_embedder_config() {
  return {{"arch", "dinov3_embedder"},
          {"backbone",
           {{"patch_size", 8}, {"embed_dim", 32}, {"depth", 1}, {"num_heads", 2}, {"n_storage_tokens", 2},
            {"layerscale_init", 0.1}, {"mask_k_bias", true}}},
          {"crop_size", 32},
          {"embedding_dim", 16}};
}

fs::path write_tiny_embedder(const std::string& name) {
  auto d = eh::test::temp_dir(name);
  const auto j = tiny_embedder_config();
  std::ofstream(d / "config.json") << j.dump(2);
  EmbedNet net(EmbedderConfig::from_json(j, "tiny"));
  net->init_for_training(3);
  eh::save_state_dict(*net, (d / "weights.safetensors").string());
  return d;
}

class FixedSegmenter : public eh::video::Segmenter {
 public:
  eh::track::Detections segment(const cv::Mat&) const override {
    eh::track::Detections d;
    d.add({10, 10, 40, 30});
    d.add({60, 20, 30, 30});
    d.add({500, 500, 10, 10});  // outside the 100x100 image
    return d;
  }
  std::string name() const override { return "fixed"; }
};

// One training pen, one validation pen, no held-out evaluation, one thread, quiet; the
// callers set the toy sizes.
// One training pen and one validation pen of `minutes`, an MLP of one hidden layer.
BehaviourTrainOptions toy_behaviour_options(const std::string& name, double minutes, int epochs, int batch, int hidden,
                                            std::vector<double> stay_grid) {
  BehaviourTrainOptions o;
  o.out_dir = (eh::test::temp_dir(name) / "model").string();
  o.clip.minutes = minutes;
  o.epochs = epochs;
  o.batch = batch;
  o.hidden = {hidden};
  o.stay_grid = std::move(stay_grid);
  o.train_pens = 1;
  o.val_pens = 1;
  o.eval_pens = 0;
  o.threads = 1;
  o.progress = false;
  return o;
}

// The trained model in `dir` (same weights) with config `cfg` but other smoothing: a sibling
// directory `name`.
std::shared_ptr<const BehaviourModel> with_smoothing(const fs::path& dir, nlohmann::json cfg, const std::string& name, double stay,
                                                     const nlohmann::json& transitions) {
  const fs::path d = dir.parent_path() / name;
  fs::create_directories(d);
  fs::copy_file(dir / "weights.safetensors", d / "weights.safetensors", fs::copy_options::overwrite_existing);
  cfg["stay"] = stay;
  cfg["transitions"] = transitions;
  std::ofstream(d / "config.json") << cfg.dump();
  return load_behaviour_model(d.string());
}

}  // namespace

TEST(AnimalEmbedder, UnitRowsZeroForMissingBoxesDeterministic) {
  const auto d = write_tiny_embedder("emb_ok");
  auto e = load_embedder(d.string());
  EXPECT_EQ(e->dim(), 16);
  EXPECT_GT(e->bytes(), 0u);
  cv::Mat img(100, 100, CV_8UC3);
  cv::randu(img, 0, 255);
  const std::vector<cv::Rect2f> boxes = {{10, 10, 40, 30}, {60, 20, 30, 30}, {500, 500, 10, 10}, {10, 10, 40, 30}};
  const auto v = e->embed(img, boxes);
  ASSERT_EQ(v.size(), 4u);
  for (int i : {0, 1, 3}) {
    double n = 0;
    for (float x : v[i]) n += double(x) * x;
    EXPECT_NEAR(n, 1.0, 1e-4);
  }
  for (float x : v[2]) EXPECT_EQ(x, 0.0f);
  // Same crop, same vector (up to float rounding of a different batch row); another crop differs.
  double d03 = 0, d01 = 0;
  for (size_t k = 0; k < 16; ++k) {
    d03 = std::max(d03, double(std::fabs(v[0][k] - v[3][k])));
    d01 = std::max(d01, double(std::fabs(v[0][k] - v[1][k])));
  }
  EXPECT_LT(d03, 1e-5);
  EXPECT_GT(d01, 1e-2);
  EXPECT_TRUE(e->embed(img, {}).empty());
}

TEST(AnimalEmbedder, LoadErrorsNameTheFileAndField) {
  EXPECT_THROW(load_embedder("/nonexistent/emb"), eh::Error);
  const auto d = write_tiny_embedder("emb_bad");
  fs::remove(d / "weights.safetensors");
  try {
    load_embedder(d.string());
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("weights.safetensors"), std::string::npos) << e.what();
  }
  auto j = tiny_embedder_config();
  j["embeding_dim"] = 3;  // typo
  std::ofstream(d / "config.json") << j.dump();
  try {
    EmbedderConfig::from_json(j, "x.json");
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("embeding_dim"), std::string::npos) << e.what();
  }
  j = tiny_embedder_config();
  j["crop_size"] = 30;  // not a multiple of the patch size
  EXPECT_THROW(EmbedderConfig::from_json(j, "x.json"), eh::Error);
  // Weights of another shape: strict binding names the key.
  const auto d2 = write_tiny_embedder("emb_shape");
  j = tiny_embedder_config();
  j["embedding_dim"] = 8;
  std::ofstream(d2 / "config.json") << j.dump();
  try {
    load_embedder(d2.string());
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("head.weight"), std::string::npos) << e.what();
  }
}

TEST(AnimalEmbedder, BodyAlignedEmbeddingIgnoresHeadingAndReadsTheMask) {
  // A textured "pig" (ellipse at 30 degrees) on a grey 400x300 image. A body-aligned embedder
  // gives it the same vector whichever way the image is turned by quarter turns, and reads the
  // mask (without it the crop follows the box); a box-aligned one sees the turns.
  auto d = write_tiny_embedder("emb_body");
  auto j = tiny_embedder_config();
  j["crop_align"] = "body";
  std::ofstream(d / "config.json") << j.dump(2);
  const auto body = load_embedder(d.string());
  cv::Mat img(300, 400, CV_8UC3, cv::Scalar(120, 120, 120)), mask = cv::Mat::zeros(300, 400, CV_8UC1);
  cv::ellipse(mask, cv::RotatedRect({180, 140}, cv::Size2f(150, 56), 30), cv::Scalar(255), cv::FILLED);
  cv::Mat texture(300, 400, CV_8UC3);
  cv::theRNG().state = 7;
  cv::randu(texture, 0, 255);
  cv::GaussianBlur(texture, texture, {0, 0}, 4);  // blobs a few pixels wide, not pixel noise
  cv::normalize(texture, texture, 0, 255, cv::NORM_MINMAX);
  texture.copyTo(img, mask);
  auto embed = [](const Embedder& e, const cv::Mat& im, const cv::Mat& m, bool with_mask) {
    const std::vector<eh::data::Rle> masks{eh::data::rle_encode(m)};
    return e.embed(im, {cv::Rect2f(cv::boundingRect(m))}, with_mask ? &masks : nullptr)[0];
  };
  auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
    return s;
  };
  // The vector: the same for the image turned by quarter turns (a half-turn is exactly the other
  // heading, summed over by the embedder).
  const auto ref = embed(*body, img, mask, true);
  for (int turn : {cv::ROTATE_90_CLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_COUNTERCLOCKWISE}) {
    cv::Mat im2, m2;
    cv::rotate(img, im2, turn);
    cv::rotate(mask, m2, turn);
    EXPECT_GT(cosine(ref, embed(*body, im2, m2, true)), 0.9999) << turn;
  }
  // The crops it sees (a random network's vectors are all alike, so the crops are compared): the
  // body-aligned crop of the turned image is the same crop, or its half-turn; a box crop turns
  // with the image; without the mask the body-aligned crop follows the box, in which the pig
  // lies at 30 degrees.
  auto crop_of = [&](const nlohmann::json& cfg, const cv::Mat& im, const cv::Mat& m, bool with_mask) {
    const std::vector<eh::data::Rle> masks{eh::data::rle_encode(m)};
    std::vector<bool> valid;
    return crops_tensor(im, {cv::Rect2f(cv::boundingRect(m))}, with_mask ? &masks : nullptr,
                        EmbedderConfig::from_json(cfg, "test"), &valid);
  };
  auto mean_abs = [](const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().mean().item<double>(); };
  cv::Mat img90, mask90;
  cv::rotate(img, img90, cv::ROTATE_90_CLOCKWISE);
  cv::rotate(mask, mask90, cv::ROTATE_90_CLOCKWISE);
  const at::Tensor a = crop_of(j, img, mask, true), b = crop_of(j, img90, mask90, true);
  EXPECT_LT(std::min(mean_abs(a, b), mean_abs(a, b.flip({2, 3}))), 1e-3);
  const auto box_cfg = tiny_embedder_config();
  // (Normalised units; most of each crop is the same grey floor, so the mean moves little.)
  EXPECT_GT(mean_abs(crop_of(box_cfg, img, mask, true), crop_of(box_cfg, img90, mask90, true)), 0.05);
  EXPECT_GT(mean_abs(a, crop_of(j, img, mask, false)), 0.05);
  // The fields are checked: an unknown alignment, and masking the background of box crops.
  auto error_of = [](const nlohmann::json& cfg) {
    try {
      EmbedderConfig::from_json(cfg, "x.json");
    } catch (const eh::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  j["crop_align"] = "diagonal";
  EXPECT_NE(error_of(j).find("crop_align"), std::string::npos) << error_of(j);
  j["crop_align"] = "box";
  j["mask_background"] = true;
  EXPECT_NE(error_of(j).find("mask_background"), std::string::npos) << error_of(j);
}

TEST(AnimalEmbedder, MaskedBackgroundIgnoresTheFloor) {
  // With "mask_background" the floor around the pig is padding: repainting the floor (beyond
  // the few pixels the mask's edge blends in) changes nothing, while an embedder that keeps the
  // background sees the change.
  auto j = tiny_embedder_config();
  j["crop_align"] = "body";
  j["mask_background"] = true;
  auto d = write_tiny_embedder("emb_masked");
  std::ofstream(d / "config.json") << j.dump(2);
  const auto masked = load_embedder(d.string());
  j["mask_background"] = false;
  auto d2 = write_tiny_embedder("emb_unmasked");
  std::ofstream(d2 / "config.json") << j.dump(2);
  const auto unmasked = load_embedder(d2.string());
  cv::Mat img(200, 300, CV_8UC3, cv::Scalar(60, 140, 90)), mask = cv::Mat::zeros(200, 300, CV_8UC1);
  cv::ellipse(mask, cv::RotatedRect({150, 100}, cv::Size2f(120, 44), -20), cv::Scalar(255), cv::FILLED);
  img.setTo(cv::Scalar(170, 180, 220), mask);
  cv::Mat other_floor(200, 300, CV_8UC3);
  cv::theRNG().state = 3;
  cv::randu(other_floor, 0, 255);
  cv::Mat near_body;  // the floor next to the body is kept: the mask's resampled edge blends it in
  cv::dilate(mask, near_body, cv::getStructuringElement(cv::MORPH_ELLIPSE, {9, 9}));
  img.copyTo(other_floor, near_body);
  const std::vector<eh::data::Rle> masks{eh::data::rle_encode(mask)};
  const std::vector<cv::Rect2f> boxes{cv::Rect2f(cv::boundingRect(mask))};
  auto max_diff = [&](const Embedder& e) {
    const auto a = e.embed(img, boxes, &masks)[0], b = e.embed(other_floor, boxes, &masks)[0];
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
  };
  EXPECT_LT(max_diff(*masked), 1e-5);
  EXPECT_GT(max_diff(*unmasked), 1e-2);
}

TEST(AnimalEmbedder, EvalEmbedderCommandPrintsAndWritesTheTable) {
  const auto d = write_tiny_embedder("emb_cli");
  const auto out = d / "reid_rows.json";
  const auto r = eh::test::run_cli("--threads 1 eval-embedder --model " + d.string() +
                                   " --first-pen 8001 --pens 1 --frames 1 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("store pool"), std::string::npos) << r.out;
  std::ifstream in(out);
  const auto rows = nlohmann::json::parse(in);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_GT(rows[0]["queries"].get<int>(), 0);
  EXPECT_NE(eh::test::run_cli("eval-embedder --model /nonexistent/emb").code, 0);
  // An --out that cannot be written is an error naming it, not a silent loss of the table.
  const auto bad = eh::test::run_cli("--threads 1 eval-embedder --model " + d.string() +
                                     " --first-pen 8001 --pens 1 --frames 1 --out /nonexistent/dir/rows.json");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("/nonexistent/dir/rows.json"), std::string::npos) << bad.out;
}

TEST(AnimalEmbedder, SegmenterWrapperAttachesAllOrNone) {
  const auto d = write_tiny_embedder("emb_seg");
  auto e = load_embedder(d.string());
  EmbeddingSegmenter s(std::make_shared<FixedSegmenter>(), e);
  cv::Mat img(100, 100, CV_8UC3);
  cv::randu(img, 0, 255);
  const auto det = s.segment(img);
  ASSERT_EQ(det.embeddings.size(), 3u);
  EXPECT_NO_THROW(det.validate());
  const auto alone = e->embed(img, {det.boxes[0]})[0];
  for (size_t k = 0; k < 16; ++k) EXPECT_NEAR(det.embeddings[0][k], alone[k], 1e-5);
  // The box outside the image gets the mean of the others (not a zero vector).
  for (size_t k = 0; k < 16; ++k)
    EXPECT_NEAR(det.embeddings[2][k], 0.5f * (det.embeddings[0][k] + det.embeddings[1][k]), 1e-6);
  EXPECT_THROW(EmbeddingSegmenter(nullptr, e), eh::Error);
}

TEST(AnimalEmbedder, MasksArePassedOnlyToAnEmbedderThatReadsThem) {
  // Records the masks it was given.
  struct Recorder : Embedder {
    bool reads = false;
    mutable std::vector<eh::data::Rle> seen;
    mutable bool got_null = false;
    int dim() const override { return 1; }
    bool reads_masks() const override { return reads; }
    std::vector<std::vector<float>> embed(const cv::Mat&, const std::vector<cv::Rect2f>& boxes,
                                          const std::vector<eh::data::Rle>* masks) const override {
      got_null = masks == nullptr;
      seen = masks ? *masks : std::vector<eh::data::Rle>{};
      return std::vector<std::vector<float>>(boxes.size(), std::vector<float>{1.0f});
    }
    std::string name() const override { return "recorder"; }
    std::size_t bytes() const override { return 0; }
  };
  const cv::Mat img(40, 60, CV_8UC3, cv::Scalar(90, 90, 90));
  eh::track::Detections d;  // full-frame masks, no RLEs (what a SAM 3 head gives)
  d.add({10, 5, 20, 10});
  d.masks.push_back(cv::Mat::zeros(40, 60, CV_8UC1));
  d.masks[0](cv::Rect(10, 5, 20, 10)).setTo(255);
  Recorder r;
  EXPECT_EQ(embed_detections(r, img, d).size(), 1u);
  EXPECT_TRUE(r.got_null);  // a box embedder: no encoding
  r.reads = true;
  embed_detections(r, img, d);
  ASSERT_FALSE(r.got_null);
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_EQ(r.seen[0].area(), 200);
  // RLEs already there are passed as they are.
  d.masks.clear();
  d.rles.push_back(eh::data::rle_encode(cv::Mat::ones(40, 60, CV_8UC1)));
  embed_detections(r, img, d);
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_EQ(r.seen[0].area(), 40 * 60);
  // The DINOv3 embedder reads masks exactly when its crops are turned to the body.
  EXPECT_FALSE(load_embedder(write_tiny_embedder("emb_reads_box").string())->reads_masks());
  auto j = tiny_embedder_config();
  j["crop_align"] = "body";
  const auto body = write_tiny_embedder("emb_reads_body");
  std::ofstream(body / "config.json") << j.dump(2);
  EXPECT_TRUE(load_embedder(body.string())->reads_masks());
}

TEST(AnimalTraining, EmbedderTrainsWritesModelAndEvaluates) {
  const auto d = eh::test::temp_dir("emb_train");
  std::ofstream(d / "cfg.json") << tiny_embedder_config().dump();
  EmbedderTrainOptions o;
  o.out_dir = (d / "model").string();
  o.config_path = (d / "cfg.json").string();
  o.train_pens = 2;
  o.clips_per_pen = 1;
  o.frames_per_clip = 1;
  o.steps = 4;
  o.batch = 8;
  o.warmup = 2;
  o.eval_pens = 1;
  o.threads = 1;
  o.progress = false;
  const auto r = train_embedder(o);
  EXPECT_EQ(r.identities, 16);  // 2 pens x 8 pigs (all visible at frame 0 in these seeds)
  for (auto f : {"config.json", "weights.safetensors", "card.md", "loss.svg", "reid.json"}) EXPECT_TRUE(fs::exists(d / "model" / f)) << f;
  // Gallery means raw / centred, nearest member as float / through the store's pool, the colour
  // histogram raw / centred: all on the same queries.
  ASSERT_EQ(r.reid.size(), 6u);
  EXPECT_NE(r.reid[3].method.find("store pool"), std::string::npos) << r.reid[3].method;
  for (const auto& m : r.reid) {
    EXPECT_EQ(m.queries, r.reid[0].queries) << m.method;
    EXPECT_GT(m.queries, 0);
    EXPECT_GE(m.rank1_pen, 0.0);
    EXPECT_LE(m.rank1_pen, 1.0);
  }
  EXPECT_EQ(load_embedder(o.out_dir)->dim(), 16);
  // Held-out seeds are refused for training; an existing model is not overwritten silently.
  o.first_pen = 9000;
  EXPECT_THROW(train_embedder(o), eh::Error);
  o.first_pen = 1;
  EXPECT_THROW(train_embedder(o), eh::Error);
}

TEST(AnimalTraining, BehaviourTrainsAndStreamContract) {
  BehaviourTrainOptions o = toy_behaviour_options("beh_train", 0.5, 2, 256, 16, {0.0, 0.8});
  const auto r = train_behaviour(o);
  EXPECT_GT(r.train_samples, 500);
  auto m = load_behaviour_model(o.out_dir);
  EXPECT_EQ(m->embedding_dim(), 0);
  auto s = m->new_stream({1280, 720}, 6.0);
  eh::data::Rle none;
  std::vector<TrackObservation> obs(2);
  obs[0].id = 1;
  obs[0].box = {100, 100, 200, 120};
  obs[1].id = 2;
  obs[1].box = {600, 400, 120, 200};
  for (int f = 0; f < 12; ++f) {
    obs[0].t = obs[1].t = f / 6.0;
    obs[0].box.x += 30;  // id 1 walks, id 2 stands still
    const auto p = s->update(obs);
    ASSERT_EQ(p.size(), 2u);
    for (const auto& q : p) {
      EXPECT_NE(q.label, eh::data::Behaviour::Unknown);
      double sum = 0;
      for (float x : q.probs) sum += x;
      EXPECT_NEAR(sum, 1.0, 1e-4);
      EXPECT_EQ(q.probs[0], 0.0f);
      EXPECT_FLOAT_EQ(q.confidence, q.probs[static_cast<int>(q.label)]);
    }
  }
  s->drop(1);
  EXPECT_EQ(s->update({}).size(), 0u);
  EXPECT_THROW(m->new_stream({0, 720}, 6.0), eh::Error);

  // Evaluation: the pens' own confusion matrices add up to the whole run's.
  BehaviourEvalOptions e;
  e.model_dir = o.out_dir;
  e.first_seed = 8301;
  e.pens = 2;
  e.clip.minutes = 0.25;
  e.out_dir = (fs::path(o.out_dir).parent_path() / "eval").string();
  e.progress = false;
  e.threads = 1;
  const auto ev = eval_behaviour(e);
  ASSERT_EQ(ev.per_pen.size(), 2u);
  EXPECT_EQ(ev.per_pen[0].num_gt + ev.per_pen[1].num_gt, ev.result.num_gt);
  for (size_t g = 0; g < ev.result.confusion.size(); ++g)
    for (size_t p = 0; p < ev.result.confusion[g].size(); ++p)
      EXPECT_EQ(ev.per_pen[0].confusion[g][p] + ev.per_pen[1].confusion[g][p], ev.result.confusion[g][p]) << g << "," << p;
  const auto metrics = nlohmann::json::parse(eh::test::read_file(fs::path(e.out_dir) / "metrics.json"));
  ASSERT_EQ(metrics.at("per_pen").size(), 2u);
  EXPECT_EQ(metrics["per_pen"][1]["pen"].get<int>(), 8302);
  EXPECT_EQ(metrics["per_pen"][1]["observations"].get<int64_t>(), ev.per_pen[1].num_gt);
  EXPECT_NEAR(metrics["per_pen"][0]["top1"].get<double>(), ev.per_pen[0].accuracy, 1e-12);
  const std::string pens_md = eh::test::read_file(fs::path(e.out_dir) / "pens.md");
  EXPECT_NE(pens_md.find("| 8301 | " + std::to_string(ev.per_pen[0].num_gt) + " | "), std::string::npos) << pens_md;
  EXPECT_NE(pens_md.find("| 8302 | "), std::string::npos);
  // Validation and held-out seeds must not overlap the training seeds.
  o.overwrite = true;
  o.first_val_seed = 1;
  EXPECT_THROW(train_behaviour(o), eh::UsageError);
  o.first_val_seed = 8001;
  o.first_seed = 9001;
  EXPECT_THROW(train_behaviour(o), eh::UsageError);
}

TEST(AnimalTraining, BehaviourWithPostureNetworkReadsPixels) {
  // A toy posture network: the model keeps it (config + "posture.*" weights), says it reads
  // pixels, and its stream gives the same predictions whether the posture is computed from the
  // frame or passed precomputed by BehaviourModel::posture (what eval-behaviour does).
  BehaviourTrainOptions o = toy_behaviour_options("beh_posture", 0.2, 1, 64, 8, {0.5});
  o.posture.pens = 1;
  o.posture.minutes = 0.1;
  o.posture.every = 3;
  o.posture.crop_size = 24;
  o.posture.channels = {4, 8};
  o.posture.epochs = 1;
  o.posture.batch = 16;
  const auto r = train_behaviour(o);
  EXPECT_GT(r.posture_samples, 16);
  EXPECT_GE(r.posture_val_accuracy, 0.0);
  EXPECT_LE(r.posture_val_accuracy, 1.0);
  auto m = load_behaviour_model(o.out_dir);
  ASSERT_TRUE(m->uses_pixels());
  EXPECT_NE(m->name().find("pixel posture"), std::string::npos) << m->name();
  {
    // With an embedder too, the embedding is taken on the same drawn frames as the posture: the
    // same observations become samples, each with its vector.
    BehaviourTrainOptions oe = o;
    oe.out_dir = (eh::test::temp_dir("beh_posture_emb") / "model").string();
    oe.posture.from_dir = o.out_dir;
    auto j = tiny_embedder_config();
    j["crop_align"] = "body";
    j["mask_background"] = true;
    const auto ed = write_tiny_embedder("beh_posture_embedder");
    std::ofstream(ed / "config.json") << j.dump(2);
    oe.embedder_dir = ed.string();
    const auto re = train_behaviour(oe);
    EXPECT_EQ(re.train_samples, r.train_samples);
    EXPECT_EQ(load_behaviour_model(oe.out_dir)->embedding_dim(), 16);
  }

  eh::data::SimConfig sc;
  sc.seed = 5;
  eh::data::PenSimulator sim(sc);
  auto from_image = m->new_stream(sc.size, sc.fps), precomputed = m->new_stream(sc.size, sc.fps);
  for (int f = 0; f < 6; ++f) {
    sim.step();
    std::vector<TrackObservation> obs;
    for (const auto& g : sim.ground_truth()) {
      if (g.visible_pixels < 500) continue;
      TrackObservation t;
      t.id = g.id;
      t.t = sim.time_s();
      t.box = cv::Rect2f(g.visible_box);
      t.mask = &g.mask;
      obs.push_back(t);
    }
    ASSERT_FALSE(obs.empty());
    const auto q = m->posture(sim.frame(), obs);
    ASSERT_EQ(q.size(), obs.size());
    for (const auto& p : q) EXPECT_NEAR(p[0] + p[1] + p[2], 1.0f, 1e-5);
    auto a = obs, b = obs;
    for (size_t i = 0; i < obs.size(); ++i) {
      a[i].image = &sim.frame();
      b[i].posture = &q[i];
    }
    const auto pa = from_image->update(a), pb = precomputed->update(b);
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i)
      for (int k = 0; k < eh::data::kNumBehaviours; ++k) EXPECT_NEAR(pa[i].probs[k], pb[i].probs[k], 1e-5);
  }
  // Without a frame the posture input is "unknown" and the stream still answers.
  std::vector<TrackObservation> blind(1);
  blind[0].id = 1;
  blind[0].box = {100, 100, 200, 120};
  EXPECT_EQ(m->new_stream(sc.size, sc.fps)->update(blind).size(), 1u);
  // A second model reuses this one's posture network unchanged (--posture-from).
  BehaviourTrainOptions o2 = toy_behaviour_options("beh_posture_reused", 0.2, 1, 64, 8, {0.5});
  o2.posture.from_dir = o.out_dir;
  train_behaviour(o2);
  const auto w1 = eh::st::File::open((fs::path(o.out_dir) / "weights.safetensors").string());
  const auto w2 = eh::st::File::open((fs::path(o2.out_dir) / "weights.safetensors").string());
  int compared = 0;
  for (const auto& t : w1.tensors())
    if (t.name.rfind("posture.", 0) == 0) {
      EXPECT_TRUE(torch::equal(eh::read_tensor(w1, t), eh::read_tensor(w2, t.name))) << t.name;
      ++compared;
    }
  EXPECT_GT(compared, 8);
  EXPECT_TRUE(m->uses_pixels());
  {
    // The card's command of a model with a reused network keeps the MLP's sampling (it was
    // dropped, so the command did not reproduce a model made with --posture-mlp-every 2).
    const auto dir = eh::test::temp_dir("beh_posture_cli") / "model";
    const auto r3 = eh::test::run_cli("--threads 1 train-behaviour --out " + dir.string() + " --posture-from " + o.out_dir +
                                      " --posture-mlp-every 2 --pens 1 --minutes 0.2 --val-pens 1 --eval-pens 0 --epochs 1 "
                                      "--batch 64 --hidden 8");
    ASSERT_EQ(r3.code, 0) << r3.out;
    EXPECT_NE(eh::test::read_file(dir / "card.md").find("--posture-from " + o.out_dir + " --posture-mlp-every 2"), std::string::npos);
  }
  o2.overwrite = true;
  o2.posture.from_dir = (fs::path(o.out_dir).parent_path() / "no-such-model").string();
  EXPECT_THROW(train_behaviour(o2), eh::Error);
  // Posture pens must not overlap the training pens.
  o.overwrite = true;
  o.posture.first_seed = o.first_seed;
  EXPECT_THROW(train_behaviour(o), eh::UsageError);
}

namespace {
// A posture network small enough to train in a test: pens 3004.., every 6th frame, 16 px crops.
PostureTrainOptions tiny_posture_options(int pens, double minutes) {
  PostureTrainOptions o;
  o.pens = pens;
  o.first_seed = 3004;
  o.minutes = minutes;
  o.every = 6;
  o.crop_size = 16;
  o.channels = {4};
  o.epochs = 1;
  o.batch = 8;
  return o;
}
}  // namespace

TEST(AnimalTraining, PostureSittingFromMoreFramesLeavesTheOthersAlone) {
  // Sitting animals from every 2nd frame, the others from every 6th: the upright and lying crops
  // are the same frames' as without the option, and there are more sitting crops.
  PostureTrainOptions o = tiny_posture_options(1, 0.5);  // pen 3004: a pig sits in its first half-minute
  o.max_activity = 3;
  BehaviourClipOptions clip;
  const auto plain = train_posture(o, clip, 1, 1, false);
  o.sit_every = 2;
  const auto dense = train_posture(o, clip, 1, 1, false);
  EXPECT_EQ(dense.counts[0], plain.counts[0]);
  EXPECT_EQ(dense.counts[2], plain.counts[2]);
  ASSERT_GT(plain.counts[1], 0) << "pick a pen with a sitting pig";
  EXPECT_GE(dense.counts[1], 2 * plain.counts[1]);
  o.sit_every = 4;  // does not divide 6
  EXPECT_THROW(train_posture(o, clip, 1, 1, false), eh::UsageError);
}

TEST(AnimalTraining, PostureCropsAndNetworkDoNotDependOnTheDataThreads) {
  // Three pens drawn one at a time or two at a time: the same crops in the same order, so the
  // same network.
  const PostureTrainOptions o = tiny_posture_options(3, 0.25);
  BehaviourClipOptions clip;
  const auto one = train_posture(o, clip, 1, 1, false);
  const auto two = train_posture(o, clip, 1, 2, false);
  ASSERT_GT(one.samples, 0);
  EXPECT_EQ(two.samples, one.samples);
  for (int k = 0; k < kPostureGroups; ++k) EXPECT_EQ(two.counts[k], one.counts[k]) << k;
  EXPECT_EQ(two.loss, one.loss);
  const auto a = one.net->named_parameters(), b = two.net->named_parameters();
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
}

TEST(AnimalBehaviour, LoadErrorsNameTheField) {
  EXPECT_THROW(load_behaviour_model("/nonexistent/beh"), eh::Error);
  BehaviourConfig c;
  c.pen = PenLandmarks::from_layout(eh::data::make_pen_layout({1280, 720}));
  auto j = c.to_json();
  EXPECT_NO_THROW(BehaviourConfig::from_json(j, "b.json"));
  auto bad = j;
  bad["stay"] = 1.5;
  EXPECT_THROW(BehaviourConfig::from_json(bad, "b.json"), eh::Error);
  bad = j;
  bad["features"] = std::vector<std::string>{"speed"};
  try {
    BehaviourConfig::from_json(bad, "b.json");
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("features"), std::string::npos) << e.what();
  }
  bad = j;
  bad["lookahead_frames"] = 3;  // lag_frames is 0
  try {
    BehaviourConfig::from_json(bad, "b.json");
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'lookahead_frames' (3) must equal 'lag_frames' (0)"), std::string::npos) << e.what();
  }
  bad["lag_frames"] = 3;
  EXPECT_EQ(BehaviourConfig::from_json(bad, "b.json").inputs(), 2 * num_motion_features());
  bad = j;
  bad.erase("lookahead_frames");  // models from before the look-ahead
  EXPECT_EQ(BehaviourConfig::from_json(bad, "b.json").lookahead_frames, 0);
  bad = j;
  bad.erase("pen");
  EXPECT_THROW(BehaviourConfig::from_json(bad, "b.json"), eh::Error);
  // Transitions: 9 rows of 9 probabilities summing to 1.
  std::vector<std::vector<double>> t(9, std::vector<double>(9, 1.0 / 9));
  bad = j;
  bad["transitions"] = t;
  EXPECT_EQ(BehaviourConfig::from_json(bad, "b.json").transitions.size(), 9u);
  t[3][3] += 0.5;
  bad["transitions"] = t;
  try {
    BehaviourConfig::from_json(bad, "b.json");
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("transitions': row 3 sums to"), std::string::npos) << e.what();
  }
  t.pop_back();
  bad["transitions"] = t;
  EXPECT_THROW(BehaviourConfig::from_json(bad, "b.json"), eh::Error);
  // Logit bias: 9 finite numbers.
  bad = j;
  bad["logit_bias"] = std::vector<double>(9, 0.25);
  EXPECT_EQ(BehaviourConfig::from_json(bad, "b.json").logit_bias.size(), 9u);
  bad["logit_bias"] = std::vector<double>(8, 0.25);
  try {
    BehaviourConfig::from_json(bad, "b.json");
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("logit_bias"), std::string::npos) << e.what();
  }
}

TEST(AnimalBehaviour, TransitionFilterMatchesHandComputedRecursion) {
  // One trained toy model, three smoothing configs on the same weights: stay 0 gives the
  // classifier's own probabilities p_t; the identity matrix must equal no matrix (the sticky
  // filter); a matrix T must give b_t ~ p_t * (stay * T' b_{t-1} + (1 - stay) / 8).
  BehaviourTrainOptions o = toy_behaviour_options("beh_transitions", 0.3, 1, 128, 8, {0.0});
  train_behaviour(o);
  const fs::path dir(o.out_dir);
  nlohmann::json cfg;
  std::ifstream(dir / "config.json") >> cfg;
  EXPECT_EQ(cfg["lag_frames"], o.lag_frames);
  cfg["lag_frames"] = 0;  // the configs below differ in the smoothing only
  auto with = [&](const std::string& name, double stay, const nlohmann::json& transitions) {
    return with_smoothing(dir, cfg, name, stay, transitions);
  };
  constexpr int K = eh::data::kNumBehaviours;
  std::vector<std::vector<double>> I(K, std::vector<double>(K, 0.0)), T(K, std::vector<double>(K, 0.0));
  for (int r = 0; r < K; ++r) {
    I[r][r] = 1;
    for (int c = 1; c < K; ++c) T[r][c] = r == 0 ? (c == 1) : (r == c ? 0.6 : 0.4 / 7);
  }
  auto raw = with("raw", 0.0, nullptr), sticky = with("sticky", 0.7, nullptr), ident = with("ident", 0.7, I), mat = with("mat", 0.7, T);
  // A logit bias multiplies the classifier's probabilities by exp(bias), renormalised.
  const std::vector<double> bias{0, 0.5, 0, -1, 0, 0, 0.2, 0, 0};
  cfg["logit_bias"] = bias;
  auto biased = with("biased", 0.0, nullptr);
  cfg.erase("logit_bias");
  // Fixed lag of 3 frames: revised(t_{f-3}) at frame f ~ alpha_{f-3} * beta, with beta from the
  // three later frames: beta_{u-1}(j) = sum_k M(j, k) p_u(k) beta_u(k), M = 0.7 T + 0.3 / 8.
  cfg["lag_frames"] = 3;
  auto lagged = with("lagged", 0.7, T);
  cfg["lag_frames"] = 0;
  EXPECT_EQ(lagged->lag_frames(), 3);
  EXPECT_EQ(mat->lag_frames(), 0);
  auto sr = raw->new_stream({1280, 720}, 6), ss = sticky->new_stream({1280, 720}, 6), si = ident->new_stream({1280, 720}, 6),
       sm = mat->new_stream({1280, 720}, 6), sb = biased->new_stream({1280, 720}, 6), sl = lagged->new_stream({1280, 720}, 6);
  std::vector<std::array<double, K>> alphas, ps;
  std::vector<TrackObservation> obs(1);
  obs[0].id = 4;
  obs[0].box = {300, 200, 180, 90};
  std::array<double, K> b{};
  for (int f = 0; f < 10; ++f) {
    obs[0].t = f / 6.0;
    obs[0].box.x += (f % 3) * 25.0f;  // walks in bursts
    const auto p = sr->update(obs)[0].probs;
    const auto a = ss->update(obs)[0].probs, c = si->update(obs)[0].probs, m = sm->update(obs)[0].probs;
    const auto pb = sb->update(obs)[0].probs;
    double zb = 0;
    for (int k = 1; k < K; ++k) zb += p[k] * std::exp(bias[k]);
    for (int k = 1; k < K; ++k) EXPECT_NEAR(pb[k], p[k] * std::exp(bias[k]) / zb, 1e-5) << f << " " << k;
    std::array<double, K> nb{};
    double sum = 0;
    for (int k = 1; k < K; ++k) {
      double moved = 0;
      for (int j = 1; j < K; ++j) moved += b[j] * T[j][k];
      nb[k] = p[k] * (f == 0 ? 1.0 / 8 : 0.7 * moved + 0.3 / 8);
      sum += nb[k];
    }
    for (int k = 1; k < K; ++k) {
      b[k] = nb[k] / sum;
      EXPECT_NEAR(a[k], c[k], 1e-6) << f << " " << k;
      EXPECT_NEAR(m[k], b[k], 1e-5) << f << " " << k;
    }
    const auto l = sl->update(obs)[0].probs;
    for (int k = 1; k < K; ++k) EXPECT_NEAR(l[k], b[k], 1e-5) << "filtered output unchanged by the lag";
    alphas.push_back(b);
    std::array<double, K> pk{};
    for (int k = 0; k < K; ++k) pk[k] = p[k];
    ps.push_back(pk);
    if (f >= 3) {
      std::array<double, K> beta;
      beta.fill(1.0);
      for (int u = f; u > f - 3; --u) {
        std::array<double, K> nbeta{};
        for (int j = 1; j < K; ++j)
          for (int k = 1; k < K; ++k) nbeta[j] += (0.7 * T[j][k] + 0.3 / 8) * ps[u][k] * beta[k];
        beta = nbeta;
      }
      double z = 0;
      for (int k = 1; k < K; ++k) z += alphas[f - 3][k] * beta[k];
      const auto r = sl->revised(4, (f - 3) / 6.0);
      ASSERT_TRUE(r.has_value()) << f;
      for (int k = 1; k < K; ++k) EXPECT_NEAR(r->probs[k], alphas[f - 3][k] * beta[k] / z, 1e-5) << f << " " << k;
      EXPECT_FLOAT_EQ(r->confidence, r->probs[static_cast<int>(r->label)]);
      // Older than the lag, another track, or a model without a lag: nothing to revise.
      if (f >= 4) EXPECT_FALSE(sl->revised(4, (f - 4) / 6.0).has_value());
      EXPECT_FALSE(sl->revised(99, (f - 3) / 6.0).has_value());
      EXPECT_FALSE(sm->revised(4, (f - 3) / 6.0).has_value());
    }
  }
}

TEST(AnimalBehaviour, LookaheadWindowIsLookaheadFramesLong) {
  // 3 frames at 6 fps: (t, t + 0.5 s]; training and the stream both pick by these two rules.
  EXPECT_TRUE(in_lookahead(1.0, 1.0 + 1 / 6.0, 3, 6));
  EXPECT_TRUE(in_lookahead(1.0, 1.5, 3, 6));
  EXPECT_FALSE(in_lookahead(1.0, 1.0 + 4 / 6.0, 3, 6));
  EXPECT_FALSE(in_lookahead(1.0, 1.0, 3, 6));
  EXPECT_FALSE(in_lookahead(1.0, 0.9, 3, 6));
  EXPECT_TRUE(in_lookahead(0.0, 0.2, 2, 10));
  EXPECT_FALSE(in_lookahead(0.0, 0.3, 2, 10));
  EXPECT_TRUE(lookahead_complete(1.0, 1.5, 3, 6));
  EXPECT_TRUE(lookahead_complete(1.0, 3.0, 3, 6));
  EXPECT_FALSE(lookahead_complete(1.0, 1.0 + 2 / 6.0, 3, 6));
}

TEST(AnimalBehaviour, LookaheadReadsLaterMotionUpToItsWindow) {
  // A toy model with a 3-frame look-ahead. Two tracks walk the same path for frames 0..5 and
  // part at frame 6: labels of frames 0..2 (look-ahead up to frame 5) must be equal, frame 3's
  // (which reads frame 6) must not. The final labels are the forward filter over the
  // classifier's look-ahead probabilities (those of a stay-0 copy), as hand-computed here.
  BehaviourTrainOptions o = toy_behaviour_options("beh_lookahead", 0.3, 1, 128, 8, {0.7});
  o.lag_frames = 3;
  o.lookahead_frames = 3;
  train_behaviour(o);
  const fs::path dir(o.out_dir);
  nlohmann::json cfg;
  std::ifstream(dir / "config.json") >> cfg;
  EXPECT_EQ(cfg["lookahead_frames"], 3);
  cfg.erase("logit_bias");
  auto raw = with_smoothing(dir, cfg, "raw", 0.0, nullptr), sticky = with_smoothing(dir, cfg, "sticky", 0.7, nullptr);
  EXPECT_EQ(sticky->lag_frames(), 3);
  constexpr int K = eh::data::kNumBehaviours;
  const cv::Size size(1280, 720);
  auto sa = sticky->new_stream(size, 6), sb = sticky->new_stream(size, 6), sr = raw->new_stream(size, 6), srb = raw->new_stream(size, 6);
  auto s_gap = sticky->new_stream(size, 6), s_end = sticky->new_stream(size, 6);
  auto obs_at = [](int f, bool part) {
    std::vector<TrackObservation> v(1);
    v[0].id = 4;
    v[0].t = f / 6.0;
    v[0].box = {300.0f + 25.0f * std::min(f, 5), 200.0f, 180, 90};
    if (part && f > 5) v[0].box.y += 70.0f * (f - 5);  // B runs off at frame 6
    if (!part && f > 5) v[0].box.x += 25.0f * (f - 5);
    return v;
  };
  std::vector<std::array<float, K>> fa, fb, p, pb;
  for (int f = 0; f < 12; ++f) {
    const auto a = sa->update(obs_at(f, false)), b = sb->update(obs_at(f, true));
    sr->update(obs_at(f, false));
    srb->update(obs_at(f, true));
    if (f <= 1 || f >= 6) s_gap->update(obs_at(f, false));
    if (f <= 1) s_end->update(obs_at(f, false));
    // Provisional labels are causal: equal until the paths part.
    for (int k = 1; k < K; ++k)
      if (f <= 5) EXPECT_FLOAT_EQ(a[0].probs[k], b[0].probs[k]) << f;
    if (f < 3) continue;
    const double t = (f - 3) / 6.0;  // asked once 3 later frames were seen, as the pipeline does
    const auto ra = sa->revised(4, t), rb = sb->revised(4, t), rr = sr->revised(4, t), rrb = srb->revised(4, t);
    ASSERT_TRUE(ra && rb && rr && rrb) << f;
    fa.push_back(ra->probs);
    fb.push_back(rb->probs);
    p.push_back(rr->probs);
    pb.push_back(rrb->probs);
    EXPECT_EQ(sa->revised(4, t)->probs, ra->probs) << "final labels do not change";
    EXPECT_FLOAT_EQ(ra->confidence, ra->probs[static_cast<int>(ra->label)]);
  }
  for (int u = 0; u <= 2; ++u) EXPECT_EQ(fa[u], fb[u]) << "frame " << u << " reads only frames up to " << u + 3;
  // The classifier's own output for frame 3, in log-probabilities over the classes it gives
  // any weight (a toy model is confident).
  double diff = 0;
  for (int k = 1; k < K; ++k)
    if (p[3][k] > 1e-30f && pb[3][k] > 1e-30f) diff = std::max(diff, std::fabs(std::log(double(p[3][k]) / pb[3][k])));
  EXPECT_GT(diff, 0.1) << "frame 3 reads frame 6";
  for (int u = 0; u <= 2; ++u) EXPECT_EQ(p[u], pb[u]) << u;
  // Forward filter over the look-ahead probabilities: b_u ~ p_u * (0.7 b_{u-1} + 0.3 / 8).
  std::array<double, K> bel{};
  for (size_t u = 0; u < p.size(); ++u) {
    double z = 0;
    std::array<double, K> nb{};
    for (int k = 1; k < K; ++k) z += nb[k] = p[u][k] * (u == 0 ? 1.0 / 8 : 0.7 * bel[k] + 0.3 / 8);
    for (int k = 1; k < K; ++k) {
      bel[k] = nb[k] / z;
      EXPECT_NEAR(fa[u][k], bel[k], 1e-5) << u << " " << k;
    }
  }
  EXPECT_FALSE(sa->revised(4, 0.0).has_value()) << "frame 0 is no longer kept at frame 11";
  EXPECT_FALSE(sa->revised(5, 0.0).has_value());
  // Unseen for frames 2..5: frame 0 reads frame 1, as when the track ends after frame 1.
  const auto g = s_gap->revised(4, 0.0), e = s_end->revised(4, 0.0);
  const auto g1 = s_gap->revised(4, 1 / 6.0), e1 = s_end->revised(4, 1 / 6.0);
  ASSERT_TRUE(g && e && g1 && e1);
  for (int k = 1; k < K; ++k) {  // (batches of other sizes: last-bit differences only)
    EXPECT_NEAR(g->probs[k], e->probs[k], 1e-6) << k;
    EXPECT_NEAR(g1->probs[k], e1->probs[k], 1e-6) << k;
  }
}
