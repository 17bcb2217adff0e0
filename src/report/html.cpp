#include "report/html.h"

#include <fmt/format.h>

#include <cmath>

namespace eh::report {

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

namespace {
template <class Bytes>
std::string b64(const Bytes& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  o.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(in[k])); };
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    o += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    const uint32_t v = at(i) << 16;
    o += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    o += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return o;
}
}  // namespace

std::string base64(const std::vector<uint8_t>& bytes) { return b64(bytes); }
std::string base64(const std::string& bytes) { return b64(bytes); }

std::string data_uri(const std::string& mime, const std::vector<uint8_t>& bytes) {
  return "data:" + mime + ";base64," + base64(bytes);
}

std::string kv_table(const nlohmann::ordered_json& rows) {
  std::string s = "<table class=\"kv\">";
  for (auto it = rows.begin(); it != rows.end(); ++it) {
    const auto& v = it.value();
    s += "<tr><th>" + html_escape(it.key()) + "</th><td>" + html_escape(v.is_string() ? v.get<std::string>() : v.dump()) +
         "</td></tr>";
  }
  return s + "</table>";
}

std::string table_html(const Table& t) {
  std::string s = t.css_class.empty() ? "<table>" : "<table class=\"" + html_escape(t.css_class) + "\">";
  if (!t.header.empty()) {
    s += "<thead><tr>";
    for (const auto& h : t.header) s += "<th>" + h + "</th>";
    s += "</tr></thead>";
  }
  s += "<tbody>";
  for (const auto& r : t.rows) {
    s += "<tr>";
    for (const auto& c : r) s += "<td>" + c + "</td>";
    s += "</tr>";
  }
  return s + "</tbody></table>";
}

std::string html_page(const std::string& title, const std::string& body_html, const std::string& extra_css) {
  std::string s =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
      html_escape(title) +
      "</title><style>"
      "body{font-family:sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222;background:#fff}"
      "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}"
      "table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}"
      "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}"
      ".note{color:#666;font-size:0.9em}.warn{color:#a40}.thumbs img{height:72px;margin:2px;border:1px solid #ccc}"
      "svg{max-width:100%;height:auto}" +
      extra_css +
      "</style></head><body>\n" + body_html +
      "\n<script>window.addEventListener('load',function(){var b=document.body;"
      "b.setAttribute('data-svgs',String(document.getElementsByTagName('svg').length));"
      "b.setAttribute('data-ready','ok');});</script>\n</body></html>\n";
  return s;
}

std::array<uint8_t, 3> id_rgb(int id) {
  // 20 well-separated hues (after Kelly's / Glasbey's lists), none close to white or grey.
  static const uint8_t kPalette[20][3] = {
      {230, 25, 75},  {60, 180, 75},  {0, 130, 200},  {245, 130, 48}, {145, 30, 180}, {70, 240, 240}, {240, 50, 230},
      {210, 245, 60}, {0, 128, 128},  {170, 110, 40}, {128, 0, 0},    {0, 0, 128},    {128, 128, 0},  {255, 225, 25},
      {220, 190, 255}, {170, 255, 195}, {255, 215, 180}, {0, 200, 90}, {100, 60, 200}, {200, 80, 0}};
  const int k = ((id - 1) % 20 + 20) % 20;
  return {kPalette[k][0], kPalette[k][1], kPalette[k][2]};
}

std::string id_colour(int id) {
  const auto c = id_rgb(id);
  return fmt::format("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
}

std::string behaviour_colour(int class_id) {
  // unknown, not_moving, moving, running, eating, drinking, playing, standing, lying
  static const char* kColours[9] = {"#bbbbbb", "#8c564b", "#2ca02c", "#d62728", "#ff7f0e",
                                    "#1f77b4", "#e377c2", "#bcbd22", "#9467bd"};
  if (class_id < 0 || class_id >= 9) return "#ffffff";
  return kColours[class_id];
}

std::string fmt_num(double v, int decimals) {
  if (!std::isfinite(v)) return "\u2013";
  return fmt::format("{:.{}f}", v, decimals);
}

std::string fmt_pct(double ratio, int decimals) {
  if (!std::isfinite(ratio)) return "\u2013";
  return fmt::format("{:.{}f}%", 100.0 * ratio, decimals);
}

std::string fmt_bytes(double b) {
  if (!std::isfinite(b) || b < 0) return "\u2013";
  const char* u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int k = 0;
  while (b >= 1024 && k < 4) b /= 1024, ++k;
  return k == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.2f} {}", b, u[k]);
}

}  // namespace eh::report
