// The HTML report builder on hand-made report.json objects: helpers, the paper table for one
// run and for a teacher/student pair, and the plots.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "report/html.h"
#include "report/run_report.h"

namespace {

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

nlohmann::json run(const std::string& label, double mota, double ms) {
  nlohmann::json j;
  j["edgeherd_report"] = 1;
  j["label"] = label;
  j["source"] = "sim:seed=1";
  j["model"] = {{"name", "pen-tiny"}, {"variant", label}, {"weights_bytes", 2 * 1048576}};
  j["frames"] = 120;
  j["duration_s"] = 20.0;
  j["frame_size"] = {640, 360};
  j["end_reason"] = "end of stream";
  j["interrupted"] = false;
  j["eval"] = {{"mot", {{"mota", mota}, {"idf1", 0.9712}, {"hota", nullptr}, {"switches", 1}}}, {"behaviour", nullptr}};
  j["timing"] = {{"fps", 12.5}, {"ms_per_frame", {{"segment", ms}, {"total", ms + 1}}}};
  j["memory"] = {{"peak_rss_bytes", 300 * 1048576.0},
                 {"series", {{"frame", {30, 60}}, {"rss_mb", {200, 210}}, {"caches_mb", {5, 5}}}}};
  j["tracking"] = {{"identities", 2}};
  j["timeline"] = {{"bin_s", 5.0}, {"bins", 4}};
  j["animals"] = nlohmann::json::array();
  j["animals"].push_back({{"id", 1}, {"budget_s", {0, 0, 5, 0, 0, 0, 0, 0, 15}}, {"timeline", {8, 8, 2, -1}},
                          {"thumbnails", {{{"t", 0.0}, {"jpeg_base64", "AAAA"}}}}});
  j["animals"].push_back({{"id", 2}, {"budget_s", {0, 0, 0, 0, 10, 0, 0, 0, 0}}, {"timeline", {-1, 4, 4, 4}}});
  j["heatmap"] = {{"cols", 3}, {"rows", 2}, {"width_px", 640}, {"height_px", 360}, {"pixels_per_metre", 100},
                  {"counts", {0, 4, 0, 1, 0, 0}}};
  return j;
}

}  // namespace

TEST(Html, EscapeAndBase64) {
  EXPECT_EQ(eh::report::html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(eh::report::base64(std::string("Man")), "TWFu");  // RFC 4648 examples
  EXPECT_EQ(eh::report::base64(std::string("Ma")), "TWE=");
  EXPECT_EQ(eh::report::base64(std::string("M")), "TQ==");
  EXPECT_EQ(eh::report::base64(std::string("foobar")), "Zm9vYmFy");
  EXPECT_EQ(eh::report::base64(std::string("")), "");
  EXPECT_EQ(eh::report::data_uri("image/png", {0xff, 0x00}), "data:image/png;base64,/wA=");
  EXPECT_EQ(eh::report::fmt_pct(0.95123), "95.12%");
  EXPECT_EQ(eh::report::fmt_bytes(1536), "1.50 KiB");
  EXPECT_EQ(eh::report::id_colour(1), eh::report::id_colour(21));  // palette of 20
  EXPECT_NE(eh::report::id_colour(1), eh::report::id_colour(2));
}

TEST(Html, PageHasTheReadyScript) {
  const std::string p = eh::report::html_page("t <1>", "<p>x</p>");
  EXPECT_EQ(p.rfind("<!doctype html>", 0), 0u);
  EXPECT_NE(p.find("<title>t &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(p.find("data-ready"), std::string::npos);
  EXPECT_EQ(p.find("http://"), std::string::npos);  // nothing fetched from the network
  EXPECT_EQ(p.find("https://"), std::string::npos);
}

TEST(RunReport, RejectsWhatIsNotAReport) {
  EXPECT_THROW(eh::report::run_report_html({}), eh::Error);
  EXPECT_THROW(eh::report::run_report_html({nlohmann::json{{"frames", 3}}}), eh::Error);
}

TEST(RunReport, OneRun) {
  const std::string h = eh::report::run_report_html({run("student", 0.9512, 40.0)});
  EXPECT_NE(h.find("95.12%"), std::string::npos);    // MOTA
  EXPECT_NE(h.find("97.12%"), std::string::npos);    // IDF1
  EXPECT_NE(h.find("2.00 MiB"), std::string::npos);  // weights
  EXPECT_NE(h.find("300.00 MiB"), std::string::npos);
  EXPECT_EQ(h.find("HOTA vs ground truth"), std::string::npos) << "absent figures get no row";
  EXPECT_EQ(h.find("Behaviour top-1"), std::string::npos);
  EXPECT_NE(h.find("data:image/jpeg;base64,AAAA"), std::string::npos);
  // timeline, budgets, heat map, memory: four inline SVGs
  EXPECT_EQ(count(h, "<svg"), 4);
  EXPECT_EQ(h.find("no animals were found"), std::string::npos);
  EXPECT_EQ(h.find("interrupted</b>"), std::string::npos);
}

TEST(RunReport, TeacherStudentPairWithExtraFigures) {
  eh::report::ReportExtras x;
  x.figures.push_back({"Parameters", {"11.2M", "1.9M"}, "trunk"});
  x.figures.push_back({"MOTA student vs teacher", {"98.10%"}, "agreement"});
  x.sections.push_back({"Run settings", "<p>seed 9001</p>"});
  const std::string h = eh::report::run_report_html({run("teacher", 0.99, 300.0), run("student", 0.98, 40.0)}, x);
  EXPECT_NE(h.find("<th>teacher</th><th>student</th>"), std::string::npos);
  EXPECT_NE(h.find("99.00%"), std::string::npos);
  EXPECT_NE(h.find("98.00%"), std::string::npos);
  EXPECT_NE(h.find("<td class=\"num\">11.2M</td><td class=\"num\">1.9M</td>"), std::string::npos);
  EXPECT_NE(h.find("colspan=\"2\">98.10%"), std::string::npos);
  EXPECT_NE(h.find("<h2>Run settings</h2><p>seed 9001</p>"), std::string::npos);
  EXPECT_NE(h.find("<title>edgeherd: teacher vs student</title>"), std::string::npos);
  // per run: timeline, budget, heat map; one memory plot for both
  EXPECT_EQ(count(h, "<svg"), 7);
}

TEST(RunReport, TimelineDrawsOneRectPerLabelRun) {
  const auto j = run("student", 0.9, 1);
  const std::string s = eh::report::behaviour_timeline_svg(j);
  // animal 1: [lying, lying] [moving] [unseen]; animal 2: [unseen] [eating x3]
  EXPECT_EQ(count(s, "fill=\"" + eh::report::behaviour_colour(8) + "\"/>"), 1 + 1);  // one run + legend swatch
  EXPECT_EQ(count(s, "fill=\"" + eh::report::behaviour_colour(2) + "\"/>"), 1 + 1);
  EXPECT_EQ(count(s, "fill=\"" + eh::report::behaviour_colour(4) + "\"/>"), 1 + 1);
  EXPECT_NE(s.find("20 s"), std::string::npos);  // axis end: 4 bins of 5 s
}

TEST(RunReport, HeatMapCellsAndMarks) {
  const std::string s = eh::report::heatmap_svg(run("x", 0.9, 1));
  EXPECT_EQ(count(s, "fill=\"rgb("), 2);  // two non-empty cells
  EXPECT_NE(s.find("fill=\"rgb(255,0,0)\""), std::string::npos);  // the fullest cell is the darkest
  EXPECT_NE(s.find("6.4"), std::string::npos);  // x axis in metres: 640 px / 100 px/m
}

TEST(RunReport, InterruptedAndEmptyRunsAreSaidSo) {
  auto j = run("student", 0.9, 1);
  j["interrupted"] = true;
  j["end_reason"] = "interrupted (stop requested)";
  j["tracking"]["identities"] = 0;
  j["animals"] = nlohmann::json::array();
  const std::string h = eh::report::run_report_html({j});
  EXPECT_NE(h.find("interrupted</b>"), std::string::npos);
  EXPECT_NE(h.find("no animals were found"), std::string::npos);
}
