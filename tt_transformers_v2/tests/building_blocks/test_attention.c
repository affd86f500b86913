/*
 * Attention against the float64 reference (ttt_reference_attention, masks explicit).
 *
 * Thresholds (the reference always uses the original f32 weights, in float64, with no KV rounding,
 * so the tolerance states the error budget of each impl choice):
 *   - f32 weights, f32 cache: PCC >= 0.99999 and max abs <= 1e-5 · max|expected|. Each output sums
 *     two chained f32 dot products of up to 4096 terms (rounding ~ sqrt(k)·6e-8 relative, a few
 * 1e-6) plus an f32 softmax (measured: under 1e-6); 1e-5 of the output scale leaves margin for that
 * and nothing more (a 10% wrong softmax scale or a missing mask misses it by orders of magnitude,
 * see test_thresholds_bite).
 *   - bf16 weights or bf16 cache: PCC >= 0.999. bf16 keeps 8 mantissa bits (relative error 2^-9 per
 *     value); averaged over long dot products the output error is ~1e-3 of its spread.
 *   - q8_0 weights (f32 or q8_0 activations): PCC >= 0.99. 8-bit blocks with one scale per 32
 * values give ~0.5-1% relative error per projection, compounded through q/k (scores), v and o.
 *
 * Matrix. Reduced dims ("mini" versions of each family with the same structure: GQA ratio, biases,
 * qk_norm with head_dim·heads != hidden, window 8, MQA, bidirectional + padding) run the full
 * product: prefill T in {1, 17, 64} × decode steps {0, 3} × algorithm {naive, tiled 5, tiled 16} ×
 * weights {f32, bf16, q8_0, q8_0 + q8_0 activations} × cache {f32, bf16} × threads {1, 2}. Real
 * dims (Llama-3-8B, Qwen2.5-7B, Qwen3-8B, Mistral-7B, BERT-base) run a subsample that still touches
 * every axis value once per spec (f32/tiled 16, bf16+bf16 cache/naive, q8_0/tiled 5 with T = 1),
 * with 17 + 3 tokens: their weights are 4096² (64 MB in f32) and the float64 reference costs
 * ~1 GFLOP per 20 tokens, so 64-token prefills at full dims would dominate the suite for no extra
 * coverage of the attention code (which the mini matrix covers at all lengths).
 * Causality makes a T-token reference's first rows the reference of every shorter prefix, so one
 * reference per spec serves all lengths.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "ttt_test.h"

/* ---- a layer: f32 weights, converted copies, rope tables ---- */

enum { N_MATS = 4, N_WDTYPES = 3 };
static const ttt_dtype weight_dtypes[N_WDTYPES] = {TTT_F32, TTT_BF16, TTT_Q8_0};

typedef struct layer {
  ttt_attention_spec spec;
  ttt_tensor mats[N_WDTYPES][N_MATS]; /* wq wk wv wo per weight dtype */
  ttt_tensor bq, bk, bv, bo, q_norm, k_norm, q_norm_bias, k_norm_bias;
  ttt_rope *rope;
} layer;

static int64_t head_dim(const ttt_attention_spec *s) {
  return s->head_dim ? s->head_dim : s->hidden / s->n_heads;
}

static ttt_tensor random_tensor(ttt_test_rng *rng, int64_t rows, int64_t cols, float lo, float hi) {
  ttt_tensor t = {0};
  int64_t shape[2] = {rows, cols};
  if (ttt_tensor_alloc(&t, TTT_F32, rows > 1 ? 2 : 1, rows > 1 ? shape : &shape[1]) == TTT_OK)
    ttt_test_fill_uniform(rng, t.data, rows * cols, lo, hi);
  return t;
}

/* Weights scaled so q, k, v and the output are O(1) for unit inputs; q is doubled so the softmax
 * is far from uniform (attention patterns matter). */
static void layer_init(layer *l, const ttt_attention_spec *spec, uint64_t seed) {
  memset(l, 0, sizeof *l);
  l->spec = *spec;
  ttt_test_rng rng = ttt_test_rng_make(seed);
  int64_t hd = head_dim(spec), qd = spec->n_heads * hd, kvd = spec->n_kv_heads * hd;
  float a = sqrtf(3.0f / (float)spec->hidden), ao = sqrtf(3.0f / (float)qd);
  l->mats[0][0] = random_tensor(&rng, qd, spec->hidden, -2 * a, 2 * a);
  l->mats[0][1] = random_tensor(&rng, kvd, spec->hidden, -a, a);
  l->mats[0][2] = random_tensor(&rng, kvd, spec->hidden, -a, a);
  l->mats[0][3] = random_tensor(&rng, spec->hidden, qd, -ao, ao);
  for (int d = 1; d < N_WDTYPES; d++)
    for (int m = 0; m < N_MATS; m++)
      CHECK_OK(ttt_tensor_convert(&l->mats[0][m], weight_dtypes[d], &l->mats[d][m]));
  if (spec->q_bias) l->bq = random_tensor(&rng, 1, qd, -0.5f, 0.5f);
  if (spec->k_bias) l->bk = random_tensor(&rng, 1, kvd, -0.5f, 0.5f);
  if (spec->v_bias) l->bv = random_tensor(&rng, 1, kvd, -0.5f, 0.5f);
  if (spec->o_bias) l->bo = random_tensor(&rng, 1, spec->hidden, -0.5f, 0.5f);
  if (spec->qk_norm != TTT_QK_NORM_NONE) {
    /* HEAD: [head_dim]; HEAD_WEIGHTS: [heads, head_dim]; ALL: [heads·head_dim] */
    bool head = spec->qk_norm == TTT_QK_NORM_HEAD, rows = spec->qk_norm == TTT_QK_NORM_HEAD_WEIGHTS;
    int64_t q_rows = rows ? spec->n_heads : 1, k_rows = rows ? spec->n_kv_heads : 1;
    int64_t q_cols = head || rows ? hd : qd, k_cols = head || rows ? hd : kvd;
    float lo = spec->qk_norm_spec.weight_offset ? -0.5f : 0.5f;
    l->q_norm = random_tensor(&rng, q_rows, q_cols, lo, lo + 1.0f);
    l->k_norm = random_tensor(&rng, k_rows, k_cols, lo, lo + 1.0f);
    if (spec->qk_norm_spec.bias) {
      l->q_norm_bias = random_tensor(&rng, q_rows, q_cols, -0.5f, 0.5f);
      l->k_norm_bias = random_tensor(&rng, k_rows, k_cols, -0.5f, 0.5f);
    }
  }
  if (spec->rope.type != TTT_ROPE_NONE) CHECK_OK(ttt_rope_create(&spec->rope, &l->rope));
}

static void layer_free(layer *l) {
  for (int d = 0; d < N_WDTYPES; d++)
    for (int m = 0; m < N_MATS; m++) ttt_tensor_free(&l->mats[d][m]);
  ttt_tensor *vecs[] = {&l->bq,     &l->bk,     &l->bv,          &l->bo,
                        &l->q_norm, &l->k_norm, &l->q_norm_bias, &l->k_norm_bias};
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) ttt_tensor_free(vecs[i]);
  ttt_rope_destroy(l->rope);
}

static int dtype_index(ttt_dtype d) { return d == TTT_BF16 ? 1 : d == TTT_Q8_0 ? 2 : 0; }

static ttt_attention_weights layer_weights(const layer *l, ttt_dtype dtype) {
  const ttt_tensor *m = l->mats[dtype_index(dtype)];
  return (ttt_attention_weights){.wq = m[0],
                                 .wk = m[1],
                                 .wv = m[2],
                                 .wo = m[3],
                                 .bq = l->bq,
                                 .bk = l->bk,
                                 .bv = l->bv,
                                 .bo = l->bo,
                                 .q_norm = l->q_norm,
                                 .k_norm = l->k_norm,
                                 .q_norm_bias = l->q_norm_bias,
                                 .k_norm_bias = l->k_norm_bias};
}

/* ---- inputs, reference, comparison ---- */

static float *random_input(int64_t rows, int64_t hidden, uint64_t seed) {
  float *x = malloc((size_t)(rows * hidden) * sizeof(float));
  ttt_test_rng rng = ttt_test_rng_make(seed);
  for (int64_t i = 0; i < rows * hidden; i++) x[i] = ttt_test_rng_normal(&rng);
  return x;
}

/* The float64 reference over B sequences of T tokens with the f32 weights. */
static double *reference(const layer *l, const ttt_attention_spec *spec, const float *x, int64_t B,
                         int64_t T, const uint8_t *mask) {
  int64_t n = B * T * spec->hidden;
  double *xd = malloc((size_t)n * sizeof(double)), *out = malloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++) xd[i] = x[i];
  ttt_attention_weights w = layer_weights(l, TTT_F32);
  CHECK_OK(ttt_reference_attention(spec, &w, xd, B, T, mask, out));
  free(xd);
  return out;
}

typedef struct tolerance {
  const char *family;
  double min_pcc;
  double max_rel_abs; /* max abs error / max |expected|; 0 = not bounded */
} tolerance;

/* One row per error budget (see the top of the file); the first matching row applies. */
static tolerance tolerance_for(ttt_dtype weights, ttt_dtype kv) {
  if (weights == TTT_Q8_0) return (tolerance){"q8_0 weights", 0.99, 0.0};
  if (weights == TTT_BF16 || kv == TTT_BF16) return (tolerance){"bf16 weights/cache", 0.999, 0.0};
  return (tolerance){"f32", 0.99999, 1e-5};
}

/* Worst measured values per tolerance family, printed at the end. */
typedef struct family_stats {
  const char *family;
  double worst_pcc, worst_rel_abs;
  int64_t comparisons;
} family_stats;
static family_stats stats[3];

static void record(const tolerance *tol, double pcc, double rel) {
  for (int i = 0; i < 3; i++) {
    if (stats[i].family && strcmp(stats[i].family, tol->family) != 0) continue;
    if (!stats[i].family) stats[i] = (family_stats){tol->family, 1.0, 0.0, 0};
    stats[i].worst_pcc = fmin(stats[i].worst_pcc, pcc);
    stats[i].worst_rel_abs = fmax(stats[i].worst_rel_abs, rel);
    stats[i].comparisons++;
    return;
  }
}

typedef struct verdict {
  bool pass;
  double pcc, rel_abs;
} verdict;

/* Compares rows × hidden outputs with the reference's first rows. */
static verdict judge(const float *actual, const double *expected, int64_t rows, int64_t hidden,
                     const tolerance *tol) {
  ttt_tensor a = ttt_tensor_2d(TTT_F32, (void *)actual, rows, hidden);
  ttt_tensor e = ttt_tensor_2d(TTT_F64, (void *)expected, rows, hidden);
  ttt_compare_result r;
  verdict v = {false, 0.0, INFINITY};
  if (ttt_compare(&a, &e, NULL, 0.0, 0.0, &r) != TTT_OK) return v;
  double scale = 0.0;
  for (int64_t i = 0; i < rows * hidden; i++) scale = fmax(scale, fabs(expected[i]));
  v.pcc = r.pcc;
  v.rel_abs = r.max_abs_err / scale;
  v.pass = r.pcc >= tol->min_pcc && (tol->max_rel_abs == 0.0 || v.rel_abs <= tol->max_rel_abs);
  return v;
}

static void check_against(const float *actual, const double *expected, int64_t rows, int64_t hidden,
                          const tolerance *tol, const char *what) {
  verdict v = judge(actual, expected, rows, hidden, tol);
  record(tol, v.pcc, v.rel_abs);
  CHECK_MSG(v.pass, "%s: pcc %.7f (min %.5f), max abs / scale %.3g (max %.3g)", what, v.pcc,
            tol->min_pcc, v.rel_abs, tol->max_rel_abs);
}

/* ---- running the cached path ---- */

typedef struct run_config {
  ttt_attention_impl_config impl;
  bool ring; /* the cache keeps a ring of `window` slots for windowed specs */
} run_config;

static ttt_kv_cache *make_cache(const ttt_attention_spec *spec, ttt_dtype dtype, bool ring,
                                int64_t max_positions) {
  ttt_kv_cache_spec cs = {.n_layers = 1,
                          .n_kv_heads = spec->n_kv_heads,
                          .head_dim = head_dim(spec),
                          .max_positions = max_positions,
                          .dtype = dtype};
  cs.sliding_window[0] = ring ? spec->sliding_window : 0;
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_kv_cache_create(&cs, &cache));
  return cache;
}

/* Prefill in the given chunks, then `decode` single-token steps; out gets every row. */
static void run_cached(ttt_context *ctx, const layer *l, const run_config *rc, const float *x,
                       const int64_t *chunks, int n_chunks, int64_t decode, float *out) {
  const ttt_attention_spec *s = &l->spec;
  ttt_attention_weights w = layer_weights(l, rc->impl.weight_dtype);
  int64_t total = decode;
  for (int i = 0; i < n_chunks; i++) total += chunks[i];
  ttt_kv_cache *cache = make_cache(s, rc->impl.kv_dtype, rc->ring, total);
  int64_t pos = 0;
  for (int i = 0; i < n_chunks; i++) {
    ttt_tensor xt = ttt_tensor_2d(TTT_F32, (void *)(x + pos * s->hidden), chunks[i], s->hidden);
    ttt_tensor ot = ttt_tensor_2d(TTT_F32, out + pos * s->hidden, chunks[i], s->hidden);
    CHECK_OK(
        ttt_attention_prefill_forward(ctx, s, &rc->impl, &w, l->rope, cache, 0, &xt, pos, &ot));
    pos += chunks[i];
  }
  for (int64_t d = 0; d < decode; d++, pos++) {
    ttt_tensor xt = ttt_tensor_2d(TTT_F32, (void *)(x + pos * s->hidden), 1, s->hidden);
    ttt_tensor ot = ttt_tensor_2d(TTT_F32, out + pos * s->hidden, 1, s->hidden);
    CHECK_OK(ttt_attention_decode_forward(ctx, s, &rc->impl, &w, l->rope, cache, 0, &xt, pos, &ot));
  }
  CHECK(ttt_kv_cache_length(cache, 0) == total);
  ttt_kv_cache_destroy(cache);
}

/* ---- specs ---- */

static ttt_rope_spec rope_default(int64_t hd, double theta) {
  return (ttt_rope_spec){
      .type = TTT_ROPE_DEFAULT, .head_dim = hd, .max_positions = 128, .theta = theta};
}

static ttt_rope_spec rope_llama3(int64_t hd, int64_t original) {
  return (ttt_rope_spec){.type = TTT_ROPE_LLAMA3,
                         .head_dim = hd,
                         .max_positions = 128,
                         .theta = 500000.0,
                         .factor = 8.0,
                         .low_freq_factor = 1.0,
                         .high_freq_factor = 4.0,
                         .original_max_positions = original};
}

static ttt_attention_spec llama3_8b(void) {
  return (ttt_attention_spec){.hidden = 4096,
                              .n_heads = 32,
                              .n_kv_heads = 8,
                              .head_dim = 128,
                              .rope = rope_llama3(128, 8192)};
}
static ttt_attention_spec qwen25_7b(void) {
  return (ttt_attention_spec){.hidden = 3584,
                              .n_heads = 28,
                              .n_kv_heads = 4,
                              .head_dim = 128,
                              .q_bias = true,
                              .k_bias = true,
                              .v_bias = true,
                              .rope = rope_default(128, 1000000.0)};
}
static ttt_attention_spec qwen3_8b(void) {
  return (ttt_attention_spec){.hidden = 4096,
                              .n_heads = 32,
                              .n_kv_heads = 8,
                              .head_dim = 128,
                              .qk_norm = TTT_QK_NORM_HEAD,
                              .qk_norm_spec = {.type = TTT_NORM_RMS, .eps = 1e-6f},
                              .rope = rope_default(128, 1000000.0)};
}
static ttt_attention_spec mistral_7b_window8(void) {
  return (ttt_attention_spec){.hidden = 4096,
                              .n_heads = 32,
                              .n_kv_heads = 8,
                              .head_dim = 128,
                              .sliding_window = 8,
                              .rope = rope_default(128, 1000000.0)};
}
static ttt_attention_spec bert_base(void) {
  return (ttt_attention_spec){.hidden = 768,
                              .n_heads = 12,
                              .n_kv_heads = 12,
                              .q_bias = true,
                              .k_bias = true,
                              .v_bias = true,
                              .o_bias = true,
                              .bidirectional = true};
}

/* Mini versions: same structure, small dims (hidden and q_dim multiples of 32 for q8_0). */
static ttt_attention_spec mini_llama(void) {
  return (ttt_attention_spec){
      .hidden = 64, .n_heads = 8, .n_kv_heads = 2, .head_dim = 16, .rope = rope_llama3(16, 32)};
}
static ttt_attention_spec mini_qwen2(void) { /* GQA 6/2 with q/k/v biases, q_dim 96 != hidden */
  return (ttt_attention_spec){.hidden = 64,
                              .n_heads = 6,
                              .n_kv_heads = 2,
                              .head_dim = 16,
                              .q_bias = true,
                              .k_bias = true,
                              .v_bias = true,
                              .rope = rope_default(16, 1000000.0)};
}
static ttt_attention_spec mini_qwen3(void) { /* qk_norm, head_dim 32 with 4 heads on hidden 64 */
  return (ttt_attention_spec){.hidden = 64,
                              .n_heads = 4,
                              .n_kv_heads = 1,
                              .head_dim = 32,
                              .qk_norm = TTT_QK_NORM_HEAD,
                              .qk_norm_spec = {.type = TTT_NORM_RMS, .eps = 1e-6f},
                              .rope = rope_default(32, 1000000.0)};
}
static ttt_attention_spec mini_mistral(void) { /* window 8, partial interleaved rope, softcap */
  ttt_attention_spec s = {.hidden = 64,
                          .n_heads = 4,
                          .n_kv_heads = 2,
                          .head_dim = 16,
                          .sliding_window = 8,
                          .softcap = 5.0f,
                          .rope = rope_default(16, 10000.0)};
  s.rope.rotary_dim = 8;
  s.rope.interleaved = true;
  return s;
}

/* Per-head q/k LayerNorm with each head's own weights and biases, and an output bias. */
static ttt_attention_spec mini_head_weights(void) {
  return (ttt_attention_spec){.hidden = 64,
                              .n_heads = 4,
                              .n_kv_heads = 2,
                              .head_dim = 16,
                              .o_bias = true,
                              .qk_norm = TTT_QK_NORM_HEAD_WEIGHTS,
                              .qk_norm_spec = {.type = TTT_NORM_LAYER, .eps = 1e-5f, .bias = true},
                              .rope = rope_default(16, 10000.0)};
}
/* One RMSNorm over all heads of q (and of k), with (1 + w) weights. */
static ttt_attention_spec mini_all_heads(void) {
  return (ttt_attention_spec){
      .hidden = 64,
      .n_heads = 4,
      .n_kv_heads = 2,
      .head_dim = 16,
      .qk_norm = TTT_QK_NORM_ALL,
      .qk_norm_spec = {.type = TTT_NORM_RMS, .eps = 1e-6f, .weight_offset = true},
      .rope = rope_default(16, 500000.0)};
}

/* ---- the mini matrix ---- */

typedef struct axis_algorithm {
  ttt_attention_algorithm algorithm;
  int32_t block;       /* keys per tile */
  int32_t query_block; /* query positions per tile (0: default) */
} axis_algorithm;

/* Tiles of 5 keys × 3 positions leave partial key and query tiles on every length used here. */
static const axis_algorithm algorithms[] = {
    {TTT_ATTENTION_NAIVE, 0, 0}, {TTT_ATTENTION_TILED, 5, 3}, {TTT_ATTENTION_TILED, 16, 0}};

typedef struct axis_weights {
  ttt_dtype weights, activations;
} axis_weights;

static const axis_weights weight_axis[] = {
    {TTT_F32, TTT_F32}, {TTT_BF16, TTT_F32}, {TTT_Q8_0, TTT_F32}, {TTT_Q8_0, TTT_Q8_0}};

static const int64_t prefill_lengths[] = {1, 17, 64};
static const int64_t decode_steps[] = {0, 3};

/* Every combination for one mini spec; windowed specs use a ring cache on odd configs. */
static void mini_matrix(ttt_attention_spec (*make)(void), uint64_t seed) {
  ttt_attention_spec spec = make();
  layer l;
  layer_init(&l, &spec, seed);
  enum { MAX_ROWS = 67 };
  float *x = random_input(MAX_ROWS, spec.hidden, seed + 1);
  double *ref = reference(&l, &spec, x, 1, MAX_ROWS, NULL);
  float *out = malloc((size_t)(MAX_ROWS * spec.hidden) * sizeof(float));
  float *single = malloc((size_t)(MAX_ROWS * spec.hidden) * sizeof(float));
  ttt_context *ctxs[2] = {ttt_test_context(1), ttt_test_context(2)};
  int64_t config = 0;
  for (size_t p = 0; p < 3; p++)
    for (size_t d = 0; d < 2; d++)
      for (size_t a = 0; a < 3; a++)
        for (size_t w = 0; w < 4; w++)
          for (int kv = 0; kv < 2; kv++)
            for (int th = 0; th < 2; th++, config++) {
              run_config rc = {
                  .impl = {.weight_dtype = weight_axis[w].weights,
                           .activation_dtype = weight_axis[w].activations,
                           .threads = th + 1,
                           .fuse_qkv = (w + (size_t)th) % 2 == 0,
                           .algorithm = algorithms[a].algorithm,
                           .block_size = algorithms[a].block,
                           .query_block = algorithms[a].query_block,
                           .kv_dtype = kv ? TTT_BF16 : TTT_F32,
                           /* 5 is coprime to every axis length above */
                           .kernel = config % 5 == 2 ? TTT_KERNEL_REFERENCE : TTT_KERNEL_DEFAULT},
                  .ring = spec.sliding_window > 0 && config % 3 != 0};
              int64_t T = prefill_lengths[p], D = decode_steps[d];
              run_cached(ctxs[th], &l, &rc, x, &T, 1, D, out);
              tolerance tol = tolerance_for(rc.impl.weight_dtype, rc.impl.kv_dtype);
              char what[160];
              snprintf(what, sizeof what,
                       "spec %llu T %lld D %lld algo %d/%d/%d w %s/%s kv %s th %d k %d",
                       (unsigned long long)seed, (long long)T, (long long)D, (int)rc.impl.algorithm,
                       (int)rc.impl.block_size, (int)rc.impl.query_block,
                       ttt_dtype_name(rc.impl.weight_dtype),
                       ttt_dtype_name(rc.impl.activation_dtype), ttt_dtype_name(rc.impl.kv_dtype),
                       th + 1, (int)rc.impl.kernel);
              check_against(out, ref, T + D, spec.hidden, &tol, what);
              if (D == 0) continue;
              /* T prefilled + D decoded == one prefill of T + D (same impl, same arithmetic) */
              int64_t all = T + D;
              run_cached(ctxs[th], &l, &rc, x, &all, 1, 0, single);
              double worst = 0.0, scale = 0.0;
              for (int64_t i = 0; i < all * spec.hidden; i++) {
                worst = fmax(worst, fabs(out[i] - single[i]));
                scale = fmax(scale, fabs(single[i]));
              }
              CHECK_MSG(worst <= 1e-6 * scale, "%s: prefill+decode vs one prefill differ by %g",
                        what, worst);
            }
  ttt_context_destroy(ctxs[0]);
  ttt_context_destroy(ctxs[1]);
  free(x);
  free(ref);
  free(out);
  free(single);
  layer_free(&l);
}

static void test_mini_llama(void) { mini_matrix(mini_llama, 101); }
static void test_mini_qwen2(void) { mini_matrix(mini_qwen2, 202); }
static void test_mini_qwen3(void) { mini_matrix(mini_qwen3, 303); }
static void test_mini_mistral(void) { mini_matrix(mini_mistral, 404); }
static void test_mini_head_weights(void) { mini_matrix(mini_head_weights, 505); }
static void test_mini_all_heads(void) { mini_matrix(mini_all_heads, 606); }

/* ---- real dims: a subsample of the matrix (see the top of the file) ---- */

typedef struct full_config {
  ttt_dtype weights, kv;
  ttt_attention_algorithm algorithm;
  int32_t block;
  int64_t T, D;
  bool fuse;
} full_config;

static const full_config full_configs[] = {
    {TTT_F32, TTT_F32, TTT_ATTENTION_TILED, 16, 17, 3, true},
    {TTT_BF16, TTT_BF16, TTT_ATTENTION_NAIVE, 0, 17, 3, false},
    {TTT_Q8_0, TTT_F32, TTT_ATTENTION_TILED, 5, 1, 3, true},
};

static void full_dims(const char *name, ttt_attention_spec (*make)(void), uint64_t seed) {
  ttt_attention_spec spec = make();
  layer l;
  layer_init(&l, &spec, seed);
  enum { ROWS = 20 };
  float *x = random_input(ROWS, spec.hidden, seed + 1);
  double *ref = reference(&l, &spec, x, 1, ROWS, NULL);
  float *out = malloc((size_t)(ROWS * spec.hidden) * sizeof(float));
  ttt_context *ctx = ttt_test_context(2);
  for (size_t c = 0; c < sizeof full_configs / sizeof full_configs[0]; c++) {
    const full_config *fc = &full_configs[c];
    run_config rc = {.impl = {.weight_dtype = fc->weights,
                              .kv_dtype = fc->kv,
                              .algorithm = fc->algorithm,
                              .block_size = fc->block,
                              .fuse_qkv = fc->fuse,
                              .threads = 2},
                     .ring = spec.sliding_window > 0 && c % 2 == 1};
    run_cached(ctx, &l, &rc, x, &fc->T, 1, fc->D, out);
    tolerance tol = tolerance_for(fc->weights, fc->kv);
    char what[96];
    snprintf(what, sizeof what, "%s config %zu", name, c);
    check_against(out, ref, fc->T + fc->D, spec.hidden, &tol, what);
    verdict v = judge(out, ref, fc->T + fc->D, spec.hidden, &tol);
    printf("  %s: weights %s, cache %s, %lld+%lld tokens: pcc %.8f, max abs / scale %.3g\n", what,
           ttt_dtype_name(fc->weights), ttt_dtype_name(fc->kv), (long long)fc->T, (long long)fc->D,
           v.pcc, v.rel_abs);
  }
  ttt_context_destroy(ctx);
  free(x);
  free(ref);
  free(out);
  layer_free(&l);
}

static void test_llama3_8b(void) { full_dims("Llama-3-8B", llama3_8b, 11); }
static void test_qwen25_7b(void) { full_dims("Qwen2.5-7B", qwen25_7b, 12); }
static void test_qwen3_8b(void) { full_dims("Qwen3-8B", qwen3_8b, 13); }
static void test_mistral_7b_window8(void) {
  full_dims("Mistral-7B window 8", mistral_7b_window8, 14);
}

/* ---- encoders: cache-less, bidirectional, key padding ---- */

static ttt_attention_spec mini_bert(void) {
  return (ttt_attention_spec){.hidden = 64,
                              .n_heads = 4,
                              .n_kv_heads = 4,
                              .q_bias = true,
                              .k_bias = true,
                              .v_bias = true,
                              .o_bias = true,
                              .bidirectional = true};
}

/* B = 2 sequences of 17 tokens, the second padded after 12. Rows of padded queries are compared
 * too (the reference computes them the same way). */
static void encoder_case(ttt_attention_spec (*make)(void), uint64_t seed, bool full_matrix) {
  ttt_attention_spec spec = make();
  layer l;
  layer_init(&l, &spec, seed);
  enum { B = 2, T = 17 };
  uint8_t mask[B * T];
  for (int i = 0; i < B * T; i++) mask[i] = !(i >= T + 12);
  float *x = random_input(B * T, spec.hidden, seed + 1);
  double *ref = reference(&l, &spec, x, B, T, mask);
  float *out = malloc((size_t)(B * T * spec.hidden) * sizeof(float));
  ttt_context *ctxs[2] = {ttt_test_context(1), ttt_test_context(2)};
  for (size_t a = 0; a < 3; a++)
    for (size_t w = 0; w < 4; w++)
      for (int th = 0; th < 2; th++) {
        if (!full_matrix && (th == 0 || (a + w) % 2 == 1)) continue;
        ttt_attention_impl_config impl = {.weight_dtype = weight_axis[w].weights,
                                          .activation_dtype = weight_axis[w].activations,
                                          .algorithm = algorithms[a].algorithm,
                                          .block_size = algorithms[a].block,
                                          .query_block = algorithms[a].query_block,
                                          .fuse_qkv = w % 2 == 0,
                                          .threads = th + 1};
        ttt_attention_weights wt = layer_weights(&l, impl.weight_dtype);
        ttt_tensor xt = ttt_tensor_3d(TTT_F32, x, B, T, spec.hidden);
        ttt_tensor ot = ttt_tensor_3d(TTT_F32, out, B, T, spec.hidden);
        CHECK_OK(ttt_attention_forward(ctxs[th], &spec, &impl, &wt, NULL, &xt, mask, &ot));
        tolerance tol = tolerance_for(impl.weight_dtype, TTT_F32);
        char what[96];
        snprintf(what, sizeof what, "encoder hidden %lld algo %zu weights %zu threads %d",
                 (long long)spec.hidden, a, w, th + 1);
        check_against(out, ref, B * T, spec.hidden, &tol, what);
      }
  ttt_context_destroy(ctxs[0]);
  ttt_context_destroy(ctxs[1]);
  free(x);
  free(ref);
  free(out);
  layer_free(&l);
}

/* A symmetric local window (|j - p| <= 4 of 17 positions), as ModernBERT's local layers. */
static ttt_attention_spec mini_bert_window(void) {
  ttt_attention_spec s = mini_bert();
  s.sliding_window = 8;
  return s;
}

static void test_bert_base(void) { encoder_case(bert_base, 15, false); }
static void test_bidirectional_window(void) { encoder_case(mini_bert_window, 515, true); }
static void test_mini_bert(void) { encoder_case(mini_bert, 505, true); }

/* The cache-less forward of a causal spec over a batch equals the reference per sequence (and so
 * the cached prefill): RoPE positions restart at 0 in every sequence. */
static void test_causal_batch_without_cache(void) {
  ttt_attention_spec spec = mini_qwen3();
  layer l;
  layer_init(&l, &spec, 606);
  enum { B = 3, T = 9 };
  float *x = random_input(B * T, spec.hidden, 607);
  double *ref = reference(&l, &spec, x, B, T, NULL);
  float *out = malloc((size_t)(B * T * spec.hidden) * sizeof(float));
  ttt_context *ctx = ttt_test_context(2);
  ttt_attention_impl_config impl = ttt_attention_default_impl_config(NULL, TTT_MODE_PREFILL, &spec);
  ttt_attention_weights w = layer_weights(&l, TTT_F32);
  ttt_tensor xt = ttt_tensor_3d(TTT_F32, x, B, T, spec.hidden);
  ttt_tensor ot = ttt_tensor_3d(TTT_F32, out, B, T, spec.hidden);
  CHECK_OK(ttt_attention_forward(ctx, &spec, &impl, &w, l.rope, &xt, NULL, &ot));
  tolerance tol = tolerance_for(TTT_F32, TTT_F32);
  check_against(out, ref, B * T, spec.hidden, &tol, "causal batch without cache");
  ttt_context_destroy(ctx);
  free(x);
  free(ref);
  free(out);
  layer_free(&l);
}

/* ---- sliding window: 20 tokens, window 8, ring and full caches, every chunking ---- */

static void test_sliding_window_chunks_and_ring(void) {
  ttt_attention_spec spec = mini_mistral();
  spec.softcap = 0.0f;
  layer l;
  layer_init(&l, &spec, 707);
  enum { N = 20 };
  float *x = random_input(N, spec.hidden, 708);
  double *ref = reference(&l, &spec, x, 1, N, NULL);
  float *out = malloc((size_t)(N * spec.hidden) * sizeof(float));
  ttt_context *ctx = ttt_test_context(2);
  /* chunkings: all at once; smaller than the window; larger than the window; mixed; prefill 5 then
   * 15 decode steps (the ring wraps twice) */
  static const int64_t chunkings[][4] = {{20}, {3, 3, 3, 11}, {11, 9}, {7, 1, 12}, {5}};
  static const int n_chunks[] = {1, 4, 2, 3, 1};
  static const int64_t decodes[] = {0, 0, 0, 0, 15};
  for (int c = 0; c < 5; c++)
    for (int ring = 0; ring < 2; ring++)
      for (size_t a = 0; a < 3; a++) {
        run_config rc = {.impl = {.algorithm = algorithms[a].algorithm,
                                  .block_size = algorithms[a].block,
                                  .query_block = algorithms[a].query_block},
                         .ring = ring == 1};
        run_cached(ctx, &l, &rc, x, chunkings[c], n_chunks[c], decodes[c], out);
        tolerance tol = tolerance_for(TTT_F32, TTT_F32);
        char what[96];
        snprintf(what, sizeof what, "window 8: chunking %d ring %d algo %zu", c, ring, a);
        check_against(out, ref, N, spec.hidden, &tol, what);
      }
  ttt_context_destroy(ctx);
  free(x);
  free(ref);
  free(out);
  layer_free(&l);
}

/* ---- the thresholds reject real bugs ---- */

static void test_thresholds_bite(void) {
  ttt_attention_spec spec = mini_mistral();
  layer l;
  layer_init(&l, &spec, 808);
  enum { N = 20 };
  float *x = random_input(N, spec.hidden, 809);
  double *ref = reference(&l, &spec, x, 1, N, NULL);
  float *out = malloc((size_t)(N * spec.hidden) * sizeof(float));
  ttt_context *ctx = ttt_test_context(1);
  tolerance tol = tolerance_for(TTT_F32, TTT_F32);
  run_config rc = {.impl = {.algorithm = TTT_ATTENTION_TILED, .block_size = 5}};
  int64_t n = N;
  run_cached(ctx, &l, &rc, x, &n, 1, 0, out);
  CHECK(judge(out, ref, N, spec.hidden, &tol).pass); /* the correct run passes... */
  layer wrong = l;
  wrong.spec.scale = 1.1f / sqrtf(16.0f); /* ...a 10% wrong softmax scale does not */
  run_cached(ctx, &wrong, &rc, x, &n, 1, 0, out);
  verdict v = judge(out, ref, N, spec.hidden, &tol);
  CHECK_MSG(!v.pass, "wrong scale passed: pcc %.8f, rel %.3g", v.pcc, v.rel_abs);
  wrong = l;
  wrong.spec.sliding_window = 0; /* ...nor a missing window mask */
  run_cached(ctx, &wrong, &rc, x, &n, 1, 0, out);
  v = judge(out, ref, N, spec.hidden, &tol);
  CHECK_MSG(!v.pass, "missing window passed: pcc %.8f, rel %.3g", v.pcc, v.rel_abs);
  wrong = l;
  wrong.spec.softcap = 0.0f; /* ...nor a missing soft-cap */
  run_cached(ctx, &wrong, &rc, x, &n, 1, 0, out);
  v = judge(out, ref, N, spec.hidden, &tol);
  CHECK_MSG(!v.pass, "missing softcap passed: pcc %.8f, rel %.3g", v.pcc, v.rel_abs);
  /* and the bf16 / q8_0 budgets are not so loose that a wrong mask fits in them */
  tolerance loose = tolerance_for(TTT_Q8_0, TTT_F32);
  wrong.spec = l.spec;
  wrong.spec.sliding_window = 0;
  run_cached(ctx, &wrong, &rc, x, &n, 1, 0, out);
  CHECK(!judge(out, ref, N, spec.hidden, &loose).pass);
  ttt_context_destroy(ctx);
  free(x);
  free(ref);
  free(out);
  layer_free(&l);
}

/* ---- no heap allocation once the workspace is warm ---- */

static void test_decode_does_not_allocate(void) {
  ttt_attention_spec spec = mini_llama();
  layer l;
  layer_init(&l, &spec, 909);
  float *x = random_input(40, spec.hidden, 910);
  float out[64];
  ttt_context *ctx = ttt_test_context(2);
  ttt_kv_cache *cache = make_cache(&spec, TTT_F32, false, 40);
  ttt_attention_weights w = layer_weights(&l, TTT_F32);
  ttt_attention_impl_config prefill =
      ttt_attention_default_impl_config(NULL, TTT_MODE_PREFILL, &spec);
  ttt_attention_impl_config decode =
      ttt_attention_default_impl_config(NULL, TTT_MODE_DECODE, &spec);
  float *warm = malloc((size_t)(40 * spec.hidden) * sizeof(float));
  ttt_tensor xt = ttt_tensor_2d(TTT_F32, x, 40, spec.hidden);
  ttt_tensor wt = ttt_tensor_2d(TTT_F32, warm, 40, spec.hidden);
  CHECK_OK(ttt_attention_prefill_forward(ctx, &spec, &prefill, &w, l.rope, cache, 0, &xt, 0, &wt));
  ttt_kv_cache_reset(cache);
  xt = ttt_tensor_2d(TTT_F32, x, 8, spec.hidden);
  wt = ttt_tensor_2d(TTT_F32, warm, 8, spec.hidden);
  CHECK_OK(ttt_attention_prefill_forward(ctx, &spec, &prefill, &w, l.rope, cache, 0, &xt, 0, &wt));
  int64_t before = ttt_context_get_stats(ctx).scratch_allocations;
  for (int64_t p = 8; p < 40; p++) {
    ttt_tensor xd = ttt_tensor_2d(TTT_F32, x + p * spec.hidden, 1, spec.hidden);
    ttt_tensor od = ttt_tensor_2d(TTT_F32, out, 1, spec.hidden);
    CHECK_OK(ttt_attention_decode_forward(ctx, &spec, &decode, &w, l.rope, cache, 0, &xd, p, &od));
  }
  CHECK(ttt_context_get_stats(ctx).scratch_allocations == before);
  ttt_kv_cache_destroy(cache);
  ttt_context_destroy(ctx);
  free(x);
  free(warm);
  layer_free(&l);
}

/* ---- bad input ---- */

static void test_spec_validation(void) {
  ttt_attention_spec s = qwen25_7b();
  CHECK_OK(ttt_attention_spec_validate(&s));
  s.n_kv_heads = 3;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "n_heads (28) is not a multiple of n_kv_heads (3)");
  s = qwen25_7b();
  s.n_kv_heads = 0;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "n_kv_heads (0)");
  s = qwen3_8b();
  s.qk_norm_spec.eps = 0.0f;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "qk_norm_spec: norm spec: eps");
  s = qwen3_8b();
  s.qk_norm = (ttt_qk_norm)7;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "qk_norm (7)");
  s = qwen3_8b();
  s.rope.head_dim = 64;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "rope.head_dim (64)");
  s = qwen3_8b();
  s.rope.type = (ttt_rope_type)99;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "unknown type 99");
  s = bert_base();
  s.sliding_window = -1;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "sliding_window (-1)");
  s = bert_base();
  s.head_dim = 0;
  s.hidden = 770;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "head_dim (0)");
  s = llama3_8b();
  s.scale = -1.0f;
  CHECK_ERR(ttt_attention_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "scale");
}

static void test_bad_forward_arguments(void) {
  ttt_attention_spec spec = mini_qwen2();
  layer l;
  layer_init(&l, &spec, 1001);
  ttt_context *ctx = ttt_test_context(1);
  ttt_kv_cache *cache = make_cache(&spec, TTT_F32, false, 8);
  ttt_attention_weights w = layer_weights(&l, TTT_F32);
  ttt_attention_impl_config impl = ttt_attention_default_impl_config(NULL, TTT_MODE_PREFILL, &spec);
  float *x = random_input(9, spec.hidden, 1002);
  float out[9 * 64];
  ttt_tensor x6 = ttt_tensor_2d(TTT_F32, x, 6, spec.hidden);
  ttt_tensor o6 = ttt_tensor_2d(TTT_F32, out, 6, spec.hidden);
  ttt_tensor x3 = ttt_tensor_2d(TTT_F32, x, 3, spec.hidden);
  ttt_tensor o3 = ttt_tensor_2d(TTT_F32, out, 3, spec.hidden);
  CHECK_OK(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x6, 0, &o6));
  /* capacity: positions 6..8 of an 8-position cache; nothing is written (ASan would see it) */
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x3, 6, &o3),
            TTT_ERR_CAPACITY, "exceed the kv cache capacity of 8");
  CHECK(ttt_kv_cache_length(cache, 0) == 6);
  ttt_tensor x1 = ttt_tensor_2d(TTT_F32, x, 1, spec.hidden);
  ttt_tensor o1 = ttt_tensor_2d(TTT_F32, out, 1, spec.hidden);
  CHECK_OK(ttt_attention_decode_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x1, 6, &o1));
  CHECK_OK(ttt_attention_decode_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x1, 7, &o1));
  CHECK_ERR(ttt_attention_decode_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x1, 8, &o1),
            TTT_ERR_CAPACITY, "capacity");
  CHECK(ttt_kv_cache_length(cache, 0) == 8);
  ttt_kv_cache_reset(cache);
  /* start_pos must be the cache length */
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x3, 2, &o3),
            TTT_ERR_INVALID_ARGUMENT, "start position 2 must equal the cache length 0");
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 1, &x3, 0, &o3),
            TTT_ERR_OUT_OF_RANGE, "layer 1");
  /* shapes */
  ttt_tensor bad_x = ttt_tensor_2d(TTT_F32, x, 3, spec.hidden - 1);
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &bad_x, 0, &o3),
            TTT_ERR_SHAPE, "last dim hidden (64)");
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x3, 0, &o6),
            TTT_ERR_SHAPE, "out must have the shape of x");
  CHECK_ERR(ttt_attention_decode_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_SHAPE, "[1, hidden]");
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &x3, 0, &x3),
            TTT_ERR_INVALID_ARGUMENT, "overlap");
  /* weights */
  ttt_attention_weights bad = w;
  bad.wk = l.mats[1][1];
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &bad, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_DTYPE, "attention.wk: dtype bf16");
  bad = w;
  bad.wv = l.mats[0][0];
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &bad, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_SHAPE, "attention.wv");
  bad = w;
  bad.bq = (ttt_tensor){0};
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &bad, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_INVALID_ARGUMENT, "attention.bq");
  ttt_attention_impl_config bf16 = impl;
  bf16.weight_dtype = TTT_BF16;
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &bf16, &w, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_DTYPE, "attention.wq: dtype f32, expected bf16");
  /* cache and rope consistency */
  ttt_attention_impl_config kv16 = impl;
  kv16.kv_dtype = TTT_BF16;
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &kv16, &w, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_DTYPE, "kv cache layer 0 dtype f32");
  ttt_attention_spec other = spec;
  other.n_kv_heads = 1;
  other.k_bias = other.v_bias = false;
  layer l1;
  layer_init(&l1, &other, 1003);
  ttt_attention_weights w1 = layer_weights(&l1, TTT_F32);
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &other, &impl, &w1, l1.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_SHAPE, "kv cache layer 0 has 2 kv heads");
  layer_free(&l1);
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &impl, &w, NULL, cache, 0, &x3, 0, &o3),
            TTT_ERR_INVALID_ARGUMENT, "rope tables are NULL");
  ttt_attention_spec bidir = spec;
  bidir.bidirectional = true;
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &bidir, &impl, &w, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_INVALID_ARGUMENT, "ttt_attention_forward");
  ttt_attention_impl_config odd = impl;
  odd.block_size = -2;
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &odd, &w, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_INVALID_ARGUMENT, "block_size (-2)");
  odd.block_size = 0;
  odd.query_block = -1;
  CHECK_ERR(ttt_attention_prefill_forward(ctx, &spec, &odd, &w, l.rope, cache, 0, &x3, 0, &o3),
            TTT_ERR_INVALID_ARGUMENT, "query_block (-1)");
  CHECK(ttt_kv_cache_length(cache, 0) == 0); /* failed calls leave the cache untouched */
  ttt_kv_cache_destroy(cache);
  ttt_context_destroy(ctx);
  free(x);
  layer_free(&l);
}

int main(void) {
  TTT_RUN(test_mini_llama);
  TTT_RUN(test_mini_qwen2);
  TTT_RUN(test_mini_qwen3);
  TTT_RUN(test_mini_head_weights);
  TTT_RUN(test_mini_all_heads);
  TTT_RUN(test_mini_mistral);
  TTT_RUN(test_mini_bert);
  TTT_RUN(test_bidirectional_window);
  TTT_RUN(test_causal_batch_without_cache);
  TTT_RUN(test_sliding_window_chunks_and_ring);
  TTT_RUN(test_thresholds_bite);
  TTT_RUN(test_decode_does_not_allocate);
  TTT_RUN(test_spec_validation);
  TTT_RUN(test_bad_forward_arguments);
  TTT_RUN(test_llama3_8b);
  TTT_RUN(test_qwen25_7b);
  TTT_RUN(test_qwen3_8b);
  TTT_RUN(test_mistral_7b_window8);
  TTT_RUN(test_bert_base);
  for (int i = 0; i < 3; i++)
    if (stats[i].family)
      printf("%-20s %6lld comparisons, worst pcc %.8f, worst max abs / scale %.3g\n",
             stats[i].family, (long long)stats[i].comparisons, stats[i].worst_pcc,
             stats[i].worst_rel_abs);
  return ttt_test_finish();
}
