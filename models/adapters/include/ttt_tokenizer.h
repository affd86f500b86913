/*
 * ttt_tokenizer.h — HuggingFace tokenizer.json (byte-level BPE, SentencePiece-style BPE and
 * Unigram, WordPiece).
 *
 * Part of the adapters (not the core library). Loads `tokenizer.json` (and `tokenizer_config.json`
 * for the BOS/EOS tokens) and encodes/decodes exactly as the HuggingFace `tokenizers` library does
 * for the components it supports:
 *   normalizers     Sequence, NFC, NFD, NFKC, NFKD, Prepend, Replace (String or Regex pattern),
 *                   BertNormalizer (clean_text, handle_chinese_chars, strip_accents — null follows
 *                   lowercase —, lowercase), Precompiled (SentencePiece's compiled character map),
 *                   Strip, Lowercase, StripAccents
 *   pre-tokenizers  Sequence, Split (String or Regex; all five behaviors; invert), ByteLevel
 *                   (add_prefix_space, use_regex), Metaspace (replacement, prepend_scheme, split),
 *                   BertPreTokenizer, WhitespaceSplit
 *   model           BPE (merges as "a b" strings or ["a", "b"] pairs, ignore_merges, byte_fallback,
 *                   unk_token, fuse_unk), WordPiece (continuing_subword_prefix,
 *                   max_input_chars_per_word, unk_token), Unigram (Viterbi, unk_id, unknown
 *                   characters fused, byte_fallback)
 *   post-processor  TemplateProcessing (single sequence), BertProcessing, RobertaProcessing
 *                   (single sequence: [CLS] $A [SEP]), ByteLevel, Sequence of those
 *   decoders        Sequence, ByteLevel, Replace (String), ByteFallback, Fuse, Strip, Metaspace,
 *                   WordPiece (prefix, cleanup)
 * Any other component type is refused at load time with TTT_ERR_UNSUPPORTED, naming it and listing
 * the supported ones.
 *
 * Added tokens (`added_tokens`) are matched in the raw text before normalization (or, for those
 * with `normalized: true`, in the normalized text), leftmost-longest, honouring `lstrip`, `rstrip`
 * and `single_word`. Special added tokens in the text are always matched, as HuggingFace does.
 *
 * A character the BPE vocabulary lacks becomes its "<0xNN>" byte tokens (byte_fallback, when the
 * vocabulary has all of them), else the unknown token (unk_token; consecutive ones fused with
 * fuse_unk), else it is dropped silently, as HuggingFace's BPE model does: text made only of such
 * characters encodes to no ids at all.
 *
 * Invalid UTF-8 in the text to encode is not an error: every maximal invalid subsequence is
 * replaced by U+FFFD before tokenization (as Rust's String::from_utf8_lossy and Python's
 * errors="replace" do), so such text does not round-trip. Decoding always produces valid UTF-8:
 * byte sequences that do not form characters become U+FFFD, as in HuggingFace.
 *
 * Ownership: a ttt_tokenizer owns everything it loaded; arrays and strings returned to the caller
 * are allocated with malloc and belong to the caller (free()).
 *
 * Threading: a loaded tokenizer is immutable. Encode, decode and the queries may be called
 * concurrently from any number of threads on the same tokenizer. A ttt_detokenizer is a stream
 * state: use one per stream and do not share it between threads without locking. A tokenizer must
 * outlive its detokenizers.
 */
#ifndef TTT_TOKENIZER_H
#define TTT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ttt.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttt_tokenizer ttt_tokenizer;

/* Loads a tokenizer.json file. `tokenizer_config_json` may be NULL; when given, its `bos_token`,
 * `eos_token` (strings or {"content": ...} objects), `add_bos_token` and `add_eos_token` are used.
 * Errors: TTT_ERR_IO (cannot read), TTT_ERR_FORMAT (malformed: the message names the file and the
 * field), TTT_ERR_UNSUPPORTED (a component type this implementation does not have). */
ttt_status ttt_tokenizer_load(const char *tokenizer_json, const char *tokenizer_config_json,
                              ttt_tokenizer **out);

/* Loads DIR/tokenizer.json, plus DIR/tokenizer_config.json when that file exists. When
 * DIR/generation_config.json exists, its `eos_token_id` (a number or a list) adds end-of-sequence
 * ids for ttt_tokenizer_is_eos. */
ttt_status ttt_tokenizer_load_dir(const char *model_dir, ttt_tokenizer **out);

/* Frees the tokenizer. NULL is a no-op. */
void ttt_tokenizer_destroy(ttt_tokenizer *t);

/* Encodes `len` bytes of `text` (need not be NUL-terminated; may contain NUL bytes). With
 * `add_special`, the post-processor is applied (e.g. a BOS id is prepended); without a template
 * post-processor, tokenizer_config.json's add_bos_token/add_eos_token are applied instead.
 * On success *ids is a malloc'd array of *n_ids ids (NULL when *n_ids is 0). */
ttt_status ttt_tokenizer_encode(const ttt_tokenizer *t, const char *text, size_t len,
                                bool add_special, int32_t **ids, int64_t *n_ids);

/* Like ttt_tokenizer_encode, keeping at most max_tokens ids in all (0: no limit): the text's own
 * tokens are cut at the end before the special tokens are added, as HuggingFace truncates a single
 * sequence. TTT_ERR_INVALID_ARGUMENT when max_tokens cannot hold the special tokens. */
ttt_status ttt_tokenizer_encode_truncated(const ttt_tokenizer *t, const char *text, size_t len,
                                          bool add_special, int64_t max_tokens, int32_t **ids,
                                          int64_t *n_ids);

/* Decodes ids into malloc'd, NUL-terminated UTF-8 *text of *len bytes. With `skip_special`, special
 * added tokens produce no text. An id outside [0, vocab_size) or one that names no token is
 * TTT_ERR_OUT_OF_RANGE. */
ttt_status ttt_tokenizer_decode(const ttt_tokenizer *t, const int32_t *ids, int64_t n,
                                bool skip_special, char **text, size_t *len);

/* One more than the largest token id (model vocabulary and added tokens). */
int64_t ttt_tokenizer_vocab_size(const ttt_tokenizer *t);

/* The token string of an id as stored in tokenizer.json (e.g. "Ġthe", "▁the", "<0x0A>"), or NULL
 * for an id that names no token. Valid as long as the tokenizer. */
const char *ttt_tokenizer_token(const ttt_tokenizer *t, int32_t id);

/* The id of a token string (model vocabulary or added token), or -1. */
int32_t ttt_tokenizer_token_id(const ttt_tokenizer *t, const char *token);

/* BOS / EOS ids from tokenizer_config.json (or the template post-processor for BOS); -1 if none. */
int32_t ttt_tokenizer_bos_id(const ttt_tokenizer *t);
int32_t ttt_tokenizer_eos_id(const ttt_tokenizer *t);

/* True for the EOS id and for the ids listed by generation_config.json's eos_token_id. */
bool ttt_tokenizer_is_eos(const ttt_tokenizer *t, int32_t id);

/* True if the id is a special added token. */
bool ttt_tokenizer_is_special(const ttt_tokenizer *t, int32_t id);

/* Streaming detokenizer for generation: the concatenation of every piece returned by push and the
 * final flush is exactly the text ttt_tokenizer_decode returns for the whole id sequence, and a
 * piece never ends in the middle of a UTF-8 character (text waits until the character is complete).
 * Each push costs time proportional to the last few tokens' text (amortized), never to the length
 * of the stream, even when the text keeps ending in an incomplete character.
 */
typedef struct ttt_detokenizer ttt_detokenizer;

/* Creates a stream that decodes like ttt_tokenizer_decode(..., skip_special = false). */
ttt_status ttt_detokenizer_create(const ttt_tokenizer *t, ttt_detokenizer **out);

/* Same, choosing whether special added tokens produce text. */
ttt_status ttt_detokenizer_create_ex(const ttt_tokenizer *t, bool skip_special,
                                     ttt_detokenizer **out);

/* Adds one id. *piece (NUL-terminated, possibly empty) is the new text, valid until the next call
 * on this detokenizer. A bad id is TTT_ERR_OUT_OF_RANGE and leaves the stream unchanged. */
ttt_status ttt_detokenizer_push(ttt_detokenizer *d, int32_t id, const char **piece, size_t *len);

/* Returns the text still held back (an incomplete character decodes to U+FFFD, as in a full decode)
 * and resets the stream for a new sequence. */
ttt_status ttt_detokenizer_flush(ttt_detokenizer *d, const char **piece, size_t *len);

/* NULL is a no-op. */
void ttt_detokenizer_destroy(ttt_detokenizer *d);

#ifdef __cplusplus
}
#endif

#endif /* TTT_TOKENIZER_H */
