/* Portable reference kernel for q4_0 weights × q8_0 activations: int32 block dots, f32 scaling. */
#include <string.h>

#include "kernels.h"

static float f16_at(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return ttt_f16_to_f32(h);
}

/* Σ (c[t] − 8) · x[t] over one q4_0 block and one q8_0 block (exact in int32). */
static int32_t block_dot(const uint8_t *wb, const uint8_t *xb) {
  int32_t dot = 0;
  for (int t = 0; t < TTT_Q4_0_BLOCK / 2; t++) {
    uint8_t byte = wb[2 + t];
    dot += ((int32_t)(byte & 0x0f) - 8) * (int32_t)(int8_t)xb[2 + t];
    dot += ((int32_t)(byte >> 4) - 8) * (int32_t)(int8_t)xb[2 + t + 16];
  }
  return dot;
}

void ttt_gemm_q4_0_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  int64_t blocks = p->k / TTT_Q4_0_BLOCK;
  size_t w_row = (size_t)blocks * TTT_Q4_0_BLOCK_BYTES,
         x_row = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  for (int64_t j = n0; j < n1; j++) {
    const uint8_t *wj = (const uint8_t *)p->w + (size_t)j * w_row;
    for (int64_t i = 0; i < p->m; i++) {
      const uint8_t *xi = (const uint8_t *)p->xq + (size_t)i * x_row;
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *wb = wj + b * TTT_Q4_0_BLOCK_BYTES, *xb = xi + b * TTT_Q8_0_BLOCK_BYTES;
        acc += (float)block_dot(wb, xb) * f16_at(wb) * f16_at(xb);
      }
      p->y[i * p->ldy + j] = p->bias ? acc + p->bias[j] : acc;
    }
  }
}
