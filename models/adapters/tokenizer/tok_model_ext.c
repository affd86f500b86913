/*
 * tok_model_ext.c — the WordPiece and Unigram models on one pre-tokenized piece, exactly as
 * HuggingFace `tokenizers` runs them.
 *
 * WordPiece: greedy longest match from the left; every piece after the first is looked up with the
 * continuing-subword prefix ("##"). A word longer than max_input_chars_per_word characters, or one
 * with a part that matches nothing, becomes a single unknown token.
 *
 * Unigram: Viterbi over the piece log-probabilities (summed in double). At each end position the
 * best path wins; an exact tie keeps the candidate found first, i.e. the one with the earliest
 * start. A character no piece starts with costs the lowest score minus 10; consecutive unknown
 * characters are fused into one unknown piece, which becomes its "<0xNN>" byte tokens with
 * byte_fallback (when all exist) or the unknown id.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

static ttt_status missing_unk(const char *piece, size_t len) {
  return ttt_set_error(TTT_ERR_FORMAT,
                       "tokenizer: \"%.*s\" needs the unknown token, but the model has none in its "
                       "vocabulary (model.unk_token / model.unk_id)",
                       (int)(len > 64 ? 64 : len), piece);
}

/* ---- WordPiece --------------------------------------------------------------------------------
 */

static size_t count_chars(const char *s, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
  return chars;
}

static ttt_status wordpiece_encode(const ttt_tokenizer *t, const char *piece, size_t len,
                                   tok_model_scratch *s, tok_ids *out) {
  const tok_wordpiece *wp = &t->wordpiece;
  int64_t first = out->len;
  bool unknown = count_chars(piece, len) > (size_t)wp->max_chars;
  for (size_t start = 0; start < len && !unknown;) {
    int32_t id = -1;
    /* start with the longest candidate that fits in the longest token (a character boundary) */
    size_t prefix = start > 0 ? wp->prefix_len : 0, end = len;
    size_t budget = wp->longest_token > prefix ? wp->longest_token - prefix : 0;
    if (end - start > budget) {
      end = start + budget;
      while (end > start && ((unsigned char)piece[end] & 0xC0) == 0x80) end--;
    }
    while (end > start) {
      s->word.len = 0;
      ttt_status st = start > 0 ? tok_buf_append(&s->word, wp->prefix, wp->prefix_len) : TTT_OK;
      if (!st) st = tok_buf_append(&s->word, piece + start, end - start);
      if (st) return st;
      int64_t v;
      if (tok_map_get(&t->vocab, s->word.data, s->word.len, &v)) {
        id = (int32_t)v;
        break;
      }
      do end--; /* back to the start of the last character */
      while (end > start && ((unsigned char)piece[end] & 0xC0) == 0x80);
    }
    if (id < 0) {
      unknown = true;
      break;
    }
    ttt_status st = tok_ids_push(out, id);
    if (st) return st;
    start = end;
  }
  if (!unknown) return TTT_OK;
  out->len = first;
  if (t->unk_id < 0) return missing_unk(piece, len);
  return tok_ids_push(out, t->unk_id);
}

/* ---- Unigram ----------------------------------------------------------------------------------
 */

static ttt_status ensure_lattice(tok_model_scratch *s, size_t n) {
  if (n <= s->cap) return TTT_OK;
  size_t cap = s->cap ? s->cap : 64;
  while (cap < n) cap *= 2;
  double *best = realloc(s->best, cap * sizeof *best);
  if (best) s->best = best;
  int64_t *from = best ? realloc(s->from, cap * sizeof *from) : NULL;
  if (from) s->from = from;
  int64_t *id = from ? realloc(s->id, cap * sizeof *id) : NULL;
  if (!id) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  s->id = id;
  s->cap = cap;
  return TTT_OK;
}

/* Offers the path "best path to `start`, then piece `id`" for the position `end`. */
static void relax(tok_model_scratch *s, size_t start, size_t end, int64_t id, double score) {
  double candidate = s->best[start] + score;
  if (s->from[end] >= 0 && !(candidate > s->best[end])) return;
  s->best[end] = candidate;
  s->from[end] = (int64_t)start;
  s->id[end] = id;
}

/* Fills the lattice: s->from[end] / s->id[end] describe the best path's last piece. */
static ttt_status viterbi(const ttt_tokenizer *t, const char *piece, size_t len,
                          tok_model_scratch *s) {
  const tok_unigram *u = &t->unigram;
  ttt_status st = ensure_lattice(s, len + 1);
  if (st) return st;
  for (size_t i = 0; i <= len; i++) s->from[i] = -1;
  s->best[0] = 0;
  s->from[0] = 0;
  for (size_t start = 0; start < len;) {
    size_t char_len = tok_utf8_char_len((unsigned char)piece[start]);
    bool single = false;
    int32_t node = 0;
    for (size_t end = start; end < len; end++) {
      const tok_pair_slot *e = tok_pair_map_get(&u->trie, node, (unsigned char)piece[end]);
      if (!e) break;
      node = e->rank;
      if (e->merged < 0) continue;
      relax(s, start, end + 1, e->merged, u->scores[e->merged]);
      single |= end + 1 - start == char_len;
    }
    if (!single) {
      if (t->unk_id < 0) return missing_unk(piece + start, char_len);
      relax(s, start, start + char_len, t->unk_id, u->unk_score);
    }
    start += char_len;
  }
  return TTT_OK;
}

/* One piece of the best path (or a run of fused unknown pieces) to ids. */
static ttt_status emit_piece(const ttt_tokenizer *t, const char *p, size_t n, tok_ids *out) {
  int64_t v;
  if (tok_map_get(&t->vocab, p, n, &v)) return tok_ids_push(out, (int32_t)v);
  bool bytes = t->byte_fallback;
  for (size_t i = 0; i < n && bytes; i++) bytes = t->byte_ids[(unsigned char)p[i]] >= 0;
  if (!bytes) return tok_ids_push(out, t->unk_id);
  ttt_status st = TTT_OK;
  for (size_t i = 0; i < n && !st; i++) st = tok_ids_push(out, t->byte_ids[(unsigned char)p[i]]);
  return st;
}

static ttt_status unigram_encode(const ttt_tokenizer *t, const char *piece, size_t len,
                                 tok_model_scratch *s, tok_ids *out) {
  ttt_status st = viterbi(t, piece, len, s);
  /* the best path's piece ends, last first */
  s->cuts.len = 0;
  for (size_t end = len; end > 0 && !st; end = (size_t)s->from[end])
    st = tok_ids_push(&s->cuts, (int32_t)end);
  size_t start = 0;
  for (int64_t k = s->cuts.len - 1; k >= 0 && !st; k--) {
    size_t end = (size_t)s->cuts.data[k];
    if (s->id[end] == t->unk_id) /* fuse the following unknown pieces into this one */
      while (k > 0 && s->id[s->cuts.data[k - 1]] == t->unk_id) end = (size_t)s->cuts.data[--k];
    st = emit_piece(t, piece + start, end - start, out);
    start = end;
  }
  return st;
}

ttt_status tok_model_ext_encode(const ttt_tokenizer *t, const char *piece, size_t len,
                                tok_model_scratch *s, tok_ids *out) {
  if (len > INT32_MAX)
    return ttt_set_error(TTT_ERR_CAPACITY, "tokenizer: a %zu-byte piece is too long", len);
  if (t->model == TOK_MODEL_WORDPIECE) return wordpiece_encode(t, piece, len, s, out);
  return unigram_encode(t, piece, len, s, out);
}

void tok_model_scratch_free(tok_model_scratch *s) {
  tok_buf_free(&s->word);
  free(s->best);
  free(s->from);
  free(s->id);
  free(s->cuts.data);
  *s = (tok_model_scratch){0};
}
