/*
 * Matmul for the grouped block dtypes (q8_0_g16, q4_0_g16; layout in ttt/core.h) × q8_0
 * activations, every m: decode (m = 1), batched decode and prefill run the same tiles, reading the
 * weights as they are stored. Needs AVX-512 F/BW/VL + VNNI.
 *
 * Output columns sit in vector lanes, one group of 16 weight rows per accumulator: a step of a
 * block is one 64-byte vector of the group ([16 rows][4 bytes], unsigned w + 128 for q8_0, a
 * nibble of the q4_0 code bytes, i.e. w + 8) against one broadcast dword of an activation row's
 * q8_0 quants: one vpdpbusd adds 4 products to 16 outputs. Σ(w + o)·x = Σw·x + o·Σx, so each
 * block's int32 sum starts at −o·Σx (xq_sum) and is converted and scaled (the group's 16 f16
 * scales × the activation block's scale) once per block.
 *
 * Every output is summed in the same order whatever m, the tile shape or the thread split: per k
 * slice of KB blocks, block sums in k order, then the slices added to y in order (the first writes
 * sum + bias). A row's result is therefore bit-identical alone or in a batch.
 */
#include "kernels_avx512_lanes.h"
#include "quant.h"

enum {
  VEC = 16,    /* int32 / f32 lanes: rows of a group */
  STEPS = 8,   /* dwords (4 values) per block */
  QX = 6,      /* activation rows per tile (m > 1) */
  QV = 2,      /* groups per tile (m > 1) */
  GV = 6,      /* most groups per tile (m = 1): weight streams in flight (see gemv_groups) */
  KB = 64,     /* blocks per k slice: a tile's slice of weights stays in L2 across row tiles */
  SCALES = 32, /* f16 scale bytes per block of a group */
};

typedef struct grouped_layout {
  ttt_dtype dtype;
  int64_t blocks;    /* k / 32 */
  size_t code_bytes; /* per block of a group */
  size_t group_bytes;
  size_t x_row_bytes; /* one q8_0 activation row */
} grouped_layout;

/* Step s (values 4s..4s+3) of a block's codes as unsigned bytes. */
INLINE __m512i weight_step(ttt_dtype dtype, const uint8_t *codes, int s) {
  if (dtype == TTT_Q8_0_G16) return _mm512_load_si512(codes + 64 * s);
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  __m512i pairs = _mm512_load_si512(codes + 64 * (s & 3));
  return s < 4 ? _mm512_and_si512(pairs, low4)
               : _mm512_and_si512(_mm512_srli_epi16(pairs, 4), low4);
}

/* Block b of the nv groups starting at `next` (codes, and the line of scales that holds it) into
 * L2. */
INLINE void prefetch_block(const uint8_t *next, int nv, const grouped_layout *l, int64_t b) {
  for (int v = 0; v < nv; v++) {
    const uint8_t *group = next + (size_t)v * l->group_bytes;
    const uint8_t *codes = group + (size_t)b * l->code_bytes;
    for (size_t line = 0; line < l->code_bytes; line += 64)
      _mm_prefetch((const char *)(codes + line), _MM_HINT_T1);
    if (b % (64 / SCALES) == 0)
      _mm_prefetch((const char *)(group + (size_t)l->blocks * l->code_bytes + (size_t)b * SCALES),
                   _MM_HINT_T1);
  }
}

/* Activation rows [i, i + rx) × groups [g, g + qv), blocks [b0, b1); output columns limited to
 * [n0, n1). `next` (or NULL): the first of next_qv groups whose blocks [b0, b1) are prefetched,
 * block by block as this tile's are read. */
INLINE void grouped_tile(const ttt_gemm_problem *p, const grouped_layout *l, int64_t g, int qv,
                         int64_t i, int rx, int64_t b0, int64_t b1, int64_t n0, int64_t n1,
                         const uint8_t *next, int next_qv) {
  const int32_t offset = l->dtype == TTT_Q8_0_G16 ? -128 : -8;
  const uint8_t *codes[GV], *scales[GV];
  __m512 acc[GV][QX];
#pragma GCC unroll 8
  for (int v = 0; v < qv; v++) {
    const uint8_t *group = (const uint8_t *)p->w + (size_t)(g + v) * l->group_bytes;
    codes[v] = group;
    scales[v] = group + (size_t)l->blocks * l->code_bytes;
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) acc[v][c] = _mm512_setzero_ps();
  }
  const uint8_t *x = (const uint8_t *)p->xq + (size_t)i * l->x_row_bytes + 2;
  const float *xs = p->xq_scale + i * l->blocks;
  const int32_t *xsum = p->xq_sum + i * l->blocks;
  for (int64_t b = b0; b < b1; b++) {
    if (next) prefetch_block(next, next_qv, l, b);
    __m512i dot[GV][QX];
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) {
      __m512i start = _mm512_set1_epi32(offset * xsum[c * l->blocks + b]);
#pragma GCC unroll 8
      for (int v = 0; v < qv; v++) dot[v][c] = start;
    }
#pragma GCC unroll 8
    for (int s = 0; s < STEPS; s++) {
      __m512i w[GV];
#pragma GCC unroll 8
      for (int v = 0; v < qv; v++)
        w[v] = weight_step(l->dtype, codes[v] + (size_t)b * l->code_bytes, s);
#pragma GCC unroll 6
      for (int c = 0; c < rx; c++) {
        int32_t xd;
        memcpy(&xd, x + (size_t)c * l->x_row_bytes + (size_t)b * TTT_Q8_0_BLOCK_BYTES + 4 * s, 4);
        __m512i xb = _mm512_set1_epi32(xd);
#pragma GCC unroll 8
        for (int v = 0; v < qv; v++) dot[v][c] = _mm512_dpbusd_epi32(dot[v][c], w[v], xb);
      }
    }
#pragma GCC unroll 8
    for (int v = 0; v < qv; v++) {
      __m512 ws =
          _mm512_cvtph_ps(_mm256_load_si256((const void *)(scales[v] + (size_t)b * SCALES)));
#pragma GCC unroll 6
      for (int c = 0; c < rx; c++)
        acc[v][c] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[v][c]),
                            _mm512_mul_ps(ws, _mm512_set1_ps(xs[c * l->blocks + b])), acc[v][c]);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < qv; v++) {
    int64_t col0 = (g + v) * VEC;
    int lo = n0 > col0 ? (int)(n0 - col0) : 0;
    int hi = n1 < col0 + VEC ? (int)(n1 - col0) : VEC;
    store_lanes(p, acc[v], col0, (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)), i, rx,
                b0 == 0);
  }
}

/* One tile of rx rows (1 <= rx <= QX), rx a compile-time constant in each call. */
INLINE void grouped_tile_rows(const ttt_gemm_problem *p, const grouped_layout *l, int64_t g, int qv,
                              int64_t i, int rx, int64_t b0, int64_t b1, int64_t n0, int64_t n1) {
  switch (rx) {
  case 6:
    grouped_tile(p, l, g, qv, i, 6, b0, b1, n0, n1, NULL, 0);
    break;
  case 5:
    grouped_tile(p, l, g, qv, i, 5, b0, b1, n0, n1, NULL, 0);
    break;
  case 4:
    grouped_tile(p, l, g, qv, i, 4, b0, b1, n0, n1, NULL, 0);
    break;
  case 3:
    grouped_tile(p, l, g, qv, i, 3, b0, b1, n0, n1, NULL, 0);
    break;
  case 2:
    grouped_tile(p, l, g, qv, i, 2, b0, b1, n0, n1, NULL, 0);
    break;
  default:
    grouped_tile(p, l, g, qv, i, 1, b0, b1, n0, n1, NULL, 0);
    break;
  }
}

/* All activation rows of the tile's groups for one k slice, in ceil(m / QX) tiles of balanced
 * heights (m = 8: 4 + 4 rather than 6 + 2, whose 2-row tile loads a weight vector per 4 products). */
INLINE void grouped_rows(const ttt_gemm_problem *p, const grouped_layout *l, int64_t g, int qv,
                         int64_t b0, int64_t b1, int64_t n0, int64_t n1) {
  int64_t tiles = (p->m + QX - 1) / QX;
  for (int64_t t = 0, i = 0; t < tiles; t++) {
    int rx = (int)((p->m - i) / (tiles - t)); /* the taller tiles last */
    grouped_tile_rows(p, l, g, qv, i, rx, b0, b1, n0, n1);
    i += rx;
  }
}

/* m = 1: one tile of qv <= GV groups, qv a compile-time constant in each call (a thread's range
 * need not be a multiple of GV groups: the scheduler's last ranges are 2 groups wide). */
_Static_assert(GV == 6, "gemv_tile has a case for every qv in [1, GV]");
INLINE void gemv_tile(const ttt_gemm_problem *p, const grouped_layout *l, int64_t g, int qv,
                      int64_t b0, int64_t b1, int64_t n0, int64_t n1, const uint8_t *next,
                      int next_qv) {
  switch (qv) {
  case 6:
    grouped_tile(p, l, g, 6, 0, 1, b0, b1, n0, n1, next, next_qv);
    break;
  case 5:
    grouped_tile(p, l, g, 5, 0, 1, b0, b1, n0, n1, next, next_qv);
    break;
  case 4:
    grouped_tile(p, l, g, 4, 0, 1, b0, b1, n0, n1, next, next_qv);
    break;
  case 3:
    grouped_tile(p, l, g, 3, 0, 1, b0, b1, n0, n1, next, next_qv);
    break;
  case 2:
    grouped_tile(p, l, g, 2, 0, 1, b0, b1, n0, n1, next, next_qv);
    break;
  default:
    grouped_tile(p, l, g, 1, 0, 1, b0, b1, n0, n1, next, next_qv);
    break;
  }
}

/* Groups per m = 1 tile. Rows of a single k slice (k <= 32·KB: every projection but ffn down in
 * the Llama-3.2-1B shape) end their streams after 16 KB (q4_0) or 32 KB (q8_0), so more of them in
 * flight pays: one thread streamed q4_0 ffn up / LM head at 26.6-27.2 / 25.8-26.0 GB/s with 6
 * groups against 25.4-26.0 / 24.1-24.6 with 4, and q8_0 at 28.9-30.6 / 27.0-28.1 against
 * 28.1-28.3 / 25.5-27.0 (bench_kernels t1, read probe 29-30). Longer rows keep 4: 6 (12 streams
 * with the scales) took q4_0 ffn down from 31-33 to 30, and 7-8 lower still. */
INLINE int gemv_groups(const grouped_layout *l) { return l->blocks <= KB ? GV : 4; }

/* m = 1, groups [g0, g1) in tiles of gemv_groups (one activation row).
 * q4_0 rows of a single k slice prefetch the next tile's groups as they go: with 4 groups per tile
 * one thread streamed 22-23 GB/s of them without the prefetch against 25-26 with it, and end to end
 * q4_0 decoded 1-5% faster on 2 threads (4 interleaved rounds) and 2-22% on one (3 rounds). Not for
 * q8_0 (1-19% slower with it) nor for longer rows (12-15% slower). */
INLINE void grouped_gemv(const ttt_gemm_problem *p, const grouped_layout *l, int64_t g0, int64_t g1,
                         int64_t n0, int64_t n1) {
  bool prefetch = l->dtype == TTT_Q4_0_G16 && l->blocks <= KB;
  int gv = gemv_groups(l);
  for (int64_t g = g0; g < g1; g += gv) {
    int qv = g1 - g < gv ? (int)(g1 - g) : gv;
    int64_t after = g + qv;
    int next_qv = prefetch ? (g1 - after < gv ? (int)(g1 - after) : gv) : 0;
    const uint8_t *next =
        next_qv > 0 ? (const uint8_t *)p->w + (size_t)after * l->group_bytes : NULL;
    for (int64_t b0 = 0; b0 < l->blocks; b0 += KB) {
      int64_t b1 = b0 + KB < l->blocks ? b0 + KB : l->blocks;
      gemv_tile(p, l, g, qv, b0, b1, n0, n1, next, next_qv);
    }
  }
}

INLINE void grouped_drive(const ttt_gemm_problem *p, ttt_dtype dtype, int64_t n0, int64_t n1) {
  grouped_layout l = {.dtype = dtype,
                      .blocks = p->k / TTT_Q8_0_BLOCK,
                      .code_bytes = ttt_grouped_code_bytes(dtype),
                      .group_bytes = ttt_grouped_group_bytes(dtype, p->k),
                      .x_row_bytes = (size_t)(p->k / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES};
  int64_t g0 = n0 / VEC, g1 = (n1 + VEC - 1) / VEC;
  if (p->m == 1) {
    grouped_gemv(p, &l, g0, g1, n0, n1);
    return;
  }
  for (int64_t g = g0; g < g1; g += QV) {
    int qv = g1 - g < QV ? (int)(g1 - g) : QV;
    for (int64_t b0 = 0; b0 < l.blocks; b0 += KB) {
      int64_t b1 = b0 + KB < l.blocks ? b0 + KB : l.blocks;
      if (qv == QV)
        grouped_rows(p, &l, g, QV, b0, b1, n0, n1);
      else
        grouped_rows(p, &l, g, 1, b0, b1, n0, n1);
    }
  }
}

void ttt_gemm_q8_0g_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  grouped_drive(p, TTT_Q8_0_G16, n0, n1);
}

void ttt_gemm_q4_0g_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  grouped_drive(p, TTT_Q4_0_G16, n0, n1);
}
