/* MLP epilogue for AVX-512 (contract in kernels.h): SiLU, tanh-GELU and erf-GELU vectorized with
 * exp512_ps, ReLU by the portable loop. Tails use masked loads and stores. */
#include "kernels_simd_common.h"
#include "simd_math.h"

enum { LANES = 16 };

/* silu(g) = g / (1 + e^-g): e^-g overflows to inf for g < -89, giving -0 as the limit. */
INLINE __m512 silu(__m512 g) {
  return _mm512_div_ps(
      g, _mm512_add_ps(_mm512_set1_ps(1.0f), exp512_ps(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}

/* gelu_tanh(x) = x/2 · (1 + tanh(y)), y = √(2/π)·(x + 0.044715·x³), computed as x / (1 + e^-2y)
 * (1 + tanh y = 2 / (1 + e^-2y)): no cancellation where tanh y is near -1, exact limits. */
INLINE __m512 gelu_tanh(__m512 x) {
  __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  __m512 y = _mm512_mul_ps(_mm512_set1_ps(-1.59576912160573072f),
                           _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x)); /* -2y */
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp512_ps(y)));
}

/* gelu(x) = x/2 · (1 + erf(x/√2)) = x/2 · erfc(-x/√2), with erfc(z), z = |x|/√2 >= 0, from its
 * Chebyshev fit (ERFC_FIT in simd_math.h, relative error < 1.1e-7): erfc(-x/√2) is the fit itself
 * for x < 0 (no cancellation where the result is tiny) and 2 - the fit for x >= 0. */
INLINE __m512 gelu_erf(__m512 x) {
  __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
  __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                           _mm512_fmadd_ps(_mm512_set1_ps(0.5f), z, _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(erfc_fit[ERFC_FIT_TERMS - 1]);
#pragma GCC unroll 9
  for (int k = ERFC_FIT_TERMS - 2; k >= 0; k--)
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(erfc_fit[k]));
  __m512 q = _mm512_mul_ps(t, exp512_ps(_mm512_fnmadd_ps(z, z, p)));
  __mmask16 positive = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  __m512 one_plus_erf = _mm512_mask_sub_ps(q, positive, _mm512_set1_ps(2.0f), q);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus_erf);
}

INLINE __m512 activate(ttt_activation act, __m512 a) {
  return act == TTT_ACT_SILU ? silu(a) : act == TTT_ACT_GELU_TANH ? gelu_tanh(a) : gelu_erf(a);
}

INLINE void apply(ttt_activation act, const float *gate, float *x, int64_t n) {
  for (int64_t i = 0; i < n; i += LANES) {
    __mmask16 m = n - i >= LANES ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    __m512 f = activate(act, gate ? _mm512_maskz_loadu_ps(m, gate + i) : v);
    _mm512_mask_storeu_ps(x + i, m, gate ? _mm512_mul_ps(f, v) : f);
  }
}

void ttt_activation_avx512(ttt_activation act, const float *gate, float *x, int64_t n) {
  if (act == TTT_ACT_SILU)
    apply(TTT_ACT_SILU, gate, x, n);
  else if (act == TTT_ACT_GELU_TANH)
    apply(TTT_ACT_GELU_TANH, gate, x, n);
  else if (act == TTT_ACT_GELU)
    apply(TTT_ACT_GELU, gate, x, n);
  else
    ttt_activation_ref(act, gate, x, n);
}
