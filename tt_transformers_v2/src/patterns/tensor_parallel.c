/*
 * Tensor-parallel plan of a CausalLM: which heads, intermediate columns and vocabulary rows each
 * rank holds (the rules are in patterns.h at ttt_tensor_parallel), and the rank's own spec, in
 * which every split module is an ordinary block with fewer heads, columns or rows.
 */
#include <string.h>

#include "patterns_internal.h"

/* Rank r's share [*begin, *begin + *count) of n units split over `size` ranks as evenly as
 * possible (counts differ by at most one). */
static void split(int64_t n, int32_t rank, int32_t size, int64_t *begin, int64_t *count) {
  *begin = n * rank / size;
  *count = n * (rank + 1) / size - *begin;
}

/* Query and kv heads of rank r (see patterns.h for the two cases and the refusal). */
static ttt_status plan_attention(const ttt_attention_spec *a, ttt_tensor_parallel tp, int64_t l,
                                 ttt_layer_shard *shard, ttt_attention_spec *local) {
  int64_t H = a->n_heads, K = a->n_kv_heads, group = H / K;
  int64_t kv0, nk, q0, nq;
  if (K >= tp.size) {
    split(K, tp.rank, tp.size, &kv0, &nk);
    q0 = kv0 * group;
    nq = nk * group;
  } else {
    int64_t per_head = tp.size / K; /* ranks sharing one kv head */
    if (tp.size % K != 0 || group % per_head != 0)
      return ttt_set_error(TTT_ERR_UNSUPPORTED,
                           "tensor parallelism over %d ranks: layers.%lld.attention has n_kv_heads "
                           "%lld < ranks, which needs ranks to be a multiple of n_kv_heads and "
                           "n_heads / n_kv_heads (%lld) a multiple of ranks / n_kv_heads",
                           (int)tp.size, (long long)l, (long long)K, (long long)group);
    kv0 = tp.rank / per_head;
    nk = 1;
    nq = group / per_head;
    q0 = kv0 * group + (tp.rank % per_head) * nq;
  }
  shard->attention = true;
  shard->q_head0 = q0;
  shard->kv_head0 = kv0;
  local->head_dim = ttt_attention_head_dim(a);
  local->n_heads = nq;
  local->n_kv_heads = nk;
  return TTT_OK;
}

/* Intermediate columns of rank r: in blocks of 32 (q8_0 blocks stay whole) when the width has at
 * least one per rank, else single columns. */
static ttt_status plan_intermediate(int64_t width, ttt_tensor_parallel tp, const char *what,
                                    int64_t l, int64_t *begin, int64_t *count) {
  bool blocks = width % TTT_Q8_0_BLOCK == 0 && width / TTT_Q8_0_BLOCK >= tp.size;
  int64_t unit = blocks ? TTT_Q8_0_BLOCK : 1;
  if (width < tp.size)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "tensor parallelism over %d ranks: layers.%lld.%s intermediate (%lld) "
                         "has fewer columns than ranks",
                         (int)tp.size, (long long)l, what, (long long)width);
  split(width / unit, tp.rank, tp.size, begin, count);
  *begin *= unit;
  *count *= unit;
  return TTT_OK;
}

static ttt_status plan_ffn(const ttt_ffn_spec *f, ttt_tensor_parallel tp, int64_t l,
                           ttt_layer_shard *shard, ttt_ffn_spec *local) {
  ttt_status st = TTT_OK;
  shard->ffn = true;
  if (f->kind == TTT_FFN_MLP)
    return plan_intermediate(f->mlp.intermediate, tp, "ffn", l, &shard->ffn0,
                             &local->mlp.intermediate);
  st = plan_intermediate(f->moe.expert.intermediate, tp, "ffn.experts", l, &shard->ffn0,
                         &local->moe.expert.intermediate);
  if (st == TTT_OK && f->moe.shared_expert)
    st = plan_intermediate(f->moe.shared.intermediate, tp, "ffn.shared", l, &shard->shared0,
                           &local->moe.shared.intermediate);
  return st;
}

ttt_status ttt_causal_lm_shard_plan(const ttt_causal_lm_spec *full, ttt_tensor_parallel tp,
                                    ttt_causal_lm_spec *local, ttt_lm_shard *shard) {
  memset(shard, 0, sizeof *shard);
  *local = *full;
  if (tp.size <= 1) {
    shard->size = 1;
    return TTT_OK;
  }
  if (tp.rank < 0 || tp.rank >= tp.size)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "tensor parallelism: rank %d is not in [0, size %d)", (int)tp.rank,
                         (int)tp.size);
  if (tp.reduce_dtype != TTT_DTYPE_DEFAULT && tp.reduce_dtype != TTT_F32 &&
      tp.reduce_dtype != TTT_BF16)
    return ttt_set_error(TTT_ERR_DTYPE, "tensor parallelism: reduce_dtype %s is not f32 or bf16",
                         ttt_dtype_name(tp.reduce_dtype));
  shard->rank = tp.rank;
  shard->size = tp.size;
  if (full->embedding.vocab < tp.size || full->lm_head.vocab < tp.size)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "tensor parallelism over %d ranks: vocab (%lld) has fewer rows than ranks",
                         (int)tp.size, (long long)full->embedding.vocab);
  split(full->embedding.vocab, tp.rank, tp.size, &shard->embedding0, &local->embedding.vocab);
  split(full->lm_head.vocab, tp.rank, tp.size, &shard->lm_head0, &local->lm_head.vocab);
  ttt_status st = TTT_OK;
  for (int64_t l = 0; st == TTT_OK && l < full->n_layers; l++) {
    const ttt_decoder_layer_spec *layer = &full->layers[l];
    /* MLA and a q/k norm over all heads of a token stay whole on every rank */
    bool replicated = layer->attention_kind == TTT_ATTENTION_KIND_MLA ||
                      layer->attention.qk_norm == TTT_QK_NORM_ALL;
    if (!replicated)
      st = plan_attention(&layer->attention, tp, l, &shard->layers[l], &local->layers[l].attention);
    if (st == TTT_OK) st = plan_ffn(&layer->ffn, tp, l, &shard->layers[l], &local->layers[l].ffn);
  }
  return st;
}

int64_t ttt_lm_shard_rows(int64_t n, int32_t rank, int32_t size, int64_t *begin) {
  int64_t count = n;
  *begin = 0;
  if (size > 1) split(n, rank, size, begin, &count);
  return count;
}
