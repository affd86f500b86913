/*
 * attention_internal.h — internals shared by attention.c, kv_cache.c and rope.c (not installed).
 *
 * KV cache storage of one layer: keys and values each [n_kv_heads][slots][head_dim] in the cache
 * dtype (f32 or bf16). A full layer has slots = max_positions and keeps position p in slot p; a
 * sliding-window layer has slots = min(window, max_positions) and keeps position p in slot
 * p mod slots, so only the last `slots` positions survive.
 */
#ifndef TTT_ATTENTION_INTERNAL_H
#define TTT_ATTENTION_INTERNAL_H

#include <ttt.h>

typedef struct ttt_kv_layer {
  ttt_dtype dtype; /* f32 or bf16 */
  int64_t n_kv_heads;
  int64_t head_dim;
  int64_t slots;  /* rows per kv head */
  int64_t length; /* positions written so far */
  bool latent;    /* MLA: k holds one row per position ([1][slots][head_dim]); v is NULL */
  void *k, *v;    /* [n_kv_heads][slots][head_dim] */
} ttt_kv_layer;

/* The storage of `layer` (NULL if out of range). */
ttt_kv_layer *ttt_kv_cache_layer(ttt_kv_cache *cache, int64_t layer);

/* Slot of position `pos` in a layer (pos mod slots: identity for full layers since pos < slots). */
static inline int64_t ttt_kv_slot(const ttt_kv_layer *l, int64_t pos) { return pos % l->slots; }

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

#endif
