// Peak tensor memory of a stretch of work on the calling thread (the CPU analogue of
// torch.cuda.max_memory_allocated): LibTorch's CPU allocator reports every allocation and free
// made while a meter is active on this thread. Used to compare the teacher's and the student's
// peak memory (weights held + peak of the tensors a frame allocates).
#pragma once
#include <cstdint>
#include <memory>

namespace eh::perception {

class PeakMemoryMeter {
 public:
  PeakMemoryMeter();   // starts counting on this thread
  ~PeakMemoryMeter();  // stops
  PeakMemoryMeter(const PeakMemoryMeter&) = delete;
  PeakMemoryMeter& operator=(const PeakMemoryMeter&) = delete;
  int64_t peak_bytes() const;     // highest live total of tensors allocated since construction
  int64_t current_bytes() const;  // live now (allocated since construction, not yet freed)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eh::perception
