// SAM 3 tracker (Sam3TrackerBase) against the upstream fixture in tests/data/sam3_tracker (written by
// tools/fixtures/sam3_tracker/gen.py): the released key set, each component on the fixture's recorded inputs
// (prompt encoder, mask decoder, memory encoder, memory attention), and whole multi-frame tracking runs in
// two scenarios (points, then tracking; mask, tracking, correction click, tracking) with every stored output
// and intermediate compared frame by frame. Tolerance: the fixture README's 1e-4 + 1e-4*|ref|, never widened here.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/state_dict.h"
#include "core/tensor_io.h"
#include "models/manifest_compare.h"
#include "models/sam3/components.h"
#include "models/sam3/tracker.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace eh::models;

namespace {

const fs::path kDir = fs::path(EH_TEST_DATA_DIR "/sam3_tracker");
const fs::path kFull = fs::path(EH_TEST_DATA_DIR "/sam3_backbone/manifest_full.tsv");
constexpr int64_t kNumFrames = 5;

class Sam3TrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDir / "io.safetensors")) GTEST_SKIP() << "fixture missing: " << kDir;
  }
};

Sam3Tracker load_net() {
  auto cfg = eh::Config::load((kDir / "config.json").string());
  Sam3Tracker net(Sam3TrackerConfig::from(cfg));
  eh::load_state_dict(*net, (kDir / "weights.safetensors").string());  // strict
  net->eval();
  return net;
}

struct Io {
  eh::st::File f = eh::st::File::open((kDir / "io.safetensors").string());
  bool has(const std::string& k) const { return f.find(k) != nullptr; }
  at::Tensor get(const std::string& k) const { return eh::read_tensor(f, k); }
  Sam3TrackerFrame frame(int64_t t) const {
    const std::string p = "video.f" + std::to_string(t) + ".input.backbone_fpn.";
    return {get(p + "0"), get(p + "1"), get(p + "2"), get("video.input.vision_pos_enc.2")};
  }
};

// Compares at 1e-4 + 1e-4*|ref|; bool / integer tensors must be equal. Keeps the worst ratio error / tolerance.
struct Checker {
  double worst = 0, max_abs = 0;
  std::string worst_key;
  int compared = 0;
  std::vector<std::string> failures;
  bool check(const std::string& key, const at::Tensor& got_in, const at::Tensor& ref) {
    ++compared;
    if (!got_in.defined()) {
      failures.push_back(key + ": not produced");
      return false;
    }
    auto got = got_in.detach();
    if (got.sizes() != ref.sizes()) {
      failures.push_back(key + ": shape " + eh::shape_str(got.sizes()) + " vs " + eh::shape_str(ref.sizes()));
      return false;
    }
    if (ref.scalar_type() == torch::kBool || ref.scalar_type() == torch::kLong) {
      if (!torch::equal(got.to(ref.scalar_type()), ref)) {
        failures.push_back(key + ": differs");
        return false;
      }
      return true;
    }
    auto r = ref.to(torch::kDouble), g = got.to(torch::kDouble);
    auto ratio = ((g - r).abs() / (1e-4 + 1e-4 * r.abs())).max().item<double>();
    max_abs = std::max(max_abs, (g - r).abs().max().item<double>());
    if (ratio > worst) {
      worst = ratio;
      worst_key = key;
    }
    if (!(ratio <= 1.0)) {
      std::ostringstream s;
      s << key << ": max |diff| " << (g - r).abs().max().item<double>() << " exceeds 1e-4 + 1e-4*|ref| (ratio " << ratio
        << ")";
      failures.push_back(s.str());
      return false;
    }
    return true;
  }
  std::string report() const {
    std::string s;
    for (const auto& f : failures) s += f + "\n";
    std::ostringstream o;
    o << "largest |diff| " << max_abs << "; worst relative to the tolerance: " << (worst_key.empty() ? "-" : worst_key)
      << " at " << worst;
    return s + o.str();
  }
};

struct Step {
  int64_t frame;
  bool init_cond;
};
const std::map<std::string, std::vector<Step>>& scenarios() {
  static const std::map<std::string, std::vector<Step>> s = {
      {"points", {{0, true}, {1, false}, {2, false}, {3, false}, {4, false}}},
      {"mask", {{0, true}, {1, false}, {2, false}, {3, false}}}};
  return s;
}

Sam3TrackerPrompt prompt_of(const Io& io, const std::string& pre) {
  Sam3TrackerPrompt p;
  if (io.has(pre + "input.points")) {
    p.point_coords = io.get(pre + "input.points");
    p.point_labels = io.get(pre + "input.point_labels");
  }
  if (io.has(pre + "input.mask")) p.mask = io.get(pre + "input.mask");
  return p;
}

// Runs a scenario through track(); compares every stored tensor of every frame. Returns the number of
// stored tensors of the scenario (inputs excluded).
int run_scenario(Sam3Tracker& net, const Io& io, const std::string& name, Checker& ck) {
  torch::NoGradGuard g;
  Sam3TrackerMemory mem;
  int stored = 0;
  for (const auto& st : scenarios().at(name)) {
    const std::string pre = name + ".f" + std::to_string(st.frame) + ".";
    eh::models::TensorMap trace;
    auto prompt = prompt_of(io, pre);
    auto out = net->track_step(st.frame, st.init_cond, io.frame(st.frame), prompt, mem, kNumFrames, true, &trace);
    mem.add(st.frame, st.init_cond || prompt.has_points() || prompt.has_mask(), out);
    mem.prune(st.frame + 1, net->config());
    trace["output.low_res_masks"] = out.low_res_masks;
    trace["output.high_res_masks"] = out.high_res_masks;
    trace["output.obj_ptr"] = out.obj_ptr;
    trace["output.object_score_logits"] = out.object_score_logits;
    trace["output.maskmem_features"] = out.maskmem_features;
    trace["output.maskmem_pos_enc"] = out.maskmem_pos_enc;
    for (const auto& t : io.f.tensors()) {
      if (t.name.rfind(pre, 0) != 0) continue;
      const std::string k = t.name.substr(pre.size());
      if (k.rfind("input.", 0) == 0) continue;
      ++stored;
      auto it = trace.find(k);
      ck.check(t.name, it == trace.end() ? at::Tensor() : it->second, io.get(t.name));
    }
  }
  return stored;
}

}  // namespace

// ---- stage 1: keys ------------------------------------------------------------------------------

TEST(Sam3TrackerKeys, FullSizeKeysAndShapesAreTheTrackerSliceOfSam3Pt) {
  // Every `tracker.*` row of sam3.pt's manifest, prefix stripped, in order, with its shape and dtype.
  auto full = read_manifest(kFull.string());
  Manifest ref;
  int64_t params = 0;
  for (const auto& e : full.entries) {
    if (e.key.rfind("tracker.", 0) != 0) continue;
    ref.entries.push_back({e.key.substr(8), e.shape, e.dtype});
    if (e.key.find("positional_encoding_gaussian_matrix") == std::string::npos) params += manifest_numel(e.shape);
  }
  ASSERT_EQ(ref.entries.size(), 309u);
  EXPECT_EQ(params, 11743362);
  ref.params = params;
  Sam3Tracker net(sam3_full_tracker_config());
  auto ours = parse_manifest(eh::manifest(*net, "sam3_tracker full"), "ours");
  auto diff = compare_manifests(ours, ref);
  std::string all;
  for (const auto& d : diff) all += d + "\n";
  EXPECT_TRUE(diff.empty()) << all;
  auto n = eh::count_elements(*net);
  EXPECT_EQ(n.params, 11743362);
  EXPECT_EQ(n.buffers, 256);  // sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix [2, 128]
}

TEST(Sam3TrackerKeys, ComponentTableCountsTheTrackerUnderItsPrefix) {
  EXPECT_EQ(sam3_arch_root("sam3_tracker"), "tracker.");
  Sam3Tracker net(sam3_full_tracker_config());
  auto m = parse_manifest(eh::manifest(*net, "sam3_tracker full"), "ours");
  auto c = sam3_component_counts(m, "tracker.");
  EXPECT_TRUE(c.unassigned.empty());
  EXPECT_EQ(c.total_params, 11743362);
  EXPECT_EQ(c.total_keys, 309);
}

TEST_F(Sam3TrackerTest, ReducedWeightsBindStrictlyAndAWrongConfigIsRejected) {
  auto net = load_net();  // strict: throws on any missing / unexpected / mis-shaped key
  auto cfg = eh::Config::load((kDir / "config.json").string());
  auto j = cfg.json();
  j["num_maskmem"] = 4;  // maskmem_tpos_enc [4, ...] vs the file's [3, ...]
  eh::Config bad(j, "bad.json");
  Sam3Tracker other(Sam3TrackerConfig::from(bad));
  EXPECT_THROW(eh::load_state_dict(*other, (kDir / "weights.safetensors").string()), eh::Error);
  j = cfg.json();
  j["num_maskmen"] = 4;
  eh::Config typo(j, "typo.json");
  EXPECT_THROW(Sam3TrackerConfig::from(typo), eh::Error);
}

// ---- stage 2: SAM prompt encoder + mask decoder -------------------------------------------------

TEST_F(Sam3TrackerTest, PromptEncoderAndMaskDecoderMatchUpstreamOnEveryFrame) {
  torch::NoGradGuard g;
  auto net = load_net();
  Io io;
  Checker ck;
  int frames = 0;
  for (const auto& [name, steps] : scenarios())
    for (const auto& st : steps) {
      const std::string pre = name + ".f" + std::to_string(st.frame) + ".intermediate.";
      auto prompt = prompt_of(io, name + ".f" + std::to_string(st.frame) + ".");
      const int64_t B = 2;
      at::Tensor coords = prompt.point_coords, labels = prompt.point_labels;
      if (!coords.defined()) {
        coords = torch::zeros({B, 1, 2});
        labels = -torch::ones({B, 1}, torch::kLong);
      }
      at::Tensor mask_prompt;
      if (io.has(pre + "prompt_encoder.mask_prompt")) mask_prompt = io.get(pre + "prompt_encoder.mask_prompt");
      auto [sparse, dense] = net->prompt_encoder()->forward(coords, labels, mask_prompt);
      ck.check(pre + "prompt_encoder.sparse", sparse, io.get(pre + "prompt_encoder.sparse"));
      ck.check(pre + "prompt_encoder.dense", dense, io.get(pre + "prompt_encoder.dense"));
      auto f = io.frame(st.frame);
      auto dec = net->mask_decoder();
      auto s0 = dec->conv_s0(f.fpn0).expand({B, -1, -1, -1}), s1 = dec->conv_s1(f.fpn1).expand({B, -1, -1, -1});
      const bool multimask = io.get(pre + "mask_decoder.multimask_output").item<bool>();
      auto o = dec->forward(io.get(pre + "mask_decoder.image_embeddings"), net->prompt_encoder()->dense_pe(),
                            io.get(pre + "prompt_encoder.sparse"), io.get(pre + "prompt_encoder.dense"), multimask, s0, s1);
      ck.check(pre + "mask_decoder.masks", o.masks, io.get(pre + "mask_decoder.masks"));
      ck.check(pre + "mask_decoder.iou_pred", o.iou_pred, io.get(pre + "mask_decoder.iou_pred"));
      ck.check(pre + "mask_decoder.sam_tokens_out", o.sam_tokens_out, io.get(pre + "mask_decoder.sam_tokens_out"));
      ck.check(pre + "mask_decoder.object_score_logits", o.object_score_logits,
               io.get(pre + "mask_decoder.object_score_logits"));
      ++frames;
    }
  EXPECT_EQ(frames, 9);
  EXPECT_TRUE(ck.failures.empty()) << ck.report();
  std::cout << "[prompt encoder + mask decoder] " << ck.compared << " tensors, " << ck.report() << "\n";
}

// ---- stage 3: memory encoder ----------------------------------------------------------------------

TEST_F(Sam3TrackerTest, MemoryEncoderMatchesUpstreamOnEveryFrame) {
  torch::NoGradGuard g;
  auto net = load_net();
  Io io;
  Checker ck;
  for (const auto& [name, steps] : scenarios())
    for (const auto& st : steps) {
      const std::string pre = name + ".f" + std::to_string(st.frame) + ".";
      const bool from_points = io.has(pre + "input.points");
      auto feat = io.frame(st.frame).fpn2.expand({2, -1, -1, -1});
      auto high = io.get(pre + "output.high_res_masks");
      // the memory encoder alone, on the mask the tracker gives it
      auto m = from_points ? (high > 0).to(torch::kFloat) : torch::sigmoid(high);
      auto enc = net->memory_encoder()->forward(feat, m * 20.0 + (-10.0));
      ck.check(pre + "intermediate.memory_encoder.vision_features", enc.vision_features,
               io.get(pre + "intermediate.memory_encoder.vision_features"));
      ck.check(pre + "intermediate.memory_encoder.vision_pos_enc", enc.vision_pos_enc,
               io.get(pre + "intermediate.memory_encoder.vision_pos_enc"));
      // _encode_new_memory (no-object embedding where the object score is <= 0)
      auto [features, pos] =
          net->encode_new_memory(feat, high, io.get(pre + "output.object_score_logits"), from_points);
      ck.check(pre + "output.maskmem_features", features, io.get(pre + "output.maskmem_features"));
      ck.check(pre + "output.maskmem_pos_enc", pos, io.get(pre + "output.maskmem_pos_enc"));
    }
  EXPECT_EQ(ck.compared, 36);
  EXPECT_TRUE(ck.failures.empty()) << ck.report();
  std::cout << "[memory encoder] " << ck.compared << " tensors, " << ck.report() << "\n";
}

// ---- stage 4: memory attention --------------------------------------------------------------------

TEST_F(Sam3TrackerTest, MemoryAttentionMatchesUpstreamOnEveryTrackedFrame) {
  torch::NoGradGuard g;
  auto net = load_net();
  Io io;
  Checker ck;
  for (const auto& [name, steps] : scenarios())
    for (const auto& st : steps) {
      const std::string pre = name + ".f" + std::to_string(st.frame) + ".intermediate.memory_attention.";
      if (!io.has(pre + "memory")) continue;
      auto f = io.frame(st.frame);
      auto src = f.fpn2.expand({2, -1, -1, -1}).flatten(2).permute({2, 0, 1});
      auto pos = f.pos2.expand({2, -1, -1, -1}).flatten(2).permute({2, 0, 1});
      auto out = net->memory_attention()->forward(src, pos, io.get(pre + "prompt"), io.get(pre + "prompt_pos"),
                                                  io.get(pre + "num_obj_ptr_tokens").item<int64_t>());
      ck.check(pre + "memory", out, io.get(pre + "memory"));
    }
  EXPECT_EQ(ck.compared, 7);  // points f1..f4, mask f1..f3 (f2 is a correction click, also memory-conditioned)
  EXPECT_TRUE(ck.failures.empty()) << ck.report();
  std::cout << "[memory attention] " << ck.compared << " tensors, " << ck.report() << "\n";
}

// ---- stage 5: multi-frame tracking ----------------------------------------------------------------

TEST_F(Sam3TrackerTest, MultiFrameTrackingMatchesUpstreamFrameByFrame) {
  auto net = load_net();
  Io io;
  for (const auto& [name, steps] : scenarios()) {
    Checker ck;
    const int stored = run_scenario(net, io, name, ck);
    EXPECT_GT(stored, 20 * static_cast<int>(steps.size()) - 20) << name;
    EXPECT_EQ(ck.compared, stored) << name;
    EXPECT_TRUE(ck.failures.empty()) << name << ":\n" << ck.report();
    std::cout << "[track " << name << "] " << ck.compared << " tensors over " << steps.size() << " frames, "
              << ck.report() << "\n";
  }
}

TEST_F(Sam3TrackerTest, PerturbingOneWeightBreaksParity) {
  // The memory attention's first cross-attention key projection: only memory-conditioned frames see it.
  auto net = load_net();
  {
    torch::NoGradGuard g;
    for (auto& p : net->named_parameters())
      if (p.key() == "transformer.encoder.layers.0.cross_attn_image.k_proj.weight") p.value()[0][0].add_(0.05);
  }
  Io io;
  Checker ck;
  run_scenario(net, io, "points", ck);
  EXPECT_FALSE(ck.failures.empty());
  bool frame0_ok = true;
  for (const auto& f : ck.failures) frame0_ok = frame0_ok && f.rfind("points.f0.", 0) != 0;
  EXPECT_TRUE(frame0_ok) << ck.report();  // frame 0 does not use the memory
}

TEST_F(Sam3TrackerTest, MemoryBankKeepsConditioningFramesAndPrunesOldOnes) {
  torch::NoGradGuard g;
  auto net = load_net();  // num_maskmem 3, max_obj_ptrs_in_encoder 3
  Io io;
  Sam3TrackerMemory mem;
  for (const auto& st : scenarios().at("points")) {
    auto prompt = prompt_of(io, "points.f" + std::to_string(st.frame) + ".");
    net->track(st.frame, st.init_cond, io.frame(st.frame), prompt, mem, kNumFrames);
  }
  EXPECT_EQ(mem.cond.size(), 1u);
  EXPECT_EQ(mem.cond.count(0), 1u);
  std::vector<int64_t> kept;
  for (const auto& [t, o] : mem.non_cond) kept.push_back(t);
  EXPECT_EQ(kept, (std::vector<int64_t>{3, 4}));  // frame 5 would read frames 3, 4 only
  EXPECT_EQ(mem.num_objects(), 2);
}

TEST(Sam3TrackerUnits, SelectClosestConditioningFrames) {
  const std::vector<int64_t> cond = {0, 5, 10, 20};
  auto [a, ua] = sam3_select_closest_cond_frames(12, cond, -1, false);
  EXPECT_EQ(a, cond);
  EXPECT_TRUE(ua.empty());
  auto [b, ub] = sam3_select_closest_cond_frames(12, cond, 2, false);
  EXPECT_EQ(b, (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(ub, (std::vector<int64_t>{0, 5}));
  auto [c, uc] = sam3_select_closest_cond_frames(12, cond, 3, false);
  EXPECT_EQ(c, (std::vector<int64_t>{10, 20, 5}));
  auto [d, ud] = sam3_select_closest_cond_frames(12, cond, 3, true);
  EXPECT_EQ(d, (std::vector<int64_t>{0, 10, 20}));
  auto [e, ue] = sam3_select_closest_cond_frames(10, cond, 2, false);  // "after" includes the frame itself
  EXPECT_EQ(e, (std::vector<int64_t>{5, 10}));
  EXPECT_THROW(sam3_select_closest_cond_frames(12, cond, 1, false), eh::Error);
}

TEST_F(Sam3TrackerTest, BadInputsAreClearErrors) {
  torch::NoGradGuard g;
  auto net = load_net();
  Io io;
  Sam3TrackerMemory empty;
  // a tracked frame needs a conditioning frame in the memory
  try {
    net->track_step(1, false, io.frame(1), {}, empty, kNumFrames);
    FAIL() << "no error";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no conditioning frame"), std::string::npos) << e.what();
  }
  Sam3TrackerPrompt both = prompt_of(io, "points.f0.");
  both.mask = torch::ones({2, 1, 84, 84}, torch::kBool);
  EXPECT_THROW(net->track_step(0, true, io.frame(0), both, empty, kNumFrames), eh::Error);
  auto f = io.frame(0);
  f.fpn0 = f.fpn0.slice(2, 0, 20);
  try {
    net->track_step(0, true, f, prompt_of(io, "points.f0."), empty, kNumFrames);
    FAIL() << "no error";
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("fpn0"), std::string::npos) << e.what();
  }
}

TEST(Sam3TrackerFullSize, TwoFramesRunAtTheReleasedSize) {
  // Random weights, 1 object: a point-prompted frame, then a tracked frame (memory attention over 5184 tokens).
  torch::NoGradGuard g;
  torch::manual_seed(0);
  Sam3Tracker net(sam3_full_tracker_config());
  net->eval();
  const auto& c = net->config();
  const int64_t G = c.embedding_size(), d = c.d_model;
  ASSERT_EQ(G, 72);
  Sam3TrackerFrame f{torch::randn({1, d, 4 * G, 4 * G}), torch::randn({1, d, 2 * G, 2 * G}), torch::randn({1, d, G, G}),
                     torch::randn({1, d, G, G})};
  Sam3TrackerPrompt p{torch::tensor({{{500.0f, 400.0f}}}), torch::tensor({{1L}}), {}};
  Sam3TrackerMemory mem;
  auto o0 = net->track(0, true, f, p, mem, 10);
  EXPECT_EQ(o0.low_res_masks.sizes(), (std::vector<int64_t>{1, 1, 288, 288}));
  EXPECT_EQ(o0.high_res_masks.sizes(), (std::vector<int64_t>{1, 1, 1008, 1008}));
  EXPECT_EQ(o0.maskmem_features.sizes(), (std::vector<int64_t>{1, 64, 72, 72}));
  EXPECT_EQ(o0.low_res_multimasks.size(1), 3);  // one point on the initial frame: multimask
  auto o1 = net->track(1, false, f, {}, mem, 10);
  EXPECT_EQ(o1.obj_ptr.sizes(), (std::vector<int64_t>{1, 256}));
  EXPECT_TRUE(torch::isfinite(o1.high_res_masks).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(o1.maskmem_features).all().item<bool>());
}

TEST_F(Sam3TrackerTest, LoadsTheTrackerPartOfAVideoImageOrTrackerOnlyCheckpoint) {
  // The fixture's weights inside synthetic checkpoints: video naming (detector.* + tracker.*), image model with
  // instance interactivity (inst_interactive_predictor.model.*), tracker only; a detector-only file is refused.
  auto w = eh::st::File::open((kDir / "weights.safetensors").string());
  eh::NamedTensors video, image, detector_only;
  video.emplace_back("detector.backbone.vision_backbone.trunk.pos_embed", torch::zeros({1, 5, 8}));
  image.emplace_back("backbone.vision_backbone.trunk.pos_embed", torch::zeros({1, 5, 8}));
  detector_only.emplace_back("detector.backbone.vision_backbone.trunk.pos_embed", torch::zeros({1, 5, 8}));
  for (const auto& t : w.tensors()) {
    auto x = eh::read_tensor(w, t.name);
    video.emplace_back("tracker." + t.name, x);
    image.emplace_back("inst_interactive_predictor.model." + t.name, x);
  }
  auto d = eh::test::temp_dir("sam3_trk_load");
  eh::write_tensors((d / "video.safetensors").string(), video);
  eh::write_tensors((d / "image.safetensors").string(), image);
  eh::write_tensors((d / "det.safetensors").string(), detector_only);
  auto cfg = eh::Config::load((kDir / "config.json").string());
  const auto tc = Sam3TrackerConfig::from(cfg);
  Io io;
  auto ref = io.get("points.f0.output.obj_ptr");
  torch::NoGradGuard g;
  for (const auto& [file, prefix] :
       {std::pair<std::string, std::string>{(d / "video.safetensors").string(), "tracker."},
        {(d / "image.safetensors").string(), "inst_interactive_predictor.model."},
        {(kDir / "weights.safetensors").string(), ""}}) {
    Sam3Tracker net(tc);
    net->eval();
    EXPECT_EQ(sam3_load_tracker(net, file), prefix);
    Sam3TrackerMemory mem;
    auto out = net->track_step(0, true, io.frame(0), prompt_of(io, "points.f0."), mem, kNumFrames);
    EXPECT_TRUE(torch::equal(out.obj_ptr, ref)) << file;
  }
  Sam3Tracker net(tc);
  try {
    sam3_load_tracker(net, (d / "det.safetensors").string());
    FAIL() << "expected an error";
  } catch (const eh::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("det.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("has no SAM 3 tracker"), std::string::npos) << m;
  }
}
