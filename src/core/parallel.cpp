#include "core/parallel.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace eh {

void run_in_rounds(int n, int workers, const std::function<void(int)>& job, const std::function<void(int, int)>& after_round) {
  workers = std::max(1, workers);
  for (int first = 0; first < n; first += workers) {
    const int count = std::min(workers, n - first);
    if (count == 1) {
      job(first);
    } else {
      std::vector<std::exception_ptr> errors(static_cast<size_t>(count));
      std::vector<std::thread> threads;
      threads.reserve(static_cast<size_t>(count));
      for (int i = 0; i < count; ++i)
        threads.emplace_back([&, i] {
          try {
            job(first + i);
          } catch (...) {
            errors[static_cast<size_t>(i)] = std::current_exception();
          }
        });
      for (auto& t : threads) t.join();
      for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
    }
    if (after_round) after_round(first, count);
  }
}

}  // namespace eh
