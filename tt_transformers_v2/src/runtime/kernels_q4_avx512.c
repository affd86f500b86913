/*
 * q4_0 weights × q8_0 activations, AVX-512 VNNI (compiled with the AVX-512 flags; selected only
 * when the device has AVX-512 F/BW/VL and VNNI). Two blocks share one zmm: lanes 0-7 hold block b,
 * lanes 8-15 block b+1 (zero when the row has an odd block count and b is the last). vpdpbusd
 * multiplies the unsigned weight codes (0..15) by the signed activations; the code offset is
 * removed by starting each accumulation from −Σ 8·x, taken once per activation block pair with a
 * vpdpbusd of 8s: Σ (c − 8)·x = Σ c·x − Σ 8·x. Tiles of RW weight rows × RX activation rows, and
 * activation panels kept in L2 while every weight tile passes over them, serve small batched
 * decodes (1 < m < TTT_QGEMM_MIN_M). A single activation row (decode) takes gv4_drive, which sums
 * whole blocks in int32 before scaling; prefill and larger batches take the repacking VNNI GEMM
 * shared with q8_0 (kernels_qgemm_avx512.c).
 */
#include "kernels_avx512_fold.h"
#include "kernels_simd_common.h"

enum { RW = 4, RX = 4 };

INLINE __m256i unpack_codes(const uint8_t *block) {
  const __m128i low4 = _mm_set1_epi8(0x0f);
  __m128i packed = _mm_loadu_si128((const void *)(block + 2));
  __m128i lo = _mm_and_si128(packed, low4);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low4);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* Codes of weight blocks b and b+1 (the second zero when single). */
INLINE __m512i load_codes(const uint8_t *block, bool single) {
  __m512i lo = _mm512_zextsi256_si512(unpack_codes(block));
  if (single) return lo;
  return _mm512_inserti64x4(lo, unpack_codes(block + TTT_Q4_0_BLOCK_BYTES), 1);
}

/* Quants of activation blocks b and b+1 (the second zero when single). */
INLINE __m512i load_quants(const uint8_t *block, bool single) {
  __m256i lo = _mm256_loadu_si256((const void *)(block + 2));
  if (single) return _mm512_zextsi256_si512(lo);
  __m256i hi = _mm256_loadu_si256((const void *)(block + TTT_Q8_0_BLOCK_BYTES + 2));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Lanes 0-7 = the f16 scale at `block`, lanes 8-15 = the one `stride` bytes on (0 when single). */
INLINE __m512 pair_scales(const uint8_t *block, size_t stride, bool single) {
  __m256 lo = _mm256_set1_ps(f16_scalar(block));
  __m256 hi = single ? _mm256_setzero_ps() : _mm256_set1_ps(f16_scalar(block + stride));
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

INLINE void q4_step(const uint8_t *const *w, const uint8_t *const *x, __m512 acc[RW][RX], int rw,
                    int rx, int64_t b, bool single) {
  const __m512i eights = _mm512_set1_epi8(8);
  __m512i xq[RX], start[RX];
  __m512 xs[RX];
#pragma GCC unroll 4
  for (int c = 0; c < rx; c++) {
    const uint8_t *xb = x[c] + b * TTT_Q8_0_BLOCK_BYTES;
    xq[c] = load_quants(xb, single);
    start[c] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                _mm512_dpbusd_epi32(_mm512_setzero_si512(), eights, xq[c]));
    xs[c] = pair_scales(xb, TTT_Q8_0_BLOCK_BYTES, single);
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    const uint8_t *wb = w[r] + b * TTT_Q4_0_BLOCK_BYTES;
    __m512i codes = load_codes(wb, single);
    __m512 ws = pair_scales(wb, TTT_Q4_0_BLOCK_BYTES, single);
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++) {
      __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start[c], codes, xq[c]));
      acc[r][c] = _mm512_fmadd_ps(dot, _mm512_mul_ps(ws, xs[c]), acc[r][c]);
    }
  }
}

INLINE void q4_tile(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i, int rx) {
  int64_t blocks = p->k / TTT_Q4_0_BLOCK;
  size_t w_row = (size_t)blocks * TTT_Q4_0_BLOCK_BYTES,
         x_row = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *w[RW], *x[RX];
  __m512 acc[RW][RX];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * w_row;
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++) acc[r][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 4
  for (int c = 0; c < rx; c++) x[c] = (const uint8_t *)p->xq + (size_t)(i + c) * x_row;
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) q4_step(w, x, acc, rw, rx, b, false);
  if (b < blocks) q4_step(w, x, acc, rw, rx, b, true);
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    float bias = p->bias ? p->bias[j + r] : 0.0f;
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++)
      p->y[(i + c) * p->ldy + j + r] = _mm512_reduce_add_ps(acc[r][c]) + bias;
  }
}

INLINE void q4_panel(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i0, int64_t i1) {
  int64_t i = i0;
  for (; i + RX <= i1; i += RX) q4_tile(p, j, rw, i, RX);
  switch (i1 - i) {
  case 3:
    q4_tile(p, j, rw, i, 3);
    break;
  case 2:
    q4_tile(p, j, rw, i, 2);
    break;
  case 1:
    q4_tile(p, j, rw, i, 1);
    break;
  default:
    break;
  }
}

/* ---- decode GEMV (m = 1) ----
 * As gv_drive for q8_0, a row is summed in groups of 16 blocks in int32 and scaled once per group
 * (gv_finish, kernels_avx512_fold.h), but a step covers four blocks and needs no fold: the 64 code
 * bytes of blocks b..b+3 (16 each) are gathered into one zmm, whose low nibbles are values 0-15
 * and high nibbles values 16-31 of each block. One vpdpbusd of the low nibbles against the
 * activations' values 0-15 of the four blocks, and one of the high nibbles against values 16-31,
 * leave each block's dot product in its own 128-bit lane: already gv_finish's 4-lanes-per-block
 * layout. The activation quants are rearranged into that order once per call (gv4_arrange, in the
 * workspace), for all rows. Codes are 0..15, so the dot products are offset by 8·Σx, removed per
 * block with xq_sum. Measured (bench_kernels, 1 thread, ffn and lm-head shapes, GB/s of weights):
 * 18.3-19.5 with the scales gathered, 20-24 with group_scales, against 15.3-15.5 for 2-block steps
 * folded in pairs with the activations permuted at every step. */
enum { GV4_SLICE = 4096 }; /* blocks arranged per slice (32 bytes each) */
_Static_assert(GV4_SLICE *TTT_Q8_0_BLOCK <= TTT_GEMM_WORKSPACE_BYTES, "workspace too small");

/* Activation blocks [b0, b1) of the single row as runs of 4 blocks, 128 bytes each: values 0-15 of
 * the 4 blocks, then values 16-31 (a short last run is zero-padded). */
static void gv4_arrange(const ttt_gemm_problem *p, int64_t b0, int64_t b1, uint8_t *out) {
  const uint8_t *xq = p->xq;
  for (int64_t b = b0; b < b1; b += 4) {
    __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
    for (int q = 0; q < 4 && b + q < b1; q++) {
      const uint8_t *x = xq + (size_t)(b + q) * TTT_Q8_0_BLOCK_BYTES + 2;
      __mmask16 lane = (__mmask16)(0xfu << (4 * q));
      lo = _mm512_mask_broadcast_i32x4(lo, lane, _mm_loadu_si128((const void *)x));
      hi = _mm512_mask_broadcast_i32x4(hi, lane, _mm_loadu_si128((const void *)(x + 16)));
    }
    _mm512_store_si512(out + (b - b0) * 32, lo);
    _mm512_store_si512(out + (b - b0) * 32 + 64, hi);
  }
}

/* The 16 code bytes of block q of the 4 at `block`, zero past the first nb. */
INLINE __m128i gv4_block_codes(const uint8_t *block, int q, int nb) {
  if (q >= nb) return _mm_setzero_si128();
  return _mm_loadu_si128((const void *)(block + (size_t)q * TTT_Q4_0_BLOCK_BYTES + 2));
}

/* The code bytes of blocks b..b+3 starting at `block`, block q in 128-bit lane q (only the first
 * nb < 4 read when short). */
INLINE __m512i gv4_codes(const uint8_t *block, int nb) {
  __m256i low = _mm256_inserti128_si256(_mm256_castsi128_si256(gv4_block_codes(block, 0, nb)),
                                        gv4_block_codes(block, 1, nb), 1);
  __m256i high = _mm256_inserti128_si256(_mm256_castsi128_si256(gv4_block_codes(block, 2, nb)),
                                         gv4_block_codes(block, 3, nb), 1);
  return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}

/* Adds blocks [b0, b0 + nb) (nb <= 16) of the rw rows at w[] into acc[] (f32 lanes); x holds the
 * arranged activations of the group. */
INLINE void gv4_group(const ttt_gemm_problem *p, const uint8_t *const *w, const uint8_t *x,
                      __m512 acc[GV_ROWS], int rw, int64_t b0, int nb) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const uint8_t *w_group[GV_ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) w_group[r] = w[r] + b0 * TTT_Q4_0_BLOCK_BYTES;
  __m512i half[GV_ROWS][GV_STEPS / 2]; /* 4 lanes per block */
#pragma GCC unroll 4
  for (int s = 0; s < GV_STEPS / 2; s++) { /* blocks 4s .. 4s + 3 of the group */
    int left = nb - 4 * s;
    if (left <= 0) {
#pragma GCC unroll 4
      for (int r = 0; r < rw; r++) half[r][s] = _mm512_setzero_si512();
      continue;
    }
    __m512i x_low = _mm512_load_si512(x + s * 128), x_high = _mm512_load_si512(x + s * 128 + 64);
#pragma GCC unroll 4
    for (int r = 0; r < rw; r++) {
      __m512i codes = gv4_codes(w_group[r] + (size_t)s * 4 * TTT_Q4_0_BLOCK_BYTES, left);
      __m512i dot =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(codes, low4), x_low);
      half[r][s] =
          _mm512_dpbusd_epi32(dot, _mm512_and_si512(_mm512_srli_epi16(codes, 4), low4), x_high);
    }
  }
  gv_finish(p, w_group, half, acc, rw, b0, nb, 3 /* 8·Σx */, TTT_Q4_0_BLOCK_BYTES);
}

/* Rows [j, j + rw) over blocks [b0, b1) (x: their arranged activations): y[j + r] = sum + bias
 * when b0 = 0, else y[j + r] += sum. Prefetches the rows at `next` (NULL: none) one group ahead of
 * use, at the same offsets. */
INLINE void gv4_tile(const ttt_gemm_problem *p, int64_t j, int rw, int64_t b0, int64_t b1,
                     const uint8_t *x, const uint8_t *next) {
  size_t row_bytes = (size_t)(p->k / TTT_Q4_0_BLOCK) * TTT_Q4_0_BLOCK_BYTES;
  const uint8_t *w[GV_ROWS];
  __m512 acc[GV_ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * row_bytes;
    acc[r] = _mm512_setzero_ps();
  }
  for (int64_t g = b0; g < b1; g += GV_BLOCKS) {
    int nb = b1 - g < GV_BLOCKS ? (int)(b1 - g) : GV_BLOCKS;
    const uint8_t *xg = x + (g - b0) * 32;
    prefetch_next(next, row_bytes, rw, (size_t)g * TTT_Q4_0_BLOCK_BYTES,
                  (size_t)nb * TTT_Q4_0_BLOCK_BYTES);
    if (nb == GV_BLOCKS)
      gv4_group(p, w, xg, acc, rw, g, GV_BLOCKS); /* constant nb: the tail tests fold away */
    else
      gv4_group(p, w, xg, acc, rw, g, nb);
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    float sum = _mm512_reduce_add_ps(acc[r]);
    if (b0 == 0)
      p->y[j + r] = sum + (p->bias ? p->bias[j + r] : 0.0f);
    else
      p->y[j + r] += sum;
  }
}

/* Slices of GV4_SLICE blocks (one slice for any k up to 128 Ki values): each slice's activations
 * are arranged into the workspace, then every row tile runs over it. */
static void gv4_drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  int64_t blocks = p->k / TTT_Q4_0_BLOCK;
  size_t row_bytes = (size_t)blocks * TTT_Q4_0_BLOCK_BYTES;
  const uint8_t *w = p->w;
  uint8_t *x = p->workspace;
  for (int64_t b0 = 0; b0 < blocks; b0 += GV4_SLICE) {
    int64_t b1 = blocks - b0 < GV4_SLICE ? blocks : b0 + GV4_SLICE;
    gv4_arrange(p, b0, b1, x);
    int64_t j = n0;
    for (; j + GV_ROWS <= n1; j += GV_ROWS) {
      const uint8_t *next = j + 2 * GV_ROWS <= n1 ? w + (size_t)(j + GV_ROWS) * row_bytes : NULL;
      gv4_tile(p, j, GV_ROWS, b0, b1, x, next);
    }
    for (; j < n1; j++)
      gv4_tile(p, j, 1, b0, b1, x, j + 2 <= n1 ? w + (size_t)(j + 1) * row_bytes : NULL);
  }
}

void ttt_gemm_q4_0_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  if (p->m == 1) {
    gv4_drive(p, n0, n1);
    return;
  }
  if (p->m >= TTT_QGEMM_MIN_M) {
    ttt_qgemm_avx512(p, TTT_QGEMM_Q4_0, n0, n1);
    return;
  }
  int64_t rows = panel_rows((p->k / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES, RX);
  for (int64_t i0 = 0; i0 < p->m; i0 += rows) {
    int64_t i1 = i0 + rows < p->m ? i0 + rows : p->m;
    int64_t j = n0;
    for (; j + RW <= n1; j += RW) q4_panel(p, j, RW, i0, i1);
    for (; j < n1; j++) q4_panel(p, j, 1, i0, i1);
  }
}
