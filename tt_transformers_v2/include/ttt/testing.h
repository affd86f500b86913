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

#include <stdio.h>

#include "patterns.h"

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
  int64_t count; /* values compared (after masking) */
  double pcc;
  double max_abs_err;
  double mean_abs_err;
  double nmse;         /* sum (a-b)² / sum b² (b = expected); 0 when both are zero */
  double cosine;       /* cosine similarity */
  bool allclose;       /* every |a - b| <= atol + rtol·|b| */
  int64_t worst_index; /* flat index of the largest |a - b| - (atol + rtol·|b|) */
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
                                           const ttt_embedding_weights *weights, const int32_t *ids,
                                           int64_t n, bool accumulate, double *out);
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

/* Multi-head latent attention over one sequence of T tokens at positions 0..T-1 (causal), every
 * latent expanded as HF does. x, out: T × hidden. A cached prefill then decodes (naive or absorbed)
 * must equal rows of this reference over the whole sequence. */
TTT_API ttt_status ttt_reference_mla(const ttt_mla_spec *spec, const ttt_mla_weights *weights,
                                     const double *x, int64_t T, double *out);

/* A decoder layer over one whole sequence at positions 0..T-1 (attention as ttt_reference_attention
 * with B = 1) in the spec's topology: norm placement, residual topology and multiplier, each
 * written out as its formula. x, out: T × hidden (out must not alias x). */
TTT_API ttt_status ttt_reference_decoder_layer(const ttt_decoder_layer_spec *spec,
                                               const ttt_decoder_layer_weights *weights,
                                               const double *x, int64_t T, double *out);

/* ------------------------------------------------------------------------------------------------ */
/* Test suite: cases with a target, inputs, a reference and expectations; a table and a JSON report  */
/* ------------------------------------------------------------------------------------------------ */

/* A suite is a list of cases written as designated-initializer structs:
 *
 *   ttt_suite *suite;
 *   ttt_suite_create(&(ttt_suite_options){.name = "llama3", .model = lm,
 *                                         .sample_run = generate, .sample_user = &prompt}, &suite);
 *   ttt_suite_add(suite, &(ttt_suite_case){.module = "layers.0.attention", .mode = TTT_MODE_DECODE,
 *                                          .input = TTT_SUITE_INPUT_TRACE,
 *                                          .reference = TTT_SUITE_REF_BUILTIN,
 *                                          .expect = {.pcc = 0.9999, .latency_ms = 0.2}});
 *   bool ok = ttt_suite_run(suite, ctx, stdout) == TTT_SUITE_PASSED;
 *   ttt_suite_write_json(suite, json_file);
 *   ttt_suite_destroy(suite);
 *
 * Target: a module path of the suite's model (its block runs with the mode's impl config and
 * weights), or a callback `fn` (any block function; then `module`, when also set, only names where
 * trace inputs and the built-in reference come from).
 * Inputs:
 *   EXPLICIT  `x`: one sequence of rows from position 0 (a module target in decode mode runs one
 *             decode step per row; embedding modules take i32 ids [n]).
 *   TRACE     the suite's sample_run is run once with an observer that records every input the
 *             module received in the case's mode during the first sequence it processes (a new
 *             sequence starts when positions go back). Attention modules also keep the inputs of
 *             the earlier positions, which are replayed into a fresh KV cache before each run.
 *   RANDOM    `random_shape` rows × columns from the suite seed, uniform in [-1, 1) (token ids
 *             uniform in [0, vocab) for embedding modules): reproducible for a given seed.
 * Reference:
 *   BUILTIN   the float64 reference of the block (ttt_reference_*): for a module, built from the
 *             model's spec and the weights the mode runs with (so it measures the implementation,
 *             not a dtype conversion); for a callback, from `block` (kind, spec, weights).
 *             Attention references see the whole replayed sequence (causal, positions from 0).
 *   GOLDEN    `golden`: the expected output values (e.g. loaded from safetensors by the caller).
 *   FN        `reference_fn(reference_user, x, expected)`: x the case's input, expected an f64
 *             [rows, out_dim] tensor to fill.
 * Expectations (0 = not checked): pcc (minimum), atol/rtol (allclose), max_abs. A case needs at
 * least one. Latency: the case's forward is repeated `repetitions` times (0 → 1, or 10 when
 * latency_ms is set) and the `percentile` (0 → 50) of the per-call milliseconds is reported (one
 * prefill call, or one decode step, averaged within a repetition). Above latency_ms the case is
 * marked SLOW but passes, unless strict_latency.
 *
 * Views given to a case (x, golden, block pointers, user data) are not copied: they must stay valid
 * until ttt_suite_run returns. Strings are copied. */

typedef struct ttt_suite ttt_suite;

typedef enum ttt_suite_input {
  TTT_SUITE_INPUT_NONE = 0, /* not set: the case is incomplete */
  TTT_SUITE_INPUT_EXPLICIT,
  TTT_SUITE_INPUT_TRACE,
  TTT_SUITE_INPUT_RANDOM
} ttt_suite_input;

typedef enum ttt_suite_reference {
  TTT_SUITE_REF_NONE = 0, /* not set: the case is incomplete */
  TTT_SUITE_REF_BUILTIN,
  TTT_SUITE_REF_GOLDEN,
  TTT_SUITE_REF_FN
} ttt_suite_reference;

/* A callback target: computes out ([rows, out_dim] f32, caller-allocated) from x (the case's input
 * rows). Called once per repetition, so it must not depend on earlier calls. */
typedef ttt_status (*ttt_suite_block_fn)(void *user, ttt_context *ctx, const ttt_tensor *x,
                                         ttt_tensor *out);
/* A caller's reference: fills expected ([rows, out_dim] f64, allocated by the suite). */
typedef ttt_status (*ttt_suite_reference_fn)(void *user, const ttt_tensor *x, ttt_tensor *expected);
/* Trace capture: runs the model as a user would (e.g. prefill a prompt, decode 8 tokens), passing
 * `observer` to every forward call. */
typedef ttt_status (*ttt_suite_sample_fn)(ttt_context *ctx, const ttt_causal_lm *model, void *user,
                                          const ttt_observer *observer);

typedef struct ttt_suite_expect {
  double pcc;          /* minimum PCC */
  double atol, rtol;   /* allclose: |a - b| <= atol + rtol·|b| for every value */
  double max_abs;      /* maximum |a - b| */
  double latency_ms;   /* cap on the latency percentile */
  double percentile;   /* 0 → 50 */
  int32_t repetitions; /* 0 → 1, or 10 with latency_ms */
  bool strict_latency; /* a latency above the cap fails the case */
} ttt_suite_expect;

typedef struct ttt_suite_case {
  const char *name; /* shown in the report; NULL → the module path, or "case N" */
  /* target */
  const char *module;    /* module path of the suite's model, e.g. "layers.0.attention" */
  ttt_mode mode;         /* the mode whose impl config, weights and traced calls are used */
  ttt_suite_block_fn fn; /* callback target (with user); overrides the module's block */
  void *user;
  int64_t out_dim; /* callback: last dim of the output; 0 → from the block, else the input's */
  ttt_module_view block; /* callback + BUILTIN: kind, spec and weights of the block it implements */
  /* inputs */
  ttt_suite_input input;
  ttt_tensor x;            /* EXPLICIT: [rows, cols] f32 (or [n] i32 ids for embeddings) */
  int64_t random_shape[2]; /* RANDOM: rows, columns (columns ignored for embeddings) */
  /* reference */
  ttt_suite_reference reference;
  ttt_tensor golden;                   /* GOLDEN: rows × out_dim values, any float dtype */
  ttt_suite_reference_fn reference_fn; /* FN */
  void *reference_user;
  ttt_suite_expect expect;
} ttt_suite_case;

typedef struct ttt_suite_options {
  const char *name;               /* report title; NULL → "suite" */
  const ttt_causal_lm *model;     /* required by module targets */
  ttt_suite_sample_fn sample_run; /* required by TRACE inputs */
  void *sample_user;
  uint64_t seed; /* RANDOM inputs; 0 is a valid seed */
} ttt_suite_options;

typedef enum ttt_suite_outcome {
  TTT_SUITE_PASSED = 0, /* every case met its accuracy (and strict latency) expectations */
  TTT_SUITE_FAILED,     /* at least one case failed: see the table, results or JSON */
  TTT_SUITE_ERROR       /* nothing or not everything ran: ttt_last_error() says why */
} ttt_suite_outcome;

typedef struct ttt_suite_result {
  const char *name;
  const char *module; /* NULL for callback-only cases */
  ttt_mode mode;
  int64_t rows; /* output rows compared */
  ttt_compare_result compare;
  double latency_ms; /* at `percentile` */
  double percentile;
  bool accuracy_ok;
  bool latency_ok;   /* true when no cap is set */
  bool passed;       /* accuracy_ok and (latency_ok or not strict) */
  char failure[192]; /* what failed ("" when passed and fast) */
} ttt_suite_result;

TTT_API ttt_status ttt_suite_create(const ttt_suite_options *options, ttt_suite **out);
TTT_API void ttt_suite_destroy(ttt_suite *suite);
/* Copies the case (not the tensors it points to). Completeness is checked by ttt_suite_run. */
TTT_API ttt_status ttt_suite_add(ttt_suite *suite, const ttt_suite_case *c);
/* Checks that every case is complete (target, inputs, reference, an accuracy expectation; the
 * first incomplete case is named in the error and nothing runs), runs the sample run once if any
 * case traces, runs every case, and prints the table to `table` (NULL: no table). A case whose
 * forward or reference fails is an error (TTT_SUITE_ERROR naming the case). Re-running a suite
 * runs everything again. */
TTT_API ttt_suite_outcome ttt_suite_run(ttt_suite *suite, ttt_context *ctx, FILE *table);
TTT_API int64_t ttt_suite_case_count(const ttt_suite *suite);
/* Result `i` of the last run (in the order of ttt_suite_add). */
TTT_API ttt_status ttt_suite_get_result(const ttt_suite *suite, int64_t i, ttt_suite_result *out);
/* Writes the last run as JSON: {"suite", "seed", "passed", "cases": [{"name", "module", "mode",
 * "rows", "pcc", "max_abs_err", "mean_abs_err", "allclose", "latency_ms", "percentile",
 * "latency_cap_ms", "strict_latency", "accuracy_ok", "latency_ok", "passed", "failure"}]}.
 * Non-finite numbers are written as null. */
TTT_API ttt_status ttt_suite_write_json(const ttt_suite *suite, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* TTT_TESTING_H */
