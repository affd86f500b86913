/*
 * tok_normalize_ext.c — BertNormalizer, Precompiled (SentencePiece's compiled character map),
 * Strip, Lowercase and StripAccents, as HuggingFace `tokenizers` applies them. Text here is always
 * valid UTF-8; the precompiled map was checked whole when it was loaded (tok_load_ext.c).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

/* Rust's char::is_whitespace (Unicode White_Space). */
static bool is_white_space(uint32_t c) {
  if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85) return true;
  utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

/* BERT's control characters: the "Other" categories (Cc, Cf, Cn, Co, Cs) except \t \n \r. */
static bool is_bert_control(uint32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (utf8proc_category((utf8proc_int32_t)c)) {
  case UTF8PROC_CATEGORY_CC:
  case UTF8PROC_CATEGORY_CF:
  case UTF8PROC_CATEGORY_CN:
  case UTF8PROC_CATEGORY_CO:
  case UTF8PROC_CATEGORY_CS:
    return true;
  default:
    return false;
  }
}

/* The CJK ideograph blocks BERT puts spaces around (HuggingFace's list). */
static bool is_chinese_char(uint32_t c) {
  static const uint32_t ranges[][2] = {{0x4E00, 0x9FFF},   {0x3400, 0x4DBF},   {0x20000, 0x2A6DF},
                                       {0x2A700, 0x2B73F}, {0x2B740, 0x2B81F}, {0x2B920, 0x2CEAF},
                                       {0xF900, 0xFAFF},   {0x2F800, 0x2FA1F}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    if (c >= ranges[i][0] && c <= ranges[i][1]) return true;
  return false;
}

static ttt_status append_cp(tok_buf *out, uint32_t c) {
  char u[4];
  return tok_buf_append(out, u, tok_utf8_encode(c, u));
}

/* clean_text (drops NUL, U+FFFD and controls, maps whitespace to ' ') and the spaces around CJK
 * ideographs, in one pass. */
static ttt_status bert_clean(const tok_norm *step, const char *s, size_t n, tok_buf *out) {
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < n && !st;) {
    uint32_t c = tok_utf8_decode((const unsigned char *)s + i);
    size_t cl = tok_utf8_char_len((unsigned char)s[i]);
    i += cl;
    if (step->clean_text) {
      if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
      if (c == '\t' || c == '\n' || c == '\r' || is_white_space(c)) c = ' ';
    }
    bool spaced = step->chinese_chars && is_chinese_char(c);
    if (spaced) st = tok_buf_push(out, ' ');
    if (!st) st = append_cp(out, c);
    if (!st && spaced) st = tok_buf_push(out, ' ');
  }
  return st;
}

/* Removes every nonspacing mark (Mn), after NFD when `nfd` (BertNormalizer's strip_accents; the
 * StripAccents normalizer filters the text as it is). */
static ttt_status strip_accents(const char *s, size_t n, bool nfd, tok_buf *out) {
  utf8proc_uint8_t *decomposed = NULL;
  if (nfd) {
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                        &decomposed, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    if (len < 0)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "tokenizer: Unicode normalization failed: %s",
                           utf8proc_errmsg(len));
    s = (const char *)decomposed;
    n = (size_t)len;
  }
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < n && !st;) {
    size_t cl = tok_utf8_char_len((unsigned char)s[i]);
    uint32_t c = tok_utf8_decode((const unsigned char *)s + i);
    if (utf8proc_category((utf8proc_int32_t)c) != UTF8PROC_CATEGORY_MN)
      st = tok_buf_append(out, s + i, cl);
    i += cl;
  }
  free(decomposed);
  return st;
}

/* Rust's char::to_lowercase: the simple mapping, except U+0130 which becomes "i" + U+0307. */
static ttt_status lowercase(const char *s, size_t n, tok_buf *out) {
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < n && !st;) {
    uint32_t c = tok_utf8_decode((const unsigned char *)s + i);
    i += tok_utf8_char_len((unsigned char)s[i]);
    if (c == 0x130)
      st = tok_buf_append(out, "i\xCC\x87", 3);
    else
      st = append_cp(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
  }
  return st;
}

/* clean_text + CJK spacing, strip_accents, lowercase, in HuggingFace's order. */
static ttt_status bert_normalize(const tok_norm *step, const char *s, size_t n, tok_buf *out) {
  tok_buf a = {0}, b = {0};
  ttt_status st = bert_clean(step, s, n, &a);
  if (!st && step->strip_accents) {
    st = strip_accents(a.data ? a.data : "", a.len, true, &b);
    tok_buf swap = a;
    a = b;
    b = swap;
    b.len = 0;
  }
  if (!st && step->lowercase) {
    st = lowercase(a.data ? a.data : "", a.len, &b);
    tok_buf swap = a;
    a = b;
    b = swap;
  }
  if (!st) st = tok_buf_append(out, a.data ? a.data : "", a.len);
  tok_buf_free(&a);
  tok_buf_free(&b);
  return st;
}

static ttt_status strip(const tok_norm *step, const char *s, size_t n, tok_buf *out) {
  size_t a = 0, b = n;
  while (step->strip_left && a < b && is_white_space(tok_utf8_decode((const unsigned char *)s + a)))
    a += tok_utf8_char_len((unsigned char)s[a]);
  while (step->strip_right && b > a) {
    size_t start = b - 1;
    while (start > a && ((unsigned char)s[start] & 0xC0) == 0x80) start--;
    if (!is_white_space(tok_utf8_decode((const unsigned char *)s + start))) break;
    b = start;
  }
  return tok_buf_append(out, s + a, b - a);
}

/* ---- Precompiled ------------------------------------------------------------------------------
 */

static uint32_t unit_at(const tok_norm *step, size_t i) {
  const unsigned char *p = (const unsigned char *)step->a + 4 + 4 * i;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t unit_offset(uint32_t u) { return (uint64_t)(u >> 10) << ((u & (1u << 9)) >> 6); }

/* The replacement of the shortest prefix of s[0..n) that the map has (as SentencePiece's
 * common-prefix search, first result), or NULL. A NUL byte ends the search. Bounds: indexes are
 * checked against the array; leaves were checked at load time. */
static const char *precompiled_lookup(const tok_norm *step, const char *s, size_t n) {
  size_t units = step->trie_units;
  uint64_t node = unit_offset(unit_at(step, 0));
  for (size_t i = 0; i < n && s[i] != 0; i++) {
    uint32_t c = (unsigned char)s[i];
    if (node >= units) return NULL;
    uint64_t q = node ^ c;
    if (q >= units) return NULL;
    uint32_t u = unit_at(step, (size_t)q);
    if ((u & (0x80000000u | 0xFFu)) != c) return NULL;
    node = q ^ unit_offset(u);
    if ((u >> 8) & 1) {
      const char *strings = step->a + 4 + 4 * units;
      return strings + (unit_at(step, (size_t)node) & 0x7FFFFFFFu);
    }
  }
  return NULL;
}

/* Appends a replacement string: up to its NUL or the end of the blob. */
static ttt_status append_replacement(const tok_norm *step, const char *r, tok_buf *out) {
  const char *end = step->a + step->a_len;
  const char *nul = memchr(r, 0, (size_t)(end - r));
  return tok_buf_append(out, r, (size_t)((nul ? nul : end) - r));
}

/* As HuggingFace: each extended grapheme cluster shorter than 6 bytes is looked up whole (the
 * shortest matching prefix replaces the whole cluster, so a combining mark after a mapped
 * character disappears); otherwise each character is looked up alone. */
static ttt_status precompiled_grapheme(const tok_norm *step, const char *g, size_t n,
                                       tok_buf *out) {
  const char *r = n < 6 ? precompiled_lookup(step, g, n) : NULL;
  if (r) return append_replacement(step, r, out);
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < n && !st;) {
    size_t cl = tok_utf8_char_len((unsigned char)g[i]);
    r = precompiled_lookup(step, g + i, cl);
    st = r ? append_replacement(step, r, out) : tok_buf_append(out, g + i, cl);
    i += cl;
  }
  return st;
}

static ttt_status precompiled(const tok_norm *step, const char *s, size_t n, tok_buf *out) {
  utf8proc_int32_t state = 0;
  size_t start = 0;
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < n && !st;) {
    size_t cl = tok_utf8_char_len((unsigned char)s[i]);
    size_t next = i + cl;
    bool end = next >= n;
    if (!end) {
      utf8proc_int32_t c1 = (utf8proc_int32_t)tok_utf8_decode((const unsigned char *)s + i);
      utf8proc_int32_t c2 = (utf8proc_int32_t)tok_utf8_decode((const unsigned char *)s + next);
      end = utf8proc_grapheme_break_stateful(c1, c2, &state);
    }
    if (end) {
      st = precompiled_grapheme(step, s + start, next - start, out);
      start = next;
    }
    i = next;
  }
  return st;
}

ttt_status tok_normalize_ext(const tok_norm *step, const char *s, size_t n, tok_buf *out) {
  switch (step->kind) {
  case TOK_NORM_BERT:
    return bert_normalize(step, s, n, out);
  case TOK_NORM_PRECOMPILED:
    return precompiled(step, s, n, out);
  case TOK_NORM_STRIP:
    return strip(step, s, n, out);
  case TOK_NORM_LOWERCASE:
    return lowercase(s, n, out);
  case TOK_NORM_STRIP_ACCENTS:
    return strip_accents(s, n, false, out);
  default:
    return ttt_set_error(TTT_ERR_INTERNAL, "tokenizer: normalizer step %d is not an extension",
                         (int)step->kind);
  }
}
