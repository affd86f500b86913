/*
 * kernels_avx512_fold.h — the block-summing tail of the decode GEMVs for quantized weights × q8_0
 * activations (gv_drive in kernels_avx512.c for q8_0 weights, gv4_drive in kernels_q4_avx512.c for
 * q4_0). Include only from files compiled with the AVX-512 F/BW/VL flags.
 *
 * A weight row is visited in groups of GV_BLOCKS = 16 blocks of 32 values. For q8_0, each step
 * covers two blocks with one vpdpbusd of unsigned weight codes against signed activation quants,
 * whose 16 int32 lanes hold 8 lanes of each block, and fold8 halves pairs of steps to 4 lanes per
 * block (q4_0 steps produce that layout directly). The results of a group are folded into one vector
 * of 16 exact int32 block dot products (three levels of shuffle, shuffle, add, without register
 * copies), from which the code offset is removed with the activations' block sums (xq_sum); the
 * vector is then converted and scaled once: acc += f32(dot − offset·Σx) · (w scales · x scales),
 * with the group's 16 weight scales gathered from the block stride. Levels 1 and 2 interleave
 * their operands' blocks, so the final lane order is fold_order below; the shared per-block
 * vectors (sums, scales, gather offsets) are read in that order instead of permuting every row's
 * sums.
 */
#ifndef TTT_KERNELS_AVX512_FOLD_H
#define TTT_KERNELS_AVX512_FOLD_H

#include "kernels_simd_common.h"

enum { GV_ROWS = 4, GV_BLOCKS = 16, GV_STEPS = GV_BLOCKS / 2 };

static const int32_t fold_order[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

/* [A|B], [C|D] (8 lanes per block: 128-bit lanes 0-1 block A, 2-3 block B) -> [A B C D] (4 lanes
 * per block, one 128-bit lane each). */
INLINE __m512i fold8(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88), _mm512_shuffle_i32x4(a, b, 0xdd));
}

/* 4 lanes per block -> 2: each 128-bit lane holds one block of a, then one of b. */
INLINE __m512i fold4(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
}

/* 2 lanes per block -> 1: each 128-bit lane holds the two blocks of a, then the two of b. */
INLINE __m512i fold2(__m512i a, __m512i b) {
  __m512 fa = _mm512_castsi512_ps(a), fb = _mm512_castsi512_ps(b);
  return _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(fa, fb, 0x88)),
                          _mm512_castps_si512(_mm512_shuffle_ps(fa, fb, 0xdd)));
}

/* Reading the f16 scales of blocks [0, nb) (nb <= 16) of a group (block_bytes apart, an even count,
 * the scale in the first two bytes of each) in fold_order lanes, 0 past nb. The group's bytes are
 * read as 64-byte vectors (masked to the nb blocks, so nothing past them is touched) and each pair
 * of vectors gives its scales with one two-table word permute: a few L1 loads and shuffles where a
 * 16-lane gather cost about a fifth of the q4_0 GEMV's time (bench_kernels, 1 thread). The plan
 * (permute indices and masks) depends only on nb and the block size: it is made once per group and
 * used for every row of a tile. */
enum {
  SCALE_VECTORS = (GV_BLOCKS * TTT_Q8_0_BLOCK_BYTES + 63) / 64,
  SCALE_PAIRS = SCALE_VECTORS / 2 + 1
};

typedef struct scale_plan {
  __m512i index;                    /* word lanes 0-15: index into a pair of vectors */
  __mmask32 lanes[SCALE_PAIRS];     /* word lanes each pair of vectors supplies */
  __mmask64 bytes[2 * SCALE_PAIRS]; /* bytes of each vector inside the nb blocks */
  int pairs;                        /* pairs of vectors that hold any of the nb blocks */
} scale_plan;

INLINE scale_plan scale_plan_make(int nb, int block_bytes) {
  const __m512i order = _mm512_loadu_si512(fold_order);
  /* Lane i reads word (block_bytes / 2)·fold_order[i] of the group: word w of vector w / 32. */
  __m512i word = _mm512_mullo_epi32(order, _mm512_set1_epi32(block_bytes / 2));
  __m512i vector = _mm512_srli_epi32(word, 5);
  /* Index of a two-table permute over vectors 2p and 2p + 1: bit 5 selects the second. */
  __m512i index =
      _mm512_or_si512(_mm512_and_si512(word, _mm512_set1_epi32(31)),
                      _mm512_slli_epi32(_mm512_and_si512(vector, _mm512_set1_epi32(1)), 5));
  __mmask16 valid = _mm512_cmplt_epi32_mask(order, _mm512_set1_epi32(nb));
  int64_t bytes = (int64_t)nb * block_bytes;
  scale_plan plan = {.index = _mm512_zextsi256_si512(_mm512_cvtepi32_epi16(index)),
                     .pairs = (int)((bytes + 127) / 128)};
#pragma GCC unroll 5
  for (int pair = 0; pair < plan.pairs; pair++) {
    plan.lanes[pair] = (__mmask32)_mm512_mask_cmpeq_epi32_mask(valid, _mm512_srli_epi32(vector, 1),
                                                               _mm512_set1_epi32(pair));
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      int64_t left = bytes - 128 * pair - 64 * h;
      plan.bytes[2 * pair + h] = left >= 64  ? ~(__mmask64)0
                                 : left <= 0 ? 0
                                             : ((__mmask64)1 << left) - 1;
    }
  }
  return plan;
}

INLINE __m512 group_scales(const scale_plan *plan, const uint8_t *group) {
  __m512i words = _mm512_setzero_si512();
#pragma GCC unroll 5
  for (int pair = 0; pair < plan->pairs; pair++) {
    __m512i v0 = _mm512_maskz_loadu_epi8(plan->bytes[2 * pair], group + 128 * pair);
    __m512i v1 = _mm512_maskz_loadu_epi8(plan->bytes[2 * pair + 1], group + 128 * pair + 64);
    words = _mm512_or_si512(
        words, _mm512_maskz_permutex2var_epi16(plan->lanes[pair], v0, plan->index, v1));
  }
  return _mm512_cvtph_ps(_mm512_castsi512_si256(words));
}

/* Ends a group of nb (<= 16) blocks starting at block b0: half[r] holds row r's four fold8
 * results; w_group[r] is the row's first block of the group (block_bytes apart, the f16 scale in
 * the first two bytes of each). The code offset is 2^offset_shift (128 for q8_0 made unsigned, 8
 * for q4_0 codes). */
INLINE void gv_finish(const ttt_gemm_problem *p, const uint8_t *const *w_group,
                      __m512i half[GV_ROWS][GV_STEPS / 2], __m512 acc[GV_ROWS], int rw, int64_t b0,
                      int nb, int offset_shift, int block_bytes) {
  /* Lane i is block fold_order[i] of the group; lanes of blocks past nb are 0. */
  const __m512i order = _mm512_loadu_si512(fold_order);
  __mmask16 valid = _mm512_cmplt_epi32_mask(order, _mm512_set1_epi32(nb));
  __m512i start =
      _mm512_sub_epi32(_mm512_setzero_si512(),
                       _mm512_sll_epi32(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid,
                                                                    order, p->xq_sum + b0, 4),
                                        _mm_cvtsi32_si128(offset_shift)));
  __m512 xs = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, order, p->xq_scale + b0, 4);
  scale_plan plan = scale_plan_make(nb, block_bytes);
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    __m512i dot = fold2(fold4(half[r][0], half[r][1]), fold4(half[r][2], half[r][3]));
    __m512 ws = group_scales(&plan, w_group[r]);
    acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(dot, start)),
                             _mm512_mul_ps(ws, xs), acc[r]);
  }
}

#endif /* TTT_KERNELS_AVX512_FOLD_H */
