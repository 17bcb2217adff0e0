// Port of sam3/model/tokenizer_ve.py `SimpleTokenizer` (facebookresearch/sam3@99d02f28c8d34610ab35559b72642b01f10fdb1e).
#include "models/sam3/tokenizer.h"

#include <unicode/uchar.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/error.h"
#include "models/sam3/text_clean.h"

namespace eh::models {

namespace {

const std::u32string kSot = U"<start_of_text>", kEot = U"<end_of_text>";
const std::u32string kEndOfWord = U"</w>";

bool is_letter(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; }
bool is_number(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0; }
char32_t fold(char32_t c) { return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT)); }

// `[^\s\p{L}\p{N}]` under IGNORECASE: the `regex` package tests a negated set against every case variant, so a
// non-letter whose case fold is a letter (U+0345 COMBINING GREEK YPOGEGRAMMENI -> iota) matches no alternative
// and is skipped, as it is upstream.
bool is_other(char32_t c) { return !regex_space(c) && !is_letter(c) && !is_number(c) && !is_letter(fold(c)) && !is_number(fold(c)); }

// Case-insensitive literal at s[i] (simple case folding, as the pattern's IGNORECASE).
bool literal_at(const std::u32string& s, size_t i, const std::u32string& lit) {
  if (i + lit.size() > s.size()) return false;
  for (size_t k = 0; k < lit.size(); ++k)
    if (fold(s[i + k]) != fold(lit[k])) return false;
  return true;
}

// re.findall(pat, text) for the tokenizer's pattern (see tokenizer.h); alternatives in the pattern's order.
std::vector<std::u32string> pretokenize(const std::u32string& s) {
  static const std::u32string kLiterals[] = {kSot, kEot, U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<std::u32string> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    for (const auto& lit : kLiterals)
      if (literal_at(s, i, lit)) {
        len = lit.size();
        break;
      }
    if (len == 0 && is_letter(s[i])) {
      while (i + len < s.size() && is_letter(s[i + len])) ++len;
    } else if (len == 0 && is_number(s[i])) {
      len = 1;
    } else if (len == 0 && is_other(s[i])) {
      while (i + len < s.size() && is_other(s[i + len])) ++len;
    }
    if (len == 0) {  // whitespace (or U+0345): no match here
      ++i;
      continue;
    }
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

// Python str.split(): runs of whitespace separate, no empty parts.
std::vector<std::u32string> py_split(const std::u32string& s) {
  std::vector<std::u32string> parts;
  std::u32string cur;
  for (char32_t c : s) {
    if (py_isspace(c)) {
      if (!cur.empty()) parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(std::move(cur));
  return parts;
}

}  // namespace

std::string sam3_read_gzip_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open the BPE vocabulary file");
  const std::string packed((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (packed.size() < 2 || static_cast<unsigned char>(packed[0]) != 0x1F || static_cast<unsigned char>(packed[1]) != 0x8B)
    throw Error(path + ": not a gzip file (expected the magic bytes 1f 8b of the gzip'd BPE merges, e.g. "
                       "bpe_simple_vocab_16e6.txt.gz)");
  std::string out;
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw Error(path + ": zlib inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  char buf[1 << 16];
  int rc = Z_OK;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK) {
      const std::string why = z.msg ? z.msg : (rc == Z_BUF_ERROR ? "unexpected end of data" : std::to_string(rc));
      inflateEnd(&z);
      throw Error(path + ": corrupt gzip data (zlib: " + why + ") after " + std::to_string(out.size()) +
                  " decompressed bytes");
    }
    if (z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      throw Error(path + ": truncated gzip file (the compressed stream ends after " + std::to_string(out.size()) +
                  " decompressed bytes)");
    }
  }
  inflateEnd(&z);
  return out;
}

Sam3Tokenizer::Sam3Tokenizer(const std::string& bpe_path, int64_t context_length)
    : path_(bpe_path), context_length_(context_length) {
  if (context_length <= 0) throw Error("Sam3Tokenizer: context length must be positive, got " + std::to_string(context_length));
  // bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for U+0100 + n in byte order.
  std::vector<uint8_t> order;
  for (int b = '!'; b <= '~'; ++b) order.push_back(static_cast<uint8_t>(b));
  for (int b = 0xA1; b <= 0xAC; ++b) order.push_back(static_cast<uint8_t>(b));
  for (int b = 0xAE; b <= 0xFF; ++b) order.push_back(static_cast<uint8_t>(b));
  for (uint8_t b : order) byte_encoder_[b] = b;
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (std::find(order.begin(), order.end(), b) == order.end()) {
      order.push_back(static_cast<uint8_t>(b));
      byte_encoder_[b] = 256 + n++;
    }
  for (int b = 0; b < 256; ++b) byte_decoder_[byte_encoder_[b]] = static_cast<uint8_t>(b);

  const std::u32string text = utf8_decode(sam3_read_gzip_file(bpe_path), bpe_path + " (decompressed)");
  // text.split("\n")[1 : 49152 - 256 - 2 + 1]: every line in that slice is a vocabulary entry (its
  // whitespace-separated parts joined, even when that is not a pair); pairs also get a merge rank.
  std::vector<std::u32string> lines;
  for (size_t pos = 0;;) {
    const size_t nl = text.find(U'\n', pos);
    lines.push_back(text.substr(pos, nl == std::u32string::npos ? std::u32string::npos : nl - pos));
    if (nl == std::u32string::npos) break;
    pos = nl + 1;
  }
  const size_t last = std::min<size_t>(lines.size(), 49152 - 256 - 2 + 1);
  for (uint8_t b : order) decoder_.push_back(std::u32string(1, byte_encoder_[b]));
  for (uint8_t b : order) decoder_.push_back(std::u32string(1, byte_encoder_[b]) + kEndOfWord);
  for (size_t i = 1; i < last; ++i) {
    const auto parts = py_split(lines[i]);
    std::u32string joined;
    for (const auto& p : parts) joined += p;
    if (parts.size() == 2) ranks_.insert_or_assign({parts[0], parts[1]}, static_cast<int64_t>(i - 1));
    decoder_.push_back(joined);
  }
  decoder_.push_back(kSot);
  decoder_.push_back(kEot);
  // dict(zip(vocab, range(len(vocab)))): a repeated entry keeps its last id.
  for (size_t i = 0; i < decoder_.size(); ++i) encoder_.insert_or_assign(decoder_[i], static_cast<int64_t>(i));
  sot_ = encoder_.at(kSot);
  eot_ = encoder_.at(kEot);
}

std::u32string Sam3Tokenizer::bpe(const std::u32string& token) const {
  if (token == kSot || token == kEot) return token;  // the special tokens are pre-cached as themselves
  std::vector<std::u32string> word;
  for (char32_t c : token) word.emplace_back(1, c);
  word.back() += kEndOfWord;
  while (word.size() > 1) {
    int64_t best = -1;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = ranks_.find({word[i], word[i + 1]});
      if (it != ranks_.end() && (best < 0 || it->second < best)) {
        best = it->second;
        best_at = i;
      }
    }
    if (best < 0) break;
    const std::u32string first = word[best_at], second = word[best_at + 1];
    std::vector<std::u32string> merged;  // every non-overlapping occurrence, left to right
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(word[i++]);
      }
    }
    word = std::move(merged);
  }
  std::u32string out;
  for (size_t i = 0; i < word.size(); ++i) out += (i ? U" " : U"") + word[i];
  return out;
}

std::vector<int64_t> Sam3Tokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const auto& piece : pretokenize(sam3_clean_lower(utf8_decode(text, "prompt text")))) {
    std::u32string symbols;
    for (unsigned char b : utf8_encode(piece)) symbols += byte_encoder_[b];
    const std::u32string merged = bpe(symbols);
    for (size_t pos = 0;;) {
      const size_t sp = merged.find(U' ', pos);
      const std::u32string sym = merged.substr(pos, sp == std::u32string::npos ? std::u32string::npos : sp - pos);
      auto it = encoder_.find(sym);
      if (it == encoder_.end())  // cannot happen with a merges file: every merge result is in the vocabulary
        throw Error(path_ + ": BPE symbol '" + utf8_encode(sym) + "' is not in the vocabulary");
      ids.push_back(it->second);
      if (sp == std::u32string::npos) break;
      pos = sp + 1;
    }
  }
  return ids;
}

std::vector<int64_t> Sam3Tokenizer::operator()(const std::string& text, int64_t context_length) const {
  const int64_t C = context_length > 0 ? context_length : context_length_;
  std::vector<int64_t> tokens{sot_};
  const auto body = encode(text);
  tokens.insert(tokens.end(), body.begin(), body.end());
  tokens.push_back(eot_);
  if (static_cast<int64_t>(tokens.size()) > C) {  // truncate, keeping the end token last
    tokens.resize(static_cast<size_t>(C));
    tokens.back() = eot_;
  }
  tokens.resize(static_cast<size_t>(C), 0);
  return tokens;
}

std::vector<int64_t> Sam3Tokenizer::operator()(const std::vector<std::string>& texts, int64_t context_length) const {
  std::vector<int64_t> out;
  for (const auto& t : texts) {
    const auto row = (*this)(t, context_length);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

std::string Sam3Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string bytes;
  for (int64_t id : ids) {
    if (id < 0 || id >= static_cast<int64_t>(decoder_.size()))
      throw Error(path_ + ": token id " + std::to_string(id) + " is outside the vocabulary (size " +
                  std::to_string(decoder_.size()) + ")");
    for (char32_t c : decoder_[id]) {
      auto it = byte_decoder_.find(c);
      bytes += it != byte_decoder_.end() ? static_cast<char>(it->second) : '?';
    }
  }
  std::string out;
  for (size_t pos = 0;;) {  // "</w>" -> " "
    const size_t k = bytes.find("</w>", pos);
    out += bytes.substr(pos, k == std::string::npos ? std::string::npos : k - pos);
    if (k == std::string::npos) break;
    out += ' ';
    pos = k + 4;
  }
  return out;
}

}  // namespace eh::models
