// Small helpers for self-contained HTML reports (no network, no external fonts or scripts):
// escaping, base64 data: URIs for images, key/value and grid tables, and the page frame.
// Shared by `edgeherd run` (report/run_report.h) and `edgeherd demo`.
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eh::report {

// &, <, >, " and ' as entities.
std::string html_escape(const std::string& s);
// Standard base64 (RFC 4648, with '=' padding).
std::string base64(const std::vector<uint8_t>& bytes);
std::string base64(const std::string& bytes);
// "data:<mime>;base64,...".
std::string data_uri(const std::string& mime, const std::vector<uint8_t>& bytes);

// One row per key: <th>key</th><td>value</td> (strings as they are, other values as JSON).
std::string kv_table(const nlohmann::ordered_json& rows);

// A grid table; cells are HTML already (escape text with html_escape).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string css_class;  // optional
};
std::string table_html(const Table& t);

// The page: <!doctype html>, UTF-8, an inline style sheet (plus `extra_css`), `body_html`, and
// one inline onload script that marks the page as rendered: it sets <body data-ready="ok"> and
// data-svgs to the number of <svg> elements, so a headless browser's --dump-dom shows that the
// page loaded and scripts ran without error.
std::string html_page(const std::string& title, const std::string& body_html, const std::string& extra_css = "");

// Fixed colours: per animal id (the annotated video uses the same ones) and per behaviour class.
std::array<uint8_t, 3> id_rgb(int id);
std::string id_colour(int id);               // "#rrggbb"
std::string behaviour_colour(int class_id);  // "#rrggbb"; class 0..8 (unknown is grey)

// Number formatting for tables: fixed decimals, "–" for NaN / missing.
std::string fmt_num(double v, int decimals = 2);
std::string fmt_pct(double ratio, int decimals = 2);  // 0.9512 -> "95.12%"
std::string fmt_bytes(double bytes);                   // "1.23 MiB"

}  // namespace eh::report
