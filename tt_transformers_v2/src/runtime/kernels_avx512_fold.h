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

/* The f16 scales of blocks [0, nb) (nb <= 16) of the group at `group` (block_bytes apart, an even
 * count, the scale in the first two bytes of each block), widened to f32 in fold_order lanes and 0
 * past nb. The group's bytes are read as 64-byte vectors (masked to the nb blocks, so nothing past
 * them is touched) and each pair of vectors gives its scales with one two-table word permute: a
 * few L1 loads and shuffles where a 16-lane gather costs about a fifth of the q4_0 GEMV's time
 * (bench_kernels, 1 thread). */
INLINE __m512 group_scales(const uint8_t *group, int nb, int block_bytes) {
  enum { MAX_VECTORS = (GV_BLOCKS * TTT_Q8_0_BLOCK_BYTES + 63) / 64 };
  const __m512i order = _mm512_loadu_si512(fold_order);
  /* Lane i reads word (block_bytes / 2)·fold_order[i] of the group: word w of vector w / 32. */
  __m512i word = _mm512_mullo_epi32(order, _mm512_set1_epi32(block_bytes / 2));
  __m512i vector = _mm512_srli_epi32(word, 5);
  /* Index of a two-table permute over vectors 2p and 2p + 1: bit 5 selects the second. */
  __m512i index =
      _mm512_or_si512(_mm512_and_si512(word, _mm512_set1_epi32(31)),
                      _mm512_slli_epi32(_mm512_and_si512(vector, _mm512_set1_epi32(1)), 5));
  __m512i index16 = _mm512_zextsi256_si512(_mm512_cvtepi32_epi16(index));
  __mmask16 valid = _mm512_cmplt_epi32_mask(order, _mm512_set1_epi32(nb));
  int64_t bytes = (int64_t)nb * block_bytes;
  __m512i words = _mm512_setzero_si512();
#pragma GCC unroll 5
  for (int pair = 0; 2 * pair < MAX_VECTORS; pair++) {
    int64_t start = 128 * pair;
    if (start >= bytes) break;
    __m512i v[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      int64_t left = bytes - start - 64 * h;
      __mmask64 mask = left >= 64 ? ~(__mmask64)0 : left <= 0 ? 0 : ((__mmask64)1 << left) - 1;
      v[h] = _mm512_maskz_loadu_epi8(mask, group + start + 64 * h);
    }
    __mmask32 lanes = (__mmask32)_mm512_mask_cmpeq_epi32_mask(valid, _mm512_srli_epi32(vector, 1),
                                                              _mm512_set1_epi32(pair));
    words = _mm512_or_si512(words, _mm512_maskz_permutex2var_epi16(lanes, v[0], index16, v[1]));
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
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    __m512i dot = fold2(fold4(half[r][0], half[r][1]), fold4(half[r][2], half[r][3]));
    __m512 ws = group_scales(w_group[r], nb, block_bytes);
    acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(dot, start)),
                             _mm512_mul_ps(ws, xs), acc[r]);
  }
}

#endif /* TTT_KERNELS_AVX512_FOLD_H */
