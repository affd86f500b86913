/*
 * Tensor-parallel plan of a CausalLM: which heads, intermediate columns and vocabulary rows each
 * rank holds (the rules are in patterns.h at ttt_tensor_parallel), and the rank's own spec, in
 * which every split module is an ordinary block with fewer heads, columns or rows; and the
 * collectives of a split decoder layer (its all-reduces, its q/k norm events gathered over ranks).
 */
#include <stdlib.h>
#include <string.h>

#include "patterns_internal.h"
#include "runtime/runtime.h"

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
  if (tp.moe_split == TTT_MOE_SPLIT_EXPERTS) {
    if (f->moe.n_experts < tp.size)
      return ttt_set_error(TTT_ERR_UNSUPPORTED,
                           "tensor parallelism over %d ranks: layers.%lld.ffn has n_experts %lld, "
                           "fewer than ranks (tp.moe_split=experts)",
                           (int)tp.size, (long long)l, (long long)f->moe.n_experts);
    split(f->moe.n_experts, tp.rank, tp.size, &shard->expert0, &shard->n_experts);
  } else {
    st = plan_intermediate(f->moe.expert.intermediate, tp, "ffn.experts", l, &shard->ffn0,
                           &local->moe.expert.intermediate);
  }
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
  if ((unsigned)tp.moe_split > TTT_MOE_SPLIT_EXPERTS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "tensor parallelism: moe_split %d is neither columns nor experts",
                         (int)tp.moe_split);
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

/* ---- collectives of a split decoder layer ---- */

/* out ← Σ over ranks of the bf16-rounded partials, added in f32 in rank order (every rank computes
 * the same sum from the same gathered values). */
static ttt_status all_reduce_bf16(ttt_context *ctx, ttt_comm *comm, ttt_tensor *out) {
  int32_t size = ttt_comm_size(comm);
  int64_t n = ttt_tensor_numel(out);
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  uint16_t *mine = ttt_scratch_alloc(ctx, (size_t)n * sizeof *mine);
  uint16_t *all = ttt_scratch_alloc(ctx, (size_t)(n * size) * sizeof *all);
  int64_t *bytes = ttt_scratch_alloc(ctx, (size_t)size * sizeof *bytes);
  if (!mine || !all || !bytes) {
    ttt_scratch_restore(ctx, mark);
    return TTT_ERR_OUT_OF_MEMORY;
  }
  float *x = out->data;
  for (int64_t i = 0; i < n; i++) mine[i] = ttt_f32_to_bf16(x[i]);
  for (int32_t k = 0; k < size; k++) bytes[k] = n * (int64_t)sizeof *mine;
  ttt_status st = ttt_comm_all_gather(comm, mine, all, bytes);
  for (int64_t i = 0; st == TTT_OK && i < n; i++) {
    float sum = 0;
    for (int32_t k = 0; k < size; k++) sum += ttt_bf16_to_f32(all[k * n + i]);
    x[i] = sum;
  }
  ttt_scratch_restore(ctx, mark);
  return st;
}

ttt_status ttt_layer_parallel_reduce(ttt_context *ctx, const ttt_layer_parallel *tp,
                                     ttt_tensor *out) {
  if (tp->bf16) return all_reduce_bf16(ctx, tp->comm, out);
  return ttt_comm_all_reduce_sum_f32(tp->comm, out->data, ttt_tensor_numel(out));
}

/* ---- q/k norm events of a split attention ---- */

/* Every rank's [rows, its heads, head_dim] block of `local` (whose first head is head0) placed at
 * its heads in a malloc'd [rows, all heads, head_dim]; ranks holding the same (replicated) kv head
 * write equal values. NULL when out of memory or a collective fails (a rank out of memory skips
 * the second gather, which the others then wait for: this path serves observed debug runs). */
static float *gather_heads(ttt_comm *comm, const ttt_tensor *local, int64_t head0,
                           int64_t *all_heads) {
  int32_t size = ttt_comm_size(comm);
  int64_t rows = local->shape[0], n = local->shape[1], hd = local->shape[2];
  int64_t mine[2] = {head0, n}, *placed = malloc((size_t)size * 3 * sizeof *placed);
  if (!placed) return NULL;
  int64_t *bytes = placed + 2 * size, total_bytes = 0;
  for (int32_t r = 0; r < size; r++) bytes[r] = sizeof mine;
  float *blocks = NULL, *full = NULL;
  if (ttt_comm_all_gather(comm, mine, placed, bytes) != TTT_OK) goto done;
  *all_heads = 0;
  for (int32_t r = 0; r < size; r++) {
    int64_t end = placed[2 * r] + placed[2 * r + 1];
    if (end > *all_heads) *all_heads = end;
    bytes[r] = rows * placed[2 * r + 1] * hd * (int64_t)sizeof(float);
    total_bytes += bytes[r];
  }
  blocks = malloc((size_t)total_bytes);
  full = blocks ? malloc((size_t)(rows * *all_heads * hd) * sizeof *full) : NULL;
  if (!full || ttt_comm_all_gather(comm, local->data, blocks, bytes) != TTT_OK) {
    free(full);
    full = NULL;
    goto done;
  }
  const float *block = blocks;
  for (int32_t r = 0; r < size; r++) {
    int64_t first = placed[2 * r], count = placed[2 * r + 1];
    for (int64_t t = 0; t < rows; t++)
      memcpy(full + (t * *all_heads + first) * hd, block + t * count * hd,
             (size_t)(count * hd) * sizeof *full);
    block += rows * count * hd;
  }
done:
  free(blocks);
  free(placed);
  return full;
}

void ttt_head_gather_event(void *user, const ttt_module_event *event) {
  const ttt_head_gather *g = user;
  size_t len = strlen(event->path);
  bool keys = len >= 6 && strcmp(event->path + len - 6, "k_norm") == 0;
  int64_t head0 = keys ? g->kv_head0 : g->q_head0, heads = 0;
  float *in = gather_heads(g->comm, event->input, head0, &heads);
  float *out = gather_heads(g->comm, event->output, head0, &heads);
  if (in && out) {
    int64_t shape[3] = {event->output->shape[0], heads, event->output->shape[2]};
    ttt_tensor in_t = ttt_tensor_view(TTT_F32, in, 3, shape);
    ttt_tensor out_t = ttt_tensor_view(TTT_F32, out, 3, shape);
    ttt_module_event whole = *event;
    whole.input = &in_t;
    whole.output = &out_t;
    g->inner->fn(g->inner->user, &whole);
  }
  free(in);
  free(out);
}
