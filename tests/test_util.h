// Small helpers shared by the test suites: temp dirs, running the edgeherd binary, fixtures.
#pragma once
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>

namespace eh::test {

inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("edgeherd_test_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// A whole file as a string ("" if it cannot be read).
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct CliResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

#ifdef EH_BINARY
inline CliResult run_cli(const std::string& args) {
  CliResult r;
  std::string cmd = std::string(EH_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
#endif

#ifdef EH_FIXTURES_DIR
inline std::filesystem::path fixture(const std::string& rel) { return std::filesystem::path(EH_FIXTURES_DIR) / rel; }
#endif

}  // namespace eh::test
