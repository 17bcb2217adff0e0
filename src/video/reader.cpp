#include "video/reader.h"

#include <fmt/core.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace eh::video {

const char* event_kind_name(SourceEvent::Kind k) {
  switch (k) {
    case SourceEvent::Kind::Skipped: return "skipped";
    case SourceEvent::Kind::Dropped: return "dropped";
    case SourceEvent::Kind::Stalled: return "stalled";
    case SourceEvent::Kind::Disconnected: return "disconnected";
    case SourceEvent::Kind::Reconnected: return "reconnected";
    case SourceEvent::Kind::Ended: return "ended";
  }
  return "?";
}

struct ThreadedReader::Shared {
  std::mutex mu;
  std::condition_variable items, space, done;
  std::deque<ReaderItem> q;
  std::size_t frames_in_q = 0, bytes_in_q = 0;
  bool stop = false, finished = false, reconnect_request = false;
  std::unique_ptr<FrameSource> src;
  std::string desc;
  double fps = 0;
  bool live = false, drop_when_full = false;
  std::size_t capacity = 8;
  int max_reconnects = 5;
  double reconnect_wait_s = 1;
  ReaderStats stats;
  std::thread thread;

  void push_event(std::unique_lock<std::mutex>& lk, SourceEvent ev) {
    (void)lk;
    ReaderItem it;
    it.event = std::move(ev);
    q.push_back(std::move(it));
    items.notify_all();
  }

  void push_frame(std::unique_lock<std::mutex>& lk, Frame f) {
    if (drop_when_full) {
      if (frames_in_q >= capacity) {
        for (auto it = q.begin(); it != q.end(); ++it)
          if (it->frame) {
            SourceEvent ev{SourceEvent::Kind::Dropped, it->frame->index, 1,
                           fmt::format("frame {} dropped: consumer behind, queue full ({} frames)", it->frame->index,
                                       capacity)};
            bytes_in_q -= it->frame->bytes();
            --frames_in_q;
            ++stats.dropped;
            *it = ReaderItem{std::nullopt, ev};
            break;
          }
      }
    } else {
      space.wait(lk, [&] { return stop || q.size() < capacity; });
      if (stop) return;
    }
    bytes_in_q += f.bytes();
    ++frames_in_q;
    stats.queue_high_water = std::max(stats.queue_high_water, frames_in_q);
    ReaderItem it;
    it.frame = std::move(f);
    q.push_back(std::move(it));
    items.notify_all();
  }

  // Returns false when the thread should stop. Called without the lock.
  bool try_reconnect(const std::string& why) {
    for (int attempt = 1; attempt <= max_reconnects; ++attempt) {
      {
        std::unique_lock<std::mutex> lk(mu);
        push_event(lk, SourceEvent{SourceEvent::Kind::Disconnected, -1, 1,
                                   fmt::format("{}; reconnecting (attempt {} of {})", why, attempt, max_reconnects)});
        if (space.wait_for(lk, std::chrono::duration<double>(reconnect_wait_s), [&] { return stop; })) return false;
      }
      const bool ok = src->reconnect();
      std::unique_lock<std::mutex> lk(mu);
      if (ok) {
        ++stats.reconnects;
        push_event(lk, SourceEvent{SourceEvent::Kind::Reconnected, -1, 1, fmt::format("{}: reconnected", desc)});
        return true;
      }
    }
    std::unique_lock<std::mutex> lk(mu);
    push_event(lk, SourceEvent{SourceEvent::Kind::Ended, -1, 1,
                               fmt::format("{}: gave up after {} reconnect attempts", desc, max_reconnects)});
    return false;
  }

  void run() {
    for (;;) {
      bool reconnect = false;
      {
        std::unique_lock<std::mutex> lk(mu);
        if (stop) break;
        reconnect = reconnect_request;
        reconnect_request = false;
      }
      if (reconnect && !try_reconnect(fmt::format("{}: stalled", desc))) break;
      ReadResult r;
      try {
        r = src->read();
      } catch (const std::exception& e) {
        r.status = live ? ReadStatus::Failed : ReadStatus::End;
        r.message = fmt::format("{}: read failed: {}", desc, e.what());
      }
      std::unique_lock<std::mutex> lk(mu);
      if (stop) break;
      if (r.status == ReadStatus::Ok) {
        if (r.dropped > 0) {
          stats.dropped += r.dropped;
          push_event(lk, SourceEvent{SourceEvent::Kind::Dropped, r.frame.index, r.dropped, r.message});
        }
        push_frame(lk, std::move(r.frame));
      } else if (r.status == ReadStatus::Skipped) {
        ++stats.skipped;
        push_event(lk, SourceEvent{SourceEvent::Kind::Skipped, -1, 1, r.message});
      } else if (r.status == ReadStatus::Failed && live) {
        lk.unlock();
        if (!try_reconnect(r.message)) break;
      } else {
        push_event(lk, SourceEvent{SourceEvent::Kind::Ended, -1, 1,
                                   r.message.empty() ? fmt::format("{}: end of stream", desc) : r.message});
        break;
      }
    }
    std::unique_lock<std::mutex> lk(mu);
    finished = true;
    items.notify_all();
    done.notify_all();
  }
};

ThreadedReader::ThreadedReader(std::unique_ptr<FrameSource> source, const ReaderOptions& opt)
    : s_(std::make_shared<Shared>()), opt_(opt) {
  s_->desc = source->describe();
  s_->fps = source->fps();
  s_->live = source->live();
  s_->drop_when_full = opt.drop_when_full.value_or(s_->live);
  s_->capacity = std::max<std::size_t>(1, opt.queue_capacity);
  s_->max_reconnects = opt.max_reconnects;
  s_->reconnect_wait_s = opt.reconnect_wait_s;
  s_->src = std::move(source);
  std::shared_ptr<Shared> s = s_;
  s_->thread = std::thread([s] { s->run(); });
}

ThreadedReader::~ThreadedReader() {
  stop();
  std::unique_lock<std::mutex> lk(s_->mu);
  const bool finished = s_->done.wait_for(lk, std::chrono::seconds(2), [&] { return s_->finished; });
  lk.unlock();
  if (finished) {
    s_->thread.join();
  } else {
    s_->thread.detach();  // blocked inside the source; it holds its own reference to the state
  }
}

void ThreadedReader::stop() {
  std::lock_guard<std::mutex> lk(s_->mu);
  s_->stop = true;
  s_->items.notify_all();
  s_->space.notify_all();
}

std::optional<ReaderItem> ThreadedReader::next() {
  if (ended_) return std::nullopt;
  std::unique_lock<std::mutex> lk(s_->mu);
  const auto timeout = std::chrono::duration<double>(opt_.stall_timeout_s);
  const bool got = s_->items.wait_for(lk, timeout, [&] { return !s_->q.empty() || (s_->finished && s_->q.empty()); });
  if (got && !s_->q.empty()) {
    ReaderItem it = std::move(s_->q.front());
    s_->q.pop_front();
    if (it.frame) {
      --s_->frames_in_q;
      s_->bytes_in_q -= it.frame->bytes();
      ++s_->stats.frames;
      stall_reconnects_ = 0;
    } else if (it.event.kind == SourceEvent::Kind::Ended) {
      ended_ = true;
    }
    s_->space.notify_all();
    return it;
  }
  if (got) {  // the thread finished without an Ended event (stopped)
    ended_ = true;
    return ReaderItem{std::nullopt, SourceEvent{SourceEvent::Kind::Ended, -1, 1, s_->desc + ": stopped"}};
  }
  // Stall.
  ++s_->stats.stalls;
  if (s_->live && stall_reconnects_ < opt_.max_reconnects) {
    ++stall_reconnects_;
    s_->reconnect_request = true;
    return ReaderItem{std::nullopt,
                      SourceEvent{SourceEvent::Kind::Stalled, -1, 1,
                                  fmt::format("{}: no frame for {:.3g} s; reconnecting (attempt {} of {})", s_->desc,
                                              opt_.stall_timeout_s, stall_reconnects_, opt_.max_reconnects)}};
  }
  ended_ = true;
  s_->stop = true;
  s_->space.notify_all();
  return ReaderItem{std::nullopt,
                    SourceEvent{SourceEvent::Kind::Stalled, -1, 1,
                                fmt::format("{}: no frame for {:.3g} s; ending the stream (results so far are kept)",
                                            s_->desc, opt_.stall_timeout_s)}};
}

ReaderStats ThreadedReader::stats() const {
  std::lock_guard<std::mutex> lk(s_->mu);
  return s_->stats;
}

std::string ThreadedReader::describe() const { return s_->desc; }
double ThreadedReader::fps() const { return s_->fps; }

std::vector<eh::track::CacheUsage> ThreadedReader::memory() const {
  std::lock_guard<std::mutex> lk(s_->mu);
  return {eh::track::CacheUsage{"reader.queue", s_->bytes_in_q, s_->frames_in_q}};
}

}  // namespace eh::video
