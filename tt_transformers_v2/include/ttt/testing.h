/*
 * ttt/testing.h — the testing toolkit: comparison metrics and float64 reference implementations.
 *
 * Part of the public API; include <ttt.h>, not this file directly.
 *
 * Reference implementations are written for clarity in plain float64 loops and share no kernels with
 * the optimized path: they are the oracles the block tests and the suite compare against. They read
 * weights of any float dtype (dequantizing element by element) and take and produce double arrays,
 * so references compose (a decoder layer's reference chains the blocks' references) without
 * rounding to f32 in between. They are slow by design: use short sequences.
 */
#ifndef TTT_TESTING_H
#define TTT_TESTING_H

#include "blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------ */
/* Metrics                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

/* Pearson correlation of two equally sized float tensors (any float dtype), accumulated in float64,
 * with TT-Transformers semantics: both all-NaN → 1; exactly one all-NaN → 0; NaN positions must agree
 * otherwise (a NaN in one tensor only → 0); identical → 1; exactly one all-zero → 0; both constant →
 * 1 if allclose(a, b, atol 1e-6, rtol 1e-4) else 0. Returns NaN on invalid arguments (error set). */
TTT_API double ttt_pcc(const ttt_tensor *a, const ttt_tensor *b);

typedef struct ttt_compare_result {
  int64_t count;        /* values compared (after masking) */
  double pcc;
  double max_abs_err;
  double mean_abs_err;
  double nmse;          /* sum (a-b)² / sum b² (b = expected); 0 when both are zero */
  double cosine;        /* cosine similarity */
  bool allclose;        /* every |a - b| <= atol + rtol·|b| */
  int64_t worst_index;  /* flat index of the largest |a - b| - (atol + rtol·|b|) */
  double worst_actual, worst_expected;
} ttt_compare_result;

/* Compares `actual` with `expected` (same number of values, any float dtypes). `mask` (may be NULL)
 * selects the values to compare (1 = compare) with one byte per value. */
TTT_API ttt_status ttt_compare(const ttt_tensor *actual, const ttt_tensor *expected,
                               const uint8_t *mask, double atol, double rtol,
                               ttt_compare_result *out);

typedef struct ttt_logits_result {
  int64_t rows;
  double top1_agreement; /* fraction of rows whose argmax agrees */
  double top5_agreement; /* fraction of rows whose expected argmax is in actual's top 5 */
  double mean_kl;        /* mean over rows of KL(softmax(expected) || softmax(actual)), nats */
  double max_kl;
} ttt_logits_result;

/* actual and expected are [rows, vocab] logits (any float dtypes). */
TTT_API ttt_status ttt_compare_logits(const ttt_tensor *actual, const ttt_tensor *expected,
                                      ttt_logits_result *out);

/* ------------------------------------------------------------------------------------------------ */
/* Float64 reference implementations (one per block)                                                 */
/* ------------------------------------------------------------------------------------------------ */

/* x: rows × spec.dim doubles; out may equal x. */
TTT_API ttt_status ttt_reference_norm(const ttt_norm_spec *spec, const ttt_norm_weights *weights,
                                      const double *x, int64_t rows, double *out);
/* out: n × dim; accumulate adds to out instead of overwriting. */
TTT_API ttt_status ttt_reference_embedding(const ttt_embedding_spec *spec,
                                           const ttt_embedding_weights *weights,
                                           const int32_t *ids, int64_t n, bool accumulate,
                                           double *out);
/* The rotary_dim/2 inverse frequencies of a rope spec. */
TTT_API ttt_status ttt_reference_rope_inv_freq(const ttt_rope_spec *spec, double *out, int64_t n);
/* Rotates x [T, heads, head_dim] in place for positions[t]. */
TTT_API ttt_status ttt_reference_rope_apply(const ttt_rope_spec *spec, double *x, int64_t T,
                                            int64_t heads, const int32_t *positions);
/* x, out: T × hidden (out must not alias x). */
TTT_API ttt_status ttt_reference_mlp(const ttt_mlp_spec *spec, const ttt_mlp_weights *weights,
                                     const double *x, int64_t T, double *out);
TTT_API ttt_status ttt_reference_moe(const ttt_moe_spec *spec, const ttt_moe_weights *weights,
                                     const double *x, int64_t T, double *out);
/* out: T × vocab. */
TTT_API ttt_status ttt_reference_lm_head(const ttt_lm_head_spec *spec,
                                         const ttt_lm_head_weights *weights, const double *x,
                                         int64_t T, double *out);
/* Attention over a whole batch of B sequences of T tokens at positions 0..T-1, with masks made
 * explicit: causal (unless bidirectional), sliding window, key padding (key_mask [B·T], 1 = attend,
 * NULL = all). x, out: B × T × hidden. A cached prefill of T tokens then D decodes must equal rows
 * of this reference over T + D tokens. */
TTT_API ttt_status ttt_reference_attention(const ttt_attention_spec *spec,
                                           const ttt_attention_weights *weights, const double *x,
                                           int64_t B, int64_t T, const uint8_t *key_mask,
                                           double *out);

#ifdef __cplusplus
}
#endif

#endif /* TTT_TESTING_H */
