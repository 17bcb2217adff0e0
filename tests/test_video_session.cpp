// The streaming session: bounded memory with pruning, upstream-like growth without it,
// outputs handed to the sink in order, model shared between sessions.
#include <gtest/gtest.h>

#include <map>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "video/gt_run.h"
#include "video/memory.h"
#include "video/session.h"

namespace {

using eh::track::total_bytes;
using eh::video::MemorySnapshot;

std::size_t bytes_of(const MemorySnapshot& s, const std::string& name) {
  for (const auto& c : s.caches)
    if (c.name == name) return c.bytes;
  return 0;
}

std::map<int64_t, MemorySnapshot> run_sim(bool prune, int64_t frames, std::vector<int64_t> checkpoints) {
  eh::video::GtRunOptions o;
  // A smaller pen image keeps the test quick; 8 pigs with the usual dynamics.
  o.source = "sim:seed=11,width=640,height=360,frames=" + std::to_string(frames);
  o.session.tracker.max_animals = 8;
  o.session.prune = prune;
  o.gt.embedding_dim = 64;
  o.evaluate = false;
  o.memory_checkpoints = std::move(checkpoints);
  std::map<int64_t, MemorySnapshot> snaps;
  o.on_memory = [&](const MemorySnapshot& s) { snaps[s.frames] = s; };
  eh::video::run_ground_truth_tracking(o);
  return snaps;
}

// Every cache's bytes after 1,000 and after 5,000 frames: flat with pruning (the window and
// anchors are bounded, so only the animals' current masks change what they hold).
TEST(Session, PruningKeepsMemoryBounded) {
  auto s = run_sim(true, 5000, {1000, 5000});
  ASSERT_EQ(s.size(), 2u);
  const double b1 = static_cast<double>(total_bytes(s[1000].caches));
  const double b5 = static_cast<double>(total_bytes(s[5000].caches));
  EXPECT_GT(b1, 0);
  EXPECT_LT(b5, 1.25 * b1) << "caches grew from " << b1 << " to " << b5 << " bytes";
  EXPECT_GT(b5, 0.75 * b1);
  for (const auto& c : s[5000].caches) {
    if (c.name == "session.window.instances") {
      EXPECT_LE(c.items, 16u * 8u);
    }
    if (c.name == "session.objects") {
      EXPECT_LE(c.items, 8u);
    }
    if (c.name == "tracker.identities") {
      EXPECT_LE(c.items, 8u);
    }
    EXPECT_NE(c.name, "session.archive");
  }
}

// Without pruning every frame's instances stay: memory grows linearly with the frames.
TEST(Session, NoPruneGrowsLikeUpstream) {
  auto s = run_sim(false, 1000, {200, 1000});
  ASSERT_EQ(s.size(), 2u);
  const double a200 = static_cast<double>(bytes_of(s[200], "session.archive"));
  const double a1000 = static_cast<double>(bytes_of(s[1000], "session.archive"));
  EXPECT_GT(a200, 0);
  EXPECT_GT(a1000, 4.0 * a200);  // (1000 - 16) / (200 - 16) frames archived: ~5.3x
  EXPECT_GT(total_bytes(s[1000].caches), 3 * total_bytes(s[200].caches));
}

// A scripted segmenter: two boxes walking in opposite directions, with full-frame masks.
struct TwoWalkers : eh::video::Segmenter {
  eh::track::Detections segment(const cv::Mat& img) const override {
    eh::track::Detections d;
    const int f = img.rows > 0 ? img.at<uint8_t>(0, 0) : 0;
    for (int k = 0; k < 2; ++k) {
      const cv::Rect r(k == 0 ? 10 + 2 * f : 200 - 2 * f, 20 + 40 * k, 30, 12);
      cv::Mat m = cv::Mat::zeros(100, 260, CV_8UC1);
      cv::rectangle(m, r, cv::Scalar(255), cv::FILLED);
      d.add(cv::Rect2f(r), 0.9f);
      d.masks.push_back(m);
      d.embeddings.push_back({k == 0 ? 1.0f : 0.0f, k == 0 ? 0.0f : 1.0f});
    }
    return d;
  }
  std::string name() const override { return "two walkers"; }
};

eh::video::Frame fake_frame(int i) {
  eh::video::Frame f;
  f.index = i;
  f.t = 0.1 * i;
  f.image = cv::Mat(100, 260, CV_8UC1, cv::Scalar(i));  // frame number in the pixels
  return f;
}

TEST(Session, SinkGetsEveryFrameInOrderWithMasksAndEmbeddings) {
  eh::video::SessionConfig cfg;
  cfg.window = 5;
  std::vector<eh::video::FrameOutput> out;
  eh::video::Session s(std::make_shared<TwoWalkers>(), cfg, [&](const eh::video::FrameOutput& f) { out.push_back(f); });
  for (int i = 0; i < 40; ++i) {
    s.process(fake_frame(i));
    EXPECT_LE(s.memory()[0].items, 5u);  // frames in the window
  }
  EXPECT_EQ(out.size(), 35u);  // delayed by the window
  s.finish();
  ASSERT_EQ(out.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(out[i].frame, i);
    ASSERT_EQ(out[i].objects.size(), 2u) << "frame " << i;  // late-confirmed rows included
    EXPECT_EQ(out[i].objects[0].id, 1);
    EXPECT_EQ(out[i].objects[1].id, 2);
    EXPECT_EQ(out[i].objects[0].mask.area(), 30 * 12);
    EXPECT_EQ(out[i].objects[0].embedding.size(), 2u);
  }
  EXPECT_EQ(s.stats().late_rows_missed, 0);
  // Full-frame masks are kept as RLE in the window, not as images.
  for (const auto& c : s.memory())
    if (c.name == "session.window.instances") {
      EXPECT_LT(c.bytes, 5u * 2u * 100u * 260u / 4u);
    }
}

TEST(Session, OneModelManySessions) {
  auto model = std::make_shared<TwoWalkers>();  // shared, read-only
  eh::video::SessionConfig cfg;
  int64_t n1 = 0, n2 = 0;
  eh::video::Session a(model, cfg, [&](const eh::video::FrameOutput& f) { n1 += static_cast<int64_t>(f.objects.size()); });
  eh::video::Session b(model, cfg, [&](const eh::video::FrameOutput& f) { n2 += static_cast<int64_t>(f.objects.size()); });
  for (int i = 0; i < 20; ++i) {
    a.process(fake_frame(i));
    if (i < 10) b.process(fake_frame(i));
  }
  a.finish();
  b.finish();
  EXPECT_EQ(n1, 40);
  EXPECT_EQ(n2, 20);
  EXPECT_EQ(a.tracker().stats().births, 2);
  EXPECT_EQ(b.tracker().stats().births, 2);
}

TEST(Session, ConfigIsChecked) {
  eh::video::SessionConfig cfg;
  cfg.window = 2;
  cfg.tracker.min_hits = 3;
  EXPECT_THROW(eh::video::Session(nullptr, cfg, nullptr), eh::UsageError);
}

TEST(Memory, ReportListsCachesAndRss) {
  EXPECT_GT(eh::video::process_rss_bytes(), 0);
  EXPECT_GE(eh::video::process_peak_rss_bytes(), eh::video::process_rss_bytes());
  const std::string s = eh::video::format_memory_report({{"tracker.tracks", 2048, 3}}, 1 << 20, 2 << 20);
  EXPECT_NE(s.find("tracker.tracks"), std::string::npos);
  EXPECT_NE(s.find("2.00 KiB"), std::string::npos);
  EXPECT_NE(s.find("peak RSS"), std::string::npos);
}

}  // namespace
