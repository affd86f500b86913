/*
 * Encoder: word + optional position + optional token-type embeddings → norm → N layers (post-norm
 * as BERT, or pre-norm with rope, a gated MLP and local windows as ModernBERT) → optional final
 * norm → optional pooler tanh(W · h[:, 0] + b). Positions start at an offset and may count only
 * the non-pad tokens (see ttt_encoder_spec).
 *
 * Activations are [B, T, hidden] f32 (B sequences of T tokens, padded to the same length; the
 * attention mask keeps padded keys out of every softmax). The layers ping-pong between the
 * caller's `hidden` tensor and one scratch buffer; the first buffer is chosen from the parity of
 * n_layers so that the last layer writes straight into `hidden` (no final copy).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "building_blocks/block_util.h"
#include "patterns_internal.h"
#include "runtime/kernels.h"
#include "runtime/runtime.h"

/* Longest module or weight path: "layers.127.attention_norm.weight" and the like. */
enum { PATH_MAX_LEN = 96 };

struct ttt_encoder {
  ttt_encoder_spec spec;
  ttt_encoder_impl_config impl;
  ttt_embedding_weights word, position, token_type;
  ttt_norm_weights embedding_norm;
  ttt_encoder_layer_weights *layers; /* spec.n_layers entries */
  ttt_rope *ropes[TTT_MAX_LAYERS];   /* per layer: the tables of its attention's rope, or NULL */
  ttt_norm_weights norm;
  ttt_lm_head_spec pooler_spec; /* [hidden, hidden] with bias, when spec.pooler */
  ttt_lm_head_weights pooler;
  /* Weights converted to the impl config's dtypes (the other views point into the caller's
   * storage, e.g. an mmapped checkpoint). Freed by destroy. */
  ttt_tensor *owned;
  int64_t n_owned, cap_owned;
};

/* ---- Spec validation ---- */

static ttt_status check_dim(const char *field, int64_t dim, int64_t hidden) {
  if (dim == hidden) return TTT_OK;
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                       "encoder spec: %s (%lld) must equal the hidden size word.dim (%lld)", field,
                       (long long)dim, (long long)hidden);
}

/* `where` names the layer in messages ("layers[3]"). */
/* A pre-norm layer's attention_norm of dim 0 is the identity. */
static bool has_attention_norm(const ttt_encoder_layer_spec *l) {
  return !l->pre_norm || l->attention_norm.dim != 0;
}

static ttt_status validate_layer(const ttt_encoder_layer_spec *l, int64_t hidden,
                                 const char *where) {
  ttt_status st = ttt_attention_spec_validate(&l->attention);
  if (st != TTT_OK) return ttt_error_prefix(st, "encoder spec: %s.attention", where);
  if (!l->attention.bidirectional)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder spec: %s.attention.bidirectional must be set", where);
  st = has_attention_norm(l) ? ttt_norm_spec_validate(&l->attention_norm) : TTT_OK;
  if (st != TTT_OK) return ttt_error_prefix(st, "encoder spec: %s.attention_norm", where);
  st = ttt_mlp_spec_validate(&l->ffn);
  if (st != TTT_OK) return ttt_error_prefix(st, "encoder spec: %s.ffn", where);
  st = ttt_norm_spec_validate(&l->ffn_norm);
  if (st != TTT_OK) return ttt_error_prefix(st, "encoder spec: %s.ffn_norm", where);

  char field[PATH_MAX_LEN];
  const struct {
    const char *name;
    int64_t dim;
  } dims[] = {{"attention.hidden", l->attention.hidden},
              {"attention_norm.dim", has_attention_norm(l) ? l->attention_norm.dim : hidden},
              {"ffn.hidden", l->ffn.hidden},
              {"ffn_norm.dim", l->ffn_norm.dim}};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    snprintf(field, sizeof field, "%s.%s", where, dims[i].name);
    st = check_dim(field, dims[i].dim, hidden);
    if (st != TTT_OK) return st;
  }
  return TTT_OK;
}

static bool has_token_types(const ttt_encoder_spec *spec) {
  return spec->token_type.vocab != 0 || spec->token_type.dim != 0;
}

static bool has_positions(const ttt_encoder_spec *spec) {
  return spec->position.vocab != 0 || spec->position.dim != 0;
}

static bool has_final_norm(const ttt_encoder_spec *spec) { return spec->norm.dim != 0; }

static ttt_status validate_positions(const ttt_encoder_spec *spec) {
  if (!has_positions(spec)) {
    if (spec->position_offset == 0 && !spec->positions_skip_padding) return TTT_OK;
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder spec: position_offset and positions_skip_padding need a "
                         "position embedding");
  }
  if (spec->position_offset < 0 || spec->position_offset >= spec->position.vocab)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder spec: position_offset (%d) must be in [0, position.vocab %lld)",
                         (int)spec->position_offset, (long long)spec->position.vocab);
  if (!spec->positions_skip_padding) return TTT_OK;
  if (spec->position_offset < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder spec: positions_skip_padding needs position_offset >= 1 (pad "
                         "tokens read row position_offset - 1)");
  if (spec->pad_token_id < 0 || spec->pad_token_id >= spec->word.vocab)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder spec: pad_token_id (%d) must be in [0, word.vocab %lld)",
                         (int)spec->pad_token_id, (long long)spec->word.vocab);
  return TTT_OK;
}

ttt_status ttt_encoder_spec_validate(const ttt_encoder_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "encoder spec: NULL");
  const struct {
    const char *name;
    const ttt_embedding_spec *emb;
    bool present;
  } embeddings[] = {{"word", &spec->word, true},
                    {"position", &spec->position, has_positions(spec)},
                    {"token_type", &spec->token_type, has_token_types(spec)}};
  for (size_t i = 0; i < sizeof embeddings / sizeof embeddings[0]; i++) {
    if (!embeddings[i].present) continue;
    ttt_status st = ttt_embedding_spec_validate(embeddings[i].emb);
    if (st != TTT_OK) return ttt_error_prefix(st, "encoder spec: %s", embeddings[i].name);
  }
  int64_t hidden = spec->word.dim;
  ttt_status st =
      has_positions(spec) ? check_dim("position.dim", spec->position.dim, hidden) : TTT_OK;
  if (st == TTT_OK && has_token_types(spec))
    st = check_dim("token_type.dim", spec->token_type.dim, hidden);
  if (st == TTT_OK) st = validate_positions(spec);
  if (st != TTT_OK) return st;
  st = ttt_norm_spec_validate(&spec->embedding_norm);
  if (st != TTT_OK) return ttt_error_prefix(st, "encoder spec: embedding_norm");
  st = check_dim("embedding_norm.dim", spec->embedding_norm.dim, hidden);
  if (st != TTT_OK) return st;
  if (has_final_norm(spec)) {
    st = ttt_norm_spec_validate(&spec->norm);
    if (st != TTT_OK) return ttt_error_prefix(st, "encoder spec: norm");
    st = check_dim("norm.dim", spec->norm.dim, hidden);
    if (st != TTT_OK) return st;
  }
  if (spec->n_layers < 1 || spec->n_layers > TTT_MAX_LAYERS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder spec: n_layers (%lld) must be in [1, %d]",
                         (long long)spec->n_layers, TTT_MAX_LAYERS);
  for (int64_t i = 0; i < spec->n_layers; i++) {
    char where[32];
    snprintf(where, sizeof where, "layers[%lld]", (long long)i);
    st = validate_layer(&spec->layers[i], hidden, where);
    if (st != TTT_OK) return st;
  }
  return TTT_OK;
}

/* ---- Default impl configs ---- */

/* Projection dtypes per strategy (attention, ffn and pooler matmuls). Embedding tables and norms
 * stay as the blocks' accuracy defaults in both strategies. */
typedef struct projection_dtypes {
  ttt_dtype weight_dtype;
  ttt_dtype activation_dtype;
} projection_dtypes;

static const projection_dtypes projection_defaults[] = {
    [TTT_STRATEGY_ACCURACY] = {TTT_F32, TTT_F32},
    [TTT_STRATEGY_PERFORMANCE] = {TTT_Q8_0, TTT_Q8_0},
};

/* q8_0 blocks run along the input dim: when an input dim is not a multiple of 32 the performance
 * strategy falls back to bf16 weights with f32 activations. */
static const projection_dtypes q8_0_fallback = {TTT_BF16, TTT_F32};

static projection_dtypes projection_for(ttt_strategy strategy, int64_t in_dim_a, int64_t in_dim_b) {
  projection_dtypes d = projection_defaults[strategy];
  if (d.weight_dtype == TTT_Q8_0 &&
      (in_dim_a % TTT_Q8_0_BLOCK != 0 || in_dim_b % TTT_Q8_0_BLOCK != 0))
    return q8_0_fallback;
  return d;
}

/* q8_0 weights with q8_0 activations in the layout the device's kernels read without repacking
 * (q8_0_g16 with AVX-512 VNNI), as ttt_causal_lm_impl_config_place_weights does. */
static projection_dtypes placed(const ttt_device *device, ttt_kernel kernel, projection_dtypes d) {
  if (d.activation_dtype == TTT_Q8_0)
    d.weight_dtype = ttt_gemm_storage_dtype(device, kernel, d.weight_dtype);
  return d;
}

static int64_t attention_q_dim(const ttt_attention_spec *a) {
  int64_t head_dim = ttt_attention_head_dim(a);
  return a->n_heads * head_dim;
}

static ttt_encoder_layer_impl_config default_layer_impl(const ttt_device *device,
                                                        ttt_strategy strategy,
                                                        const ttt_encoder_layer_spec *l) {
  const ttt_mode mode = TTT_MODE_PREFILL; /* an encoder processes whole sequences */
  ttt_encoder_layer_impl_config c = {
      .attention = ttt_attention_default_impl_config(device, mode, &l->attention),
      .attention_norm = ttt_norm_default_impl_config(device, mode, &l->attention_norm),
      .ffn = ttt_mlp_default_impl_config(device, mode, &l->ffn),
      .ffn_norm = ttt_norm_default_impl_config(device, mode, &l->ffn_norm)};
  projection_dtypes attn =
      placed(device, c.attention.kernel,
             projection_for(strategy, l->attention.hidden, attention_q_dim(&l->attention)));
  c.attention.weight_dtype = attn.weight_dtype;
  c.attention.activation_dtype = attn.activation_dtype;
  projection_dtypes ffn =
      placed(device, c.ffn.kernel, projection_for(strategy, l->ffn.hidden, l->ffn.intermediate));
  if (!has_attention_norm(l)) c.attention_norm = (ttt_norm_impl_config){0};
  c.ffn.weight_dtype = ffn.weight_dtype;
  c.ffn.activation_dtype = ffn.activation_dtype;
  return c;
}

static ttt_lm_head_spec pooler_spec_of(const ttt_encoder_spec *spec) {
  return (ttt_lm_head_spec){.hidden = spec->word.dim, .vocab = spec->word.dim, .bias = true};
}

ttt_status ttt_encoder_default_impl_config(const ttt_device *device, ttt_strategy strategy,
                                           const ttt_encoder_spec *spec,
                                           ttt_encoder_impl_config *out) {
  if (!out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "encoder default impl config: out is NULL");
  if (strategy != TTT_STRATEGY_ACCURACY && strategy != TTT_STRATEGY_PERFORMANCE)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder default impl config: strategy (%d) is not accuracy or "
                         "performance",
                         (int)strategy);
  ttt_status st = ttt_encoder_spec_validate(spec);
  if (st != TTT_OK) return st;
  const ttt_mode mode = TTT_MODE_PREFILL;
  ttt_encoder_impl_config c;
  memset(&c, 0, sizeof c);
  c.embeddings = ttt_embedding_default_impl_config(device, mode, &spec->word);
  c.embedding_norm = ttt_norm_default_impl_config(device, mode, &spec->embedding_norm);
  for (int64_t i = 0; i < spec->n_layers; i++)
    c.layers[i] = default_layer_impl(device, strategy, &spec->layers[i]);
  if (has_final_norm(spec)) c.norm = ttt_norm_default_impl_config(device, mode, &spec->norm);
  ttt_lm_head_spec pooler = pooler_spec_of(spec);
  c.pooler = ttt_lm_head_default_impl_config(device, mode, &pooler);
  projection_dtypes p =
      placed(device, c.pooler.kernel, projection_for(strategy, pooler.hidden, pooler.hidden));
  c.pooler.weight_dtype = p.weight_dtype;
  c.pooler.activation_dtype = p.activation_dtype;
  *out = c;
  return TTT_OK;
}

/* ---- Encoder layer ---- */

static void emit(const ttt_observer *observer, const char *prefix, const char *name,
                 const ttt_tensor *input, const ttt_tensor *output) {
  /* the shared reporter (paths of any length, never truncated); a layer without a path is "" */
  bool has_prefix = prefix && prefix[0];
  ttt_observe(observer, has_prefix ? prefix : NULL, has_prefix || name ? name : "",
              TTT_MODE_PREFILL, 0, input, output);
}

/* y[i] += x[i] (the residual connections). */
static void add_into(float *y, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

/* An f32 [B, T, hidden] activation tensor. */
static ttt_status check_activation(const ttt_tensor *t, const char *name, int64_t B, int64_t T,
                                   int64_t hidden) {
  ttt_status st = ttt_tensor_check(t, name);
  if (st != TTT_OK) return st;
  if (t->dtype != TTT_F32)
    return ttt_set_error(TTT_ERR_DTYPE, "%s: dtype %s, expected f32", name,
                         ttt_dtype_name(t->dtype));
  if (t->ndim != 3 || (B >= 0 && t->shape[0] != B) || (T >= 0 && t->shape[1] != T) ||
      t->shape[2] != hidden)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "%s: shape must be [B, T, %lld]%s, got ndim %d [%lld, %lld, %lld]", name,
                         (long long)hidden, B >= 0 ? " matching x" : "", (int)t->ndim,
                         (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2]);
  return TTT_OK;
}

/* A layer's arguments once checked; a and h are scratch [B, T, hidden] buffers. */
typedef struct layer_args {
  const ttt_encoder_layer_spec *spec;
  const ttt_encoder_layer_impl_config *impl;
  const ttt_encoder_layer_weights *w;
  const ttt_rope *rope; /* NULL without rope */
  const ttt_tensor *x;
  const uint8_t *key_mask;
  ttt_tensor *out, *a, *h;
  const char *path;
  const ttt_observer *observer;
} layer_args;

static const char *where_of(const layer_args *l) {
  return l->path && l->path[0] ? l->path : "encoder layer"; /* for error messages */
}

static ttt_status attention_run(ttt_context *ctx, const layer_args *l, const ttt_tensor *in,
                                ttt_tensor *out) {
  ttt_status st = ttt_attention_forward(ctx, &l->spec->attention, &l->impl->attention,
                                        &l->w->attention, l->rope, in, l->key_mask, out);
  if (st != TTT_OK) return ttt_error_prefix(st, "%s.attention", where_of(l));
  emit(l->observer, l->path, "attention", in, out);
  return TTT_OK;
}

static ttt_status norm_run(ttt_context *ctx, const layer_args *l, const char *name,
                           const ttt_norm_spec *spec, const ttt_norm_impl_config *impl,
                           const ttt_norm_weights *w, const ttt_tensor *in, ttt_tensor *out) {
  ttt_status st = ttt_norm_forward(ctx, spec, impl, w, in, out);
  if (st != TTT_OK) return ttt_error_prefix(st, "%s.%s", where_of(l), name);
  emit(l->observer, l->path, name, in, out);
  return TTT_OK;
}

/* The MLP over [B·T, hidden] rows of `in` into `out`. */
static ttt_status ffn_run(ttt_context *ctx, const layer_args *l, const ttt_tensor *in,
                          ttt_tensor *out) {
  int64_t rows = in->shape[0] * in->shape[1], hidden = in->shape[2];
  ttt_tensor in2 = ttt_tensor_2d(TTT_F32, in->data, rows, hidden);
  ttt_tensor out2 = ttt_tensor_2d(TTT_F32, out->data, rows, hidden);
  ttt_status st = ttt_mlp_forward(ctx, &l->spec->ffn, &l->impl->ffn, &l->w->ffn, &in2, &out2);
  if (st != TTT_OK) return ttt_error_prefix(st, "%s.ffn", where_of(l));
  emit(l->observer, l->path, "ffn", in, out);
  return TTT_OK;
}

/* h = attention_norm(x + attn(x)); out = ffn_norm(h + ffn(h)). */
static ttt_status post_norm_run(ttt_context *ctx, const layer_args *l) {
  const ttt_encoder_layer_spec *s = l->spec;
  int64_t n = ttt_tensor_numel(l->x);
  ttt_status st = attention_run(ctx, l, l->x, l->a);
  if (st != TTT_OK) return st;
  add_into(l->a->data, l->x->data, n);
  st = norm_run(ctx, l, "attention_norm", &s->attention_norm, &l->impl->attention_norm,
                &l->w->attention_norm, l->a, l->h);
  if (st == TTT_OK) st = ffn_run(ctx, l, l->h, l->a);
  if (st != TTT_OK) return st;
  add_into(l->a->data, l->h->data, n);
  return norm_run(ctx, l, "ffn_norm", &s->ffn_norm, &l->impl->ffn_norm, &l->w->ffn_norm, l->a,
                  l->out);
}

/* a = x + attn(attention_norm(x)); out = a + ffn(ffn_norm(a)). */
static ttt_status pre_norm_run(ttt_context *ctx, const layer_args *l) {
  const ttt_encoder_layer_spec *s = l->spec;
  int64_t n = ttt_tensor_numel(l->x);
  const ttt_tensor *attn_in = l->x;
  ttt_status st = TTT_OK;
  if (has_attention_norm(s)) {
    st = norm_run(ctx, l, "attention_norm", &s->attention_norm, &l->impl->attention_norm,
                  &l->w->attention_norm, l->x, l->h);
    attn_in = l->h;
  }
  if (st == TTT_OK) st = attention_run(ctx, l, attn_in, l->a);
  if (st != TTT_OK) return st;
  add_into(l->a->data, l->x->data, n);
  st = norm_run(ctx, l, "ffn_norm", &s->ffn_norm, &l->impl->ffn_norm, &l->w->ffn_norm, l->a, l->h);
  if (st == TTT_OK) st = ffn_run(ctx, l, l->h, l->out);
  if (st != TTT_OK) return st;
  add_into(l->out->data, l->a->data, n);
  return TTT_OK;
}

static ttt_status layer_run(ttt_context *ctx, const layer_args *l) {
  ttt_status st = l->spec->pre_norm ? pre_norm_run(ctx, l) : post_norm_run(ctx, l);
  if (st != TTT_OK) return st;
  /* The layer itself; without a path it is the root module, reported as "". */
  emit(l->observer, l->path ? l->path : "", NULL, l->x, l->out);
  return TTT_OK;
}

/* Runs one layer with scratch from ctx. */
static ttt_status layer_forward(ttt_context *ctx, layer_args *l) {
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  const ttt_tensor *x = l->x;
  size_t bytes = (size_t)ttt_tensor_numel(x) * sizeof(float);
  float *a_data = ttt_scratch_alloc(ctx, bytes);
  float *h_data = a_data ? ttt_scratch_alloc(ctx, bytes) : NULL;
  if (!h_data) {
    ttt_scratch_restore(ctx, mark);
    return TTT_ERR_OUT_OF_MEMORY;
  }
  ttt_tensor a = ttt_tensor_3d(TTT_F32, a_data, x->shape[0], x->shape[1], x->shape[2]);
  ttt_tensor h = ttt_tensor_3d(TTT_F32, h_data, x->shape[0], x->shape[1], x->shape[2]);
  l->a = &a;
  l->h = &h;
  ttt_status st = layer_run(ctx, l);
  ttt_scratch_restore(ctx, mark);
  return st;
}

ttt_status ttt_encoder_layer_forward(ttt_context *ctx, const ttt_encoder_layer_spec *spec,
                                     const ttt_encoder_layer_impl_config *impl,
                                     const ttt_encoder_layer_weights *weights, const ttt_tensor *x,
                                     const uint8_t *key_mask, ttt_tensor *out, const char *path,
                                     const ttt_observer *observer) {
  if (!ctx || !spec || !impl || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder layer forward: NULL ctx, spec, impl, weights, x or out");
  const char *where = path && path[0] ? path : "encoder layer";
  int64_t hidden = spec->attention.hidden;
  ttt_status st = validate_layer(spec, hidden, where);
  if (st == TTT_OK) st = check_activation(x, "encoder layer x", -1, -1, hidden);
  if (st == TTT_OK)
    st = check_activation(out, "encoder layer out", x->shape[0], x->shape[1], hidden);
  if (st == TTT_OK) st = ttt_block_check_no_alias(out, x, "encoder layer");
  if (st != TTT_OK) return st;
  /* A standalone layer builds its rope tables for the call. */
  ttt_rope *rope = NULL;
  if (spec->attention.rope.type != TTT_ROPE_NONE) {
    st = ttt_rope_create(&spec->attention.rope, &rope);
    if (st != TTT_OK) return ttt_error_prefix(st, "%s.attention.rope", where);
  }
  layer_args l = {.spec = spec,
                  .impl = impl,
                  .w = weights,
                  .rope = rope,
                  .x = x,
                  .key_mask = key_mask,
                  .out = out,
                  .path = path,
                  .observer = observer};
  st = layer_forward(ctx, &l);
  ttt_rope_destroy(rope);
  return st;
}

/* ---- Model creation: resolve, check and convert every weight ---- */

/* One weight to resolve: a [rows, cols] matrix, or a [rows] vector when cols is 0. */
typedef struct weight_slot {
  const char *field; /* appended to the module path: "wq", "weight", ... */
  ttt_tensor *dst;
  int64_t rows, cols;
  ttt_dtype dtype; /* what the block reads (resolved impl weight dtype, or f32) */
  bool wanted;     /* false: the spec does not use this weight (it is not resolved) */
} weight_slot;

static ttt_status keep_owned(ttt_encoder *m, ttt_tensor t) {
  if (m->n_owned == m->cap_owned) {
    int64_t cap = m->cap_owned ? 2 * m->cap_owned : 32;
    ttt_tensor *grown = realloc(m->owned, (size_t)cap * sizeof *grown);
    if (!grown) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "encoder: cannot grow weight list");
    m->owned = grown;
    m->cap_owned = cap;
  }
  m->owned[m->n_owned++] = t;
  return TTT_OK;
}

static ttt_status resolve_slot(ttt_encoder *m, ttt_weight_resolver resolver, void *user,
                               const char *module, const weight_slot *s) {
  char path[PATH_MAX_LEN];
  int len = snprintf(path, sizeof path, "%s.%s", module, s->field);
  if (len < 0 || len >= (int)sizeof path)
    return ttt_set_error(TTT_ERR_INTERNAL, "encoder weight path %s.%s longer than %d bytes", module,
                         s->field, (int)PATH_MAX_LEN - 1);
  ttt_tensor t;
  memset(&t, 0, sizeof t);
  ttt_status st = resolver(user, path, &t);
  if (st != TTT_OK) return ttt_error_prefix(st, "encoder weight %s", path);
  if (!t.data)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "encoder weight %s: resolved to no data", path);
  st = s->cols ? ttt_block_check_matrix(&t, path, TTT_DTYPE_DEFAULT, s->rows, s->cols)
               : ttt_block_check_vector(&t, path, TTT_DTYPE_DEFAULT, s->rows);
  if (st != TTT_OK) return ttt_error_prefix(st, "encoder weight");
  if (t.dtype != s->dtype) {
    ttt_tensor converted;
    st = ttt_tensor_convert(&t, s->dtype, &converted);
    if (st != TTT_OK)
      return ttt_error_prefix(st, "encoder weight %s to %s", path, ttt_dtype_name(s->dtype));
    st = keep_owned(m, converted);
    if (st != TTT_OK) {
      ttt_tensor_free(&converted);
      return st;
    }
    t = converted;
  }
  *s->dst = t;
  return TTT_OK;
}

static ttt_status resolve_slots(ttt_encoder *m, ttt_weight_resolver resolver, void *user,
                                const char *module, const weight_slot *slots, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!slots[i].wanted) continue;
    ttt_status st = resolve_slot(m, resolver, user, module, &slots[i]);
    if (st != TTT_OK) return st;
  }
  return TTT_OK;
}

#define N_SLOTS(a) (sizeof(a) / sizeof((a)[0]))

static ttt_status resolve_norm(ttt_encoder *m, ttt_weight_resolver resolver, void *user,
                               const char *module, const ttt_norm_spec *spec, ttt_norm_weights *w) {
  const weight_slot slots[] = {{"weight", &w->weight, spec->dim, 0, TTT_F32, true},
                               {"bias", &w->bias, spec->dim, 0, TTT_F32, spec->bias}};
  return resolve_slots(m, resolver, user, module, slots, N_SLOTS(slots));
}

static ttt_status resolve_attention(ttt_encoder *m, ttt_weight_resolver resolver, void *user,
                                    const char *module, const ttt_attention_spec *a,
                                    ttt_dtype dtype, ttt_attention_weights *w) {
  int64_t head_dim = ttt_attention_head_dim(a);
  int64_t q = a->n_heads * head_dim, kv = a->n_kv_heads * head_dim, h = a->hidden;
  /* q/k norm weights flat: [head_dim] (HEAD) or [heads·head_dim] (HEAD_WEIGHTS, ALL) */
  bool qk = a->qk_norm != TTT_QK_NORM_NONE, qk_bias = qk && a->qk_norm_spec.bias;
  int64_t qn = a->qk_norm == TTT_QK_NORM_HEAD ? head_dim : q;
  int64_t kn = a->qk_norm == TTT_QK_NORM_HEAD ? head_dim : kv;
  const weight_slot slots[] = {{"wq", &w->wq, q, h, dtype, true},
                               {"wk", &w->wk, kv, h, dtype, true},
                               {"wv", &w->wv, kv, h, dtype, true},
                               {"wo", &w->wo, h, q, dtype, true},
                               {"bq", &w->bq, q, 0, TTT_F32, a->q_bias},
                               {"bk", &w->bk, kv, 0, TTT_F32, a->k_bias},
                               {"bv", &w->bv, kv, 0, TTT_F32, a->v_bias},
                               {"bo", &w->bo, h, 0, TTT_F32, a->o_bias},
                               {"q_norm", &w->q_norm, qn, 0, TTT_F32, qk},
                               {"k_norm", &w->k_norm, kn, 0, TTT_F32, qk},
                               {"q_norm_bias", &w->q_norm_bias, qn, 0, TTT_F32, qk_bias},
                               {"k_norm_bias", &w->k_norm_bias, kn, 0, TTT_F32, qk_bias}};
  return resolve_slots(m, resolver, user, module, slots, N_SLOTS(slots));
}

static ttt_status resolve_mlp(ttt_encoder *m, ttt_weight_resolver resolver, void *user,
                              const char *module, const ttt_mlp_spec *s, ttt_dtype dtype,
                              ttt_mlp_weights *w) {
  int64_t h = s->hidden, n = s->intermediate;
  const weight_slot slots[] = {{"gate", &w->gate, n, h, dtype, s->gated},
                               {"up", &w->up, n, h, dtype, true},
                               {"down", &w->down, h, n, dtype, true},
                               {"gate_bias", &w->gate_bias, n, 0, TTT_F32, s->bias && s->gated},
                               {"up_bias", &w->up_bias, n, 0, TTT_F32, s->bias},
                               {"down_bias", &w->down_bias, h, 0, TTT_F32, s->bias}};
  return resolve_slots(m, resolver, user, module, slots, N_SLOTS(slots));
}

static ttt_status resolve_layer(ttt_encoder *m, ttt_weight_resolver resolver, void *user,
                                int64_t i) {
  const ttt_encoder_layer_spec *s = &m->spec.layers[i];
  const ttt_encoder_layer_impl_config *c = &m->impl.layers[i];
  ttt_encoder_layer_weights *w = &m->layers[i];
  char module[PATH_MAX_LEN];
  snprintf(module, sizeof module, "layers.%lld.attention", (long long)i);
  ttt_status st =
      resolve_attention(m, resolver, user, module, &s->attention,
                        ttt_block_weight_dtype(c->attention.weight_dtype), &w->attention);
  if (st != TTT_OK) return st;
  snprintf(module, sizeof module, "layers.%lld.attention_norm", (long long)i);
  if (has_attention_norm(s))
    st = resolve_norm(m, resolver, user, module, &s->attention_norm, &w->attention_norm);
  if (st != TTT_OK) return st;
  snprintf(module, sizeof module, "layers.%lld.ffn", (long long)i);
  st = resolve_mlp(m, resolver, user, module, &s->ffn, ttt_block_weight_dtype(c->ffn.weight_dtype),
                   &w->ffn);
  if (st != TTT_OK) return st;
  snprintf(module, sizeof module, "layers.%lld.ffn_norm", (long long)i);
  return resolve_norm(m, resolver, user, module, &s->ffn_norm, &w->ffn_norm);
}

static ttt_status resolve_embeddings(ttt_encoder *m, ttt_weight_resolver resolver, void *user) {
  const ttt_encoder_spec *s = &m->spec;
  ttt_dtype dtype = ttt_block_weight_dtype(m->impl.embeddings.weight_dtype);
  const struct {
    const char *module;
    const ttt_embedding_spec *spec;
    ttt_embedding_weights *w;
    bool wanted;
  } tables[] = {{"embeddings.word", &s->word, &m->word, true},
                {"embeddings.position", &s->position, &m->position, has_positions(s)},
                {"embeddings.token_type", &s->token_type, &m->token_type, has_token_types(s)}};
  for (size_t i = 0; i < N_SLOTS(tables); i++) {
    if (!tables[i].wanted) continue;
    const weight_slot slot = {
        "table", &tables[i].w->table, tables[i].spec->vocab, tables[i].spec->dim, dtype, true};
    ttt_status st = resolve_slot(m, resolver, user, tables[i].module, &slot);
    if (st != TTT_OK) return st;
  }
  return resolve_norm(m, resolver, user, "embeddings.norm", &s->embedding_norm, &m->embedding_norm);
}

static ttt_status resolve_pooler(ttt_encoder *m, ttt_weight_resolver resolver, void *user) {
  int64_t h = m->pooler_spec.hidden;
  const weight_slot slots[] = {{"weight", &m->pooler.weight, h, h,
                                ttt_block_weight_dtype(m->impl.pooler.weight_dtype), true},
                               {"bias", &m->pooler.bias, h, 0, TTT_F32, true}};
  return resolve_slots(m, resolver, user, "pooler", slots, N_SLOTS(slots));
}

/* Checks the matmul settings of every projection before any weight is converted, so that a bad
 * impl config fails fast and names its module path. */
static ttt_status check_impl(const ttt_encoder_spec *spec, const ttt_encoder_impl_config *impl) {
  ttt_dtype emb = ttt_block_weight_dtype(impl->embeddings.weight_dtype);
  ttt_status st =
      ttt_block_check_impl("encoder impl embeddings", emb, TTT_F32, TTT_KERNEL_REFERENCE);
  if (st != TTT_OK) return st;
  char what[PATH_MAX_LEN];
  for (int64_t i = 0; i < spec->n_layers; i++) {
    const ttt_attention_impl_config *a = &impl->layers[i].attention;
    snprintf(what, sizeof what, "encoder impl layers.%lld.attention", (long long)i);
    st = ttt_block_check_impl(what, ttt_block_weight_dtype(a->weight_dtype),
                              ttt_block_activation_dtype(a->activation_dtype),
                              ttt_block_kernel(a->kernel));
    if (st != TTT_OK) return st;
    const ttt_mlp_impl_config *f = &impl->layers[i].ffn;
    snprintf(what, sizeof what, "encoder impl layers.%lld.ffn", (long long)i);
    st = ttt_block_check_impl(what, ttt_block_weight_dtype(f->weight_dtype),
                              ttt_block_activation_dtype(f->activation_dtype),
                              ttt_block_kernel(f->kernel));
    if (st != TTT_OK) return st;
  }
  if (!spec->pooler) return TTT_OK;
  const ttt_lm_head_impl_config *p = &impl->pooler;
  return ttt_block_check_impl("encoder impl pooler", ttt_block_weight_dtype(p->weight_dtype),
                              ttt_block_activation_dtype(p->activation_dtype),
                              ttt_block_kernel(p->kernel));
}

/* The rope tables of every layer whose attention has rope. */
static ttt_status create_ropes(ttt_encoder *m) {
  for (int64_t i = 0; i < m->spec.n_layers; i++) {
    const ttt_rope_spec *r = &m->spec.layers[i].attention.rope;
    if (r->type == TTT_ROPE_NONE) continue;
    ttt_status st = ttt_rope_create(r, &m->ropes[i]);
    if (st != TTT_OK)
      return ttt_error_prefix(st, "encoder layers.%lld.attention.rope", (long long)i);
  }
  return TTT_OK;
}

static ttt_status resolve_all(ttt_encoder *m, ttt_weight_resolver resolver, void *user) {
  ttt_status st = resolve_embeddings(m, resolver, user);
  for (int64_t i = 0; st == TTT_OK && i < m->spec.n_layers; i++)
    st = resolve_layer(m, resolver, user, i);
  if (st == TTT_OK && has_final_norm(&m->spec))
    st = resolve_norm(m, resolver, user, "norm", &m->spec.norm, &m->norm);
  if (st == TTT_OK && m->spec.pooler) st = resolve_pooler(m, resolver, user);
  return st;
}

ttt_status ttt_encoder_create(const ttt_encoder_spec *spec, const ttt_encoder_impl_config *impl,
                              ttt_weight_resolver resolver, void *user, ttt_encoder **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "encoder create: out is NULL");
  *out = NULL;
  if (!impl || !resolver)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "encoder create: NULL impl or resolver");
  ttt_status st = ttt_encoder_spec_validate(spec);
  if (st == TTT_OK) st = check_impl(spec, impl);
  if (st != TTT_OK) return st;

  ttt_encoder *m = calloc(1, sizeof *m);
  if (!m) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "encoder create: out of memory");
  m->spec = *spec;
  m->impl = *impl;
  m->pooler_spec = pooler_spec_of(spec);
  m->layers = calloc((size_t)spec->n_layers, sizeof *m->layers);
  if (!m->layers) {
    ttt_encoder_destroy(m);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "encoder create: out of memory");
  }
  st = resolve_all(m, resolver, user);
  if (st == TTT_OK) st = create_ropes(m);
  if (st != TTT_OK) {
    ttt_encoder_destroy(m);
    return st;
  }
  *out = m;
  return TTT_OK;
}

void ttt_encoder_destroy(ttt_encoder *model) {
  if (!model) return;
  for (int64_t i = 0; i < model->n_owned; i++) ttt_tensor_free(&model->owned[i]);
  for (int64_t i = 0; i < TTT_MAX_LAYERS; i++) ttt_rope_destroy(model->ropes[i]);
  free(model->owned);
  free(model->layers);
  free(model);
}

const ttt_encoder_spec *ttt_encoder_get_spec(const ttt_encoder *model) {
  return model ? &model->spec : NULL;
}

/* ---- Forward ---- */

typedef struct forward_args {
  const int32_t *input_ids, *token_type_ids;
  const uint8_t *attention_mask;
  int64_t B, T;
  ttt_tensor *hidden, *pooled;
  const ttt_observer *observer;
} forward_args;

static ttt_status check_forward(const ttt_encoder *m, const forward_args *a) {
  const ttt_encoder_spec *s = &m->spec;
  if (!a->input_ids || !a->hidden)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "encoder forward: NULL input_ids or hidden");
  if (a->B < 1 || a->T < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder forward: B (%lld) and T (%lld) must be >= 1", (long long)a->B,
                         (long long)a->T);
  if (has_positions(s) && a->T > s->position.vocab - s->position_offset)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                         "encoder forward: T (%lld) exceeds the %lld position embeddings after "
                         "the offset %d",
                         (long long)a->T, (long long)s->position.vocab, (int)s->position_offset);
  if (a->token_type_ids && !has_token_types(s))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder forward: token_type_ids given, but the spec has no token-type "
                         "embedding");
  /* Positions are int32 and B·T·hidden sizes the buffers: keep B·T in int32 range. */
  if (a->B > INT32_MAX / a->T)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "encoder forward: B·T (%lld·%lld) too large",
                         (long long)a->B, (long long)a->T);
  ttt_status st = check_activation(a->hidden, "encoder hidden", a->B, a->T, s->word.dim);
  if (st != TTT_OK || !a->pooled) return st;
  if (!s->pooler)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "encoder forward: pooled given, but the spec has no pooler");
  return ttt_block_check_rows(a->pooled, "encoder pooled", a->B, s->word.dim);
}

/* hidden[b, 0, :] → pooled[b, :] = tanh(W · h + b). */
static ttt_status pooler_run(const ttt_encoder *m, ttt_context *ctx, const forward_args *a,
                             const float *hidden) {
  int64_t H = m->spec.word.dim;
  float *cls = ttt_scratch_alloc(ctx, (size_t)(a->B * H) * sizeof(float));
  if (!cls) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t b = 0; b < a->B; b++)
    memcpy(cls + b * H, hidden + b * a->T * H, (size_t)H * sizeof(float));
  ttt_tensor x = ttt_tensor_2d(TTT_F32, cls, a->B, H);
  ttt_status st =
      ttt_lm_head_forward(ctx, &m->pooler_spec, &m->impl.pooler, &m->pooler, &x, false, a->pooled);
  if (st != TTT_OK) return ttt_error_prefix(st, "pooler");
  float *y = a->pooled->data;
  for (int64_t i = 0; i < a->B * H; i++) y[i] = tanhf(y[i]);
  emit(a->observer, NULL, "pooler", &x, a->pooled);
  return TTT_OK;
}

/* The position-table row of every token (see ttt_encoder_spec.position_offset). */
static void compute_positions(const ttt_encoder_spec *s, const forward_args *a,
                              int32_t *positions) {
  for (int64_t b = 0; b < a->B; b++) {
    const int32_t *ids = a->input_ids + b * a->T;
    int32_t *row = positions + b * a->T;
    int32_t counted = 0;
    for (int64_t t = 0; t < a->T; t++) {
      if (!s->positions_skip_padding) {
        row[t] = s->position_offset + (int32_t)t;
      } else if (ids[t] == s->pad_token_id) {
        row[t] = s->position_offset - 1;
      } else {
        row[t] = s->position_offset + counted++;
      }
    }
  }
}

/* Word + position + token-type embeddings, then the embedding LayerNorm, into `out`. */
static ttt_status embeddings_run(const ttt_encoder *m, ttt_context *ctx, const forward_args *a,
                                 float *out) {
  const ttt_encoder_spec *s = &m->spec;
  int64_t n = a->B * a->T;
  int32_t *positions = ttt_scratch_alloc(ctx, (size_t)n * sizeof(int32_t));
  if (!positions) return TTT_ERR_OUT_OF_MEMORY;
  compute_positions(s, a, positions);
  const int32_t *types = a->token_type_ids;
  if (!types && has_token_types(s)) {
    int32_t *zeros = ttt_scratch_alloc(ctx, (size_t)n * sizeof(int32_t));
    if (!zeros) return TTT_ERR_OUT_OF_MEMORY;
    memset(zeros, 0, (size_t)n * sizeof(int32_t));
    types = zeros;
  }
  ttt_tensor rows = ttt_tensor_2d(TTT_F32, out, n, s->word.dim);
  const ttt_embedding_impl_config *c = &m->impl.embeddings;
  ttt_status st = ttt_embedding_forward(ctx, &s->word, c, &m->word, a->input_ids, n, false, &rows);
  if (st != TTT_OK) return ttt_error_prefix(st, "embeddings.word");
  if (has_positions(s))
    st = ttt_embedding_forward(ctx, &s->position, c, &m->position, positions, n, true, &rows);
  if (st != TTT_OK) return ttt_error_prefix(st, "embeddings.position");
  if (has_token_types(s))
    st = ttt_embedding_forward(ctx, &s->token_type, c, &m->token_type, types, n, true, &rows);
  if (st != TTT_OK) return ttt_error_prefix(st, "embeddings.token_type");
  st = ttt_norm_forward(ctx, &s->embedding_norm, &m->impl.embedding_norm, &m->embedding_norm, &rows,
                        &rows);
  if (st != TTT_OK) return ttt_error_prefix(st, "embeddings.norm");
  if (a->observer && a->observer->fn) {
    ttt_tensor ids = ttt_tensor_2d(TTT_I32, (void *)a->input_ids, a->B, a->T);
    ttt_tensor y = ttt_tensor_3d(TTT_F32, out, a->B, a->T, s->word.dim);
    emit(a->observer, NULL, "embeddings", &ids, &y);
  }
  return TTT_OK;
}

/* The final norm, in place on hidden. */
static ttt_status final_norm_run(const ttt_encoder *m, ttt_context *ctx, const forward_args *a) {
  int64_t H = m->spec.word.dim;
  ttt_tensor rows = ttt_tensor_2d(TTT_F32, a->hidden->data, a->B * a->T, H);
  bool observed = a->observer && a->observer->fn;
  float *before = NULL;
  if (observed) { /* the observer sees the norm's input too */
    before = ttt_scratch_alloc(ctx, (size_t)(a->B * a->T * H) * sizeof(float));
    if (!before) return TTT_ERR_OUT_OF_MEMORY;
    memcpy(before, a->hidden->data, (size_t)(a->B * a->T * H) * sizeof(float));
  }
  ttt_status st = ttt_norm_forward(ctx, &m->spec.norm, &m->impl.norm, &m->norm, &rows, &rows);
  if (st != TTT_OK) return ttt_error_prefix(st, "norm");
  if (observed) {
    ttt_tensor x = ttt_tensor_3d(TTT_F32, before, a->B, a->T, H);
    emit(a->observer, NULL, "norm", &x, a->hidden);
  }
  return TTT_OK;
}

static ttt_status forward_run(const ttt_encoder *m, ttt_context *ctx, const forward_args *a) {
  int64_t H = m->spec.word.dim, n_layers = m->spec.n_layers;
  float *spare = ttt_scratch_alloc(ctx, (size_t)(a->B * a->T * H) * sizeof(float));
  if (!spare) return TTT_ERR_OUT_OF_MEMORY;
  /* Layer i reads buf[i % 2] and writes buf[(i + 1) % 2]; the last write lands in hidden. */
  float *buf[2] = {spare, a->hidden->data};
  if (n_layers % 2 == 0) {
    buf[0] = a->hidden->data;
    buf[1] = spare;
  }
  ttt_status st = embeddings_run(m, ctx, a, buf[0]);
  for (int64_t i = 0; st == TTT_OK && i < n_layers; i++) {
    ttt_tensor x = ttt_tensor_3d(TTT_F32, buf[i % 2], a->B, a->T, H);
    ttt_tensor y = ttt_tensor_3d(TTT_F32, buf[(i + 1) % 2], a->B, a->T, H);
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "layers.%lld", (long long)i);
    layer_args l = {.spec = &m->spec.layers[i],
                    .impl = &m->impl.layers[i],
                    .w = &m->layers[i],
                    .rope = m->ropes[i],
                    .x = &x,
                    .key_mask = a->attention_mask,
                    .out = &y,
                    .path = path,
                    .observer = a->observer};
    st = layer_forward(ctx, &l);
  }
  if (st == TTT_OK && has_final_norm(&m->spec)) st = final_norm_run(m, ctx, a);
  if (st == TTT_OK && a->pooled) st = pooler_run(m, ctx, a, a->hidden->data);
  return st;
}

ttt_status ttt_encoder_forward(const ttt_encoder *model, ttt_context *ctx, const int32_t *input_ids,
                               const int32_t *token_type_ids, const uint8_t *attention_mask,
                               int64_t B, int64_t T, ttt_tensor *hidden, ttt_tensor *pooled,
                               const ttt_observer *observer) {
  if (!model || !ctx)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "encoder forward: NULL model or ctx");
  forward_args a = {.input_ids = input_ids,
                    .token_type_ids = token_type_ids,
                    .attention_mask = attention_mask,
                    .B = B,
                    .T = T,
                    .hidden = hidden,
                    .pooled = pooled,
                    .observer = observer};
  ttt_status st = check_forward(model, &a);
  if (st != TTT_OK) return st;
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  st = forward_run(model, ctx, &a);
  ttt_scratch_restore(ctx, mark);
  return st;
}
