/* q4_0 block quantization (layout in ttt/core.h) and the block-dtype helpers of tensor.c. */
#include <math.h>
#include <string.h>

#include <ttt.h>

#include "quant.h"

bool ttt_dtype_is_block(ttt_dtype dtype) { return dtype == TTT_Q8_0 || dtype == TTT_Q4_0; }

size_t ttt_block_bytes(ttt_dtype dtype) {
  return dtype == TTT_Q8_0 ? TTT_Q8_0_BLOCK_BYTES : dtype == TTT_Q4_0 ? TTT_Q4_0_BLOCK_BYTES : 0;
}

int64_t ttt_first_non_finite(const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return i;
  return -1;
}

const char *ttt_non_finite_name(float v) { return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }

/* Scale candidates beside the absmax rule's, as divisors of the block's extreme m (d = m / divisor):
 * −8 maps m to code 0 exactly; the others clip m for a finer grid, or widen it. Measured on
 * kjv-llama with bench/q4_format_study.py (weights quantized and dequantized, f32 arithmetic, `ttt
 * perplexity --ids-file`, ctx 512; bf16 weights 19.377): the absmax rule alone 19.789 (+2.1%), this
 * search 19.585 (+1.1%), and a K-quant-style layout of the same 4.5 bits per weight (super-blocks
 * of 8 × 32 values, 6-bit sub-block scales and minimums) 19.599: no better than the search over
 * q4_0 blocks, which the q4_0 kernels read as they are. */
static const float candidate_divisors[] = {-8.5f,  -8.25f, -8.0f,  -7.75f, -7.5f,
                                           -7.25f, -7.0f,  -6.75f, -6.5f};

/* The search below runs 4 values at a time in GNU C vectors (SSE in the portable x86-64 build):
 * `ttt quantize --dtype q4_0` of the Llama-3.2-1B shape took 32 s on one thread, against 71 s with
 * a scalar version and 10-11 s with the absmax rule alone. Sums keep 4 lanes added in a fixed
 * order and nothing is contracted into FMAs (gcc in ISO C mode does not; clang would in a
 * -march=native build without the pragma), so a block quantizes to the same bytes on every machine
 * and build. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
typedef float f32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
enum { LANES = 4 };

static f32x4 splat(float v) { return (f32x4){v, v, v, v}; }

static f32x4 load4(const float *x) {
  f32x4 v;
  memcpy(&v, x, sizeof v);
  return v;
}

static float sum_lanes(f32x4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* A block's scale (f16), its codes (0..15, as floats) and its squared error against the input. */
typedef struct q4_candidate {
  uint16_t scale_h;
  f32x4 codes[TTT_Q4_0_BLOCK / LANES];
  float error;
} q4_candidate;

/* clamp(round(x · inverse) + 8, 0, 15) for 4 values, rounding to nearest even by adding and
 * subtracting 1.5 · 2^23 (exact for |x · inverse| < 2^22; larger values keep their sign and are
 * clamped). */
static f32x4 codes_of(f32x4 x, float inverse) {
  const f32x4 magic = splat(12582912.0f), fifteen = splat(15.0f);
  f32x4 code = ((x * splat(inverse) + magic) - magic) + splat(8.0f);
  code = (f32x4)((i32x4)code & ~(code < splat(0.0f)));
  i32x4 over = code > fifteen;
  return (f32x4)(((i32x4)code & ~over) | ((i32x4)fifteen & over));
}

/* The nearest codes of the block for scale_h (through the inverse of the stored scale, so the
 * codes are those the dequantized scale needs), and the block's squared error. */
static void fill_candidate(const float *x, uint16_t scale_h, q4_candidate *c) {
  float scale = ttt_f16_to_f32(scale_h);
  float inverse = scale != 0.0f ? 1.0f / scale : 0.0f;
  f32x4 error = splat(0.0f);
  c->scale_h = scale_h;
  for (int v = 0; v < TTT_Q4_0_BLOCK / LANES; v++) {
    f32x4 xv = load4(x + v * LANES);
    c->codes[v] = codes_of(xv, inverse);
    f32x4 diff = xv - splat(scale) * (c->codes[v] - splat(8.0f));
    error += diff * diff;
  }
  c->error = sum_lanes(error);
}

/* The least-squares scale for the codes of scale m / divisor, rounded to f16; 0 if there is none
 * (all codes 8) or it is not a finite f16. */
static uint16_t refit_scale(const float *x, float scale) {
  float inverse = 1.0f / scale;
  f32x4 dot = splat(0.0f), norm = splat(0.0f);
  for (int v = 0; v < TTT_Q4_0_BLOCK / LANES; v++) {
    f32x4 xv = load4(x + v * LANES);
    f32x4 q = codes_of(xv, inverse) - splat(8.0f);
    dot += xv * q;
    norm += q * q; /* integers below 2^11: exact */
  }
  float den = sum_lanes(norm);
  if (den == 0.0f) return 0;
  uint16_t h = ttt_f32_to_f16(sum_lanes(dot) / den);
  return isfinite(ttt_f16_to_f32(h)) ? h : 0;
}

/* One block of finite values (|x| <= 8 · 65504): the absmax rule's scale m / −8, then for each
 * candidate divisor the scale m / divisor, its codes, the least-squares scale of those codes and
 * the nearest codes of that; the block keeps the first of smallest squared error, so it is never
 * worse than the absmax rule. */
static void quantize_block(const float *x, uint8_t *block) {
  float max = 0.0f;
  for (int i = 0; i < TTT_Q4_0_BLOCK; i++)
    if (fabsf(x[i]) > fabsf(max)) max = x[i];
  q4_candidate best, trial;
  fill_candidate(x, ttt_f32_to_f16(max / -8.0f), &best);
  for (size_t k = 0; max != 0.0f && k < sizeof candidate_divisors / sizeof *candidate_divisors;
       k++) {
    float scale = ttt_f16_to_f32(ttt_f32_to_f16(max / candidate_divisors[k]));
    if (!isfinite(scale) || scale == 0.0f) continue;
    uint16_t refit = refit_scale(x, scale);
    if (refit == 0) continue;
    fill_candidate(x, refit, &trial);
    if (trial.error < best.error) best = trial;
  }
  float codes[TTT_Q4_0_BLOCK];
  memcpy(codes, best.codes, sizeof codes);
  memcpy(block, &best.scale_h, 2);
  for (int i = 0; i < TTT_Q4_0_BLOCK / 2; i++)
    block[2 + i] = (uint8_t)((int)codes[i] | (int)codes[i + 16] << 4);
}

ttt_status ttt_quantize_q4_0(const float *src, int64_t n, void *dst) {
  if (!src || !dst || n <= 0 || n % TTT_Q4_0_BLOCK != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_quantize_q4_0: need non-NULL buffers and n a positive multiple of 32 "
                         "(got %lld)",
                         (long long)n);
  int64_t bad = ttt_first_non_finite(src, n);
  if (bad >= 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_quantize_q4_0: element %lld is %s; q4_0 holds finite values only",
                         (long long)bad, ttt_non_finite_name(src[bad]));
  /* The scale m / −8 must be a finite f16: |m| ≤ 8 · 65504. */
  for (int64_t i = 0; i < n; i++)
    if (fabsf(src[i]) > 8.0f * 65504.0f)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "ttt_quantize_q4_0: element %lld is %g; q4_0 holds |x| <= %g only",
                           (long long)i, (double)src[i], 8.0 * 65504.0);
  uint8_t *out = dst;
  for (int64_t b = 0; b < n / TTT_Q4_0_BLOCK; b++)
    quantize_block(src + b * TTT_Q4_0_BLOCK, out + b * TTT_Q4_0_BLOCK_BYTES);
  return TTT_OK;
}

float ttt_q4_0_value(const uint8_t *block, int i) {
  uint16_t scale_h;
  memcpy(&scale_h, block, 2);
  uint8_t byte = block[2 + i % 16];
  int code = i < 16 ? byte & 0x0f : byte >> 4;
  return ttt_f16_to_f32(scale_h) * (float)(code - 8);
}

ttt_status ttt_dequantize_q4_0(const void *src, int64_t n, float *dst) {
  if (!src || !dst || n <= 0 || n % TTT_Q4_0_BLOCK != 0)
    return ttt_set_error(
        TTT_ERR_INVALID_ARGUMENT,
        "ttt_dequantize_q4_0: need non-NULL buffers and n a positive multiple of 32 (got %lld)",
        (long long)n);
  const uint8_t *in = src;
  for (int64_t b = 0; b < n / TTT_Q4_0_BLOCK; b++)
    for (int i = 0; i < TTT_Q4_0_BLOCK; i++)
      dst[b * TTT_Q4_0_BLOCK + i] = ttt_q4_0_value(in + b * TTT_Q4_0_BLOCK_BYTES, i);
  return TTT_OK;
}
