/* MLP epilogue for AVX2 + FMA (contract in kernels.h; the AVX-512 file has the formulas): SiLU,
 * tanh-GELU and erf-GELU vectorized with exp256_ps, ReLU by the portable loop. */
#include "kernels_simd_common.h"
#include "simd_math.h"

enum { LANES = 8 };

INLINE __m256 silu(__m256 g) {
  return _mm256_div_ps(
      g, _mm256_add_ps(_mm256_set1_ps(1.0f), exp256_ps(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

INLINE __m256 gelu_tanh(__m256 x) {
  __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  __m256 y = _mm256_mul_ps(_mm256_set1_ps(-1.59576912160573072f),
                           _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x)); /* -2y */
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp256_ps(y)));
}

INLINE __m256 gelu_erf(__m256 x) {
  __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x),
                           _mm256_set1_ps(0.70710678118654752f));
  __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                           _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(erfc_fit[ERFC_FIT_TERMS - 1]);
#pragma GCC unroll 9
  for (int k = ERFC_FIT_TERMS - 2; k >= 0; k--)
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(erfc_fit[k]));
  __m256 q = _mm256_mul_ps(t, exp256_ps(_mm256_fnmadd_ps(z, z, p)));
  __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
  __m256 one_plus_erf = _mm256_blendv_ps(q, _mm256_sub_ps(_mm256_set1_ps(2.0f), q), positive);
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_erf);
}

INLINE __m256 activate(ttt_activation act, __m256 a) {
  return act == TTT_ACT_SILU ? silu(a) : act == TTT_ACT_GELU_TANH ? gelu_tanh(a) : gelu_erf(a);
}

/* Whole vectors in place; the last n % 8 values through a zero-padded copy. */
INLINE void apply(ttt_activation act, const float *gate, float *x, int64_t n) {
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    __m256 v = _mm256_loadu_ps(x + i), f = activate(act, gate ? _mm256_loadu_ps(gate + i) : v);
    _mm256_storeu_ps(x + i, gate ? _mm256_mul_ps(f, v) : f);
  }
  if (i == n) return;
  float xt[LANES] = {0}, gt[LANES] = {0};
  memcpy(xt, x + i, (size_t)(n - i) * sizeof(float));
  if (gate) memcpy(gt, gate + i, (size_t)(n - i) * sizeof(float));
  __m256 v = _mm256_loadu_ps(xt), f = activate(act, gate ? _mm256_loadu_ps(gt) : v);
  _mm256_storeu_ps(xt, gate ? _mm256_mul_ps(f, v) : f);
  memcpy(x + i, xt, (size_t)(n - i) * sizeof(float));
}

void ttt_activation_avx2(ttt_activation act, const float *gate, float *x, int64_t n) {
  if (act == TTT_ACT_SILU)
    apply(TTT_ACT_SILU, gate, x, n);
  else if (act == TTT_ACT_GELU_TANH)
    apply(TTT_ACT_GELU_TANH, gate, x, n);
  else if (act == TTT_ACT_GELU)
    apply(TTT_ACT_GELU, gate, x, n);
  else
    ttt_activation_ref(act, gate, x, n);
}
