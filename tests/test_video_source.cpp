// Frame sources and the reader thread: lazy bounded decoding, corrupt frames, stalls,
// reconnects.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <thread>

#include "core/error.h"
#include "test_util.h"
#include "video/reader.h"
#include "video/session.h"

namespace fs = std::filesystem;
using eh::video::ReaderItem;
using eh::video::ReaderOptions;
using eh::video::SourceEvent;
using eh::video::ThreadedReader;

namespace {

cv::Mat test_image(int i) {
  cv::Mat f(120, 160, CV_8UC3, cv::Scalar(i * 5 % 255, 100, 200));
  cv::circle(f, {20 + 3 * i, 60}, 10, {255, 255, 255}, cv::FILLED);
  return f;
}

struct Drained {
  std::vector<eh::video::Frame> frames;
  std::vector<SourceEvent> events;
};

Drained drain(ThreadedReader& r) {
  Drained d;
  while (auto it = r.next()) {
    if (it->frame) d.frames.push_back(*it->frame);
    else d.events.push_back(it->event);
  }
  return d;
}

int count(const std::vector<SourceEvent>& ev, SourceEvent::Kind k) {
  int n = 0;
  for (const auto& e : ev) n += e.kind == k;
  return n;
}

// A scripted in-memory source.
class FakeSource : public eh::video::FrameSource {
 public:
  int64_t total = 100;
  int64_t stall_after = -1;   // sleep `stall_s` before this frame index
  double stall_s = 0;
  int64_t fail_at = -1;       // live: report Failed once at this index
  bool is_live = false;
  std::shared_ptr<std::atomic<int64_t>> reads = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<std::atomic<int>> reconnects = std::make_shared<std::atomic<int>>(0);

  eh::video::ReadResult read() override {
    ++*reads;
    eh::video::ReadResult r;
    if (next_ >= total) return r;
    if (next_ == stall_after && !stalled_) {
      stalled_ = true;
      std::this_thread::sleep_for(std::chrono::duration<double>(stall_s));
    }
    if (next_ == fail_at && !failed_) {
      failed_ = true;
      r.status = eh::video::ReadStatus::Failed;
      r.message = "fake: connection reset";
      return r;
    }
    r.status = eh::video::ReadStatus::Ok;
    r.frame.index = next_;
    r.frame.t = next_ * 0.1;
    r.frame.image = cv::Mat(8, 8, CV_8UC3, cv::Scalar::all(static_cast<double>(next_ % 255)));
    ++next_;
    return r;
  }
  bool reconnect() override {
    ++*reconnects;
    return true;
  }
  bool live() const override { return is_live; }
  double fps() const override { return 10; }
  std::string describe() const override { return "fake"; }

 private:
  int64_t next_ = 0;
  bool stalled_ = false, failed_ = false;
};

// ---- image folders ----------------------------------------------------------------------------

TEST(ImageFolder, BrokenImageIsReportedAndSkipped) {
  const auto dir = eh::test::temp_dir("video_folder");
  for (int i = 0; i < 6; ++i) cv::imwrite((dir / cv::format("f%03d.png", i)).string(), test_image(i));
  {  // frame 2 is corrupt: a truncated PNG; frame 4 is not an image at all
    std::ifstream in(dir / "f002.png", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir / "f002.png", std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 3);
    std::ofstream(dir / "f004.png", std::ios::binary | std::ios::trunc) << "not a png";
  }
  std::ofstream(dir / "notes.txt") << "ignored: not an image extension";
  eh::video::SourceOptions so;
  so.fps = 5;
  ThreadedReader reader(eh::video::open_image_folder(dir.string(), so));
  const Drained d = drain(reader);
  ASSERT_EQ(d.frames.size(), 4u);
  EXPECT_EQ(count(d.events, SourceEvent::Kind::Skipped), 2);
  EXPECT_EQ(count(d.events, SourceEvent::Kind::Ended), 1);
  // Timestamps keep the gap of the skipped frames.
  EXPECT_EQ(d.frames[2].index, 3);
  EXPECT_DOUBLE_EQ(d.frames[2].t, 3 / 5.0);
  EXPECT_EQ(d.frames[3].index, 5);
  EXPECT_EQ(reader.stats().skipped, 2);
  bool names_file = false;
  for (const auto& e : d.events) names_file = names_file || e.message.find("f002.png") != std::string::npos;
  EXPECT_TRUE(names_file);
}

TEST(ImageFolder, MissingOrEmptyFolderIsAnError) {
  EXPECT_THROW(eh::video::open_image_folder("/nonexistent/folder"), eh::Error);
  const auto dir = eh::test::temp_dir("video_empty");
  EXPECT_THROW(eh::video::open_image_folder(dir.string()), eh::Error);
}

// ---- video files --------------------------------------------------------------------------------

fs::path write_video(const fs::path& path, int frames) {
  cv::VideoWriter w(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(160, 120));
  if (!w.isOpened()) return {};
  for (int i = 0; i < frames; ++i) w.write(test_image(i));
  w.release();
  return path;
}

TEST(VideoFile, ReadsAllFramesWithTimestamps) {
  const auto dir = eh::test::temp_dir("video_ok");
  const auto path = write_video(dir / "ok.avi", 30);
  if (path.empty()) GTEST_SKIP() << "this OpenCV build cannot write MJPG/AVI";
  ThreadedReader reader(eh::video::open_video_file(path.string()));
  const Drained d = drain(reader);
  ASSERT_EQ(d.frames.size(), 30u);
  EXPECT_NEAR(d.frames[10].t, 1.0, 1e-6);
  EXPECT_EQ(d.frames[29].index, 29);
  EXPECT_EQ(count(d.events, SourceEvent::Kind::Skipped), 0);
}

TEST(VideoFile, CorruptBytesAreSkippedNotFatal) {
  const auto dir = eh::test::temp_dir("video_corrupt");
  const auto path = write_video(dir / "bad.avi", 40);
  if (path.empty()) GTEST_SKIP() << "this OpenCV build cannot write MJPG/AVI";
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const long n = static_cast<long>(f.tellg());
    const std::string junk(300, 'Z');
    for (double frac : {0.3, 0.5, 0.7}) {
      f.seekp(static_cast<long>(n * frac));
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  ThreadedReader reader(eh::video::open_video_file(path.string()));
  const Drained d = drain(reader);
  // Some frames are lost or damaged, the rest (before and after the damage) still arrive.
  EXPECT_GE(d.frames.size(), 30u);
  EXPECT_LT(d.frames.size(), 40u);
  EXPECT_GE(d.frames.back().index, 33);  // frames after the last damaged spot (~ frame 28) arrive
  EXPECT_GE(count(d.events, SourceEvent::Kind::Skipped) + count(d.events, SourceEvent::Kind::Dropped), 1);
  for (std::size_t i = 1; i < d.frames.size(); ++i) EXPECT_GT(d.frames[i].t, d.frames[i - 1].t);
}

TEST(VideoFile, TruncatedFileEndsCleanly) {
  const auto dir = eh::test::temp_dir("video_trunc");
  const auto path = write_video(dir / "cut.avi", 40);
  if (path.empty()) GTEST_SKIP() << "this OpenCV build cannot write MJPG/AVI";
  fs::resize_file(path, fs::file_size(path) / 2);
  std::unique_ptr<eh::video::FrameSource> src;
  try {
    src = eh::video::open_video_file(path.string());
  } catch (const eh::Error&) {
    SUCCEED() << "index lost with the tail: refused at open, with a message";
    return;
  }
  ThreadedReader reader(std::move(src));
  const Drained d = drain(reader);
  EXPECT_GT(d.frames.size(), 5u);
  EXPECT_LT(d.frames.size(), 40u);
  EXPECT_EQ(count(d.events, SourceEvent::Kind::Ended), 1);
}

TEST(VideoFile, MissingFileIsAnError) {
  EXPECT_THROW(eh::video::open_video_file("/nonexistent/video.mp4"), eh::Error);
  EXPECT_THROW(eh::video::open_source("/nonexistent/video.mp4"), eh::Error);
}

// ---- reader thread ------------------------------------------------------------------------------

TEST(Reader, DecodesLazilyIntoABoundedQueue) {
  auto src = std::make_unique<FakeSource>();
  src->total = 100000;
  auto reads = src->reads;
  ReaderOptions opt;
  opt.queue_capacity = 4;
  ThreadedReader reader(std::move(src), opt);
  for (int i = 0; i < 5; ++i) {
    auto it = reader.next();
    ASSERT_TRUE(it && it->frame);
    EXPECT_EQ(it->frame->index, i);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // 5 consumed + 4 queued + at most one being pushed.
  EXPECT_LE(reads->load(), 5 + 4 + 1);
  EXPECT_LE(reader.memory()[0].items, 4u);
  EXPECT_LE(reader.stats().queue_high_water, 4u);
}

TEST(Reader, StalledFileEndsWithAMessageAndKeepsWhatCameBefore) {
  auto src = std::make_unique<FakeSource>();
  src->total = 50;
  src->stall_after = 10;
  src->stall_s = 1.5;
  ReaderOptions opt;
  opt.stall_timeout_s = 0.3;
  ThreadedReader reader(std::move(src), opt);
  const Drained d = drain(reader);
  EXPECT_EQ(d.frames.size(), 10u);
  ASSERT_EQ(count(d.events, SourceEvent::Kind::Stalled), 1);
  EXPECT_NE(d.events.back().message.find("no frame for"), std::string::npos);
  EXPECT_EQ(reader.stats().stalls, 1);
}

TEST(Reader, LiveStreamStallsAndFailuresReconnect) {
  auto src = std::make_unique<FakeSource>();
  src->total = 40;
  src->is_live = true;
  src->stall_after = 10;
  src->stall_s = 0.6;
  src->fail_at = 20;
  auto reconnects = src->reconnects;
  ReaderOptions opt;
  opt.stall_timeout_s = 0.2;
  opt.reconnect_wait_s = 0.01;
  opt.queue_capacity = 64;  // nothing dropped for being slow in this test
  ThreadedReader reader(std::move(src), opt);
  const Drained d = drain(reader);
  EXPECT_EQ(d.frames.size(), 40u);
  EXPECT_GE(count(d.events, SourceEvent::Kind::Stalled), 1);
  EXPECT_GE(count(d.events, SourceEvent::Kind::Disconnected), 1);
  EXPECT_GE(count(d.events, SourceEvent::Kind::Reconnected), 1);
  EXPECT_GE(reconnects->load(), 1);
}

TEST(Reader, LiveStreamDropsOldestFramesWhenTheConsumerIsSlow) {
  auto src = std::make_unique<FakeSource>();
  src->total = 200;
  src->is_live = true;
  ReaderOptions opt;
  opt.queue_capacity = 3;
  ThreadedReader reader(std::move(src), opt);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the camera runs ahead
  const Drained d = drain(reader);
  EXPECT_LT(d.frames.size(), 200u);
  EXPECT_EQ(d.frames.back().index, 199);  // the newest frames survive
  EXPECT_GT(count(d.events, SourceEvent::Kind::Dropped), 0);
}

TEST(Reader, DestructorReturnsWhileTheSourceIsBlocked) {
  auto src = std::make_unique<FakeSource>();
  src->stall_after = 1;
  src->stall_s = 5;
  const auto t0 = std::chrono::steady_clock::now();
  {
    ThreadedReader reader(std::move(src));
    ASSERT_TRUE(reader.next()->frame);
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 4.0);
}

// A stream that stalls midway: the session still hands over every track made before.
TEST(Reader, StallKeepsTheTracksAlreadyMade) {
  auto src = std::make_unique<FakeSource>();
  src->total = 60;
  src->stall_after = 30;
  src->stall_s = 1.0;
  ReaderOptions opt;
  opt.stall_timeout_s = 0.2;
  ThreadedReader reader(std::move(src), opt);

  // Instances for the fake frames: one box walking right.
  struct Walker : eh::video::Segmenter {
    eh::track::Detections segment(const cv::Mat&) const override { return {}; }
    eh::track::Detections segment(const eh::video::Frame& f) const override {
      eh::track::Detections d;
      d.add({10.0f + 2.0f * static_cast<float>(f.index), 20, 30, 12}, 0.9f);
      return d;
    }
    std::string name() const override { return "walker"; }
  };
  std::vector<int64_t> frames_out;
  eh::video::SessionConfig cfg;
  eh::video::Session session(std::make_shared<Walker>(), cfg, [&](const eh::video::FrameOutput& f) {
    for (const auto& o : f.objects) {
      EXPECT_EQ(o.id, 1);
      frames_out.push_back(f.frame);
    }
  });
  const auto sum = eh::video::run_stream(reader, session);
  EXPECT_EQ(sum.frames, 30);
  EXPECT_NE(sum.end_reason.find("no frame for"), std::string::npos);
  ASSERT_EQ(frames_out.size(), 30u);  // every frame, late-confirmed ones included
  EXPECT_EQ(frames_out.front(), 0);
  EXPECT_EQ(frames_out.back(), 29);
}

// ---- sources by spec ----------------------------------------------------------------------------

TEST(Sources, SimulatorSpec) {
  const auto o = eh::video::parse_sim_spec("sim:seed=3,pigs=5,frames=12,fps=5,width=320,height=180,render=1");
  EXPECT_EQ(o.sim.seed, 3u);
  EXPECT_EQ(o.sim.num_pigs, 5);
  EXPECT_EQ(o.frames, 12);
  EXPECT_EQ(o.sim.size, cv::Size(320, 180));
  EXPECT_TRUE(o.sim.render);
  EXPECT_FALSE(eh::video::parse_sim_spec("sim").sim.render);
  EXPECT_THROW(eh::video::parse_sim_spec("sim:colour=red"), eh::UsageError);
  EXPECT_THROW(eh::video::parse_sim_spec("sim:seed=x"), eh::UsageError);
  EXPECT_THROW(eh::video::parse_sim_spec("sim:pigs=-1"), eh::UsageError);

  ThreadedReader reader(eh::video::open_source("sim:seed=3,pigs=5,frames=12,fps=5,width=320,height=180,render=1"));
  const Drained d = drain(reader);
  ASSERT_EQ(d.frames.size(), 12u);
  EXPECT_EQ(d.frames[0].image.size(), cv::Size(320, 180));
  ASSERT_TRUE(d.frames[0].truth);
  EXPECT_NEAR(d.frames[5].t, 1.0, 1e-9);
}

}  // namespace
