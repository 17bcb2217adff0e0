// Port-vs-reference check: build an architecture, bind reference weights strictly, feed the
// reference inputs and compare every output (and every intermediate the port produces).
#pragma once
#include <string>
#include <vector>

namespace eh::models {

struct ParityRequest {
  std::string arch, config, weights, io;
  double atol = 1e-4, rtol = 1e-4;
};

struct ParityRow {
  std::string name;            // "output.y" / "intermediate.h"
  std::string ref_shape, our_shape;
  double max_abs = 0, max_rel = 0;
  bool pass = false;
  std::string note;            // why it failed, or "not produced by this port" for skipped intermediates
  bool skipped = false;
};

struct ParityResult {
  std::vector<ParityRow> rows;  // one per reference output/intermediate
  int extra = 0;                 // tensors the port produced that the reference does not hold
  bool ok() const;
  int failures() const;
  std::string table() const;   // one line per tensor, then a summary line
};

ParityResult run_parity(const ParityRequest& req);

}  // namespace eh::models
