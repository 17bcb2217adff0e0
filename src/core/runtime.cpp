#include "core/runtime.h"

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace eh::runtime {

int num_cores() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

std::string blas_library() {
  // Debian routes libblas.so.3 through alternatives; the mapped path tells which one won.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto pos = line.find('/');
    if (pos == std::string::npos) continue;
    std::string path = line.substr(pos);
    if (path.find("libopenblas") != std::string::npos || path.find("libblas.so") != std::string::npos ||
        path.find("libmkl") != std::string::npos)
      return path;
  }
  return "unknown";
}

bool blas_is_reference() {
  std::string p = blas_library();
  return p.find("openblas") == std::string::npos && p.find("mkl") == std::string::npos &&
         p.find("libblas.so") != std::string::npos;
}

void init(int threads) {
  // One malloc arena. glibc gives threads their own arenas, and memory freed on another thread
  // than the one that allocated it (frames decoded on the reader thread, tensors made on
  // LibTorch's pool) stays in that arena: `edgeherd run` on a 720-frame pen grew from 300 MB to
  // 380-1200 MB (varying with thread timing) while every cache it accounts for stayed flat; with
  // one arena it ends at 340-390 MB, at the same speed (docs/run.md). MALLOC_ARENA_MAX, if set, wins.
#if defined(__GLIBC__)
  if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 1);
#endif
  // OpenBLAS reads OPENBLAS_NUM_THREADS when it loads, before main; set it at run time too.
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(1);
  torch::set_num_threads(threads > 0 ? threads : num_cores());
  if (blas_is_reference())
    spdlog::warn("LibTorch is running on the reference BLAS ({}); matmul will be ~30x slower. Install "
                 "libopenblas0-pthread (the ./run script does).",
                 blas_library());
  spdlog::debug("runtime: {}", describe());
}

std::string describe() {
  std::ostringstream s;
  s << "cores=" << num_cores() << " torch_threads=" << torch::get_num_threads() << " blas=" << blas_library()
    << " libtorch=" << TORCH_VERSION;
  return s.str();
}

static long long status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::string(key).size());
  return 0;
}
long long peak_rss_bytes() { return status_kb("VmHWM:") * 1024; }
long long current_rss_bytes() { return status_kb("VmRSS:") * 1024; }

}  // namespace eh::runtime
