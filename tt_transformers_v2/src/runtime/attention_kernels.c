/* Attention tile kernels: the portable versions and the run-time choice between them and the SIMD
 * ones (contracts in kernels.h). */
#include <math.h>
#include <string.h>

#include "kernels.h"

/* Value d of a key/value row stored as f32 or bf16. */
static float row_value(const void *row, ttt_dtype dtype, int64_t d) {
  if (dtype == TTT_F32) return ((const float *)row)[d];
  return ttt_bf16_to_f32(((const uint16_t *)row)[d]);
}

void ttt_attn_scores_ref(const float *q, int64_t ldq, int64_t nq, const void *const *k,
                         ttt_dtype dtype, int64_t n, int64_t hd, float scale, float *s,
                         int64_t lds) {
  for (int64_t r = 0; r < nq; r++)
    for (int64_t i = 0; i < n; i++) {
      float acc = 0.0f;
      for (int64_t d = 0; d < hd; d++) acc += q[r * ldq + d] * row_value(k[i], dtype, d);
      s[r * lds + i] = acc * scale;
    }
}

void ttt_attn_softmax_ref(float *s, int64_t lds, int64_t nq, int64_t n, float *m, float *l,
                          float *rescale) {
  for (int64_t r = 0; r < nq; r++) {
    float *row = s + r * lds, tile_max = -INFINITY;
    for (int64_t i = 0; i < n; i++) tile_max = row[i] > tile_max ? row[i] : tile_max;
    rescale[r] = 1.0f;
    if (tile_max == -INFINITY) { /* no visible key in this tile */
      memset(row, 0, (size_t)n * sizeof(float));
      continue;
    }
    float m_new = m[r] > tile_max ? m[r] : tile_max, sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
      row[i] = expf(row[i] - m_new);
      sum += row[i];
    }
    rescale[r] = expf(m[r] - m_new); /* 0 on the row's first visible tile (m = -inf) */
    l[r] = l[r] * rescale[r] + sum;
    m[r] = m_new;
  }
}

void ttt_attn_accumulate_ref(const float *p, int64_t ldp, int64_t nq, const void *const *v,
                             ttt_dtype dtype, int64_t n, int64_t hd, const float *rescale,
                             float *acc, int64_t ldacc) {
  for (int64_t r = 0; r < nq; r++) {
    float *a = acc + r * ldacc;
    for (int64_t d = 0; d < hd; d++) a[d] *= rescale[r];
    for (int64_t i = 0; i < n; i++) {
      float w = p[r * ldp + i];
      if (w == 0.0f) continue; /* masked or underflowed key */
      for (int64_t d = 0; d < hd; d++) a[d] += w * row_value(v[i], dtype, d);
    }
  }
}

/* Best first; an entry is used when the device has all of its `isa` bits. */
typedef struct attention_entry {
  uint32_t isa;
  ttt_attention_kernel kernel;
} attention_entry;

static const attention_entry attention_table[] = {
    {ISA_AVX512,
     {ttt_attn_scores_avx512, ttt_attn_softmax_avx512, ttt_attn_accumulate_avx512,
      "attention_avx512"}},
    {ISA_AVX2,
     {ttt_attn_scores_avx2, ttt_attn_softmax_avx2, ttt_attn_accumulate_avx2, "attention_avx2"}},
    {0, {ttt_attn_scores_ref, ttt_attn_softmax_ref, ttt_attn_accumulate_ref, "attention_ref"}},
};

ttt_attention_kernel ttt_attention_kernel_select(const ttt_device *device, ttt_kernel kernel) {
  uint32_t isa = (kernel == TTT_KERNEL_REFERENCE || !device) ? 0 : device->isa;
  size_t count = sizeof attention_table / sizeof attention_table[0];
  for (size_t i = 0; i + 1 < count; i++)
    if ((isa & attention_table[i].isa) == attention_table[i].isa) return attention_table[i].kernel;
  return attention_table[count - 1].kernel;
}
