/*
 * Mixture of experts: router logits (f32 matmul) → softmax over all experts (or a sigmoid per
 * expert) → choice scores (+ correction bias, group limit) → top-k → optionally renormalized,
 * scaled weights → out[t] = Σ_k weight · expert_k(x[t]), plus an optional shared expert
 * (always run, optionally scaled by sigmoid(shared_gate · x[t])).
 *
 * Two execution paths with the same math:
 *   group_by_expert (prefill): tokens routed to each expert are gathered into a dense block, the
 *     expert runs once on that block (its weights stream once for all of its tokens), and its
 *     rows are scattered back, weighted, into out.
 *   per token (decode): each token runs its k experts on its own row.
 * Top-k order: larger probability first; equal probabilities go to the lower expert index.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "block_util.h"
#include "ffn_internal.h"
#include "runtime/kernels.h"
#include "runtime/runtime.h"

const char *ttt_moe_routing_name(ttt_moe_routing routing) {
  switch (routing) {
  case TTT_MOE_ROUTING_SOFTMAX:
    return "softmax";
  case TTT_MOE_ROUTING_SIGMOID:
    return "sigmoid";
  }
  return "unknown";
}

static ttt_status validate_groups(const ttt_moe_spec *spec) {
  if (spec->n_group < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "moe spec: n_group (%lld) must be >= 0",
                         (long long)spec->n_group);
  if (spec->n_group <= 1) return TTT_OK;
  if (spec->n_experts % spec->n_group != 0 || spec->n_experts / spec->n_group < 2)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "moe spec: n_group (%lld) must divide n_experts (%lld) into groups of at "
                         "least 2 experts",
                         (long long)spec->n_group, (long long)spec->n_experts);
  if (spec->topk_group < 1 || spec->topk_group > spec->n_group)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "moe spec: topk_group (%lld) must be in [1, n_group (%lld)]",
                         (long long)spec->topk_group, (long long)spec->n_group);
  if (spec->top_k > spec->topk_group * (spec->n_experts / spec->n_group))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "moe spec: top_k (%lld) exceeds the experts of topk_group (%lld) groups",
                         (long long)spec->top_k, (long long)spec->topk_group);
  return TTT_OK;
}

ttt_status ttt_moe_spec_validate(const ttt_moe_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "moe spec: NULL");
  ttt_status st = ttt_mlp_spec_validate(&spec->expert);
  if (st != TTT_OK) return ttt_error_prefix(st, "moe spec: expert");
  if (spec->n_experts < 1 || spec->n_experts > TTT_MAX_EXPERTS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "moe spec: n_experts (%lld) must be in [1, %d] (TTT_MAX_EXPERTS)",
                         (long long)spec->n_experts, TTT_MAX_EXPERTS);
  if (spec->top_k < 1 || spec->top_k > spec->n_experts)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "moe spec: top_k (%lld) must be in [1, n_experts (%lld)]",
                         (long long)spec->top_k, (long long)spec->n_experts);
  if (spec->routing != TTT_MOE_ROUTING_SOFTMAX && spec->routing != TTT_MOE_ROUTING_SIGMOID)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "moe spec: unknown routing %d",
                         (int)spec->routing);
  if (!(spec->routed_scaling_factor >= 0.0f))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "moe spec: routed_scaling_factor (%g) must be >= 0 (0 → 1)",
                         (double)spec->routed_scaling_factor);
  st = validate_groups(spec);
  if (st != TTT_OK) return st;
  if (spec->shared_expert_gate && !spec->shared_expert)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "moe spec: shared_expert_gate needs shared_expert");
  if (!spec->shared_expert) return TTT_OK;
  st = ttt_mlp_spec_validate(&spec->shared);
  if (st != TTT_OK) return ttt_error_prefix(st, "moe spec: shared");
  if (spec->shared.hidden != spec->expert.hidden)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "moe spec: shared.hidden (%lld) must equal expert.hidden (%lld)",
                         (long long)spec->shared.hidden, (long long)spec->expert.hidden);
  return TTT_OK;
}

ttt_moe_impl_config ttt_moe_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                const ttt_moe_spec *spec) {
  (void)device;
  (void)spec;
  const ttt_block_defaults *d = ttt_block_defaults_for(mode);
  return (ttt_moe_impl_config){.weight_dtype = d->weight_dtype,
                               .activation_dtype = d->activation_dtype,
                               .kernel = d->kernel,
                               .threads = 0,
                               .fuse_gate_up = d->fuse_projections,
                               .group_by_expert = d->group_by_expert};
}

/* ---- routing ---- */

/* The routing of T tokens: for token t, experts[t·k + r] with weights[t·k + r], r < k. */
typedef struct moe_routes {
  int32_t *experts;
  float *weights;
} moe_routes;

/* Index of the largest value[e] among experts not yet taken and allowed (ties → lower index). */
static int32_t best_expert(const float *value, const bool *taken, int64_t n) {
  int32_t best = -1;
  for (int32_t e = 0; e < n; e++)
    if (!taken[e] && (best < 0 || value[e] > value[best])) best = e;
  return best;
}

/* The choice scores of one token: probs (+ bias), with the experts outside the topk_group best
 * groups (group score: sum of its two largest choice scores) set to 0 as HF masks them. */
static void choice_scores(const ttt_moe_spec *spec, const float *probs, const float *bias,
                          float *choice) {
  int64_t E = spec->n_experts;
  for (int64_t e = 0; e < E; e++) choice[e] = probs[e] + (bias ? bias[e] : 0.0f);
  if (spec->n_group <= 1) return;
  int64_t size = E / spec->n_group;
  float group_score[TTT_MAX_EXPERTS];
  for (int64_t g = 0; g < spec->n_group; g++) {
    bool taken[TTT_MAX_EXPERTS] = {false};
    int32_t a = best_expert(choice + g * size, taken, size);
    taken[a] = true;
    int32_t b = best_expert(choice + g * size, taken, size);
    group_score[g] = choice[g * size + a] + choice[g * size + b];
  }
  bool kept[TTT_MAX_EXPERTS] = {false}; /* used as "taken" while ranking groups */
  for (int64_t r = 0; r < spec->topk_group; r++)
    kept[best_expert(group_score, kept, spec->n_group)] = true;
  for (int64_t e = 0; e < E; e++)
    if (!kept[e / size]) choice[e] = 0.0f;
}

/* Picks the k largest choice scores of one token (ties → lower index); the weights are the
 * probabilities of those experts, (re)normalized, times routed_scaling_factor. */
static void select_top_k(const ttt_moe_spec *spec, const float *probs, const float *choice,
                         int32_t *experts, float *weights) {
  bool taken[TTT_MAX_EXPERTS] = {false};
  float sum = 0.0f;
  for (int64_t r = 0; r < spec->top_k; r++) {
    int32_t best = best_expert(choice, taken, spec->n_experts);
    taken[best] = true;
    experts[r] = best;
    weights[r] = probs[best];
    sum += probs[best];
  }
  float scale = spec->routed_scaling_factor > 0.0f ? spec->routed_scaling_factor : 1.0f;
  if (!spec->no_renormalize) scale /= sum;
  for (int64_t r = 0; r < spec->top_k; r++) weights[r] *= scale;
}

static void sigmoid_all(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
}

static ttt_status route(ttt_context *ctx, const ttt_moe_spec *spec, const ttt_moe_impl_config *cfg,
                        const ttt_moe_weights *w, const float *x, int64_t T, moe_routes *routes) {
  const ttt_tensor *router = &w->router;
  const float *bias = spec->score_correction_bias ? w->router_bias.data : NULL;
  float choice[TTT_MAX_EXPERTS];
  int64_t E = spec->n_experts, k = spec->top_k;
  float *logits = ttt_scratch_alloc(ctx, (size_t)(T * E) * sizeof(float));
  routes->experts = ttt_scratch_alloc(ctx, (size_t)(T * k) * sizeof(int32_t));
  routes->weights = ttt_scratch_alloc(ctx, (size_t)(T * k) * sizeof(float));
  if (!logits || !routes->experts || !routes->weights) return TTT_ERR_OUT_OF_MEMORY;
  /* The router is f32 with f32 activations whatever the experts use: routing decisions are
   * discontinuous, so they get the most precise path. */
  ttt_linear_config lc = {
      .kernel = cfg->kernel, .activation_dtype = TTT_F32, .threads = cfg->threads};
  ttt_linear_op op = {.w = router, .y = logits, .name = "moe.router"};
  ttt_status st = ttt_linear(ctx, &lc, x, T, spec->expert.hidden, &op);
  if (st != TTT_OK) return st;
  for (int64_t t = 0; t < T; t++) {
    float *probs = logits + t * E;
    if (spec->routing == TTT_MOE_ROUTING_SIGMOID)
      sigmoid_all(probs, E);
    else
      ttt_softmax(probs, E);
    choice_scores(spec, probs, bias, choice);
    select_top_k(spec, probs, choice, routes->experts + t * k, routes->weights + t * k);
  }
  return TTT_OK;
}

/* ---- experts ---- */

/* The experts this call runs: [*begin, *end) (all of them unless the weights name a range). */
static void expert_range(const ttt_moe_spec *spec, const ttt_moe_weights *w, int64_t *begin,
                         int64_t *end) {
  *begin = w->expert_count > 0 ? w->expert_begin : 0;
  *end = w->expert_count > 0 ? w->expert_begin + w->expert_count : spec->n_experts;
}

static void add_scaled(float *dst, const float *src, float w, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] += w * src[i];
}

/* Each token's k experts on its own row. */
static ttt_status run_per_token(ttt_context *ctx, const ttt_moe_spec *spec,
                                const ttt_mlp_impl_config *mcfg, const ttt_moe_weights *w,
                                const moe_routes *routes, const float *x, int64_t T, float *out) {
  int64_t H = spec->expert.hidden, k = spec->top_k, first, end;
  expert_range(spec, w, &first, &end);
  float *y = ttt_scratch_alloc(ctx, (size_t)H * sizeof(float));
  if (!y) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t t = 0; t < T; t++) {
    for (int64_t r = 0; r < k; r++) {
      int64_t e = routes->experts[t * k + r];
      if (e < first || e >= end) continue; /* another rank's expert */
      const ttt_mlp_weights *expert = &w->experts[e];
      ttt_status st = ttt_mlp_run(ctx, &spec->expert, mcfg, expert, x + t * H, 1, y);
      if (st != TTT_OK) return st;
      add_scaled(out + t * H, y, routes->weights[t * k + r], H);
    }
  }
  return TTT_OK;
}

/* Gathers the tokens of each expert (at most T: a token picks an expert once), runs the expert on
 * the block, scatters the weighted rows back. Experts with no tokens are skipped. */
static ttt_status run_grouped(ttt_context *ctx, const ttt_moe_spec *spec,
                              const ttt_mlp_impl_config *mcfg, const ttt_moe_weights *w,
                              const moe_routes *routes, const float *x, int64_t T, float *out) {
  int64_t H = spec->expert.hidden, k = spec->top_k, first, end;
  expert_range(spec, w, &first, &end);
  int64_t *tokens = ttt_scratch_alloc(ctx, (size_t)T * sizeof(int64_t));
  float *gains = ttt_scratch_alloc(ctx, (size_t)T * sizeof(float));
  float *xg = ttt_scratch_alloc(ctx, (size_t)(T * H) * sizeof(float));
  float *yg = ttt_scratch_alloc(ctx, (size_t)(T * H) * sizeof(float));
  if (!tokens || !gains || !xg || !yg) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t e = first; e < end; e++) {
    int64_t count = 0;
    for (int64_t i = 0; i < T * k; i++) {
      if (routes->experts[i] != e) continue;
      tokens[count] = i / k;
      gains[count] = routes->weights[i];
      memcpy(xg + count * H, x + (i / k) * H, (size_t)H * sizeof(float));
      count++;
    }
    if (count == 0) continue;
    ttt_status st = ttt_mlp_run(ctx, &spec->expert, mcfg, &w->experts[e], xg, count, yg);
    if (st != TTT_OK) return st;
    for (int64_t c = 0; c < count; c++) add_scaled(out + tokens[c] * H, yg + c * H, gains[c], H);
  }
  return TTT_OK;
}

ttt_status ttt_moe_check_weights(const ttt_moe_spec *spec, ttt_dtype weight_dtype,
                                 const ttt_moe_weights *w) {
  /* The optimized router is f32; a reference check (weight_dtype DEFAULT) takes any float. */
  ttt_dtype router_dtype = weight_dtype == TTT_DTYPE_DEFAULT ? TTT_DTYPE_DEFAULT : TTT_F32;
  ttt_status st = ttt_block_check_matrix(&w->router, "moe.router", router_dtype, spec->n_experts,
                                         spec->expert.hidden);
  if (st != TTT_OK) return st;
  if (!w->experts)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "moe.experts: NULL (need %lld experts)",
                         (long long)spec->n_experts);
  if (w->expert_count < 0 || w->expert_begin < 0 ||
      (w->expert_count > 0 && w->expert_begin + w->expert_count > spec->n_experts))
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                         "moe weights: experts [expert_begin %lld, + expert_count %lld) are not "
                         "within the %lld experts",
                         (long long)w->expert_begin, (long long)w->expert_count,
                         (long long)spec->n_experts);
  int64_t first, end;
  expert_range(spec, w, &first, &end);
  for (int64_t e = first; e < end; e++) {
    st = ttt_mlp_check_weights(&spec->expert, weight_dtype, &w->experts[e], "moe.experts", e);
    if (st != TTT_OK) return st;
  }
  if (spec->shared_expert) {
    st = ttt_mlp_check_weights(&spec->shared, weight_dtype, &w->shared, "moe.shared", -1);
    if (st != TTT_OK) return st;
  }
  st = ttt_block_check_optional(&w->router_bias, "moe.router_bias", spec->score_correction_bias,
                                "spec.score_correction_bias");
  if (st == TTT_OK && spec->score_correction_bias)
    st = ttt_block_check_vector(&w->router_bias, "moe.router_bias", router_dtype, spec->n_experts);
  if (st != TTT_OK) return st;
  st = ttt_block_check_optional(&w->shared_gate, "moe.shared_gate", spec->shared_expert_gate,
                                "spec.shared_expert_gate");
  if (st != TTT_OK || !spec->shared_expert_gate) return st;
  return ttt_block_check_vector(&w->shared_gate, "moe.shared_gate", router_dtype,
                                spec->expert.hidden);
}

/* out += g · shared(x), g = sigmoid(shared_gate · x) per token (f32, like the router) or 1. */
static ttt_status add_shared_expert(ttt_context *ctx, const ttt_moe_spec *spec,
                                    const ttt_mlp_impl_config *mcfg, const ttt_moe_weights *w,
                                    const float *x, int64_t T, float *out) {
  int64_t H = spec->expert.hidden;
  float *y = ttt_scratch_alloc(ctx, (size_t)(T * H) * sizeof(float));
  float *gate = ttt_scratch_alloc(ctx, (size_t)T * sizeof(float));
  if (!y || !gate) return TTT_ERR_OUT_OF_MEMORY;
  ttt_status st = ttt_mlp_run(ctx, &spec->shared, mcfg, &w->shared, x, T, y);
  if (st != TTT_OK) return st;
  for (int64_t t = 0; t < T; t++) gate[t] = 1.0f;
  if (spec->shared_expert_gate) {
    ttt_tensor gw = ttt_tensor_2d(TTT_F32, w->shared_gate.data, 1, H);
    ttt_linear_config lc = {
        .kernel = mcfg->kernel, .activation_dtype = TTT_F32, .threads = mcfg->threads};
    ttt_linear_op op = {.w = &gw, .y = gate, .name = "moe.shared_gate"};
    st = ttt_linear(ctx, &lc, x, T, H, &op);
    if (st != TTT_OK) return st;
    for (int64_t t = 0; t < T; t++) gate[t] = 1.0f / (1.0f + expf(-gate[t]));
  }
  for (int64_t t = 0; t < T; t++) add_scaled(out + t * H, y + t * H, gate[t], H);
  return TTT_OK;
}

static ttt_moe_impl_config resolve_impl(const ttt_moe_impl_config *impl) {
  ttt_moe_impl_config cfg = impl ? *impl : (ttt_moe_impl_config){0};
  cfg.weight_dtype = ttt_block_weight_dtype(cfg.weight_dtype);
  cfg.activation_dtype = ttt_block_activation_dtype(cfg.activation_dtype);
  cfg.kernel = ttt_block_kernel(cfg.kernel);
  return cfg;
}

ttt_status ttt_moe_forward(ttt_context *ctx, const ttt_moe_spec *spec,
                           const ttt_moe_impl_config *impl, const ttt_moe_weights *weights,
                           const ttt_tensor *x, ttt_tensor *out) {
  if (!ctx || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "moe forward: NULL ctx, weights, x or out");
  ttt_status st = ttt_moe_spec_validate(spec);
  if (st != TTT_OK) return st;
  ttt_moe_impl_config cfg = resolve_impl(impl);
  int64_t H = spec->expert.hidden;
  st = ttt_block_check_impl("moe impl", cfg.weight_dtype, cfg.activation_dtype, cfg.kernel);
  if (st == TTT_OK) st = ttt_moe_check_weights(spec, cfg.weight_dtype, weights);
  if (st == TTT_OK) st = ttt_block_check_rows(x, "moe x", -1, H);
  if (st == TTT_OK) st = ttt_block_check_rows(out, "moe out", x->shape[0], H);
  if (st == TTT_OK) st = ttt_block_check_no_alias(out, x, "moe");
  if (st != TTT_OK) return st;

  int64_t T = x->shape[0];
  ttt_mlp_impl_config mcfg = {.weight_dtype = cfg.weight_dtype,
                              .activation_dtype = cfg.activation_dtype,
                              .kernel = cfg.kernel,
                              .threads = cfg.threads,
                              .fuse_gate_up = cfg.fuse_gate_up};
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  moe_routes routes;
  st = route(ctx, spec, &cfg, weights, x->data, T, &routes);
  if (st == TTT_OK) {
    memset(out->data, 0, (size_t)(T * H) * sizeof(float));
    st = cfg.group_by_expert
             ? run_grouped(ctx, spec, &mcfg, weights, &routes, x->data, T, out->data)
             : run_per_token(ctx, spec, &mcfg, weights, &routes, x->data, T, out->data);
  }
  if (st == TTT_OK && spec->shared_expert)
    st = add_shared_expert(ctx, spec, &mcfg, weights, x->data, T, out->data);
  ttt_scratch_restore(ctx, mark);
  return st;
}
