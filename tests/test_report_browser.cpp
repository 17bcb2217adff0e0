// report.html in a real browser: `edgeherd run` writes a report for a simulated pen, and the
// teacher/student pair page is built from two runs; headless Chromium (Debian `chromium`)
// loads each, its DOM must show that the page's onload script ran (data-ready="ok", the number
// of inline SVGs), the console must show no uncaught script error, and the screenshot must not
// be blank. Without chromium the test fails and says how to install it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <sstream>

#include "report/run_report.h"
#include "report/svg_plot.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

struct Shell {
  int code = -1;
  std::string out;
};

Shell sh(const std::string& cmd) {
  Shell r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string chromium_binary() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    const Shell s = sh(std::string("command -v ") + name + " 2>/dev/null");
    if (s.code == 0 && !s.out.empty()) return s.out.substr(0, s.out.find('\n'));
  }
  return "";
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Rendered {
  std::string dom, log;
  cv::Mat png;
};

Rendered render(const std::string& chromium, const fs::path& html, const fs::path& work) {
  Rendered r;
  const std::string common = " --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions"
                             " --user-data-dir=" + (work / "profile").string() +
                             " --enable-logging=stderr --v=0 --window-size=1200,2400 ";
  const std::string url = "file://" + fs::absolute(html).string();
  const fs::path png = work / (html.stem().string() + ".png");
  const Shell dom = sh(chromium + common + "--dump-dom '" + url + "' 2>" + (work / "dom.log").string());
  r.dom = dom.out;
  r.log = slurp(work / "dom.log");
  sh(chromium + common + "--screenshot=" + png.string() + " '" + url + "' >/dev/null 2>" + (work / "shot.log").string());
  r.log += slurp(work / "shot.log");
  r.png = cv::imread(png.string(), cv::IMREAD_COLOR);
  return r;
}

void expect_rendered_ok(const Rendered& r, int min_svgs) {
  EXPECT_NE(r.dom.find("data-ready=\"ok\""), std::string::npos) << "the onload script did not run\n" << r.log.substr(0, 4000);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.dom, m, std::regex("data-svgs=\"(\\d+)\""))) << r.dom.substr(0, 2000);
  EXPECT_GE(std::stoi(m[1]), min_svgs);
  EXPECT_EQ(r.log.find("Uncaught"), std::string::npos) << r.log.substr(0, 4000);
  ASSERT_FALSE(r.png.empty()) << "no screenshot\n" << r.log.substr(0, 4000);
  cv::Mat grey;
  cv::cvtColor(r.png, grey, cv::COLOR_BGR2GRAY);
  cv::Scalar mean, sd;
  cv::meanStdDev(grey, mean, sd);
  EXPECT_GT(sd[0], 10.0) << "screenshot is nearly uniform (blank page?)";
  const double non_white = static_cast<double>(cv::countNonZero(grey < 245)) / static_cast<double>(grey.total());
  EXPECT_GT(non_white, 0.02) << "screenshot is almost all white";
  // Colour is there (the plots and masks are coloured, text alone is grey).
  cv::Mat hsv;
  cv::cvtColor(r.png, hsv, cv::COLOR_BGR2HSV);
  std::vector<cv::Mat> ch;
  cv::split(hsv, ch);
  EXPECT_GT(cv::countNonZero(ch[1] > 80), 500) << "no coloured pixels";
}

}  // namespace

TEST(ReportBrowser, RunReportAndPairReportRenderInChromium) {
  const std::string chromium = chromium_binary();
  if (chromium.empty())
    FAIL() << "chromium is not installed: the report is checked in a real headless browser. Install it with "
              "`apt-get install chromium` (Debian; `./run test` installs it).";
  const auto dir = eh::test::temp_dir("report_browser");
  for (const char* label : {"teacher", "student"}) {
    const auto r = eh::test::run_cli(std::string("run sim:seed=31,pigs=3,width=640,height=360,frames=90 --model sim-gt -q") +
                                     " --label " + label + " --no-video --out " + (dir / label).string());
    ASSERT_EQ(r.code, 0) << r.out;
  }
  const fs::path one = dir / "student" / "report.html";
  ASSERT_TRUE(fs::exists(one));
  {
    const Rendered r = render(chromium, one, dir);
    SCOPED_TRACE("single run");
    expect_rendered_ok(r, 4);  // timeline, budgets, heat map, memory
  }
  // The pair page, as the demo builds it.
  std::vector<nlohmann::json> runs;
  for (const char* label : {"teacher", "student"}) runs.push_back(nlohmann::json::parse(slurp(dir / label / "report.json")));
  eh::report::ReportExtras x;
  x.figures.push_back({"MOTA student vs teacher", {"100.00%"}, "agreement"});
  const fs::path pair = dir / "pair.html";
  eh::report::write_text(pair.string(), eh::report::run_report_html(runs, x));
  {
    const Rendered r = render(chromium, pair, dir);
    SCOPED_TRACE("teacher/student pair");
    expect_rendered_ok(r, 7);
  }
}

// The check itself must catch a broken page: a script error shows in the log, and an empty
// page is blank.
TEST(ReportBrowser, TheCheckCatchesScriptErrorsAndBlankPages) {
  const std::string chromium = chromium_binary();
  if (chromium.empty())
    FAIL() << "chromium is not installed: install it with `apt-get install chromium` (`./run test` installs it).";
  const auto dir = eh::test::temp_dir("report_browser_neg");
  eh::report::write_text((dir / "bad.html").string(),
                         "<!doctype html><html><body><p>x</p><script>undefinedFunction();</script></body></html>");
  const Rendered r = render(chromium, dir / "bad.html", dir);
  EXPECT_NE(r.log.find("Uncaught"), std::string::npos) << r.log.substr(0, 2000);
  EXPECT_EQ(r.dom.find("data-ready=\"ok\""), std::string::npos);
  ASSERT_FALSE(r.png.empty());
  cv::Mat grey;
  cv::cvtColor(r.png, grey, cv::COLOR_BGR2GRAY);
  const double non_white = static_cast<double>(cv::countNonZero(grey < 245)) / static_cast<double>(grey.total());
  EXPECT_LT(non_white, 0.02);
}
