/*
 * Float64 reference of the mixture of experts, one token at a time: router logits, softmax over
 * all experts, the top_k largest (ties → lower index), renormalized unless no_renormalize, and the
 * weighted sum of those experts' MLP outputs, plus the shared expert's output times
 * 1 / (1 + exp(-shared_gate · x)) (or times 1 without its gate).
 */
#include <math.h>
#include <stdlib.h>

#include "building_blocks/block_util.h"
#include "building_blocks/ffn_internal.h"
#include "reference_util.h"

/* probs = softmax(logits) over n experts. */
static void softmax(const double *logits, int64_t n, double *probs) {
  double max = logits[0];
  for (int64_t e = 1; e < n; e++) max = logits[e] > max ? logits[e] : max;
  double sum = 0.0;
  for (int64_t e = 0; e < n; e++) {
    probs[e] = exp(logits[e] - max);
    sum += probs[e];
  }
  for (int64_t e = 0; e < n; e++) probs[e] /= sum;
}

/* The index with the largest value among those not excluded (ties → lower index). */
static int64_t argmax_free(const double *value, const bool *excluded, int64_t n) {
  int64_t best = -1;
  for (int64_t e = 0; e < n; e++)
    if (!excluded[e] && (best < 0 || value[e] > value[best])) best = e;
  return best;
}

/* Group limit: experts outside the topk_group groups with the largest sum of their two best
 * choice scores get choice score 0 (as HF masks them). */
static void limit_groups(const ttt_moe_spec *spec, double *choice) {
  int64_t G = spec->n_group, size = spec->n_experts / G;
  double group_score[TTT_MAX_EXPERTS];
  for (int64_t g = 0; g < G; g++) {
    double first = -INFINITY, second = -INFINITY;
    for (int64_t i = 0; i < size; i++) {
      double v = choice[g * size + i];
      if (v > first) {
        second = first;
        first = v;
      } else if (v > second) {
        second = v;
      }
    }
    group_score[g] = first + second;
  }
  bool chosen[TTT_MAX_EXPERTS] = {false};
  for (int64_t r = 0; r < spec->topk_group; r++) chosen[argmax_free(group_score, chosen, G)] = true;
  for (int64_t e = 0; e < spec->n_experts; e++)
    if (!chosen[e / size]) choice[e] = 0.0;
}

/* Router probabilities: softmax over the experts, or a sigmoid each (routing SIGMOID); the
 * choice scores that select experts: probabilities + router_bias (score_correction_bias), group
 * limited when n_group > 1. */
static void route_scores(const ttt_moe_spec *spec, const ttt_moe_weights *w, const double *logits,
                         double *probs, double *choice) {
  int64_t E = spec->n_experts;
  if (spec->routing == TTT_MOE_ROUTING_SIGMOID)
    for (int64_t e = 0; e < E; e++) probs[e] = 1.0 / (1.0 + exp(-logits[e]));
  else
    softmax(logits, E, probs);
  double bias[TTT_MAX_EXPERTS] = {0};
  if (spec->score_correction_bias) ttt_ref_read(&w->router_bias, 0, E, bias);
  for (int64_t e = 0; e < E; e++) choice[e] = probs[e] + bias[e];
  if (spec->n_group > 1) limit_groups(spec, choice);
}

/* One token: out = Σ over the chosen experts (largest choice scores) of weight · expert(x),
 * weight = probability (renormalized unless no_renormalize) · routed_scaling_factor (0 → 1). */
static ttt_status moe_token(const ttt_moe_spec *spec, const ttt_moe_weights *w, const double *x,
                            double *probs, double *y, double *out) {
  int64_t E = spec->n_experts, H = spec->expert.hidden;
  double logits[TTT_MAX_EXPERTS], choice[TTT_MAX_EXPERTS];
  ttt_status st = ttt_ref_linear(&w->router, NULL, x, 1, H, E, logits);
  if (st != TTT_OK) return st;
  route_scores(spec, w, logits, probs, choice);

  int64_t chosen[TTT_MAX_EXPERTS];
  bool taken[TTT_MAX_EXPERTS] = {false};
  double total = 0.0;
  for (int64_t r = 0; r < spec->top_k; r++) {
    int64_t best = argmax_free(choice, taken, E);
    taken[best] = true;
    chosen[r] = best;
    total += probs[best];
  }
  for (int64_t i = 0; i < H; i++) out[i] = 0.0;
  /* expert parallelism: only the experts of w's range contribute (see ttt_moe_weights) */
  int64_t first = w->expert_count > 0 ? w->expert_begin : 0;
  int64_t end = w->expert_count > 0 ? w->expert_begin + w->expert_count : E;
  for (int64_t r = 0; r < spec->top_k; r++) {
    if (chosen[r] < first || chosen[r] >= end) continue;
    double weight = spec->no_renormalize ? probs[chosen[r]] : probs[chosen[r]] / total;
    if (spec->routed_scaling_factor > 0.0f) weight *= spec->routed_scaling_factor;
    st = ttt_reference_mlp(&spec->expert, &w->experts[chosen[r]], x, 1, y);
    if (st != TTT_OK) return st;
    for (int64_t i = 0; i < H; i++) out[i] += weight * y[i];
  }
  if (!spec->shared_expert) return TTT_OK;
  double gate = 1.0;
  if (spec->shared_expert_gate) {
    double logit = 0.0;
    for (int64_t i = 0; i < H; i++) logit += ttt_tensor_get(&w->shared_gate, i) * x[i];
    gate = 1.0 / (1.0 + exp(-logit));
  }
  st = ttt_reference_mlp(&spec->shared, &w->shared, x, 1, y);
  if (st != TTT_OK) return st;
  for (int64_t i = 0; i < H; i++) out[i] += gate * y[i];
  return TTT_OK;
}

ttt_status ttt_reference_moe(const ttt_moe_spec *spec, const ttt_moe_weights *weights,
                             const double *x, int64_t T, double *out) {
  ttt_status st = ttt_moe_spec_validate(spec);
  if (st != TTT_OK) return st;
  if (!weights || !x || !out || T < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "reference moe: NULL argument or T < 0");
  st = ttt_moe_check_weights(spec, TTT_DTYPE_DEFAULT, weights);
  if (st != TTT_OK) return st;

  int64_t H = spec->expert.hidden;
  double probs[TTT_MAX_EXPERTS];
  double *y = malloc((size_t)H * sizeof(double));
  if (!y) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "reference moe: out of memory");
  for (int64_t t = 0; t < T && st == TTT_OK; t++)
    st = moe_token(spec, weights, x + t * H, probs, y, out + t * H);
  free(y);
  return st;
}
