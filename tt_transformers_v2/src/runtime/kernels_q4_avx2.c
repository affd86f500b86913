/*
 * q4_0 weights × q8_0 activations, AVX2 (compiled with -mavx2 -mfma -mf16c; selected only when the
 * device has those bits). A tile is RW weight rows × RX activation rows; per block, the 16 packed
 * bytes of a weight row unpack to 32 unsigned codes (low nibbles = values 0-15, high = 16-31, the
 * order of the activation block). vpmaddubsw multiplies the unsigned codes by the signed
 * activations (pairs ≤ 2·15·127, no saturation) and vpmaddwd sums to 8 int32 lanes; the code
 * offset is removed by subtracting the same sums taken with codes of 8, computed once per
 * activation block: Σ (c − 8)·x = Σ c·x − Σ 8·x. Activation rows are cut into panels that stay in
 * L2 while every weight tile passes over them.
 */
#include "kernels_simd_common.h"

enum { RW = 4, RX = 2 };

static float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

INLINE __m256i unpack_codes(const uint8_t *block) {
  const __m128i low4 = _mm_set1_epi8(0x0f);
  __m128i packed = _mm_loadu_si128((const void *)(block + 2));
  __m128i lo = _mm_and_si128(packed, low4);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low4);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

INLINE __m256i pair_sums(__m256i unsigned_bytes, __m256i signed_bytes) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(unsigned_bytes, signed_bytes),
                           _mm256_set1_epi16(1));
}

INLINE void q4_tile(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i, int rx) {
  int64_t blocks = p->k / TTT_Q4_0_BLOCK;
  size_t w_row = (size_t)blocks * TTT_Q4_0_BLOCK_BYTES,
         x_row = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const __m256i eights = _mm256_set1_epi8(8);
  const uint8_t *w[RW], *x[RX];
  __m256 acc[RW][RX];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * w_row;
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) acc[r][c] = _mm256_setzero_ps();
  }
#pragma GCC unroll 2
  for (int c = 0; c < rx; c++) x[c] = (const uint8_t *)p->xq + (size_t)(i + c) * x_row;
  for (int64_t b = 0; b < blocks; b++) {
    __m256i xq[RX], offset[RX];
    float xs[RX];
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) {
      const uint8_t *xb = x[c] + b * TTT_Q8_0_BLOCK_BYTES;
      xq[c] = _mm256_loadu_si256((const void *)(xb + 2));
      offset[c] = pair_sums(eights, xq[c]);
      xs[c] = f16_scalar(xb);
    }
#pragma GCC unroll 4
    for (int r = 0; r < rw; r++) {
      const uint8_t *wb = w[r] + b * TTT_Q4_0_BLOCK_BYTES;
      __m256i codes = unpack_codes(wb);
      float ws = f16_scalar(wb);
#pragma GCC unroll 2
      for (int c = 0; c < rx; c++) {
        __m256i dot = _mm256_sub_epi32(pair_sums(codes, xq[c]), offset[c]);
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(ws * xs[c]), acc[r][c]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    float bias = p->bias ? p->bias[j + r] : 0.0f;
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) p->y[(i + c) * p->ldy + j + r] = hsum(acc[r][c]) + bias;
  }
}

INLINE void q4_panel(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i0, int64_t i1) {
  int64_t i = i0;
  for (; i + RX <= i1; i += RX) q4_tile(p, j, rw, i, RX);
  if (i < i1) q4_tile(p, j, rw, i, 1);
}

void ttt_gemm_q4_0_q8_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  int64_t rows = panel_rows((p->k / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES, RX);
  for (int64_t i0 = 0; i0 < p->m; i0 += rows) {
    int64_t i1 = i0 + rows < p->m ? i0 + rows : p->m;
    int64_t j = n0;
    for (; j + RW <= n1; j += RW) q4_panel(p, j, RW, i0, i1);
    for (; j < n1; j++) q4_panel(p, j, 1, i0, i1);
  }
}
