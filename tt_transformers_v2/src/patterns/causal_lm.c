/*
 * CausalLM: token embedding (+ learned positions) → N decoder layers → final norm → LM head.
 *
 * Weights are resolved once at creation through the caller's resolver, checked against the spec,
 * and prepared per mode: a tensor is used in place when it already has the dtype the mode's impl
 * config asks for, and converted (owned by the model) otherwise; the two modes share a tensor when
 * they ask for the same dtype. A module whose weight_dtype is DEFAULT takes the dtype of its first
 * resolved weight (the checkpoint's, per module: mixed-dtype checkpoints keep each dtype).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "building_blocks/block_util.h"
#include "building_blocks/paged_kv_internal.h"
#include "patterns_internal.h"
#include "runtime/kernels.h"
#include "runtime/quant.h"
#include "runtime/runtime.h"

enum { MODES = 2 };

typedef struct mode_weights {
  ttt_embedding_weights embedding;
  ttt_embedding_weights position_embedding;
  ttt_decoder_layer_weights *layers; /* n_layers */
  ttt_mlp_weights *experts;          /* n_layers × max_experts (MoE layers only) */
  ttt_norm_weights norm;
  ttt_lm_head_weights lm_head;
} mode_weights;

struct ttt_causal_lm {
  ttt_causal_lm_spec full; /* the caller's spec (ttt_causal_lm_get_spec) */
  /* What this rank runs: `full` with its share of heads, columns and vocabulary under tensor
   * parallelism (equal to `full` otherwise); forwards, caches and module views use it. */
  ttt_causal_lm_spec spec;
  ttt_lm_shard shard;
  ttt_causal_lm_impl_config impl;
  mode_weights weights[MODES];
  ttt_rope *ropes[TTT_MAX_LAYERS]; /* layers with equal rope specs share one (owned once) */
  bool rope_owned[TTT_MAX_LAYERS];
  ttt_tensor *owned; /* converted copies */
  int64_t n_owned, owned_capacity;
  int64_t max_experts; /* row length of mode_weights.experts */
  int64_t decode_weight_bytes;
  int64_t parameters;
};

/* ---- spec ---- */

static bool has_position_embedding(const ttt_causal_lm_spec *spec) {
  return spec->position_embedding.vocab != 0;
}

static ttt_status validate_position_embedding(const ttt_causal_lm_spec *spec) {
  if (!has_position_embedding(spec)) return TTT_OK;
  const ttt_embedding_spec *p = &spec->position_embedding;
  ttt_status st = ttt_embedding_spec_validate(p);
  if (st != TTT_OK) return ttt_error_prefix(st, "position_embedding");
  if (p->dim != spec->embedding.dim || p->vocab < spec->max_positions)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "causal_lm spec: position_embedding is [%lld, %lld], expected dim %lld "
                         "(embedding.dim) and at least max_positions (%lld) rows",
                         (long long)p->vocab, (long long)p->dim, (long long)spec->embedding.dim,
                         (long long)spec->max_positions);
  return TTT_OK;
}

ttt_status ttt_causal_lm_spec_validate(const ttt_causal_lm_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm spec: NULL");
  if (spec->n_layers < 1 || spec->n_layers > TTT_MAX_LAYERS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm spec: n_layers %lld not in 1..%d",
                         (long long)spec->n_layers, TTT_MAX_LAYERS);
  if (spec->max_positions < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm spec: max_positions must be >= 1");
  ttt_status st = ttt_embedding_spec_validate(&spec->embedding);
  if (st != TTT_OK) return ttt_error_prefix(st, "embedding");
  int64_t hidden = spec->embedding.dim;
  st = validate_position_embedding(spec);
  if (st != TTT_OK) return st;
  for (int64_t l = 0; l < spec->n_layers; l++) {
    st = ttt_decoder_layer_spec_validate(&spec->layers[l]);
    if (st != TTT_OK) return ttt_error_prefix(st, "layers.%lld", (long long)l);
    if (ttt_decoder_layer_hidden(&spec->layers[l]) != hidden)
      return ttt_set_error(
          TTT_ERR_SHAPE, "layers.%lld: hidden %lld differs from embedding.dim %lld", (long long)l,
          (long long)ttt_decoder_layer_hidden(&spec->layers[l]), (long long)hidden);
  }
  st = ttt_norm_spec_validate(&spec->norm);
  if (st != TTT_OK) return ttt_error_prefix(st, "norm");
  st = ttt_lm_head_spec_validate(&spec->lm_head);
  if (st != TTT_OK) return ttt_error_prefix(st, "lm_head");
  if (spec->norm.dim != hidden || spec->lm_head.hidden != hidden)
    return ttt_set_error(TTT_ERR_SHAPE, "norm.dim (%lld) and lm_head.hidden (%lld) must equal %lld",
                         (long long)spec->norm.dim, (long long)spec->lm_head.hidden,
                         (long long)hidden);
  if (spec->tie_embeddings && spec->lm_head.vocab != spec->embedding.vocab)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "tie_embeddings: lm_head.vocab %lld != embedding.vocab %lld",
                         (long long)spec->lm_head.vocab, (long long)spec->embedding.vocab);
  return TTT_OK;
}

/* ---- defaults ---- */

/* Strategy choices, as data: what each strategy sets on top of the blocks' own defaults.
 * DEFAULT weight dtype means "the checkpoint's dtype" (no conversion). */
typedef struct strategy_defaults {
  ttt_dtype projection_weights;
  ttt_dtype projection_activations;
  ttt_dtype kv_cache;
} strategy_defaults;

static const strategy_defaults strategy_table[] = {
    [TTT_STRATEGY_ACCURACY] = {TTT_DTYPE_DEFAULT, TTT_F32, TTT_F32},
    [TTT_STRATEGY_PERFORMANCE] = {TTT_Q8_0, TTT_Q8_0, TTT_BF16},
};

/* DEFAULT stays DEFAULT: each module then keeps its weights' own dtype (resolved at create). */
static ttt_dtype float_source(ttt_dtype source) {
  if (source == TTT_DTYPE_DEFAULT) return TTT_DTYPE_DEFAULT;
  return (source == TTT_BF16 || source == TTT_F16) ? source : TTT_F32;
}

/* A module's projection dtypes: the strategy's, except that q8_0 blocks run along the input dim,
 * so a module with an input dim that is not a multiple of the block (MoE experts 48 wide, MLA
 * ranks of 24) falls back to bf16 weights with f32 activations, as the encoder's defaults do. */
typedef struct projection_dtypes {
  ttt_dtype weights, activations;
} projection_dtypes;

static projection_dtypes projection_for(ttt_dtype weights, ttt_dtype activations,
                                        const int64_t *in_dims, int n_dims) {
  if (weights != TTT_Q8_0) return (projection_dtypes){weights, TTT_F32};
  for (int i = 0; i < n_dims; i++)
    if (in_dims[i] % TTT_Q8_0_BLOCK != 0) return (projection_dtypes){TTT_BF16, TTT_F32};
  return (projection_dtypes){weights, activations};
}

static projection_dtypes attention_dtypes(ttt_dtype weights, ttt_dtype activations,
                                          const ttt_attention_spec *a) {
  const int64_t in_dims[] = {a->hidden, a->n_heads * ttt_attention_head_dim(a)};
  return projection_for(weights, activations, in_dims, 2);
}

static projection_dtypes ffn_dtypes(ttt_dtype weights, ttt_dtype activations,
                                    const ttt_ffn_spec *f) {
  if (f->kind != TTT_FFN_MOE) {
    const int64_t in_dims[] = {f->mlp.hidden, f->mlp.intermediate};
    return projection_for(weights, activations, in_dims, 2);
  }
  const ttt_moe_spec *m = &f->moe;
  const int64_t in_dims[] = {m->expert.hidden, m->expert.intermediate,
                             m->shared_expert ? m->shared.intermediate : m->expert.intermediate};
  return projection_for(weights, activations, in_dims, 3);
}

static projection_dtypes mla_dtypes(ttt_dtype weights, ttt_dtype activations,
                                    const ttt_mla_spec *m) {
  const int64_t in_dims[] = {m->hidden, m->q_lora_rank, m->kv_lora_rank,
                             m->n_heads * m->v_head_dim};
  return projection_for(weights, activations, in_dims, 4);
}

static void mode_defaults(const ttt_device *device, ttt_mode mode, const strategy_defaults *s,
                          ttt_dtype source, const ttt_causal_lm_spec *spec,
                          ttt_causal_lm_mode_impl_config *out) {
  out->embedding = ttt_embedding_default_impl_config(device, mode, &spec->embedding);
  out->embedding.weight_dtype = float_source(source);
  out->position_embedding =
      ttt_embedding_default_impl_config(device, mode, &spec->position_embedding);
  out->position_embedding.weight_dtype = float_source(source);
  ttt_dtype weights =
      s->projection_weights == TTT_DTYPE_DEFAULT ? float_source(source) : s->projection_weights;
  ttt_dtype activations = weights == TTT_Q8_0 ? s->projection_activations : TTT_F32;
  for (int64_t l = 0; l < spec->n_layers; l++) {
    const ttt_decoder_layer_spec *ls = &spec->layers[l];
    ttt_decoder_layer_impl_config *layer = &out->layers[l];
    *layer = ttt_decoder_layer_default_impl_config(device, mode, ls);
    if (ls->attention_kind == TTT_ATTENTION_KIND_MLA) {
      projection_dtypes mla = mla_dtypes(weights, activations, &ls->mla);
      layer->mla.weight_dtype = mla.weights;
      layer->mla.activation_dtype = mla.activations;
      layer->mla.kv_dtype = s->kv_cache;
    } else {
      projection_dtypes attention = attention_dtypes(weights, activations, &ls->attention);
      layer->attention.weight_dtype = attention.weights;
      layer->attention.activation_dtype = attention.activations;
      layer->attention.kv_dtype = s->kv_cache;
    }
    projection_dtypes ffn = ffn_dtypes(weights, activations, &ls->ffn);
    layer->ffn.weight_dtype = ffn.weights;
    layer->ffn.activation_dtype = ffn.activations;
  }
  out->norm = ttt_norm_default_impl_config(device, mode, &spec->norm);
  out->lm_head = ttt_lm_head_default_impl_config(device, mode, &spec->lm_head);
  projection_dtypes head = projection_for(weights, activations, &spec->lm_head.hidden, 1);
  out->lm_head.weight_dtype = head.weights;
  out->lm_head.activation_dtype = head.activations;
}

/* A projection's weight dtype as the device's kernels read it best (q8_0 activations only: the
 * grouped layouts have no f32-activation kernel). */
static void place(const ttt_device *device, ttt_kernel kernel, ttt_dtype activations,
                  ttt_dtype *weights) {
  if (activations == TTT_Q8_0) *weights = ttt_gemm_storage_dtype(device, kernel, *weights);
}

static void place_mode(const ttt_device *device, const ttt_causal_lm_spec *spec,
                       ttt_causal_lm_mode_impl_config *c) {
  for (int64_t l = 0; l < spec->n_layers; l++) {
    ttt_decoder_layer_impl_config *layer = &c->layers[l];
    if (spec->layers[l].attention_kind == TTT_ATTENTION_KIND_MLA)
      place(device, layer->mla.kernel, layer->mla.activation_dtype, &layer->mla.weight_dtype);
    else
      place(device, layer->attention.kernel, layer->attention.activation_dtype,
            &layer->attention.weight_dtype);
    place(device, layer->ffn.kernel, layer->ffn.activation_dtype, &layer->ffn.weight_dtype);
  }
  place(device, c->lm_head.kernel, c->lm_head.activation_dtype, &c->lm_head.weight_dtype);
}

void ttt_causal_lm_impl_config_place_weights(const ttt_device *device,
                                             const ttt_causal_lm_spec *spec,
                                             ttt_causal_lm_impl_config *impl) {
  if (!device || !spec || !impl) return;
  place_mode(device, spec, &impl->prefill);
  place_mode(device, spec, &impl->decode);
}

ttt_status ttt_causal_lm_default_impl_config(const ttt_device *device, ttt_strategy strategy,
                                             ttt_dtype source_dtype, const ttt_causal_lm_spec *spec,
                                             ttt_causal_lm_impl_config *out) {
  if (!device || !spec || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm default impl config: NULL argument");
  if ((unsigned)strategy > TTT_STRATEGY_PERFORMANCE)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "unknown strategy %d", (int)strategy);
  ttt_status st = ttt_causal_lm_spec_validate(spec);
  if (st != TTT_OK) return st;
  memset(out, 0, sizeof *out);
  /* Under tensor parallelism the dtypes are chosen for the rank's share (its input dims). */
  ttt_tensor_parallel tp = {.rank = ttt_comm_rank(device->comm),
                            .size = ttt_comm_size(device->comm),
                            .reduce_dtype = TTT_F32,
                            .moe_split = TTT_MOE_SPLIT_COLUMNS};
  ttt_causal_lm_spec *local = malloc(sizeof *local);
  ttt_lm_shard *shard = malloc(sizeof *shard);
  st = local && shard ? ttt_causal_lm_shard_plan(spec, tp, local, shard)
                      : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "causal_lm defaults: out of memory");
  if (st == TTT_OK) {
    mode_defaults(device, TTT_MODE_PREFILL, &strategy_table[strategy], source_dtype, local,
                  &out->prefill);
    mode_defaults(device, TTT_MODE_DECODE, &strategy_table[strategy], source_dtype, local,
                  &out->decode);
    out->tp = tp;
    ttt_causal_lm_impl_config_place_weights(device, local, out);
  }
  free(local);
  free(shard);
  return st;
}

/* ---- weights ---- */

/* The part of a resolved tensor a rank keeps (tensor parallelism). */
typedef enum slice_axis {
  SLICE_NONE = 0, /* all of it */
  SLICE_ROWS,     /* rows [begin, begin + count): a view, no copy */
  SLICE_COLS,     /* columns [begin, begin + count) of a 2-D tensor: a copy */
  SLICE_ZERO      /* none of it: zeros of its shape (a bias only rank 0 adds), nothing resolved */
} slice_axis;

typedef struct weight_slice {
  slice_axis axis;
  int64_t begin, count;
} weight_slice;

/* One tensor the model needs: where to store it in each mode, its shape (as resolved, before any
 * slice) and target dtypes. */
typedef struct weight_slot {
  char path[96];
  int32_t ndim;
  int64_t shape[2];
  weight_slice slice;
  ttt_tensor *dst[MODES];
  /* Per mode, the module's weight_dtype in the model's impl config (NULL: always f32, for norms,
   * biases and routers). DEFAULT there is resolved by the first weight of the module to come. */
  ttt_dtype *dtype[MODES];
  /* The fraction of the tensor a decoded token does not stream: 0 (the default: all of it), 1 for
   * tables read a row at a time (embeddings), 1 - top_k / n_experts for a routed expert (what one
   * token skips under uniform routing). */
  double skip_share;
  bool alias; /* a second use of a tensor counted elsewhere (tied lm_head) */
} weight_slot;

typedef struct slot_list {
  weight_slot *items;
  int64_t count, capacity;
} slot_list;

static ttt_status add_slot(slot_list *list, const weight_slot *slot) {
  if (list->count == list->capacity) {
    int64_t capacity = list->capacity ? 2 * list->capacity : 64;
    weight_slot *items = realloc(list->items, (size_t)capacity * sizeof *items);
    if (!items) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "causal_lm: out of memory");
    list->items = items;
    list->capacity = capacity;
  }
  list->items[list->count++] = *slot;
  return TTT_OK;
}

/* Adds `path` with a shape of 1 or 2 dims (d1 <= 0: 1-D) and per-mode destinations. */
static ttt_status slot(slot_list *list, ttt_tensor *dst[MODES], ttt_dtype *const dtype[MODES],
                       int64_t d0, int64_t d1, const char *fmt, ...) TTT_PRINTF(6, 7);

static ttt_status slot(slot_list *list, ttt_tensor *dst[MODES], ttt_dtype *const dtype[MODES],
                       int64_t d0, int64_t d1, const char *fmt, ...) {
  weight_slot s = {.ndim = d1 > 0 ? 2 : 1, .shape = {d0, d1}};
  va_list args;
  va_start(args, fmt);
  int len = vsnprintf(s.path, sizeof s.path, fmt, args);
  va_end(args);
  if (len < 0 || (size_t)len >= sizeof s.path)
    return ttt_set_error(TTT_ERR_INTERNAL, "causal_lm: weight path '%s...' longer than %zu bytes",
                         s.path, sizeof s.path - 1);
  for (int m = 0; m < MODES; m++) {
    s.dst[m] = dst[m];
    s.dtype[m] = dtype[m];
  }
  return add_slot(list, &s);
}

/* Restricts the slot just added (when st is TTT_OK) to a slice; returns st. */
static ttt_status sliced(slot_list *list, ttt_status st, slice_axis axis, int64_t begin,
                         int64_t count) {
  if (st == TTT_OK) list->items[list->count - 1].slice = (weight_slice){axis, begin, count};
  return st;
}

#define BOTH(model, member)                                                                        \
  { &(model)->weights[0].member, &(model)->weights[1].member }
#define F32_BOTH ((ttt_dtype *const[MODES]){NULL, NULL})
#define IMPL_DTYPE(model, member)                                                                  \
  ((ttt_dtype *const[MODES]){&(model)->impl.prefill.member, &(model)->impl.decode.member})

static ttt_status attention_slots(ttt_causal_lm *model, slot_list *list, int64_t l) {
  const ttt_attention_spec *a = &model->full.layers[l].attention;
  const ttt_attention_spec *mine = &model->spec.layers[l].attention;
  const ttt_layer_shard *shard = &model->shard.layers[l];
  int64_t hd = ttt_attention_head_dim(a);
  /* Split heads: q/k/v (and their biases, per-head norms) by rows, wo by columns; bo on rank 0. */
  slice_axis rows = shard->attention ? SLICE_ROWS : SLICE_NONE;
  slice_axis cols = shard->attention ? SLICE_COLS : SLICE_NONE;
  slice_axis bo = shard->attention && model->shard.rank != 0 ? SLICE_ZERO : SLICE_NONE;
  int64_t q0 = shard->q_head0, nq = mine->n_heads, k0 = shard->kv_head0, nk = mine->n_kv_heads;
  int64_t q = a->n_heads * hd, kv = a->n_kv_heads * hd;
  ttt_dtype *const *w = IMPL_DTYPE(model, layers[l].attention.weight_dtype);
  bool qk_norm = a->qk_norm != TTT_QK_NORM_NONE, qk_bias = qk_norm && a->qk_norm_spec.bias;
  /* q/k norm weights: [head_dim] (HEAD), [heads, head_dim] (HEAD_WEIGHTS), [heads·head_dim] (ALL) */
  bool per_head = a->qk_norm == TTT_QK_NORM_HEAD_WEIGHTS;
  int64_t qn0 = a->qk_norm == TTT_QK_NORM_HEAD ? hd : per_head ? a->n_heads : q;
  int64_t kn0 = a->qk_norm == TTT_QK_NORM_HEAD ? hd : per_head ? a->n_kv_heads : kv;
  int64_t n1 = per_head ? hd : 0;
  slice_axis norm_rows = per_head ? rows : SLICE_NONE;
  ttt_attention_weights *p = &model->weights[0].layers[l].attention;
  ttt_attention_weights *d = &model->weights[1].layers[l].attention;
  ttt_status st = TTT_OK;
#define ATT(field, dt, d0, d1, cond, axis, begin, count)                                           \
  if (st == TTT_OK && (cond))                                                                      \
  st = sliced(list,                                                                                \
              slot(list, (ttt_tensor *[MODES]){&p->field, &d->field}, dt, d0, d1,                  \
                   "layers.%lld.attention." #field, (long long)l),                                 \
              axis, begin, count)
  ATT(wq, w, q, a->hidden, true, rows, q0 * hd, nq * hd);
  ATT(wk, w, kv, a->hidden, true, rows, k0 * hd, nk * hd);
  ATT(wv, w, kv, a->hidden, true, rows, k0 * hd, nk * hd);
  ATT(wo, w, a->hidden, q, true, cols, q0 * hd, nq * hd);
  ATT(bq, F32_BOTH, q, 0, a->q_bias, rows, q0 * hd, nq * hd);
  ATT(bk, F32_BOTH, kv, 0, a->k_bias, rows, k0 * hd, nk * hd);
  ATT(bv, F32_BOTH, kv, 0, a->v_bias, rows, k0 * hd, nk * hd);
  ATT(bo, F32_BOTH, a->hidden, 0, a->o_bias, bo, 0, a->hidden);
  ATT(q_norm, F32_BOTH, qn0, n1, qk_norm, norm_rows, q0, nq);
  ATT(k_norm, F32_BOTH, kn0, n1, qk_norm, norm_rows, k0, nk);
  ATT(q_norm_bias, F32_BOTH, qn0, n1, qk_bias, norm_rows, q0, nq);
  ATT(k_norm_bias, F32_BOTH, kn0, n1, qk_bias, norm_rows, k0, nk);
#undef ATT
  return st;
}

/* An MLA layer's weights, at layers.N.attention.<ttt_mla_weights field>. */
static ttt_status mla_slots(ttt_causal_lm *model, slot_list *list, int64_t l) {
  const ttt_mla_spec *a = &model->full.layers[l].mla; /* never split */
  int64_t H = a->n_heads, dq = a->qk_nope_head_dim + a->qk_rope_head_dim;
  int64_t R = a->kv_lora_rank, qr = a->q_lora_rank;
  bool lora = qr > 0;
  ttt_dtype *const *w = IMPL_DTYPE(model, layers[l].mla.weight_dtype);
  ttt_mla_weights *p = &model->weights[0].layers[l].mla;
  ttt_mla_weights *d = &model->weights[1].layers[l].mla;
  ttt_status st = TTT_OK;
#define MLA(field, dt, d0, d1, cond)                                                               \
  if (st == TTT_OK && (cond))                                                                      \
  st = slot(list, (ttt_tensor *[MODES]){&p->field, &d->field}, dt, d0, d1,                         \
            "layers.%lld.attention." #field, (long long)l)
  MLA(q_proj, w, H * dq, a->hidden, !lora);
  MLA(q_a_proj, w, qr, a->hidden, lora);
  MLA(q_a_norm, F32_BOTH, qr, 0, lora);
  MLA(q_b_proj, w, H * dq, qr, lora);
  MLA(kv_a_proj, w, R + a->qk_rope_head_dim, a->hidden, true);
  MLA(kv_a_norm, F32_BOTH, R, 0, true);
  MLA(kv_b_proj, w, H * (a->qk_nope_head_dim + a->v_head_dim), R, true);
  MLA(o_proj, w, a->hidden, H * a->v_head_dim, true);
#undef MLA
  return st;
}

/* A rank's intermediate columns [begin, begin + count) of an MLP (split false: all of them);
 * down_bias is added by rank 0 only. */
typedef struct mlp_share {
  bool split;
  int64_t begin, count;
  int32_t rank;
} mlp_share;

static ttt_status mlp_slots(slot_list *list, const ttt_mlp_spec *m, ttt_mlp_weights *p,
                            ttt_mlp_weights *d, ttt_dtype *const w[MODES], const char *prefix,
                            mlp_share share) {
  slice_axis rows = share.split ? SLICE_ROWS : SLICE_NONE;
  slice_axis cols = share.split ? SLICE_COLS : SLICE_NONE;
  slice_axis down_bias = share.split && share.rank != 0 ? SLICE_ZERO : SLICE_NONE;
  int64_t b = share.begin, n = share.count;
  ttt_status st = TTT_OK;
#define MLP(field, dt, d0, d1, cond, axis)                                                         \
  if (st == TTT_OK && (cond))                                                                      \
  st = sliced(                                                                                     \
      list,                                                                                        \
      slot(list, (ttt_tensor *[MODES]){&p->field, &d->field}, dt, d0, d1, "%s." #field, prefix),   \
      axis, b, n)
  MLP(gate, w, m->intermediate, m->hidden, m->gated, rows);
  MLP(up, w, m->intermediate, m->hidden, true, rows);
  MLP(down, w, m->hidden, m->intermediate, true, cols);
  MLP(gate_bias, F32_BOTH, m->intermediate, 0, m->gated && m->bias, rows);
  MLP(up_bias, F32_BOTH, m->intermediate, 0, m->bias, rows);
  MLP(down_bias, F32_BOTH, m->hidden, 0, m->bias, down_bias);
#undef MLP
  return st;
}

static ttt_status ffn_slots(ttt_causal_lm *model, slot_list *list, int64_t l) {
  const ttt_ffn_spec *f = &model->full.layers[l].ffn, *mine = &model->spec.layers[l].ffn;
  const ttt_layer_shard *shard = &model->shard.layers[l];
  ttt_dtype *const *w = IMPL_DTYPE(model, layers[l].ffn.weight_dtype);
  char prefix[64];
  if (f->kind == TTT_FFN_MLP) {
    snprintf(prefix, sizeof prefix, "layers.%lld.ffn", (long long)l);
    mlp_share share = {shard->ffn, shard->ffn0, mine->mlp.intermediate, model->shard.rank};
    return mlp_slots(list, &f->mlp, &model->weights[0].layers[l].ffn.mlp,
                     &model->weights[1].layers[l].ffn.mlp, w, prefix, share);
  }
  /* split by columns (expert.split) or by whole experts (the range [e0, e1), experts unsplit) */
  int64_t e0 = shard->n_experts > 0 ? shard->expert0 : 0;
  int64_t e1 = shard->n_experts > 0 ? e0 + shard->n_experts : f->moe.n_experts;
  mlp_share expert = {shard->ffn && shard->n_experts == 0, shard->ffn0,
                      mine->moe.expert.intermediate, model->shard.rank};
  for (int m = 0; m < MODES; m++) {
    model->weights[m].layers[l].ffn.moe.expert_begin = e0;
    model->weights[m].layers[l].ffn.moe.expert_count = shard->n_experts;
  }
  mlp_share shared = {shard->ffn, shard->shared0, mine->moe.shared.intermediate, model->shard.rank};
  int64_t experts = f->moe.n_experts;
  ttt_status st = slot(list, (ttt_tensor *[MODES])BOTH(model, layers[l].ffn.moe.router), F32_BOTH,
                       experts, f->moe.expert.hidden, "layers.%lld.ffn.router", (long long)l);
  if (st == TTT_OK && f->moe.score_correction_bias)
    st = slot(list, (ttt_tensor *[MODES])BOTH(model, layers[l].ffn.moe.router_bias), F32_BOTH,
              experts, 0, "layers.%lld.ffn.router_bias", (long long)l);
  for (int64_t e = e0; st == TTT_OK && e < e1; e++) {
    snprintf(prefix, sizeof prefix, "layers.%lld.ffn.experts.%lld", (long long)l, (long long)e);
    int64_t index = l * model->max_experts + e, first = list->count;
    st = mlp_slots(list, &f->moe.expert, &model->weights[0].experts[index],
                   &model->weights[1].experts[index], w, prefix, expert);
    for (int64_t i = first; st == TTT_OK && i < list->count; i++)
      list->items[i].skip_share = 1.0 - (double)f->moe.top_k / (double)experts;
  }
  if (st == TTT_OK && f->moe.shared_expert) {
    snprintf(prefix, sizeof prefix, "layers.%lld.ffn.shared", (long long)l);
    st = mlp_slots(list, &f->moe.shared, &model->weights[0].layers[l].ffn.moe.shared,
                   &model->weights[1].layers[l].ffn.moe.shared, w, prefix, shared);
  }
  if (st == TTT_OK && f->moe.shared_expert_gate)
    st = slot(list, (ttt_tensor *[MODES])BOTH(model, layers[l].ffn.moe.shared_gate), F32_BOTH, 1,
              f->moe.expert.hidden, "layers.%lld.ffn.shared_gate", (long long)l);
  return st;
}

/* weight and (with spec.bias) bias of a norm at `prefix` ("norm", "layers.3.ffn_norm"). */
static ttt_status norm_slots(slot_list *list, const ttt_norm_spec *n, ttt_norm_weights *p,
                             ttt_norm_weights *d, const char *prefix) {
  ttt_status st = slot(list, (ttt_tensor *[MODES]){&p->weight, &d->weight}, F32_BOTH, n->dim, 0,
                       "%s.weight", prefix);
  if (st == TTT_OK && n->bias)
    st = slot(list, (ttt_tensor *[MODES]){&p->bias, &d->bias}, F32_BOTH, n->dim, 0, "%s.bias",
              prefix);
  return st;
}

/* The norms of layer l that its topology uses, in execution order. */
static ttt_status layer_norm_slots(ttt_causal_lm *model, slot_list *list, int64_t l,
                                   bool attention_side) {
  static const char *const names[2][2] = {{"ffn_norm", "post_ffn_norm"},
                                          {"attention_norm", "post_attention_norm"}};
  const ttt_decoder_layer_spec *s = &model->full.layers[l];
  ttt_decoder_layer_weights *p = &model->weights[0].layers[l], *d = &model->weights[1].layers[l];
  const ttt_norm_spec *specs[2][2] = {{&s->ffn_norm, &s->post_ffn_norm},
                                      {&s->attention_norm, &s->post_attention_norm}};
  ttt_norm_weights *pw[2][2] = {{&p->ffn_norm, &p->post_ffn_norm},
                                {&p->attention_norm, &p->post_attention_norm}};
  ttt_norm_weights *dw[2][2] = {{&d->ffn_norm, &d->post_ffn_norm},
                                {&d->attention_norm, &d->post_attention_norm}};
  ttt_status st = TTT_OK;
  for (int k = 0; st == TTT_OK && k < 2; k++) {
    const char *name = names[attention_side][k];
    if (!ttt_decoder_layer_uses_norm(s, name)) continue;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "layers.%lld.%s", (long long)l, name);
    st = norm_slots(list, specs[attention_side][k], pw[attention_side][k], dw[attention_side][k],
                    prefix);
  }
  return st;
}

static ttt_status build_slots(ttt_causal_lm *model, slot_list *list) {
  const ttt_causal_lm_spec *s = &model->full;
  /* the vocabulary split: the embedding's and the LM head's rows */
  slice_axis vocab = model->shard.size > 1 ? SLICE_ROWS : SLICE_NONE;
  int64_t e0 = model->shard.embedding0, ne = model->spec.embedding.vocab;
  int64_t h0 = model->shard.lm_head0, nh = model->spec.lm_head.vocab;
  ttt_status st = slot(list, (ttt_tensor *[MODES])BOTH(model, embedding.table),
                       IMPL_DTYPE(model, embedding.weight_dtype), s->embedding.vocab,
                       s->embedding.dim, "embedding.table");
  st = sliced(list, st, vocab, e0, ne);
  if (st == TTT_OK) list->items[list->count - 1].skip_share = 1.0; /* a row lookup */
  if (st == TTT_OK && has_position_embedding(s)) {
    st = slot(list, (ttt_tensor *[MODES])BOTH(model, position_embedding.table),
              IMPL_DTYPE(model, position_embedding.weight_dtype), s->position_embedding.vocab,
              s->position_embedding.dim, "position_embedding.table");
    if (st == TTT_OK) list->items[list->count - 1].skip_share = 1.0;
  }
  for (int64_t l = 0; st == TTT_OK && l < s->n_layers; l++) {
    st = layer_norm_slots(model, list, l, true);
    if (st == TTT_OK)
      st = s->layers[l].attention_kind == TTT_ATTENTION_KIND_MLA ? mla_slots(model, list, l)
                                                                 : attention_slots(model, list, l);
    if (st == TTT_OK) st = layer_norm_slots(model, list, l, false);
    if (st == TTT_OK) st = ffn_slots(model, list, l);
  }
  if (st == TTT_OK)
    st = norm_slots(list, &s->norm, &model->weights[0].norm, &model->weights[1].norm, "norm");
  if (st == TTT_OK)
    st = sliced(list,
                slot(list, (ttt_tensor *[MODES])BOTH(model, lm_head.weight),
                     IMPL_DTYPE(model, lm_head.weight_dtype), s->lm_head.vocab, s->lm_head.hidden,
                     s->tie_embeddings ? "embedding.table" : "lm_head.weight"),
                vocab, h0, nh);
  if (st == TTT_OK) list->items[list->count - 1].alias = s->tie_embeddings;
  if (st == TTT_OK && s->lm_head.bias)
    st = sliced(list,
                slot(list, (ttt_tensor *[MODES])BOTH(model, lm_head.bias), F32_BOTH,
                     s->lm_head.vocab, 0, "lm_head.bias"),
                vocab, h0, nh);
  return st;
}

static ttt_status own(ttt_causal_lm *model, const ttt_tensor *t) {
  if (model->n_owned == model->owned_capacity) {
    int64_t capacity = model->owned_capacity ? 2 * model->owned_capacity : 64;
    ttt_tensor *owned = realloc(model->owned, (size_t)capacity * sizeof *owned);
    if (!owned) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "causal_lm: out of memory");
    model->owned = owned;
    model->owned_capacity = capacity;
  }
  model->owned[model->n_owned++] = *t;
  return TTT_OK;
}

static bool is_float_weight(ttt_dtype d) {
  return d == TTT_F32 || d == TTT_F16 || d == TTT_BF16 || d == TTT_Q8_0 || d == TTT_Q4_0 ||
         d == TTT_Q8_0_G16 || d == TTT_Q4_0_G16;
}

static ttt_status check_resolved(const weight_slot *s, const ttt_tensor *t) {
  ttt_status st = ttt_tensor_check(t, s->path);
  if (st != TTT_OK) return st;
  if (!is_float_weight(t->dtype))
    return ttt_set_error(TTT_ERR_DTYPE, "weight '%s' has dtype %s, expected a float dtype", s->path,
                         ttt_dtype_name(t->dtype));
  bool same = t->ndim == s->ndim && t->shape[0] == s->shape[0] &&
              (s->ndim == 1 || t->shape[1] == s->shape[1]);
  if (same) return TTT_OK;
  char got[64] = "", want[64];
  for (int i = 0; i < t->ndim; i++) {
    size_t len = strlen(got);
    snprintf(got + len, sizeof got - len, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
  }
  if (s->ndim == 1)
    snprintf(want, sizeof want, "%lld", (long long)s->shape[0]);
  else
    snprintf(want, sizeof want, "%lld, %lld", (long long)s->shape[0], (long long)s->shape[1]);
  return ttt_set_error(TTT_ERR_SHAPE, "weight '%s' has shape [%s], expected [%s]", s->path, got,
                       want);
}

/* The dtype mode m keeps a weight in: f32 for fixed slots; the module's weight_dtype otherwise,
 * which a DEFAULT sets to the dtype of this first weight of the module. */
static ttt_dtype slot_dtype(const weight_slot *s, int m, ttt_dtype source) {
  if (!s->dtype[m]) return TTT_F32;
  if (*s->dtype[m] == TTT_DTYPE_DEFAULT) *s->dtype[m] = source;
  return *s->dtype[m];
}

/* True when `p` points into t's data (a view of it, or a row slice). */
static bool points_into(const void *p, const ttt_tensor *t) {
  const char *begin = t->data, *at = p;
  return at >= begin && at < begin + ttt_tensor_nbytes(t);
}

/* True when a view the model keeps (either mode) reads `source`: the source of an aliased slot
 * (a tied head) may still be read in place by its first use (the embedding lookup). */
static bool kept_in_place(const ttt_causal_lm *model, const ttt_tensor *source) {
  for (int m = 0; m < MODES; m++)
    if (points_into(model->weights[m].embedding.table.data, source)) return true;
  return false;
}

/* Rows [begin, begin + count) of t: a view of the same memory (from an mmapped checkpoint only
 * these rows' pages are ever read). Rows of block dtypes are whole rows of blocks. */
static ttt_tensor row_slice(const ttt_tensor *t, int64_t begin, int64_t count) {
  ttt_tensor v = *t;
  int64_t row_len = t->ndim == 2 ? t->shape[1] : 1;
  v.shape[0] = count;
  v.data = (char *)t->data + ttt_dtype_bytes(t->dtype, begin * row_len, row_len);
  return v;
}

/* Columns [begin, begin + count) of a 2-D t, copied into `out` (row-major columns are strided).
 * A block dtype is cut only between blocks. */
static ttt_status column_slice(const weight_slot *s, const ttt_tensor *t, int64_t begin,
                               int64_t count, ttt_tensor *out) {
  bool block = ttt_dtype_is_block(t->dtype);
  if (block && (begin % TTT_Q8_0_BLOCK != 0 || count % TTT_Q8_0_BLOCK != 0))
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "weight '%s' is %s: this rank's columns [%lld, %lld) would cut its "
                         "32-value blocks",
                         s->path, ttt_dtype_name(t->dtype), (long long)begin,
                         (long long)(begin + count));
  int64_t shape[2] = {t->shape[0], count}, unit = block ? TTT_Q8_0_BLOCK : 1;
  ttt_status st = ttt_tensor_alloc(out, t->dtype, 2, shape);
  if (st != TTT_OK) return ttt_error_prefix(st, "weight '%s'", s->path);
  size_t src_row = ttt_dtype_bytes(t->dtype, t->shape[1], unit);
  size_t dst_row = ttt_dtype_bytes(t->dtype, count, unit);
  size_t offset = begin ? ttt_dtype_bytes(t->dtype, begin, unit) : 0;
  for (int64_t r = 0; r < t->shape[0]; r++)
    memcpy((char *)out->data + (size_t)r * dst_row,
           (const char *)t->data + (size_t)r * src_row + offset, dst_row);
  return TTT_OK;
}

/* The slot's zeros (SLICE_ZERO: a bias of a split module that only rank 0 adds). */
static ttt_status prepare_zero_slot(ttt_causal_lm *model, const weight_slot *s) {
  ttt_tensor zeros;
  ttt_status st = ttt_tensor_alloc(&zeros, TTT_F32, s->ndim, s->shape);
  if (st != TTT_OK) return ttt_error_prefix(st, "weight '%s'", s->path);
  st = own(model, &zeros);
  if (st != TTT_OK) {
    ttt_tensor_free(&zeros);
    return st;
  }
  for (int m = 0; m < MODES; m++) *s->dst[m] = zeros;
  return TTT_OK;
}

/* The part of a row-major `source` this rank keeps; *copied when it is a new allocation. */
static ttt_status slice_row_major(const weight_slot *s, const ttt_tensor *source, ttt_tensor *part,
                                  bool *copied) {
  *copied = false;
  *part = *source;
  if (s->slice.axis == SLICE_ROWS) *part = row_slice(source, s->slice.begin, s->slice.count);
  if (s->slice.axis != SLICE_COLS) return TTT_OK;
  *copied = true;
  return column_slice(s, source, s->slice.begin, s->slice.count, part);
}

/* A grouped source (a quantized folder's layout) is cut as its row-major blocks: its rows are
 * interleaved in groups of 16. The slice is a copy. */
static ttt_status slice_grouped(const weight_slot *s, const ttt_tensor *source, ttt_tensor *part) {
  ttt_tensor rows, view;
  ttt_status st = ttt_tensor_convert(source, ttt_grouped_base(source->dtype), &rows);
  if (st != TTT_OK) return ttt_error_prefix(st, "weight '%s'", s->path);
  bool view_copied = false;
  st = slice_row_major(s, &rows, &view, &view_copied);
  if (st == TTT_OK && !view_copied) st = ttt_tensor_convert(&view, view.dtype, part);
  if (st == TTT_OK && view_copied) *part = view;
  ttt_tensor_free(&rows);
  return st;
}

/* The part of `source` this rank keeps; *copied when it is a new allocation. */
static ttt_status take_slice(const weight_slot *s, const ttt_tensor *source, ttt_tensor *part,
                             bool *copied) {
  if (s->slice.axis == SLICE_NONE || !ttt_dtype_is_grouped(source->dtype))
    return slice_row_major(s, source, part, copied);
  ttt_status st = slice_grouped(s, source, part);
  *copied = st == TTT_OK;
  return st;
}

/* Stores `part` for each mode, converted where the mode's dtype differs (copies the model owns). */
static ttt_status prepare_modes(ttt_causal_lm *model, const weight_slot *s, const ttt_tensor *part,
                                ttt_tensor prepared[MODES]) {
  for (int m = 0; m < MODES; m++) {
    ttt_dtype want = slot_dtype(s, m, part->dtype);
    if (want == part->dtype) {
      prepared[m] = *part;
    } else if (m == 1 && want == prepared[0].dtype) {
      prepared[m] = prepared[0];
    } else {
      ttt_status st = ttt_tensor_convert(part, want, &prepared[m]);
      if (st != TTT_OK) return ttt_error_prefix(st, "weight '%s'", s->path);
      st = own(model, &prepared[m]);
      if (st != TTT_OK) {
        ttt_tensor_free(&prepared[m]);
        return st;
      }
    }
    *s->dst[m] = prepared[m];
  }
  return TTT_OK;
}

/* Resolves one slot, keeps this rank's slice and stores per-mode views, converting where the
 * dtype differs. */
static ttt_status prepare_slot(ttt_causal_lm *model, const weight_slot *s,
                               ttt_weight_resolver resolver, void *user) {
  if (s->slice.axis == SLICE_ZERO) return prepare_zero_slot(model, s);
  ttt_tensor source;
  memset(&source, 0, sizeof source);
  ttt_status st = resolver(user, s->path, &source);
  if (st != TTT_OK) return ttt_error_prefix(st, "weight '%s'", s->path);
  st = check_resolved(s, &source);
  if (st != TTT_OK) return st;
  ttt_tensor part, prepared[MODES] = {{0}, {0}};
  bool copied = false;
  st = take_slice(s, &source, &part, &copied);
  if (st == TTT_OK) st = prepare_modes(model, s, &part, prepared);
  /* a column copy is kept only when a mode reads it unconverted */
  bool part_used = prepared[0].data == part.data || prepared[1].data == part.data;
  if (copied && (st != TTT_OK || !part_used)) ttt_tensor_free(&part);
  if (copied && st == TTT_OK && part_used && (st = own(model, &part)) != TTT_OK)
    ttt_tensor_free(&part);
  if (st != TTT_OK) return st;
  bool released =
      !points_into(prepared[0].data, &source) && !points_into(prepared[1].data, &source);
  if (released && !(s->alias && kept_in_place(model, &source))) resolver(user, s->path, NULL);
  model->decode_weight_bytes +=
      (int64_t)((1.0 - s->skip_share) * (double)ttt_tensor_nbytes(&prepared[1]));
  if (!s->alias) model->parameters += ttt_tensor_numel(&source);
  return TTT_OK;
}

static ttt_status create_ropes(ttt_causal_lm *model) {
  for (int64_t l = 0; l < model->spec.n_layers; l++) {
    const ttt_rope_spec *rs = ttt_decoder_layer_rope(&model->spec.layers[l]);
    if (rs->type == TTT_ROPE_NONE) continue;
    for (int64_t prev = 0; prev < l && !model->ropes[l]; prev++)
      if (model->ropes[prev] &&
          memcmp(rs, ttt_decoder_layer_rope(&model->spec.layers[prev]), sizeof *rs) == 0)
        model->ropes[l] = model->ropes[prev];
    if (model->ropes[l]) continue;
    ttt_status st = ttt_rope_create(rs, &model->ropes[l]);
    if (st != TTT_OK) return ttt_error_prefix(st, "layers.%lld.attention.rope", (long long)l);
    model->rope_owned[l] = true;
  }
  return TTT_OK;
}

static ttt_status allocate_mode_weights(ttt_causal_lm *model) {
  int64_t n = model->spec.n_layers;
  for (int64_t l = 0; l < n; l++)
    if (model->spec.layers[l].ffn.kind == TTT_FFN_MOE &&
        model->spec.layers[l].ffn.moe.n_experts > model->max_experts)
      model->max_experts = model->spec.layers[l].ffn.moe.n_experts;
  bool moe = model->max_experts > 0;
  for (int m = 0; m < MODES; m++) {
    mode_weights *w = &model->weights[m];
    w->layers = calloc((size_t)n, sizeof *w->layers);
    if (moe) w->experts = calloc((size_t)(n * model->max_experts), sizeof *w->experts);
    if (!w->layers || (moe && !w->experts))
      return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "causal_lm: out of memory");
    for (int64_t l = 0; moe && l < n; l++)
      w->layers[l].ffn.moe.experts = &w->experts[l * model->max_experts];
  }
  return TTT_OK;
}

static ttt_status resolve_weights(ttt_causal_lm *model, ttt_weight_resolver resolver, void *user) {
  slot_list list = {0};
  ttt_status st = build_slots(model, &list);
  for (int64_t i = 0; st == TTT_OK && i < list.count; i++)
    st = prepare_slot(model, &list.items[i], resolver, user);
  free(list.items);
  return st;
}

ttt_status ttt_causal_lm_create(const ttt_causal_lm_spec *spec,
                                const ttt_causal_lm_impl_config *impl, ttt_weight_resolver resolver,
                                void *user, ttt_causal_lm **out) {
  if (!spec || !impl || !resolver || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_causal_lm_create: NULL argument");
  *out = NULL;
  ttt_status st = ttt_causal_lm_spec_validate(spec);
  if (st != TTT_OK) return st;
  ttt_causal_lm *model = calloc(1, sizeof *model);
  if (!model) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "causal_lm: out of memory");
  model->full = *spec;
  model->impl = *impl;
  st = ttt_causal_lm_shard_plan(spec, impl->tp, &model->spec, &model->shard);
  if (st == TTT_OK) st = allocate_mode_weights(model);
  if (st == TTT_OK) st = resolve_weights(model, resolver, user);
  if (st == TTT_OK) st = create_ropes(model);
  if (st != TTT_OK) {
    ttt_causal_lm_destroy(model);
    return st;
  }
  *out = model;
  return TTT_OK;
}

void ttt_causal_lm_destroy(ttt_causal_lm *model) {
  if (!model) return;
  for (int64_t i = 0; i < model->n_owned; i++) ttt_tensor_free(&model->owned[i]);
  free(model->owned);
  for (int m = 0; m < MODES; m++) {
    free(model->weights[m].layers);
    free(model->weights[m].experts);
  }
  for (int64_t l = 0; l < TTT_MAX_LAYERS; l++)
    if (model->rope_owned[l]) ttt_rope_destroy(model->ropes[l]);
  free(model);
}

const ttt_causal_lm_spec *ttt_causal_lm_get_spec(const ttt_causal_lm *model) {
  return model ? &model->full : NULL;
}

const ttt_causal_lm_impl_config *ttt_causal_lm_get_impl_config(const ttt_causal_lm *model) {
  return model ? &model->impl : NULL;
}

int64_t ttt_causal_lm_decode_weight_bytes(const ttt_causal_lm *model) {
  return model ? model->decode_weight_bytes : 0;
}

int64_t ttt_causal_lm_parameter_count(const ttt_causal_lm *model) {
  return model ? model->parameters : 0;
}

/* A layer's cache: kv heads × head_dim, or one latent row (MLA). */
static ttt_kv_cache_layer_spec layer_cache_spec(const ttt_decoder_layer_spec *s, ttt_dtype dtype) {
  if (s->attention_kind == TTT_ATTENTION_KIND_MLA)
    return (ttt_kv_cache_layer_spec){.n_kv_heads = 1,
                                     .head_dim = ttt_mla_cache_values_per_token(&s->mla, NULL),
                                     .dtype = dtype,
                                     .latent = true};
  return (ttt_kv_cache_layer_spec){
      .n_kv_heads = s->attention.n_kv_heads,
      .head_dim = ttt_attention_head_dim(&s->attention),
      .dtype = dtype,
  };
}

ttt_status ttt_causal_lm_create_cache(const ttt_causal_lm *model, int64_t max_positions,
                                      ttt_kv_cache **out) {
  if (!model || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "create_cache: NULL argument");
  *out = NULL;
  const ttt_causal_lm_spec *s = &model->spec;
  ttt_kv_cache_spec *cache = calloc(1, sizeof *cache);
  if (!cache) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "create_cache: out of memory");
  cache->n_layers = s->n_layers;
  cache->max_positions = max_positions > 0 ? max_positions : s->max_positions;
  cache->dtype = TTT_F32;
  ttt_status st = TTT_OK;
  for (int64_t l = 0; l < s->n_layers && st == TTT_OK; l++) {
    const ttt_attention_spec *a = &s->layers[l].attention;
    bool mla = s->layers[l].attention_kind == TTT_ATTENTION_KIND_MLA;
    ttt_dtype decode = mla ? model->impl.decode.layers[l].mla.kv_dtype
                           : model->impl.decode.layers[l].attention.kv_dtype;
    ttt_dtype prefill = mla ? model->impl.prefill.layers[l].mla.kv_dtype
                            : model->impl.prefill.layers[l].attention.kv_dtype;
    if (prefill != TTT_DTYPE_DEFAULT && decode != TTT_DTYPE_DEFAULT && prefill != decode)
      st = ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "create_cache: layers.%lld.attention kv_dtype is %s in prefill but %s in "
                         "decode (one cache serves both)",
                         (long long)l, ttt_dtype_name(prefill), ttt_dtype_name(decode));
    ttt_dtype dtype = decode != TTT_DTYPE_DEFAULT ? decode : prefill;
    cache->layers[l] = layer_cache_spec(&s->layers[l], dtype);
    if (s->layers[l].attention_kind == TTT_ATTENTION_KIND_MHA)
      cache->sliding_window[l] = a->sliding_window;
  }
  cache->n_kv_heads = cache->layers[0].n_kv_heads;
  cache->head_dim = cache->layers[0].head_dim;
  if (st == TTT_OK) st = ttt_kv_cache_create(cache, out);
  free(cache);
  return st;
}

/* ---- forward ---- */

static ttt_status check_logits(const ttt_tensor *logits, int64_t rows, int64_t vocab) {
  if (!logits || logits->dtype != TTT_F32 || logits->ndim != 2 || logits->shape[0] != rows ||
      logits->shape[1] != vocab || !logits->data)
    return ttt_set_error(TTT_ERR_SHAPE, "logits must be a [%lld, %lld] f32 tensor", (long long)rows,
                         (long long)vocab);
  return TTT_OK;
}

typedef struct forward_args {
  const ttt_causal_lm *model;
  ttt_context *ctx;
  ttt_kv_cache *cache;
  ttt_mode mode;
  const int32_t *tokens;
  int64_t T, start_pos;
  bool last_only;
  ttt_tensor *logits;
  const ttt_observer *observer;
  /* Paged forwards (pool non-NULL): n_seqs sequences, sequence i has counts[i] consecutive rows
   * from position starts[i]; the T rows are all of theirs in order. */
  ttt_paged_kv *pool;
  const int32_t *seq_ids;
  const int64_t *starts, *counts;
  int64_t n_seqs;
  ttt_comm *comm; /* the context's communicator when the model is split (NULL otherwise) */
} forward_args;

/* Position of row t. */
static int64_t row_position(const forward_args *a, int64_t t) {
  if (!a->pool) return a->start_pos + t;
  for (int64_t i = 0; i < a->n_seqs; t -= a->counts[i], i++)
    if (t < a->counts[i]) return a->starts[i] + t;
  return -1; /* not reached: t < Σ counts */
}

/* The all-reduces layer l needs on this rank (none without tensor parallelism). */
static ttt_layer_parallel layer_parallel(const forward_args *a, int64_t l) {
  const ttt_layer_shard *shard = &a->model->shard.layers[l];
  return (ttt_layer_parallel){a->comm,
                              a->comm && shard->attention,
                              a->comm && shard->ffn,
                              shard->q_head0,
                              shard->kv_head0,
                              a->model->impl.tp.reduce_dtype == TTT_BF16};
}

/* One layer over the rows of the pool's sequences. */
static ttt_status paged_layer(const forward_args *a, int64_t l, const ttt_tensor *in,
                              ttt_tensor *out, const char *path) {
  const ttt_causal_lm *model = a->model;
  const ttt_causal_lm_mode_impl_config *impl =
      a->mode == TTT_MODE_DECODE ? &model->impl.decode : &model->impl.prefill;
  ttt_scratch_mark mark = ttt_scratch_save(a->ctx);
  ttt_attention_seq *seqs = ttt_scratch_alloc(a->ctx, (size_t)a->n_seqs * sizeof *seqs);
  if (!seqs) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t i = 0; i < a->n_seqs; i++)
    seqs[i] = (ttt_attention_seq){ttt_paged_kv_layer(a->pool, a->seq_ids[i], l), a->starts[i],
                                  a->counts[i]};
  ttt_layer_parallel tp = layer_parallel(a, l);
  ttt_status st = ttt_decoder_layer_seqs_forward(
      a->ctx, a->mode, &model->spec.layers[l], &impl->layers[l], &model->weights[a->mode].layers[l],
      model->ropes[l], seqs, a->n_seqs, in, out, path, a->observer, &tp);
  ttt_scratch_restore(a->ctx, mark);
  return st;
}

/* Runs the layers on the residual stream, ping-ponging between two buffers; returns the buffer
 * that holds the result in *result. */
static ttt_status run_layers(const forward_args *a, float *x, float *y, float **result) {
  const ttt_causal_lm *model = a->model;
  const ttt_causal_lm_mode_impl_config *impl =
      a->mode == TTT_MODE_DECODE ? &model->impl.decode : &model->impl.prefill;
  const mode_weights *w = &model->weights[a->mode];
  int64_t hidden = model->spec.embedding.dim;
  for (int64_t l = 0; l < model->spec.n_layers; l++) {
    ttt_tensor in = ttt_tensor_2d(TTT_F32, x, a->T, hidden),
               out = ttt_tensor_2d(TTT_F32, y, a->T, hidden);
    char path[32];
    snprintf(path, sizeof path, "layers.%lld", (long long)l);
    ttt_layer_parallel tp = layer_parallel(a, l);
    ttt_status st = a->pool ? paged_layer(a, l, &in, &out, path)
                            : ttt_decoder_layer_parallel_forward(
                                  a->ctx, a->mode, &model->spec.layers[l], &impl->layers[l],
                                  &w->layers[l], model->ropes[l], a->cache, l, &in, a->start_pos,
                                  &out, path, a->observer, &tp);
    if (st != TTT_OK) return st;
    float *swap = x;
    x = y;
    y = swap;
  }
  *result = x;
  return TTT_OK;
}

/* x += the position rows of [start_pos, start_pos + T), looked up into `rows` (T × hidden). */
static ttt_status add_position_embedding(const forward_args *a,
                                         const ttt_causal_lm_mode_impl_config *impl,
                                         const mode_weights *w, float *x, float *rows) {
  const ttt_causal_lm_spec *s = &a->model->spec;
  int64_t T = a->T, hidden = s->embedding.dim;
  for (int64_t t = 0; t < T; t++)
    if (row_position(a, t) < 0 || row_position(a, t) >= s->position_embedding.vocab)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "position_embedding: position %lld exceeds its %lld rows",
                           (long long)row_position(a, t), (long long)s->position_embedding.vocab);
  ttt_scratch_mark mark = ttt_scratch_save(a->ctx);
  int32_t *positions = ttt_scratch_alloc(a->ctx, (size_t)T * sizeof(int32_t));
  if (!positions) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t t = 0; t < T; t++) positions[t] = (int32_t)row_position(a, t);
  ttt_tensor rows_t = ttt_tensor_2d(TTT_F32, rows, T, hidden);
  ttt_status st = ttt_embedding_forward(a->ctx, &s->position_embedding, &impl->position_embedding,
                                        &w->position_embedding, positions, T, false, &rows_t);
  if (st == TTT_OK) {
    ttt_tensor ids = ttt_tensor_1d(TTT_I32, positions, T);
    ttt_observe(a->observer, "position_embedding", NULL, a->mode, a->start_pos, &ids, &rows_t);
    for (int64_t i = 0; i < T * hidden; i++) x[i] += rows[i];
  }
  ttt_scratch_restore(a->ctx, mark);
  return st != TTT_OK ? ttt_error_prefix(st, "position_embedding") : TTT_OK;
}

/* The communicator a split model runs over: the context's, which must be the rank and size the
 * model was built for. *comm is NULL for a model that is not split. */
static ttt_status context_comm(const ttt_causal_lm *model, ttt_context *ctx, ttt_comm **comm) {
  *comm = NULL;
  if (model->shard.size <= 1) return TTT_OK;
  ttt_comm *c = ttt_context_device(ctx)->comm;
  if (ttt_comm_size(c) != model->shard.size || ttt_comm_rank(c) != model->shard.rank)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "causal_lm: the model is rank %d of %d (impl.tp) but the context's "
                         "communicator is rank %d of %d",
                         (int)model->shard.rank, (int)model->shard.size, (int)ttt_comm_rank(c),
                         (int)ttt_comm_size(c));
  *comm = c;
  return TTT_OK;
}

/* The embedding over the vocabulary split: each rank writes the rows of the tokens it holds and
 * zeros for the others; the all-reduce then adds one row to zeros, exactly. */
static ttt_status split_embedding(const forward_args *a, const ttt_causal_lm_mode_impl_config *impl,
                                  const mode_weights *w, ttt_tensor *x) {
  const ttt_causal_lm *model = a->model;
  const ttt_embedding_spec *mine = &model->spec.embedding;
  int64_t first = model->shard.embedding0, hidden = mine->dim;
  for (int64_t t = 0; t < a->T; t++)
    if (a->tokens[t] < 0 || a->tokens[t] >= model->full.embedding.vocab)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "token id %d at index %lld is outside [0, %lld)",
                           (int)a->tokens[t], (long long)t, (long long)model->full.embedding.vocab);
  float *rows = x->data;
  for (int64_t t = 0; t < a->T; t++) {
    int32_t id = (int32_t)(a->tokens[t] - first);
    ttt_tensor row = ttt_tensor_2d(TTT_F32, rows + t * hidden, 1, hidden);
    ttt_status st = id >= 0 && id < mine->vocab
                        ? ttt_embedding_forward(a->ctx, mine, &impl->embedding, &w->embedding, &id,
                                                1, false, &row)
                        : TTT_OK;
    if (st != TTT_OK) return st;
    if (id < 0 || id >= mine->vocab) memset(row.data, 0, (size_t)hidden * sizeof(float));
  }
  return ttt_comm_all_reduce_sum_f32(a->comm, rows, a->T * hidden);
}

/* The LM head over the vocabulary split: this rank's logits columns, then an all-gather of every
 * rank's [rows, its vocab] block and a transpose of the blocks into [rows, vocab]. */
static ttt_status split_lm_head(const forward_args *a, const ttt_causal_lm_mode_impl_config *impl,
                                const mode_weights *w, const ttt_tensor *normed) {
  const ttt_causal_lm *model = a->model;
  int32_t size = model->shard.size;
  int64_t rows = normed->shape[0], vocab = model->full.lm_head.vocab;
  int64_t my_vocab = model->spec.lm_head.vocab;
  ttt_scratch_mark mark = ttt_scratch_save(a->ctx);
  float *mine = ttt_scratch_alloc(a->ctx, (size_t)(rows * my_vocab) * sizeof(float));
  float *blocks = ttt_scratch_alloc(a->ctx, (size_t)(rows * vocab) * sizeof(float));
  int64_t *bytes = ttt_scratch_alloc(a->ctx, (size_t)size * sizeof *bytes);
  if (!mine || !blocks || !bytes) {
    ttt_scratch_restore(a->ctx, mark);
    return TTT_ERR_OUT_OF_MEMORY;
  }
  ttt_tensor mine_t = ttt_tensor_2d(TTT_F32, mine, rows, my_vocab);
  ttt_status st = ttt_lm_head_forward(a->ctx, &model->spec.lm_head, &impl->lm_head, &w->lm_head,
                                      normed, false, &mine_t);
  int64_t begin = 0;
  for (int32_t r = 0; r < size; r++)
    bytes[r] = rows * ttt_lm_shard_rows(vocab, r, size, &begin) * (int64_t)sizeof(float);
  if (st == TTT_OK) st = ttt_comm_all_gather(a->comm, mine, blocks, bytes);
  float *logits = a->logits->data;
  const float *block = blocks;
  for (int32_t r = 0; st == TTT_OK && r < size; r++) {
    int64_t n = ttt_lm_shard_rows(vocab, r, size, &begin);
    for (int64_t t = 0; t < rows; t++)
      memcpy(logits + t * vocab + begin, block + t * n, (size_t)n * sizeof(float));
    block += rows * n;
  }
  ttt_scratch_restore(a->ctx, mark);
  return st;
}

static ttt_status forward(const forward_args *args) {
  forward_args with_comm = *args; /* the entry points' arguments plus the communicator */
  const forward_args *a = &with_comm;
  const ttt_causal_lm *model = a->model;
  const ttt_causal_lm_spec *s = &model->spec;
  const ttt_causal_lm_mode_impl_config *impl =
      a->mode == TTT_MODE_DECODE ? &model->impl.decode : &model->impl.prefill;
  const mode_weights *w = &model->weights[a->mode];
  int64_t hidden = s->embedding.dim, T = a->T;
  ttt_status st = check_logits(a->logits, a->last_only ? 1 : T, model->full.lm_head.vocab);
  if (st == TTT_OK) st = context_comm(model, a->ctx, &with_comm.comm);
  /* A paged forward takes all its blocks before any compute: a capacity failure changes nothing. */
  if (st == TTT_OK && a->pool)
    st = ttt_paged_kv_reserve(a->pool, a->seq_ids, a->starts, a->counts, a->n_seqs);
  if (st != TTT_OK) return st;
  ttt_scratch_mark mark = ttt_scratch_save(a->ctx);
  float *x = ttt_scratch_alloc(a->ctx, (size_t)(T * hidden) * sizeof(float));
  float *y = ttt_scratch_alloc(a->ctx, (size_t)(T * hidden) * sizeof(float));
  if (!x || !y) {
    ttt_scratch_restore(a->ctx, mark);
    return TTT_ERR_OUT_OF_MEMORY;
  }
  ttt_tensor x_t = ttt_tensor_2d(TTT_F32, x, T, hidden);
  st = a->comm ? split_embedding(a, impl, w, &x_t)
               : ttt_embedding_forward(a->ctx, &s->embedding, &impl->embedding, &w->embedding,
                                       a->tokens, T, false, &x_t);
  if (st != TTT_OK) {
    ttt_scratch_restore(a->ctx, mark);
    return ttt_error_prefix(st, "embedding");
  }
  ttt_tensor ids = ttt_tensor_1d(TTT_I32, (void *)a->tokens, T);
  ttt_observe(a->observer, "embedding", NULL, a->mode, a->start_pos, &ids, &x_t);
  if (has_position_embedding(s)) {
    st = add_position_embedding(a, impl, w, x, y);
    if (st != TTT_OK) {
      ttt_scratch_restore(a->ctx, mark);
      return st;
    }
  }

  float *h = NULL;
  st = run_layers(a, x, y, &h);
  if (st == TTT_OK) {
    /* Only the last row is needed for last_only logits. */
    int64_t rows = a->last_only ? 1 : T;
    float *other = h == x ? y : x;
    ttt_tensor h_t = ttt_tensor_2d(TTT_F32, h + (T - rows) * hidden, rows, hidden);
    ttt_tensor n_t = ttt_tensor_2d(TTT_F32, other, rows, hidden);
    st = ttt_norm_forward(a->ctx, &s->norm, &impl->norm, &w->norm, &h_t, &n_t);
    if (st != TTT_OK) st = ttt_error_prefix(st, "norm");
    if (st == TTT_OK) {
      ttt_observe(a->observer, "norm", NULL, a->mode, a->start_pos + T - rows, &h_t, &n_t);
      st = a->comm ? split_lm_head(a, impl, w, &n_t)
                   : ttt_lm_head_forward(a->ctx, &s->lm_head, &impl->lm_head, &w->lm_head, &n_t,
                                         false, a->logits);
      if (st != TTT_OK) st = ttt_error_prefix(st, "lm_head");
    }
    if (st == TTT_OK)
      ttt_observe(a->observer, "lm_head", NULL, a->mode, a->start_pos + T - rows, &n_t, a->logits);
  }
  ttt_scratch_restore(a->ctx, mark);
  return st;
}

ttt_status ttt_causal_lm_prefill_forward(const ttt_causal_lm *model, ttt_context *ctx,
                                         ttt_kv_cache *cache, const int32_t *tokens, int64_t T,
                                         int64_t start_pos, bool last_only, ttt_tensor *logits,
                                         const ttt_observer *observer) {
  if (!model || !ctx || !cache || !tokens || !logits)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm prefill: NULL argument");
  if (T < 1) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm prefill: T must be >= 1");
  forward_args a = {.model = model,
                    .ctx = ctx,
                    .cache = cache,
                    .mode = TTT_MODE_PREFILL,
                    .tokens = tokens,
                    .T = T,
                    .start_pos = start_pos,
                    .last_only = last_only,
                    .logits = logits,
                    .observer = observer};
  return forward(&a);
}

ttt_status ttt_causal_lm_create_paged_kv(const ttt_causal_lm *model, int64_t n_blocks,
                                         int64_t block_positions, ttt_paged_kv **out) {
  if (!model || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "create_paged_kv: NULL argument");
  *out = NULL;
  /* The layers as ttt_causal_lm_create_cache shapes them (one-position cache, spec kept). */
  ttt_kv_cache *probe = NULL;
  ttt_status st = ttt_causal_lm_create_cache(model, 1, &probe);
  if (st != TTT_OK) return st;
  ttt_kv_cache_spec *spec = malloc(sizeof *spec);
  if (spec) {
    *spec = *ttt_kv_cache_get_spec(probe);
    spec->max_positions = model->spec.max_positions;
    st = ttt_paged_kv_create(spec, block_positions, n_blocks, out);
  } else {
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "create_paged_kv: out of memory");
  }
  free(spec);
  ttt_kv_cache_destroy(probe);
  return st;
}

ttt_status ttt_causal_lm_prefill_paged(const ttt_causal_lm *model, ttt_context *ctx,
                                       ttt_paged_kv *pool, int32_t seq_id, const int32_t *tokens,
                                       int64_t T, int64_t start_pos, bool last_only,
                                       ttt_tensor *logits, const ttt_observer *observer) {
  if (!model || !ctx || !pool || !tokens || !logits)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm prefill_paged: NULL argument");
  if (T < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm prefill_paged: T must be >= 1");
  forward_args a = {model,  ctx,      NULL, TTT_MODE_PREFILL, tokens,     T,  start_pos, last_only,
                    logits, observer, pool, &seq_id,          &start_pos, &T, 1,         NULL};
  return forward(&a);
}

ttt_status ttt_causal_lm_decode_batch_forward(const ttt_causal_lm *model, ttt_context *ctx,
                                              ttt_paged_kv *pool, const int32_t *seq_ids,
                                              const int32_t *tokens, const int64_t *positions,
                                              int64_t B, ttt_tensor *logits,
                                              const ttt_observer *observer) {
  if (!model || !ctx || !pool || !seq_ids || !tokens || !positions || !logits)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm decode_batch: NULL argument");
  if (B < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm decode_batch: B must be >= 1");
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  int64_t *ones = ttt_scratch_alloc(ctx, (size_t)B * sizeof *ones);
  if (!ones) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t b = 0; b < B; b++) ones[b] = 1;
  forward_args a = {
      model,    ctx,  NULL,    TTT_MODE_DECODE, tokens, B, positions[0], false, logits,
      observer, pool, seq_ids, positions,       ones,   B, NULL};
  /* Every GEMM of the step sums each row as a one-row decode does (see the header). */
  bool previous = ttt_context_set_row_invariant(ctx, true);
  ttt_status st = forward(&a);
  ttt_context_set_row_invariant(ctx, previous);
  ttt_scratch_restore(ctx, mark);
  return st;
}

ttt_status ttt_causal_lm_decode_forward(const ttt_causal_lm *model, ttt_context *ctx,
                                        ttt_kv_cache *cache, int32_t token, int64_t pos,
                                        ttt_tensor *logits, const ttt_observer *observer) {
  if (!model || !ctx || !cache || !logits)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm decode: NULL argument");
  forward_args a = {.model = model,
                    .ctx = ctx,
                    .cache = cache,
                    .mode = TTT_MODE_DECODE,
                    .tokens = &token,
                    .T = 1,
                    .start_pos = pos,
                    .logits = logits,
                    .observer = observer};
  return forward(&a);
}

/* ---- module access ---- */

static const char *const block_kind_names[TTT_BLOCK_KIND_COUNT] = {
    [TTT_BLOCK_NONE] = "none",
    [TTT_BLOCK_EMBEDDING] = "embedding",
    [TTT_BLOCK_NORM] = "norm",
    [TTT_BLOCK_ATTENTION] = "attention",
    [TTT_BLOCK_MLP] = "mlp",
    [TTT_BLOCK_MOE] = "moe",
    [TTT_BLOCK_FFN] = "ffn",
    [TTT_BLOCK_LM_HEAD] = "lm_head",
    [TTT_BLOCK_DECODER_LAYER] = "decoder_layer",
    [TTT_BLOCK_MLA] = "mla",
};

const char *ttt_block_kind_name(ttt_block_kind kind) {
  return (unsigned)kind < TTT_BLOCK_KIND_COUNT ? block_kind_names[kind] : "none";
}

/* The spec module views point into: the caller's when the model is whole (so views and
 * ttt_causal_lm_get_spec agree), the rank's share when it is split. */
static const ttt_causal_lm_spec *view_spec(const ttt_causal_lm *model) {
  return model->shard.size > 1 ? &model->spec : &model->full;
}

/* The module of layer `l` named by `rest` ("" for the layer itself, or ".attention" etc.). */
static bool layer_module(const ttt_causal_lm *model, ttt_mode mode, int64_t l, const char *rest,
                         ttt_module_view *out) {
  const ttt_decoder_layer_spec *s = &view_spec(model)->layers[l];
  const ttt_decoder_layer_impl_config *i =
      mode == TTT_MODE_DECODE ? &model->impl.decode.layers[l] : &model->impl.prefill.layers[l];
  const ttt_decoder_layer_weights *w = &model->weights[mode].layers[l];
  *out = (ttt_module_view){.kind = TTT_BLOCK_NONE, .layer = -1};
  if (strcmp(rest, "") == 0)
    *out = (ttt_module_view){TTT_BLOCK_DECODER_LAYER, s, i, w, l, model->ropes[l]};
  else if (strcmp(rest, ".attention_norm") == 0)
    *out = (ttt_module_view){
        TTT_BLOCK_NORM, &s->attention_norm, &i->attention_norm, &w->attention_norm, l, NULL};
  else if (strcmp(rest, ".attention") == 0 && s->attention_kind == TTT_ATTENTION_KIND_MLA)
    *out = (ttt_module_view){TTT_BLOCK_MLA, &s->mla, &i->mla, &w->mla, l, model->ropes[l]};
  else if (strcmp(rest, ".attention") == 0)
    *out = (ttt_module_view){TTT_BLOCK_ATTENTION, &s->attention, &i->attention, &w->attention, l,
                             model->ropes[l]};
  else if (strcmp(rest, ".ffn_norm") == 0)
    *out = (ttt_module_view){TTT_BLOCK_NORM, &s->ffn_norm, &i->ffn_norm, &w->ffn_norm, l, NULL};
  else if (strcmp(rest, ".ffn") == 0)
    *out = (ttt_module_view){TTT_BLOCK_FFN, &s->ffn, &i->ffn, &w->ffn, l, NULL};
  else if (strcmp(rest, ".post_attention_norm") == 0)
    *out = (ttt_module_view){TTT_BLOCK_NORM,
                             &s->post_attention_norm,
                             &i->post_attention_norm,
                             &w->post_attention_norm,
                             l,
                             NULL};
  else if (strcmp(rest, ".post_ffn_norm") == 0)
    *out = (ttt_module_view){
        TTT_BLOCK_NORM, &s->post_ffn_norm, &i->post_ffn_norm, &w->post_ffn_norm, l, NULL};
  /* a norm the topology does not use is not a module of this model */
  if (out->kind == TTT_BLOCK_NORM && !ttt_decoder_layer_uses_norm(s, rest + 1))
    *out = (ttt_module_view){.kind = TTT_BLOCK_NONE, .layer = -1};
  return out->kind != TTT_BLOCK_NONE;
}

ttt_status ttt_causal_lm_module(const ttt_causal_lm *model, ttt_mode mode, const char *path,
                                ttt_module_view *out) {
  if (!model || !path || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm module: NULL argument");
  if (mode != TTT_MODE_PREFILL && mode != TTT_MODE_DECODE)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "causal_lm module: unknown mode %d", (int)mode);
  const ttt_causal_lm_mode_impl_config *impl =
      mode == TTT_MODE_DECODE ? &model->impl.decode : &model->impl.prefill;
  const mode_weights *w = &model->weights[mode];
  if (strcmp(path, "embedding") == 0) {
    *out = (ttt_module_view){TTT_BLOCK_EMBEDDING,
                             &view_spec(model)->embedding,
                             &impl->embedding,
                             &w->embedding,
                             -1,
                             NULL};
    return TTT_OK;
  }
  if (strcmp(path, "position_embedding") == 0 && has_position_embedding(view_spec(model))) {
    *out = (ttt_module_view){TTT_BLOCK_EMBEDDING,
                             &view_spec(model)->position_embedding,
                             &impl->position_embedding,
                             &w->position_embedding,
                             -1,
                             NULL};
    return TTT_OK;
  }
  if (strcmp(path, "norm") == 0) {
    *out =
        (ttt_module_view){TTT_BLOCK_NORM, &view_spec(model)->norm, &impl->norm, &w->norm, -1, NULL};
    return TTT_OK;
  }
  if (strcmp(path, "lm_head") == 0) {
    *out = (ttt_module_view){
        TTT_BLOCK_LM_HEAD, &view_spec(model)->lm_head, &impl->lm_head, &w->lm_head, -1, NULL};
    return TTT_OK;
  }
  if (strncmp(path, "layers.", 7) == 0 && path[7] >= '0' && path[7] <= '9') {
    char *end = NULL;
    long long l = strtoll(path + 7, &end, 10);
    if (l < view_spec(model)->n_layers && layer_module(model, mode, (int64_t)l, end, out))
      return TTT_OK;
  }
  return ttt_set_error(TTT_ERR_NOT_FOUND,
                       "causal_lm: no module '%s' (expected embedding, position_embedding when "
                       "the spec has one, layers.N[.attention_norm|.attention|.post_attention_norm"
                       "|.ffn_norm|.ffn|.post_ffn_norm] with N < %lld and the norm used by the "
                       "layer's topology, norm or lm_head)",
                       path, (long long)view_spec(model)->n_layers);
}

int64_t ttt_causal_lm_converted_bytes(const ttt_causal_lm *model) {
  int64_t bytes = 0;
  for (int64_t i = 0; model && i < model->n_owned; i++)
    bytes += (int64_t)ttt_tensor_nbytes(&model->owned[i]);
  return bytes;
}

ttt_status ttt_causal_lm_weight(const ttt_causal_lm *model, ttt_mode mode, const char *path,
                                ttt_tensor *out) {
  if (!model || !path || !out || (unsigned)mode >= MODES)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_causal_lm_weight: invalid argument");
  /* The slot table records where each weight is stored; building it only takes addresses. */
  slot_list list = {0};
  ttt_status st = build_slots((ttt_causal_lm *)model, &list);
  for (int64_t i = 0; st == TTT_OK && i < list.count; i++) {
    /* A tied LM head's slot reads "embedding.table"; "lm_head.weight" still names the head. */
    bool tied_head = list.items[i].alias && strcmp(path, "lm_head.weight") == 0;
    if (!tied_head && strcmp(list.items[i].path, path) != 0) continue;
    *out = *list.items[i].dst[mode];
    free(list.items);
    return TTT_OK;
  }
  free(list.items);
  if (st != TTT_OK) return st;
  return ttt_set_error(TTT_ERR_NOT_FOUND, "causal_lm: no weight '%s'", path);
}
