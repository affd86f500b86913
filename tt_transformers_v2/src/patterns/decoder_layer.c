/*
 * Decoder layer: attention and feed-forward sublayers around a residual stream, in the topology the
 * spec names (norm placement pre / post / sandwich; sequential or parallel residual; a residual
 * multiplier). See ttt_norm_placement and ttt_residual_topology in patterns.h for the formulas.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patterns_internal.h"
#include "runtime/runtime.h"

static const char *const placement_names[] = {
    [TTT_NORM_PRE] = "pre", [TTT_NORM_POST] = "post", [TTT_NORM_SANDWICH] = "sandwich"};
static const char *const topology_names[] = {[TTT_RESIDUAL_SEQUENTIAL] = "sequential",
                                             [TTT_RESIDUAL_PARALLEL] = "parallel",
                                             [TTT_RESIDUAL_PARALLEL_TWO_NORMS] =
                                                 "parallel_two_norms"};

const char *ttt_norm_placement_name(ttt_norm_placement placement) {
  return (unsigned)placement <= TTT_NORM_SANDWICH ? placement_names[placement] : "unknown";
}

const char *ttt_residual_topology_name(ttt_residual_topology topology) {
  return (unsigned)topology <= TTT_RESIDUAL_PARALLEL_TWO_NORMS ? topology_names[topology]
                                                               : "unknown";
}

const char *ttt_attention_kind_name(ttt_attention_kind kind) {
  return kind == TTT_ATTENTION_KIND_MHA   ? "mha"
         : kind == TTT_ATTENTION_KIND_MLA ? "mla"
                                          : "unknown";
}

const char *ttt_ffn_kind_name(ttt_ffn_kind kind) {
  return kind == TTT_FFN_MLP ? "mlp" : kind == TTT_FFN_MOE ? "moe" : "unknown";
}

/* Which norms a topology reads, as data: one row per (residual, placement). */
typedef struct norm_use {
  bool attention_norm, ffn_norm, post_attention_norm, post_ffn_norm;
} norm_use;

static norm_use norms_used(const ttt_decoder_layer_spec *s) {
  if (s->residual == TTT_RESIDUAL_PARALLEL) return (norm_use){true, false, false, false};
  if (s->residual == TTT_RESIDUAL_PARALLEL_TWO_NORMS) return (norm_use){true, true, false, false};
  if (s->norm_placement == TTT_NORM_POST) return (norm_use){false, false, true, true};
  if (s->norm_placement == TTT_NORM_SANDWICH) return (norm_use){true, true, true, true};
  return (norm_use){true, true, false, false};
}

bool ttt_decoder_layer_uses_norm(const ttt_decoder_layer_spec *spec, const char *name) {
  if (!spec || !name) return false;
  norm_use u = norms_used(spec);
  if (strcmp(name, "attention_norm") == 0) return u.attention_norm;
  if (strcmp(name, "ffn_norm") == 0) return u.ffn_norm;
  if (strcmp(name, "post_attention_norm") == 0) return u.post_attention_norm;
  if (strcmp(name, "post_ffn_norm") == 0) return u.post_ffn_norm;
  return false;
}

/* A norm the topology uses: valid, over `hidden` values. */
static ttt_status validate_norm(const ttt_norm_spec *norm, const char *name, int64_t hidden) {
  ttt_status st = ttt_norm_spec_validate(norm);
  if (st != TTT_OK) return ttt_error_prefix(st, "%s", name);
  if (norm->dim != hidden)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "decoder layer spec: %s.dim (%lld) must equal attention.hidden (%lld)",
                         name, (long long)norm->dim, (long long)hidden);
  return TTT_OK;
}

static ttt_status validate_topology(const ttt_decoder_layer_spec *spec) {
  if ((unsigned)spec->norm_placement > TTT_NORM_SANDWICH)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "decoder layer spec: norm_placement (%d) is not pre, post or sandwich",
                         (int)spec->norm_placement);
  if ((unsigned)spec->residual > TTT_RESIDUAL_PARALLEL_TWO_NORMS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "decoder layer spec: residual (%d) is not sequential, parallel or "
                         "parallel_two_norms",
                         (int)spec->residual);
  if (spec->residual != TTT_RESIDUAL_SEQUENTIAL && spec->norm_placement != TTT_NORM_PRE)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "decoder layer spec: residual %s needs norm_placement pre, got %s",
                         ttt_residual_topology_name(spec->residual),
                         ttt_norm_placement_name(spec->norm_placement));
  if (!isfinite(spec->residual_multiplier))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "decoder layer spec: residual_multiplier (%g) must be finite (0 = 1)",
                         (double)spec->residual_multiplier);
  return TTT_OK;
}

ttt_status ttt_decoder_layer_spec_validate(const ttt_decoder_layer_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "decoder layer spec: NULL");
  ttt_status st = validate_topology(spec);
  if (st != TTT_OK) return st;
  if ((unsigned)spec->attention_kind > TTT_ATTENTION_KIND_MLA)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "decoder layer spec: attention_kind (%d) is neither mha nor mla",
                         (int)spec->attention_kind);
  st = spec->attention_kind == TTT_ATTENTION_KIND_MLA
           ? ttt_mla_spec_validate(&spec->mla)
           : ttt_attention_spec_validate(&spec->attention);
  if (st != TTT_OK) return ttt_error_prefix(st, "attention");
  st = ttt_ffn_spec_validate(&spec->ffn);
  if (st != TTT_OK) return ttt_error_prefix(st, "ffn");
  int64_t hidden = ttt_decoder_layer_hidden(spec);
  norm_use u = norms_used(spec);
  if ((u.attention_norm &&
       (st = validate_norm(&spec->attention_norm, "attention_norm", hidden)) != TTT_OK) ||
      (u.ffn_norm && (st = validate_norm(&spec->ffn_norm, "ffn_norm", hidden)) != TTT_OK) ||
      (u.post_attention_norm &&
       (st = validate_norm(&spec->post_attention_norm, "post_attention_norm", hidden)) != TTT_OK) ||
      (u.post_ffn_norm &&
       (st = validate_norm(&spec->post_ffn_norm, "post_ffn_norm", hidden)) != TTT_OK))
    return st;
  int64_t ffn_hidden =
      spec->ffn.kind == TTT_FFN_MOE ? spec->ffn.moe.expert.hidden : spec->ffn.mlp.hidden;
  if (ffn_hidden != hidden)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "decoder layer spec: ffn hidden (%lld) must equal the attention's hidden "
                         "(%lld)",
                         (long long)ffn_hidden, (long long)hidden);
  return TTT_OK;
}

ttt_status ttt_ffn_spec_validate(const ttt_ffn_spec *spec) {
  if (spec->kind == TTT_FFN_MLP) return ttt_mlp_spec_validate(&spec->mlp);
  if (spec->kind == TTT_FFN_MOE) return ttt_moe_spec_validate(&spec->moe);
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ffn spec: kind %d is neither MLP (0) nor MOE (1)",
                       (int)spec->kind);
}

ttt_ffn_impl_config ttt_ffn_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                const ttt_ffn_spec *spec) {
  if (spec->kind == TTT_FFN_MOE) {
    ttt_moe_impl_config m = ttt_moe_default_impl_config(device, mode, &spec->moe);
    return (ttt_ffn_impl_config){m.weight_dtype, m.activation_dtype, m.kernel,
                                 m.threads,      m.fuse_gate_up,     m.group_by_expert};
  }
  ttt_mlp_impl_config m = ttt_mlp_default_impl_config(device, mode, &spec->mlp);
  return (ttt_ffn_impl_config){m.weight_dtype, m.activation_dtype, m.kernel,
                               m.threads,      m.fuse_gate_up,     false};
}

ttt_decoder_layer_impl_config
ttt_decoder_layer_default_impl_config(const ttt_device *device, ttt_mode mode,
                                      const ttt_decoder_layer_spec *spec) {
  return (ttt_decoder_layer_impl_config){
      .attention_norm = ttt_norm_default_impl_config(device, mode, &spec->attention_norm),
      .attention = ttt_attention_default_impl_config(device, mode, &spec->attention),
      .ffn_norm = ttt_norm_default_impl_config(device, mode, &spec->ffn_norm),
      .ffn = ttt_ffn_default_impl_config(device, mode, &spec->ffn),
      .post_attention_norm = ttt_norm_default_impl_config(device, mode, &spec->post_attention_norm),
      .post_ffn_norm = ttt_norm_default_impl_config(device, mode, &spec->post_ffn_norm),
      .mla = ttt_mla_default_impl_config(device, mode, &spec->mla),
  };
}

ttt_status ttt_ffn_forward(ttt_context *ctx, const ttt_ffn_spec *spec,
                           const ttt_ffn_impl_config *impl, const ttt_ffn_weights *weights,
                           const ttt_tensor *x, ttt_tensor *out) {
  if (spec->kind == TTT_FFN_MOE) {
    ttt_moe_impl_config moe = {impl->weight_dtype, impl->activation_dtype, impl->kernel,
                               impl->threads,      impl->fuse_gate_up,     impl->group_by_expert};
    return ttt_moe_forward(ctx, &spec->moe, &moe, &weights->moe, x, out);
  }
  ttt_mlp_impl_config mlp = {impl->weight_dtype, impl->activation_dtype, impl->kernel,
                             impl->threads, impl->fuse_gate_up};
  return ttt_mlp_forward(ctx, &spec->mlp, &mlp, &weights->mlp, x, out);
}

/* ---- forward ---- */

/* Everything one forward needs, so that the steps below stay short. */
typedef struct layer_run {
  ttt_context *ctx;
  ttt_mode mode;
  const ttt_decoder_layer_spec *spec;
  const ttt_decoder_layer_impl_config *impl;
  const ttt_decoder_layer_weights *weights;
  const ttt_rope *rope;
  ttt_kv_cache *cache;
  int64_t layer, start_pos;
  const char *path;
  const ttt_observer *observer;
  const ttt_attention_seq *seqs; /* non-NULL: a multi-sequence forward (cache unused) */
  int64_t n_seqs;
  const ttt_layer_parallel *tp; /* NULL: no tensor parallelism */
} layer_run;

/* Sums a sublayer's partial output over the ranks when the layer is split (`split`). */
static ttt_status all_reduce_partial(const layer_run *r, bool split, ttt_tensor *out) {
  if (!r->tp || !split) return TTT_OK;
  return ttt_layer_parallel_reduce(r->ctx, r->tp, out);
}

/* Names the failing module in the error. */
static ttt_status module_failure(const layer_run *r, ttt_status st, const char *module) {
  return ttt_error_prefix(st, "%s.%s", r->path ? r->path : "layer", module);
}

static ttt_status run_norm(const layer_run *r, const char *name, const ttt_norm_spec *spec,
                           const ttt_norm_impl_config *impl, const ttt_norm_weights *weights,
                           const ttt_tensor *in, ttt_tensor *out) {
  ttt_status st = ttt_norm_forward(r->ctx, spec, impl, weights, in, out);
  if (st != TTT_OK) return module_failure(r, st, name);
  ttt_observe(r->observer, r->path, name, r->mode, r->start_pos, in, out);
  return TTT_OK;
}

/* An MLA layer's attention (same cache and position contract as ttt_attention). */
static ttt_status mla_forward(const layer_run *r, const ttt_tensor *in, ttt_tensor *out) {
  const ttt_decoder_layer_spec *s = r->spec;
  if (r->mode == TTT_MODE_DECODE)
    return ttt_mla_decode_forward(r->ctx, &s->mla, &r->impl->mla, &r->weights->mla, r->rope,
                                  r->cache, r->layer, in, r->start_pos, out);
  return ttt_mla_prefill_forward(r->ctx, &s->mla, &r->impl->mla, &r->weights->mla, r->rope,
                                 r->cache, r->layer, in, r->start_pos, out);
}

static ttt_status run_attention(const layer_run *r, const ttt_tensor *in, ttt_tensor *out) {
  const ttt_decoder_layer_spec *s = r->spec;
  if (s->attention_kind == TTT_ATTENTION_KIND_MLA && r->seqs)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "MLA layers have no batched (paged KV) path yet: decode one sequence per "
                         "ttt_kv_cache");
  /* "<layer path>.attention", the prefix of the q/k norm events: built only when observed, on the
   * heap when it does not fit (never truncated; out of memory drops those events). */
  char local[128], *path = NULL;
  if (r->observer && r->observer->fn) {
    /* without a layer path the attention's own event is "attention" (ttt_observe) */
    const char *layer = r->path ? r->path : "";
    size_t need = strlen(layer) + sizeof ".attention";
    path = need <= sizeof local ? local : malloc(need);
    if (path) snprintf(path, need, "%s%sattention", layer, r->path ? "." : "");
  }
  bool split = r->tp && r->tp->attention;
  ttt_head_gather gather = {r->observer, split ? r->tp->comm : NULL, split ? r->tp->q_head0 : 0,
                            split ? r->tp->kv_head0 : 0};
  ttt_observer gathering = {ttt_head_gather_event, &gather};
  const ttt_observer *observer = split ? &gathering : r->observer;
  ttt_attention_trace trace = {path ? observer : NULL, path, r->mode, r->start_pos};
  ttt_status st =
      s->attention_kind == TTT_ATTENTION_KIND_MLA ? mla_forward(r, in, out)
      : r->seqs
          ? ttt_attention_seqs_forward(r->ctx, &s->attention, &r->impl->attention, r->mode,
                                       &r->weights->attention, r->rope, r->seqs, r->n_seqs, in, out,
                                       &trace)
          : ttt_attention_cached_forward_traced(r->ctx, &s->attention, &r->impl->attention, r->mode,
                                                &r->weights->attention, r->rope, r->cache, r->layer,
                                                in, r->start_pos, out, &trace);
  if (path != local) free(path);
  if (st == TTT_OK) st = all_reduce_partial(r, r->tp && r->tp->attention, out);
  if (st != TTT_OK) return module_failure(r, st, "attention");
  ttt_observe(r->observer, r->path, "attention", r->mode, r->start_pos, in, out);
  return TTT_OK;
}

static ttt_status run_ffn(const layer_run *r, const ttt_tensor *in, ttt_tensor *out) {
  ttt_status st = ttt_ffn_forward(r->ctx, &r->spec->ffn, &r->impl->ffn, &r->weights->ffn, in, out);
  if (st == TTT_OK) st = all_reduce_partial(r, r->tp && r->tp->ffn, out);
  if (st != TTT_OK) return module_failure(r, st, "ffn");
  ttt_observe(r->observer, r->path, "ffn", r->mode, r->start_pos, in, out);
  return TTT_OK;
}

/* dst = base + m·branch (m == 1: a plain add, bit-identical to the unscaled formula). */
static void add_scaled_rows(float *dst, const float *base, const float *branch, float m,
                            int64_t n) {
  if (m == 1.0f) {
    for (int64_t i = 0; i < n; i++) dst[i] = base[i] + branch[i];
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = base[i] + branch[i] * m;
}

/* Scratch of a forward: two (sequential) or four (parallel) [T, hidden] buffers. */
typedef struct layer_buffers {
  ttt_tensor a, b, c, d;
} layer_buffers;

/* One sequential sublayer: out = base + m·[post_norm](sublayer([pre_norm](base))).
 * `attention` picks the sublayer and its norms. base and out may be the same buffer. */
static ttt_status sequential_sublayer(const layer_run *r, bool attention, const ttt_tensor *base,
                                      ttt_tensor *out, layer_buffers *buf, float m) {
  const ttt_decoder_layer_spec *s = r->spec;
  const ttt_decoder_layer_impl_config *i = r->impl;
  const ttt_decoder_layer_weights *w = r->weights;
  bool pre = s->norm_placement != TTT_NORM_POST, post = s->norm_placement != TTT_NORM_PRE;
  const ttt_tensor *in = base;
  ttt_status st = TTT_OK;
  if (pre) {
    st = attention
             ? run_norm(r, "attention_norm", &s->attention_norm, &i->attention_norm,
                        &w->attention_norm, base, &buf->a)
             : run_norm(r, "ffn_norm", &s->ffn_norm, &i->ffn_norm, &w->ffn_norm, base, &buf->a);
    in = &buf->a;
  }
  if (st == TTT_OK) st = attention ? run_attention(r, in, &buf->b) : run_ffn(r, in, &buf->b);
  if (st != TTT_OK) return st;
  const ttt_tensor *branch = &buf->b;
  if (post) {
    st = attention ? run_norm(r, "post_attention_norm", &s->post_attention_norm,
                              &i->post_attention_norm, &w->post_attention_norm, &buf->b, &buf->a)
                   : run_norm(r, "post_ffn_norm", &s->post_ffn_norm, &i->post_ffn_norm,
                              &w->post_ffn_norm, &buf->b, &buf->a);
    if (st != TTT_OK) return st;
    branch = &buf->a;
  }
  add_scaled_rows(out->data, base->data, branch->data, m, ttt_tensor_numel(out));
  return TTT_OK;
}

/* Parallel: out = x + m·(attn(attention_norm(x)) + ffn(n)), n = the same normed x (one norm) or
 * ffn_norm(x) (two norms). */
static ttt_status parallel_layer(const layer_run *r, const ttt_tensor *x, ttt_tensor *out,
                                 layer_buffers *buf, float m) {
  const ttt_decoder_layer_spec *s = r->spec;
  const ttt_decoder_layer_impl_config *i = r->impl;
  const ttt_decoder_layer_weights *w = r->weights;
  /* Both branches split and nobody observing them: their partial sums are added first and
   * all-reduced once (one synchronization per layer instead of two); the branches then run
   * without tensor-parallel steps of their own. */
  bool fused = r->tp && r->tp->attention && r->tp->ffn && !(r->observer && r->observer->fn);
  layer_run branches = *r;
  if (fused) branches.tp = NULL;
  ttt_status st = run_norm(r, "attention_norm", &s->attention_norm, &i->attention_norm,
                           &w->attention_norm, x, &buf->a);
  if (st == TTT_OK) st = run_attention(&branches, &buf->a, &buf->b);
  const ttt_tensor *ffn_in = &buf->a;
  if (st == TTT_OK && s->residual == TTT_RESIDUAL_PARALLEL_TWO_NORMS) {
    st = run_norm(r, "ffn_norm", &s->ffn_norm, &i->ffn_norm, &w->ffn_norm, x, &buf->c);
    ffn_in = &buf->c;
  }
  if (st == TTT_OK) st = run_ffn(&branches, ffn_in, &buf->d);
  if (st != TTT_OK) return st;
  float *attn = buf->b.data, *ffn = buf->d.data;
  int64_t n = ttt_tensor_numel(out);
  for (int64_t k = 0; k < n; k++) attn[k] += ffn[k];
  if (fused && (st = all_reduce_partial(r, true, &buf->b)) != TTT_OK)
    return module_failure(r, st, "attention + ffn");
  add_scaled_rows(out->data, x->data, attn, m, n);
  return TTT_OK;
}

static ttt_status check_layer_io(ttt_mode mode, const ttt_decoder_layer_spec *spec,
                                 const ttt_tensor *x, const ttt_tensor *out) {
  int64_t hidden = ttt_decoder_layer_hidden(spec);
  if (x->dtype != TTT_F32 || x->ndim != 2 || x->shape[1] != hidden || !x->data)
    return ttt_set_error(TTT_ERR_SHAPE, "decoder layer: x must be [T, %lld] f32",
                         (long long)hidden);
  if (out->dtype != TTT_F32 || out->ndim != 2 || out->shape[0] != x->shape[0] ||
      out->shape[1] != hidden || !out->data)
    return ttt_set_error(TTT_ERR_SHAPE, "decoder layer: out must be [%lld, %lld] f32",
                         (long long)x->shape[0], (long long)hidden);
  if (mode == TTT_MODE_DECODE && x->shape[0] != 1)
    return ttt_set_error(TTT_ERR_SHAPE, "decoder layer: decode takes one token, got %lld",
                         (long long)x->shape[0]);
  return TTT_OK;
}

static ttt_status layer_forward(const layer_run *run, const ttt_tensor *x, ttt_tensor *out);

ttt_status ttt_decoder_layer_parallel_forward(
    ttt_context *ctx, ttt_mode mode, const ttt_decoder_layer_spec *spec,
    const ttt_decoder_layer_impl_config *impl, const ttt_decoder_layer_weights *weights,
    const ttt_rope *rope, ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
    int64_t start_pos, ttt_tensor *out, const char *path, const ttt_observer *observer,
    const ttt_layer_parallel *tp) {
  if (!ctx || !spec || !impl || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "decoder layer: NULL argument");
  ttt_status st = check_layer_io(mode, spec, x, out);
  if (st != TTT_OK) return st;
  layer_run r = {ctx,   mode,      spec, impl,     weights, rope, cache,
                 layer, start_pos, path, observer, NULL,    0,    tp};
  return layer_forward(&r, x, out);
}

ttt_status ttt_decoder_layer_forward(ttt_context *ctx, ttt_mode mode,
                                     const ttt_decoder_layer_spec *spec,
                                     const ttt_decoder_layer_impl_config *impl,
                                     const ttt_decoder_layer_weights *weights, const ttt_rope *rope,
                                     ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                     int64_t start_pos, ttt_tensor *out, const char *path,
                                     const ttt_observer *observer) {
  return ttt_decoder_layer_parallel_forward(ctx, mode, spec, impl, weights, rope, cache, layer, x,
                                            start_pos, out, path, observer, NULL);
}

ttt_status ttt_decoder_layer_seqs_forward(
    ttt_context *ctx, ttt_mode mode, const ttt_decoder_layer_spec *spec,
    const ttt_decoder_layer_impl_config *impl, const ttt_decoder_layer_weights *weights,
    const ttt_rope *rope, const ttt_attention_seq *seqs, int64_t n_seqs, const ttt_tensor *x,
    ttt_tensor *out, const char *path, const ttt_observer *observer, const ttt_layer_parallel *tp) {
  if (!ctx || !spec || !impl || !weights || !x || !out || !seqs)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "decoder layer: NULL argument");
  /* rows of several sequences: checked as a prefill of x's rows */
  ttt_status st = check_layer_io(TTT_MODE_PREFILL, spec, x, out);
  if (st != TTT_OK) return st;
  layer_run r = {ctx, mode,          spec, impl,     weights, rope,   NULL,
                 -1,  seqs[0].start, path, observer, seqs,    n_seqs, tp};
  return layer_forward(&r, x, out);
}

static ttt_status layer_forward(const layer_run *run, const ttt_tensor *x, ttt_tensor *out) {
  const ttt_decoder_layer_spec *spec = run->spec;
  ttt_context *ctx = run->ctx;
  ttt_status st = validate_topology(spec);
  if (st != TTT_OK) return st;
  int64_t T = x->shape[0], hidden = ttt_decoder_layer_hidden(spec);
  bool parallel = spec->residual != TTT_RESIDUAL_SEQUENTIAL;
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  layer_buffers buf;
  ttt_tensor *slots[4] = {&buf.a, &buf.b, &buf.c, &buf.d};
  for (int k = 0; k < (parallel ? 4 : 2); k++) {
    float *p = ttt_scratch_alloc(ctx, (size_t)(T * hidden) * sizeof(float));
    if (!p) {
      ttt_scratch_restore(ctx, mark);
      return TTT_ERR_OUT_OF_MEMORY;
    }
    *slots[k] = ttt_tensor_2d(TTT_F32, p, T, hidden);
  }
  float m = spec->residual_multiplier != 0.0f ? spec->residual_multiplier : 1.0f;
  if (parallel) {
    st = parallel_layer(run, x, out, &buf, m);
  } else {
    /* The residual stream lives in `out` after the attention add. */
    st = sequential_sublayer(run, true, x, out, &buf, m);
    if (st == TTT_OK) st = sequential_sublayer(run, false, out, out, &buf, m);
  }
  if (st == TTT_OK) ttt_observe(run->observer, run->path, NULL, run->mode, run->start_pos, x, out);
  ttt_scratch_restore(ctx, mark);
  return st;
}
