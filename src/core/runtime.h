// Process-wide runtime set-up: thread counts and which BLAS LibTorch actually runs on.
#pragma once
#include <string>

namespace eh::runtime {

// Sets torch intra-op threads (0 = number of cores), pins OpenBLAS to one thread (nested
// threading makes timings swing), limits glibc to one malloc arena (flat memory in streams that
// free on another thread than they allocate) and warns when the reference BLAS is the one loaded.
void init(int threads = 0);

int num_cores();
// The shared object that provides BLAS in this process, from /proc/self/maps, e.g.
// ".../openblas-pthread/libblas.so.3"; "unknown" when none is mapped.
std::string blas_library();
bool blas_is_reference();
// One line for logs and benchmark headers: cores, threads, BLAS, LibTorch version.
std::string describe();
// Peak resident set size of this process in bytes (VmHWM).
long long peak_rss_bytes();
long long current_rss_bytes();

}  // namespace eh::runtime
