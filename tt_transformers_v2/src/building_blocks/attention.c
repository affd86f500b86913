/*
 * Attention: q/k/v projections (fused or not, with biases), q/k normalization, RoPE, a KV cache
 * (f32 or bf16, full or sliding-window ring), scaled dot-product attention with GQA head sharing,
 * causal / sliding-window / key-padding masks, optional soft-capping, and the output projection.
 *
 * Order of a cached forward of T tokens at positions [start, start + T):
 *   1. project x → q [T, n_heads·hd], k and v [T, n_kv_heads·hd] (f32 scratch);
 *   2. q/k normalization (qk_norm: per head, per head with own weights, or over all heads), then
 *      RoPE at each token's position;
 *   3. round k and v to the cache dtype (so this chunk sees exactly what later tokens will read);
 *   4. attention: keys at positions < start come from the cache, keys of this chunk (>= start) from
 *      the chunk's own k/v rows;
 *   5. output projection;
 *   6. only then append the chunk's k/v to the cache.
 * Appending last is what makes sliding-window rings correct for chunks of any length: while the
 * chunk attends, the ring still holds the positions before `start` that its first queries need
 * ((start - window, start) at most, exactly the ring's content), and nothing of the chunk has been
 * written over them yet. It also leaves the cache untouched when an error is reported.
 */
#include <math.h>
#include <string.h>

#include "attention_internal.h"
#include "block_util.h"
#include "runtime/kernels.h"
#include "runtime/runtime.h"

/* ---- defaults ---- */

/* Algorithm defaults per mode (dtypes, kernel and fusion come from the shared block defaults).
 * Prefill: TILED. Many queries see many keys; the online softmax needs only block_size scores per
 * query, and each key/value tile, read in place, serves query_block positions × the heads of a
 * GQA group (64 query rows by default) in the SIMD tile kernels.
 * Decode: TILED too. NAIVE reads (and for a bf16 cache converts) every cached key and value once
 * per query head in portable code; TILED once per GQA group, in the kernels. Measured on the
 * Llama-3.2-1B shape (32/8 heads, bf16 cache, 2 threads, context 1024, `ttt bench --strategy
 * performance -p 1024 -n 16`): 16.4 tok/s tiled vs 9.6 naive. */
typedef struct attention_defaults {
  ttt_attention_algorithm algorithm;
  int32_t block_size;
  ttt_dtype kv_dtype;
} attention_defaults;

static const attention_defaults defaults_by_mode[] = {
    [TTT_MODE_PREFILL] = {TTT_ATTENTION_TILED, 64, TTT_F32},
    [TTT_MODE_DECODE] = {TTT_ATTENTION_TILED, 64, TTT_F32},
};

static const attention_defaults *defaults_for(ttt_mode mode) {
  return &defaults_by_mode[mode == TTT_MODE_DECODE ? TTT_MODE_DECODE : TTT_MODE_PREFILL];
}

ttt_attention_impl_config ttt_attention_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                            const ttt_attention_spec *spec) {
  (void)device;
  (void)spec;
  const ttt_block_defaults *b = ttt_block_defaults_for(mode);
  const attention_defaults *d = defaults_for(mode);
  return (ttt_attention_impl_config){.weight_dtype = b->weight_dtype,
                                     .activation_dtype = b->activation_dtype,
                                     .kernel = b->kernel,
                                     .threads = 0,
                                     .fuse_qkv = b->fuse_projections,
                                     .algorithm = d->algorithm,
                                     .block_size = d->block_size,
                                     .kv_dtype = d->kv_dtype};
}

/* ---- validation ---- */

static ttt_status validate_rope(const ttt_attention_spec *s) {
  if (s->rope.type == TTT_ROPE_NONE) return TTT_OK;
  ttt_status st = ttt_rope_spec_validate(&s->rope);
  if (st != TTT_OK) return ttt_error_prefix(st, "attention spec");
  if (s->rope.head_dim != ttt_attention_head_dim(s))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention spec: rope.head_dim (%lld) must equal head_dim (%lld)",
                         (long long)s->rope.head_dim, (long long)ttt_attention_head_dim(s));
  return TTT_OK;
}

static const char *const qk_norm_names[] = {[TTT_QK_NORM_NONE] = "none",
                                            [TTT_QK_NORM_HEAD] = "head",
                                            [TTT_QK_NORM_HEAD_WEIGHTS] = "head_weights",
                                            [TTT_QK_NORM_ALL] = "all"};

const char *ttt_qk_norm_name(ttt_qk_norm kind) {
  return (unsigned)kind <= TTT_QK_NORM_ALL ? qk_norm_names[kind] : "unknown";
}

static const char *const algorithm_names[] = {[TTT_ATTENTION_DEFAULT] = "default",
                                              [TTT_ATTENTION_NAIVE] = "naive",
                                              [TTT_ATTENTION_TILED] = "tiled"};

const char *ttt_attention_algorithm_name(ttt_attention_algorithm algorithm) {
  return (unsigned)algorithm <= TTT_ATTENTION_TILED ? algorithm_names[algorithm] : "unknown";
}

/* The norm spec the q (or k) normalization runs with: qk_norm_spec with the dim of the kind. */
static ttt_norm_spec qk_norm_block_spec(const ttt_attention_spec *s, int64_t heads) {
  ttt_norm_spec ns = s->qk_norm_spec;
  int64_t hd = ttt_attention_head_dim(s);
  ns.dim = s->qk_norm == TTT_QK_NORM_ALL ? heads * hd : hd;
  return ns;
}

static ttt_status validate_qk_norm(const ttt_attention_spec *s) {
  if (s->qk_norm == TTT_QK_NORM_NONE) return TTT_OK;
  if ((unsigned)s->qk_norm > TTT_QK_NORM_ALL)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention spec: qk_norm (%d) is not a ttt_qk_norm value (0..%d)",
                         (int)s->qk_norm, (int)TTT_QK_NORM_ALL);
  ttt_norm_spec ns = qk_norm_block_spec(s, s->n_heads);
  ttt_status st = ttt_norm_spec_validate(&ns);
  return st != TTT_OK ? ttt_error_prefix(st, "attention spec: qk_norm_spec") : TTT_OK;
}

ttt_status ttt_attention_spec_validate(const ttt_attention_spec *s) {
  if (!s) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention spec: NULL");
  if (s->hidden < 1 || s->n_heads < 1 || s->n_kv_heads < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention spec: hidden (%lld), n_heads (%lld) and n_kv_heads (%lld) must "
                         "be >= 1",
                         (long long)s->hidden, (long long)s->n_heads, (long long)s->n_kv_heads);
  if (s->n_heads % s->n_kv_heads != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention spec: n_heads (%lld) is not a multiple of n_kv_heads (%lld)",
                         (long long)s->n_heads, (long long)s->n_kv_heads);
  if (s->head_dim < 0 || (s->head_dim == 0 && s->hidden % s->n_heads != 0))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention spec: head_dim (%lld) must be > 0, or 0 with hidden (%lld) a "
                         "multiple of n_heads (%lld)",
                         (long long)s->head_dim, (long long)s->hidden, (long long)s->n_heads);
  ttt_status st = validate_qk_norm(s);
  if (st != TTT_OK) return st;
  if (s->sliding_window < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention spec: sliding_window (%lld) must be >= 0",
                         (long long)s->sliding_window);
  if (!(s->scale >= 0.0f && isfinite(s->scale)) || !(s->softcap >= 0.0f && isfinite(s->softcap)))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention spec: scale (%g) and softcap (%g) must be finite and >= 0",
                         (double)s->scale, (double)s->softcap);
  return validate_rope(s);
}

/* An impl config with defaults filled in for `mode`. kv_dtype DEFAULT accepts the cache's dtype. */
static ttt_status resolve_impl(const ttt_attention_impl_config *in, ttt_mode mode,
                               ttt_attention_impl_config *out) {
  if (!in) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: NULL impl config");
  *out = *in;
  out->weight_dtype = ttt_block_weight_dtype(out->weight_dtype);
  out->activation_dtype = ttt_block_activation_dtype(out->activation_dtype);
  out->kernel = ttt_block_kernel(out->kernel);
  if (out->algorithm == TTT_ATTENTION_DEFAULT) out->algorithm = defaults_for(mode)->algorithm;
  if (out->block_size == 0) out->block_size = defaults_for(mode)->block_size;
  ttt_status st =
      ttt_block_check_impl("attention impl", out->weight_dtype, out->activation_dtype, out->kernel);
  if (st != TTT_OK) return st;
  if (out->algorithm != TTT_ATTENTION_NAIVE && out->algorithm != TTT_ATTENTION_TILED)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention impl: unknown algorithm %d",
                         (int)out->algorithm);
  if (out->block_size < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention impl: block_size (%d) must be >= 1",
                         (int)out->block_size);
  if (out->query_block < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention impl: query_block (%d) must be >= 0 (0: default)",
                         (int)out->query_block);
  if (out->kv_dtype != TTT_DTYPE_DEFAULT && out->kv_dtype != TTT_F32 && out->kv_dtype != TTT_BF16)
    return ttt_set_error(TTT_ERR_DTYPE, "attention impl: kv_dtype %s is not supported (f32, bf16)",
                         ttt_dtype_name(out->kv_dtype));
  return TTT_OK;
}

/* A q/k norm weight or bias of `heads` heads: [head_dim] (HEAD), [heads, head_dim] or
 * [heads·head_dim] (HEAD_WEIGHTS), [heads·head_dim] (ALL); present exactly when `wanted`. */
static ttt_status check_qk_norm_tensor(const ttt_attention_spec *s, const ttt_tensor *t,
                                       bool wanted, const char *name, int64_t heads) {
  ttt_status st = ttt_block_check_optional(t, name, wanted, "spec.qk_norm");
  if (st != TTT_OK || !wanted) return st;
  int64_t hd = ttt_attention_head_dim(s);
  if (s->qk_norm == TTT_QK_NORM_HEAD) return ttt_block_check_vector(t, name, TTT_F32, hd);
  if (s->qk_norm == TTT_QK_NORM_HEAD_WEIGHTS && t->ndim == 2 && t->shape[0] == heads)
    return ttt_block_check_matrix(t, name, TTT_F32, heads, hd);
  return ttt_block_check_vector(t, name, TTT_F32, heads * hd);
}

static ttt_status check_qk_norm_weights(const ttt_attention_spec *s,
                                        const ttt_attention_weights *w) {
  bool norm = s->qk_norm != TTT_QK_NORM_NONE, bias = norm && s->qk_norm_spec.bias;
  ttt_status st = check_qk_norm_tensor(s, &w->q_norm, norm, "attention.q_norm", s->n_heads);
  if (st == TTT_OK)
    st = check_qk_norm_tensor(s, &w->k_norm, norm, "attention.k_norm", s->n_kv_heads);
  if (st == TTT_OK)
    st = check_qk_norm_tensor(s, &w->q_norm_bias, bias, "attention.q_norm_bias", s->n_heads);
  if (st == TTT_OK)
    st = check_qk_norm_tensor(s, &w->k_norm_bias, bias, "attention.k_norm_bias", s->n_kv_heads);
  return st;
}

/* An f32 [n] vector, present exactly when the spec flag `flag` is set. */
static ttt_status check_optional_vector(const ttt_tensor *v, bool wanted, const char *name,
                                        const char *flag, int64_t n) {
  ttt_status st = ttt_block_check_optional(v, name, wanted, flag);
  if (st != TTT_OK || !wanted) return st;
  return ttt_block_check_vector(v, name, TTT_F32, n);
}

static ttt_status check_weights(const ttt_attention_spec *s, ttt_dtype dtype,
                                const ttt_attention_weights *w) {
  if (!w) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: NULL weights");
  int64_t hd = ttt_attention_head_dim(s), q_dim = s->n_heads * hd, kv_dim = s->n_kv_heads * hd;
  ttt_status st;
  if ((st = ttt_block_check_matrix(&w->wq, "attention.wq", dtype, q_dim, s->hidden)) != TTT_OK ||
      (st = ttt_block_check_matrix(&w->wk, "attention.wk", dtype, kv_dim, s->hidden)) != TTT_OK ||
      (st = ttt_block_check_matrix(&w->wv, "attention.wv", dtype, kv_dim, s->hidden)) != TTT_OK ||
      (st = ttt_block_check_matrix(&w->wo, "attention.wo", dtype, s->hidden, q_dim)) != TTT_OK ||
      (st = check_optional_vector(&w->bq, s->q_bias, "attention.bq", "spec.q_bias", q_dim)) ||
      (st = check_optional_vector(&w->bk, s->k_bias, "attention.bk", "spec.k_bias", kv_dim)) ||
      (st = check_optional_vector(&w->bv, s->v_bias, "attention.bv", "spec.v_bias", kv_dim)) ||
      (st = check_optional_vector(&w->bo, s->o_bias, "attention.bo", "spec.o_bias", s->hidden)) ||
      (st = check_qk_norm_weights(s, w)))
    return st;
  return TTT_OK;
}

/* The rope tables must exist when the spec asks for them, match the spec, and cover the positions
 * [0, end). */
static ttt_status check_rope(const ttt_attention_spec *s, const ttt_rope *rope, int64_t end) {
  if (s->rope.type == TTT_ROPE_NONE) return TTT_OK;
  if (!rope)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention: spec.rope has a type but the rope tables are NULL");
  const ttt_rope_spec *r = ttt_rope_get_spec(rope);
  int64_t rotary = s->rope.rotary_dim ? s->rope.rotary_dim : s->rope.head_dim;
  if (r->type != s->rope.type || r->head_dim != s->rope.head_dim || r->rotary_dim != rotary ||
      r->interleaved != s->rope.interleaved)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention: rope tables (type %d, head_dim %lld, rotary_dim %lld) do not "
                         "match spec.rope",
                         (int)r->type, (long long)r->head_dim, (long long)r->rotary_dim);
  if (end > r->max_positions)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                         "attention: positions up to %lld need rope tables longer than "
                         "max_positions %lld",
                         (long long)end - 1, (long long)r->max_positions);
  return TTT_OK;
}

/* x and out: f32 with the given leading dims and hidden last; out must not alias x. */
static ttt_status check_activations(const ttt_attention_spec *s, const ttt_tensor *x,
                                    const ttt_tensor *out, int32_t ndim) {
  if (!x || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: NULL x or out");
  ttt_status st = ttt_tensor_check(x, "attention: x");
  if (st == TTT_OK) st = ttt_tensor_check(out, "attention: out");
  if (st != TTT_OK) return st;
  if (x->dtype != TTT_F32 || out->dtype != TTT_F32)
    return ttt_set_error(TTT_ERR_DTYPE, "attention: x and out must be f32 (got %s, %s)",
                         ttt_dtype_name(x->dtype), ttt_dtype_name(out->dtype));
  if (x->ndim != ndim || x->shape[ndim - 1] != s->hidden)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "attention: x must have %d dims with last dim hidden "
                         "(%lld), got ndim %d, last dim %lld",
                         (int)ndim, (long long)s->hidden, (int)x->ndim,
                         (long long)x->shape[x->ndim - 1]);
  for (int32_t d = 0; d < ndim; d++)
    if (out->ndim != ndim || out->shape[d] != x->shape[d])
      return ttt_set_error(TTT_ERR_SHAPE, "attention: out must have the shape of x");
  return ttt_block_check_no_alias(out, x, "attention");
}

/* The cache layer must hold this spec's kv heads in the dtype the impl expects, its window (if a
 * ring) must be the spec's, start must be its length and [start, start + T) must fit. */
static ttt_status check_cache(const ttt_attention_spec *s, const ttt_attention_impl_config *impl,
                              ttt_kv_cache *cache, int64_t layer, int64_t start, int64_t T) {
  const ttt_kv_cache_spec *cs = ttt_kv_cache_get_spec(cache);
  if (!cs) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: NULL kv cache");
  if (layer < 0 || layer >= cs->n_layers)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                         "attention: layer %lld is outside the cache's [0, %lld)", (long long)layer,
                         (long long)cs->n_layers);
  const ttt_kv_cache_layer_spec *ls = &cs->layers[layer];
  if (ls->latent)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention: kv cache layer %lld is a latent (MLA) layer",
                         (long long)layer);
  if (ls->n_kv_heads != s->n_kv_heads || ls->head_dim != ttt_attention_head_dim(s))
    return ttt_set_error(TTT_ERR_SHAPE,
                         "attention: kv cache layer %lld has %lld kv heads of %lld, spec needs "
                         "%lld of %lld",
                         (long long)layer, (long long)ls->n_kv_heads, (long long)ls->head_dim,
                         (long long)s->n_kv_heads, (long long)ttt_attention_head_dim(s));
  if (impl->kv_dtype != TTT_DTYPE_DEFAULT && impl->kv_dtype != ls->dtype)
    return ttt_set_error(TTT_ERR_DTYPE, "attention: kv cache layer %lld dtype %s, impl kv_dtype %s",
                         (long long)layer, ttt_dtype_name(ls->dtype),
                         ttt_dtype_name(impl->kv_dtype));
  int64_t ring = cs->sliding_window[layer];
  if (ring > 0 && ring != s->sliding_window)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention: cache layer %lld is a ring of window %lld but the spec's "
                         "sliding_window is %lld",
                         (long long)layer, (long long)ring, (long long)s->sliding_window);
  int64_t length = ttt_kv_cache_length(cache, layer);
  if (start != length)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention: start position %lld must equal the cache length %lld of layer "
                         "%lld",
                         (long long)start, (long long)length, (long long)layer);
  if (start + T > cs->max_positions)
    return ttt_set_error(TTT_ERR_CAPACITY,
                         "attention: positions [%lld, %lld) exceed the kv cache capacity of %lld "
                         "positions",
                         (long long)start, (long long)(start + T), (long long)cs->max_positions);
  return TTT_OK;
}

/* ---- attention core ---- */

/* The attention of one forward. Queries: B sequences of T rows, query (b, t) at position pos0 + t.
 * Keys of a sequence: positions < split are in `cache`; positions split + i (i < T) are the rows i
 * of this chunk's k/v. Visible keys of a query at p: causal (j <= p) unless bidirectional, within
 * the window when set (causal: j > p - window; bidirectional: |j - p| <= window / 2), and not
 * masked by key_mask[b·T + i]. */
typedef struct attn_job {
  int64_t B, T, pos0, split;
  int64_t n_heads, n_kv_heads, rep, hd;
  float scale, softcap;
  bool causal;
  int64_t window;
  const float *q;     /* [B·T, n_heads·hd] */
  const float *k, *v; /* [B·T, n_kv_heads·hd] */
  const uint8_t *key_mask;
  const ttt_kv_layer *cache; /* NULL when split == 0 */
  float *o;                  /* [B·T, n_heads·hd] */
  int64_t block;             /* keys per tile (TILED) */
  int64_t qt;                /* query positions per tile (TILED) */
  ttt_attention_kernel kernel;
  uint8_t *scratch; /* per-thread areas of scratch_stride bytes */
  size_t scratch_stride;
} attn_job;

/* Row of key (value: false) or value (true) at position j for kv head h of sequence b, as f32: a
 * pointer into f32 storage or `buf` holding a converted bf16 row. */
static const float *kv_row(const attn_job *job, bool value, int64_t b, int64_t h, int64_t j,
                           float *buf) {
  if (j >= job->split) {
    const float *base = value ? job->v : job->k;
    return base + (b * job->T + j - job->split) * job->n_kv_heads * job->hd + h * job->hd;
  }
  const ttt_kv_layer *l = job->cache;
  const void *row = ttt_kv_row(l, value, h, j);
  if (l->dtype == TTT_F32) return row;
  /* bf16 → f32 is a 16-bit shift; done inline so that the loop vectorizes (the cache row is
   * re-read for every query of the chunk). */
  const uint16_t *src = row;
  for (int64_t i = 0; i < job->hd; i++) {
    uint32_t bits = (uint32_t)src[i] << 16;
    memcpy(&buf[i], &bits, sizeof bits);
  }
  return buf;
}

static bool key_masked(const attn_job *job, int64_t b, int64_t j) {
  return job->key_mask && j >= job->split && !job->key_mask[b * job->T + j - job->split];
}

/* Visible key range [lo, hi] of a query at position p. */
static void key_range(const attn_job *job, int64_t p, int64_t *lo, int64_t *hi) {
  int64_t last = job->split + job->T - 1;
  if (!job->causal && job->window > 0) { /* symmetric window */
    int64_t half = job->window / 2;
    *lo = p - half > 0 ? p - half : 0;
    *hi = p + half < last ? p + half : last;
    return;
  }
  *hi = job->causal ? p : last;
  *lo = (job->window > 0 && p - job->window + 1 > 0) ? p - job->window + 1 : 0;
}

/* Dot product with 16 independent partial sums, so the compiler can vectorize it (a single
 * running sum is a serial dependency it may not reorder). */
static float dot(const float *a, const float *b, int64_t n) {
  enum { LANES = 16 };
  float partial[LANES] = {0};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) partial[l] += a[i + l] * b[i + l];
  float acc = 0.0f;
  for (; i < n; i++) acc += a[i] * b[i];
  for (int l = 0; l < LANES; l++) acc += partial[l];
  return acc;
}

static float score_of(const attn_job *job, const float *q, const float *k) {
  float s = dot(q, k, job->hd) * job->scale;
  return job->softcap > 0.0f ? job->softcap * tanhf(s / job->softcap) : s;
}

/* NAIVE: one (sequence, query, head): all scores of the visible range, softmax, weighted sum. */
static void naive_item(const attn_job *job, int64_t b, int64_t t, int64_t h, float *scores,
                       float *buf) {
  int64_t row = b * job->T + t, kvh = h / job->rep, p = job->pos0 + t, lo, hi;
  const float *q = job->q + row * job->n_heads * job->hd + h * job->hd;
  float *o = job->o + row * job->n_heads * job->hd + h * job->hd;
  key_range(job, p, &lo, &hi);
  memset(o, 0, (size_t)job->hd * sizeof(float));
  int64_t visible = 0;
  for (int64_t j = lo; j <= hi; j++) {
    bool masked = key_masked(job, b, j);
    scores[j - lo] = masked ? -INFINITY : score_of(job, q, kv_row(job, false, b, kvh, j, buf));
    visible += !masked;
  }
  if (visible == 0) return; /* no key to attend to: a zero output */
  ttt_softmax(scores, hi - lo + 1);
  for (int64_t j = lo; j <= hi; j++) {
    if (scores[j - lo] == 0.0f) continue;
    const float *v = kv_row(job, true, b, kvh, j, buf);
    for (int64_t i = 0; i < job->hd; i++) o[i] += scores[j - lo] * v[i];
  }
}

/* Per-thread state of the TILED path, carved from the thread's scratch area. A work item is one
 * (kv group, sequence, block of qt query positions); its R = qt·rep query rows are ordered
 * position-major: row ρ is head g·rep + ρ % rep of query position t0 + ρ / rep. */
typedef struct tile_state {
  float *q;              /* [R][hd] the item's query rows */
  float *acc;            /* [R][hd] running weighted sums of values */
  float *s;              /* [R][block] scores of the current tile, then their exp */
  float *m, *l;          /* [R] running max and running sum of exp (online softmax) */
  float *rescale;        /* [R] factor each accumulator row takes before the current tile */
  const void **kp, **vp; /* [block] key and value rows of the current tile */
} tile_state;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static size_t floats(int64_t n) { return align64((size_t)n * sizeof(float)); }

/* Bytes of one thread's TILED state (each piece 64-byte aligned). */
static size_t tile_state_bytes(int64_t rows, int64_t hd, int64_t block) {
  return 2 * floats(rows * hd) + floats(rows * block) + 3 * floats(rows) +
         2 * align64((size_t)block * sizeof(void *));
}

static tile_state tile_state_carve(uint8_t *p, int64_t rows, int64_t hd, int64_t block) {
  tile_state ts;
  ts.q = (float *)(void *)p;
  ts.acc = (float *)(void *)(p += floats(rows * hd));
  ts.s = (float *)(void *)(p += floats(rows * hd));
  ts.m = (float *)(void *)(p += floats(rows * block));
  ts.l = (float *)(void *)(p += floats(rows));
  ts.rescale = (float *)(void *)(p += floats(rows));
  ts.kp = (const void **)(void *)(p += floats(rows));
  ts.vp = (const void **)(void *)(p + align64((size_t)block * sizeof(void *)));
  return ts;
}

/* Key/value rows of positions [j0, j0 + n) of kv head g (a tile never straddles `split`, so all
 * its rows come from one source); returns their dtype. */
static ttt_dtype tile_rows(const attn_job *job, int64_t b, int64_t g, int64_t j0, int64_t n,
                           tile_state *ts) {
  if (j0 >= job->split) {
    int64_t ld = job->n_kv_heads * job->hd;
    int64_t first = (b * job->T + j0 - job->split) * ld + g * job->hd;
    for (int64_t i = 0; i < n; i++) {
      ts->kp[i] = job->k + first + i * ld;
      ts->vp[i] = job->v + first + i * ld;
    }
    return TTT_F32;
  }
  const ttt_kv_layer *l = job->cache;
  for (int64_t i = 0; i < n; i++) {
    ts->kp[i] = ttt_kv_row(l, false, g, j0 + i);
    ts->vp[i] = ttt_kv_row(l, true, g, j0 + i);
  }
  return l->dtype;
}

/* Sets the scores of keys a query cannot see (outside its causal/window range, or padding) to
 * -inf, for the tile [j0, j0 + n) and the item's positions [t0, t0 + qt). */
static void mask_tile(const attn_job *job, int64_t b, int64_t t0, int64_t qt, int64_t j0, int64_t n,
                      tile_state *ts) {
  for (int64_t t = 0; t < qt; t++) {
    int64_t lo, hi;
    key_range(job, job->pos0 + t0 + t, &lo, &hi);
    for (int64_t i = 0; i < n; i++) {
      int64_t j = j0 + i;
      if (j >= lo && j <= hi && !key_masked(job, b, j)) continue;
      for (int64_t r = 0; r < job->rep; r++) ts->s[(t * job->rep + r) * job->block + i] = -INFINITY;
    }
  }
}

static void softcap_tile(const attn_job *job, tile_state *ts, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < n; i++) {
      float *x = &ts->s[r * job->block + i];
      *x = job->softcap * tanhf(*x / job->softcap);
    }
}

/* The item's query rows into ts->q, its state reset. */
static void load_queries(const attn_job *job, int64_t b, int64_t t0, int64_t qt, int64_t g,
                         tile_state *ts) {
  int64_t hd = job->hd, rows = qt * job->rep, width = job->rep * hd;
  for (int64_t t = 0; t < qt; t++)
    memcpy(ts->q + t * width, job->q + ((b * job->T + t0 + t) * job->n_heads * hd + g * width),
           (size_t)width * sizeof(float));
  for (int64_t r = 0; r < rows; r++) {
    ts->m[r] = -INFINITY;
    ts->l[r] = 0.0f;
  }
  memset(ts->acc, 0, (size_t)(rows * hd) * sizeof(float));
}

/* TILED: one (kv group g, sequence b, query positions [t0, t0 + qt)). Every key/value tile is read
 * once for all the item's query rows. Tiles inside every row's visible range skip masking. */
static void tiled_item(const attn_job *job, int64_t b, int64_t t0, int64_t qt, int64_t g,
                       tile_state *ts) {
  const ttt_attention_kernel *kern = &job->kernel;
  int64_t hd = job->hd, rows = qt * job->rep, lo, hi, all_lo, all_hi;
  load_queries(job, b, t0, qt, g, ts);
  key_range(job, job->pos0 + t0, &lo, &all_hi);          /* first query: lowest range */
  key_range(job, job->pos0 + t0 + qt - 1, &all_lo, &hi); /* last query: highest range */
  for (int64_t j0 = lo, n; j0 <= hi; j0 += n) {
    n = hi - j0 + 1 < job->block ? hi - j0 + 1 : job->block;
    if (j0 < job->split && j0 + n > job->split) n = job->split - j0;
    ttt_dtype dtype = tile_rows(job, b, g, j0, n, ts);
    kern->scores(ts->q, hd, rows, ts->kp, dtype, n, hd, job->scale, ts->s, job->block);
    if (job->softcap > 0.0f) softcap_tile(job, ts, rows, n);
    if (job->key_mask || j0 < all_lo || j0 + n - 1 > all_hi) mask_tile(job, b, t0, qt, j0, n, ts);
    kern->softmax(ts->s, job->block, rows, n, ts->m, ts->l, ts->rescale);
    kern->accumulate(ts->s, job->block, rows, ts->vp, dtype, n, hd, ts->rescale, ts->acc, hd);
  }
  for (int64_t r = 0; r < rows; r++) {
    float *o = job->o + (b * job->T + t0 + r / job->rep) * job->n_heads * hd +
               (g * job->rep + r % job->rep) * hd;
    float inverse = ts->l[r] > 0.0f ? 1.0f / ts->l[r] : 0.0f; /* no visible key: zero output */
    for (int64_t d = 0; d < hd; d++) o[d] = ts->acc[r * hd + d] * inverse;
  }
}

/* Work items are ordered head-major, (head or group) × sequence × query, so that contiguous ranges
 * give each thread whole heads: causal rows of every length land in every range (balanced) and a
 * thread keeps re-reading the same kv head's keys. */
static void naive_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  const attn_job *job = arg;
  float *scores = (float *)(void *)(job->scratch + (size_t)thread * job->scratch_stride);
  float *buf = scores + job->split + job->T;
  int64_t rows = job->B * job->T;
  for (int64_t item = begin; item < end; item++)
    naive_item(job, (item % rows) / job->T, item % job->T, item / rows, scores, buf);
}

static void tiled_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  const attn_job *job = arg;
  tile_state ts = tile_state_carve(job->scratch + (size_t)thread * job->scratch_stride,
                                   job->qt * job->rep, job->hd, job->block);
  int64_t blocks = (job->T + job->qt - 1) / job->qt, per_group = job->B * blocks;
  for (int64_t item = begin; item < end; item++) {
    int64_t b = (item % per_group) / blocks, t0 = (item % blocks) * job->qt;
    int64_t qt = job->T - t0 < job->qt ? job->T - t0 : job->qt;
    tiled_item(job, b, t0, qt, item / per_group, &ts);
  }
}

static ttt_status run_attention(ttt_context *ctx, const ttt_attention_impl_config *impl,
                                attn_job *job) {
  bool tiled = impl->algorithm == TTT_ATTENTION_TILED;
  int32_t threads = ttt_context_threads(ctx, impl->threads);
  /* NAIVE: every visible score of one query (at most split + T) and one converted row. */
  job->scratch_stride = tiled ? tile_state_bytes(job->qt * job->rep, job->hd, job->block)
                              : align64((size_t)(job->split + job->T + job->hd) * sizeof(float));
  job->scratch = ttt_scratch_alloc(ctx, job->scratch_stride * (size_t)threads);
  if (!job->scratch) return TTT_ERR_OUT_OF_MEMORY;
  int64_t items = tiled ? job->n_kv_heads * job->B * ((job->T + job->qt - 1) / job->qt)
                        : job->n_heads * job->B * job->T;
  ttt_parallel_for(ctx, threads, items, 1, tiled ? tiled_range : naive_range, job);
  return TTT_OK;
}

/* ---- projections and per-token work ---- */

typedef struct qkv_buffers {
  float *q, *k, *v, *attn; /* [rows, q_dim], [rows, kv_dim] ×2, [rows, q_dim] */
  int32_t *positions;      /* [rows] */
  int32_t *ends; /* [rows] multi-sequence forwards: last position + 1 of the row's sequence (its
                    LONGROPE factors are chosen as in a forward of that sequence alone); else NULL */
  const ttt_attention_trace *trace; /* NULL: the q/k norms are not reported */
} qkv_buffers;

static ttt_status alloc_buffers(ttt_context *ctx, const ttt_attention_spec *s, int64_t rows,
                                qkv_buffers *b) {
  int64_t hd = ttt_attention_head_dim(s);
  size_t q_bytes = (size_t)(rows * s->n_heads * hd) * sizeof(float);
  size_t kv_bytes = (size_t)(rows * s->n_kv_heads * hd) * sizeof(float);
  b->q = ttt_scratch_alloc(ctx, q_bytes);
  b->k = ttt_scratch_alloc(ctx, kv_bytes);
  b->v = ttt_scratch_alloc(ctx, kv_bytes);
  b->attn = ttt_scratch_alloc(ctx, q_bytes);
  b->positions = ttt_scratch_alloc(ctx, (size_t)rows * sizeof(int32_t));
  if (!b->q || !b->k || !b->v || !b->attn || !b->positions) return TTT_ERR_OUT_OF_MEMORY;
  return TTT_OK;
}

static ttt_linear_config linear_config(const ttt_attention_impl_config *impl) {
  return (ttt_linear_config){impl->kernel, impl->activation_dtype, impl->threads};
}

static const float *bias_of(const ttt_tensor *b, bool present) {
  return present ? (const float *)b->data : NULL;
}

/* q, k, v = x·Wᵀ + b: one parallel pass over the three projections (fused) or three passes. */
static ttt_status project_qkv(ttt_context *ctx, const ttt_attention_spec *s,
                              const ttt_attention_impl_config *impl, const ttt_attention_weights *w,
                              const float *x, int64_t rows, qkv_buffers *b) {
  ttt_linear_config lc = linear_config(impl);
  ttt_linear_op ops[3] = {
      {&w->wq, bias_of(&w->bq, s->q_bias), b->q, 0, "attention.wq"},
      {&w->wk, bias_of(&w->bk, s->k_bias), b->k, 0, "attention.wk"},
      {&w->wv, bias_of(&w->bv, s->v_bias), b->v, 0, "attention.wv"},
  };
  if (impl->fuse_qkv) return ttt_linear_multi(ctx, &lc, x, rows, s->hidden, ops, 3);
  for (int32_t i = 0; i < 3; i++) {
    ttt_status st = ttt_linear(ctx, &lc, x, rows, s->hidden, &ops[i]);
    if (st != TTT_OK) return st;
  }
  return TTT_OK;
}

/* HEAD_WEIGHTS after the norm block ran with unit weights and no bias: each head's values times
 * its own (offset) weights, plus its bias. Same operation order as the norm block's
 * ((x - mean)·inv)·(w + offset) + b, so the result equals a per-head norm call bit for bit. */
typedef struct head_affine_job {
  float *x;
  const float *weight, *bias; /* [heads, head_dim]; bias NULL without */
  float offset;
  int64_t heads, hd;
} head_affine_job;

static void head_affine_rows(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const head_affine_job *job = arg;
  for (int64_t r = begin; r < end; r++) {
    float *x = job->x + r * job->hd;
    int64_t h = r % job->heads;
    const float *w = job->weight + h * job->hd;
    const float *b = job->bias ? job->bias + h * job->hd : NULL;
    for (int64_t i = 0; i < job->hd; i++) {
      float v = x[i] * (w[i] + job->offset);
      x[i] = b ? v + b[i] : v;
    }
  }
}

/* Normalizes `heads` heads of `rows` tokens in place (x: [rows, heads, head_dim]) as the kind says,
 * through the norm block. */
static ttt_status qk_norm_one(ttt_context *ctx, const ttt_attention_spec *s,
                              const ttt_norm_impl_config *ni, const ttt_tensor *weight,
                              const ttt_tensor *bias, float *x, int64_t rows, int64_t heads) {
  int64_t hd = ttt_attention_head_dim(s);
  ttt_norm_spec ns = qk_norm_block_spec(s, heads);
  ttt_tensor t = ttt_tensor_2d(TTT_F32, x, rows * heads * hd / ns.dim, ns.dim);
  if (s->qk_norm != TTT_QK_NORM_HEAD_WEIGHTS) {
    ttt_norm_weights nw = {.weight = *weight, .bias = ns.bias ? *bias : (ttt_tensor){0}};
    return ttt_norm_forward(ctx, &ns, ni, &nw, &t, &t);
  }
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  float *ones = ttt_scratch_alloc(ctx, (size_t)hd * sizeof(float));
  if (!ones) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t i = 0; i < hd; i++) ones[i] = 1.0f;
  ttt_norm_spec plain = ns;
  plain.weight_offset = false;
  plain.bias = false;
  ttt_norm_weights unit = {.weight = ttt_tensor_1d(TTT_F32, ones, hd)};
  ttt_status st = ttt_norm_forward(ctx, &plain, ni, &unit, &t, &t);
  ttt_scratch_restore(ctx, mark);
  if (st != TTT_OK) return st;
  head_affine_job job = {
      x, weight->data, ns.bias ? bias->data : NULL, ns.weight_offset ? 1.0f : 0.0f, heads, hd};
  ttt_parallel_for(ctx, ni->threads, rows * heads, 64, head_affine_rows, &job);
  return TTT_OK;
}

static bool tracing(const ttt_attention_trace *trace) {
  return trace && trace->observer && trace->observer->fn;
}

/* qk_norm_one, reported to the trace as "<path>.<name>" with x before and after the norm, each
 * [rows, heads, head_dim]; the copy of x is only made when someone observes. */
static ttt_status qk_norm_traced(ttt_context *ctx, const ttt_attention_spec *s,
                                 const ttt_norm_impl_config *ni, const ttt_tensor *weight,
                                 const ttt_tensor *bias, float *x, int64_t rows, int64_t heads,
                                 const ttt_attention_trace *trace, const char *name) {
  if (!tracing(trace)) return qk_norm_one(ctx, s, ni, weight, bias, x, rows, heads);
  int64_t hd = ttt_attention_head_dim(s);
  size_t bytes = (size_t)(rows * heads * hd) * sizeof(float);
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  float *before = ttt_scratch_alloc(ctx, bytes);
  if (!before) return TTT_ERR_OUT_OF_MEMORY;
  memcpy(before, x, bytes);
  ttt_status st = qk_norm_one(ctx, s, ni, weight, bias, x, rows, heads);
  if (st == TTT_OK) {
    int64_t shape[3] = {rows, heads, hd};
    ttt_tensor in = ttt_tensor_view(TTT_F32, before, 3, shape);
    ttt_tensor out = ttt_tensor_view(TTT_F32, x, 3, shape);
    ttt_observe(trace->observer, trace->path, name, trace->mode, trace->start_pos, &in, &out);
  }
  ttt_scratch_restore(ctx, mark);
  return st;
}

static ttt_status qk_norm(ttt_context *ctx, const ttt_attention_spec *s,
                          const ttt_attention_impl_config *impl, const ttt_attention_weights *w,
                          int64_t rows, qkv_buffers *b) {
  ttt_norm_impl_config ni = {.kernel = impl->kernel, .threads = impl->threads};
  ttt_status st = qk_norm_traced(ctx, s, &ni, &w->q_norm, &w->q_norm_bias, b->q, rows, s->n_heads,
                                 b->trace, "q_norm");
  if (st != TTT_OK) return ttt_error_prefix(st, "attention q_norm");
  st = qk_norm_traced(ctx, s, &ni, &w->k_norm, &w->k_norm_bias, b->k, rows, s->n_kv_heads, b->trace,
                      "k_norm");
  return st != TTT_OK ? ttt_error_prefix(st, "attention k_norm") : TTT_OK;
}

/* Per token: RoPE on q and k, and rounding of k and v to bf16 precision when the cache is bf16. */
typedef struct token_job {
  const ttt_rope *rope;
  qkv_buffers *b;
  int64_t q_dim, kv_dim, n_heads, n_kv_heads;
  bool round_bf16;
  bool long_factors; /* longrope: this forward's positions reach past original_max_positions */
} token_job;

static void round_to_bf16(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = ttt_bf16_to_f32(ttt_f32_to_bf16(x[i]));
}

static void token_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const token_job *job = arg;
  for (int64_t t = begin; t < end; t++) {
    float *k = job->b->k + t * job->kv_dim;
    if (job->rope) {
      bool long_factors =
          job->b->ends ? ttt_rope_long_factors(job->rope, job->b->ends[t]) : job->long_factors;
      ttt_rope_rotate_token(job->rope, job->b->q + t * job->q_dim, job->n_heads,
                            job->b->positions[t], long_factors);
      ttt_rope_rotate_token(job->rope, k, job->n_kv_heads, job->b->positions[t], long_factors);
    }
    if (job->round_bf16) {
      round_to_bf16(k, job->kv_dim);
      round_to_bf16(job->b->v + t * job->kv_dim, job->kv_dim);
    }
  }
}

/* Everything up to the attention itself: projections, q/k norm, RoPE, cache-dtype rounding. */
static ttt_status prepare_qkv(ttt_context *ctx, const ttt_attention_spec *s,
                              const ttt_attention_impl_config *impl, const ttt_attention_weights *w,
                              const ttt_rope *rope, const float *x, int64_t rows, bool round_bf16,
                              qkv_buffers *b) {
  ttt_status st = project_qkv(ctx, s, impl, w, x, rows, b);
  if (st == TTT_OK && s->qk_norm != TTT_QK_NORM_NONE) st = qk_norm(ctx, s, impl, w, rows, b);
  if (st != TTT_OK) return st;
  int64_t hd = ttt_attention_head_dim(s);
  token_job job = {s->rope.type == TTT_ROPE_NONE ? NULL : rope,
                   b,
                   s->n_heads * hd,
                   s->n_kv_heads * hd,
                   s->n_heads,
                   s->n_kv_heads,
                   round_bf16,
                   false};
  if (job.rope) {
    int64_t end = 0; /* last position + 1 of this forward */
    for (int64_t t = 0; t < rows; t++)
      if (b->positions[t] + 1 > end) end = b->positions[t] + 1;
    job.long_factors = ttt_rope_long_factors(rope, end);
  }
  if (job.rope || round_bf16) ttt_parallel_for(ctx, impl->threads, rows, 1, token_range, &job);
  return TTT_OK;
}

static ttt_status project_out(ttt_context *ctx, const ttt_attention_spec *s,
                              const ttt_attention_impl_config *impl, const ttt_attention_weights *w,
                              const float *attn, int64_t rows, float *out) {
  ttt_linear_config lc = linear_config(impl);
  ttt_linear_op op = {&w->wo, bias_of(&w->bo, s->o_bias), out, 0, "attention.wo"};
  return ttt_linear(ctx, &lc, attn, rows, s->n_heads * ttt_attention_head_dim(s), &op);
}

/* Query rows per TILED tile when the impl config leaves it open: 64 rows (GQA heads × positions)
 * share each key/value tile, so that the tile is read from L1 rather than L2 by all of them. */
enum { DEFAULT_QUERY_ROWS = 64 };

static int64_t query_positions_per_tile(const ttt_attention_impl_config *impl,
                                        const ttt_attention_spec *s) {
  if (impl->query_block > 0) return impl->query_block;
  int64_t rep = s->n_heads / s->n_kv_heads;
  return rep >= DEFAULT_QUERY_ROWS ? 1 : DEFAULT_QUERY_ROWS / rep;
}

static attn_job make_job(ttt_context *ctx, const ttt_attention_spec *s,
                         const ttt_attention_impl_config *impl, const qkv_buffers *b) {
  int64_t hd = ttt_attention_head_dim(s);
  return (attn_job){
      .n_heads = s->n_heads,
      .n_kv_heads = s->n_kv_heads,
      .rep = s->n_heads / s->n_kv_heads,
      .hd = hd,
      .scale = s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)hd),
      .softcap = s->softcap,
      .causal = !s->bidirectional,
      .window = s->sliding_window,
      .q = b->q,
      .k = b->k,
      .v = b->v,
      .o = b->attn,
      .block = impl->block_size,
      .qt = query_positions_per_tile(impl, s),
      .kernel = ttt_attention_kernel_select(ctx ? ttt_context_device(ctx) : NULL, impl->kernel)};
}

/* ---- public forwards ---- */

static ttt_status check_common(ttt_context *ctx, const ttt_attention_spec *spec,
                               const ttt_attention_impl_config *impl_in, ttt_mode mode,
                               const ttt_attention_weights *weights,
                               ttt_attention_impl_config *impl) {
  if (!ctx) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: NULL context");
  ttt_status st = ttt_attention_spec_validate(spec);
  if (st == TTT_OK) st = resolve_impl(impl_in, mode, impl);
  if (st == TTT_OK) st = check_weights(spec, impl->weight_dtype, weights);
  return st;
}

static ttt_status cached_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                 const ttt_attention_impl_config *impl_in, ttt_mode mode,
                                 const ttt_attention_weights *weights, const ttt_rope *rope,
                                 ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                 int64_t start, ttt_tensor *out, const ttt_attention_trace *trace) {
  ttt_attention_impl_config impl;
  ttt_status st = check_common(ctx, spec, impl_in, mode, weights, &impl);
  if (st == TTT_OK) st = check_activations(spec, x, out, 2);
  if (st != TTT_OK) return st;
  if (spec->bidirectional)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: a bidirectional spec has no "
                                                   "cached path; use ttt_attention_forward");
  int64_t T = x->shape[0];
  if (mode == TTT_MODE_DECODE && T != 1)
    return ttt_set_error(TTT_ERR_SHAPE, "attention decode: x must be [1, hidden], got %lld rows",
                         (long long)T);
  if (start < 0)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "attention: position %lld is negative",
                         (long long)start);
  if ((st = check_cache(spec, &impl, cache, layer, start, T)) != TTT_OK ||
      (st = check_rope(spec, rope, start + T)) != TTT_OK)
    return st;
  ttt_kv_layer *kv = ttt_kv_cache_layer(cache, layer);
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  qkv_buffers b = {.trace = trace};
  st = alloc_buffers(ctx, spec, T, &b);
  for (int64_t t = 0; st == TTT_OK && t < T; t++) b.positions[t] = (int32_t)(start + t);
  if (st == TTT_OK)
    st = prepare_qkv(ctx, spec, &impl, weights, rope, x->data, T, kv->dtype == TTT_BF16, &b);
  attn_job job = make_job(ctx, spec, &impl, &b);
  job.B = 1;
  job.T = T;
  job.pos0 = start;
  job.split = start;
  job.cache = kv;
  if (st == TTT_OK) st = run_attention(ctx, &impl, &job);
  if (st == TTT_OK) st = project_out(ctx, spec, &impl, weights, b.attn, T, out->data);
  /* Appended last (see the top of this file): the chunk attended to its own rows above. */
  if (st == TTT_OK)
    ttt_kv_cache_append(kv, b.k, b.v, T, spec->n_kv_heads * ttt_attention_head_dim(spec));
  ttt_scratch_restore(ctx, mark);
  return st;
}

static ttt_status check_seq(const ttt_attention_spec *s, const ttt_attention_impl_config *impl,
                            const ttt_attention_seq *seq, int64_t i) {
  const ttt_kv_layer *kv = seq->kv;
  if (!kv)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: sequence %lld has no cache",
                         (long long)i);
  if (kv->n_kv_heads != s->n_kv_heads || kv->head_dim != ttt_attention_head_dim(s))
    return ttt_set_error(TTT_ERR_SHAPE,
                         "attention: sequence %lld's cache has %lld kv heads of %lld, spec needs "
                         "%lld of %lld",
                         (long long)i, (long long)kv->n_kv_heads, (long long)kv->head_dim,
                         (long long)s->n_kv_heads, (long long)ttt_attention_head_dim(s));
  if (impl->kv_dtype != TTT_DTYPE_DEFAULT && impl->kv_dtype != kv->dtype)
    return ttt_set_error(TTT_ERR_DTYPE,
                         "attention: sequence %lld's cache dtype %s, impl kv_dtype %s",
                         (long long)i, ttt_dtype_name(kv->dtype), ttt_dtype_name(impl->kv_dtype));
  if (seq->rows < 1 || seq->start != kv->length)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "attention: sequence %lld: %lld rows at position %lld, expected >= 1 at "
                         "its cache length %lld",
                         (long long)i, (long long)seq->rows, (long long)seq->start,
                         (long long)kv->length);
  return TTT_OK;
}

/* Validation of a multi-sequence forward; *rows = Σ rows, *end = the largest position + 1. */
static ttt_status check_seqs(const ttt_attention_spec *s, const ttt_attention_impl_config *impl,
                             const ttt_attention_seq *seqs, int64_t n_seqs, const ttt_tensor *x,
                             int64_t *rows, int64_t *end) {
  if (s->bidirectional)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: a bidirectional spec has no "
                                                   "cached path; use ttt_attention_forward");
  if (!seqs || n_seqs < 1) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "attention: no sequence");
  *rows = 0;
  *end = 0;
  for (int64_t i = 0; i < n_seqs; i++) {
    ttt_status st = check_seq(s, impl, &seqs[i], i);
    if (st != TTT_OK) return st;
    if (seqs[i].kv->dtype != seqs[0].kv->dtype)
      return ttt_set_error(TTT_ERR_DTYPE, "attention: sequences' caches differ in dtype");
    *rows += seqs[i].rows;
    if (seqs[i].start + seqs[i].rows > *end) *end = seqs[i].start + seqs[i].rows;
  }
  if (x->shape[0] != *rows)
    return ttt_set_error(TTT_ERR_SHAPE, "attention: x has %lld rows, the sequences %lld",
                         (long long)x->shape[0], (long long)*rows);
  return TTT_OK;
}

/* The attention of each sequence over its own cache, one after the other (each call uses every
 * thread over the sequence's kv heads and query tiles). */
static ttt_status attend_each(ttt_context *ctx, const ttt_attention_spec *spec,
                              const ttt_attention_impl_config *impl, const qkv_buffers *b,
                              const ttt_attention_seq *seqs, int64_t n_seqs) {
  int64_t hd = ttt_attention_head_dim(spec);
  int64_t q_dim = spec->n_heads * hd, kv_dim = spec->n_kv_heads * hd, row = 0;
  for (int64_t i = 0; i < n_seqs; i++) {
    attn_job job = make_job(ctx, spec, impl, b);
    job.q += row * q_dim;
    job.k += row * kv_dim;
    job.v += row * kv_dim;
    job.o += row * q_dim;
    job.B = 1;
    job.T = seqs[i].rows;
    job.pos0 = job.split = seqs[i].start;
    job.cache = seqs[i].kv;
    ttt_scratch_mark mark = ttt_scratch_save(ctx);
    ttt_status st = run_attention(ctx, impl, &job);
    ttt_scratch_restore(ctx, mark);
    if (st != TTT_OK) return st;
    row += seqs[i].rows;
  }
  return TTT_OK;
}

ttt_status ttt_attention_seqs_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                      const ttt_attention_impl_config *impl_in, ttt_mode mode,
                                      const ttt_attention_weights *weights, const ttt_rope *rope,
                                      const ttt_attention_seq *seqs, int64_t n_seqs,
                                      const ttt_tensor *x, ttt_tensor *out,
                                      const ttt_attention_trace *trace) {
  ttt_attention_impl_config impl;
  ttt_status st = check_common(ctx, spec, impl_in, mode, weights, &impl);
  if (st == TTT_OK) st = check_activations(spec, x, out, 2);
  int64_t rows = 0, end = 0;
  if (st == TTT_OK) st = check_seqs(spec, &impl, seqs, n_seqs, x, &rows, &end);
  if (st == TTT_OK) st = check_rope(spec, rope, end);
  if (st != TTT_OK) return st;
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  qkv_buffers b = {.trace = trace};
  st = alloc_buffers(ctx, spec, rows, &b);
  b.ends = st == TTT_OK ? ttt_scratch_alloc(ctx, (size_t)rows * sizeof(int32_t)) : NULL;
  if (st == TTT_OK && !b.ends) st = TTT_ERR_OUT_OF_MEMORY;
  for (int64_t i = 0, r = 0; st == TTT_OK && i < n_seqs; i++)
    for (int64_t t = 0; t < seqs[i].rows; t++, r++) {
      b.positions[r] = (int32_t)(seqs[i].start + t);
      b.ends[r] = (int32_t)(seqs[i].start + seqs[i].rows);
    }
  if (st == TTT_OK)
    st = prepare_qkv(ctx, spec, &impl, weights, rope, x->data, rows, seqs[0].kv->dtype == TTT_BF16,
                     &b);
  if (st == TTT_OK) st = attend_each(ctx, spec, &impl, &b, seqs, n_seqs);
  if (st == TTT_OK) st = project_out(ctx, spec, &impl, weights, b.attn, rows, out->data);
  int64_t ld = spec->n_kv_heads * ttt_attention_head_dim(spec);
  for (int64_t i = 0, r = 0; st == TTT_OK && i < n_seqs; r += seqs[i].rows, i++)
    ttt_kv_cache_append(seqs[i].kv, b.k + r * ld, b.v + r * ld, seqs[i].rows, ld);
  ttt_scratch_restore(ctx, mark);
  return st;
}

ttt_status ttt_attention_prefill_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                         const ttt_attention_impl_config *impl,
                                         const ttt_attention_weights *weights, const ttt_rope *rope,
                                         ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                         int64_t start_pos, ttt_tensor *out) {
  return cached_forward(ctx, spec, impl, TTT_MODE_PREFILL, weights, rope, cache, layer, x,
                        start_pos, out, NULL);
}

ttt_status ttt_attention_decode_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                        const ttt_attention_impl_config *impl,
                                        const ttt_attention_weights *weights, const ttt_rope *rope,
                                        ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                        int64_t pos, ttt_tensor *out) {
  return cached_forward(ctx, spec, impl, TTT_MODE_DECODE, weights, rope, cache, layer, x, pos, out,
                        NULL);
}

ttt_status ttt_attention_cached_forward_traced(ttt_context *ctx, const ttt_attention_spec *spec,
                                               const ttt_attention_impl_config *impl, ttt_mode mode,
                                               const ttt_attention_weights *weights,
                                               const ttt_rope *rope, ttt_kv_cache *cache,
                                               int64_t layer, const ttt_tensor *x, int64_t start,
                                               ttt_tensor *out, const ttt_attention_trace *trace) {
  return cached_forward(ctx, spec, impl, mode, weights, rope, cache, layer, x, start, out, trace);
}

ttt_status ttt_attention_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                 const ttt_attention_impl_config *impl_in,
                                 const ttt_attention_weights *weights, const ttt_rope *rope,
                                 const ttt_tensor *x, const uint8_t *key_mask, ttt_tensor *out) {
  ttt_attention_impl_config impl;
  ttt_status st = check_common(ctx, spec, impl_in, TTT_MODE_PREFILL, weights, &impl);
  if (st == TTT_OK) st = check_activations(spec, x, out, 3);
  if (st != TTT_OK) return st;
  int64_t B = x->shape[0], T = x->shape[1];
  if ((st = check_rope(spec, rope, T)) != TTT_OK) return st;
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  qkv_buffers b = {0};
  st = alloc_buffers(ctx, spec, B * T, &b);
  for (int64_t r = 0; st == TTT_OK && r < B * T; r++) b.positions[r] = (int32_t)(r % T);
  if (st == TTT_OK) st = prepare_qkv(ctx, spec, &impl, weights, rope, x->data, B * T, false, &b);
  attn_job job = make_job(ctx, spec, &impl, &b);
  job.B = B;
  job.T = T;
  job.key_mask = key_mask;
  if (st == TTT_OK) st = run_attention(ctx, &impl, &job);
  if (st == TTT_OK) st = project_out(ctx, spec, &impl, weights, b.attn, B * T, out->data);
  ttt_scratch_restore(ctx, mark);
  return st;
}
