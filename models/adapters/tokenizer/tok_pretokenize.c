/*
 * tok_pretokenize.c — pre-tokenizer steps: Split (regex or literal, with HuggingFace's five
 * delimiter behaviors), ByteLevel and Metaspace.
 *
 * State between steps: a text buffer and a list of spans (pieces) into it. Split only refines the
 * spans; ByteLevel and Metaspace rewrite the text, so they write a new buffer (double buffering in
 * tok_pre_scratch: index `cur` is the current text / span list, 1 - cur the next one).
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* One part of a piece as the pattern cuts it: a match (delimiter) or the text between matches. */
typedef struct part {
  size_t off, len;
  bool match;
} part;

typedef struct parts {
  part *data;
  size_t len, cap;
} parts;

static ttt_status parts_push(parts *p, size_t off, size_t len, bool match) {
  if (p->len == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    part *d = realloc(p->data, cap * sizeof *d);
    if (!d) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    p->data = d;
    p->cap = cap;
  }
  p->data[p->len++] = (part){off, len, match};
  return TTT_OK;
}

typedef struct find_ctx {
  parts *out;
  size_t base, prev; /* span offset in the text; end of the previous match (relative) */
} find_ctx;

static ttt_status on_match(void *p, size_t start, size_t end) {
  find_ctx *c = p;
  ttt_status st = TTT_OK;
  if (start > c->prev) st = parts_push(c->out, c->base + c->prev, start - c->prev, false);
  if (!st) st = parts_push(c->out, c->base + start, end - start, true);
  c->prev = end;
  return st;
}

/* Cuts text[off..off+len) into matches and gaps, covering it entirely. */
static ttt_status find_parts(const pcre2_code *re, const char *text, size_t off, size_t len,
                             pcre2_match_data *md, parts *out) {
  out->len = 0;
  find_ctx c = {out, off, 0};
  ttt_status st = tok_regex_each(re, text + off, len, md, on_match, &c);
  if (!st && c.prev < len) st = parts_push(out, off + c.prev, len - c.prev, false);
  return st;
}

/* Applies a delimiter behavior in place, as HuggingFace's NormalizedString::split does: matches
 * are merged into a neighbour, kept alone, merged with each other, or flagged for removal. */
static void apply_behavior(parts *p, tok_split_behavior behavior) {
  size_t n = 0;
  bool prev_match = false;
  if (behavior == TOK_SPLIT_MERGED_WITH_NEXT) { /* mirror of MergedWithPrevious, right to left */
    for (size_t i = p->len; i-- > 0;) {
      part cur = p->data[i];
      if (cur.match && !prev_match && n > 0) {
        part *last = &p->data[p->len - n];
        last->len += last->off - cur.off;
        last->off = cur.off;
      } else {
        p->data[p->len - ++n] = (part){cur.off, cur.len, false};
      }
      prev_match = cur.match;
    }
    memmove(p->data, p->data + p->len - n, n * sizeof *p->data);
    p->len = n;
    return;
  }
  for (size_t i = 0; i < p->len; i++) {
    part cur = p->data[i];
    bool extend = false;
    if (behavior == TOK_SPLIT_MERGED_WITH_PREVIOUS) extend = cur.match && !prev_match && n > 0;
    if (behavior == TOK_SPLIT_CONTIGUOUS) extend = cur.match == prev_match && n > 0;
    if (extend) {
      part *last = &p->data[n - 1];
      last->len = cur.off + cur.len - last->off;
    } else {
      bool removed = behavior == TOK_SPLIT_REMOVED && cur.match;
      p->data[n++] = (part){cur.off, cur.len, removed};
    }
    prev_match = cur.match;
  }
  p->len = n;
}

static ttt_status split_step(const tok_pre *step, const char *text, const tok_spans *in,
                             pcre2_match_data *md, parts *tmp, tok_spans *out) {
  for (size_t k = 0; k < in->len; k++) {
    ttt_status st = find_parts(step->re, text, in->data[k].off, in->data[k].len, md, tmp);
    if (st) return st;
    if (step->invert)
      for (size_t i = 0; i < tmp->len; i++) tmp->data[i].match = !tmp->data[i].match;
    apply_behavior(tmp, step->behavior);
    for (size_t i = 0; i < tmp->len; i++) {
      /* after apply_behavior, `match` flags parts to remove */
      if (tmp->data[i].match || tmp->data[i].len == 0) continue;
      st = tok_spans_push(out, tmp->data[i].off, tmp->data[i].len);
      if (st) return st;
    }
  }
  return TTT_OK;
}

/* Appends the ByteLevel characters of bytes s[0..n) to out as one new span. */
static ttt_status emit_byte_level(const tok_byte_level *bl, const char *s, size_t n, tok_buf *out,
                                  tok_spans *spans) {
  if (n == 0) return TTT_OK;
  ttt_status st = tok_buf_reserve(out, 2 * n);
  if (st) return st;
  size_t off = out->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char b = (unsigned char)s[i];
    memcpy(out->data + out->len, bl->enc[b], bl->enc_len[b]);
    out->len += bl->enc_len[b];
  }
  return tok_spans_push(spans, off, out->len - off);
}

static ttt_status byte_level_step(const tok_pre *step, const tok_byte_level *bl, const char *text,
                                  const tok_spans *in, tok_pre_scratch *s, parts *tmp,
                                  tok_buf *out_text, tok_spans *out) {
  for (size_t k = 0; k < in->len; k++) {
    const char *piece = text + in->data[k].off;
    size_t len = in->data[k].len;
    if (step->add_prefix_space && (len == 0 || piece[0] != ' ')) {
      s->tmp.len = 0;
      ttt_status st = tok_buf_push(&s->tmp, ' ');
      if (!st) st = tok_buf_append(&s->tmp, piece, len);
      if (st) return st;
      piece = s->tmp.data;
      len = s->tmp.len;
    }
    if (!step->re) {
      ttt_status st = emit_byte_level(bl, piece, len, out_text, out);
      if (st) return st;
      continue;
    }
    ttt_status st = find_parts(step->re, piece, 0, len, s->md, tmp);
    for (size_t i = 0; i < tmp->len && !st; i++)
      st = emit_byte_level(bl, piece + tmp->data[i].off, tmp->data[i].len, out_text, out);
    if (st) return st;
  }
  return TTT_OK;
}

/* Metaspace: spaces become the replacement character, which is prepended per the scheme; with
 * `split`, every replacement character starts a new piece. */
static ttt_status metaspace_step(const tok_pre *step, const char *text, const tok_spans *in,
                                 bool at_start, tok_buf *out_text, tok_spans *out) {
  const char *rep = step->replacement;
  size_t rl = step->replacement_len;
  for (size_t k = 0; k < in->len; k++) {
    const char *piece = text + in->data[k].off;
    size_t len = in->data[k].len, begin = out_text->len;
    bool starts = (len > 0 && piece[0] == ' ') || (len >= rl && memcmp(piece, rep, rl) == 0);
    bool prepend = step->prepend_scheme == TOK_PREPEND_ALWAYS ||
                   (step->prepend_scheme == TOK_PREPEND_FIRST && at_start && k == 0);
    ttt_status st = prepend && !starts ? tok_buf_append(out_text, rep, rl) : TTT_OK;
    for (size_t i = 0; i < len && !st; i++)
      st = piece[i] == ' ' ? tok_buf_append(out_text, rep, rl) : tok_buf_push(out_text, piece[i]);
    if (st) return st;
    if (!step->split) {
      if (out_text->len > begin) st = tok_spans_push(out, begin, out_text->len - begin);
      if (st) return st;
      continue;
    }
    size_t start = begin;
    for (size_t i = begin + 1; i + rl <= out_text->len && !st; i++) {
      if (memcmp(out_text->data + i, rep, rl) != 0) continue;
      st = tok_spans_push(out, start, i - start);
      start = i;
    }
    if (!st && out_text->len > start) st = tok_spans_push(out, start, out_text->len - start);
    if (st) return st;
  }
  return TTT_OK;
}

ttt_status tok_pretokenize(const ttt_tokenizer *t, const char *text, size_t len, bool at_start,
                           tok_pre_scratch *s, const tok_buf **out_text,
                           const tok_spans **out_spans) {
  int cur = 0;
  s->text[0].len = s->spans[0].len = 0;
  ttt_status st = tok_buf_append(&s->text[0], text, len);
  if (!st && len > 0) st = tok_spans_push(&s->spans[0], 0, len);
  if (!st && !s->md) {
    s->md = pcre2_match_data_create(1, NULL);
    if (!s->md) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  }
  parts tmp = {0};
  for (size_t i = 0; i < t->n_pres && !st; i++) {
    const tok_pre *step = &t->pres[i];
    int nxt = 1 - cur;
    s->spans[nxt].len = 0;
    if (step->kind == TOK_PRE_SPLIT || step->kind == TOK_PRE_BERT ||
        step->kind == TOK_PRE_WHITESPACE_SPLIT) {
      if (step->kind == TOK_PRE_SPLIT)
        st = split_step(step, s->text[cur].data, &s->spans[cur], s->md, &tmp, &s->spans[nxt]);
      else
        st = tok_pretokenize_ext(step, s->text[cur].data, &s->spans[cur], &s->spans[nxt]);
      /* the text is unchanged: move it along with the spans */
      tok_buf swap = s->text[cur];
      s->text[cur] = s->text[nxt];
      s->text[nxt] = swap;
    } else {
      s->text[nxt].len = 0;
      if (step->kind == TOK_PRE_BYTE_LEVEL)
        st = byte_level_step(step, &t->byte_level, s->text[cur].data, &s->spans[cur], s, &tmp,
                             &s->text[nxt], &s->spans[nxt]);
      else
        st = metaspace_step(step, s->text[cur].data, &s->spans[cur], at_start, &s->text[nxt],
                            &s->spans[nxt]);
    }
    cur = nxt;
  }
  free(tmp.data);
  if (st) return st;
  *out_text = &s->text[cur];
  *out_spans = &s->spans[cur];
  return TTT_OK;
}

void tok_pre_scratch_free(tok_pre_scratch *s) {
  for (int i = 0; i < 2; i++) {
    tok_buf_free(&s->text[i]);
    free(s->spans[i].data);
  }
  tok_buf_free(&s->tmp);
  pcre2_match_data_free(s->md);
  *s = (tok_pre_scratch){0};
}
