/* paged_kv_internal.h — what the paged forwards need from the pool (not installed). */
#ifndef TTT_PAGED_KV_INTERNAL_H
#define TTT_PAGED_KV_INTERNAL_H

#include "attention_internal.h"

/* Makes room for n writes: sequence seqs[i] will write positions [starts[i], starts[i] +
 * counts[i]) in every layer. Checks that each id is live and distinct, starts[i] equals its length
 * and the end stays within max_positions (TTT_ERR_CAPACITY), releases the blocks of windowed layers
 * that no query from starts[i] on can see, then takes the blocks the writes need from the free
 * list. When they are not all free: TTT_ERR_CAPACITY and no block is taken. */
ttt_status ttt_paged_kv_reserve(ttt_paged_kv *pool, const int32_t *seqs, const int64_t *starts,
                                const int64_t *counts, int64_t n);

/* The layer view of a live sequence (reads and ttt_kv_cache_append go through it); NULL when the
 * id or layer is invalid. */
ttt_kv_layer *ttt_paged_kv_layer(ttt_paged_kv *pool, int32_t seq, int64_t layer);

#endif
