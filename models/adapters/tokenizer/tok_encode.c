/*
 * tok_encode.c — the encode pipeline (added tokens, normalizer, pre-tokenizer, BPE with a per-call
 * piece cache, post-processor) and the tokenizer's simple queries.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

/* Pieces up to this many bytes are cached for the duration of one encode call: natural text
 * repeats its words, and a cache hit skips the BPE merges. */
#define TOK_CACHE_MAX_PIECE 256
#define TOK_CACHE_MAX_ENTRIES (1u << 20)

typedef struct enc_state {
  const ttt_tokenizer *t;
  tok_buf norm;
  tok_pre_scratch pre;
  tok_bpe_scratch bpe;
  tok_model_scratch model; /* WordPiece, Unigram */
  tok_map cache;           /* piece -> (offset << 16 | count) into cache_ids */
  tok_ids cache_ids;       /* ids of cached pieces */
  tok_ids out;
} enc_state;

/* ---- added tokens -----------------------------------------------------------------------------
 */

/* Rust's char::is_whitespace (Unicode White_Space). */
static bool is_space_cp(uint32_t c) {
  if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85) return true;
  utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

/* Letters, numbers and '_' (HuggingFace's word characters for single_word). */
static bool is_word_cp(uint32_t c) {
  if (c == '_') return true;
  utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO
             ? true
             : cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}

/* Code point of the character ending at s[end] (exclusive) in valid UTF-8. */
static uint32_t cp_before(const char *s, size_t end, size_t *start) {
  size_t i = end - 1;
  while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
  *start = i;
  return tok_utf8_decode((const unsigned char *)s + i);
}

typedef struct added_match {
  size_t start, end; /* including stripped whitespace */
  int32_t id;
} added_match;

static bool single_word_ok(const char *s, size_t len, size_t start, size_t end) {
  size_t dummy;
  if (start > 0 && is_word_cp(cp_before(s, start, &dummy))) return false;
  if (end < len && is_word_cp(tok_utf8_decode((const unsigned char *)s + end))) return false;
  return true;
}

/* Leftmost-longest match of the added tokens of `m` in s[from..len); false if none. */
static bool find_added(const ttt_tokenizer *t, const tok_added_matcher *m, const char *s,
                       size_t len, size_t from, added_match *out) {
  if (m->count == 0) return false;
  for (size_t p = from; p < len; p++) {
    unsigned char b = (unsigned char)s[p];
    for (int32_t k = m->first[b]; k < m->first[b + 1]; k++) {
      const tok_added *a = &t->added[m->order[k]];
      if (a->len > len - p || memcmp(s + p, a->content, a->len) != 0) continue;
      size_t start = p, end = p + a->len;
      /* the longest token at the leftmost position wins; if it is not a single word, HuggingFace
       * skips past it rather than trying shorter tokens */
      if (a->single_word && !single_word_ok(s, len, start, end)) {
        p = end - 1;
        break;
      }
      size_t ws;
      while (a->lstrip && start > from && is_space_cp(cp_before(s, start, &ws))) start = ws;
      while (a->rstrip && end < len && is_space_cp(tok_utf8_decode((const unsigned char *)s + end)))
        end += tok_utf8_char_len((unsigned char)s[end]);
      *out = (added_match){start, end, a->id};
      return true;
    }
  }
  return false;
}

/* ---- pieces -----------------------------------------------------------------------------------
 */

/* A piece may encode to no ids at all (every character unknown, no unk_token, no byte fallback),
 * so the id arrays may still be NULL here: no pointer arithmetic on them when the count is 0. */
static ttt_status encode_piece(enc_state *e, const char *p, size_t n) {
  bool cacheable = n <= TOK_CACHE_MAX_PIECE;
  int64_t v;
  if (cacheable && tok_map_get(&e->cache, p, n, &v)) {
    int64_t count = v & 0xFFFF;
    return count ? tok_ids_append(&e->out, e->cache_ids.data + (v >> 16), count) : TTT_OK;
  }
  int64_t before = e->out.len;
  ttt_status st = e->t->model == TOK_MODEL_BPE
                      ? tok_bpe_encode(e->t, p, n, &e->bpe, &e->out)
                      : tok_model_ext_encode(e->t, p, n, &e->model, &e->out);
  if (st || !cacheable || e->cache.count >= TOK_CACHE_MAX_ENTRIES) return st;
  int64_t count = e->out.len - before, off = e->cache_ids.len;
  if (count) st = tok_ids_append(&e->cache_ids, e->out.data + before, count);
  if (!st) st = tok_map_put(&e->cache, p, n, (off << 16) | count, NULL);
  return st;
}

static ttt_status encode_normalized(enc_state *e, const char *s, size_t n, bool at_start) {
  const tok_buf *text;
  const tok_spans *spans;
  ttt_status st = tok_pretokenize(e->t, s, n, at_start, &e->pre, &text, &spans);
  for (size_t i = 0; i < (st ? 0 : spans->len) && !st; i++)
    st = encode_piece(e, text->data + spans->data[i].off, spans->data[i].len);
  return st;
}

/* A stretch of raw text between added tokens. `at_start`: it begins the input. */
static ttt_status encode_segment(enc_state *e, const char *s, size_t n, bool at_start) {
  const ttt_tokenizer *t = e->t;
  if (t->n_norms > 0) {
    ttt_status st = tok_normalize(t, s, n, &e->norm);
    if (st) return st;
    s = e->norm.data;
    n = e->norm.len;
  }
  /* added tokens with normalized: true are found in the normalized text */
  size_t pos = 0;
  added_match m;
  while (find_added(t, &t->norm_matcher, s, n, pos, &m)) {
    ttt_status st = encode_normalized(e, s + pos, m.start - pos, at_start && pos == 0);
    if (!st) st = tok_ids_push(&e->out, m.id);
    if (st) return st;
    pos = m.end;
  }
  return encode_normalized(e, s + pos, n - pos, at_start && pos == 0);
}

static ttt_status encode_text(enc_state *e, const char *s, size_t n) {
  size_t pos = 0;
  added_match m;
  while (find_added(e->t, &e->t->raw_matcher, s, n, pos, &m)) {
    ttt_status st = m.start > pos ? encode_segment(e, s + pos, m.start - pos, pos == 0) : TTT_OK;
    if (!st) st = tok_ids_push(&e->out, m.id);
    if (st) return st;
    pos = m.end;
  }
  return pos < n ? encode_segment(e, s + pos, n - pos, pos == 0) : TTT_OK;
}

/* The post-processor's template, or tokenizer_config.json's add_bos/add_eos without one. */
static ttt_status add_special_ids(const ttt_tokenizer *t, tok_ids *ids) {
  tok_ids all = {0};
  ttt_status st = TTT_OK;
  if (t->has_template) {
    st = tok_ids_append(&all, t->prefix_ids.data, t->prefix_ids.len);
    if (!st) st = tok_ids_append(&all, ids->data, ids->len);
    if (!st) st = tok_ids_append(&all, t->suffix_ids.data, t->suffix_ids.len);
  } else {
    if (t->add_bos) st = tok_ids_push(&all, t->bos_id);
    if (!st) st = tok_ids_append(&all, ids->data, ids->len);
    if (!st && t->add_eos) st = tok_ids_push(&all, t->eos_id);
  }
  if (st) {
    free(all.data);
    return st;
  }
  free(ids->data);
  *ids = all;
  return TTT_OK;
}

static void enc_state_free(enc_state *e) {
  tok_buf_free(&e->norm);
  tok_pre_scratch_free(&e->pre);
  tok_bpe_scratch_free(&e->bpe);
  tok_model_scratch_free(&e->model);
  tok_map_free(&e->cache);
  free(e->cache_ids.data);
  free(e->out.data);
}

ttt_status ttt_tokenizer_encode(const ttt_tokenizer *t, const char *text, size_t len,
                                bool add_special, int32_t **ids, int64_t *n_ids) {
  if (!t || (!text && len) || !ids || !n_ids)
    return ttt_set_error(
        TTT_ERR_INVALID_ARGUMENT,
        "ttt_tokenizer_encode: tokenizer, ids and n_ids must not be NULL, nor text "
        "when len > 0");
  *ids = NULL;
  *n_ids = 0;
  enc_state e = {.t = t};
  tok_buf clean = {0};
  ttt_status st = tok_map_init(&e.cache, 1024);
  if (!st && !tok_utf8_is_valid(text, len)) {
    st = tok_utf8_lossy(&clean, text, len);
    text = clean.data;
    len = clean.len;
  }
  if (!st) st = encode_text(&e, text ? text : "", len);
  if (!st && add_special) st = add_special_ids(t, &e.out);
  if (!st && e.out.len > 0) {
    *ids = e.out.data;
    *n_ids = e.out.len;
    e.out = (tok_ids){0};
  }
  tok_buf_free(&clean);
  enc_state_free(&e);
  return st;
}

/* ---- queries ----------------------------------------------------------------------------------
 */

int64_t ttt_tokenizer_vocab_size(const ttt_tokenizer *t) { return t ? t->vocab_size : 0; }

const char *ttt_tokenizer_token(const ttt_tokenizer *t, int32_t id) {
  if (!t || id < 0 || id >= t->vocab_size || t->str_len[id] == UINT32_MAX) return NULL;
  return t->strings.data + t->str_off[id];
}

int32_t ttt_tokenizer_token_id(const ttt_tokenizer *t, const char *token) {
  if (!t || !token) return -1;
  int64_t v;
  size_t n = strlen(token);
  if (tok_map_get(&t->added_ids, token, n, &v) || tok_map_get(&t->vocab, token, n, &v))
    return (int32_t)v;
  return -1;
}

int32_t ttt_tokenizer_bos_id(const ttt_tokenizer *t) { return t ? t->bos_id : -1; }

int32_t ttt_tokenizer_eos_id(const ttt_tokenizer *t) { return t ? t->eos_id : -1; }

bool ttt_tokenizer_is_eos(const ttt_tokenizer *t, int32_t id) {
  if (!t || id < 0) return false;
  if (id == t->eos_id) return true;
  for (int64_t i = 0; i < t->extra_eos.len; i++)
    if (t->extra_eos.data[i] == id) return true;
  return false;
}

bool ttt_tokenizer_is_special(const ttt_tokenizer *t, int32_t id) {
  return t && id >= 0 && id < t->vocab_size && t->special[id];
}
