/*
 * RMSNorm and LayerNorm over the last dim. Rows are independent, so they are split across the
 * thread pool; each row is reduced, then scaled in one pass (which makes in-place use safe).
 */
#include <math.h>

#include "block_util.h"
#include "runtime/runtime.h"

const char *ttt_norm_type_name(ttt_norm_type type) {
  return type == TTT_NORM_RMS ? "rms" : type == TTT_NORM_LAYER ? "layer" : "unknown";
}

ttt_status ttt_norm_spec_validate(const ttt_norm_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "norm spec: NULL");
  if (spec->type != TTT_NORM_RMS && spec->type != TTT_NORM_LAYER)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "norm spec: type (%d) is not TTT_NORM_RMS or TTT_NORM_LAYER",
                         (int)spec->type);
  if (spec->dim < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "norm spec: dim (%lld) must be >= 1",
                         (long long)spec->dim);
  if (!(spec->eps > 0.0f) || !isfinite(spec->eps))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "norm spec: eps (%g) must be finite and > 0",
                         (double)spec->eps);
  if (spec->type == TTT_NORM_LAYER && spec->weight_offset)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "norm spec: weight_offset applies to RMSNorm only (type is LayerNorm)");
  if (spec->type == TTT_NORM_RMS && spec->bias)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "norm spec: bias applies to LayerNorm only (type is RMSNorm)");
  return TTT_OK;
}

ttt_norm_impl_config ttt_norm_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                  const ttt_norm_spec *spec) {
  (void)device;
  (void)spec;
  return (ttt_norm_impl_config){.kernel = ttt_block_defaults_for(mode)->kernel, .threads = 0};
}

/* ---- row reductions: the reference kernel sums sequentially; the SIMD kernel keeps 8
 * independent partial sums (one vector register's worth) that the compiler vectorizes. ---- */

enum { LANES = 8 };

static float sum_sequential(const float *x, int64_t n, float center, bool squared) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    float d = x[i] - center;
    acc += squared ? d * d : d;
  }
  return acc;
}

static float sum_lanes(const float *x, int64_t n, float center, bool squared) {
  float lanes[LANES] = {0};
  int64_t body = n - n % LANES;
  if (squared) {
    for (int64_t i = 0; i < body; i += LANES)
      for (int l = 0; l < LANES; l++) lanes[l] += (x[i + l] - center) * (x[i + l] - center);
  } else {
    for (int64_t i = 0; i < body; i += LANES)
      for (int l = 0; l < LANES; l++) lanes[l] += x[i + l] - center;
  }
  float tail = sum_sequential(x + body, n - body, center, squared);
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
         ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7])) + tail;
}

typedef struct norm_job {
  const ttt_norm_spec *spec;
  float (*sum)(const float *x, int64_t n, float center, bool squared);
  const float *x, *weight, *bias; /* bias NULL unless LayerNorm with bias */
  float *y;
} norm_job;

static void norm_rows(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const norm_job *job = arg;
  int64_t n = job->spec->dim;
  bool layer = job->spec->type == TTT_NORM_LAYER;
  float offset = job->spec->weight_offset ? 1.0f : 0.0f;
  for (int64_t r = begin; r < end; r++) {
    const float *x = job->x + r * n;
    float *y = job->y + r * n;
    float mean = layer ? job->sum(x, n, 0.0f, false) / (float)n : 0.0f;
    /* LayerNorm: biased variance around the mean (two passes, stable); RMSNorm: mean square. */
    float var = job->sum(x, n, mean, true) / (float)n;
    float inv = 1.0f / sqrtf(var + job->spec->eps);
    for (int64_t i = 0; i < n; i++) {
      float v = (x[i] - mean) * inv * (job->weight[i] + offset);
      y[i] = job->bias ? v + job->bias[i] : v;
    }
  }
}

static ttt_status check_io(const ttt_norm_spec *spec, const ttt_tensor *x, const ttt_tensor *out) {
  ttt_status st = ttt_tensor_check(x, "norm x");
  if (st == TTT_OK) st = ttt_tensor_check(out, "norm out");
  if (st != TTT_OK) return st;
  if (x->dtype != TTT_F32 || out->dtype != TTT_F32)
    return ttt_set_error(TTT_ERR_DTYPE, "norm: x and out must be f32 (got %s and %s)",
                         ttt_dtype_name(x->dtype), ttt_dtype_name(out->dtype));
  if (x->shape[x->ndim - 1] != spec->dim)
    return ttt_set_error(TTT_ERR_SHAPE, "norm x: last dim (%lld) must equal spec.dim (%lld)",
                         (long long)x->shape[x->ndim - 1], (long long)spec->dim);
  if (out->shape[out->ndim - 1] != spec->dim || ttt_tensor_numel(out) != ttt_tensor_numel(x))
    return ttt_set_error(TTT_ERR_SHAPE,
                         "norm out: must hold %lld rows of spec.dim (%lld) values like x",
                         (long long)(ttt_tensor_numel(x) / spec->dim), (long long)spec->dim);
  if (out->data != x->data) return ttt_block_check_no_alias(out, x, "norm");
  return TTT_OK;
}

ttt_status ttt_norm_forward(ttt_context *ctx, const ttt_norm_spec *spec,
                            const ttt_norm_impl_config *impl, const ttt_norm_weights *weights,
                            const ttt_tensor *x, ttt_tensor *out) {
  if (!ctx || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "norm forward: NULL ctx, weights, x or out");
  ttt_status st = ttt_norm_spec_validate(spec);
  if (st != TTT_OK) return st;
  ttt_norm_impl_config cfg = impl ? *impl : (ttt_norm_impl_config){0};
  cfg.kernel = ttt_block_kernel(cfg.kernel);
  if (cfg.kernel != TTT_KERNEL_REFERENCE && cfg.kernel != TTT_KERNEL_SIMD)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "norm impl: kernel %d is not a ttt_kernel value",
                         (int)cfg.kernel);
  st = ttt_block_check_vector(&weights->weight, "norm.weight", TTT_F32, spec->dim);
  if (st == TTT_OK)
    st = ttt_block_check_optional(&weights->bias, "norm.bias", spec->bias, "spec.bias");
  if (st == TTT_OK && spec->bias)
    st = ttt_block_check_vector(&weights->bias, "norm.bias", TTT_F32, spec->dim);
  if (st == TTT_OK) st = check_io(spec, x, out);
  if (st != TTT_OK) return st;

  norm_job job = {.spec = spec,
                  .sum = cfg.kernel == TTT_KERNEL_REFERENCE ? sum_sequential : sum_lanes,
                  .x = x->data,
                  .weight = weights->weight.data,
                  .bias = spec->bias ? weights->bias.data : NULL,
                  .y = out->data};
  int64_t rows = ttt_tensor_numel(x) / spec->dim;
  /* About 16k values per range so small per-head norms do not pay a dispatch per row. */
  int64_t grain = spec->dim >= 16384 ? 1 : 16384 / spec->dim;
  ttt_parallel_for(ctx, cfg.threads, rows, grain, norm_rows, &job);
  return TTT_OK;
}
