/*
 * The VNNI GEMM for block-quantized weights (q8_0 or q4_0) × q8_0 activations: prefill, and
 * batched decodes of QGEMM_MIN_M rows or more. Compiled with the AVX-512 flags; called by the q8_0
 * and q4_0 kernels (kernels_avx512.c, kernels_q4_avx512.c) only on devices with AVX-512 VNNI.
 *
 * Output columns sit in vector lanes: a tile of QV·16 weight rows is repacked once into an
 * L2-resident buffer where, for each block and each group of 16 rows, step s (4 columns) is one
 * zmm holding bytes 4s..4s+3 of the 16 rows ([16 rows][4 bytes], the vpdpbusd operand layout) as
 * unsigned values w + 128, followed by the 16 rows' scales as f32. Both weight formats become the
 * same buffer (a q4_0 code c holds the value c − 8, so it is stored as c + 120), and one tile
 * kernel serves both. Every activation row then needs only broadcast dwords, read straight from
 * its q8_0 row: one vpdpbusd per step adds 4 products for 16 output columns. Σ(w + 128)·x =
 * Σw·x + 128·Σx, so each block's int32 accumulator starts at -128·Σx (xq_sum) and is converted to
 * f32 and scaled (weight scales × the activation's scale) once per block. A register tile is QV
 * row groups × QX activation rows; the output of a tile is QV contiguous 16-float stores per
 * activation row.
 *
 * Measured on a 2-core AMD EPYC (Zen 4 class; Llama-3.2-1B projection shapes, bench_kernels, CPU
 * time of 1 thread), q8_0 weights: 319-340 GOP/s at m = 128, 248-270 at m = 16, 176-209 at m = 8.
 */
#include "kernels_avx512_lanes.h"
#include "kernels_simd_common.h"

enum {
  VEC = 16, /* int32 / f32 lanes */
  QV = 2,
  QX = 6,
  Q_STEPS = TTT_Q8_0_BLOCK / 4,
  Q_KB = 64 /* blocks per k slice */
};
/* Bytes of one block of one 16-row group in the buffer: quants, then 16 f32 scales. */
enum { Q_GROUP_BYTES = Q_STEPS * 64 + 64, Q_BLOCK_BYTES = QV * Q_GROUP_BYTES };

/* Bytes of one stored block of 32 weights. */
INLINE size_t block_bytes(ttt_qgemm_format format) {
  return format == TTT_QGEMM_Q4_0 ? TTT_Q4_0_BLOCK_BYTES : TTT_Q8_0_BLOCK_BYTES;
}

/* The 32 weights of the block at `block` as unsigned bytes w + 128, in value order. q4_0 stores
 * values 0-15 in the low nibbles of its 16 bytes and values 16-31 in the high nibbles. */
INLINE __m256i unsigned_weights(ttt_qgemm_format format, const uint8_t *block) {
  if (format == TTT_QGEMM_Q8_0)
    return _mm256_xor_si256(_mm256_loadu_si256((const void *)(block + 2)),
                            _mm256_set1_epi8((char)0x80));
  const __m128i low4 = _mm_set1_epi8(0x0f);
  __m128i packed = _mm_loadu_si128((const void *)(block + 2));
  __m128i lo = _mm_and_si128(packed, low4);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low4);
  __m256i codes = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  return _mm256_add_epi8(codes, _mm256_set1_epi8(120)); /* (c − 8) + 128 */
}

/* Software prefetch of the weights the next tile will pack. The packing reads 32 rows a block at a
 * time, a pattern the hardware prefetchers do not follow, and a batched decode reads every weight
 * once per step: without this the packing waits on DRAM (1B shape, performance, B = 8: most of a
 * step was spent on the packing's weight loads). The next tile's row segments are requested a few
 * cache lines per packed block, spread over the current tile's packing, into L2. */
typedef struct prefetch_plan {
  const uint8_t *row; /* the row segment being requested (NULL: nothing to prefetch) */
  size_t row_bytes;   /* distance between the rows */
  size_t segment;     /* bytes per row segment */
  size_t offset;      /* next byte to request in the current segment */
  int64_t rows_left;  /* segments after the current one */
  size_t per_block;   /* bytes to request per packed block */
} prefetch_plan;

INLINE void prefetch_some(prefetch_plan *plan) {
  for (size_t issued = 0; plan->row && issued < plan->per_block; issued += 64) {
    _mm_prefetch((const char *)(plan->row + plan->offset), _MM_HINT_T1);
    plan->offset += 64;
    if (plan->offset < plan->segment) continue;
    plan->offset = 0;
    plan->row = plan->rows_left-- > 0 ? plan->row + plan->row_bytes : NULL;
  }
}

/* Repacks blocks [b0, b1) of weight rows [j, j + rows) (rows <= 16) into group layout at `out`,
 * one Q_BLOCK_BYTES stride per block. Missing rows get scale 0, so they add 0 whatever their
 * quants. The quants are an in-register transpose: rows r and r + 8 share a register ([8 dwords
 * of row r | 8 of row r + 8]), and an 8 × 8 dword transpose in each 256-bit half (unpack 32,
 * unpack 64, then 128-bit lanes across pairs) leaves step s's dword of the 16 rows in one
 * register, in row order. (A gather per step was ~3× the cost at small m; bench_kernels --m 8.)
 * The 16 scales (f16 at the start of every block, in both formats) come with one gather. */
INLINE void pack_group(const ttt_gemm_problem *p, ttt_qgemm_format format, int64_t j, int rows,
                       int64_t b0, int64_t b1, uint8_t *out, prefetch_plan *plan) {
  size_t stride = block_bytes(format);
  int32_t row_bytes = (int32_t)((size_t)(p->k / TTT_Q8_0_BLOCK) * stride);
  __mmask16 valid = (__mmask16)((1u << rows) - 1u);
  const __m512i offsets =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(row_bytes));
  /* qword indices of [a.L0, b.L0, a.L2, b.L2] and [a.L1, b.L1, a.L3, b.L3] (L = 128-bit lane) */
  const __m512i low_lanes = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i high_lanes = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  const uint8_t *base = (const uint8_t *)p->w + (size_t)j * (size_t)row_bytes;
  for (int64_t b = b0; b < b1; b++) {
    prefetch_some(plan);
    const uint8_t *block = base + (size_t)b * stride;
    uint8_t *dst = out + (b - b0) * Q_BLOCK_BYTES;
    __m512i r[8], t[8], u[8];
#pragma GCC unroll 8
    for (int q = 0; q < 8; q++) {
      __m256i lo = q < rows ? unsigned_weights(format, block + (size_t)q * row_bytes)
                            : _mm256_setzero_si256();
      __m256i hi = q + 8 < rows ? unsigned_weights(format, block + (size_t)(q + 8) * row_bytes)
                                : _mm256_setzero_si256();
      r[q] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
#pragma GCC unroll 4
    for (int q = 0; q < 8; q += 2) {
      t[q] = _mm512_unpacklo_epi32(r[q], r[q + 1]);
      t[q + 1] = _mm512_unpackhi_epi32(r[q], r[q + 1]);
    }
#pragma GCC unroll 2
    for (int q = 0; q < 8; q += 4) { /* u[q + d]: dwords d (lane 0) and d + 4 (lane 1) */
      u[q] = _mm512_unpacklo_epi64(t[q], t[q + 2]);
      u[q + 1] = _mm512_unpackhi_epi64(t[q], t[q + 2]);
      u[q + 2] = _mm512_unpacklo_epi64(t[q + 1], t[q + 3]);
      u[q + 3] = _mm512_unpackhi_epi64(t[q + 1], t[q + 3]);
    }
#pragma GCC unroll 4
    for (int d = 0; d < 4; d++) {
      _mm512_store_si512(dst + 64 * d, _mm512_permutex2var_epi64(u[d], low_lanes, u[d + 4]));
      _mm512_store_si512(dst + 64 * (d + 4), _mm512_permutex2var_epi64(u[d], high_lanes, u[d + 4]));
    }
    /* The scale is the low 16 bits of the dword at the block start. */
    __m512i h = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, offsets, block, 1);
    _mm512_store_ps(dst + 64 * Q_STEPS, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h)));
  }
}

/* Activation rows [i, i + rx) against packed groups [0, qv) of buffer `buf` holding blocks
 * [b0, b1) (output columns [j, j + 16·qv), the last group limited to `last` columns). The first
 * k slice (b0 = 0) writes y = sum + bias, later ones add to y. */
INLINE void gemm_tile(const ttt_gemm_problem *p, const uint8_t *buf, int64_t b0, int64_t b1,
                      int64_t j, int qv, int last, int64_t i, int rx) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  size_t row_bytes = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *x[QX];
  __m512 acc[QV][QX];
#pragma GCC unroll 6
  for (int c = 0; c < rx; c++) {
    x[c] = (const uint8_t *)p->xq + (size_t)(i + c) * row_bytes + 2;
#pragma GCC unroll 2
    for (int v = 0; v < qv; v++) acc[v][c] = _mm512_setzero_ps();
  }
  const float *xs = p->xq_scale + i * blocks;
  const int32_t *xsum = p->xq_sum + i * blocks;
  for (int64_t b = b0; b < b1; b++) {
    const uint8_t *wb = buf + (b - b0) * Q_BLOCK_BYTES;
    __m512i dot[QV][QX];
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) {
      __m512i start = _mm512_set1_epi32(-128 * xsum[c * blocks + b]);
#pragma GCC unroll 2
      for (int v = 0; v < qv; v++) dot[v][c] = start;
    }
#pragma GCC unroll 8
    for (int s = 0; s < Q_STEPS; s++) {
      __m512i wv[QV];
#pragma GCC unroll 2
      for (int v = 0; v < qv; v++) wv[v] = _mm512_load_si512(wb + v * Q_GROUP_BYTES + 64 * s);
#pragma GCC unroll 6
      for (int c = 0; c < rx; c++) {
        int32_t xd;
        memcpy(&xd, x[c] + b * TTT_Q8_0_BLOCK_BYTES + 4 * s, 4);
        __m512i xb = _mm512_set1_epi32(xd);
#pragma GCC unroll 2
        for (int v = 0; v < qv; v++) dot[v][c] = _mm512_dpbusd_epi32(dot[v][c], wv[v], xb);
      }
    }
#pragma GCC unroll 2
    for (int v = 0; v < qv; v++) {
      __m512 ws = _mm512_load_ps(wb + v * Q_GROUP_BYTES + 64 * Q_STEPS);
#pragma GCC unroll 6
      for (int c = 0; c < rx; c++)
        acc[v][c] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[v][c]),
                            _mm512_mul_ps(ws, _mm512_set1_ps(xs[c * blocks + b])), acc[v][c]);
    }
  }
#pragma GCC unroll 2
  for (int v = 0; v < qv; v++)
    store_column_lanes(p, acc[v], j + v * VEC, v == qv - 1 ? last : VEC, i, rx, b0 == 0);
}

/* All activation rows against one packed tile of qv groups. */
INLINE void gemm_rows(const ttt_gemm_problem *p, const uint8_t *buf, int64_t b0, int64_t b1,
                      int64_t j, int qv, int last) {
  int64_t i = 0;
  for (; i + QX <= p->m; i += QX) gemm_tile(p, buf, b0, b1, j, qv, last, i, QX);
  switch (p->m - i) {
  case 5:
    gemm_tile(p, buf, b0, b1, j, qv, last, i, 5);
    break;
  case 4:
    gemm_tile(p, buf, b0, b1, j, qv, last, i, 4);
    break;
  case 3:
    gemm_tile(p, buf, b0, b1, j, qv, last, i, 3);
    break;
  case 2:
    gemm_tile(p, buf, b0, b1, j, qv, last, i, 2);
    break;
  case 1:
    gemm_tile(p, buf, b0, b1, j, qv, last, i, 1);
    break;
  default:
    break;
  }
}

/* The prefetch plan for the tile after (j, b0): the next k slice of the same rows, else the
 * first slice of the next rows (none past n1). */
INLINE prefetch_plan next_tile_plan(const ttt_gemm_problem *p, ttt_qgemm_format format, int64_t j,
                                    int64_t b0, int64_t b1, int64_t n1, int qv) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  size_t stride = block_bytes(format), row_bytes = (size_t)blocks * stride;
  int64_t next_j = b1 < blocks ? j : j + QV * VEC, next_b0 = b1 < blocks ? b1 : 0;
  if (next_j >= n1) return (prefetch_plan){.row = NULL};
  int64_t next_b1 = next_b0 + Q_KB < blocks ? next_b0 + Q_KB : blocks;
  int64_t rows = n1 - next_j < QV * VEC ? n1 - next_j : QV * VEC;
  prefetch_plan plan = {.row = (const uint8_t *)p->w + (size_t)next_j * row_bytes +
                               (size_t)next_b0 * stride,
                        .row_bytes = row_bytes,
                        .segment = (size_t)(next_b1 - next_b0) * stride,
                        .rows_left = rows - 1};
  /* Spread over the qv·(b1 - b0) blocks this tile packs, in whole cache lines. */
  size_t packed = (size_t)qv * (size_t)(b1 - b0), total = (size_t)rows * plan.segment;
  plan.per_block = ((total + packed - 1) / packed + 63) / 64 * 64;
  return plan;
}

/* Tiles of QV·16 output columns; for each, k slices of Q_KB blocks are packed and run against
 * every activation row (the packed slice stays in L2, the activation rows' slice too). */
_Static_assert(Q_KB *Q_BLOCK_BYTES <= TTT_GEMM_WORKSPACE_BYTES, "workspace too small");

INLINE void gemm_drive(const ttt_gemm_problem *p, ttt_qgemm_format format, int64_t n0, int64_t n1) {
  uint8_t *buf = p->workspace; /* Q_KB blocks of Q_BLOCK_BYTES */
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  for (int64_t j = n0; j < n1; j += QV * VEC) {
    int64_t cols = n1 - j < QV * VEC ? n1 - j : QV * VEC;
    int qv = (int)((cols + VEC - 1) / VEC);
    int last = (int)(cols - (qv - 1) * VEC);
    for (int64_t b0 = 0; b0 < blocks; b0 += Q_KB) {
      int64_t b1 = b0 + Q_KB < blocks ? b0 + Q_KB : blocks;
      prefetch_plan plan = next_tile_plan(p, format, j, b0, b1, n1, qv);
      for (int v = 0; v < qv; v++)
        pack_group(p, format, j + v * VEC, v == qv - 1 ? last : VEC, b0, b1,
                   buf + v * Q_GROUP_BYTES, &plan);
      if (qv == QV)
        gemm_rows(p, buf, b0, b1, j, QV, last);
      else
        gemm_rows(p, buf, b0, b1, j, 1, last);
    }
  }
}

void ttt_qgemm_avx512(const ttt_gemm_problem *p, ttt_qgemm_format format, int64_t n0, int64_t n1) {
  /* One instantiation per format: the repacking's branches on the format fold away. */
  if (format == TTT_QGEMM_Q4_0)
    gemm_drive(p, TTT_QGEMM_Q4_0, n0, n1);
  else
    gemm_drive(p, TTT_QGEMM_Q8_0, n0, n1);
}
