// SAM 3's BPE tokenizer: `sam3.model.tokenizer_ve.SimpleTokenizer` (facebookresearch/sam3@
// 99d02f28c8d34610ab35559b72642b01f10fdb1e, sam3/model/tokenizer_ve.py; the CLIP tokenizer) as
// `sam3.model_builder._create_text_encoder` builds it: clean "lower", no additional special tokens, and
// `VETextEncoder` calls it with context length 32.
//
// Vocabulary: the gzip'd merges file (upstream's `bpe_simple_vocab_16e6.txt.gz`): line 0 is a header; lines
// 1 .. 48894 are merges "a b". Token ids: the 256 byte symbols of bytes_to_unicode, the same with "</w>", one id per
// merge line (its two halves joined), then <start_of_text> and <end_of_text> (49406 and 49407 for the released
// file). Encoding: sam3_clean_lower (text_clean.h), the pre-tokenization pattern
//   <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+   (IGNORECASE)
// then each piece's UTF-8 bytes as bytes_to_unicode symbols, merged lowest rank first.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace eh::models {

class Sam3Tokenizer {
 public:
  static constexpr int64_t kDefaultContextLength = 77;  // SimpleTokenizer's default; VETextEncoder passes 32
  static constexpr int64_t kTextEncoderContextLength = 32;

  // Reads the gzip'd merges file; eh::Error naming the file when it is missing, not gzip, truncated or not UTF-8.
  explicit Sam3Tokenizer(const std::string& bpe_path, int64_t context_length = kDefaultContextLength);

  // SimpleTokenizer.encode: ids of the cleaned text, without start/end tokens.
  std::vector<int64_t> encode(const std::string& text) const;
  // SimpleTokenizer.__call__ for one text: [SOT] + encode + [EOT], cut to `context_length` with EOT kept as the
  // last id, padded with 0. context_length <= 0 uses the constructor's.
  std::vector<int64_t> operator()(const std::string& text, int64_t context_length = 0) const;
  // The same for several texts: row-major [texts.size(), context_length].
  std::vector<int64_t> operator()(const std::vector<std::string>& texts, int64_t context_length = 0) const;
  // SimpleTokenizer.decode: ids back to text ("</w>" as a space).
  std::string decode(const std::vector<int64_t>& ids) const;

  int64_t sot_token_id() const { return sot_; }
  int64_t eot_token_id() const { return eot_; }
  int64_t vocab_size() const { return static_cast<int64_t>(encoder_.size()); }  // len(encoder), as upstream
  int64_t context_length() const { return context_length_; }
  const std::string& path() const { return path_; }

 private:
  std::u32string bpe(const std::u32string& token) const;  // merged symbols, separated by ' '

  std::string path_;
  int64_t context_length_;
  std::unordered_map<std::u32string, int64_t> encoder_;
  std::vector<std::u32string> decoder_;
  std::map<std::pair<std::u32string, std::u32string>, int64_t> ranks_;
  int64_t sot_ = 0, eot_ = 0;
  char32_t byte_encoder_[256];
  std::unordered_map<char32_t, uint8_t> byte_decoder_;
};

// The whole merges file, decompressed (gzip, several members allowed as Python's gzip reads them).
std::string sam3_read_gzip_file(const std::string& path);

}  // namespace eh::models
