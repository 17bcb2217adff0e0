// Process memory (from /proc/self/status) and the memory report of a stream's caches.
#pragma once
#include <string>
#include <vector>

#include "track/cache_usage.h"

namespace eh::video {

long long process_rss_bytes();       // VmRSS; 0 when unavailable
long long process_peak_rss_bytes();  // VmHWM; 0 when unavailable
// Resets the peak (VmHWM) to the current RSS (Linux: "5" into /proc/self/clear_refs).
// Returns false when the kernel does not allow it.
bool reset_peak_rss();

// A fixed-width table: one line per cache (name, items, bytes), the total, then the process
// RSS and peak RSS.
std::string format_memory_report(const std::vector<eh::track::CacheUsage>& caches, long long rss,
                                 long long peak_rss);
std::string format_bytes(double bytes);  // "1.23 MiB"

}  // namespace eh::video
