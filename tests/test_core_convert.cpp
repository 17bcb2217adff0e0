// tools/convert_checkpoint.py (Debian python3-torch) -> our safetensors reader, values exact.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/tensor_io.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {
const char* kPython = "/usr/bin/python3";
fs::path script() { return fs::path(EH_TEST_DATA_DIR).parent_path().parent_path() / "tools" / "convert_checkpoint.py"; }
int sh(const std::string& cmd) { return std::system(cmd.c_str()); }
}  // namespace

TEST(ConvertCheckpoint, NestedCheckpointWithPrefixAndDrop) {
  if (sh(std::string(kPython) + " -c 'import torch' 2>/dev/null") != 0) GTEST_SKIP() << "python3-torch not installed";
  auto d = eh::test::temp_dir("convert");
  auto pt = d / "ckpt.pt";
  std::ofstream(d / "make.py") << "import torch\n"
                                  "sd = {'detector.backbone.w': torch.arange(6, dtype=torch.float32).reshape(2, 3),\n"
                                  "      'detector.backbone.idx': torch.arange(4),\n"
                                  "      'detector.backbone.attention_bias_idxs': torch.zeros(2, 2, dtype=torch.int64),\n"
                                  "      'detector.backbone.h': torch.tensor([1.5, -2.0], dtype=torch.float16),\n"
                                  "      'tracker.x': torch.ones(1)}\n"
                                  "torch.save({'model': sd, 'epoch': 3}, '" + pt.string() + "')\n";
  ASSERT_EQ(sh(std::string(kPython) + " " + (d / "make.py").string()), 0);
  auto out = d / "trunk.safetensors";
  std::string cmd = std::string(kPython) + " " + script().string() + " " + pt.string() + " " + out.string() +
                    " --prefix detector.backbone. --drop 'attention_bias_idxs$'";
  ASSERT_EQ(sh(cmd + " >/dev/null"), 0);
  auto f = eh::st::File::open(out.string());
  ASSERT_EQ(f.tensors().size(), 3u);  // tracker.x and the dropped idx buffer are left out
  EXPECT_TRUE(torch::equal(eh::read_tensor(f, "detector.backbone.w"), torch::arange(6, torch::kFloat).reshape({2, 3})));
  EXPECT_TRUE(torch::equal(eh::read_tensor(f, "detector.backbone.idx"), torch::arange(4, torch::kLong)));
  EXPECT_EQ(eh::read_tensor(f, "detector.backbone.h", torch::kFloat)[0].item<float>(), 1.5f);
  EXPECT_EQ(f.metadata().at("source"), "ckpt.pt");
  // Never overwrites.
  EXPECT_NE(sh(cmd + " >/dev/null 2>&1"), 0);
}
