// The report of `edgeherd run` (report.html): one self-contained page built from one run's
// report.json, or from several runs side by side (the demo passes teacher and student). The
// JSON layout is documented in docs/run.md; every figure is read from it, nothing is recomputed.
//
//   nlohmann::json teacher = load_json("out/teacher/report.json"), student = ...;
//   eh::report::ReportExtras x;
//   x.figures.push_back({"Parameters", {"11.2M", "1.9M"}, ""});          // one value per run
//   x.figures.push_back({"MOTA student vs teacher", {"98.1%"}, ""});      // or one for all
//   std::string html = eh::report::run_report_html({teacher, student}, x);
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace eh::report {

struct Figure {
  std::string name;
  // One value per run (a column each) or exactly one value (spans all columns). Plain text.
  std::vector<std::string> values;
  std::string note;  // plain text, e.g. "target <= 1/3 of the teacher"
};

struct ReportExtras {
  std::string title;       // default: "edgeherd run" (one run) / "edgeherd: <labels>" (several)
  std::string intro_html;  // HTML placed under the title
  std::vector<Figure> figures;                              // appended to the paper table
  std::vector<std::pair<std::string, std::string>> sections;  // (heading, HTML) appended at the end
};

// The whole page. Throws eh::Error when `runs` is empty or a run is not a report.json object
// (no "edgeherd_report" key).
std::string run_report_html(const std::vector<nlohmann::json>& runs, const ReportExtras& extras = {});

// The parts, usable on their own (each an inline <svg> or a <table>; empty string when the run
// has nothing to show).
std::string paper_table_html(const std::vector<nlohmann::json>& runs, const std::vector<Figure>& extra = {});
std::string stage_table_html(const std::vector<nlohmann::json>& runs);
std::string behaviour_timeline_svg(const nlohmann::json& run);
std::string time_budget_svg(const nlohmann::json& run);
std::string heatmap_svg(const nlohmann::json& run);
std::string memory_svg(const std::vector<nlohmann::json>& runs);
std::string thumbnails_html(const nlohmann::json& run);

// A number at a JSON pointer ("/eval/mot/mota"); NaN when absent or not a number.
double json_num(const nlohmann::json& j, const std::string& pointer);
// A run's column label: "label", else model variant, else "run".
std::string run_label(const nlohmann::json& run);

}  // namespace eh::report
