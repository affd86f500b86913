/*
 * tok_internal.h — data structures shared by the tokenizer's source files (not installed).
 *
 * Pipeline of an encode (tok_encode.c), mirroring HuggingFace `tokenizers`:
 *   raw text -> lossy UTF-8 -> split on added tokens -> normalizer steps -> split on normalized
 *   added tokens -> pre-tokenizer steps -> the model per piece (BPE: tok_bpe.c; WordPiece, Unigram:
 *   tok_model_ext.c) -> post-processor.
 * Decoding (tok_decode.c): ids -> token strings -> decoder steps -> joined text.
 * The components of the BERT and SentencePiece pipelines live in the *_ext.c files, dispatched from
 * the original ones by their kind.
 *
 * Sequences of components (normalizers, pre-tokenizers, decoders, post-processors) are flattened at
 * load time into arrays of steps; a nested Sequence behaves exactly like its flattened steps.
 */
#ifndef TTT_TOK_INTERNAL_H
#define TTT_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "ttt_tokenizer.h"

/* ---- growable byte buffer and id array --------------------------------------------------------
 */

typedef struct tok_buf {
  char *data;
  size_t len, cap;
} tok_buf;

ttt_status tok_buf_reserve(tok_buf *b, size_t extra);
ttt_status tok_buf_append(tok_buf *b, const void *p, size_t n);
ttt_status tok_buf_push(tok_buf *b, char c);
void tok_buf_free(tok_buf *b);

typedef struct tok_ids {
  int32_t *data;
  int64_t len, cap;
} tok_ids;

ttt_status tok_ids_push(tok_ids *v, int32_t id);
ttt_status tok_ids_append(tok_ids *v, const int32_t *ids, int64_t n);

/* A list of byte ranges ("pieces") of one text buffer. */
typedef struct tok_span {
  size_t off, len;
} tok_span;

typedef struct tok_spans {
  tok_span *data;
  size_t len, cap;
} tok_spans;

ttt_status tok_spans_push(tok_spans *v, size_t off, size_t len);

/* ---- hash maps --------------------------------------------------------------------------------
 */

uint64_t tok_hash(const void *p, size_t n);

/* String -> int64 map with its own copy of the keys. Open addressing, linear probing; a slot with
 * hash 0 is empty (real hashes are forced odd). */
typedef struct tok_map_slot {
  uint64_t hash;
  uint32_t key_off, key_len;
  int64_t value;
} tok_map_slot;

typedef struct tok_map {
  tok_map_slot *slots;
  size_t mask, count;
  tok_buf keys;
} tok_map;

ttt_status tok_map_init(tok_map *m, size_t expected);
/* Inserts key -> value unless the key is present; *inserted tells which happened (may be NULL). */
ttt_status tok_map_put(tok_map *m, const char *key, size_t len, int64_t value, bool *inserted);
bool tok_map_get(const tok_map *m, const char *key, size_t len, int64_t *value);
void tok_map_free(tok_map *m);

/* (left id, right id) -> (merge rank, merged id). Empty slots have rank -1. */
typedef struct tok_pair_slot {
  uint64_t key;
  int32_t rank, merged;
} tok_pair_slot;

typedef struct tok_pair_map {
  tok_pair_slot *slots;
  size_t mask;
} tok_pair_map;

ttt_status tok_pair_map_init(tok_pair_map *m, size_t expected);
/* Inserts or overwrites (HuggingFace keeps the last of duplicated merges). */
void tok_pair_map_set(tok_pair_map *m, int32_t left, int32_t right, int32_t rank, int32_t merged);
const tok_pair_slot *tok_pair_map_get(const tok_pair_map *m, int32_t left, int32_t right);
void tok_pair_map_free(tok_pair_map *m);

/* ---- UTF-8 ------------------------------------------------------------------------------------
 */

/* Length of the valid UTF-8 character at s[0..n), or 0 if the bytes there are not one. */
size_t tok_utf8_valid_len(const unsigned char *s, size_t n);
/* Length of the character starting at a valid UTF-8 position (1..4). */
size_t tok_utf8_char_len(unsigned char lead);
/* Decodes the valid character at s (see tok_utf8_char_len). */
uint32_t tok_utf8_decode(const unsigned char *s);
/* Encodes a code point; returns its length (1..4). */
size_t tok_utf8_encode(uint32_t cp, char out[4]);
/* Appends text to out, replacing each maximal invalid subsequence with U+FFFD. */
ttt_status tok_utf8_lossy(tok_buf *out, const char *text, size_t len);
bool tok_utf8_is_valid(const char *text, size_t len);

/* First occurrence of needle[0..m) in s[0..n) (m > 0), or NULL. */
const char *tok_find(const char *s, size_t n, const char *needle, size_t m);

/* GPT-2's byte <-> printable character table used by ByteLevel. */
typedef struct tok_byte_level {
  char enc[256][2]; /* UTF-8 of the character of each byte */
  uint8_t enc_len[256];
  int16_t dec[512]; /* byte of each code point < 512, or -1 */
} tok_byte_level;

void tok_byte_level_init(tok_byte_level *bl);

/* ---- components -------------------------------------------------------------------------------
 */

typedef enum tok_norm_kind {
  TOK_NORM_NFC,
  TOK_NORM_NFD,
  TOK_NORM_NFKC,
  TOK_NORM_NFKD,
  TOK_NORM_PREPEND, /* prepend `a` to non-empty text */
  TOK_NORM_REPLACE, /* replace each match of `re` (or the literal `a`) with `b` */
  /* tok_normalize_ext.c */
  TOK_NORM_BERT,          /* BertNormalizer (the flags below) */
  TOK_NORM_PRECOMPILED,   /* SentencePiece's compiled map: `a` is the decoded blob */
  TOK_NORM_STRIP,         /* Unicode whitespace at the left and/or right end */
  TOK_NORM_LOWERCASE,     /* Rust's char::to_lowercase */
  TOK_NORM_STRIP_ACCENTS, /* removes nonspacing marks (Mn) */
} tok_norm_kind;

typedef struct tok_norm {
  tok_norm_kind kind;
  char *a, *b;
  size_t a_len, b_len;
  pcre2_code *re;                                           /* NULL for a literal pattern */
  bool clean_text, chinese_chars, strip_accents, lowercase; /* BertNormalizer */
  bool strip_left, strip_right;                             /* Strip */
  size_t trie_units; /* Precompiled: 32-bit units of the trie at a + 4; strings follow */
} tok_norm;

typedef enum tok_split_behavior {
  TOK_SPLIT_REMOVED,
  TOK_SPLIT_ISOLATED,
  TOK_SPLIT_MERGED_WITH_PREVIOUS,
  TOK_SPLIT_MERGED_WITH_NEXT,
  TOK_SPLIT_CONTIGUOUS,
} tok_split_behavior;

typedef enum tok_pre_kind {
  TOK_PRE_SPLIT,
  TOK_PRE_BYTE_LEVEL,
  TOK_PRE_METASPACE,
  TOK_PRE_BERT,             /* whitespace removed, punctuation isolated (tok_pretokenize_ext.c) */
  TOK_PRE_WHITESPACE_SPLIT, /* whitespace removed */
} tok_pre_kind;

typedef enum tok_prepend_scheme {
  TOK_PREPEND_ALWAYS,
  TOK_PREPEND_FIRST,
  TOK_PREPEND_NEVER
} tok_prepend_scheme;

typedef struct tok_pre {
  tok_pre_kind kind;
  pcre2_code *re; /* Split: the pattern; ByteLevel: the GPT-2 regex when use_regex, else NULL */
  tok_split_behavior behavior;
  bool invert;
  bool add_prefix_space;             /* ByteLevel */
  char replacement[4];               /* Metaspace: UTF-8 of the replacement character */
  size_t replacement_len;            /* Metaspace */
  tok_prepend_scheme prepend_scheme; /* Metaspace */
  bool split;                        /* Metaspace */
} tok_pre;

typedef enum tok_dec_kind {
  TOK_DEC_BYTE_LEVEL,
  TOK_DEC_REPLACE,
  TOK_DEC_BYTE_FALLBACK,
  TOK_DEC_FUSE,
  TOK_DEC_STRIP,
  TOK_DEC_METASPACE,
  TOK_DEC_WORDPIECE, /* `a`: the continuing-subword prefix; `cleanup` */
} tok_dec_kind;

typedef struct tok_dec {
  tok_dec_kind kind;
  char *a, *b; /* Replace: from, to; Strip: the content character; Metaspace: the replacement */
  size_t a_len, b_len;
  int64_t start, stop;               /* Strip */
  tok_prepend_scheme prepend_scheme; /* Metaspace */
  bool cleanup;                      /* WordPiece */
} tok_dec;

typedef struct tok_added {
  char *content; /* for normalized tokens: the normalized content, as HuggingFace matches it */
  size_t len;
  int32_t id;
  bool special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* Added tokens of one kind (raw or normalized), indexed by first byte, longest first. */
typedef struct tok_added_matcher {
  int32_t *order; /* indices into tokenizer.added, grouped by first byte, longest first */
  int32_t first[257];
  size_t count;
} tok_added_matcher;

typedef enum tok_model_kind {
  TOK_MODEL_BPE,
  TOK_MODEL_WORDPIECE,
  TOK_MODEL_UNIGRAM
} tok_model_kind;

/* WordPiece: greedy longest match, `prefix` before every piece but a word's first. */
typedef struct tok_wordpiece {
  char *prefix;
  size_t prefix_len;
  int64_t max_chars;    /* longer words become the unknown token */
  size_t longest_token; /* bytes of the longest vocabulary entry: no longer candidate can match */
} tok_wordpiece;

/* Unigram: a byte trie of the pieces (tok_pair_map from (node, byte) to (child node, id of the piece
 * ending there or -1); the root is node 0) and each piece's log-probability. */
typedef struct tok_unigram {
  tok_pair_map trie;
  double *scores; /* per id */
  double unk_score;
} tok_unigram;

struct ttt_tokenizer {
  char *path; /* of tokenizer.json, for messages */

  /* id -> token string (model vocabulary, overridden by added tokens) */
  tok_buf strings;
  uint32_t *str_off, *str_len; /* per id; str_len == UINT32_MAX: no token */
  int64_t vocab_size;
  uint8_t *special; /* per id: 1 for special added tokens */

  tok_model_kind model;
  tok_wordpiece wordpiece;
  tok_unigram unigram;

  /* model (BPE; vocab, unk_id and byte_ids are shared by every model) */
  tok_map vocab; /* model vocabulary: token string -> id */
  tok_pair_map merges;
  int32_t byte_ids[256]; /* id of "<0xNN>" when byte_fallback, else -1 */
  int32_t unk_id;        /* -1 when unk_token is null */
  bool byte_fallback, fuse_unk, ignore_merges;

  tok_norm *norms;
  size_t n_norms;
  tok_pre *pres;
  size_t n_pres;
  tok_dec *decs;
  size_t n_decs;
  bool has_decoder;

  tok_added *added;
  size_t n_added;
  tok_map added_ids; /* added token content -> id */
  tok_added_matcher raw_matcher, norm_matcher;

  /* post-processor: ids around the sequence */
  bool has_template;
  tok_ids prefix_ids, suffix_ids;

  int32_t bos_id, eos_id;
  bool add_bos, add_eos; /* tokenizer_config.json, used without a template */
  tok_ids extra_eos;     /* generation_config.json */

  tok_byte_level byte_level;
};

/* tok_load.c */
/* Compiles a HuggingFace (Oniguruma) pattern with PCRE2 (UTF, UCP, JIT). `what` names the field. */
ttt_status tok_regex_compile(const char *pattern, size_t len, bool literal, const char *what,
                             pcre2_code **out);

/* tok_normalize.c: applies all normalizer steps to text into out (out is reset). */
ttt_status tok_normalize(const ttt_tokenizer *t, const char *text, size_t len, tok_buf *out);
/* Finds successive regex matches in s[0..n); calls emit(ctx, start, end) for each. Empty matches
 * are reported and the search resumes one character later, as Oniguruma's iterator does. */
typedef ttt_status (*tok_match_fn)(void *ctx, size_t start, size_t end);
ttt_status tok_regex_each(const pcre2_code *re, const char *s, size_t n, pcre2_match_data *md,
                          tok_match_fn emit, void *ctx);

/* tok_pretokenize.c: splits text into pieces (written to out_text/out_spans, both reset).
 * `at_start` tells whether the text begins at offset 0 of the original input (Metaspace "first").
 */
typedef struct tok_pre_scratch {
  tok_buf text[2];
  tok_spans spans[2];
  tok_buf tmp;
  pcre2_match_data *md;
} tok_pre_scratch;

ttt_status tok_pretokenize(const ttt_tokenizer *t, const char *text, size_t len, bool at_start,
                           tok_pre_scratch *s, const tok_buf **out_text,
                           const tok_spans **out_spans);
void tok_pre_scratch_free(tok_pre_scratch *s);

/* tok_bpe.c: encodes one pre-tokenized piece with the BPE model, appending ids. */
typedef struct tok_bpe_symbol {
  int32_t id;
  int32_t prev, next; /* -1 at the ends */
  int32_t len;        /* bytes of the piece covered; 0 once merged into its left neighbour */
} tok_bpe_symbol;

typedef struct tok_bpe_candidate {
  int32_t rank, pos, merged;
} tok_bpe_candidate;

typedef struct tok_bpe_scratch {
  tok_bpe_symbol *symbols;
  size_t symbols_cap;
  tok_bpe_candidate *heap;
  size_t heap_len, heap_cap;
} tok_bpe_scratch;

ttt_status tok_bpe_encode(const ttt_tokenizer *t, const char *piece, size_t len, tok_bpe_scratch *s,
                          tok_ids *out);
void tok_bpe_scratch_free(tok_bpe_scratch *s);

/* tok_model_ext.c: the WordPiece and Unigram models on one pre-tokenized piece. */
typedef struct tok_model_scratch {
  tok_buf word;       /* WordPiece: prefix + candidate */
  double *best;       /* Unigram: best score of a path ending at each byte */
  int64_t *from, *id; /* Unigram: start and id of that path's last piece */
  size_t cap;
  tok_ids cuts; /* Unigram: ends of the best path's pieces, last first */
} tok_model_scratch;

ttt_status tok_model_ext_encode(const ttt_tokenizer *t, const char *piece, size_t len,
                                tok_model_scratch *s, tok_ids *out);
void tok_model_scratch_free(tok_model_scratch *s);

/* tok_load_ext.c: loading the components above. Each sets *handled to false (and returns TTT_OK)
 * when `type` is not one of its own; otherwise it loads it, errors naming `path` and `where`. */
struct cJSON;
ttt_status tok_load_model_ext(ttt_tokenizer *t, const char *path, const struct cJSON *model,
                              const char *type, int64_t *max_id);
ttt_status tok_load_normalizer_ext(ttt_tokenizer *t, const char *path, const struct cJSON *n,
                                   const char *where, const char *type, bool *handled);
ttt_status tok_load_pretokenizer_ext(ttt_tokenizer *t, const char *path, const struct cJSON *n,
                                     const char *where, const char *type, bool *handled);
ttt_status tok_load_decoder_ext(ttt_tokenizer *t, const char *path, const struct cJSON *n,
                                const char *where, const char *type, bool *handled);
ttt_status tok_load_post_processor_ext(ttt_tokenizer *t, const char *path, const struct cJSON *p,
                                       const char *where, const char *type, bool *handled);
void tok_ext_free(ttt_tokenizer *t);

/* tok_normalize_ext.c: applies one of the kinds from TOK_NORM_BERT on to s[0..n), appending. */
ttt_status tok_normalize_ext(const tok_norm *step, const char *s, size_t n, tok_buf *out);

/* tok_pretokenize_ext.c: a BertPreTokenizer / WhitespaceSplit step, refining spans of `text`. */
ttt_status tok_pretokenize_ext(const tok_pre *step, const char *text, const tok_spans *in,
                               tok_spans *out);

/* tok_decode.c */
ttt_status tok_decode_ids(const ttt_tokenizer *t, const int32_t *ids, int64_t n, bool skip_special,
                          tok_buf *out);

/* Ids a streaming detokenizer has passed to the decoder so far (its work; tests bound it). */
int64_t tok_detokenizer_decoded_ids(const ttt_detokenizer *d);

#endif
