#include "perception/mem_meter.h"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <algorithm>
#include <atomic>

namespace eh::perception {

namespace {
class Reporter : public c10::MemoryReportingInfoBase {
 public:
  void reportMemoryUsage(void*, int64_t size, int64_t, int64_t, c10::Device) override {
    const int64_t now = current.fetch_add(size) + size;
    int64_t p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }
  bool memoryProfilingEnabled() const override { return true; }
  std::atomic<int64_t> current{0}, peak{0};
};
}  // namespace

struct PeakMemoryMeter::Impl {
  std::shared_ptr<Reporter> reporter = std::make_shared<Reporter>();
  c10::DebugInfoGuard guard{c10::DebugInfoKind::PROFILER_STATE, reporter};
};

PeakMemoryMeter::PeakMemoryMeter() : impl_(std::make_unique<Impl>()) {}
PeakMemoryMeter::~PeakMemoryMeter() = default;
int64_t PeakMemoryMeter::peak_bytes() const { return impl_->reporter->peak.load(); }
int64_t PeakMemoryMeter::current_bytes() const { return impl_->reporter->current.load(); }

}  // namespace eh::perception
