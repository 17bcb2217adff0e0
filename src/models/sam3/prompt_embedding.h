// A text prompt encoded once by SAM 3's text encoder and stored in a model directory, so a deployment runs the
// detector without the 354M-parameter text encoder and without the tokenizer vocabulary.
//
// Files in the model directory:
//   prompt_embedding.safetensors  language_features [T, 1, d_model] float32 (seq-first, after the resizer),
//                                 language_mask [1, T] bool (true = padding), token_ids [1, T] int64:
//                                 exactly the `text` / `text_mask` arguments of Sam3Detector::forward
//                                 (detector.h), as VETextEncoder returns them for one caption.
//   prompt_embedding.json         what it is: format, prompt text, token ids and pieces, context length, the
//                                 tokenizer vocabulary's and the text encoder's files with their SHA-256.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace eh::models {

class Sam3Tokenizer;
class Sam3TextEncoderImpl;

inline constexpr const char* kSam3PromptEmbeddingFormat = "edgeherd.sam3.prompt_embedding.v1";
inline constexpr const char* kSam3PromptEmbeddingTensors = "prompt_embedding.safetensors";
inline constexpr const char* kSam3PromptEmbeddingJson = "prompt_embedding.json";

struct Sam3PromptEmbedding {
  std::string prompt;
  std::vector<int64_t> token_ids;  // [T], 0 = padding
  at::Tensor language_features;    // [T, 1, d_model] float32
  at::Tensor language_mask;        // [1, T] bool
};

// Where the embedding came from, recorded in the JSON.
struct Sam3PromptProvenance {
  std::string vocab_path, text_encoder_config, text_encoder_weights, weights_prefix;
};

// Tokenizes `prompt` at the encoder's context length and runs the encoder (no grad).
Sam3PromptEmbedding sam3_encode_prompt(Sam3TextEncoderImpl& encoder, const Sam3Tokenizer& tokenizer,
                                       const std::string& prompt);

// Writes the two files into `dir` (created if needed; existing files are replaced).
void sam3_save_prompt_embedding(const std::string& dir, const Sam3PromptEmbedding& e, const Sam3Tokenizer& tokenizer,
                                const Sam3PromptProvenance& provenance);

// Reads them back, checking format, tensor names, dtypes and shapes against each other and the JSON (and
// d_model when > 0); eh::Error naming the file, the key, the expected and the found.
Sam3PromptEmbedding sam3_load_prompt_embedding(const std::string& dir, int64_t d_model = 0);

}  // namespace eh::models
