// See text_clean.h. Python semantics followed here: html/__init__.py (3.11) `unescape`, ftfy 6.1.1
// `fix_text` / `fix_and_explain` / fixes.py, and the `regex` package's `\s` for whitespace_clean.
#include "models/sam3/text_clean.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string_view>

#include "core/error.h"

namespace eh::models {

namespace {

struct NamedRef {
  const char* name;
  const char* text;
};
struct CodeText {
  uint32_t cp;
  const char* text;
};
struct CodeRange {
  uint32_t lo, hi;
};

#include "models/sam3/text_clean_tables.inc"

template <size_t N>
const char* find_named(const NamedRef (&table)[N], const std::string& name) {
  auto it = std::lower_bound(std::begin(table), std::end(table), name,
                             [](const NamedRef& r, const std::string& n) { return std::strcmp(r.name, n.c_str()) < 0; });
  return it != std::end(table) && name == it->name ? it->text : nullptr;
}

template <size_t N>
const char* find_code(const CodeText (&table)[N], uint32_t cp) {
  auto it = std::lower_bound(std::begin(table), std::end(table), cp, [](const CodeText& r, uint32_t c) { return r.cp < c; });
  return it != std::end(table) && it->cp == cp ? it->text : nullptr;
}

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], uint32_t cp) {
  auto it = std::upper_bound(std::begin(table), std::end(table), cp, [](uint32_t c, const CodeRange& r) { return c < r.lo; });
  return it != std::begin(table) && cp <= std::prev(it)->hi;
}

bool is_ascii_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || (c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F'); }
bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'); }

// html._replace_charref for a numeric reference (digits already validated); `num` saturates above 0x10FFFF.
std::u32string numeric_ref(const std::u32string& digits, int base) {
  uint64_t num = 0;
  for (char32_t c : digits) {
    const uint32_t d = is_ascii_digit(c) ? c - U'0' : (c | 0x20) - U'a' + 10;
    num = std::min<uint64_t>(num * base + d, 0x110000);
  }
  if (const char* t = find_code(kInvalidCharrefs, static_cast<uint32_t>(num))) return utf8_decode(t);
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
  if (in_ranges(kInvalidCodepoints, static_cast<uint32_t>(num))) return U"";
  return std::u32string(1, static_cast<char32_t>(num));
}

// html's `_charref` pattern at s[i] == '&': returns the match length (0 = no match) and its replacement.
size_t match_charref(const std::u32string& s, size_t i, std::u32string* out) {
  const size_t n = s.size();
  size_t j = i + 1;
  if (j < n && s[j] == U'#') {
    const bool hex = j + 1 < n && (s[j + 1] == U'x' || s[j + 1] == U'X');
    if (!hex) {  // '#[0-9]+;?'
      size_t k = j + 1;
      while (k < n && is_ascii_digit(s[k])) ++k;
      if (k == j + 1) return 0;
      *out = numeric_ref(s.substr(j + 1, k - j - 1), 10);
      if (k < n && s[k] == U';') ++k;
      return k - i;
    }
    size_t k = j + 2;  // '#[xX][0-9a-fA-F]+;?'
    while (k < n && is_ascii_hex(s[k])) ++k;
    if (k == j + 2) return 0;  // and the named alternative cannot start with '#'
    *out = numeric_ref(s.substr(j + 2, k - j - 2), 16);
    if (k < n && s[k] == U';') ++k;
    return k - i;
  }
  // '[^\t\n\f <&#;]{1,32};?'
  size_t k = j;
  while (k < n && k - j < 32 && std::u32string_view(U"\t\n\f <&#;").find(s[k]) == std::u32string_view::npos) ++k;
  if (k == j) return 0;
  if (k < n && s[k] == U';') ++k;
  const std::u32string name = s.substr(j, k - j);
  if (const char* t = find_named(kHtml5Refs, utf8_encode(name))) {
    *out = utf8_decode(t);
  } else {
    *out = U"&" + name;
    for (size_t x = name.size() - 1; x >= 2; --x) {  // the longest legacy name that prefixes it
      if (const char* t2 = find_named(kHtml5Refs, utf8_encode(name.substr(0, x)))) {
        *out = utf8_decode(t2) + name.substr(x);
        break;
      }
    }
  }
  return k - i;
}

// ftfy.fixes.unescape_html: `&#?[0-9A-Za-z]{1,24};` decoded when it is an HTML5 name with ';', one of ftfy's
// all-caps names, or a numeric reference html.unescape consumes entirely.
std::u32string ftfy_unescape(const std::u32string& s) {
  std::u32string out;
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    if (s[i] != U'&') {
      out += s[i++];
      continue;
    }
    size_t j = i + 1;
    if (j < n && s[j] == U'#') ++j;
    size_t k = j;
    while (k < n && k - j < 25 && is_ascii_alnum(s[k])) ++k;
    if (k == j || k - j > 24 || k >= n || s[k] != U';') {
      out += s[i++];
      continue;
    }
    const std::u32string ref = s.substr(i, k + 1 - i);
    const std::string name = utf8_encode(ref.substr(1));
    const char* t = find_named(kHtml5Refs, name);
    if (!t) t = find_named(kFtfyUpperRefs, name);
    if (t) {
      out += utf8_decode(t);
    } else if (ref[1] == U'#') {
      const std::u32string u = html_unescape(ref);
      out += u.find(U';') == std::u32string::npos ? u : ref;
    } else {
      out += ref;
    }
    i = k + 1;
  }
  return out;
}

icu::UnicodeString to_icu(const std::u32string& s) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
}

std::u32string from_icu(const icu::UnicodeString& u) {
  UErrorCode err = U_ZERO_ERROR;
  std::u32string out(static_cast<size_t>(u.countChar32()), U'\0');
  u.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), err);
  if (U_FAILURE(err)) throw Error(std::string("ICU UTF-32 conversion failed: ") + u_errorName(err));
  return out;
}

std::u32string nfc(const std::u32string& s) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* norm = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) throw Error(std::string("ICU NFC normalizer unavailable: ") + u_errorName(err));
  icu::UnicodeString out = norm->normalize(to_icu(s), err);
  if (U_FAILURE(err)) throw Error(std::string("ICU NFC normalization failed: ") + u_errorName(err));
  return from_icu(out);
}

// One pass of fix_and_explain's fixers after unescape_html (fix_encoding not ported).
std::u32string ftfy_char_fixers(const std::u32string& s) {
  std::u32string a;  // fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes
  for (char32_t c : s) {
    if (const char* t = find_code(kFtfyCharFixes, c)) a += utf8_decode(t);
    else a += c;
  }
  std::u32string b;  // fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 -> \n
  for (size_t i = 0; i < a.size(); ++i) {
    const char32_t c = a[i];
    if (c == U'\r' && i + 1 < a.size() && a[i + 1] == U'\n') continue;
    b += (c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? U'\n' : c;
  }
  std::u32string d;  // remove_terminal_escapes: "\033\[((?:\d|;)*)([a-zA-Z])" (\d = any Unicode decimal digit)
  for (size_t i = 0; i < b.size();) {
    if (b[i] == 0x1B && i + 1 < b.size() && b[i + 1] == U'[') {
      size_t k = i + 2;
      while (k < b.size() && (b[k] == U';' || u_charType(b[k]) == U_DECIMAL_DIGIT_NUMBER)) ++k;
      if (k < b.size() && ((b[k] >= U'a' && b[k] <= U'z') || (b[k] >= U'A' && b[k] <= U'Z'))) {
        i = k + 1;
        continue;
      }
    }
    d += b[i++];
  }
  std::u32string e;  // remove_control_chars
  for (char32_t c : d)
    if (!in_ranges(kFtfyControlChars, c)) e += c;
  return nfc(e);
}

std::u32string strip(const std::u32string& s) {
  size_t a = 0, b = s.size();
  while (a < b && py_isspace(s[a])) ++a;
  while (b > a && py_isspace(s[b - 1])) --b;
  return s.substr(a, b - a);
}

}  // namespace

std::u32string utf8_decode(const std::string& s, const std::string& what) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char b = p[i];
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      ok = (p[i + k] & 0xC0) == 0x80;
      c = (c << 6) | (p[i + k] & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && c >= kMin[len] && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
    if (!ok) throw Error(what + ": not valid UTF-8 at byte " + std::to_string(i));
    out += c;
    i += len;
  }
  return out;
}

std::string utf8_encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

bool regex_space(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE); }

bool py_isspace(char32_t c) { return regex_space(c) || (c >= 0x1C && c <= 0x1F); }

std::u32string html_unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    std::u32string rep;
    const size_t len = s[i] == U'&' ? match_charref(s, i, &rep) : 0;
    if (len == 0) {
      out += s[i++];
    } else {
      out += rep;
      i += len;
    }
  }
  return out;
}

std::u32string ftfy_fix_text(const std::u32string& text) {
  // fix_text: segments end after each '\n'; unescape_html="auto" turns off for good at the first segment with '<'.
  bool unescape = true;
  std::u32string out;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find(U'\n', pos);
    const size_t end = nl == std::u32string::npos ? text.size() : nl + 1;
    std::u32string seg = text.substr(pos, end - pos);
    if (seg.find(U'<') != std::u32string::npos) unescape = false;
    while (true) {  // fix_and_explain: repeat until nothing changes
      const std::u32string orig = seg;
      if (unescape) seg = ftfy_unescape(seg);
      seg = ftfy_char_fixers(seg);
      if (seg == orig) break;
    }
    out += seg;
    pos = end;
  }
  return out;
}

std::u32string sam3_clean_lower(const std::u32string& text) {
  // basic_clean
  std::u32string s = strip(html_unescape(html_unescape(ftfy_fix_text(text))));
  // whitespace_clean: regex `\s+` -> " " (White_Space; str.strip also takes U+001C..U+001F)
  std::u32string w;
  for (size_t i = 0; i < s.size();) {
    if (regex_space(s[i])) {
      while (i < s.size() && regex_space(s[i])) ++i;
      w += U' ';
    } else {
      w += s[i++];
    }
  }
  w = strip(w);
  // str.lower(): full lowercase mapping with Final_Sigma, as ICU's root-locale toLower
  icu::UnicodeString u = to_icu(w);
  u.toLower(icu::Locale::getRoot());
  return from_icu(u);
}

std::string sam3_clean_lower(const std::string& text) { return utf8_encode(sam3_clean_lower(utf8_decode(text))); }

}  // namespace eh::models
