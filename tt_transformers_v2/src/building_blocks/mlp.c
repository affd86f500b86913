/*
 * MLP: plain down(act(up(x))) or gated down(act(gate(x)) * up(x)), with optional biases.
 *
 * Fused (impl.fuse_gate_up): gate and up run as one ttt_linear_multi call, i.e. one parallel region
 * over their concatenated output columns; unfused: two regions. Either way act(g) * u is then one
 * parallel elementwise pass, and down is a third matmul.
 */
#include <stdio.h>

#include "block_util.h"
#include "ffn_internal.h"
#include "runtime/kernels.h"
#include "runtime/runtime.h"

static const char *activation_names[] = {[TTT_ACT_SILU] = "silu",
                                         [TTT_ACT_GELU] = "gelu",
                                         [TTT_ACT_GELU_TANH] = "gelu_tanh",
                                         [TTT_ACT_RELU] = "relu"};

const char *ttt_activation_name(ttt_activation activation) {
  return (unsigned)activation < sizeof activation_names / sizeof activation_names[0]
             ? activation_names[activation]
             : "unknown";
}

ttt_status ttt_mlp_spec_validate(const ttt_mlp_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mlp spec: NULL");
  if (spec->hidden < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mlp spec: hidden (%lld) must be >= 1",
                         (long long)spec->hidden);
  if (spec->intermediate < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mlp spec: intermediate (%lld) must be >= 1",
                         (long long)spec->intermediate);
  if ((unsigned)spec->activation > TTT_ACT_RELU) /* the last enumerator of ttt_activation */
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "mlp spec: activation (%d) is not one of silu, gelu, gelu_tanh, relu",
                         (int)spec->activation);
  return TTT_OK;
}

ttt_mlp_impl_config ttt_mlp_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                const ttt_mlp_spec *spec) {
  (void)device;
  (void)spec;
  const ttt_block_defaults *d = ttt_block_defaults_for(mode);
  return (ttt_mlp_impl_config){.weight_dtype = d->weight_dtype,
                               .activation_dtype = d->activation_dtype,
                               .kernel = d->kernel,
                               .threads = 0,
                               .fuse_gate_up = d->fuse_projections};
}

ttt_mlp_impl_config ttt_mlp_resolve_impl(const ttt_mlp_impl_config *impl) {
  ttt_mlp_impl_config cfg = impl ? *impl : (ttt_mlp_impl_config){0};
  cfg.weight_dtype = ttt_block_weight_dtype(cfg.weight_dtype);
  cfg.activation_dtype = ttt_block_activation_dtype(cfg.activation_dtype);
  cfg.kernel = ttt_block_kernel(cfg.kernel);
  return cfg;
}

/* One pass of the weight checks: error names are the bare fields unless `named`. */
static ttt_status check_weights_pass(const ttt_mlp_spec *spec, ttt_dtype weight_dtype,
                                     const ttt_mlp_weights *w, const char *prefix, int64_t index,
                                     bool named) {
  char name[96];
  int64_t h = spec->hidden, n = spec->intermediate;
  /* Biases are f32 in the optimized path; a reference check (weight_dtype DEFAULT) takes any. */
  ttt_dtype bias_dtype = weight_dtype == TTT_DTYPE_DEFAULT ? TTT_DTYPE_DEFAULT : TTT_F32;
  ttt_status st;
#define MLP_NAME(field)                                                                            \
  (!named      ? field                                                                             \
   : index < 0 ? (snprintf(name, sizeof name, "%s." field, prefix), name)                          \
               : (snprintf(name, sizeof name, "%s[%lld]." field, prefix, (long long)index), name))
  st = ttt_block_check_optional(&w->gate, MLP_NAME("gate"), spec->gated, "spec.gated");
  if (st == TTT_OK && spec->gated)
    st = ttt_block_check_matrix(&w->gate, MLP_NAME("gate"), weight_dtype, n, h);
  if (st == TTT_OK) st = ttt_block_check_matrix(&w->up, MLP_NAME("up"), weight_dtype, n, h);
  if (st == TTT_OK) st = ttt_block_check_matrix(&w->down, MLP_NAME("down"), weight_dtype, h, n);
  if (st == TTT_OK)
    st = ttt_block_check_optional(&w->gate_bias, MLP_NAME("gate_bias"), spec->bias && spec->gated,
                                  "spec.bias && spec.gated");
  if (st == TTT_OK)
    st = ttt_block_check_optional(&w->up_bias, MLP_NAME("up_bias"), spec->bias, "spec.bias");
  if (st == TTT_OK)
    st = ttt_block_check_optional(&w->down_bias, MLP_NAME("down_bias"), spec->bias, "spec.bias");
  if (st == TTT_OK && spec->bias && spec->gated)
    st = ttt_block_check_vector(&w->gate_bias, MLP_NAME("gate_bias"), bias_dtype, n);
  if (st == TTT_OK && spec->bias)
    st = ttt_block_check_vector(&w->up_bias, MLP_NAME("up_bias"), bias_dtype, n);
  if (st == TTT_OK && spec->bias)
    st = ttt_block_check_vector(&w->down_bias, MLP_NAME("down_bias"), bias_dtype, h);
#undef MLP_NAME
  return st;
}

ttt_status ttt_mlp_check_weights(const ttt_mlp_spec *spec, ttt_dtype weight_dtype,
                                 const ttt_mlp_weights *w, const char *prefix, int64_t index) {
  if (check_weights_pass(spec, weight_dtype, w, prefix, index, false) == TTT_OK) return TTT_OK;
  return check_weights_pass(spec, weight_dtype, w, prefix, index,
                            true); /* the same failure, named */
}

/* ---- elementwise epilogue: h = act(h) (plain) or h = act(g) * h (gated), on the pool ---- */

typedef struct act_job {
  ttt_activation_fn *fn;
  ttt_activation act;
  const float *gate; /* NULL: plain activation */
  float *h;
} act_job;

static void act_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const act_job *job = arg;
  job->fn(job->act, job->gate ? job->gate + begin : NULL, job->h + begin, end - begin);
}

enum { ACT_GRAIN = 2048 }; /* values per range: a few microseconds of work */

static const float *bias_of(const ttt_tensor *t) { return t->data; }

/* h = up(x) (plain), or g = gate(x), h = up(x) (gated), fused or not. */
static ttt_status project_in(ttt_context *ctx, const ttt_mlp_spec *spec,
                             const ttt_mlp_impl_config *cfg, const ttt_linear_config *lc,
                             const ttt_mlp_weights *w, const float *x, int64_t T, float *g,
                             float *h) {
  ttt_linear_op up = {.w = &w->up, .bias = bias_of(&w->up_bias), .y = h, .name = "mlp.up"};
  if (!spec->gated) return ttt_linear(ctx, lc, x, T, spec->hidden, &up);
  ttt_linear_op gate = {.w = &w->gate, .bias = bias_of(&w->gate_bias), .y = g, .name = "mlp.gate"};
  if (cfg->fuse_gate_up) {
    ttt_linear_op ops[2] = {gate, up};
    return ttt_linear_multi(ctx, lc, x, T, spec->hidden, ops, 2);
  }
  ttt_status st = ttt_linear(ctx, lc, x, T, spec->hidden, &gate);
  if (st != TTT_OK) return st;
  return ttt_linear(ctx, lc, x, T, spec->hidden, &up);
}

ttt_status ttt_mlp_run(ttt_context *ctx, const ttt_mlp_spec *spec, const ttt_mlp_impl_config *cfg,
                       const ttt_mlp_weights *w, const float *x, int64_t T, float *out) {
  ttt_linear_config lc = {
      .kernel = cfg->kernel, .activation_dtype = cfg->activation_dtype, .threads = cfg->threads};
  size_t inter_bytes = (size_t)T * (size_t)spec->intermediate * sizeof(float);
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  float *h = ttt_scratch_alloc(ctx, inter_bytes);
  float *g = spec->gated && h ? ttt_scratch_alloc(ctx, inter_bytes) : NULL;
  if (!h || (spec->gated && !g)) {
    ttt_scratch_restore(ctx, mark);
    return TTT_ERR_OUT_OF_MEMORY;
  }
  ttt_status st = project_in(ctx, spec, cfg, &lc, w, x, T, g, h);
  if (st == TTT_OK) {
    act_job job = {.fn = ttt_activation_kernel_select(ttt_context_device(ctx), cfg->kernel, NULL),
                   .act = spec->activation,
                   .gate = g,
                   .h = h};
    ttt_parallel_for(ctx, cfg->threads, T * spec->intermediate, ACT_GRAIN, act_range, &job);
    ttt_linear_op down = {
        .w = &w->down, .bias = bias_of(&w->down_bias), .y = out, .name = "mlp.down"};
    st = ttt_linear(ctx, &lc, h, T, spec->intermediate, &down);
  }
  ttt_scratch_restore(ctx, mark);
  return st;
}

ttt_status ttt_mlp_forward(ttt_context *ctx, const ttt_mlp_spec *spec,
                           const ttt_mlp_impl_config *impl, const ttt_mlp_weights *weights,
                           const ttt_tensor *x, ttt_tensor *out) {
  if (!ctx || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mlp forward: NULL ctx, weights, x or out");
  ttt_status st = ttt_mlp_spec_validate(spec);
  if (st != TTT_OK) return st;
  ttt_mlp_impl_config cfg = ttt_mlp_resolve_impl(impl);
  st = ttt_block_check_impl("mlp impl", cfg.weight_dtype, cfg.activation_dtype, cfg.kernel);
  if (st == TTT_OK) st = ttt_mlp_check_weights(spec, cfg.weight_dtype, weights, "mlp", -1);
  if (st == TTT_OK) st = ttt_block_check_rows(x, "mlp x", -1, spec->hidden);
  if (st == TTT_OK) st = ttt_block_check_rows(out, "mlp out", x->shape[0], spec->hidden);
  if (st == TTT_OK) st = ttt_block_check_no_alias(out, x, "mlp");
  if (st != TTT_OK) return st;
  return ttt_mlp_run(ctx, spec, &cfg, weights, x->data, x->shape[0], out->data);
}
