/*
 * DeepSeek-V3 routing of the MoE block: sigmoid scores, the score-correction bias (selection only),
 * group-limited top-k, renormalization and routed_scaling_factor.
 *
 * test_routing_by_hand: experts that each write their own output dim (out[e] = routing weight of
 * expert e), router logits set by hand so that groups, bias and renormalization each change which
 * experts win or what they get; the expected selections are worked out in the comments.
 * test_routing_vs_reference: random weights against the float64 reference over renormalize on/off,
 * groups on/off, grouped/per-token paths and f32/q8_0 experts (thresholds as block_test_util.h).
 */
#include "block_test_util.h"

enum { E = 8, H = 8 };

static float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

typedef struct hand_moe {
  float router[E * H];
  float up[E][H];
  float down[E][H];
  float bias[E];
  ttt_mlp_weights experts[E];
} hand_moe;

/* Expert e: relu(x[0]) written to output dim e, so for x = e_0, out[e] = weight of expert e. */
static void hand_init(hand_moe *m, const float *logits) {
  memset(m, 0, sizeof *m);
  for (int e = 0; e < E; e++) {
    m->router[e * H] = logits[e];
    m->up[e][0] = 1.0f;
    m->down[e][e] = 1.0f;
    m->experts[e].up = ttt_tensor_2d(TTT_F32, m->up[e], 1, H);
    m->experts[e].down = ttt_tensor_2d(TTT_F32, m->down[e], H, 1);
  }
}

static ttt_moe_spec hand_spec(void) {
  return (ttt_moe_spec){.expert = {.hidden = H, .intermediate = 1, .activation = TTT_ACT_RELU},
                        .n_experts = E,
                        .top_k = 2,
                        .routing = TTT_MOE_ROUTING_SIGMOID,
                        .n_group = 4,
                        .topk_group = 2,
                        .routed_scaling_factor = 2.5f};
}

static void route_once(const ttt_moe_spec *spec, hand_moe *m, float *out) {
  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  float x[H] = {1.0f};
  ttt_moe_weights w = {.router = ttt_tensor_2d(TTT_F32, m->router, E, H), .experts = m->experts};
  if (spec->score_correction_bias) w.router_bias = ttt_tensor_1d(TTT_F32, m->bias, E);
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 1, H), to = ttt_tensor_2d(TTT_F32, out, 1, H);
  CHECK_OK(ttt_moe_forward(ctx, spec, NULL, &w, &tx, &to));
  ttt_context_destroy(ctx);
}

/* out must be exactly `w_a` at a, `w_b` at b and 0 elsewhere (up to f32 rounding). */
static void expect_pair(const char *what, const float *out, int a, float w_a, int b, float w_b) {
  for (int e = 0; e < E; e++) {
    float want = e == a ? w_a : e == b ? w_b : 0.0f;
    CHECK_MSG(fabsf(out[e] - want) <= 1e-6f, "%s: expert %d got %.7f, expected %.7f", what, e,
              (double)out[e], (double)want);
  }
}

static void test_routing_by_hand(void) {
  /* Groups of 2. sigmoid: g0 {3, -3} → 0.953 + 0.047 = 1.0; g1 {2.5, 2.4} → 0.924 + 0.917 =
   * 1.841; g2 {2.8, -5} → 0.943 + 0.007 = 0.950; g3 {0, 0.2} → 0.5 + 0.550 = 1.050. */
  const float logits[E] = {3.0f, -3.0f, 2.5f, 2.4f, 2.8f, -5.0f, 0.0f, 0.2f};
  hand_moe m;
  hand_init(&m, logits);
  float out[H];
  float p[E];
  for (int e = 0; e < E; e++) p[e] = sigmoidf(logits[e]);

  /* Groups g1 and g3 win: experts 2 and 3 (not 0 and 4, the global top-2). */
  ttt_moe_spec spec = hand_spec();
  route_once(&spec, &m, out);
  expect_pair("groups", out, 2, 2.5f * p[2] / (p[2] + p[3]), 3, 2.5f * p[3] / (p[2] + p[3]));

  /* No groups: the global top-2, experts 0 and 4. */
  spec.n_group = 0;
  route_once(&spec, &m, out);
  expect_pair("no groups", out, 0, 2.5f * p[0] / (p[0] + p[4]), 4, 2.5f * p[4] / (p[0] + p[4]));

  /* Bias -0.5 on expert 3: choice 0.417, g1 still first (1.341), g3 second; among {2, 3, 6, 7}
   * the choices are 0.924, 0.417, 0.5, 0.550: experts 2 and 7, weighted by their unbiased
   * probabilities. */
  spec = hand_spec();
  spec.score_correction_bias = true;
  m.bias[3] = -0.5f;
  route_once(&spec, &m, out);
  expect_pair("bias", out, 2, 2.5f * p[2] / (p[2] + p[7]), 7, 2.5f * p[7] / (p[2] + p[7]));

  /* Without renormalization the weights are the probabilities times the factor. */
  spec.no_renormalize = true;
  route_once(&spec, &m, out);
  expect_pair("no renormalize", out, 2, 2.5f * p[2], 7, 2.5f * p[7]);

  /* Softmax routing with the same groups: the group sums now rank differently (exp: g0 20.09 +
   * 0.05, g1 12.18 + 11.02, g2 16.44 + 0.01, g3 1 + 1.22, over the same denominator): g1 and g0
   * win, and among experts 0-3 the top-2 are 0 and 2, renormalized over the two. */
  spec = hand_spec();
  spec.routing = TTT_MOE_ROUTING_SOFTMAX;
  route_once(&spec, &m, out);
  float e0 = expf(3.0f), e2 = expf(2.5f);
  expect_pair("softmax groups", out, 0, 2.5f * e0 / (e0 + e2), 2, 2.5f * e2 / (e0 + e2));
}

static void test_routing_errors(void) {
  ttt_moe_spec spec = hand_spec();
  CHECK_OK(ttt_moe_spec_validate(&spec));
  spec.n_group = 3;
  CHECK_ERR(ttt_moe_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "n_group");
  spec = hand_spec();
  spec.n_group = 8;
  CHECK_ERR(ttt_moe_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "at least 2");
  spec = hand_spec();
  spec.topk_group = 5;
  CHECK_ERR(ttt_moe_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "topk_group");
  spec = hand_spec();
  spec.topk_group = 1;
  spec.top_k = 3;
  CHECK_ERR(ttt_moe_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "top_k");
  spec = hand_spec();
  spec.routing = (ttt_moe_routing)7;
  CHECK_ERR(ttt_moe_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "routing");
  spec = hand_spec();
  spec.routed_scaling_factor = -1.0f;
  CHECK_ERR(ttt_moe_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "routed_scaling_factor");
  CHECK(strcmp(ttt_moe_routing_name(TTT_MOE_ROUTING_SIGMOID), "sigmoid") == 0);

  /* The bias tensor must be given exactly with score_correction_bias, shaped [n_experts]. */
  const float logits[E] = {0};
  hand_moe m;
  hand_init(&m, logits);
  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  float x[H] = {1.0f}, out[H];
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 1, H), to = ttt_tensor_2d(TTT_F32, out, 1, H);
  ttt_moe_weights w = {.router = ttt_tensor_2d(TTT_F32, m.router, E, H), .experts = m.experts};
  spec = hand_spec();
  spec.score_correction_bias = true;
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "moe.router_bias");
  w.router_bias = ttt_tensor_1d(TTT_F32, m.bias, E - 1);
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_SHAPE, "moe.router_bias");
  spec.score_correction_bias = false;
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "moe.router_bias");
  ttt_context_destroy(ctx);
}

/* ---- random weights against the reference ---- */

enum { RE = 16, RH = 64, RN = 32, RT = 9 };

static void test_routing_vs_reference(void) {
  ttt_test_rng rng = ttt_test_rng_make(2024);
  ttt_moe_spec spec = {.expert = {.hidden = RH, .intermediate = RN, .gated = true},
                       .n_experts = RE,
                       .top_k = 3,
                       .routing = TTT_MOE_ROUTING_SIGMOID,
                       .score_correction_bias = true,
                       .n_group = 4,
                       .topk_group = 2,
                       .routed_scaling_factor = 2.5f};
  ttt_tensor router = btu_matrix(&rng, RE, RH, 4.0 / sqrt((double)RH));
  ttt_tensor bias = btu_vector(&rng, RE, 0.2);
  ttt_mlp_weights master[RE], conv[RE];
  for (int e = 0; e < RE; e++) {
    master[e] = (ttt_mlp_weights){.gate = btu_matrix(&rng, RN, RH, 1.0 / sqrt((double)RH)),
                                  .up = btu_matrix(&rng, RN, RH, 1.0 / sqrt((double)RH)),
                                  .down = btu_matrix(&rng, RH, RN, 1.0 / sqrt((double)RN))};
  }
  float x[RT * RH], out[RT * RH];
  ttt_test_fill_uniform(&rng, x, RT * RH, -1.0f, 1.0f);
  double *xd = btu_doubles(x, RT * RH), ref[RT * RH];
  ttt_context *ctx = ttt_test_context(2);
  btu_stats stats = {0};
  const ttt_dtype dtypes[2] = {TTT_F32, TTT_Q8_0};
  for (int variant = 0; ctx && xd && variant < 4; variant++) {
    ttt_moe_spec s = spec;
    s.no_renormalize = variant & 1;
    if (variant & 2) s.n_group = 0;
    ttt_moe_weights mw = {.router = router, .experts = master, .router_bias = bias};
    CHECK_OK(ttt_reference_moe(&s, &mw, xd, RT, ref));
    for (int d = 0; d < 2; d++) {
      for (int e = 0; e < RE; e++)
        conv[e] = (ttt_mlp_weights){.gate = btu_as(&master[e].gate, dtypes[d]),
                                    .up = btu_as(&master[e].up, dtypes[d]),
                                    .down = btu_as(&master[e].down, dtypes[d])};
      for (int grouped = 0; grouped < 2; grouped++) {
        ttt_moe_impl_config impl = {.weight_dtype = dtypes[d], .group_by_expert = grouped};
        ttt_moe_weights w = {.router = router, .experts = conv, .router_bias = bias};
        ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, RT, RH), to = ttt_tensor_2d(TTT_F32, out, RT, RH);
        CHECK_OK(ttt_moe_forward(ctx, &s, &impl, &w, &tx, &to));
        char label[128];
        snprintf(label, sizeof label, "sigmoid%s%s %s %s", s.no_renormalize ? " no-renorm" : "",
                 s.n_group ? " groups" : "", ttt_dtype_name(dtypes[d]),
                 grouped ? "grouped" : "per-token");
        btu_check(&stats, dtypes[d], false, label, out, ref, RT * RH, btu_threshold_for(dtypes[d]));
      }
      for (int e = 0; e < RE; e++) {
        btu_release(&conv[e].gate, &master[e].gate);
        btu_release(&conv[e].up, &master[e].up);
        btu_release(&conv[e].down, &master[e].down);
      }
    }
  }
  btu_print_stats("moe routing", &stats);
  free(xd);
  for (int e = 0; e < RE; e++) {
    ttt_tensor_free(&master[e].gate);
    ttt_tensor_free(&master[e].up);
    ttt_tensor_free(&master[e].down);
  }
  ttt_tensor_free(&router);
  ttt_tensor_free(&bias);
  ttt_context_destroy(ctx);
}

int main(void) {
  TTT_RUN(test_routing_by_hand);
  TTT_RUN(test_routing_errors);
  TTT_RUN(test_routing_vs_reference);
  return ttt_test_finish();
}
