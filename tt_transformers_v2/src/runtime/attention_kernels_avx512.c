/*
 * Attention tile kernels for AVX-512 F/BW/VL (contracts in kernels.h).
 *
 * scores: blocks of 4 query rows × 4 keys keep 16 accumulators in registers; each step of 16 head
 * dims loads 4 key vectors (widening bf16 with a shift) and 4 query vectors for 16 FMAs, so every
 * key element is read once per 4 query rows (a GQA group's heads, or 4 query positions).
 * accumulate: blocks of 4 query rows × 64 head dims (16 accumulators); each key's value vectors are
 * loaded once and scaled by 4 broadcast probabilities. Head dims that are not multiples of 16 (or
 * of 64 here) use masked loads and stores, so no lane outside a row is touched.
 * Many query rows (prefill) switch scores to keys in lanes (see scores_keys_in_lanes).
 * softmax: vector row max, then e^(s - max) (simd_math.h) and its sum in one pass.
 */
#include <math.h>
#include <string.h>

#include "kernels_simd_common.h"
#include "simd_math.h"

enum { LANES = 16, ROWS = 4, KEYS = 4, DIM_VECS = 4 };

/* Lanes [0, count) of a vector (count may be <= 0 or >= 16). */
INLINE __mmask16 lane_mask(int64_t count) {
  if (count >= LANES) return (__mmask16)0xFFFF;
  return count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1u);
}

/* 16 values of a row from head dim d as f32; masked lanes are not read and come back as 0. */
INLINE __m512 load_row(const void *row, bool bf16, int64_t d, __mmask16 m) {
  if (bf16) {
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + d);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_maskz_loadu_ps(m, (const float *)row + d);
}

/* Sums of 4 vectors (a, b, c, d) in parallel: per 128-bit lane, lane-wise partial sums of
 * a b c d. Two levels of an add tree, each a pair of in-lane shuffles and an add. */
INLINE __m512 sum4_in_lanes(__m512 a, __m512 b, __m512 c, __m512 d) {
  __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b)); /* a b a b */
  __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  __m512d abd = _mm512_castps_pd(ab), cdd = _mm512_castps_pd(cd);
  return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(abd, cdd)),
                       _mm512_castpd_ps(_mm512_unpackhi_pd(abd, cdd))); /* a b c d */
}

/* Folds 128-bit lanes pairwise: [x.L0+x.L1, x.L2+x.L3, y.L0+y.L1, y.L2+y.L3]. */
INLINE __m512 fold_lanes(__m512 x, __m512 y) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* The 16 horizontal sums of a 4 × 4 block in one vector: 128-bit lane r holds row r's 4 sums in
 * key order (15 adds and 30 shuffles instead of 16 separate reductions). */
INLINE __m512 reduce_block(__m512 acc[ROWS][KEYS]) {
  __m512 rows[ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; r++)
    rows[r] = sum4_in_lanes(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
  return fold_lanes(fold_lanes(rows[0], rows[1]), fold_lanes(rows[2], rows[3]));
}

/* s[r·lds + c] for rb rows × kb keys (compile-time constants after inlining). */
INLINE void score_block(const float *q, int64_t ldq, const void *const *k, bool bf16, int64_t hd,
                        float scale, float *s, int64_t lds, int rb, int kb) {
  __m512 acc[ROWS][KEYS];
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < kb; c++) acc[r][c] = _mm512_setzero_ps();
  for (int64_t d = 0; d < hd; d += LANES) {
    __mmask16 m = lane_mask(hd - d);
    __m512 kv[KEYS];
#pragma GCC unroll 4
    for (int c = 0; c < kb; c++) kv[c] = load_row(k[c], bf16, d, m);
#pragma GCC unroll 4
    for (int r = 0; r < rb; r++) {
      __m512 qv = _mm512_maskz_loadu_ps(m, q + r * ldq + d);
#pragma GCC unroll 4
      for (int c = 0; c < kb; c++) acc[r][c] = _mm512_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
  if (rb == ROWS && kb == KEYS) {
    __m512 sums = _mm512_mul_ps(reduce_block(acc), _mm512_set1_ps(scale));
    _mm_storeu_ps(s, _mm512_extractf32x4_ps(sums, 0));
    _mm_storeu_ps(s + lds, _mm512_extractf32x4_ps(sums, 1));
    _mm_storeu_ps(s + 2 * lds, _mm512_extractf32x4_ps(sums, 2));
    _mm_storeu_ps(s + 3 * lds, _mm512_extractf32x4_ps(sums, 3));
    return;
  }
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int c = 0; c < kb; c++) s[r * lds + c] = scale * _mm512_reduce_add_ps(acc[r][c]);
}

/* One row block (rb rows) against all n keys: blocks of KEYS keys, then single keys. */
INLINE void score_rows(const float *q, int64_t ldq, const void *const *k, bool bf16, int64_t n,
                       int64_t hd, float scale, float *s, int64_t lds, int rb) {
  int64_t i = 0;
  for (; i + KEYS <= n; i += KEYS)
    score_block(q, ldq, k + i, bf16, hd, scale, s + i, lds, rb, KEYS);
  for (; i < n; i++) score_block(q, ldq, k + i, bf16, hd, scale, s + i, lds, rb, 1);
}

/* Keys in lanes, for many query rows: 16 keys are transposed once into kt [hd][16] (lane = key),
 * then each row block is a small GEMM, acc[r] += q[r][d] (broadcast) · kt[d], with no horizontal
 * sums. The transpose costs about what 4 query rows do, so the row path above stays for few
 * rows. */
enum { LANE_ROWS = 8, LANE_ROWS_MIN = 16, LANE_MAX_HD = 256 };

/* Keys [0, kc) of `k` (kc <= 16; missing keys are zero) transposed into kt [hd][16]. */
INLINE void transpose_keys(const void *const *k, int kc, bool bf16, int64_t hd, float *kt) {
  for (int64_t d0 = 0; d0 < hd; d0 += LANES) {
    __m512 r[LANES];
#pragma GCC unroll 16
    for (int c = 0; c < LANES; c++)
      r[c] = c < kc ? load_row(k[c], bf16, d0, (__mmask16)0xFFFF) : _mm512_setzero_ps();
    transpose16_ps(r);
#pragma GCC unroll 16
    for (int d = 0; d < LANES; d++) _mm512_store_ps(kt + (d0 + d) * LANES, r[d]);
  }
}

/* s[r·lds + c] for rows [0, rb) and keys [0, kc) from the transposed keys. */
INLINE void lane_block(const float *q, int64_t ldq, const float *kt, int64_t hd, float scale,
                       float *s, int64_t lds, int kc, int rb) {
  __m512 acc[LANE_ROWS];
#pragma GCC unroll 8
  for (int r = 0; r < rb; r++) acc[r] = _mm512_setzero_ps();
  for (int64_t d = 0; d < hd; d++) {
    __m512 kv = _mm512_load_ps(kt + d * LANES);
#pragma GCC unroll 8
    for (int r = 0; r < rb; r++)
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * ldq + d]), kv, acc[r]);
  }
  __m512 sc = _mm512_set1_ps(scale);
#pragma GCC unroll 8
  for (int r = 0; r < rb; r++)
    _mm512_mask_storeu_ps(s + r * lds, lane_mask(kc), _mm512_mul_ps(acc[r], sc));
}

INLINE void scores_keys_in_lanes(const float *q, int64_t ldq, int64_t nq, const void *const *k,
                                 bool bf16, int64_t n, int64_t hd, float scale, float *s,
                                 int64_t lds) {
  _Alignas(64) float kt[LANE_MAX_HD * LANES]; /* at most 16 KB of stack */
  for (int64_t i0 = 0; i0 < n; i0 += LANES) {
    int kc = n - i0 < LANES ? (int)(n - i0) : LANES;
    transpose_keys(k + i0, kc, bf16, hd, kt);
    int64_t r = 0;
    for (; r + LANE_ROWS <= nq; r += LANE_ROWS)
      lane_block(q + r * ldq, ldq, kt, hd, scale, s + r * lds + i0, lds, kc, LANE_ROWS);
    for (; r < nq; r++) lane_block(q + r * ldq, ldq, kt, hd, scale, s + r * lds + i0, lds, kc, 1);
  }
}

INLINE void scores_of(const float *q, int64_t ldq, int64_t nq, const void *const *k, bool bf16,
                      int64_t n, int64_t hd, float scale, float *s, int64_t lds) {
  if (nq >= LANE_ROWS_MIN && hd % LANES == 0 && hd <= LANE_MAX_HD) {
    scores_keys_in_lanes(q, ldq, nq, k, bf16, n, hd, scale, s, lds);
    return;
  }
  int64_t r = 0;
  for (; r + ROWS <= nq; r += ROWS)
    score_rows(q + r * ldq, ldq, k, bf16, n, hd, scale, s + r * lds, lds, ROWS);
  for (; r < nq; r++) score_rows(q + r * ldq, ldq, k, bf16, n, hd, scale, s + r * lds, lds, 1);
}

void ttt_attn_scores_avx512(const float *q, int64_t ldq, int64_t nq, const void *const *k,
                            ttt_dtype dtype, int64_t n, int64_t hd, float scale, float *s,
                            int64_t lds) {
  if (dtype == TTT_BF16)
    scores_of(q, ldq, nq, k, true, n, hd, scale, s, lds);
  else
    scores_of(q, ldq, nq, k, false, n, hd, scale, s, lds);
}

/* acc rows [0, rb) × head dims [d0, d0 + 64): rescaled, plus p · v over all n keys. */
INLINE void accumulate_block(const float *p, int64_t ldp, const void *const *v, bool bf16,
                             int64_t n, int64_t d0, int64_t hd, const float *rescale, float *acc,
                             int64_t ldacc, int rb) {
  __mmask16 m[DIM_VECS];
  __m512 a[ROWS][DIM_VECS];
#pragma GCC unroll 4
  for (int j = 0; j < DIM_VECS; j++) m[j] = lane_mask(hd - d0 - j * LANES);
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int j = 0; j < DIM_VECS; j++)
      a[r][j] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m[j], acc + r * ldacc + d0 + j * LANES),
                              _mm512_set1_ps(rescale[r]));
  for (int64_t i = 0; i < n; i++) {
    __m512 vv[DIM_VECS];
#pragma GCC unroll 4
    for (int j = 0; j < DIM_VECS; j++) vv[j] = load_row(v[i], bf16, d0 + j * LANES, m[j]);
#pragma GCC unroll 4
    for (int r = 0; r < rb; r++) {
      __m512 w = _mm512_set1_ps(p[r * ldp + i]);
#pragma GCC unroll 4
      for (int j = 0; j < DIM_VECS; j++) a[r][j] = _mm512_fmadd_ps(w, vv[j], a[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < rb; r++)
#pragma GCC unroll 4
    for (int j = 0; j < DIM_VECS; j++)
      _mm512_mask_storeu_ps(acc + r * ldacc + d0 + j * LANES, m[j], a[r][j]);
}

INLINE void accumulate_of(const float *p, int64_t ldp, int64_t nq, const void *const *v, bool bf16,
                          int64_t n, int64_t hd, const float *rescale, float *acc, int64_t ldacc) {
  for (int64_t d0 = 0; d0 < hd; d0 += DIM_VECS * LANES) {
    int64_t r = 0;
    for (; r + ROWS <= nq; r += ROWS)
      accumulate_block(p + r * ldp, ldp, v, bf16, n, d0, hd, rescale + r, acc + r * ldacc, ldacc,
                       ROWS);
    for (; r < nq; r++)
      accumulate_block(p + r * ldp, ldp, v, bf16, n, d0, hd, rescale + r, acc + r * ldacc, ldacc,
                       1);
  }
}

void ttt_attn_accumulate_avx512(const float *p, int64_t ldp, int64_t nq, const void *const *v,
                                ttt_dtype dtype, int64_t n, int64_t hd, const float *rescale,
                                float *acc, int64_t ldacc) {
  if (dtype == TTT_BF16)
    accumulate_of(p, ldp, nq, v, true, n, hd, rescale, acc, ldacc);
  else
    accumulate_of(p, ldp, nq, v, false, n, hd, rescale, acc, ldacc);
}

/* x[i] = e^(x[i] - shift) for i < n; returns the sum. */
static float exp_sum(float *x, int64_t n, float shift) {
  __m512 sum = _mm512_setzero_ps(), sh = _mm512_set1_ps(shift);
  for (int64_t i = 0; i < n; i += LANES) {
    __mmask16 m = lane_mask(n - i);
    __m512 e = exp512_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh));
    _mm512_mask_storeu_ps(x + i, m, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, e));
  }
  return _mm512_reduce_add_ps(sum);
}

static float row_max(const float *x, int64_t n) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += LANES)
    mx =
        _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), lane_mask(n - i), x + i));
  return _mm512_reduce_max_ps(mx);
}

void ttt_attn_softmax_avx512(float *s, int64_t lds, int64_t nq, int64_t n, float *m, float *l,
                             float *rescale) {
  for (int64_t r = 0; r < nq; r++) {
    float *row = s + r * lds, tile_max = row_max(row, n);
    rescale[r] = 1.0f;
    if (tile_max == -INFINITY) { /* no visible key in this tile */
      memset(row, 0, (size_t)n * sizeof(float));
      continue;
    }
    float m_new = m[r] > tile_max ? m[r] : tile_max;
    rescale[r] = _mm512_cvtss_f32(exp512_ps(_mm512_set1_ps(m[r] - m_new))); /* 0 when m = -inf */
    l[r] = l[r] * rescale[r] + exp_sum(row, n, m_new);
    m[r] = m_new;
  }
}
