/*
 * block_util.h — helpers shared by the building blocks (not installed): the impl-config defaults
 * (one table row per mode) and argument checks whose errors name the offending tensor or field.
 */
#ifndef TTT_BLOCK_UTIL_H
#define TTT_BLOCK_UTIL_H

#include <ttt.h>

/* An attention spec's head dim: spec.head_dim, or hidden / n_heads when 0 (validated specs). */
static inline int64_t ttt_attention_head_dim(const ttt_attention_spec *s) {
  return s->head_dim ? s->head_dim : s->hidden / s->n_heads;
}

/* Impl-config defaults shared by every block, one row per ttt_mode. They follow the accuracy
 * strategy (f32 weights and activations); patterns switch weight/activation dtypes for the
 * performance strategy. */
typedef struct ttt_block_defaults {
  ttt_dtype weight_dtype;
  ttt_dtype activation_dtype;
  ttt_kernel kernel;
  bool fuse_projections; /* gate+up (MLP) or q/k/v (attention) in one parallel pass */
  bool group_by_expert;  /* MoE: one matmul per expert over its gathered tokens */
} ttt_block_defaults;

/* The row for `mode`; an unknown mode gets the prefill row. */
const ttt_block_defaults *ttt_block_defaults_for(ttt_mode mode);

/* Zero ("default") impl fields resolved to the defaults (identical in both modes). */
ttt_dtype ttt_block_weight_dtype(ttt_dtype requested);
ttt_dtype ttt_block_activation_dtype(ttt_dtype requested);
ttt_kernel ttt_block_kernel(ttt_kernel requested);

/* Checks resolved matmul dtypes of an impl config: weights f32/f16/bf16/q8_0, activations f32 or
 * q8_0 (q8_0 only with q8_0 weights), kernel a known value. `what` prefixes the error ("mlp impl").
 */
ttt_status ttt_block_check_impl(const char *what, ttt_dtype weight_dtype,
                                ttt_dtype activation_dtype, ttt_kernel kernel);

/* True when a weight view is given (a zero-initialized view means "absent"). */
static inline bool ttt_block_present(const ttt_tensor *t) { return t && t->data != NULL; }

/* A well-formed [rows, cols] tensor. dtype DEFAULT accepts any float dtype (references read any);
 * otherwise the dtype must match (TTT_ERR_DTYPE naming `name` and the impl's weight_dtype). */
ttt_status ttt_block_check_matrix(const ttt_tensor *t, const char *name, ttt_dtype dtype,
                                  int64_t rows, int64_t cols);
/* A well-formed [n] vector (1-D, or 2-D [1, n]) of `dtype` (DEFAULT: any float dtype). */
ttt_status ttt_block_check_vector(const ttt_tensor *t, const char *name, ttt_dtype dtype,
                                  int64_t n);
/* An optional tensor: must be present when `wanted`, absent otherwise (`flag` names the spec
 * field that decides, e.g. "spec.bias"). Returns TTT_OK when absent and unwanted. */
ttt_status ttt_block_check_optional(const ttt_tensor *t, const char *name, bool wanted,
                                    const char *flag);
/* An f32 activation tensor of shape [rows, cols]; rows < 0 accepts any row count. */
ttt_status ttt_block_check_rows(const ttt_tensor *t, const char *name, int64_t rows, int64_t cols);
/* TTT_ERR_INVALID_ARGUMENT when the byte ranges of two tensors overlap. */
ttt_status ttt_block_check_no_alias(const ttt_tensor *out, const ttt_tensor *x, const char *what);

/* Reports "prefix.name" (or whichever is non-NULL) to the observer; no-op without one (blocks and patterns
 * share it: attention reports its q/k norms, patterns their modules). */
void ttt_observe(const ttt_observer *observer, const char *prefix, const char *name, ttt_mode mode,
                 int64_t start_pos, const ttt_tensor *input, const ttt_tensor *output);

#endif
