/*
 * LM head: logits = (x · Wᵀ (+ b)) · scale, optionally soft-capped. With last_only only x's last row is
 * projected (generation needs just the next-token logits after a prefill). A tied head passes the
 * token embedding table as W: it has the same [vocab, hidden] layout.
 */
#include <math.h>

#include "block_util.h"
#include "runtime/kernels.h"
#include "runtime/runtime.h"

ttt_status ttt_lm_head_spec_validate(const ttt_lm_head_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "lm_head spec: NULL");
  if (spec->hidden < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "lm_head spec: hidden (%lld) must be >= 1",
                         (long long)spec->hidden);
  if (spec->vocab < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "lm_head spec: vocab (%lld) must be >= 1",
                         (long long)spec->vocab);
  if (!(spec->softcap >= 0.0f) || !isfinite(spec->softcap))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "lm_head spec: softcap (%g) must be finite and >= 0 (0 = none)",
                         (double)spec->softcap);
  if (!(spec->scale >= 0.0f) || !isfinite(spec->scale))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "lm_head spec: scale (%g) must be finite and >= 0 (0 = 1)",
                         (double)spec->scale);
  return TTT_OK;
}

ttt_lm_head_impl_config ttt_lm_head_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                        const ttt_lm_head_spec *spec) {
  (void)device;
  (void)spec;
  const ttt_block_defaults *d = ttt_block_defaults_for(mode);
  return (ttt_lm_head_impl_config){.weight_dtype = d->weight_dtype,
                                   .activation_dtype = d->activation_dtype,
                                   .kernel = d->kernel,
                                   .threads = 0};
}

typedef struct epilogue_job {
  float scale; /* 1: none */
  float cap;   /* 0: none */
  float *logits;
} epilogue_job;

static void epilogue_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const epilogue_job *job = arg;
  for (int64_t i = begin; i < end; i++) {
    float v = job->logits[i] * job->scale;
    job->logits[i] = job->cap != 0.0f ? job->cap * tanhf(v / job->cap) : v;
  }
}

ttt_status ttt_lm_head_forward(ttt_context *ctx, const ttt_lm_head_spec *spec,
                               const ttt_lm_head_impl_config *impl,
                               const ttt_lm_head_weights *weights, const ttt_tensor *x,
                               bool last_only, ttt_tensor *out) {
  if (!ctx || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "lm_head forward: NULL ctx, weights, x or out");
  ttt_status st = ttt_lm_head_spec_validate(spec);
  if (st != TTT_OK) return st;
  ttt_lm_head_impl_config cfg = impl ? *impl : (ttt_lm_head_impl_config){0};
  cfg.weight_dtype = ttt_block_weight_dtype(cfg.weight_dtype);
  cfg.activation_dtype = ttt_block_activation_dtype(cfg.activation_dtype);
  cfg.kernel = ttt_block_kernel(cfg.kernel);
  st = ttt_block_check_impl("lm_head impl", cfg.weight_dtype, cfg.activation_dtype, cfg.kernel);
  if (st == TTT_OK)
    st = ttt_block_check_matrix(&weights->weight, "lm_head.weight", cfg.weight_dtype, spec->vocab,
                                spec->hidden);
  if (st == TTT_OK)
    st = ttt_block_check_optional(&weights->bias, "lm_head.bias", spec->bias, "spec.bias");
  if (st == TTT_OK && spec->bias)
    st = ttt_block_check_vector(&weights->bias, "lm_head.bias", TTT_F32, spec->vocab);
  if (st == TTT_OK) st = ttt_block_check_rows(x, "lm_head x", -1, spec->hidden);
  if (st == TTT_OK)
    st = ttt_block_check_rows(out, last_only ? "lm_head out (last_only)" : "lm_head out",
                              last_only ? 1 : x->shape[0], spec->vocab);
  if (st == TTT_OK) st = ttt_block_check_no_alias(out, x, "lm_head");
  if (st != TTT_OK) return st;

  int64_t T = x->shape[0];
  int64_t rows = last_only ? 1 : T;
  const float *in = (const float *)x->data + (T - rows) * spec->hidden;
  ttt_linear_config lc = {
      .kernel = cfg.kernel, .activation_dtype = cfg.activation_dtype, .threads = cfg.threads};
  ttt_linear_op op = {.w = &weights->weight,
                      .bias = spec->bias ? weights->bias.data : NULL,
                      .y = out->data,
                      .name = "lm_head.weight"};
  st = ttt_linear(ctx, &lc, in, rows, spec->hidden, &op);
  float scale = spec->scale != 0.0f ? spec->scale : 1.0f;
  if (st != TTT_OK || (spec->softcap == 0.0f && scale == 1.0f)) return st;
  epilogue_job job = {.scale = scale, .cap = spec->softcap, .logits = out->data};
  ttt_parallel_for(ctx, cfg.threads, rows * spec->vocab, 4096, epilogue_range, &job);
  return TTT_OK;
}
