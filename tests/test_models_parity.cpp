// The ported architectures against the upstream reference fixtures (../shared/fixtures),
// through the same `edgeherd parity` / `edgeherd manifest` commands users run. Tolerances are
// the ones each fixture's README states; they are never widened here.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace fs = std::filesystem;

namespace {

struct FixtureCase {
  const char* dir;
  const char* arch;
};
const FixtureCase kCases[] = {{"dinov3_vits16", "dinov3_vit"}, {"tinyvit_21m_512", "tinyvit"}, {"fpn", "fpn"}};

class Fixture : public ::testing::TestWithParam<FixtureCase> {
 protected:
  fs::path dir() const { return eh::test::fixture(GetParam().dir); }
  void SetUp() override {
    if (!fs::exists(dir() / "io.safetensors")) GTEST_SKIP() << "fixture missing: " << dir();
  }
};

std::string name_of(const ::testing::TestParamInfo<FixtureCase>& i) { return i.param.arch; }

}  // namespace

TEST_P(Fixture, ParityAtReadmeTolerance) {
  // All three READMEs: |ours - ref| <= 1e-4 + 1e-4*|ref| on every output and intermediate.
  auto d = dir();
  auto r = eh::test::run_cli("parity --arch " + std::string(GetParam().arch) + " --config " + (d / "config.json").string() +
                             " --weights " + (d / "weights.safetensors").string() + " --io " +
                             (d / "io.safetensors").string() + " --atol 1e-4 --rtol 1e-4");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  // Every reference tensor is compared: the port produces all outputs and intermediates.
  EXPECT_NE(r.out.find(" 0 failed, 0 skipped"), std::string::npos) << r.out;
}

TEST_P(Fixture, FullSizeManifestMatchesUpstream) {
  auto d = dir();
  auto r = eh::test::run_cli("manifest --arch " + std::string(GetParam().arch) + " --config " +
                             (d / "config_full.json").string() + " --compare " + (d / "manifest_full.tsv").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("manifest matches"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Upstream, Fixture, ::testing::ValuesIn(kCases), name_of);

TEST(Manifest, DinoV3SmallHasTheStatedParameterCount) {
  auto d = eh::test::fixture("dinov3_vits16");
  if (!fs::exists(d)) GTEST_SKIP();
  auto r = eh::test::run_cli("manifest --arch dinov3_vit --config " + (d / "config_full.json").string());
  EXPECT_NE(r.out.find("dinov3_vit: 21601152 parameters"), std::string::npos) << r.out.substr(0, 300);
}
