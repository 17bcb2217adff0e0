// Text cleaning of the SAM 3 tokenizer: `SimpleTokenizer(clean="lower")` (facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e, sam3/model/tokenizer_ve.py `_clean_lower`):
//   whitespace_clean(basic_clean(text)).lower()
//   basic_clean      = ftfy.fix_text (sam3 pins ftfy 6.1.1), html.unescape twice, str.strip()
//   whitespace_clean = regex `\s+` -> " ", str.strip()
// Unicode character data (categories, White_Space, lowercasing, NFC) comes from ICU.
//
// ftfy is not a C++ library; of `fix_text` (default TextFixerConfig) this ports, in ftfy's order and with its
// per-line segmentation and fixed-point loop: unescape_html ("auto": off from the first line containing '<' on),
// fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks,
// remove_terminal_escapes, remove_control_chars, NFC (the character tables are generated from ftfy itself by
// tools/gen_sam3_text_tables.py). Not ported: `fix_encoding` (mojibake repair: text that ftfy's badness
// heuristic flags, such as "cafÃ©", is decoded by upstream and kept as it is here) and fix_surrogates (valid
// UTF-8 has no surrogates).
#pragma once
#include <string>

namespace eh::models {

// UTF-8 <-> code points. Invalid UTF-8 is an eh::Error naming `what` and the byte offset.
std::u32string utf8_decode(const std::string& s, const std::string& what = "text");
std::string utf8_encode(const std::u32string& s);

// Python's html.unescape (3.11): numeric references with the HTML5 replacement rules, named references from
// html.entities.html5 including the legacy ones without ';' and the longest-prefix rule.
std::u32string html_unescape(const std::u32string& s);

// The ported part of ftfy.fix_text (see above).
std::u32string ftfy_fix_text(const std::u32string& s);

// Python str.isspace (White_Space plus U+001C..U+001F) and regex's `\s` (White_Space).
bool py_isspace(char32_t c);
bool regex_space(char32_t c);

// The whole `_clean_lower` on UTF-8 text; returns UTF-8.
std::string sam3_clean_lower(const std::string& text);
std::u32string sam3_clean_lower(const std::u32string& text);

}  // namespace eh::models
