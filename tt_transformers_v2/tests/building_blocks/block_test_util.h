/*
 * block_test_util.h — helpers for the building-block tests (norm, embedding, mlp, moe, lm_head):
 * weight generation scaled like real initializations, dtype conversion, and comparison against
 * the float64 references with per-dtype thresholds.
 *
 * Thresholds (relative to the float64 reference computed from the f32 master weights):
 *   f32 weights, f32 activations: PCC >= 0.99999 and max|err| <= 1e-5 · max|ref|. An f32 dot
 *     product of k terms carries a rounding error of about eps·sqrt(k) of its typical magnitude
 *     (eps = 6e-8; k = 14336 → ~7e-6; blocked/SIMD summation is far better than this bound), and
 *     relative to the largest output it is smaller still: measured worst 1e-6 at Llama/Qwen dims
 *     through two chained matmuls. 1e-5 leaves ~10x margin yet fails any mistake in the math (a
 *     wrong activation such as gelu vs its tanh form, a dropped bias: see the "bites" checks).
 *   bf16 weights: PCC >= 0.999. Rounding each weight to 8 significant bits perturbs a weight by up
 *     to 2^-9 relative (~0.1% rms), which moves outputs by ~0.1% rms: PCC ~0.999999 in practice.
 *   q8_0 weights (f32 or q8_0 activations): PCC >= 0.99. 8-bit blocks with one scale per 32 values
 *     err by up to max|block|/254 (~0.3-0.5% rms); int8 activations add as much again.
 * The loose bf16/q8_0 thresholds measure quantization, not code: so the same configurations are
 * also compared against the reference run on the *same* (dequantized) weights, where the only
 * difference left is f32 arithmetic (f32 activations: the f32 threshold) or activation
 * quantization (q8_0 activations: PCC >= 0.999).
 */
#ifndef BLOCK_TEST_UTIL_H
#define BLOCK_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"

/* Sanitizer builds run 3-10x slower: they keep the real-dims cases that stress sizes and offsets
 * and drop the slow prefill-at-real-dims repeats (covered at reduced dims there). */
#if defined(__SANITIZE_ADDRESS__)
#define BTU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BTU_SANITIZED 1
#endif
#endif
#ifndef BTU_SANITIZED
#define BTU_SANITIZED 0
#endif

typedef struct btu_threshold {
  double min_pcc;
  double max_rel_abs; /* max|err| / max|ref|; < 0: not checked */
} btu_threshold;

static const btu_threshold BTU_F32 = {0.99999, 1e-5};
static const btu_threshold BTU_BF16 = {0.999, -1.0};
static const btu_threshold BTU_Q8_0 = {0.99, -1.0};
static const btu_threshold BTU_Q8_ACT_SAME_WEIGHTS = {0.999, -1.0};

/* The threshold against the f32-master reference for a weight dtype. */
static inline btu_threshold btu_threshold_for(ttt_dtype weight_dtype) {
  if (weight_dtype == TTT_BF16 || weight_dtype == TTT_F16) return BTU_BF16;
  if (weight_dtype == TTT_Q8_0) return BTU_Q8_0;
  return BTU_F32;
}

/* Per-dtype worst results, printed at the end of a test program (for the report). */
typedef struct btu_stats {
  double worst_pcc[TTT_DTYPE_COUNT][2]; /* [weight dtype][q8_0 activations] */
  double worst_rel[TTT_DTYPE_COUNT][2];
  int64_t count[TTT_DTYPE_COUNT][2];
} btu_stats;

static inline ttt_context *btu_context(int32_t threads) {
  ttt_device device;
  ttt_context *ctx = NULL;
  if (ttt_device_cpu(&device, threads) != TTT_OK) return NULL;
  if (ttt_context_create(&device, &ctx) != TTT_OK) return NULL;
  return ctx;
}

/* Uniform values with standard deviation `std` (uniform in ±std·sqrt(3)). Weights use
 * std = 1/sqrt(fan_in), like the usual initializations, so activations keep unit scale. */
static inline void btu_fill(ttt_test_rng *rng, float *x, int64_t n, double std) {
  float a = (float)(std * sqrt(3.0));
  ttt_test_fill_uniform(rng, x, n, -a, a);
}

/* An allocated f32 [rows, cols] tensor filled by btu_fill (data NULL on failure, reported). */
static inline ttt_tensor btu_matrix(ttt_test_rng *rng, int64_t rows, int64_t cols, double std) {
  ttt_tensor t = {0};
  int64_t shape[2] = {rows, cols};
  CHECK_OK(ttt_tensor_alloc(&t, TTT_F32, 2, shape));
  if (t.data) btu_fill(rng, t.data, rows * cols, std);
  return t;
}

static inline ttt_tensor btu_vector(ttt_test_rng *rng, int64_t n, double std) {
  ttt_tensor t = {0};
  int64_t shape[1] = {n};
  CHECK_OK(ttt_tensor_alloc(&t, TTT_F32, 1, shape));
  if (t.data) btu_fill(rng, t.data, n, std);
  return t;
}

/* `src` (f32) in `dtype`: a fresh tensor (caller frees), or a plain copy of the view for f32
 * (not to be freed: check btu_owned). */
static inline ttt_tensor btu_as(const ttt_tensor *src, ttt_dtype dtype) {
  if (!src->data || dtype == src->dtype) return *src;
  ttt_tensor out = {0};
  CHECK_OK(ttt_tensor_convert(src, dtype, &out));
  return out;
}

static inline void btu_release(ttt_tensor *converted, const ttt_tensor *master) {
  if (converted->data != master->data) ttt_tensor_free(converted);
  *converted = (ttt_tensor){0};
}

static inline double *btu_doubles(const float *x, int64_t n) {
  double *d = malloc((size_t)n * sizeof(double));
  if (d)
    for (int64_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

/* Compares `n` f32 values with a float64 reference; fills res and returns whether th holds. */
static inline bool btu_passes(const float *actual, const double *expected, int64_t n,
                              btu_threshold th, ttt_compare_result *res, double *rel) {
  ttt_tensor a = ttt_tensor_1d(TTT_F32, (void *)actual, n);
  ttt_tensor e = ttt_tensor_1d(TTT_F64, (void *)expected, n);
  if (ttt_compare(&a, &e, NULL, 0.0, 0.0, res) != TTT_OK) return false;
  double scale = 0.0;
  for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(expected[i]));
  *rel = scale > 0.0 ? res->max_abs_err / scale : res->max_abs_err;
  if (!(res->pcc >= th.min_pcc)) return false;
  return th.max_rel_abs < 0.0 || *rel <= th.max_rel_abs;
}

/* CHECKs actual against expected with th, prints one line, and records per-dtype worst values. */
static inline void btu_check(btu_stats *stats, ttt_dtype weight_dtype, bool q8_act,
                             const char *label, const float *actual, const double *expected,
                             int64_t n, btu_threshold th) {
  ttt_compare_result res;
  double rel = 0.0;
  bool ok = btu_passes(actual, expected, n, th, &res, &rel);
  CHECK_MSG(ok, "%s: pcc %.8f (min %.5f), max abs %.3g = %.3g of scale (max %.3g)", label, res.pcc,
            th.min_pcc, res.max_abs_err, rel, th.max_rel_abs);
  if (getenv("TTT_TEST_VERBOSE"))
    printf("  %-64s pcc %.9f  max_abs %.3e  rel %.3e\n", label, res.pcc, res.max_abs_err, rel);
  if (!stats) return;
  int a = q8_act ? 1 : 0;
  if (stats->count[weight_dtype][a] == 0 || res.pcc < stats->worst_pcc[weight_dtype][a])
    stats->worst_pcc[weight_dtype][a] = res.pcc;
  if (stats->count[weight_dtype][a] == 0 || rel > stats->worst_rel[weight_dtype][a])
    stats->worst_rel[weight_dtype][a] = rel;
  stats->count[weight_dtype][a]++;
}

/* Proves that th bites: a copy of expected with one value moved by `delta_rel` of the output
 * scale (max|expected|; checked when th has a max-abs bound), and another with every value
 * perturbed by `noise` (relative rms, deterministic), must both fail. */
static inline void btu_check_bites(const char *label, const float *actual, const double *expected,
                                   int64_t n, btu_threshold th, double delta_rel, double noise) {
  double *wrong = malloc((size_t)n * sizeof(double));
  CHECK(wrong != NULL);
  if (!wrong) return;
  ttt_compare_result res;
  double rel;
  CHECK_MSG(btu_passes(actual, expected, n, th, &res, &rel), "%s: baseline must pass", label);
  if (th.max_rel_abs >= 0.0) {
    double scale = 0.0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(expected[i]));
    memcpy(wrong, expected, (size_t)n * sizeof(double));
    wrong[n / 2] += delta_rel * scale;
    CHECK_MSG(!btu_passes(actual, wrong, n, th, &res, &rel),
              "%s: one value off by %g of the scale must fail (rel %.3g)", label, delta_rel, rel);
  }
  ttt_test_rng rng = ttt_test_rng_make(99);
  for (int64_t i = 0; i < n; i++)
    wrong[i] = expected[i] * (1.0 + noise * sqrt(3.0) * ttt_test_rng_uniform(&rng, -1.0f, 1.0f));
  CHECK_MSG(!btu_passes(actual, wrong, n, th, &res, &rel),
            "%s: %g relative noise must fail (pcc %.6f)", label, noise, res.pcc);
  free(wrong);
}

static inline void btu_print_stats(const char *block, const btu_stats *stats) {
  for (int d = 0; d < TTT_DTYPE_COUNT; d++)
    for (int a = 0; a < 2; a++)
      if (stats->count[d][a])
        printf("%s: %s weights%s: %lld comparisons, worst pcc %.9f, worst max_abs/scale %.3e\n",
               block, ttt_dtype_name((ttt_dtype)d), a ? " + q8_0 activations" : "",
               (long long)stats->count[d][a], stats->worst_pcc[d][a], stats->worst_rel[d][a]);
}

#endif
