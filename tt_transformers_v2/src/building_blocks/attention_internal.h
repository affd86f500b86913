/*
 * attention_internal.h — internals shared by attention.c, kv_cache.c and rope.c (not installed).
 *
 * KV cache storage of one layer: keys and values each [n_kv_heads][slots][head_dim] in the cache
 * dtype (f32 or bf16). A full layer has slots = max_positions and keeps position p in slot p; a
 * sliding-window layer has slots = min(window, max_positions) and keeps position p in slot
 * p mod slots, so only the last `slots` positions survive.
 * A paged layer (block_positions > 0, a view of one sequence in a ttt_paged_kv pool) keeps position
 * p in physical block blocks[p / block_positions]: k and v are then the pool's arenas, each block
 * block_bytes long and holding [n_kv_heads][block_positions][head_dim]. Readers and writers reach
 * a row through ttt_kv_row, which serves both layouts.
 */
#ifndef TTT_ATTENTION_INTERNAL_H
#define TTT_ATTENTION_INTERNAL_H

#include <ttt.h>

typedef struct ttt_kv_layer {
  ttt_dtype dtype; /* f32 or bf16 */
  int64_t n_kv_heads;
  int64_t head_dim;
  int64_t slots;           /* rows per kv head */
  int64_t length;          /* positions written so far */
  bool latent;             /* MLA: k holds one row per position ([1][slots][head_dim]); v is NULL */
  void *k, *v;             /* [n_kv_heads][slots][head_dim]; paged: the pool's block arenas */
  int64_t block_positions; /* 0: contiguous (or ring) storage; > 0: paged */
  const int32_t *blocks;   /* paged: physical block of each logical block (p / block_positions) */
  size_t block_bytes;      /* paged: bytes of one block in k (and in v) */
} ttt_kv_layer;

/* The storage of `layer` (NULL if out of range). */
ttt_kv_layer *ttt_kv_cache_layer(ttt_kv_cache *cache, int64_t layer);

/* Slot of position `pos` in a layer (pos mod slots: identity for full layers since pos < slots). */
static inline int64_t ttt_kv_slot(const ttt_kv_layer *l, int64_t pos) { return pos % l->slots; }

/* Address of the key (value: true → value) row of kv head h at position pos, in the layer's dtype.
 * The position must be held (written and, paged, not released). */
static inline void *ttt_kv_row(const ttt_kv_layer *l, bool value, int64_t h, int64_t pos) {
  size_t row_bytes = (size_t)l->head_dim * (l->dtype == TTT_BF16 ? 2 : 4);
  uint8_t *base = value ? l->v : l->k;
  if (l->block_positions == 0)
    return base + (size_t)(h * l->slots + ttt_kv_slot(l, pos)) * row_bytes;
  int64_t block = l->blocks[pos / l->block_positions];
  return base + (size_t)block * l->block_bytes +
         (size_t)(h * l->block_positions + pos % l->block_positions) * row_bytes;
}

/* Appends T positions [l->length, l->length + T): k and v are f32 rows of n_kv_heads·head_dim
 * values with row stride `ld` (v is ignored, may be NULL, for a latent layer). Converts to the cache dtype (bf16: round to nearest even). In a ring
 * only the last `slots` of the T positions are written (earlier ones would be overwritten anyway).
 * The caller has checked capacity (length + T <= max_positions). */
void ttt_kv_cache_append(ttt_kv_layer *l, const float *k, const float *v, int64_t T, int64_t ld);

/* Rotates the `heads` head vectors (each head_dim values, contiguous) of one token at `pos`.
 * pos must be in [0, max_positions). long_factors selects LONGROPE's long tables (ignored by the
 * other types). */
void ttt_rope_rotate_token(const ttt_rope *rope, float *x, int64_t heads, int64_t pos,
                           bool long_factors);

/* Whether a forward whose last position + 1 is `end` uses LONGROPE's long factors
 * (end > original_max_positions); false for every other type. */
bool ttt_rope_long_factors(const ttt_rope *rope, int64_t end);

/* One sequence of a multi-sequence cached forward: its rows are consecutive in x, at positions
 * [start, start + rows) with start == kv->length (room for them reserved by the caller). */
typedef struct ttt_attention_seq {
  ttt_kv_layer *kv;
  int64_t start, rows;
} ttt_attention_seq;

/* Cached attention of several sequences in one call (batched decode, paged prefill): the q/k/v
 * and output projections run once over all rows of x, the attention itself per sequence over its
 * own layer (the same kernel work as ttt_attention_{prefill,decode}_forward of that sequence alone,
 * so its rows are bit-identical to those when the projections are row-invariant), then each
 * sequence's keys and values are appended. x, out: [Σ rows, hidden] f32. */
/* Where a forward reports its inner modules: events "<path>.q_norm" and "<path>.k_norm" (input:
 * the projected q or k, output: the normalized one before RoPE, both [rows, heads, head_dim]).
 * NULL or an observer without fn: nothing is reported and nothing is copied. */
typedef struct ttt_attention_trace {
  const ttt_observer *observer;
  const char *path;
  ttt_mode mode;
  int64_t start_pos;
} ttt_attention_trace;

ttt_status ttt_attention_seqs_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                      const ttt_attention_impl_config *impl, ttt_mode mode,
                                      const ttt_attention_weights *weights, const ttt_rope *rope,
                                      const ttt_attention_seq *seqs, int64_t n_seqs,
                                      const ttt_tensor *x, ttt_tensor *out,
                                      const ttt_attention_trace *trace);

/* ttt_attention_prefill_forward (mode PREFILL) or ttt_attention_decode_forward (mode DECODE),
 * reporting the q/k norms to `trace` (may be NULL). */
ttt_status ttt_attention_cached_forward_traced(ttt_context *ctx, const ttt_attention_spec *spec,
                                               const ttt_attention_impl_config *impl, ttt_mode mode,
                                               const ttt_attention_weights *weights,
                                               const ttt_rope *rope, ttt_kv_cache *cache,
                                               int64_t layer, const ttt_tensor *x, int64_t start,
                                               ttt_tensor *out, const ttt_attention_trace *trace);

#endif
