// Independent jobs (simulated pens) on a few threads, with their results kept in job order, so
// what they produce does not depend on the thread count.
#pragma once
#include <functional>

namespace eh {

// Runs job(i) for i = 0..n-1, up to `workers` at a time: each round starts one thread per
// index on the next `workers` indices, joins them, then calls after_round(first, count) on the
// calling thread (where results are appended in index order and progress is shown). At most
// `workers` jobs' results are alive at once when after_round consumes them. An exception from a
// job is rethrown, after its round has joined, from the lowest index that threw. workers <= 1
// runs every job on the calling thread.
void run_in_rounds(int n, int workers, const std::function<void(int)>& job,
                   const std::function<void(int first, int count)>& after_round = {});

}  // namespace eh
