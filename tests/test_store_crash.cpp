// Crash safety: a writer process is SIGKILLed mid-write; every row it reported as committed must
// be there when the store is reopened, and the file must pass PRAGMA integrity_check.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "store/store.h"
#include "test_util.h"

namespace es = eh::store;

namespace {

constexpr int64_t kT0 = 1704067200;

std::vector<es::BinRecord> bins_for(int64_t k) {
  std::vector<es::BinRecord> bins;
  for (int i = 0; i < 60; ++i) {
    es::BinRecord r;
    r.start = kT0 + k * 3600 + i * 60;
    r.frames = static_cast<uint32_t>(100 + (k * 7 + i) % 260);
    r.x_m = static_cast<float>((k + i) % 500) / 100.0f;
    r.y_m = static_cast<float>((k * 3 + i) % 300) / 100.0f;
    r.distance_m = static_cast<float>((k * i) % 1000) / 100.0f;
    r.active_s = static_cast<uint32_t>((k + i) % 61);
    r.behaviour_s[static_cast<size_t>((k + i) % es::kNumClasses)] = 45;
    r.behaviour_s[es::kLying] += 15;
    bins.push_back(es::quantised(r));
  }
  return bins;
}

// The writer: block k and outcome k per step, batched commits; after each commit it reports the
// highest k committed. Never returns.
[[noreturn]] void writer(const std::string& path, int64_t first_k, int fd) {
  try {
    es::StoreOptions o;
    o.commit_every_rows = 12;  // 3 steps of (3 block rows + 1 outcome)
    o.commit_interval_s = 0.01;
    es::Store s(path, o);
    int64_t k = first_k, pending_max = -1;
    s.set_commit_listener([&] {
      if (pending_max >= 0 && write(fd, &pending_max, sizeof pending_max) != sizeof pending_max) _exit(4);
    });
    for (;; ++k) {
      // A commit can fire inside either call; it reports only steps written in full before it.
      s.put_block(1, kT0 + k * 3600, bins_for(k));
      s.add_outcome({0, 1, "step", static_cast<double>(k), kT0 + k, ""});
      pending_max = k;
    }
  } catch (...) {
    _exit(3);
  }
}

}  // namespace

TEST(StoreCrash, KilledWriterLosesNothingCommitted) {
  const auto dir = eh::test::temp_dir("crash");
  const std::string path = (dir / "s.db").string();
  { es::Store init(path); }
  int64_t next_k = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      writer(path, next_k, fds[1]);
    }
    close(fds[1]);
    // Let it commit a few dozen batches, then kill it wherever it is.
    int64_t reported = -1, v = 0;
    int reports = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (reports < 20 + 7 * round && std::chrono::steady_clock::now() < deadline) {
      if (read(fds[0], &v, sizeof v) != sizeof v) break;
      reported = std::max(reported, v);
      ++reports;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(300 * round));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "writer exited early, status " << status;
    while (read(fds[0], &v, sizeof v) == sizeof v) reported = std::max(reported, v);  // reports sent before the kill
    close(fds[0]);
    ASSERT_GE(reported, next_k) << "round " << round << ": the writer reported no commit";

    es::Store s(path);  // recovers the WAL
    EXPECT_EQ(s.integrity_check(), "ok") << "round " << round;
    std::vector<bool> have_outcome(static_cast<size_t>(reported + 1), false);
    for (const auto& o : s.outcomes())
      if (o.value >= 0 && o.value <= static_cast<double>(reported)) have_outcome[static_cast<size_t>(o.value)] = true;
    int missing_blocks = 0, missing_outcomes = 0;
    for (int64_t k = 0; k <= reported; ++k) {
      if (s.block(1, kT0 + k * 3600) != bins_for(k)) ++missing_blocks;
      if (!have_outcome[static_cast<size_t>(k)]) ++missing_outcomes;
    }
    EXPECT_EQ(missing_blocks, 0) << "round " << round << ", committed up to " << reported;
    EXPECT_EQ(missing_outcomes, 0) << "round " << round;
    // The next writer continues at the first step not wholly in the store. A kill between a
    // step's block commit and its outcome commit leaves block k without outcome k: step k is
    // rewritten (put_block is an upsert), so no reported step can lose its outcome.
    std::set<int64_t> outcome_steps;
    for (const auto& o : s.outcomes()) outcome_steps.insert(static_cast<int64_t>(o.value));
    next_k = 0;
    while (outcome_steps.count(next_k)) ++next_k;
    ASSERT_GE(static_cast<int64_t>(s.block_keys().size()), next_k);
  }
}
