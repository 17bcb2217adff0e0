// SAM 3 BPE tokenizer (models/sam3/tokenizer.h) against upstream's SimpleTokenizer on a tiny vocabulary of our own:
// tests/data/sam3_tokenizer (tools/fixtures/sam3_tokenizer/gen.py). Token ids are integers: exact equality.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_file.h"
#include "core/sha256.h"
#include "models/sam3/text_clean.h"
#include "models/sam3/tokenizer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using eh::models::Sam3Tokenizer;

namespace {

const fs::path kDir = fs::path(EH_TEST_DATA_DIR "/sam3_tokenizer");
const std::string kVocab = (kDir / "vocab.txt.gz").string();

nlohmann::json expected() { return eh::read_json_file((kDir / "expected.json").string()); }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const eh::Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void write_gzip(const fs::path& path, const std::string& bytes) {
  gzFile g = gzopen(path.string().c_str(), "wb");
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(gzwrite(g, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(g);
}

}  // namespace

TEST(Sam3Tokenizer, VocabularyLayoutIsUpstreams) {
  const auto j = expected();
  const Sam3Tokenizer tok(kVocab, 32);
  EXPECT_EQ(tok.vocab_size(), j["vocab_size"].get<int64_t>());  // 512 + 200 merges + 1 empty last line + 2
  EXPECT_EQ(tok.sot_token_id(), j["sot_token_id"].get<int64_t>());
  EXPECT_EQ(tok.eot_token_id(), j["eot_token_id"].get<int64_t>());
  EXPECT_EQ(tok.context_length(), 32);
  EXPECT_EQ(Sam3Tokenizer(kVocab).context_length(), 77);  // SimpleTokenizer's default
}

TEST(Sam3Tokenizer, IdsEqualUpstreamForEveryString) {
  const auto j = expected();
  const Sam3Tokenizer tok(kVocab, Sam3Tokenizer::kTextEncoderContextLength);
  ASSERT_GE(j["cases"].size(), 80u);
  int truncated = 0;
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    SCOPED_TRACE("text " + nlohmann::json(text).dump());
    EXPECT_EQ(eh::models::sam3_clean_lower(text), c["clean"].get<std::string>());
    const auto enc = c["encode"].get<std::vector<int64_t>>();
    EXPECT_EQ(tok.encode(text), enc);
    EXPECT_EQ(tok(text), c["ids_32"].get<std::vector<int64_t>>());     // the constructor's context
    EXPECT_EQ(tok(text, 8), c["ids_8"].get<std::vector<int64_t>>());
    truncated += enc.size() + 2 > 32;
  }
  EXPECT_GE(truncated, 2);  // the fixture exercises truncation (end token kept last)
}

TEST(Sam3Tokenizer, BatchCallIsRowsOfSingleCalls) {
  const auto j = expected();
  const Sam3Tokenizer tok(kVocab, 32);
  std::vector<std::string> texts;
  std::vector<int64_t> rows;
  for (size_t i = 0; i < 5; ++i) {
    texts.push_back(j["cases"][i]["text"]);
    const auto r = j["cases"][i]["ids_8"].get<std::vector<int64_t>>();
    rows.insert(rows.end(), r.begin(), r.end());
  }
  EXPECT_EQ(tok(texts, 8), rows);
}

TEST(Sam3Tokenizer, MojibakeRepairIsTheDocumentedDifference) {
  // ftfy's fix_encoding is not ported (text_clean.h): upstream decodes "cafÃ©" to "café", the port keeps it.
  const auto j = expected();
  const Sam3Tokenizer tok(kVocab, 32);
  ASSERT_FALSE(j["not_ported"].empty());
  for (const auto& c : j["not_ported"]) {
    const std::string text = c["text"];
    EXPECT_NE(tok.encode(text), c["encode"].get<std::vector<int64_t>>()) << text;
  }
}

TEST(Sam3Tokenizer, DecodeInvertsEncode) {
  const Sam3Tokenizer tok(kVocab, 32);
  EXPECT_EQ(tok.decode(tok.encode("The sow, with her PIGLETS!")), "the sow , with her piglets ! ");
  EXPECT_EQ(tok.decode({tok.sot_token_id()}), "<start_of_text>");
}

TEST(Sam3Tokenizer, MissingOrCorruptVocabularyNamesTheFile) {
  const auto d = eh::test::temp_dir("sam3_tokenizer_errors");
  const auto missing = (d / "nope.txt.gz").string();
  auto m = message_of([&] { Sam3Tokenizer t(missing); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;
  EXPECT_NE(m.find("cannot open"), std::string::npos) << m;

  const auto plain = d / "plain.txt";  // the merges, not gzip'd
  write_bytes(plain, "#version: 0.2\np i\n");
  m = message_of([&] { Sam3Tokenizer t(plain.string()); });
  EXPECT_NE(m.find(plain.string()), std::string::npos) << m;
  EXPECT_NE(m.find("not a gzip file"), std::string::npos) << m;

  const std::string good = read_bytes(kVocab);
  const auto cut = d / "truncated.txt.gz";
  write_bytes(cut, good.substr(0, good.size() / 2));
  m = message_of([&] { Sam3Tokenizer t(cut.string()); });
  EXPECT_NE(m.find(cut.string()), std::string::npos) << m;
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;

  std::string flipped = good;  // corrupt deflate data / CRC
  for (size_t i = 20; i < 40; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  const auto bad = d / "corrupt.txt.gz";
  write_bytes(bad, flipped);
  m = message_of([&] { Sam3Tokenizer t(bad.string()); });
  EXPECT_NE(m.find(bad.string()), std::string::npos) << m;
  EXPECT_NE(m.find("corrupt gzip data"), std::string::npos) << m;

  const auto latin1 = d / "latin1.txt.gz";  // decompresses, but is not UTF-8
  write_gzip(latin1, "#version: 0.2\np\xe9 i\n");
  m = message_of([&] { Sam3Tokenizer t(latin1.string()); });
  EXPECT_NE(m.find(latin1.string()), std::string::npos) << m;
  EXPECT_NE(m.find("not valid UTF-8 at byte 15"), std::string::npos) << m;
}

TEST(Sam3Tokenizer, InvalidUtf8PromptIsAnError) {
  const Sam3Tokenizer tok(kVocab, 32);
  auto m = message_of([&] { tok.encode("pig\xff"); });
  EXPECT_NE(m.find("prompt text: not valid UTF-8 at byte 3"), std::string::npos) << m;
}

TEST(Sam3TextClean, PythonHtmlUnescapeRules) {
  using eh::models::html_unescape;
  using eh::models::utf8_decode;
  using eh::models::utf8_encode;
  auto u = [](const char* s) { return utf8_encode(eh::models::html_unescape(utf8_decode(s))); };
  EXPECT_EQ(u("&amp;lt;"), "&lt;");               // one level per call
  EXPECT_EQ(u("&copy 2024"), "\xc2\xa9 2024");    // legacy name without ';'
  EXPECT_EQ(u("&notit;"), "\xc2\xacit;");         // longest legacy prefix
  EXPECT_EQ(u("&#128;"), "\xe2\x82\xac");         // invalid charref -> windows-1252 euro
  EXPECT_EQ(u("&#xD800;&#0;&#1;"), "\xef\xbf\xbd\xef\xbf\xbd");  // surrogate, NUL -> U+FFFD; U+0001 dropped
  EXPECT_EQ(u("&unknown; &#; &#x;"), "&unknown; &#; &#x;");
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(eh::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(eh::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(eh::sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
