/* patterns_internal.h — helpers shared by the patterns (not installed). */
#ifndef TTT_PATTERNS_INTERNAL_H
#define TTT_PATTERNS_INTERNAL_H

#include <ttt.h>

#include "building_blocks/attention_internal.h"
#include "building_blocks/block_util.h" /* ttt_observe */

ttt_status ttt_ffn_spec_validate(const ttt_ffn_spec *spec);
ttt_ffn_impl_config ttt_ffn_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                const ttt_ffn_spec *spec);
ttt_status ttt_ffn_forward(ttt_context *ctx, const ttt_ffn_spec *spec,
                           const ttt_ffn_impl_config *impl, const ttt_ffn_weights *weights,
                           const ttt_tensor *x, ttt_tensor *out);

/* The layer's hidden size: mla.hidden for MLA layers, attention.hidden otherwise. */
static inline int64_t ttt_decoder_layer_hidden(const ttt_decoder_layer_spec *spec) {
  return spec->attention_kind == TTT_ATTENTION_KIND_MLA ? spec->mla.hidden : spec->attention.hidden;
}

/* The layer's rope spec (mla.rope for MLA layers). */
static inline const ttt_rope_spec *ttt_decoder_layer_rope(const ttt_decoder_layer_spec *spec) {
  return spec->attention_kind == TTT_ATTENTION_KIND_MLA ? &spec->mla.rope : &spec->attention.rope;
}

/* ---- tensor parallelism (tensor_parallel.c; rules in patterns.h at ttt_tensor_parallel) ---- */

/* What one rank holds of a layer. */
typedef struct ttt_layer_shard {
  bool attention;            /* heads split: the attention output is a partial sum */
  int64_t q_head0, kv_head0; /* the rank's first query and kv heads (global indices) */
  bool ffn;                  /* intermediate split: the ffn output is a partial sum */
  int64_t ffn0, shared0; /* first intermediate column (MoE: of each routed / the shared expert) */
  int64_t expert0, n_experts; /* MoE split by experts: the rank's range (n_experts 0: by columns) */
} ttt_layer_shard;

typedef struct ttt_lm_shard {
  int32_t rank, size;           /* size 1: nothing is split (the other fields are 0) */
  int64_t embedding0, lm_head0; /* first vocabulary rows of the embedding and the LM head */
  ttt_layer_shard layers[TTT_MAX_LAYERS];
} ttt_lm_shard;

/* The rank's plan and its own spec (`full` with each split module's heads, intermediate and vocab
 * reduced to the rank's share; head_dim made explicit). tp.size <= 1: local = full. Refusals
 * (TTT_ERR_UNSUPPORTED) name the layer and fields. */
ttt_status ttt_causal_lm_shard_plan(const ttt_causal_lm_spec *full, ttt_tensor_parallel tp,
                                    ttt_causal_lm_spec *local, ttt_lm_shard *shard);
/* Rows [*begin, *begin + count) of n that `rank` of `size` holds (the vocabulary split). */
int64_t ttt_lm_shard_rows(int64_t n, int32_t rank, int32_t size, int64_t *begin);

/* The all-reduces of a tensor-parallel decoder layer: after the attention and/or after the
 * feed-forward, whose outputs are then partial sums over comm's ranks. A split attention's q/k
 * norm events are gathered over the ranks (placed by each rank's first query / kv head), so an
 * observer sees the whole layer's heads; every rank must then observe. */
typedef struct ttt_layer_parallel {
  ttt_comm *comm;
  bool attention, ffn;
  int64_t q_head0, kv_head0;
  bool bf16; /* reduce as gathered bf16 partials (ttt_tensor_parallel.reduce_dtype) */
} ttt_layer_parallel;

/* out ← the sum of every rank's out, in tp->bf16 or f32 (see ttt_tensor_parallel.reduce_dtype). */
ttt_status ttt_layer_parallel_reduce(ttt_context *ctx, const ttt_layer_parallel *tp,
                                     ttt_tensor *out);

/* An observer (user: a ttt_head_gather) that passes a split attention's q/k norm events on to
 * `inner` with the heads of every rank. Every rank must run it (collectives); an observer cannot
 * report errors, so an event whose gather fails is dropped. */
typedef struct ttt_head_gather {
  const ttt_observer *inner;
  ttt_comm *comm;
  int64_t q_head0, kv_head0; /* this rank's first heads */
} ttt_head_gather;
void ttt_head_gather_event(void *user, const ttt_module_event *event);

/* ttt_decoder_layer_forward with the all-reduces of `tp` (NULL: none). */
ttt_status ttt_decoder_layer_parallel_forward(
    ttt_context *ctx, ttt_mode mode, const ttt_decoder_layer_spec *spec,
    const ttt_decoder_layer_impl_config *impl, const ttt_decoder_layer_weights *weights,
    const ttt_rope *rope, ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
    int64_t start_pos, ttt_tensor *out, const char *path, const ttt_observer *observer,
    const ttt_layer_parallel *tp);

/* A decoder layer over the rows of several sequences (see ttt_attention_seqs_forward): x and out
 * are [Σ rows, hidden]; norms, feed-forward and residual adds run over all rows at once, attention
 * per sequence. Observer events carry all rows, with start_pos = seqs[0].start. tp as in
 * ttt_decoder_layer_parallel_forward. */
ttt_status ttt_decoder_layer_seqs_forward(
    ttt_context *ctx, ttt_mode mode, const ttt_decoder_layer_spec *spec,
    const ttt_decoder_layer_impl_config *impl, const ttt_decoder_layer_weights *weights,
    const ttt_rope *rope, const ttt_attention_seq *seqs, int64_t n_seqs, const ttt_tensor *x,
    ttt_tensor *out, const char *path, const ttt_observer *observer, const ttt_layer_parallel *tp);

#endif
