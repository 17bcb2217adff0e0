// Runs a FrameSource on its own thread and hands frames over through a bounded queue.
//
//   eh::video::ThreadedReader reader(eh::video::open_source(spec), {});
//   while (auto item = reader.next()) { if (item->frame) use(*item->frame); else log(item->event); }
//
// - Lazy: the reader thread decodes at most `queue_capacity` frames ahead; files and the
//   simulator wait when the queue is full (nothing is dropped); live streams drop the oldest
//   queued frame instead (reported), so a slow consumer never makes a camera lag behind.
// - Undecodable frames are reported (Event::Skipped) and skipped; gaps in container
//   timestamps are reported (Event::Dropped). Neither ends the stream.
// - Live streams that fail are reconnected up to `max_reconnects` times (Event::Disconnected,
//   Event::Reconnected), waiting `reconnect_wait_s` between attempts.
// - Stall: when no frame arrives for `stall_timeout_s`, next() reports Event::Stalled; then it
//   either asks a live source to reconnect (while reconnects remain) or ends the stream
//   (Event::Ended with the reason). The consumer keeps what it has made so far.
// Events are delivered in order with the frames, on the consumer's thread.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "track/cache_usage.h"
#include "video/source.h"

namespace eh::video {

struct ReaderOptions {
  std::size_t queue_capacity = 8;
  double stall_timeout_s = 10.0;
  int max_reconnects = 5;
  double reconnect_wait_s = 1.0;
  // Drop the oldest queued frame when the queue is full; default (unset): only live sources.
  std::optional<bool> drop_when_full;
};

struct SourceEvent {
  enum class Kind { Skipped, Dropped, Stalled, Disconnected, Reconnected, Ended };
  Kind kind = Kind::Ended;
  int64_t frame = -1;  // frame index concerned, -1 when not known
  int64_t count = 1;   // Dropped: number of frames
  std::string message;
};
const char* event_kind_name(SourceEvent::Kind k);

struct ReaderItem {
  std::optional<Frame> frame;  // set for frames
  SourceEvent event;           // meaningful when !frame
};

struct ReaderStats {
  int64_t frames = 0;        // delivered
  int64_t skipped = 0;       // undecodable
  int64_t dropped = 0;       // timestamp gaps + queue overflow (live)
  int64_t stalls = 0;
  int64_t reconnects = 0;
  std::size_t queue_high_water = 0;
};

class ThreadedReader {
 public:
  ThreadedReader(std::unique_ptr<FrameSource> source, const ReaderOptions& opt = {});
  // Stops the thread; waits up to 2 s for a source blocked in a read, then leaves the thread
  // to finish on its own (it owns the source, so nothing dangles).
  ~ThreadedReader();
  ThreadedReader(const ThreadedReader&) = delete;
  ThreadedReader& operator=(const ThreadedReader&) = delete;

  // Next frame or event; std::nullopt once the stream has ended (after its Ended event).
  std::optional<ReaderItem> next();
  void stop();

  ReaderStats stats() const;
  std::string describe() const;
  double fps() const;
  std::vector<eh::track::CacheUsage> memory() const;  // "reader.queue"

 private:
  struct Shared;
  std::shared_ptr<Shared> s_;
  ReaderOptions opt_;
  bool ended_ = false;
  int stall_reconnects_ = 0;
};

}  // namespace eh::video
