/*
 * simd_math.h — helpers shared by the SIMD kernel files (include only from files compiled with the
 * ISA: the 512-bit ones need AVX-512F, the 256-bit ones AVX2 + FMA).
 *
 * transpose16_ps: an in-register 16 × 16 f32 transpose (r[i] lane j ↔ r[j] lane i).
 *
 * exp512_ps / exp256_ps: lane-wise e^x.
 * Cody-Waite range reduction x = n·ln2 + r with r in [-ln2/2, ln2/2] (ln2 split so that n·ln2_hi
 * is exact), the degree-7 Taylor polynomial of e^r (truncation < 6e-9 relative, below f32
 * rounding), then the 2^n factor. Inputs are clamped to [-150, 89]: e^-150 is 0 in f32 and e^89
 * overflows, so -inf gives 0 and +inf gives inf; NaN stays NaN (vmaxps/vminps return their second
 * operand when either is NaN). Measured against libm's double exp to 4e-7 relative over the normal
 * range (test_attention_kernels, test_activation_kernels).
 *
 * erfc_fit: coefficients of the Chebyshev fit erfc(z) ≈ t·e^(-z² + P(t)), t = 1 / (1 + z/2),
 * P(t) = Σ erfc_fit[k]·t^k, for z >= 0 (Press et al., Numerical Recipes, "erfcc"): relative error
 * below 1.1e-7 for every z >= 0 (checked in double against erfc at 2e5 points in [0, 14]). Used by
 * the erf-GELU kernels.
 */
#ifndef TTT_SIMD_MATH_H
#define TTT_SIMD_MATH_H

#include <immintrin.h>

enum { ERFC_FIT_TERMS = 10 };
static const float erfc_fit[ERFC_FIT_TERMS] = {-1.26551223f, 1.00002368f, 0.37409196f,  0.09678418f,
                                               -0.18628806f, 0.27886807f, -1.13520398f, 1.48851587f,
                                               -0.82215223f, 0.17087277f};

#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693145751953125f
#define EXP_LN2_LO 1.428606820309417232e-6f

#if defined(__AVX512F__)
/* In-place transpose of a 16 × 16 block of f32 held in 16 registers. */
static inline __attribute__((always_inline)) void transpose16_ps(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  /* Now r[4i + q] holds, per 128-bit lane L, column 4L + q... of rows 4i..4i+3: combine lanes. */
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
    t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xdd);
    t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xdd);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
    r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xdd);
  }
}

/* 2^n by vscalefps, which also rounds subnormal results correctly. */
static inline __m512 exp512_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-150.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
/* 2^n for integer n in [-126, 127], built in the exponent field. */
static inline __m256 exp256_pow2(__m256i n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}

/* 2^n as two exact power-of-two factors (each normal for n in [-217, 129]), so results that are
 * subnormal, 0 or inf come out of the last multiply correctly rounded. */
static inline __m256 exp256_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-150.0f), x);
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i half = _mm256_srai_epi32(ni, 1); /* floor(n / 2) */
  return _mm256_mul_ps(_mm256_mul_ps(p, exp256_pow2(half)),
                       exp256_pow2(_mm256_sub_epi32(ni, half)));
}
#endif

#endif
