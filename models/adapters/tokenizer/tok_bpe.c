/*
 * tok_bpe.c — the BPE model on one pre-tokenized piece.
 *
 * The piece starts as one symbol per character (or per byte via "<0xNN>" with byte_fallback, or the
 * unknown token). Candidate merges of adjacent symbols sit in a binary min-heap ordered by (merge
 * rank, position), exactly HuggingFace's order; a popped candidate is stale when its left symbol
 * was merged away or its right neighbour changed, which is checked against the pair map. Symbols
 * form a doubly linked list over an array, so each merge is O(log n).
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

static ttt_status ensure_symbols(tok_bpe_scratch *s, size_t n) {
  if (n <= s->symbols_cap) return TTT_OK;
  size_t cap = s->symbols_cap ? s->symbols_cap : 64;
  while (cap < n) cap *= 2; /* doubling keeps a long piece linear */
  tok_bpe_symbol *p = realloc(s->symbols, cap * sizeof *p);
  if (!p) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
  s->symbols = p;
  s->symbols_cap = cap;
  return TTT_OK;
}

static bool cand_less(tok_bpe_candidate a, tok_bpe_candidate b) {
  return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
}

static ttt_status heap_push(tok_bpe_scratch *s, tok_bpe_candidate c) {
  if (s->heap_len == s->heap_cap) {
    size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
    tok_bpe_candidate *p = realloc(s->heap, cap * sizeof *p);
    if (!p) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    s->heap = p;
    s->heap_cap = cap;
  }
  size_t i = s->heap_len++;
  while (i > 0 && cand_less(c, s->heap[(i - 1) / 2])) {
    s->heap[i] = s->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  s->heap[i] = c;
  return TTT_OK;
}

static tok_bpe_candidate heap_pop(tok_bpe_scratch *s) {
  tok_bpe_candidate top = s->heap[0], last = s->heap[--s->heap_len];
  size_t i = 0, n = s->heap_len;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && cand_less(s->heap[c + 1], s->heap[c])) c++;
    if (!cand_less(s->heap[c], last)) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n) s->heap[i] = last;
  return top;
}

static ttt_status push_pair(const ttt_tokenizer *t, tok_bpe_scratch *s, int32_t pos) {
  const tok_bpe_symbol *a = &s->symbols[pos];
  if (a->next < 0) return TTT_OK;
  const tok_pair_slot *m = tok_pair_map_get(&t->merges, a->id, s->symbols[a->next].id);
  if (!m) return TTT_OK;
  return heap_push(s, (tok_bpe_candidate){m->rank, pos, m->merged});
}

static ttt_status add_symbol(tok_bpe_scratch *s, size_t *n, int32_t id, int32_t len) {
  ttt_status st = ensure_symbols(s, *n + 1);
  if (st) return st;
  int32_t i = (int32_t)*n;
  s->symbols[i] = (tok_bpe_symbol){id, i - 1, -1, len};
  if (i > 0) s->symbols[i - 1].next = i;
  (*n)++;
  return TTT_OK;
}

static bool all_bytes_known(const ttt_tokenizer *t, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (t->byte_ids[(unsigned char)p[i]] < 0) return false;
  return true;
}

/* Initial symbols. An unknown character becomes its "<0xNN>" byte tokens when byte_fallback has
 * them all, else the unknown token (consecutive ones fused with fuse_unk), else it is dropped, as
 * HuggingFace does when the model has no unk_token. */
static ttt_status initial_symbols(const ttt_tokenizer *t, const char *p, size_t len,
                                  tok_bpe_scratch *s, size_t *n) {
  *n = 0;
  bool prev_unk = false;
  for (size_t i = 0; i < len;) {
    size_t cl = tok_utf8_char_len((unsigned char)p[i]);
    if (cl > len - i) cl = len - i;
    int64_t id;
    ttt_status st = TTT_OK;
    bool unk = false;
    if (tok_map_get(&t->vocab, p + i, cl, &id)) {
      st = add_symbol(s, n, (int32_t)id, (int32_t)cl);
    } else if (t->byte_fallback && all_bytes_known(t, p + i, cl)) {
      for (size_t k = 0; k < cl && !st; k++)
        st = add_symbol(s, n, t->byte_ids[(unsigned char)p[i + k]], 1);
    } else if (t->unk_id >= 0) {
      unk = true;
      if (prev_unk && t->fuse_unk)
        s->symbols[*n - 1].len += (int32_t)cl;
      else
        st = add_symbol(s, n, t->unk_id, (int32_t)cl);
    }
    if (st) return st;
    prev_unk = unk;
    i += cl;
  }
  return TTT_OK;
}

static ttt_status merge_all(const ttt_tokenizer *t, tok_bpe_scratch *s, size_t n) {
  s->heap_len = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    ttt_status st = push_pair(t, s, (int32_t)i);
    if (st) return st;
  }
  while (s->heap_len > 0) {
    tok_bpe_candidate c = heap_pop(s);
    tok_bpe_symbol *a = &s->symbols[c.pos];
    if (a->len == 0 || a->next < 0) continue;
    tok_bpe_symbol *b = &s->symbols[a->next];
    const tok_pair_slot *m = tok_pair_map_get(&t->merges, a->id, b->id);
    if (!m || m->merged != c.merged) continue; /* stale: a neighbour changed since the push */
    a->id = c.merged;
    a->len += b->len;
    b->len = 0;
    a->next = b->next;
    if (b->next >= 0) s->symbols[b->next].prev = c.pos;
    ttt_status st = a->prev >= 0 ? push_pair(t, s, a->prev) : TTT_OK;
    if (!st) st = push_pair(t, s, c.pos);
    if (st) return st;
  }
  return TTT_OK;
}

ttt_status tok_bpe_encode(const ttt_tokenizer *t, const char *piece, size_t len, tok_bpe_scratch *s,
                          tok_ids *out) {
  int64_t id;
  if (t->ignore_merges && tok_map_get(&t->vocab, piece, len, &id))
    return tok_ids_push(out, (int32_t)id);
  if (len > INT32_MAX)
    return ttt_set_error(TTT_ERR_CAPACITY, "tokenizer: a %zu-byte piece is too long for BPE", len);
  size_t n;
  ttt_status st = initial_symbols(t, piece, len, s, &n);
  if (!st) st = merge_all(t, s, n);
  for (int32_t i = n ? 0 : -1; i >= 0 && !st; i = s->symbols[i].next)
    st = tok_ids_push(out, s->symbols[i].id);
  return st;
}

void tok_bpe_scratch_free(tok_bpe_scratch *s) {
  free(s->symbols);
  free(s->heap);
  *s = (tok_bpe_scratch){0};
}
