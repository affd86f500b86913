/*
 * Attention tile kernels for AVX2 + FMA (contracts in kernels.h); the AVX-512 file explains the
 * scheme. With 16 ymm registers the blocks are 2 query rows × 4 keys (scores) and 2 rows × 32 head
 * dims (accumulate). AVX2 has no masked 16-bit loads, so head dims past the last multiple of 8 are
 * done by scalar tails. exp: simd_math.h.
 */
#include <math.h>
#include <string.h>

#include "kernels_simd_common.h"
#include "simd_math.h"

enum { LANES = 8, ROWS = 2, KEYS = 4, DIM_VECS = 4 };

static float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

INLINE __m256 load_row(const void *row, bool bf16, int64_t d) {
  if (bf16) {
    __m128i h = _mm_loadu_si128((const void *)((const uint16_t *)row + d));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  return _mm256_loadu_ps((const float *)row + d);
}

/* One value of a row, for the scalar tails. */
INLINE float row_value(const void *row, bool bf16, int64_t d) {
  if (!bf16) return ((const float *)row)[d];
  return ttt_bf16_to_f32(((const uint16_t *)row)[d]);
}

INLINE void score_block(const float *q, int64_t ldq, const void *const *k, bool bf16, int64_t hd,
                        float scale, float *s, int64_t lds, int rb, int kb) {
  __m256 acc[ROWS][KEYS];
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < kb; c++) acc[r][c] = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + LANES <= hd; d += LANES) {
    __m256 kv[KEYS];
#pragma GCC unroll 4
    for (int c = 0; c < kb; c++) kv[c] = load_row(k[c], bf16, d);
#pragma GCC unroll 4
    for (int r = 0; r < rb; r++) {
      __m256 qv = _mm256_loadu_ps(q + r * ldq + d);
#pragma GCC unroll 4
      for (int c = 0; c < kb; c++) acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < kb; c++) {
      float sum = hsum(acc[r][c]);
      for (int64_t t = d; t < hd; t++) sum += q[r * ldq + t] * row_value(k[c], bf16, t);
      s[r * lds + c] = scale * sum;
    }
}

INLINE void score_rows(const float *q, int64_t ldq, const void *const *k, bool bf16, int64_t n,
                       int64_t hd, float scale, float *s, int64_t lds, int rb) {
  int64_t i = 0;
  for (; i + KEYS <= n; i += KEYS)
    score_block(q, ldq, k + i, bf16, hd, scale, s + i, lds, rb, KEYS);
  for (; i < n; i++) score_block(q, ldq, k + i, bf16, hd, scale, s + i, lds, rb, 1);
}

INLINE void scores_of(const float *q, int64_t ldq, int64_t nq, const void *const *k, bool bf16,
                      int64_t n, int64_t hd, float scale, float *s, int64_t lds) {
  int64_t r = 0;
  for (; r + ROWS <= nq; r += ROWS)
    score_rows(q + r * ldq, ldq, k, bf16, n, hd, scale, s + r * lds, lds, ROWS);
  for (; r < nq; r++) score_rows(q + r * ldq, ldq, k, bf16, n, hd, scale, s + r * lds, lds, 1);
}

void ttt_attn_scores_avx2(const float *q, int64_t ldq, int64_t nq, const void *const *k,
                          ttt_dtype dtype, int64_t n, int64_t hd, float scale, float *s,
                          int64_t lds) {
  if (dtype == TTT_BF16)
    scores_of(q, ldq, nq, k, true, n, hd, scale, s, lds);
  else
    scores_of(q, ldq, nq, k, false, n, hd, scale, s, lds);
}

/* acc rows [0, rb) × head dims [d0, d0 + 32) (all inside the row): rescaled, plus p · v over all
 * n keys. */
INLINE void accumulate_block(const float *p, int64_t ldp, const void *const *v, bool bf16,
                             int64_t n, int64_t d0, const float *rescale, float *acc, int64_t ldacc,
                             int rb) {
  __m256 a[ROWS][DIM_VECS];
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int j = 0; j < DIM_VECS; j++)
      a[r][j] = _mm256_mul_ps(_mm256_loadu_ps(acc + r * ldacc + d0 + j * LANES),
                              _mm256_set1_ps(rescale[r]));
  for (int64_t i = 0; i < n; i++) {
    __m256 vv[DIM_VECS];
#pragma GCC unroll 4
    for (int j = 0; j < DIM_VECS; j++) vv[j] = load_row(v[i], bf16, d0 + j * LANES);
#pragma GCC unroll 4
    for (int r = 0; r < rb; r++) {
      __m256 w = _mm256_set1_ps(p[r * ldp + i]);
#pragma GCC unroll 4
      for (int j = 0; j < DIM_VECS; j++) a[r][j] = _mm256_fmadd_ps(w, vv[j], a[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int j = 0; j < DIM_VECS; j++) _mm256_storeu_ps(acc + r * ldacc + d0 + j * LANES, a[r][j]);
}

/* Head dims [d0, hd) of one row (fewer than 32): rescaled, then vectors of 8 and scalars. */
INLINE void accumulate_tail(const float *p, const void *const *v, bool bf16, int64_t n, int64_t d0,
                            int64_t hd, float rescale, float *acc) {
  for (int64_t d = d0; d < hd; d++) acc[d] *= rescale;
  for (int64_t i = 0; i < n; i++) {
    int64_t d = d0;
    __m256 w = _mm256_set1_ps(p[i]);
    for (; d + LANES <= hd; d += LANES)
      _mm256_storeu_ps(acc + d,
                       _mm256_fmadd_ps(w, load_row(v[i], bf16, d), _mm256_loadu_ps(acc + d)));
    for (; d < hd; d++) acc[d] += p[i] * row_value(v[i], bf16, d);
  }
}

INLINE void accumulate_of(const float *p, int64_t ldp, int64_t nq, const void *const *v, bool bf16,
                          int64_t n, int64_t hd, const float *rescale, float *acc, int64_t ldacc) {
  int64_t d0 = 0;
  for (; d0 + DIM_VECS * LANES <= hd; d0 += DIM_VECS * LANES) {
    int64_t r = 0;
    for (; r + ROWS <= nq; r += ROWS)
      accumulate_block(p + r * ldp, ldp, v, bf16, n, d0, rescale + r, acc + r * ldacc, ldacc, ROWS);
    for (; r < nq; r++)
      accumulate_block(p + r * ldp, ldp, v, bf16, n, d0, rescale + r, acc + r * ldacc, ldacc, 1);
  }
  if (d0 == hd) return;
  for (int64_t r = 0; r < nq; r++)
    accumulate_tail(p + r * ldp, v, bf16, n, d0, hd, rescale[r], acc + r * ldacc);
}

void ttt_attn_accumulate_avx2(const float *p, int64_t ldp, int64_t nq, const void *const *v,
                              ttt_dtype dtype, int64_t n, int64_t hd, const float *rescale,
                              float *acc, int64_t ldacc) {
  if (dtype == TTT_BF16)
    accumulate_of(p, ldp, nq, v, true, n, hd, rescale, acc, ldacc);
  else
    accumulate_of(p, ldp, nq, v, false, n, hd, rescale, acc, ldacc);
}

/* x[i] = e^(x[i] - shift) for i < n; returns the sum. */
static float exp_sum(float *x, int64_t n, float shift) {
  __m256 sum = _mm256_setzero_ps(), sh = _mm256_set1_ps(shift);
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    __m256 e = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
    _mm256_storeu_ps(x + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  float total = hsum(sum);
  if (i == n) return total;
  float tail[LANES] = {0};
  memcpy(tail, x + i, (size_t)(n - i) * sizeof(float));
  _mm256_storeu_ps(tail, exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(tail), sh)));
  for (int64_t t = 0; t < n - i; t++) {
    x[i + t] = tail[t];
    total += tail[t];
  }
  return total;
}

static float row_max(const float *x, int64_t n) {
  __m256 mx = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  float best = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
  for (; i < n; i++) best = x[i] > best ? x[i] : best;
  return best;
}

void ttt_attn_softmax_avx2(float *s, int64_t lds, int64_t nq, int64_t n, float *m, float *l,
                           float *rescale) {
  for (int64_t r = 0; r < nq; r++) {
    float *row = s + r * lds, tile_max = row_max(row, n);
    rescale[r] = 1.0f;
    if (tile_max == -INFINITY) { /* no visible key in this tile */
      memset(row, 0, (size_t)n * sizeof(float));
      continue;
    }
    float m_new = m[r] > tile_max ? m[r] : tile_max;
    rescale[r] = _mm256_cvtss_f32(exp256_ps(_mm256_set1_ps(m[r] - m_new))); /* 0 when m = -inf */
    l[r] = l[r] * rescale[r] + exp_sum(row, n, m_new);
    m[r] = m_new;
  }
}
