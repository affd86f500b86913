/* MLP epilogue for AVX-512 (contract in kernels.h): SiLU and tanh-GELU vectorized with exp512_ps,
 * other activations by the portable loop. Tails use masked loads and stores. */
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

INLINE void apply(bool is_silu, const float *gate, float *x, int64_t n) {
  for (int64_t i = 0; i < n; i += LANES) {
    __mmask16 m = n - i >= LANES ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    __m512 a = gate ? _mm512_maskz_loadu_ps(m, gate + i) : v;
    __m512 f = is_silu ? silu(a) : gelu_tanh(a);
    _mm512_mask_storeu_ps(x + i, m, gate ? _mm512_mul_ps(f, v) : f);
  }
}

void ttt_activation_avx512(ttt_activation act, const float *gate, float *x, int64_t n) {
  if (act == TTT_ACT_SILU)
    apply(true, gate, x, n);
  else if (act == TTT_ACT_GELU_TANH)
    apply(false, gate, x, n);
  else
    ttt_activation_ref(act, gate, x, n);
}
