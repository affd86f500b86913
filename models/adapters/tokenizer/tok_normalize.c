/* tok_normalize.c — normalizer steps (NFC/NFD/NFKC/NFKD via utf8proc, Prepend, Replace) and the
 * regex match iterator shared with the pre-tokenizers. Text here is always valid UTF-8. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

ttt_status tok_regex_each(const pcre2_code *re, const char *s, size_t n, pcre2_match_data *md,
                          tok_match_fn emit, void *ctx) {
  /* The subject is validated once here, so that the matches below may skip PCRE2's own check
   * (which rescans the rest of the subject at every start offset). Start offsets stay on character
   * boundaries: patterns cannot use \C (tok_regex_compile). Invalid UTF-8 is not expected here
   * (encode repairs it first and no step cuts inside a character); if it ever came, PCRE2 would
   * check it and report an error rather than read out of bounds. */
  uint32_t options = tok_utf8_is_valid(s, n) ? PCRE2_NO_UTF_CHECK : 0;
  size_t start = 0;
  while (start <= n) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, start, options, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return TTT_OK;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      return ttt_set_error(TTT_ERR_CAPACITY,
                           "tokenizer: regular expression failed on a %zu-byte piece: %s", n,
                           (const char *)msg);
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t a = ov[0], b = ov[1];
    if (a > b || b > n)
      return ttt_set_error(TTT_ERR_INTERNAL, "tokenizer: regex reported a bad match");
    ttt_status st = emit(ctx, a, b);
    if (st) return st;
    if (b > a) {
      start = b;
    } else { /* empty match: resume one character further */
      if (b >= n) return TTT_OK;
      start = b + tok_utf8_char_len((unsigned char)s[b]);
    }
  }
  return TTT_OK;
}

static bool is_ascii(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) return false;
  return true;
}

static ttt_status unicode_normalize(tok_norm_kind kind, const char *s, size_t n, tok_buf *out) {
  /* ASCII text is invariant under every normalization form */
  if (is_ascii(s, n)) return tok_buf_append(out, s, n);
  utf8proc_option_t opt = UTF8PROC_STABLE;
  if (kind == TOK_NORM_NFC || kind == TOK_NORM_NFKC)
    opt |= UTF8PROC_COMPOSE;
  else
    opt |= UTF8PROC_DECOMPOSE;
  if (kind == TOK_NORM_NFKC || kind == TOK_NORM_NFKD) opt |= UTF8PROC_COMPAT;
  utf8proc_uint8_t *dst = NULL;
  utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opt);
  if (len < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "tokenizer: Unicode normalization failed: %s",
                         utf8proc_errmsg(len));
  ttt_status st = tok_buf_append(out, dst, (size_t)len);
  free(dst);
  return st;
}

typedef struct replace_ctx {
  const tok_norm *step;
  const char *s;
  size_t last; /* end of the previous match */
  tok_buf *out;
} replace_ctx;

static ttt_status replace_match(void *p, size_t start, size_t end) {
  replace_ctx *c = p;
  ttt_status st = tok_buf_append(c->out, c->s + c->last, start - c->last);
  if (!st) st = tok_buf_append(c->out, c->step->b, c->step->b_len);
  c->last = end;
  return st;
}

static ttt_status replace(const tok_norm *step, const char *s, size_t n, pcre2_match_data *md,
                          tok_buf *out) {
  replace_ctx c = {step, s, 0, out};
  ttt_status st = TTT_OK;
  if (step->re) {
    st = tok_regex_each(step->re, s, n, md, replace_match, &c);
  } else {
    for (size_t i = 0; i + step->a_len <= n && !st;) {
      const char *hit = tok_find(s + i, n - i, step->a, step->a_len);
      if (!hit) break;
      size_t at = (size_t)(hit - s);
      st = replace_match(&c, at, at + step->a_len);
      i = at + step->a_len;
    }
  }
  if (!st) st = tok_buf_append(out, s + c.last, n - c.last);
  return st;
}

static ttt_status apply(const tok_norm *step, const char *s, size_t n, pcre2_match_data *md,
                        tok_buf *out) {
  switch (step->kind) {
  case TOK_NORM_PREPEND: {
    ttt_status st = n ? tok_buf_append(out, step->a, step->a_len) : TTT_OK;
    return st ? st : tok_buf_append(out, s, n);
  }
  case TOK_NORM_REPLACE:
    return replace(step, s, n, md, out);
  case TOK_NORM_BERT:
  case TOK_NORM_PRECOMPILED:
  case TOK_NORM_STRIP:
  case TOK_NORM_LOWERCASE:
  case TOK_NORM_STRIP_ACCENTS:
    return tok_normalize_ext(step, s, n, out);
  default:
    return unicode_normalize(step->kind, s, n, out);
  }
}

ttt_status tok_normalize(const ttt_tokenizer *t, const char *text, size_t len, tok_buf *out) {
  out->len = 0;
  ttt_status st = tok_buf_append(out, text, len);
  tok_buf tmp = {0};
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  if (!md) st = st ? st : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  for (size_t i = 0; i < t->n_norms && !st; i++) {
    tmp.len = 0;
    st = apply(&t->norms[i], out->data, out->len, md, &tmp);
    if (!st) st = tok_buf_reserve(&tmp, 0);
    tok_buf swap = *out;
    *out = tmp;
    tmp = swap;
  }
  if (!st) st = tok_buf_reserve(out, 0);
  tok_buf_free(&tmp);
  pcre2_match_data_free(md);
  return st;
}
