/*
 * dtype conversions: bf16/f16 rounding (known values, ties to even, subnormals, inf/NaN, exhaustive
 * round trips, random values against an independent nearest-value search), q8_0 round-trip error
 * bounds, ttt_tensor_convert across dtypes, and ttt_tensor_check's error messages.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"

static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* ---- independent references ---- */

/* Every finite non-negative f16 value as a double, indexed by its bit pattern (0..0x7bff). */
static double f16_value(uint16_t h) {
  int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double v = exponent == 0 ? ldexp(mantissa, -24) : ldexp(1024 + mantissa, exponent - 25);
  return (h & 0x8000) ? -v : v;
}

/* Nearest f16 to v by searching the sorted positive values; ties to the even pattern; values at or
 * beyond 65520 (half-way to the next, unrepresentable, binade step 65536) become infinity. */
static uint16_t f16_nearest(double v) {
  uint16_t sign = v < 0 ? 0x8000 : 0;
  double a = fabs(v);
  if (a >= 65520.0) return sign | 0x7c00;
  uint16_t lo = 0, hi = 0x7bff;
  while (lo < hi) { /* largest pattern with value <= a */
    uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
    if (f16_value(mid) <= a)
      lo = mid;
    else
      hi = (uint16_t)(mid - 1);
  }
  if (lo == 0x7bff) return sign | lo;
  double below = a - f16_value(lo), above = f16_value((uint16_t)(lo + 1)) - a;
  uint16_t pick = below < above   ? lo
                  : above < below ? (uint16_t)(lo + 1)
                  : (lo & 1)      ? (uint16_t)(lo + 1)
                                  : lo;
  return sign | pick;
}

/* Nearest bf16 to a finite float: the two bf16 neighbours are the truncation and the next pattern.
 * Past the largest finite bf16 the next pattern is infinity, which IEEE rounding treats as 2^128
 * (the value it would have with an unbounded exponent). */
static uint16_t bf16_nearest(float f) {
  uint32_t u = to_bits(f);
  uint16_t truncated = (uint16_t)(u >> 16);
  uint16_t next = (uint16_t)(truncated + 1);
  double v = fabs((double)f);
  double lo = fabs((double)from_bits((uint32_t)truncated << 16));
  double hi =
      (next & 0x7fff) == 0x7f80 ? ldexp(1.0, 128) : fabs((double)from_bits((uint32_t)next << 16));
  if (v - lo < hi - v) return truncated;
  if (hi - v < v - lo) return (uint16_t)(truncated + 1);
  return (truncated & 1) ? (uint16_t)(truncated + 1) : truncated;
}

/* ---- bf16 ---- */

static void test_bf16_known_values(void) {
  CHECK(ttt_f32_to_bf16(1.0f) == 0x3f80);
  CHECK(ttt_f32_to_bf16(-2.5f) == 0xc020);
  CHECK(ttt_f32_to_bf16(0.0f) == 0x0000);
  CHECK(ttt_f32_to_bf16(-0.0f) == 0x8000);
  CHECK(ttt_f32_to_bf16(65504.0f) == 0x4780); /* 0x477fe000: upper half rounds up to 65536 */
  /* Ties: 0x3f808000 is half-way between 0x3f80 (even, kept) and 0x3f81; 0x3f818000 between 0x3f81
   * and 0x3f82 (even, chosen). */
  CHECK(ttt_f32_to_bf16(from_bits(0x3f808000u)) == 0x3f80);
  CHECK(ttt_f32_to_bf16(from_bits(0x3f818000u)) == 0x3f82);
  CHECK(ttt_f32_to_bf16(from_bits(0x3f808001u)) == 0x3f81); /* just above the tie */
  CHECK(ttt_f32_to_bf16(INFINITY) == 0x7f80);
  CHECK(ttt_f32_to_bf16(-INFINITY) == 0xff80);
  CHECK(ttt_f32_to_bf16(from_bits(0x7f7fffffu)) == 0x7f80); /* FLT_MAX rounds to infinity */
  CHECK(ttt_f32_to_bf16(from_bits(0x00012345u)) == 0x0001); /* subnormal */
  CHECK(ttt_f32_to_bf16(from_bits(0x00018000u)) == 0x0002); /* subnormal tie to even */
  uint16_t nan = ttt_f32_to_bf16(NAN);
  CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0);
  /* A NaN whose payload lies only in the low 16 bits must not become infinity. */
  CHECK(isnan(ttt_bf16_to_f32(ttt_f32_to_bf16(from_bits(0x7f800001u)))));
  CHECK(ttt_bf16_to_f32(0x3f80) == 1.0f);
  CHECK(ttt_bf16_to_f32(0xc020) == -2.5f);
  CHECK(ttt_bf16_to_f32(0x0001) == from_bits(0x00010000u));
}

static void test_bf16_exhaustive_round_trip(void) {
  int64_t bad = 0;
  for (uint32_t h = 0; h <= 0xffff; h++) {
    float f = ttt_bf16_to_f32((uint16_t)h);
    CHECK_MSG(to_bits(f) == h << 16, "bf16 0x%04x widened to 0x%08x", (unsigned)h,
              (unsigned)to_bits(f));
    uint16_t back = ttt_f32_to_bf16(f);
    bad += isnan(f) ? !isnan(ttt_bf16_to_f32(back)) : back != h;
  }
  CHECK_MSG(bad == 0, "%lld bf16 values do not round-trip", (long long)bad);
}

static void test_bf16_random_against_reference(void) {
  ttt_test_rng rng = ttt_test_rng_make(11);
  int64_t bad = 0;
  for (int i = 0; i < 200000; i++) {
    float f = from_bits((uint32_t)ttt_test_rng_next(&rng));
    if (!isfinite(f)) continue;
    uint16_t got = ttt_f32_to_bf16(f), want = bf16_nearest(f);
    if (got != want && bad++ < 3)
      CHECK_MSG(false, "bf16(0x%08x) = 0x%04x, expected 0x%04x", (unsigned)to_bits(f), got, want);
  }
  CHECK(bad == 0);
}

/* ---- f16 ---- */

static void test_f16_known_values(void) {
  CHECK(ttt_f32_to_f16(1.0f) == 0x3c00);
  CHECK(ttt_f32_to_f16(-2.5f) == 0xc100);
  CHECK(ttt_f32_to_f16(65504.0f) == 0x7bff); /* largest finite */
  CHECK(ttt_f32_to_f16(65519.0f) == 0x7bff); /* below the half-way point */
  CHECK(ttt_f32_to_f16(65520.0f) == 0x7c00); /* tie with the (odd) max: rounds to infinity */
  CHECK(ttt_f32_to_f16(1e6f) == 0x7c00);
  CHECK(ttt_f32_to_f16(-INFINITY) == 0xfc00);
  CHECK(ttt_f32_to_f16(0x1p-14f) == 0x0400);   /* smallest normal */
  CHECK(ttt_f32_to_f16(0x1p-24f) == 0x0001);   /* smallest subnormal */
  CHECK(ttt_f32_to_f16(0x1p-25f) == 0x0000);   /* tie between 0 and 2^-24: even (0) */
  CHECK(ttt_f32_to_f16(0x1.8p-24f) == 0x0002); /* tie between 1 and 2 (×2^-24): even (2) */
  CHECK(ttt_f32_to_f16(0x1.8p-25f) == 0x0001); /* 0.75 × 2^-24 rounds up */
  CHECK(ttt_f32_to_f16(-0x1p-26f) == 0x8000);
  /* Normal ties: 1 + 2^-11 is half-way between 0x3c00 (even) and 0x3c01; 1 + 3·2^-11 between
   * 0x3c01 and 0x3c02 (even). */
  CHECK(ttt_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);
  CHECK(ttt_f32_to_f16(1.0f + 0x3p-11f) == 0x3c02);
  CHECK(ttt_f32_to_f16(0x1.ffep-15f) == 0x0400); /* subnormal that rounds up to the first normal */
  uint16_t nan = ttt_f32_to_f16(NAN);
  CHECK((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0);
  CHECK(isnan(ttt_f16_to_f32(0x7e00)));
  CHECK(ttt_f16_to_f32(0x7c00) == INFINITY);
  CHECK(ttt_f16_to_f32(0x0001) == 0x1p-24f);
  CHECK(ttt_f16_to_f32(0xc100) == -2.5f);
}

static void test_f16_exhaustive_round_trip(void) {
  int64_t bad = 0;
  for (uint32_t h = 0; h <= 0xffff; h++) {
    float f = ttt_f16_to_f32((uint16_t)h);
    bool is_nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff) != 0;
    if (is_nan) {
      bad += !isnan(f) || !isnan(ttt_f16_to_f32(ttt_f32_to_f16(f)));
      continue;
    }
    bool is_inf = (h & 0x7fff) == 0x7c00;
    if (!is_inf) bad += (double)f != f16_value((uint16_t)h);
    bad += ttt_f32_to_f16(f) != h;
  }
  CHECK_MSG(bad == 0, "%lld f16 values do not round-trip", (long long)bad);
}

static void test_f16_random_against_reference(void) {
  ttt_test_rng rng = ttt_test_rng_make(12);
  int64_t bad = 0;
  for (int i = 0; i < 100000; i++) {
    /* Exponents around the f16 range (2^-28 .. 2^17) so subnormals and overflow are both hit. */
    uint32_t bits = (uint32_t)ttt_test_rng_next(&rng);
    uint32_t exponent = 99u + (uint32_t)(ttt_test_rng_next(&rng) % 46u);
    float f = from_bits((bits & 0x807fffffu) | (exponent << 23));
    uint16_t got = ttt_f32_to_f16(f), want = f16_nearest(f);
    if (got != want && bad++ < 3)
      CHECK_MSG(false, "f16(%a) = 0x%04x, expected 0x%04x", (double)f, got, want);
  }
  CHECK(bad == 0);
}

/* ---- q8_0 ---- */

/* Per element: |x - x̂| ≤ amax/254 (rounding to the int8 grid of step d = amax/127) plus
 * 127·|d - d16| (the stored scale is d rounded to f16), with a little slack for f32 arithmetic. */
static void check_q8_block(const float *x, const uint8_t *block, const float *back, int64_t *bad) {
  float amax = 0.0f;
  for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
  uint16_t h;
  memcpy(&h, block, 2);
  double d = (double)amax / 127.0, d16 = f16_value(h);
  /* The stored scale is the f16 nearest to d (within f32 rounding of amax/127). */
  *bad += fabs(d16 - d) > fabs(f16_value(f16_nearest(d)) - d) + 1e-6 * d;
  double bound = (double)amax / 254.0 + 127.0 * fabs(d - d16) + 1e-6 * (double)amax;
  for (int i = 0; i < 32; i++) {
    *bad += fabs((double)back[i] - (double)x[i]) > bound;
    *bad += (double)back[i] != d16 * (double)(int8_t)block[2 + i]; /* dequantization is exact */
  }
}

static void test_q8_0_round_trip_bounds(void) {
  enum { N = 32 * 64 };
  float x[N], back[N];
  uint8_t q[N / 32 * 34];
  ttt_test_rng rng = ttt_test_rng_make(13);
  for (int b = 0; b < N / 32; b++) {
    /* Block magnitudes from 1e-9 (scale underflows f16) to 1e4. */
    float magnitude = powf(10.0f, ttt_test_rng_uniform(&rng, -9.0f, 4.0f));
    for (int i = 0; i < 32; i++)
      x[b * 32 + i] = magnitude * ttt_test_rng_uniform(&rng, -1.0f, 1.0f);
  }
  for (int i = 0; i < 32; i++) x[5 * 32 + i] = 0.0f; /* an all-zero block */
  CHECK_OK(ttt_quantize_q8_0(x, N, q));
  CHECK_OK(ttt_dequantize_q8_0(q, N, back));
  int64_t bad = 0;
  for (int b = 0; b < N / 32; b++) check_q8_block(x + b * 32, q + b * 34, back + b * 32, &bad);
  CHECK_MSG(bad == 0, "%lld q8_0 values outside the bound", (long long)bad);
  for (int i = 0; i < 32; i++) CHECK(back[5 * 32 + i] == 0.0f);
  /* The largest magnitude of a block maps to ±127. */
  float ramp[32];
  for (int i = 0; i < 32; i++) ramp[i] = (float)(i - 16) * 0.25f;
  CHECK_OK(ttt_quantize_q8_0(ramp, 32, q));
  CHECK((int8_t)q[2] == -127);
  CHECK((int8_t)q[2 + 16] == 0);
  CHECK_ERR(ttt_quantize_q8_0(x, 33, q), TTT_ERR_INVALID_ARGUMENT, "multiple of 32");
  CHECK_ERR(ttt_dequantize_q8_0(NULL, 32, back), TTT_ERR_INVALID_ARGUMENT, "ttt_dequantize_q8_0");
}

/* ---- q4_0 ---- */

/* Value of code c (0..15) of a block with f16 scale h, decoded here from the documented layout. */
static double q4_decode(const uint8_t *block, int i) {
  uint16_t h;
  memcpy(&h, block, 2);
  int code = i < 16 ? block[2 + i] & 15 : block[2 + i - 16] >> 4;
  return f16_value(h) * (double)(code - 8);
}

/* The byte layout on a block whose codes are known: x = 2·((i mod 16) − 8), so the largest
 * magnitude is −16 (i = 0 and 16), d = −16 / −8 = 2 and code(i) = i mod 16. */
static void test_q4_0_layout(void) {
  float x[32];
  for (int i = 0; i < 32; i++) x[i] = 2.0f * (float)((i % 16) - 8);
  uint8_t q[18];
  CHECK_OK(ttt_quantize_q4_0(x, 32, q));
  CHECK(q[0] == 0x00 && q[1] == 0x40); /* f16 2.0, little-endian */
  int64_t bad = 0;
  for (int i = 0; i < 16; i++) bad += q[2 + i] != (uint8_t)(i | i << 4);
  CHECK_MSG(bad == 0, "%lld code bytes differ from the documented layout", (long long)bad);
  /* A positive extreme gives a negative scale (it maps to code 0). */
  float y[32] = {0};
  y[7] = 4.0f;
  y[8] = -1.0f;
  CHECK_OK(ttt_quantize_q4_0(y, 32, q));
  CHECK(q[0] == 0x00 && q[1] == 0xb8); /* f16 -0.5 */
  CHECK((q[2 + 7] & 15) == 0 && (q[2 + 8] & 15) == 10 && (q[2 + 0] & 15) == 8);
}

/* Squared error of block x against the grid of f16 scale h with every value at its nearest code
 * (float64), and the least-squares scale of those codes (0 if all are 8). */
static double q4_grid_error(const float *x, uint16_t h, double *refit) {
  double d = f16_value(h), error = 0.0, dot = 0.0, norm = 0.0;
  for (int i = 0; i < 32; i++) {
    double code = d != 0.0 ? nearbyint((double)x[i] / d) : 0.0;
    code = code < -8.0 ? -8.0 : code > 7.0 ? 7.0 : code;
    error += ((double)x[i] - d * code) * ((double)x[i] - d * code);
    dot += (double)x[i] * code;
    norm += code * code;
  }
  if (refit) *refit = norm > 0.0 ? dot / norm : 0.0;
  return error;
}

/* The documented search (ttt/core.h), in float64: the smallest squared error over the absmax scale
 * m / −8 and, for each divisor p, the least-squares scale of the codes of m / p. Also returns the
 * absmax rule's error alone. */
static double q4_search_error(const float *x, double *absmax_error) {
  float m = 0.0f;
  for (int i = 0; i < 32; i++)
    if (fabsf(x[i]) > fabsf(m)) m = x[i];
  double best = q4_grid_error(x, f16_nearest((double)m / -8.0), NULL);
  *absmax_error = best;
  for (int k = 0; m != 0.0f && k < 9; k++) {
    double refit;
    q4_grid_error(x, f16_nearest((double)m / (-8.5 + 0.25 * k)), &refit);
    if (refit == 0.0 || !isfinite(f16_value(f16_nearest(refit)))) continue;
    best = fmin(best, q4_grid_error(x, f16_nearest(refit), NULL));
  }
  return best;
}

/* Every dequantized value is the nearest point of its block's grid d16·{−8..7} (ties either way);
 * each block's squared error is the smallest of the documented candidates (within float
 * rounding), so never above the absmax rule's; ttt_dequantize_q4_0 / ttt_tensor_get agree with the
 * layout decoded here. Blocks span magnitudes 1e-9 (scales that underflow f16) to 1e4, and one
 * reaches the largest magnitude q4_0 holds. */
static void test_q4_0_round_trip(void) {
  enum { N = 32 * 64 };
  float x[N], back[N];
  uint8_t q[N / 32 * 18];
  ttt_test_rng rng = ttt_test_rng_make(21);
  for (int b = 0; b < N / 32; b++) {
    float magnitude = powf(10.0f, ttt_test_rng_uniform(&rng, -9.0f, 4.0f));
    for (int i = 0; i < 32; i++)
      x[b * 32 + i] = magnitude * ttt_test_rng_uniform(&rng, -1.0f, 1.0f);
  }
  for (int i = 0; i < 32; i++) x[5 * 32 + i] = 0.0f;
  /* At the range's edge (|x| <= 8 · 65504) the clipping candidates' scales overflow f16. */
  for (int i = 0; i < 32; i++) x[6 * 32 + i] = 5.2e5f * ttt_test_rng_uniform(&rng, -1.0f, 1.0f);
  x[6 * 32 + 9] = -8.0f * 65504.0f;
  CHECK_OK(ttt_quantize_q4_0(x, N, q));
  CHECK_OK(ttt_dequantize_q4_0(q, N, back));
  ttt_tensor t = ttt_tensor_2d(TTT_Q4_0, q, 2, N / 2);
  int64_t off_grid = 0, above_search = 0, disagree = 0;
  for (int b = 0; b < N / 32; b++) {
    const uint8_t *block = q + b * 18;
    const float *xb = x + b * 32;
    uint16_t h;
    memcpy(&h, block, 2);
    double d16 = f16_value(h), error = 0.0, absmax_error;
    for (int i = 0; i < 32; i++) {
      double best = INFINITY;
      for (int c = 0; c < 16; c++) best = fmin(best, fabs((double)xb[i] - d16 * (c - 8)));
      double got = q4_decode(block, i);
      off_grid += fabs((double)xb[i] - got) > best + 1e-6 * fabs(d16);
      disagree += (double)back[b * 32 + i] != got || ttt_tensor_get(&t, b * 32 + i) != got;
      error += ((double)xb[i] - got) * ((double)xb[i] - got);
    }
    double search = q4_search_error(xb, &absmax_error);
    double slack = 1e-5 * search + 1e-12 * absmax_error + 1e-300;
    above_search += error > search + slack || error > absmax_error + slack;
  }
  CHECK_MSG(off_grid == 0, "%lld q4_0 values off the nearest grid point", (long long)off_grid);
  CHECK_MSG(above_search == 0, "%lld q4_0 blocks above the search's smallest error",
            (long long)above_search);
  CHECK_MSG(disagree == 0, "%lld dequantized q4_0 values differ from the layout",
            (long long)disagree);
  for (int i = 0; i < 32; i++) CHECK(back[5 * 32 + i] == 0.0f);
  CHECK_ERR(ttt_quantize_q4_0(x, 48, q), TTT_ERR_INVALID_ARGUMENT, "multiple of 32");
  CHECK_ERR(ttt_dequantize_q4_0(NULL, 32, back), TTT_ERR_INVALID_ARGUMENT, "ttt_dequantize_q4_0");
}

/* The search pays on weight-like blocks: over 4096 blocks of normal values the mean squared error
 * is 11% below the absmax rule's (measured 0.887; gated at 0.92). */
static void test_q4_0_search_beats_absmax(void) {
  enum { BLOCKS = 4096 };
  ttt_test_rng rng = ttt_test_rng_make(22);
  double error = 0.0, absmax = 0.0;
  for (int b = 0; b < BLOCKS; b++) {
    float x[32], back[32];
    uint8_t q[18];
    for (int i = 0; i < 32; i++) x[i] = ttt_test_rng_normal(&rng) * 0.02f;
    CHECK_OK(ttt_quantize_q4_0(x, 32, q));
    CHECK_OK(ttt_dequantize_q4_0(q, 32, back));
    double absmax_error;
    q4_search_error(x, &absmax_error);
    absmax += absmax_error;
    for (int i = 0; i < 32; i++) error += ((double)x[i] - back[i]) * ((double)x[i] - back[i]);
  }
  printf("  q4_0 mean squared error over normal blocks: %.4f of the absmax rule's\n",
         error / absmax);
  CHECK_MSG(error < 0.92 * absmax, "search error %.4g, absmax rule %.4g", error, absmax);
}

/* Non-finite weights are refused with the element named, never cast to a code. */
static void test_q4_0_non_finite(void) {
  float x[64] = {0};
  uint8_t q[36];
  x[37] = NAN;
  CHECK_ERR(ttt_quantize_q4_0(x, 64, q), TTT_ERR_INVALID_ARGUMENT, "element 37 is NaN");
  x[37] = -INFINITY;
  CHECK_ERR(ttt_quantize_q4_0(x, 64, q), TTT_ERR_INVALID_ARGUMENT, "element 37 is -Inf");
  x[37] = 0.0f;
  x[32 + 3] = INFINITY; /* row 1, column 3 of a [2, 32] tensor */
  ttt_tensor src = ttt_tensor_2d(TTT_F32, x, 2, 32), out;
  CHECK_ERR(ttt_tensor_convert(&src, TTT_Q4_0, &out), TTT_ERR_INVALID_ARGUMENT,
            "element 35 (row 1, column 3) is +Inf");
  CHECK(out.data == NULL);
  /* Beyond 8 · 65504 the f16 scale would be infinite: refused, naming the element. */
  x[35] = 0.0f;
  x[40] = -6e5f;
  CHECK_ERR(ttt_quantize_q4_0(x, 64, q), TTT_ERR_OUT_OF_RANGE, "element 40");
  x[40] = -5.2e5f; /* just inside: the scale is finite and the value comes back within a step */
  float back[64];
  CHECK_OK(ttt_quantize_q4_0(x, 64, q));
  CHECK_OK(ttt_dequantize_q4_0(q, 64, back));
  CHECK(fabsf(back[40] - x[40]) <= 5.2e5f / 8.0f * 0.01f);
}

/* Non-finite values are refused by name and index (issue 19: NaN reached a float -> int8 cast,
 * which is undefined); converting them to the float dtypes that can hold them stays allowed. */
static void test_q8_0_refuses_non_finite(void) {
  float x[64] = {0}, back[64];
  uint8_t q[2 * 34];
  x[40] = NAN;
  CHECK_ERR(ttt_quantize_q8_0(x, 64, q), TTT_ERR_INVALID_ARGUMENT, "element 40 is NaN");
  x[40] = 0.0f;
  x[3] = INFINITY;
  CHECK_ERR(ttt_quantize_q8_0(x, 64, q), TTT_ERR_INVALID_ARGUMENT, "element 3 is +Inf");
  x[3] = 0.0f;
  CHECK_OK(ttt_quantize_q8_0(x, 64, q));
  CHECK_OK(ttt_dequantize_q8_0(q, 64, back));
  ttt_tensor src = ttt_tensor_2d(TTT_F32, x, 2, 32), out;
  x[32 + 5] = -INFINITY;
  CHECK_ERR(ttt_tensor_convert(&src, TTT_Q8_0, &out), TTT_ERR_INVALID_ARGUMENT,
            "ttt_tensor_convert to q8_0: element 37 (row 1, column 5) is -Inf");
  CHECK(out.data == NULL);
  x[32 + 5] = NAN;
  CHECK_OK(ttt_tensor_convert(&src, TTT_BF16, &out));
  CHECK(isnan(ttt_tensor_get(&out, 37)));
  ttt_tensor_free(&out);
}

/* ---- tensors ---- */

/* Conversions of 2^20 values or more split their rows over threads (tensor.c): the bytes equal
 * row-by-row quantization, the grouped layout holds the same values, and the first bad row is the
 * one named even when a later range also fails. */
static void test_tensor_convert_split(void) {
  enum { ROWS = 1040, COLS = 1024 }; /* 1,064,960 values: 65 groups of 16 rows */
  float *values = malloc(sizeof *values * ROWS * COLS);
  uint8_t *expected = malloc((size_t)ROWS * COLS / 32 * 34);
  ttt_test_rng rng = ttt_test_rng_make(23);
  ttt_test_fill_uniform(&rng, values, ROWS * COLS, -2.0f, 2.0f);
  ttt_tensor src = ttt_tensor_2d(TTT_F32, values, ROWS, COLS);
  const ttt_dtype row_major[] = {TTT_Q8_0, TTT_Q4_0};
  for (size_t d = 0; d < 2; d++) {
    size_t row_bytes = ttt_dtype_bytes(row_major[d], COLS, COLS);
    for (int r = 0; r < ROWS; r++)
      CHECK_OK(row_major[d] == TTT_Q8_0
                   ? ttt_quantize_q8_0(values + r * COLS, COLS, expected + r * row_bytes)
                   : ttt_quantize_q4_0(values + r * COLS, COLS, expected + r * row_bytes));
    ttt_tensor t, grouped;
    CHECK_OK(ttt_tensor_convert(&src, row_major[d], &t));
    CHECK_MSG(memcmp(t.data, expected, row_bytes * ROWS) == 0, "%s bytes differ from row by row",
              ttt_dtype_name(row_major[d]));
    ttt_dtype g = row_major[d] == TTT_Q8_0 ? TTT_Q8_0_G16 : TTT_Q4_0_G16;
    CHECK_OK(ttt_tensor_convert(&src, g, &grouped));
    int64_t bad = 0;
    for (int64_t i = 0; i < (int64_t)ROWS * COLS; i += 7)
      bad += ttt_tensor_get(&grouped, i) != ttt_tensor_get(&t, i);
    CHECK_MSG(bad == 0, "%lld %s values differ from %s", (long long)bad, ttt_dtype_name(g),
              ttt_dtype_name(row_major[d]));
    ttt_tensor_free(&grouped);
    ttt_tensor_free(&t);
  }
  ttt_tensor out;
  values[1000 * COLS + 5] = NAN; /* in the last range on any split */
  CHECK_ERR(ttt_tensor_convert(&src, TTT_Q4_0, &out), TTT_ERR_INVALID_ARGUMENT,
            "(row 1000, column 5) is NaN");
  CHECK(out.data == NULL);
  values[3 * COLS + 9] = INFINITY;
  CHECK_ERR(ttt_tensor_convert(&src, TTT_Q8_0_G16, &out), TTT_ERR_INVALID_ARGUMENT,
            "(row 3, column 9) is +Inf");
  free(expected);
  free(values);
}

static void test_tensor_convert(void) {
  enum { ROWS = 3, COLS = 64 };
  float values[ROWS * COLS];
  ttt_test_rng rng = ttt_test_rng_make(14);
  ttt_test_fill_uniform(&rng, values, ROWS * COLS, -3.0f, 3.0f);
  values[0] = 1.0f;
  values[1] = -2.5f;
  ttt_tensor src = ttt_tensor_2d(TTT_F32, values, ROWS, COLS);
  const ttt_dtype targets[] = {TTT_F32, TTT_F16, TTT_BF16, TTT_Q8_0, TTT_F64, TTT_Q4_0};
  for (size_t d = 0; d < sizeof targets / sizeof targets[0]; d++) {
    ttt_tensor t, back;
    CHECK_OK(ttt_tensor_convert(&src, targets[d], &t));
    CHECK(t.dtype == targets[d] && t.ndim == 2 && t.shape[0] == ROWS && t.shape[1] == COLS);
    CHECK(((uintptr_t)t.data % 64) == 0);
    CHECK_OK(ttt_tensor_convert(&t, TTT_F32, &back));
    int64_t bad = 0;
    for (int i = 0; i < ROWS * COLS; i++) {
      double got = ((float *)back.data)[i];
      double v = values[i];
      switch (targets[d]) {
      case TTT_F16:
        bad += got != f16_value(f16_nearest(v));
        break;
      case TTT_BF16:
        bad += to_bits((float)got) != (uint32_t)bf16_nearest(values[i]) << 16;
        break;
      case TTT_Q8_0:
        bad += fabs(got - v) > 3.0 / 254.0 + 3.0 / 2048.0; /* block amax ≤ 3, f16 scale error */
        bad += got != ttt_tensor_get(&t, i);
        break;
      case TTT_Q4_0:
        bad += fabs(got - v) > 3.0 / 8.0 + 3.0 / 1024.0; /* one grid step (d ≤ 3/8) + f16 error */
        bad += got != ttt_tensor_get(&t, i);
        break;
      default: /* f32, f64: exact */
        bad += got != v;
      }
    }
    CHECK_MSG(bad == 0, "convert to %s: %lld wrong values", ttt_dtype_name(targets[d]),
              (long long)bad);
    ttt_tensor_free(&t);
    ttt_tensor_free(&back);
  }
  int32_t ids[4] = {1, -2, 3, 40000};
  ttt_tensor ti = ttt_tensor_1d(TTT_I32, ids, 4), out;
  CHECK_ERR(ttt_tensor_convert(&ti, TTT_F32, &out), TTT_ERR_DTYPE, "cannot convert i32 to f32");
  CHECK_ERR(ttt_tensor_convert(&src, TTT_I64, &out), TTT_ERR_DTYPE, "cannot convert f32 to i64");
  CHECK_OK(ttt_tensor_convert(&ti, TTT_I32, &out));
  CHECK(memcmp(out.data, ids, sizeof ids) == 0);
  ttt_tensor_free(&out);
  ttt_tensor odd = ttt_tensor_2d(TTT_F32, values, 3, 33);
  CHECK_ERR(ttt_tensor_convert(&odd, TTT_Q8_0, &out), TTT_ERR_SHAPE, "q8_0");
  ttt_tensor_free(NULL);
}

static void test_tensor_check_errors(void) {
  float data[64];
  ttt_tensor t = ttt_tensor_2d(TTT_F32, data, 2, 32);
  CHECK_OK(ttt_tensor_check(&t, "ok"));
  CHECK_ERR(ttt_tensor_check(NULL, "attention.wq"), TTT_ERR_INVALID_ARGUMENT, "attention.wq: NULL");
  ttt_tensor bad = t;
  bad.dtype = TTT_DTYPE_DEFAULT;
  CHECK_ERR(ttt_tensor_check(&bad, "ffn.w1"), TTT_ERR_DTYPE, "ffn.w1: dtype is not set");
  bad = t;
  bad.ndim = 5;
  CHECK_ERR(ttt_tensor_check(&bad, "x"), TTT_ERR_SHAPE, "ndim 5");
  bad.ndim = 0;
  CHECK_ERR(ttt_tensor_check(&bad, "x"), TTT_ERR_SHAPE, "ndim 0");
  bad = t;
  bad.shape[1] = 0;
  CHECK_ERR(ttt_tensor_check(&bad, "x"), TTT_ERR_SHAPE, "every dim must be >= 1");
  bad = ttt_tensor_2d(TTT_Q8_0, data, 2, 33);
  CHECK_ERR(ttt_tensor_check(&bad, "lm_head"), TTT_ERR_SHAPE, "multiple of 32, got 33");
  bad = t;
  bad.data = NULL;
  CHECK_ERR(ttt_tensor_check(&bad, "norm.weight"), TTT_ERR_INVALID_ARGUMENT,
            "norm.weight: data is NULL");
  CHECK(ttt_tensor_nbytes(&t) == 256);
  CHECK(ttt_dtype_bytes(TTT_Q8_0, 64, 32) == 68);
  CHECK(ttt_dtype_bytes(TTT_Q8_0, 64, 33) == 0);
  CHECK(ttt_dtype_bytes(TTT_Q4_0, 64, 32) == 36);
  CHECK(ttt_dtype_bytes(TTT_Q4_0, 48, 48) == 0);
  bad = ttt_tensor_2d(TTT_Q4_0, data, 2, 40);
  CHECK_ERR(ttt_tensor_check(&bad, "ffn.down"), TTT_ERR_SHAPE, "q4_0 needs a last dim");
  CHECK(ttt_dtype_bytes(TTT_BF16, 10, 10) == 20);
}

/* ---- grouped block dtypes (layout in ttt/core.h) ---- */

/* The grouped dtypes hold the very blocks of q8_0 / q4_0: converting from f32 gives the same values
 * as the row-major dtype, converting from / back to the row-major dtype is byte-exact, sizes are
 * whole 64-byte-padded groups of 16 rows, and the layout is the documented one (checked here at a
 * few addresses decoded by hand). */
static void test_grouped_dtypes(void) {
  enum { N = 21, K = 96 }; /* a full group and a 5-row one; 3 blocks per row */
  float *x = malloc(sizeof *x * N * K);
  ttt_test_rng rng = ttt_test_rng_make(11);
  ttt_test_fill_uniform(&rng, x, N * K, -2.0f, 2.0f);
  ttt_tensor master = ttt_tensor_2d(TTT_F32, x, N, K);
  static const ttt_dtype pairs[2][2] = {{TTT_Q8_0, TTT_Q8_0_G16}, {TTT_Q4_0, TTT_Q4_0_G16}};
  for (int c = 0; c < 2; c++) {
    ttt_tensor rows, grouped, direct, back;
    CHECK_OK(ttt_tensor_convert(&master, pairs[c][0], &rows));
    CHECK_OK(ttt_tensor_convert(&rows, pairs[c][1], &grouped));
    CHECK_OK(ttt_tensor_convert(&master, pairs[c][1], &direct));
    CHECK_OK(ttt_tensor_convert(&grouped, pairs[c][0], &back));
    size_t block_group = c == 0 ? 544 : 288; /* 16 rows × 34 or 18 bytes */
    size_t group = (3 * block_group + 63) / 64 * 64;
    CHECK(ttt_tensor_nbytes(&grouped) == 2 * group);
    CHECK(memcmp(back.data, rows.data, ttt_tensor_nbytes(&rows)) == 0);
    CHECK(memcmp(direct.data, grouped.data, ttt_tensor_nbytes(&grouped)) == 0);
    int64_t differ = 0;
    for (int64_t i = 0; i < N * K; i++)
      differ += ttt_tensor_get(&grouped, i) != ttt_tensor_get(&rows, i);
    CHECK_MSG(differ == 0, "%s: %lld values differ from %s", ttt_dtype_name(pairs[c][1]),
              (long long)differ, ttt_dtype_name(pairs[c][0]));
    ttt_tensor floats_grouped, floats_rows; /* whole rows dequantized, as MLA reads them */
    CHECK_OK(ttt_tensor_convert(&grouped, TTT_F32, &floats_grouped));
    CHECK_OK(ttt_tensor_convert(&rows, TTT_F32, &floats_rows));
    CHECK(memcmp(floats_grouped.data, floats_rows.data, sizeof(float) * N * K) == 0);
    ttt_tensor_free(&floats_grouped);
    ttt_tensor_free(&floats_rows);
    /* Row 17 (group 1, lane 1), block 2: its scale, and its first code byte. */
    const uint8_t *g1 = (const uint8_t *)grouped.data + group;
    const uint8_t *row_block = (const uint8_t *)rows.data + (17 * 3 + 2) * (c == 0 ? 34 : 18);
    size_t code_bytes = c == 0 ? 512 : 256;
    CHECK(memcmp(g1 + 3 * code_bytes + 2 * 32 + 2 * 1, row_block, 2) == 0);
    uint8_t first = g1[2 * code_bytes + 4 * 1];
    CHECK(first == (c == 0 ? (uint8_t)(row_block[2] ^ 0x80) : row_block[2]));
    /* The padding rows 21..31 are zero blocks: scale 0 (their codes do not matter). */
    for (int lane = N - 16; lane < 16; lane++)
      CHECK(g1[3 * code_bytes + 2 * 32 + 2 * lane] == 0 && g1[3 * code_bytes + 2 * lane + 1] == 0);
    ttt_tensor_free(&rows);
    ttt_tensor_free(&grouped);
    ttt_tensor_free(&direct);
    ttt_tensor_free(&back);
  }
  /* 2-D only; whole blocks only; non-finite values are named. */
  uint8_t data[4096] = {0};
  ttt_tensor three = ttt_tensor_3d(TTT_Q8_0_G16, data, 2, 2, 32);
  CHECK_ERR(ttt_tensor_check(&three, "experts"), TTT_ERR_SHAPE, "q8_0_g16 holds 2-D weights only");
  ttt_tensor ragged = ttt_tensor_2d(TTT_Q4_0_G16, data, 2, 40);
  CHECK_ERR(ttt_tensor_check(&ragged, "wq"), TTT_ERR_SHAPE, "q4_0_g16 needs a last dim");
  x[5] = NAN;
  ttt_tensor out;
  CHECK_ERR(ttt_tensor_convert(&master, TTT_Q8_0_G16, &out), TTT_ERR_INVALID_ARGUMENT,
            "element 5 (row 0, column 5) is NaN");
  free(x);
}

static void test_dtype_names(void) {
  for (int d = 1; d < TTT_DTYPE_COUNT; d++) {
    ttt_dtype parsed;
    CHECK_OK(ttt_dtype_parse(ttt_dtype_name((ttt_dtype)d), &parsed));
    CHECK(parsed == (ttt_dtype)d);
  }
  ttt_dtype parsed;
  CHECK_OK(ttt_dtype_parse("bfloat16", &parsed));
  CHECK(parsed == TTT_BF16);
  CHECK_ERR(ttt_dtype_parse("f8", &parsed), TTT_ERR_INVALID_ARGUMENT, "unknown dtype 'f8'");
}

int main(void) {
  TTT_RUN(test_bf16_known_values);
  TTT_RUN(test_bf16_exhaustive_round_trip);
  TTT_RUN(test_bf16_random_against_reference);
  TTT_RUN(test_f16_known_values);
  TTT_RUN(test_f16_exhaustive_round_trip);
  TTT_RUN(test_f16_random_against_reference);
  TTT_RUN(test_q8_0_round_trip_bounds);
  TTT_RUN(test_q4_0_layout);
  TTT_RUN(test_q4_0_round_trip);
  TTT_RUN(test_q4_0_search_beats_absmax);
  TTT_RUN(test_q4_0_non_finite);
  TTT_RUN(test_q8_0_refuses_non_finite);
  TTT_RUN(test_tensor_convert);
  TTT_RUN(test_tensor_convert_split);
  TTT_RUN(test_tensor_check_errors);
  TTT_RUN(test_grouped_dtypes);
  TTT_RUN(test_dtype_names);
  return ttt_test_finish();
}
