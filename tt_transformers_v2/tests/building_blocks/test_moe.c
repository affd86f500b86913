/*
 * Mixture of experts against the float64 reference.
 *
 * Mixtral-8x7B: hidden 4096, 8 experts, top-2, renormalized, SwiGLU experts, with each expert's
 * intermediate size cut from 14336 to 512 (the 8 real experts are 5.6 GB in f32; routing, gather/
 * scatter and the expert MLPs are the same code at any width). Qwen2-MoE-style routing (60
 * experts, top-4, no renormalization) runs at reduced dims. The impl matrix (weight f32/bf16/q8_0,
 * q8_0 activations, kernels, 1/2 threads, fused/unfused gate+up, grouped/per-token paths, 1/17
 * tokens, prefill/decode defaults) runs at reduced dims. Every token is compared (routing differs
 * per token). Thresholds as in block_test_util.h. Router logits are f32 in the optimized path
 * and float64 in the reference: with these seeds no token has a near-tie between its k-th and
 * (k+1)-th expert, which would flip the selection (test_no_near_ties checks this).
 */
#include "block_test_util.h"

enum { T_MAX = 17 };

static btu_stats stats;
static ttt_context *ctx;

typedef struct moe_master {
  ttt_moe_spec spec;
  ttt_tensor router;
  ttt_mlp_weights *experts; /* n_experts, f32 */
  ttt_mlp_weights shared;   /* with spec.shared_expert */
  ttt_tensor shared_gate;   /* with spec.shared_expert_gate */
} moe_master;

/* The master's weights with experts (and the shared expert) in the given views. */
static ttt_moe_weights weights_of(const moe_master *m, const ttt_mlp_weights *experts,
                                  const ttt_mlp_weights *shared) {
  return (ttt_moe_weights){
      .router = m->router, .experts = experts, .shared = *shared, .shared_gate = m->shared_gate};
}

static void master_make(moe_master *m, const ttt_moe_spec *spec, uint64_t seed) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  int64_t H = spec->expert.hidden, N = spec->expert.intermediate;
  memset(m, 0, sizeof *m);
  m->spec = *spec;
  /* A router a few times larger than 1/sqrt(H) gives peaked, clearly separated probabilities. */
  m->router = btu_matrix(&rng, spec->n_experts, H, 4.0 / sqrt((double)H));
  m->experts = calloc((size_t)spec->n_experts, sizeof(ttt_mlp_weights));
  for (int64_t e = 0; e < spec->n_experts; e++) {
    ttt_mlp_weights *w = &m->experts[e];
    w->gate = btu_matrix(&rng, N, H, 1.0 / sqrt((double)H));
    w->up = btu_matrix(&rng, N, H, 1.0 / sqrt((double)H));
    w->down = btu_matrix(&rng, H, N, 1.0 / sqrt((double)N));
  }
  if (spec->shared_expert) {
    int64_t S = spec->shared.intermediate;
    m->shared.gate = btu_matrix(&rng, S, H, 1.0 / sqrt((double)H));
    m->shared.up = btu_matrix(&rng, S, H, 1.0 / sqrt((double)H));
    m->shared.down = btu_matrix(&rng, H, S, 1.0 / sqrt((double)S));
  }
  if (spec->shared_expert_gate) m->shared_gate = btu_matrix(&rng, 1, H, 2.0 / sqrt((double)H));
}

static void master_free(moe_master *m) {
  ttt_tensor_free(&m->router);
  for (int64_t e = 0; e < m->spec.n_experts; e++) {
    ttt_tensor_free(&m->experts[e].gate);
    ttt_tensor_free(&m->experts[e].up);
    ttt_tensor_free(&m->experts[e].down);
  }
  free(m->experts);
  ttt_tensor *shared[] = {&m->shared.gate, &m->shared.up, &m->shared.down, &m->shared_gate};
  for (int i = 0; i < 4; i++) ttt_tensor_free(shared[i]);
}

static ttt_mlp_weights shared_as(const moe_master *m, ttt_dtype dtype) {
  if (!m->spec.shared_expert) return (ttt_mlp_weights){0};
  return (ttt_mlp_weights){.gate = btu_as(&m->shared.gate, dtype),
                           .up = btu_as(&m->shared.up, dtype),
                           .down = btu_as(&m->shared.down, dtype)};
}

static void shared_release(ttt_mlp_weights *w, const moe_master *m) {
  if (!m->spec.shared_expert) return;
  btu_release(&w->gate, &m->shared.gate);
  btu_release(&w->up, &m->shared.up);
  btu_release(&w->down, &m->shared.down);
}

/* The experts converted to dtype (caller frees with experts_release). */
static ttt_mlp_weights *experts_as(const moe_master *m, ttt_dtype dtype) {
  ttt_mlp_weights *out = calloc((size_t)m->spec.n_experts, sizeof(ttt_mlp_weights));
  for (int64_t e = 0; e < m->spec.n_experts; e++) {
    out[e].gate = btu_as(&m->experts[e].gate, dtype);
    out[e].up = btu_as(&m->experts[e].up, dtype);
    out[e].down = btu_as(&m->experts[e].down, dtype);
  }
  return out;
}

static void experts_release(ttt_mlp_weights *w, const moe_master *m) {
  for (int64_t e = 0; e < m->spec.n_experts; e++) {
    btu_release(&w[e].gate, &m->experts[e].gate);
    btu_release(&w[e].up, &m->experts[e].up);
    btu_release(&w[e].down, &m->experts[e].down);
  }
  free(w);
}

static void forward(const ttt_moe_spec *spec, const ttt_moe_impl_config *impl,
                    const ttt_moe_weights *w, float *x, int64_t T, float *out) {
  int64_t H = spec->expert.hidden;
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, T, H), to = ttt_tensor_2d(TTT_F32, out, T, H);
  CHECK_OK(ttt_moe_forward(ctx, spec, impl, w, &tx, &to));
}

typedef struct moe_config {
  ttt_dtype weight_dtype;
  bool q8_act;
  int32_t kernel; /* ttt_kernel */
  int32_t threads;
  bool fuse;
  bool grouped;
  int64_t T;
} moe_config;

/* Runs configs (grouped by weight dtype) against the f32-master reference and, for quantized
 * weights, against the reference on the same weights. */
static void run_configs(const char *name, const moe_master *m, uint64_t seed,
                        const moe_config *configs, size_t n_configs) {
  const ttt_moe_spec *spec = &m->spec;
  int64_t H = spec->expert.hidden;
  ttt_test_rng rng = ttt_test_rng_make(seed);
  float *x = malloc(sizeof(float) * (size_t)(T_MAX * H));
  float *out = malloc(sizeof(float) * (size_t)(T_MAX * H));
  btu_fill(&rng, x, T_MAX * H, 1.0);
  double *xd = btu_doubles(x, T_MAX * H);
  double *ref = malloc(sizeof(double) * (size_t)(T_MAX * H));
  double *same = malloc(sizeof(double) * (size_t)(T_MAX * H));
  ttt_moe_weights master = weights_of(m, m->experts, &m->shared);
  CHECK_OK(ttt_reference_moe(spec, &master, xd, T_MAX, ref));
  ttt_mlp_weights *experts = NULL, shared = {0};
  for (size_t c = 0; c < n_configs; c++) {
    const moe_config *mc = &configs[c];
    bool new_dtype = c == 0 || mc->weight_dtype != configs[c - 1].weight_dtype;
    if (new_dtype) {
      if (experts) experts_release(experts, m);
      shared_release(&shared, m);
      experts = experts_as(m, mc->weight_dtype);
      shared = shared_as(m, mc->weight_dtype);
      ttt_moe_weights w = weights_of(m, experts, &shared);
      if (mc->weight_dtype != TTT_F32) CHECK_OK(ttt_reference_moe(spec, &w, xd, T_MAX, same));
    }
    ttt_moe_weights w = weights_of(m, experts, &shared);
    ttt_moe_impl_config impl = {.weight_dtype = mc->weight_dtype,
                                .activation_dtype = mc->q8_act ? TTT_Q8_0 : TTT_F32,
                                .kernel = (ttt_kernel)mc->kernel,
                                .threads = mc->threads,
                                .fuse_gate_up = mc->fuse,
                                .group_by_expert = mc->grouped};
    forward(spec, &impl, &w, x, mc->T, out);
    char label[160];
    snprintf(label, sizeof label, "%s %s%s %s t%d %s %s T%lld", name,
             ttt_dtype_name(mc->weight_dtype), mc->q8_act ? "+q8act" : "",
             ttt_kernel_name(impl.kernel), mc->threads, mc->fuse ? "fused" : "unfused",
             mc->grouped ? "grouped" : "per-token", (long long)mc->T);
    btu_threshold th = btu_threshold_for(mc->weight_dtype);
    btu_check(&stats, mc->weight_dtype, mc->q8_act, label, out, ref, mc->T * H, th);
    if (mc->weight_dtype != TTT_F32)
      btu_check(NULL, mc->weight_dtype, mc->q8_act, label, out, same, mc->T * H,
                mc->q8_act ? BTU_Q8_ACT_SAME_WEIGHTS : BTU_F32);
    if (new_dtype)
      btu_check_bites(label, out, ref, mc->T * H, th, 1e-4,
                      mc->weight_dtype == TTT_F32 ? 0.01 : 0.3);
  }
  if (experts) experts_release(experts, m);
  shared_release(&shared, m);
  free(x);
  free(out);
  free(xd);
  free(ref);
  free(same);
}

static void test_mixtral_8x7b(void) {
  ttt_moe_spec spec = {
      .expert = {.hidden = 4096, .intermediate = 512, .activation = TTT_ACT_SILU, .gated = true},
      .n_experts = 8,
      .top_k = 2};
  moe_master m;
  master_make(&m, &spec, 500);
  const int R = TTT_KERNEL_REFERENCE, S = TTT_KERNEL_SIMD;
  const moe_config configs[] = {
      {TTT_F32, false, S, 2, true, true, T_MAX},  {TTT_F32, false, S, 1, true, false, T_MAX},
      {TTT_F32, false, S, 1, true, false, 1},     {TTT_F32, false, R, 2, false, true, T_MAX},
      {TTT_BF16, false, S, 2, true, true, T_MAX}, {TTT_BF16, false, S, 1, true, false, 1},
      {TTT_Q8_0, false, S, 2, true, true, T_MAX}, {TTT_Q8_0, true, S, 2, true, true, T_MAX},
      {TTT_Q8_0, true, S, 1, true, false, 1},
  };
  const moe_config sanitized[] = {{TTT_F32, false, S, 2, true, true, T_MAX},
                                  {TTT_Q8_0, true, S, 2, true, false, 1}};
  if (BTU_SANITIZED)
    run_configs("Mixtral-8x7B(ffn 512)", &m, 501, sanitized, 2);
  else
    run_configs("Mixtral-8x7B(ffn 512)", &m, 501, configs, sizeof configs / sizeof configs[0]);
  master_free(&m);
}

/* The whole impl matrix at reduced dims for one spec. */
static void run_matrix(const char *name, const ttt_moe_spec *spec, uint64_t seed) {
  enum { MAX_CONFIGS = 4 * 2 * 2 * 2 * 2 * 2 };
  moe_config *configs = malloc(sizeof(moe_config) * MAX_CONFIGS);
  size_t n = 0;
  const ttt_dtype dtypes[] = {TTT_F32, TTT_BF16, TTT_Q8_0};
  for (size_t d = 0; d < 3; d++)
    for (int q8_act = 0; q8_act <= (dtypes[d] == TTT_Q8_0); q8_act++)
      for (int kernel = TTT_KERNEL_REFERENCE; kernel <= TTT_KERNEL_SIMD; kernel++)
        for (int32_t threads = 1; threads <= 2; threads++)
          for (int fuse = 0; fuse <= 1; fuse++)
            for (int grouped = 0; grouped <= 1; grouped++)
              for (int64_t T = 1; T <= T_MAX; T += T_MAX - 1)
                if (n < MAX_CONFIGS && (fuse || T == T_MAX))
                  configs[n++] = (moe_config){dtypes[d], q8_act, kernel, threads, fuse, grouped, T};
  moe_master m;
  master_make(&m, spec, seed);
  run_configs(name, &m, seed + 1, configs, n);
  free(configs);

  /* Defaults per mode (prefill groups by expert, decode runs per token), and NULL impl. */
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_moe_impl_config prefill = ttt_moe_default_impl_config(&device, TTT_MODE_PREFILL, spec);
  ttt_moe_impl_config decode = ttt_moe_default_impl_config(&device, TTT_MODE_DECODE, spec);
  CHECK(prefill.group_by_expert && !decode.group_by_expert);
  int64_t H = spec->expert.hidden;
  ttt_test_rng rng = ttt_test_rng_make(seed + 2);
  float *x = malloc(sizeof(float) * (size_t)(T_MAX * H));
  float *out = malloc(sizeof(float) * (size_t)(T_MAX * H));
  btu_fill(&rng, x, T_MAX * H, 1.0);
  double *xd = btu_doubles(x, T_MAX * H);
  double *ref = malloc(sizeof(double) * (size_t)(T_MAX * H));
  ttt_moe_weights w = weights_of(&m, m.experts, &m.shared);
  CHECK_OK(ttt_reference_moe(spec, &w, xd, T_MAX, ref));
  const ttt_moe_impl_config *impls[] = {&prefill, &decode, NULL};
  const int64_t tokens[] = {T_MAX, 1, T_MAX};
  for (int i = 0; i < 3; i++) {
    forward(spec, impls[i], &w, x, tokens[i], out);
    btu_check(&stats, TTT_F32, false, "defaults", out, ref, tokens[i] * H, BTU_F32);
  }
  /* The wrong normalization must fail. */
  ttt_moe_spec flipped = *spec;
  flipped.no_renormalize = !spec->no_renormalize;
  CHECK_OK(ttt_reference_moe(&flipped, &w, xd, T_MAX, ref));
  forward(spec, NULL, &w, x, T_MAX, out);
  ttt_compare_result res;
  double rel;
  CHECK(!btu_passes(out, ref, T_MAX * H, BTU_F32, &res, &rel));
  if (spec->shared_expert) { /* so must a missing shared expert or gate */
    ttt_moe_spec without = *spec;
    without.shared_expert_gate = !spec->shared_expert_gate;
    ttt_moe_weights ungated = w;
    if (!without.shared_expert_gate) ungated.shared_gate = (ttt_tensor){0};
    if (!without.shared_expert_gate) {
      CHECK_OK(ttt_reference_moe(&without, &ungated, xd, T_MAX, ref));
      CHECK(!btu_passes(out, ref, T_MAX * H, BTU_F32, &res, &rel));
    }
    without = *spec;
    without.shared_expert = without.shared_expert_gate = false;
    ttt_moe_weights routed = {.router = m.router, .experts = m.experts};
    CHECK_OK(ttt_reference_moe(&without, &routed, xd, T_MAX, ref));
    CHECK(!btu_passes(out, ref, T_MAX * H, BTU_F32, &res, &rel));
  }
  free(x);
  free(out);
  free(xd);
  free(ref);
  master_free(&m);
}

static void test_matrix_mixtral_like(void) {
  ttt_moe_spec spec = {
      .expert = {.hidden = 128, .intermediate = 96, .activation = TTT_ACT_SILU, .gated = true},
      .n_experts = 8,
      .top_k = 2};
  run_matrix("moe 8x top2 128/96", &spec, 510);
}

static void test_matrix_qwen2_moe_like(void) {
  ttt_moe_spec spec = {
      .expert = {.hidden = 64, .intermediate = 32, .activation = TTT_ACT_SILU, .gated = true},
      .n_experts = 60,
      .top_k = 4,
      .no_renormalize = true};
  run_matrix("moe 60x top4 no-renorm 64/32", &spec, 520);
  /* Qwen2-MoE's shared expert (its own width) behind a sigmoid gate, then an ungated one */
  spec.shared_expert = spec.shared_expert_gate = true;
  spec.shared =
      (ttt_mlp_spec){.hidden = 64, .intermediate = 96, .activation = TTT_ACT_SILU, .gated = true};
  run_matrix("moe 60x top4 + gated shared 64/32+96", &spec, 521);
  spec.shared_expert_gate = false;
  run_matrix("moe 60x top4 + shared 64/32+96", &spec, 522);
}

/* Plain (ungated) gelu experts, and top_k == n_experts (a dense mixture). */
static void test_matrix_plain_experts_all_selected(void) {
  ttt_moe_spec spec = {
      .expert = {.hidden = 64, .intermediate = 64, .activation = TTT_ACT_GELU, .bias = false},
      .n_experts = 3,
      .top_k = 3};
  moe_master m;
  master_make(&m, &spec, 530);
  for (int64_t e = 0; e < 3; e++) ttt_tensor_free(&m.experts[e].gate); /* ungated */
  const moe_config configs[] = {{TTT_F32, false, TTT_KERNEL_SIMD, 2, true, true, T_MAX},
                                {TTT_F32, false, TTT_KERNEL_SIMD, 2, true, false, T_MAX}};
  run_configs("moe plain 3x top3", &m, 531, configs, 2);
  master_free(&m);
}

/* With these seeds the f32 router cannot pick different experts than the float64 one: the gap
 * between the k-th and (k+1)-th probability is far above f32 rounding for every token. */
static void test_no_near_ties(void) {
  ttt_moe_spec spec = {
      .expert = {.hidden = 4096, .intermediate = 32, .gated = true}, .n_experts = 8, .top_k = 2};
  ttt_test_rng rng = ttt_test_rng_make(500); /* the Mixtral router's seed and scale */
  ttt_tensor router = btu_matrix(&rng, 8, 4096, 4.0 / sqrt(4096.0));
  ttt_test_rng xrng = ttt_test_rng_make(501);
  float *x = malloc(sizeof(float) * T_MAX * 4096);
  btu_fill(&xrng, x, T_MAX * 4096, 1.0);
  double min_gap = 1.0;
  for (int t = 0; t < T_MAX; t++) {
    double logits[8], sorted[8];
    for (int e = 0; e < 8; e++) {
      logits[e] = 0.0;
      for (int i = 0; i < 4096; i++)
        logits[e] += (double)x[t * 4096 + i] * ((const float *)router.data)[e * 4096 + i];
      sorted[e] = logits[e];
    }
    for (int a = 0; a < 8; a++)
      for (int b = a + 1; b < 8; b++)
        if (sorted[b] > sorted[a]) {
          double tmp = sorted[a];
          sorted[a] = sorted[b];
          sorted[b] = tmp;
        }
    min_gap = fmin(min_gap, sorted[spec.top_k - 1] - sorted[spec.top_k]);
  }
  CHECK_MSG(min_gap > 1e-3, "logit gap %g too small for a stable top-k", min_gap);
  ttt_tensor_free(&router);
  free(x);
}

static void test_errors(void) {
  ttt_moe_spec spec = {
      .expert = {.hidden = 32, .intermediate = 32, .gated = true}, .n_experts = 4, .top_k = 2};
  moe_master m;
  master_make(&m, &spec, 540);
  float x[2 * 32] = {0}, out[2 * 32];
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 2, 32), to = ttt_tensor_2d(TTT_F32, out, 2, 32);
  ttt_moe_weights w = {.router = m.router, .experts = m.experts};
  CHECK_OK(ttt_moe_forward(ctx, &spec, NULL, &w, &tx, &to));
  ttt_tensor saved = m.experts[3].up;
  m.experts[3].up = btu_as(&saved, TTT_BF16);
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_DTYPE,
            "moe.experts[3].up: dtype bf16, expected f32");
  ttt_tensor_free(&m.experts[3].up);
  m.experts[3].up = saved;
  ttt_moe_weights bad = w;
  bad.router = btu_as(&m.router, TTT_BF16);
  ttt_moe_impl_config bf16 = {.weight_dtype = TTT_BF16};
  CHECK_ERR(ttt_moe_forward(ctx, &spec, &bf16, &bad, &tx, &to), TTT_ERR_DTYPE, "moe.router");
  ttt_tensor_free(&bad.router);
  bad = w;
  bad.experts = NULL;
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &bad, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "moe.experts");
  bad = w;
  bad.router = ttt_tensor_2d(TTT_F32, m.router.data, 3, 32);
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &bad, &tx, &to), TTT_ERR_SHAPE, "moe.router");
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &w, &tx, &tx), TTT_ERR_INVALID_ARGUMENT, "overlap");
  ttt_moe_spec shared = spec;
  shared.shared_expert_gate = true;
  CHECK_ERR(ttt_moe_spec_validate(&shared), TTT_ERR_INVALID_ARGUMENT, "needs shared_expert");
  shared.shared_expert = true;
  shared.shared = (ttt_mlp_spec){.hidden = 16, .intermediate = 8, .gated = true};
  CHECK_ERR(ttt_moe_spec_validate(&shared), TTT_ERR_SHAPE, "shared.hidden (16)");
  shared.shared.hidden = 32;
  CHECK_ERR(ttt_moe_forward(ctx, &shared, NULL, &w, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "moe.shared.gate");
  master_free(&m);
}

/* Expert parallelism: the outputs over expert ranges [0, 3) and [3, 8) (each with its half of the
 * shared expert's work done once, by the first range) add up to the whole layer's, in both the
 * per-token and the grouped paths; the reference honors the ranges too; a range outside the
 * experts is refused. */
static void test_expert_ranges(void) {
  ttt_moe_spec spec = {.expert = {.hidden = 32, .intermediate = 32, .gated = true},
                       .n_experts = 8,
                       .top_k = 2,
                       .shared_expert = true,
                       .shared = {.hidden = 32, .intermediate = 32, .gated = true}};
  moe_master m;
  master_make(&m, &spec, 541);
  enum { T = 5, H = 32 };
  float x[T * H], whole[T * H], part[2][T * H], none[T * H] = {0};
  ttt_test_rng rng = ttt_test_rng_make(542);
  ttt_test_fill_uniform(&rng, x, T * H, -1, 1);
  ttt_mlp_weights no_shared = {0};
  for (int grouped = 0; grouped < 2; grouped++) {
    ttt_moe_impl_config impl = {.group_by_expert = grouped};
    ttt_moe_weights w = weights_of(&m, m.experts, &m.shared);
    forward(&spec, &impl, &w, x, T, whole);
    ttt_moe_spec routed = spec;
    routed.shared_expert = false; /* the second range adds only its routed experts */
    ttt_moe_weights first = w, second = weights_of(&m, m.experts, &no_shared);
    first.expert_begin = 0;
    first.expert_count = 3;
    second.expert_begin = 3;
    second.expert_count = 5;
    second.experts = m.experts; /* entries of [0, 3) are not read: any pointer base works */
    forward(&spec, &impl, &first, x, T, part[0]);
    forward(&routed, &impl, &second, x, T, part[1]);
    double worst = 0;
    for (int i = 0; i < T * H; i++) {
      double d = fabs((double)whole[i] - (double)(part[0][i] + part[1][i]));
      if (d > worst) worst = d;
    }
    CHECK_MSG(worst <= 1e-5, "%s: ranges sum to the whole within %.3g",
              grouped ? "grouped" : "per token", worst);
  }
  ttt_moe_weights w = weights_of(&m, m.experts, &m.shared);
  w.expert_begin = 6;
  w.expert_count = 3;
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, T, H), to = ttt_tensor_2d(TTT_F32, none, T, H);
  CHECK_ERR(ttt_moe_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_OUT_OF_RANGE,
            "experts [expert_begin 6, + expert_count 3) are not within the 8 experts");
  double ref_whole[T * H], ref_part[T * H], xd[T * H];
  for (int i = 0; i < T * H; i++) xd[i] = x[i];
  ttt_moe_weights all = weights_of(&m, m.experts, &m.shared), some = all;
  some.expert_begin = 0;
  some.expert_count = 3;
  CHECK_OK(ttt_reference_moe(&spec, &all, xd, T, ref_whole));
  CHECK_OK(ttt_reference_moe(&spec, &some, xd, T, ref_part));
  double differs = 0;
  for (int i = 0; i < T * H; i++) differs += fabs(ref_whole[i] - ref_part[i]);
  CHECK_MSG(differs > 0, "the reference ignored the expert range");
  master_free(&m);
}

int main(void) {
  ctx = btu_context(2);
  if (!ctx) {
    fprintf(stderr, "cannot create a context: %s\n", ttt_last_error());
    return 1;
  }
  TTT_RUN(test_matrix_mixtral_like);
  TTT_RUN(test_matrix_qwen2_moe_like);
  TTT_RUN(test_matrix_plain_experts_all_selected);
  TTT_RUN(test_mixtral_8x7b);
  TTT_RUN(test_no_near_ties);
  TTT_RUN(test_errors);
  TTT_RUN(test_expert_ranges);
  btu_print_stats("moe", &stats);
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
