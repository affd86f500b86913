/* Portable reference GEMM kernels: plain loops, f32 accumulation per q8_0 block. */
#include <string.h>

#include "kernels.h"

/* Reads weight row j of a 16-bit dtype into f32 on the fly. */
static float load_bf16(const uint16_t *w, int64_t i) { return ttt_bf16_to_f32(w[i]); }
static float load_f16(const uint16_t *w, int64_t i) { return ttt_f16_to_f32(w[i]); }

static float block_scale(const uint8_t *block) {
  uint16_t h;
  memcpy(&h, block, 2);
  return ttt_f16_to_f32(h);
}

static float add_bias(const ttt_gemm_problem *p, int64_t j, float acc) {
  return p->bias ? acc + p->bias[j] : acc;
}

void ttt_gemm_f32_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  const float *w = p->w;
  for (int64_t j = n0; j < n1; j++) {
    const float *wj = w + j * p->k;
    for (int64_t i = 0; i < p->m; i++) {
      const float *xi = p->x + i * p->k;
      float acc = 0.0f;
      for (int64_t t = 0; t < p->k; t++) acc += xi[t] * wj[t];
      p->y[i * p->ldy + j] = add_bias(p, j, acc);
    }
  }
}

static void gemm_16bit(const ttt_gemm_problem *p, int64_t n0, int64_t n1,
                       float (*load)(const uint16_t *, int64_t)) {
  const uint16_t *w = p->w;
  for (int64_t j = n0; j < n1; j++) {
    const uint16_t *wj = w + j * p->k;
    for (int64_t i = 0; i < p->m; i++) {
      const float *xi = p->x + i * p->k;
      float acc = 0.0f;
      for (int64_t t = 0; t < p->k; t++) acc += xi[t] * load(wj, t);
      p->y[i * p->ldy + j] = add_bias(p, j, acc);
    }
  }
}

void ttt_gemm_bf16_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  gemm_16bit(p, n0, n1, load_bf16);
}

void ttt_gemm_f16_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  gemm_16bit(p, n0, n1, load_f16);
}

void ttt_gemm_q8_0_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  const uint8_t *w = p->w;
  for (int64_t j = n0; j < n1; j++) {
    const uint8_t *wj = w + j * blocks * TTT_Q8_0_BLOCK_BYTES;
    for (int64_t i = 0; i < p->m; i++) {
      const float *xi = p->x + i * p->k;
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *block = wj + b * TTT_Q8_0_BLOCK_BYTES;
        const int8_t *q = (const int8_t *)(block + 2);
        float partial = 0.0f;
        for (int t = 0; t < TTT_Q8_0_BLOCK; t++)
          partial += xi[b * TTT_Q8_0_BLOCK + t] * (float)q[t];
        acc += partial * block_scale(block);
      }
      p->y[i * p->ldy + j] = add_bias(p, j, acc);
    }
  }
}

void ttt_gemm_q8_0_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  int64_t row_bytes = blocks * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *w = p->w;
  const uint8_t *xq = p->xq;
  for (int64_t j = n0; j < n1; j++) {
    const uint8_t *wj = w + j * row_bytes;
    for (int64_t i = 0; i < p->m; i++) {
      const uint8_t *xi = xq + i * row_bytes;
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *wb = wj + b * TTT_Q8_0_BLOCK_BYTES, *xb = xi + b * TTT_Q8_0_BLOCK_BYTES;
        int32_t dot = 0;
        for (int t = 0; t < TTT_Q8_0_BLOCK; t++)
          dot += (int32_t)(int8_t)wb[2 + t] * (int32_t)(int8_t)xb[2 + t];
        acc += (float)dot * block_scale(wb) * block_scale(xb);
      }
      p->y[i * p->ldy + j] = add_bias(p, j, acc);
    }
  }
}

void ttt_quantize_rows_ref(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                           float *scale, int32_t *sum) {
  int64_t blocks = k / TTT_Q8_0_BLOCK;
  size_t row_bytes = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  for (int64_t i = i0; i < i1; i++) {
    uint8_t *row = xq + (size_t)i * row_bytes;
    ttt_quantize_q8_0(x + i * k, k, row);
    for (int64_t b = 0; b < blocks; b++) {
      const uint8_t *block = row + b * TTT_Q8_0_BLOCK_BYTES;
      uint16_t h;
      memcpy(&h, block, 2);
      int32_t s = 0;
      for (int t = 0; t < TTT_Q8_0_BLOCK; t++) s += (int8_t)block[2 + t];
      scale[i * blocks + b] = ttt_f16_to_f32(h);
      sum[i * blocks + b] = s;
    }
  }
}

/* bf16 × bf16: each product is exact in f32 (8-bit significands), so only the f32 sum rounds. */
void ttt_gemm_bf16_bf16_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  const uint16_t *w = p->w;
  const uint16_t *xq = p->xq;
  int64_t stride = ttt_bf16_activation_stride(p->k);
  for (int64_t j = n0; j < n1; j++) {
    const uint16_t *wj = w + j * p->k;
    for (int64_t i = 0; i < p->m; i++) {
      const uint16_t *xi = xq + i * stride;
      float acc = 0.0f;
      for (int64_t t = 0; t < p->k; t++) acc += ttt_bf16_to_f32(xi[t]) * ttt_bf16_to_f32(wj[t]);
      p->y[i * p->ldy + j] = add_bias(p, j, acc);
    }
  }
}

void ttt_convert_rows_bf16_ref(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                               float *scale, int32_t *sum) {
  (void)scale, (void)sum; /* bf16 rows have no side arrays */
  int64_t stride = ttt_bf16_activation_stride(k);
  for (int64_t i = i0; i < i1; i++) {
    uint16_t *row = (uint16_t *)(void *)xq + i * stride;
    for (int64_t t = 0; t < k; t++) row[t] = ttt_f32_to_bf16(x[i * k + t]);
    if (stride > k) row[k] = 0;
  }
}
