// Tracker behaviour on small hand-made instance sequences, and the mask helpers.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "track/mask.h"
#include "track/tracker.h"

namespace {

using eh::track::Detections;
using eh::track::TrackEvent;
using eh::track::Tracker;
using eh::track::TrackerConfig;

Detections boxes(std::initializer_list<cv::Rect2f> bs) {
  Detections d;
  for (const auto& b : bs) d.add(b, 0.9f);
  return d;
}

int count(const std::vector<TrackEvent>& ev, TrackEvent::Kind k) {
  int n = 0;
  for (const auto& e : ev) n += e.kind == k;
  return n;
}

// ---- masks ----------------------------------------------------------------------------------

TEST(TrackMask, CropFromRleEqualsCropFromMat) {
  cv::Mat m = cv::Mat::zeros(60, 80, CV_8UC1);
  cv::ellipse(m, cv::RotatedRect({40, 30}, {50, 20}, 30), cv::Scalar(255), cv::FILLED);
  cv::rectangle(m, cv::Rect(2, 50, 5, 9), cv::Scalar(1), cv::FILLED);
  const auto a = eh::track::crop_mask(m);
  const auto b = eh::track::crop_mask(eh::data::rle_encode(m));
  EXPECT_EQ(a.roi, b.roi);
  EXPECT_EQ(a.area, cv::countNonZero(m));
  EXPECT_EQ(a.area, b.area);
  EXPECT_EQ(cv::countNonZero(a.bits != b.bits), 0);
  EXPECT_DOUBLE_EQ(eh::track::mask_iou(a, b), 1.0);
}

TEST(TrackMask, ShiftedIou) {
  cv::Mat m1 = cv::Mat::zeros(50, 50, CV_8UC1), m2 = m1.clone();
  cv::rectangle(m1, cv::Rect(10, 10, 10, 10), cv::Scalar(1), cv::FILLED);
  cv::rectangle(m2, cv::Rect(15, 10, 10, 10), cv::Scalar(1), cv::FILLED);
  const auto a = eh::track::crop_mask(m1), b = eh::track::crop_mask(m2);
  EXPECT_NEAR(eh::track::mask_iou(a, b), 50.0 / 150.0, 1e-12);
  EXPECT_DOUBLE_EQ(eh::track::mask_iou(a, b, {5, 0}), 1.0);
  EXPECT_DOUBLE_EQ(eh::track::mask_iou(a, b, {40, 0}), 0.0);
  EXPECT_NEAR(eh::track::box_iou({0, 0, 10, 10}, {5, 0, 10, 10}), 50.0 / 150.0, 1e-6);
}

// ---- births, deaths --------------------------------------------------------------------------

TEST(Tracker, BirthNeedsConsecutiveHitsAndRowsArriveLate) {
  TrackerConfig cfg;
  cfg.min_hits = 3;
  Tracker t(cfg);
  auto o1 = t.update(boxes({{10, 10, 20, 10}}), 1, 0.0);
  auto o2 = t.update(boxes({{12, 10, 20, 10}}), 2, 0.1);
  EXPECT_TRUE(o1.rows.empty());
  EXPECT_TRUE(o2.rows.empty());
  EXPECT_EQ(o2.det_ids[0], 0);
  auto o3 = t.update(boxes({{14, 10, 20, 10}}), 3, 0.2);
  ASSERT_EQ(o3.rows.size(), 1u);
  EXPECT_EQ(o3.rows[0].id, 1);
  EXPECT_EQ(o3.det_ids[0], 1);
  ASSERT_EQ(o3.late.size(), 2u);  // frames 1 and 2, reported now
  EXPECT_EQ(o3.late[0].frame, 1);
  EXPECT_EQ(o3.late[1].frame, 2);
  EXPECT_EQ(o3.late[0].id, 1);
  EXPECT_EQ(count(o3.events, TrackEvent::Kind::Born), 1);

  // A single-frame blip never becomes a track.
  Tracker u(cfg);
  u.update(boxes({{100, 100, 20, 10}}), 1, 0.0);
  u.update(boxes({}), 2, 0.1);
  u.update(boxes({{100, 100, 20, 10}}), 3, 0.2);
  u.update(boxes({}), 4, 0.3);
  EXPECT_EQ(u.stats().births, 0);
}

// Closed pen of one animal: while its track A still reports, a second instance appears far away
// (tentative track B). A is then lost and B is confirmed onto the animal's identity. B's late
// rows must not give the identity a second box in frames where A reported it.
TEST(Tracker, TakeoverNeverGivesAnIdentityTwoRowsInOneFrame) {
  TrackerConfig cfg;
  cfg.min_hits = 3;
  cfg.max_animals = 1;
  Tracker t(cfg);
  std::map<int64_t, std::map<int, int>> rows_per_frame_id;
  auto record = [&](const eh::track::TrackerOutput& o) {
    for (const auto& r : o.rows) ++rows_per_frame_id[r.frame][r.id];
    for (const auto& r : o.late) ++rows_per_frame_id[r.frame][r.id];
  };
  int64_t f = 0;
  for (; f < 5; ++f) record(t.update(boxes({{10.f + f, 10, 20, 10}}), f, 0.1 * f));  // A: id 1
  // Frames 5, 6: A and the newcomer B (tentative) both seen.
  for (; f < 7; ++f) record(t.update(boxes({{10.f + f, 10, 20, 10}, {400, 300, 20, 10}}), f, 0.1 * f));
  // Frame 7 on: only B; A is lost and B (3 hits) is confirmed onto identity 1.
  for (; f < 12; ++f) record(t.update(boxes({{400, 300, 20, 10}}), f, 0.1 * f));
  EXPECT_EQ(t.stats().births, 1);
  for (const auto& [frame, ids] : rows_per_frame_id)
    for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << "frame " << frame << ": identity " << id << " has " << n << " rows";
  EXPECT_EQ(rows_per_frame_id[8][1], 1);  // B reports identity 1 after the takeover
}

TEST(Tracker, RetiresAfterTSecondsUnseen) {
  TrackerConfig cfg;
  cfg.min_hits = 1;
  cfg.retire_after_s = 2.0;
  Tracker t(cfg);
  t.update(boxes({{10, 10, 20, 10}}), 1, 0.0);
  int retired_at = -1;
  for (int f = 2; f < 40; ++f) {
    const auto o = t.update(boxes({}), f, 0.1 * (f - 1));
    if (count(o.events, TrackEvent::Kind::Retired)) retired_at = f;
  }
  EXPECT_EQ(retired_at, 22);  // first frame with more than 2 s unseen (t = 2.1)
  EXPECT_TRUE(t.tracks().empty());
  ASSERT_EQ(t.identities().size(), 1u);  // the identity stays for re-identification
  EXPECT_FALSE(t.identities()[0].in_view);
}

TEST(Tracker, KeepsIdentityThroughShortOcclusion) {
  TrackerConfig cfg;
  cfg.min_hits = 1;
  Tracker t(cfg);
  for (int f = 1; f <= 10; ++f) t.update(boxes({{10.0f * f, 50, 30, 15}}), f, 0.1 * f);
  for (int f = 11; f <= 15; ++f) t.update(boxes({}), f, 0.1 * f);  // hidden for 0.5 s
  const auto o = t.update(boxes({{160, 50, 30, 15}}), 16, 1.6);       // where it would be
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0].id, 1);
  EXPECT_EQ(t.stats().births, 1);
}

// ---- identities ------------------------------------------------------------------------------

TEST(Tracker, ClosedPenNeverCreatesMoreIdentities) {
  TrackerConfig cfg;
  cfg.min_hits = 2;
  cfg.max_animals = 2;
  cfg.retire_after_s = 1.0;
  Tracker t(cfg);
  for (int f = 1; f <= 5; ++f) t.update(boxes({{10, 10, 20, 10}, {100, 10, 20, 10}}), f, 0.1 * f);
  EXPECT_EQ(t.stats().births, 2);
  // Animal 1 leaves for 3 s (retired), an animal appears far away: it must be animal 1.
  for (int f = 6; f <= 35; ++f) t.update(boxes({{100, 10, 20, 10}}), f, 0.1 * f);
  std::vector<int> ids;
  for (int f = 36; f <= 40; ++f) {
    const auto o = t.update(boxes({{100, 10, 20, 10}, {150, 90, 20, 10}}), f, 0.1 * f);
    for (const auto& r : o.rows) ids.push_back(r.id);
  }
  EXPECT_EQ(t.stats().births, 2);
  EXPECT_EQ(t.stats().reidentified, 1);
  for (int id : ids) EXPECT_LE(id, 2);

  // With all identities in view, an extra instance waits unreported instead of taking a new id.
  int extra_rows = 0;
  for (int f = 41; f <= 50; ++f) {
    const auto o = t.update(boxes({{100, 10, 20, 10}, {150, 90, 20, 10}, {50, 120, 20, 10}}), f, 0.1 * f);
    extra_rows += static_cast<int>(o.rows.size()) - 2;
  }
  EXPECT_EQ(extra_rows, 0);
  EXPECT_EQ(t.stats().births, 2);
}

TEST(Tracker, OpenWorldReidentifiesOnlyByAppearance) {
  TrackerConfig cfg;
  cfg.min_hits = 1;
  cfg.retire_after_s = 0.5;
  auto det = [](cv::Rect2f b, std::vector<float> e) {
    Detections d;
    d.add(b, 0.9f);
    d.embeddings.push_back(std::move(e));
    return d;
  };
  const std::vector<float> a = {1, 0, 0, 0}, b = {0, 1, 0, 0};
  Tracker t(cfg);
  for (int f = 1; f <= 10; ++f) t.update(det({10, 10, 20, 10}, a), f, 0.1 * f);
  for (int f = 11; f <= 20; ++f) t.update(Detections{}, f, 0.1 * f);  // retired
  // A different-looking animal: new identity. Then the first one again: re-identified.
  auto o = t.update(det({150, 90, 20, 10}, b), 21, 2.1);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0].id, 2);
  for (int f = 22; f <= 30; ++f) t.update(Detections{}, f, 0.1 * f);
  o = t.update(det({80, 40, 20, 10}, {0.95f, 0.05f, 0.1f, 0}), 31, 3.1);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0].id, 1);
  EXPECT_EQ(t.stats().reidentified, 1);
}

// ---- swap repair -----------------------------------------------------------------------------

// A closed pen of two animals at 6 fps: `scene(f)` gives frame f's instances and the two animals'
// true boxes. Returns the identity reported on each animal's box at frame 30 and at the last
// frame (0: none), the rows of the last frame and the exchanges swap repair made.
struct Scene {
  Detections dets;
  cv::Rect2f a, b;
};
struct TwoAnimalIds {
  int a = 0, b = 0;          // at frame 30
  int a_end = 0, b_end = 0;  // at the last frame
  std::size_t rows_end = 0;
  int64_t repairs = 0;
};
TwoAnimalIds run_two_animals(TrackerConfig cfg, int frames, const std::function<Scene(int)>& scene) {
  cfg.max_animals = 2;  // a closed pen, as the pipeline runs it
  Tracker t(cfg);
  TwoAnimalIds r;
  for (int f = 1; f <= frames; ++f) {
    const Scene sc = scene(f);
    const auto o = t.update(sc.dets, f, f / 6.0);
    if (f != 30 && f != frames) continue;
    for (const auto& row : o.rows) {
      if (eh::track::box_iou(row.box, sc.a) > 0.9) (f == 30 ? r.a : r.a_end) = row.id;
      if (eh::track::box_iou(row.box, sc.b) > 0.9) (f == 30 ? r.b : r.b_end) = row.id;
    }
    if (f == frames) r.rows_end = o.rows.size();
  }
  r.repairs = t.stats().swaps_repaired;
  return r;
}

// Both animals are reported at frame 30 and at the end, under the same identities, and swap
// repair exchanged nothing.
void expect_identities_kept(const TwoAnimalIds& r) {
  ASSERT_NE(r.a, 0);
  ASSERT_NE(r.b, 0);
  EXPECT_EQ(r.a_end, r.a);
  EXPECT_EQ(r.b_end, r.b);
  EXPECT_EQ(r.rows_end, 2u);
  EXPECT_EQ(r.repairs, 0);
}

const cv::Rect2f kSpot(400, 100, 200, 100);  // where the lying pig lies

// The other pig stands far off for 10 s, then walks left along the lying pig's row at 20 px per
// frame and stops far to the left.
cv::Rect2f walker_at(int f) {
  const float x = std::max(20.0f, 900.0f - 20.0f * static_cast<float>(std::max(0, f - 60)));
  return {x, 100, 200, 100};
}

// As the pen-tiny models see a crossing (pen 9003, frame 265): the walker's head is first counted
// into the lying pig's instance, then one instance covers both (their union) and there is none
// for the walker, then the walker is whole and the lying pig's uncovered part is seen.
Scene merged_crossing(int f) {
  const cv::Rect2f w = walker_at(f);
  const float x = w.x;
  Scene sc{{}, kSpot, w};
  if (x >= 550 && x < 600) {
    sc.dets.add(kSpot, 0.9f);
    sc.dets.add(cv::Rect2f(600, w.y, x - 400, w.height), 0.9f);
  } else if (x > 450 && x < 550) {
    sc.dets.add(kSpot | w, 0.9f);
  } else {
    sc.dets.add(w, 0.9f);
    const float l = x > kSpot.x ? kSpot.x : std::max(kSpot.x, x + 200), r = x > kSpot.x ? std::min(x, 600.0f) : 600.0f;
    if (r - l > 10) sc.dets.add(cv::Rect2f(l, kSpot.y, r - l, kSpot.height), 0.9f);
  }
  return sc;
}

TEST(Tracker, SwapRepairGivesALyingPigItsIdentityBackAfterAMerge) {
  TrackerConfig off;
  off.settle_s = 0;  // swap repair off: the failure it exists for
  const auto bad = run_two_animals(off, 160, merged_crossing);
  ASSERT_NE(bad.a, 0);
  ASSERT_NE(bad.b, 0);
  EXPECT_EQ(bad.a_end, bad.b) << "the scenario no longer makes the tracker swap";
  EXPECT_EQ(bad.b_end, bad.a);
  EXPECT_EQ(bad.repairs, 0);

  const auto good = run_two_animals(TrackerConfig{}, 160, merged_crossing);
  EXPECT_EQ(good.a_end, good.a);
  EXPECT_EQ(good.b_end, good.b);
  EXPECT_EQ(good.repairs, 1);
}

TEST(Tracker, SwapRepairLeavesACrossingTheTrackerGotRightAlone) {
  // The same crossing, but the segmenter sees the lying pig whole until the merge and the walker
  // whole after it: the walker's track takes the merged instance (its motion predicts it) and
  // the lying pig's track comes back to its spot. Nothing to repair, and nothing is exchanged.
  const auto r = run_two_animals(TrackerConfig{}, 160, [](int f) {
    const cv::Rect2f w = walker_at(f);
    Scene sc{{}, kSpot, w};
    if (std::abs(w.x - kSpot.x) < 100) {
      sc.dets.add(kSpot | w, 0.9f);
    } else {
      sc.dets.add(kSpot, 0.9f);
      sc.dets.add(w, 0.9f);
    }
    return sc;
  });
  expect_identities_kept(r);
}

TEST(Tracker, SwapRepairLeavesAPigThatTakesAFreedSpotAlone) {
  // The lying pig gets up and walks off to the right; about 2 s later another pig, which never
  // touched it, comes to lie on the freed spot. Nobody merged: both keep their identities.
  const auto r = run_two_animals(TrackerConfig{}, 120, [](int f) {
    const float lx = 400.0f + 30.0f * static_cast<float>(std::clamp(f - 60, 0, 20));
    // The other walks left along y = 300 to x = 400, then up onto the spot.
    const float mx = 900.0f - 50.0f * static_cast<float>(std::clamp(f - 60, 0, 10));
    const float my = 300.0f - 40.0f * static_cast<float>(std::clamp(f - 70, 0, 5));
    const cv::Rect2f l(lx, 100, 200, 100), m(mx, my, 200, 100);
    return Scene{boxes({l, m}), l, m};
  });
  expect_identities_kept(r);
}

TEST(Tracker, MasksSeparateNeighboursThatBoxesCannot) {
  // Two L-shaped animals whose boxes coincide; only the masks tell them apart. They swap
  // places in the box (top-left vs bottom-right) never, so each track must follow its mask.
  TrackerConfig cfg;
  cfg.min_hits = 1;
  Tracker t(cfg);
  auto frame = [](int dx) {
    Detections d;
    cv::Mat a = cv::Mat::zeros(100, 100, CV_8UC1), b = a.clone();
    cv::rectangle(a, cv::Rect(20 + dx, 20, 40, 8), cv::Scalar(1), cv::FILLED);
    cv::rectangle(a, cv::Rect(20 + dx, 20, 8, 40), cv::Scalar(1), cv::FILLED);
    cv::rectangle(b, cv::Rect(20 + dx, 52, 40, 8), cv::Scalar(1), cv::FILLED);
    cv::rectangle(b, cv::Rect(52 + dx, 20, 8, 40), cv::Scalar(1), cv::FILLED);
    // Order alternates so that index order carries no information.
    if (dx % 2) {
      d.add(cv::Rect2f(cv::boundingRect(b)), 0.9f);
      d.masks.push_back(b);
      d.add(cv::Rect2f(cv::boundingRect(a)), 0.9f);
      d.masks.push_back(a);
    } else {
      d.add(cv::Rect2f(cv::boundingRect(a)), 0.9f);
      d.masks.push_back(a);
      d.add(cv::Rect2f(cv::boundingRect(b)), 0.9f);
      d.masks.push_back(b);
    }
    return std::make_pair(d, dx % 2 != 0);
  };
  int id_a = 0;
  for (int f = 0; f < 10; ++f) {
    auto [d, swapped] = frame(f);
    const auto o = t.update(d, f + 1, 0.1 * f);
    const int ida = o.det_ids[swapped ? 1 : 0];
    if (f == 0) id_a = ida;
    EXPECT_EQ(ida, id_a) << "frame " << f;
  }
  EXPECT_EQ(t.stats().births, 2);
}

TEST(Tracker, LowScoreInstancesOnlyExtendTracks) {
  TrackerConfig cfg;
  cfg.min_hits = 1;
  Tracker t(cfg);
  Detections weak;
  weak.add({200, 200, 20, 10}, 0.3f);
  EXPECT_TRUE(t.update(weak, 1, 0).rows.empty());
  t.update(boxes({{10, 10, 20, 10}}), 2, 0.1);
  Detections d;
  d.add({11, 10, 20, 10}, 0.3f);  // confidence dropped (partly hidden)
  const auto o = t.update(d, 3, 0.2);
  ASSERT_EQ(o.rows.size(), 1u);
  EXPECT_EQ(o.rows[0].id, 1);
}

TEST(Tracker, RejectsMalformedInput) {
  Tracker t;
  Detections d = boxes({{0, 0, 10, 10}});
  d.scores.clear();
  EXPECT_THROW(t.update(d, 1, 0), eh::Error);
  Detections e = boxes({{0, 0, -1, 10}});
  EXPECT_THROW(t.update(e, 1, 0), eh::Error);
  Detections f = boxes({{0, 0, 10, 10}, {5, 5, 10, 10}});
  f.embeddings = {{1, 0}, {1, 0, 0}};
  EXPECT_THROW(t.update(f, 1, 0), eh::Error);
  TrackerConfig bad;
  bad.min_hits = 0;
  EXPECT_THROW(Tracker{bad}, eh::UsageError);
}

TEST(Tracker, MemoryIsReported) {
  Tracker t;
  for (int f = 1; f <= 5; ++f) t.update(boxes({{10, 10, 20, 10}, {60, 10, 20, 10}}), f, 0.1 * f);
  const auto m = t.memory();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].name, "tracker.tracks");
  EXPECT_EQ(m[0].items, 2u);
  EXPECT_GT(m[0].bytes, 0u);
  EXPECT_EQ(m[1].items, 2u);
}

}  // namespace
