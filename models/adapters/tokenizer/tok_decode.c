/*
 * tok_decode.c — decoder steps and the streaming detokenizer.
 *
 * As in HuggingFace, decoding turns ids into their token strings (added tokens included) and passes
 * the list through the decoder steps; each step maps a list of strings to a list of strings, and
 * the result is their concatenation (joined by spaces when there is no decoder at all).
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* A list of strings: spans into one buffer. */
typedef struct strlist {
  tok_buf text;
  tok_spans spans;
} strlist;

static void strlist_clear(strlist *l) { l->text.len = l->spans.len = 0; }

static void strlist_free(strlist *l) {
  tok_buf_free(&l->text);
  free(l->spans.data);
  *l = (strlist){0};
}

static ttt_status strlist_push(strlist *l, const char *s, size_t n) {
  size_t off = l->text.len;
  ttt_status st = tok_buf_append(&l->text, s, n);
  return st ? st : tok_spans_push(&l->spans, off, n);
}

/* Extends the last string (which must exist) by s[0..n). */
static ttt_status strlist_extend(strlist *l, const char *s, size_t n) {
  ttt_status st = tok_buf_append(&l->text, s, n);
  if (!st) l->spans.data[l->spans.len - 1].len += n;
  return st;
}

#define STR(l, i) ((l)->text.data + (l)->spans.data[i].off)
#define LEN(l, i) ((l)->spans.data[i].len)

/* ---- steps ------------------------------------------------------------------------------------
 */

/* Bytes of a ByteLevel token; a token with a character outside the table (an added token such as
 * "<|eot_id|>" is fine, "☃" is not) contributes its own UTF-8 bytes. */
static ttt_status byte_level_token(const tok_byte_level *bl, const char *s, size_t n,
                                   tok_buf *out) {
  size_t start = out->len;
  for (size_t i = 0; i < n;) {
    size_t cl = tok_utf8_valid_len((const unsigned char *)s + i, n - i);
    uint32_t cp = cl ? tok_utf8_decode((const unsigned char *)s + i) : 0xFFFFFFFFu;
    if (cp >= 512 || bl->dec[cp] < 0) {
      out->len = start;
      return tok_buf_append(out, s, n);
    }
    ttt_status st = tok_buf_push(out, (char)bl->dec[cp]);
    if (st) return st;
    i += cl;
  }
  return TTT_OK;
}

static ttt_status dec_byte_level(const tok_byte_level *bl, const strlist *in, strlist *out,
                                 tok_buf *tmp) {
  tmp->len = 0;
  for (size_t i = 0; i < in->spans.len; i++) {
    ttt_status st = byte_level_token(bl, STR(in, i), LEN(in, i), tmp);
    if (st) return st;
  }
  ttt_status st = tok_spans_push(&out->spans, 0, 0);
  if (!st) st = tok_utf8_lossy(&out->text, tmp->data ? tmp->data : "", tmp->len);
  if (!st) out->spans.data[0].len = out->text.len;
  return st;
}

static ttt_status dec_replace(const tok_dec *d, const strlist *in, strlist *out) {
  for (size_t i = 0; i < in->spans.len; i++) {
    const char *s = STR(in, i);
    size_t n = LEN(in, i), last = 0;
    ttt_status st = strlist_push(out, "", 0);
    for (size_t k = 0; k + d->a_len <= n && !st;) {
      const char *hit = tok_find(s + k, n - k, d->a, d->a_len);
      if (!hit) break;
      size_t at = (size_t)(hit - s);
      st = strlist_extend(out, s + last, at - last);
      if (!st) st = strlist_extend(out, d->b, d->b_len);
      last = k = at + d->a_len;
    }
    if (!st) st = strlist_extend(out, s + last, n - last);
    if (st) return st;
  }
  return TTT_OK;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* "<0xNN>" -> the byte, else -1. */
static int byte_token(const char *s, size_t n) {
  if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
  int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* A run of byte tokens becomes its text if valid UTF-8, else one U+FFFD per byte token. */
static ttt_status flush_bytes(tok_buf *bytes, strlist *out) {
  ttt_status st = TTT_OK;
  if (bytes->len == 0) return TTT_OK;
  if (tok_utf8_is_valid(bytes->data, bytes->len))
    st = strlist_push(out, bytes->data, bytes->len);
  else
    for (size_t k = 0; k < bytes->len && !st; k++) st = strlist_push(out, "\xEF\xBF\xBD", 3);
  bytes->len = 0;
  return st;
}

static ttt_status dec_byte_fallback(const strlist *in, strlist *out, tok_buf *bytes) {
  bytes->len = 0;
  for (size_t i = 0; i < in->spans.len; i++) {
    int b = byte_token(STR(in, i), LEN(in, i));
    ttt_status st = b >= 0 ? tok_buf_push(bytes, (char)b) : flush_bytes(bytes, out);
    if (!st && b < 0) st = strlist_push(out, STR(in, i), LEN(in, i));
    if (st) return st;
  }
  return flush_bytes(bytes, out);
}

static ttt_status dec_fuse(const strlist *in, strlist *out) {
  ttt_status st = strlist_push(out, "", 0);
  for (size_t i = 0; i < in->spans.len && !st; i++)
    st = strlist_extend(out, STR(in, i), LEN(in, i));
  return st;
}

static ttt_status dec_strip(const tok_dec *d, const strlist *in, strlist *out) {
  for (size_t i = 0; i < in->spans.len; i++) {
    const char *s = STR(in, i);
    size_t a = 0, b = LEN(in, i);
    for (int64_t k = 0; k < d->start && b - a >= d->a_len && memcmp(s + a, d->a, d->a_len) == 0;
         k++)
      a += d->a_len;
    for (int64_t k = 0;
         k < d->stop && b - a >= d->a_len && memcmp(s + b - d->a_len, d->a, d->a_len) == 0; k++)
      b -= d->a_len;
    ttt_status st = strlist_push(out, s + a, b - a);
    if (st) return st;
  }
  return TTT_OK;
}

/* Metaspace: the replacement character becomes a space, except in the first token where it is
 * dropped (unless the prepend scheme is "never"). */
static ttt_status dec_metaspace(const tok_dec *d, const strlist *in, strlist *out) {
  for (size_t i = 0; i < in->spans.len; i++) {
    const char *s = STR(in, i);
    size_t n = LEN(in, i);
    bool drop = i == 0 && d->prepend_scheme != TOK_PREPEND_NEVER;
    ttt_status st = strlist_push(out, "", 0);
    for (size_t k = 0; k < n && !st;) {
      if (n - k >= d->a_len && memcmp(s + k, d->a, d->a_len) == 0) {
        st = drop ? TTT_OK : strlist_extend(out, " ", 1);
        k += d->a_len;
      } else {
        st = strlist_extend(out, s + k, 1);
        k++;
      }
    }
    if (st) return st;
  }
  return TTT_OK;
}

/* Replaces every occurrence of `from` in the last string of l by `to`. */
static ttt_status replace_in_last(strlist *l, tok_buf *tmp, const char *from, const char *to) {
  size_t fl = strlen(from), tl = strlen(to), i = l->spans.len - 1;
  const char *s = STR(l, i);
  size_t n = LEN(l, i), last = 0;
  tmp->len = 0;
  ttt_status st = TTT_OK;
  for (size_t k = 0; k + fl <= n && !st;) {
    const char *hit = tok_find(s + k, n - k, from, fl);
    if (!hit) break;
    size_t at = (size_t)(hit - s);
    st = tok_buf_append(tmp, s + last, at - last);
    if (!st) st = tok_buf_append(tmp, to, tl);
    last = k = at + fl;
  }
  if (st || last == 0) return st;
  st = tok_buf_append(tmp, s + last, n - last);
  if (st) return st;
  l->text.len = l->spans.data[i].off; /* the last string is at the end of the buffer */
  l->spans.data[i].len = 0;
  return strlist_extend(l, tmp->data, tmp->len);
}

/* WordPiece: a token after the first loses its continuing prefix, or else gets a leading space;
 * with cleanup, HuggingFace's cleanup replacements (" ." -> ".", " do not" -> " don't", ...) run on
 * each token. */
static ttt_status dec_wordpiece(const tok_dec *d, const strlist *in, strlist *out, tok_buf *tmp) {
  static const char *cleanup[][2] = {{" .", "."},     {" ?", "?"},           {" !", "!"},
                                     {" ,", ","},     {" ' ", "'"},          {" n't", "n't"},
                                     {" 'm", "'m"},   {" do not", " don't"}, {" 's", "'s"},
                                     {" 've", "'ve"}, {" 're", "'re"}};
  for (size_t i = 0; i < in->spans.len; i++) {
    const char *s = STR(in, i);
    size_t n = LEN(in, i);
    bool prefixed = i > 0 && n >= d->a_len && memcmp(s, d->a, d->a_len) == 0;
    ttt_status st = strlist_push(out, i > 0 && !prefixed ? " " : "", i > 0 && !prefixed);
    if (!st)
      st = prefixed ? strlist_extend(out, s + d->a_len, n - d->a_len) : strlist_extend(out, s, n);
    for (size_t k = 0; d->cleanup && k < sizeof cleanup / sizeof cleanup[0] && !st; k++)
      st = replace_in_last(out, tmp, cleanup[k][0], cleanup[k][1]);
    if (st) return st;
  }
  return TTT_OK;
}

static ttt_status apply_step(const ttt_tokenizer *t, const tok_dec *d, const strlist *in,
                             strlist *out, tok_buf *tmp) {
  switch (d->kind) {
  case TOK_DEC_BYTE_LEVEL:
    return dec_byte_level(&t->byte_level, in, out, tmp);
  case TOK_DEC_REPLACE:
    return dec_replace(d, in, out);
  case TOK_DEC_BYTE_FALLBACK:
    return dec_byte_fallback(in, out, tmp);
  case TOK_DEC_FUSE:
    return dec_fuse(in, out);
  case TOK_DEC_STRIP:
    return dec_strip(d, in, out);
  case TOK_DEC_METASPACE:
    return dec_metaspace(d, in, out);
  case TOK_DEC_WORDPIECE:
    return dec_wordpiece(d, in, out, tmp);
  }
  return ttt_set_error(TTT_ERR_INTERNAL, "tokenizer: unknown decoder step %d", (int)d->kind);
}

/* ---- decode -----------------------------------------------------------------------------------
 */

static ttt_status check_id(const ttt_tokenizer *t, int32_t id, int64_t pos) {
  if (id >= 0 && id < t->vocab_size && t->str_len[id] != UINT32_MAX) return TTT_OK;
  return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                       "tokenizer: id %d at position %lld is not a token (vocabulary size %lld)",
                       (int)id, (long long)pos, (long long)t->vocab_size);
}

ttt_status tok_decode_ids(const ttt_tokenizer *t, const int32_t *ids, int64_t n, bool skip_special,
                          tok_buf *out) {
  strlist a = {0}, b = {0};
  tok_buf tmp = {0};
  ttt_status st = TTT_OK;
  for (int64_t i = 0; i < n && !st; i++) {
    st = check_id(t, ids[i], i);
    if (!st && !(skip_special && t->special[ids[i]]))
      st = strlist_push(&a, t->strings.data + t->str_off[ids[i]], t->str_len[ids[i]]);
  }
  for (size_t k = 0; k < t->n_decs && !st; k++) {
    strlist_clear(&b);
    st = apply_step(t, &t->decs[k], &a, &b, &tmp);
    strlist swap = a;
    a = b;
    b = swap;
  }
  /* the final text is always valid UTF-8, whatever the token strings hold */
  tmp.len = 0;
  for (size_t i = 0; i < a.spans.len && !st; i++) {
    if (i > 0 && !t->has_decoder) st = tok_buf_push(&tmp, ' ');
    if (!st) st = tok_buf_append(&tmp, STR(&a, i), LEN(&a, i));
  }
  out->len = 0;
  if (!st) st = tok_utf8_lossy(out, tmp.data ? tmp.data : "", tmp.len);
  strlist_free(&a);
  strlist_free(&b);
  tok_buf_free(&tmp);
  return st;
}

ttt_status ttt_tokenizer_decode(const ttt_tokenizer *t, const int32_t *ids, int64_t n,
                                bool skip_special, char **text, size_t *len) {
  if (!t || (!ids && n > 0) || n < 0 || !text)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_tokenizer_decode: tokenizer and text must not be NULL, ids not NULL "
                         "when n > 0, n >= 0");
  tok_buf out = {0};
  ttt_status st = tok_decode_ids(t, ids, n, skip_special, &out);
  if (st) {
    tok_buf_free(&out);
    return st;
  }
  *text = out.data;
  if (len) *len = out.len;
  return TTT_OK;
}

/* ---- streaming --------------------------------------------------------------------------------
 */

/*
 * The stream keeps a window of ids and `prefix`, the decode of the window's first `prefix_count`
 * ids (the context). After a push it decodes the whole window; if the text grew and does not end in
 * U+FFFD (which may be an incomplete character), the growth beyond the prefix is emitted and the
 * window restarts with the ids just emitted as the new context. Position-dependent decoders (Strip,
 * Metaspace) treat the window's first token like the sequence's first one in both decodes, so the
 * difference is what the full decode adds. Skipped special tokens never enter the window. The
 * context never ends inside a run of ByteFallback byte tokens (see holds_back), so runs are decoded
 * whole, as in the full decode.
 *
 * When the text does end in U+FFFD, only its last character can still change (a later id may
 * complete it); everything before it is final. So if the window without its last id decodes to a
 * shorter prefix of the text, that shorter text is emitted and the last id stays pending. This
 * keeps the window a few ids long even when the text keeps ending in U+FFFD (a generation stuck on
 * an invalid byte), so each push costs O(length of the last few tokens), not O(ids so far).
 */
struct ttt_detokenizer {
  const ttt_tokenizer *t;
  bool skip_special;
  tok_ids window;
  int64_t prefix_count;
  tok_buf prefix, text, settled, piece;
  int64_t decoded_ids; /* ids passed to the decoder so far: the work done (tests bound it) */
};

ttt_status ttt_detokenizer_create_ex(const ttt_tokenizer *t, bool skip_special,
                                     ttt_detokenizer **out) {
  if (!t || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_detokenizer_create: tokenizer and out must not be NULL");
  ttt_detokenizer *d = calloc(1, sizeof *d);
  if (!d) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  d->t = t;
  d->skip_special = skip_special;
  *out = d;
  return TTT_OK;
}

ttt_status ttt_detokenizer_create(const ttt_tokenizer *t, ttt_detokenizer **out) {
  return ttt_detokenizer_create_ex(t, false, out);
}

static bool ends_with_replacement(const tok_buf *b) {
  return b->len >= 3 && memcmp(b->data + b->len - 3, "\xEF\xBF\xBD", 3) == 0;
}

/* With a ByteFallback decoder, a run of "<0xNN>" tokens decodes as a whole (all U+FFFD if the run
 * is not valid UTF-8), so a later byte token can change the text of earlier ones: nothing is
 * emitted while the last token is a byte token. */
static bool holds_back(const ttt_tokenizer *t, int32_t id) {
  bool fallback = false;
  for (size_t i = 0; i < t->n_decs; i++) fallback |= t->decs[i].kind == TOK_DEC_BYTE_FALLBACK;
  return fallback && byte_token(t->strings.data + t->str_off[id], t->str_len[id]) >= 0;
}

/* Decodes the window's first `count` ids into out. */
static ttt_status decode_window(ttt_detokenizer *d, int64_t count, tok_buf *out) {
  d->decoded_ids += count;
  return tok_decode_ids(d->t, d->window.data, count, d->skip_special, out);
}

/* True if text extends the prefix by at least one byte. With the supported decoders it always
 * extends it when it grows; the comparison keeps a surprising decoder from emitting wrong text. */
static bool extends_prefix(const ttt_detokenizer *d, const tok_buf *text) {
  return text->len > d->prefix.len &&
         (d->prefix.len == 0 || memcmp(text->data, d->prefix.data, d->prefix.len) == 0);
}

/* Sets the piece to text[prefix.len..]. */
static ttt_status set_piece(ttt_detokenizer *d, const tok_buf *text, const char **piece,
                            size_t *len) {
  d->piece.len = 0;
  ttt_status st = tok_buf_append(&d->piece, text->data + d->prefix.len, text->len - d->prefix.len);
  if (st) return st;
  *piece = d->piece.data;
  if (len) *len = d->piece.len;
  return TTT_OK;
}

static void empty_piece(ttt_detokenizer *d, const char **piece, size_t *len) {
  d->piece.len = 0;
  *piece = "";
  if (len) *len = 0;
}

/* Emits `text`, the decode of the window's first `count` ids, beyond the prefix; the ids from the
 * old context's end up to `count` become the new context, the ids after `count` stay pending. */
static ttt_status emit(ttt_detokenizer *d, int64_t count, const tok_buf *text, const char **piece,
                       size_t *len) {
  ttt_status st = set_piece(d, text, piece, len);
  if (st) return st;
  int64_t keep = d->window.len - d->prefix_count;
  memmove(d->window.data, d->window.data + d->prefix_count, (size_t)keep * sizeof(int32_t));
  d->window.len = keep;
  d->prefix_count = count - d->prefix_count;
  return decode_window(d, d->prefix_count, &d->prefix);
}

/* A failed decode leaves the stream as it was before the push. */
static ttt_status undo_push(ttt_detokenizer *d, ttt_status st) {
  d->window.len--;
  return st;
}

ttt_status ttt_detokenizer_push(ttt_detokenizer *d, int32_t id, const char **piece, size_t *len) {
  if (!d || !piece)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_detokenizer_push: detokenizer and piece must not be NULL");
  empty_piece(d, piece, len);
  ttt_status st = check_id(d->t, id, d->window.len);
  if (st || (d->skip_special && d->t->special[id])) return st;
  st = tok_ids_push(&d->window, id);
  if (st || holds_back(d->t, id)) return st;
  int64_t n = d->window.len;
  st = decode_window(d, n, &d->text);
  if (st) return undo_push(d, st);
  if (!extends_prefix(d, &d->text)) return TTT_OK;
  if (!ends_with_replacement(&d->text)) return emit(d, n, &d->text, piece, len);
  /* The last character may still change: what comes before it is final. If the window without its
   * last id decodes to a shorter prefix of the text, that much is emitted. */
  if (n - d->prefix_count < 2) return TTT_OK;
  st = decode_window(d, n - 1, &d->settled);
  if (st) return undo_push(d, st);
  bool final = d->settled.len < d->text.len && extends_prefix(d, &d->settled) &&
               memcmp(d->settled.data, d->text.data, d->settled.len) == 0;
  return final ? emit(d, n - 1, &d->settled, piece, len) : TTT_OK;
}

ttt_status ttt_detokenizer_flush(ttt_detokenizer *d, const char **piece, size_t *len) {
  if (!d || !piece)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_detokenizer_flush: detokenizer and piece must not be NULL");
  empty_piece(d, piece, len);
  ttt_status st = decode_window(d, d->window.len, &d->text);
  if (!st && d->text.len > d->prefix.len) st = set_piece(d, &d->text, piece, len);
  d->window.len = d->prefix_count = 0;
  d->prefix.len = 0;
  return st;
}

int64_t tok_detokenizer_decoded_ids(const ttt_detokenizer *d) { return d->decoded_ids; }

void ttt_detokenizer_destroy(ttt_detokenizer *d) {
  if (!d) return;
  free(d->window.data);
  tok_buf_free(&d->prefix);
  tok_buf_free(&d->text);
  tok_buf_free(&d->settled);
  tok_buf_free(&d->piece);
  free(d);
}
