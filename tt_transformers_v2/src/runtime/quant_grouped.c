/* The grouped block dtypes (q8_0_g16, q4_0_g16; layout in ttt/core.h): addressing, exact
 * conversion from and to the row-major block dtypes, and the portable matmul kernel. */
#include <string.h>

#include <ttt.h>

#include "kernels.h"
#include "quant.h"

enum { SCALE_BYTES = TTT_G16_ROWS * 2, ALIGN = 64 };

bool ttt_dtype_is_grouped(ttt_dtype dtype) {
  return dtype == TTT_Q8_0_G16 || dtype == TTT_Q4_0_G16;
}

ttt_dtype ttt_grouped_base(ttt_dtype dtype) {
  if (dtype == TTT_Q8_0_G16) return TTT_Q8_0;
  if (dtype == TTT_Q4_0_G16) return TTT_Q4_0;
  return dtype;
}

ttt_dtype ttt_grouped_of(ttt_dtype dtype) {
  if (dtype == TTT_Q8_0) return TTT_Q8_0_G16;
  if (dtype == TTT_Q4_0) return TTT_Q4_0_G16;
  return dtype;
}

size_t ttt_grouped_code_bytes(ttt_dtype dtype) {
  return dtype == TTT_Q8_0_G16 ? TTT_G16_ROWS * TTT_Q8_0_BLOCK : TTT_G16_ROWS * TTT_Q4_0_BLOCK / 2;
}

size_t ttt_grouped_group_bytes(ttt_dtype dtype, int64_t k) {
  size_t bytes = (size_t)(k / TTT_Q8_0_BLOCK) * (ttt_grouped_code_bytes(dtype) + SCALE_BYTES);
  return (bytes + ALIGN - 1) / ALIGN * ALIGN;
}

size_t ttt_grouped_bytes(ttt_dtype dtype, int64_t rows, int64_t k) {
  size_t groups = (size_t)((rows + TTT_G16_ROWS - 1) / TTT_G16_ROWS);
  size_t group = ttt_grouped_group_bytes(dtype, k);
  if (group != 0 && groups > SIZE_MAX / group) return 0;
  return groups * group;
}

/* Where row r's data sits: its group, its lane in the group, and the group's scales. */
typedef struct grouped_row {
  uint8_t *codes;  /* the group's block 0 codes, offset to the row's lane (4 bytes per step) */
  uint8_t *scales; /* the group's block 0 scales, offset to the row's f16 */
  size_t code_bytes;
} grouped_row;

static grouped_row locate(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r) {
  int64_t blocks = k / TTT_Q8_0_BLOCK;
  size_t code_bytes = ttt_grouped_code_bytes(dtype);
  uint8_t *group = (uint8_t *)data + (size_t)(r / TTT_G16_ROWS) * ttt_grouped_group_bytes(dtype, k);
  int lane = (int)(r % TTT_G16_ROWS);
  return (grouped_row){.codes = group + 4 * lane,
                       .scales = group + (size_t)blocks * code_bytes + 2 * lane,
                       .code_bytes = code_bytes};
}

/* Byte `byte` of a block's codes (q8_0: 32 codes, q4_0: 16 bytes of nibble pairs) in the group:
 * step byte/4, lane, byte%4. */
static size_t code_offset(size_t block, size_t code_bytes, int byte) {
  return block * code_bytes + (size_t)(byte / 4) * 64 + (size_t)(byte % 4);
}

/* Dwords of codes per block: 8 (q8_0: 32 codes) or 4 (q4_0: 16 bytes of nibble pairs). q8_0
 * codes are stored unsigned (c + 128: the top bit of each byte flipped). */
static int code_dwords(ttt_dtype dtype) { return dtype == TTT_Q8_0_G16 ? 8 : 4; }
static uint32_t code_flip(ttt_dtype dtype) { return dtype == TTT_Q8_0_G16 ? 0x80808080u : 0; }

void ttt_grouped_store_row(ttt_dtype dtype, uint8_t *data, int64_t k, int64_t r,
                           const uint8_t *blocks_in) {
  grouped_row row = locate(dtype, data, k, r);
  size_t in_bytes = dtype == TTT_Q8_0_G16 ? TTT_Q8_0_BLOCK_BYTES : TTT_Q4_0_BLOCK_BYTES;
  uint32_t flip = code_flip(dtype);
  for (size_t b = 0; b < (size_t)(k / TTT_Q8_0_BLOCK); b++) {
    const uint8_t *in = blocks_in + b * in_bytes;
    memcpy(row.scales + b * SCALE_BYTES, in, 2);
    for (int s = 0; s < code_dwords(dtype); s++) {
      uint32_t codes;
      memcpy(&codes, in + 2 + 4 * s, 4);
      codes ^= flip;
      memcpy(row.codes + b * row.code_bytes + (size_t)s * 64, &codes, 4);
    }
  }
}

void ttt_grouped_load_row(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r,
                          uint8_t *blocks_out) {
  grouped_row row = locate(dtype, data, k, r);
  size_t out_bytes = dtype == TTT_Q8_0_G16 ? TTT_Q8_0_BLOCK_BYTES : TTT_Q4_0_BLOCK_BYTES;
  uint32_t flip = code_flip(dtype);
  for (size_t b = 0; b < (size_t)(k / TTT_Q8_0_BLOCK); b++) {
    uint8_t *out = blocks_out + b * out_bytes;
    memcpy(out, row.scales + b * SCALE_BYTES, 2);
    for (int s = 0; s < code_dwords(dtype); s++) {
      uint32_t codes;
      memcpy(&codes, row.codes + b * row.code_bytes + (size_t)s * 64, 4);
      codes ^= flip;
      memcpy(out + 2 + 4 * s, &codes, 4);
    }
  }
}

/* Value t of row r as its signed code (q8_0: c; q4_0: c − 8) and its block's f16 scale. */
static int32_t grouped_code(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r, int64_t t) {
  grouped_row row = locate(dtype, data, k, r);
  size_t block = (size_t)(t / TTT_Q8_0_BLOCK);
  int in_block = (int)(t % TTT_Q8_0_BLOCK);
  if (dtype == TTT_Q8_0_G16)
    return (int32_t)row.codes[code_offset(block, row.code_bytes, in_block)] - 128;
  uint8_t pair = row.codes[code_offset(block, row.code_bytes, in_block % 16)];
  return (int32_t)(in_block < 16 ? pair & 0x0f : pair >> 4) - 8;
}

static float grouped_scale(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r,
                           int64_t block) {
  grouped_row row = locate(dtype, data, k, r);
  uint16_t h;
  memcpy(&h, row.scales + (size_t)block * SCALE_BYTES, 2);
  return ttt_f16_to_f32(h);
}

float ttt_grouped_value(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r, int64_t t) {
  return grouped_scale(dtype, data, k, r, t / TTT_Q8_0_BLOCK) *
         (float)grouped_code(dtype, data, k, r, t);
}

void ttt_grouped_dequantize_row(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r,
                                float *dst) {
  grouped_row row = locate(dtype, data, k, r);
  for (size_t b = 0; b < (size_t)(k / TTT_Q8_0_BLOCK); b++) {
    uint16_t h;
    memcpy(&h, row.scales + b * SCALE_BYTES, 2);
    float scale = ttt_f16_to_f32(h);
    float *out = dst + b * TTT_Q8_0_BLOCK;
    for (int s = 0; s < code_dwords(dtype); s++) {
      const uint8_t *codes = row.codes + b * row.code_bytes + (size_t)s * 64;
      for (int q = 0; q < 4; q++) {
        if (dtype == TTT_Q8_0_G16) {
          out[4 * s + q] = scale * (float)((int)codes[q] - 128);
        } else { /* byte 4s + q: values 4s + q (low nibble) and 16 + 4s + q (high) */
          out[4 * s + q] = scale * (float)((codes[q] & 0x0f) - 8);
          out[16 + 4 * s + q] = scale * (float)((codes[q] >> 4) - 8);
        }
      }
    }
  }
}

/* Portable kernel, the same sums as ttt_gemm_q8_0_q8_ref: per block an int32 dot of the codes,
 * scaled by both blocks' scales, added in block order. */
static void gemm_grouped_ref(ttt_dtype dtype, const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  size_t row_bytes = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  for (int64_t j = n0; j < n1; j++) {
    for (int64_t i = 0; i < p->m; i++) {
      const uint8_t *xi = (const uint8_t *)p->xq + (size_t)i * row_bytes;
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *xb = xi + (size_t)b * TTT_Q8_0_BLOCK_BYTES;
        int32_t dot = 0;
        for (int t = 0; t < TTT_Q8_0_BLOCK; t++)
          dot += grouped_code(dtype, p->w, p->k, j, b * TTT_Q8_0_BLOCK + t) * (int8_t)xb[2 + t];
        uint16_t xh;
        memcpy(&xh, xb, 2);
        acc += (float)dot * grouped_scale(dtype, p->w, p->k, j, b) * ttt_f16_to_f32(xh);
      }
      p->y[i * p->ldy + j] = acc + (p->bias ? p->bias[j] : 0.0f);
    }
  }
}

void ttt_gemm_q8_0g_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  gemm_grouped_ref(TTT_Q8_0_G16, p, n0, n1);
}

void ttt_gemm_q4_0g_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  gemm_grouped_ref(TTT_Q4_0_G16, p, n0, n1);
}
