/*
 * A CausalLM whose layers use multi-head latent attention (DeepSeek-V3 structure at toy dims:
 * layer 0 MLA + dense MLP, layer 1 MLA + sigmoid/group-routed MoE with a shared expert), against a
 * float64 reference chained from the blocks' references (ttt_reference_decoder_layer, which runs
 * ttt_reference_mla for MLA layers).
 *
 * Checks: prefill of 7 tokens then 5 decodes, with naive and with absorbed decode, reproduce the
 * reference logits of all 12 positions (accuracy strategy: PCC >= 0.99999 and max abs <= 1e-4 of
 * logits of magnitude ~1; f32 chains of <= 64-term dot products err ~1e-6); the performance
 * strategy (q8_0 weights and activations, bf16 latent cache) keeps PCC >= 0.99 (8-bit blocks,
 * see block_test_util.h). The cache has latent layers of kv_lora_rank + qk_rope_head_dim values
 * and its bytes are exactly that per position and layer; module views and weight paths name the
 * MLA tensors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"

enum { MAX_WEIGHTS = 128, VOCAB = 96, HID = 64, PREFILL = 7, TOTAL = 12, MAXPOS = 32 };

typedef struct store {
  char names[MAX_WEIGHTS][80];
  ttt_tensor tensors[MAX_WEIGHTS];
  int count;
} store;

static ttt_status resolve(void *user, const char *path, ttt_tensor *out) {
  store *s = user;
  if (!out) return TTT_OK;
  for (int i = 0; i < s->count; i++)
    if (strcmp(s->names[i], path) == 0) {
      *out = s->tensors[i];
      return TTT_OK;
    }
  return ttt_set_error(TTT_ERR_NOT_FOUND, "no weight '%s'", path);
}

static ttt_tensor W(const store *s, const char *name) {
  for (int i = 0; i < s->count; i++)
    if (strcmp(s->names[i], name) == 0) return s->tensors[i];
  return (ttt_tensor){0};
}

/* Adds name = center + U(-scale, scale), [d0] or [d0, d1]. */
static void add(store *s, ttt_test_rng *rng, const char *name, int64_t d0, int64_t d1, float center,
                float scale) {
  int i = s->count++;
  snprintf(s->names[i], sizeof s->names[i], "%s", name);
  int64_t shape[2] = {d0, d1};
  CHECK_OK(ttt_tensor_alloc(&s->tensors[i], TTT_F32, d1 > 0 ? 2 : 1, shape));
  float *x = s->tensors[i].data;
  for (int64_t j = 0; j < d0 * (d1 > 0 ? d1 : 1); j++)
    x[j] = center + ttt_test_rng_uniform(rng, -scale, scale);
}

static ttt_mla_spec mla_spec(void) {
  return (ttt_mla_spec){.hidden = HID,
                        .n_heads = 4,
                        .q_lora_rank = 32,
                        .kv_lora_rank = 32,
                        .qk_nope_head_dim = 16,
                        .qk_rope_head_dim = 8,
                        .v_head_dim = 16,
                        .norm_eps = 1e-6f,
                        .rope = {.type = TTT_ROPE_DEFAULT,
                                 .head_dim = 8,
                                 .max_positions = MAXPOS,
                                 .theta = 10000.0,
                                 .interleaved = true}};
}

static ttt_causal_lm_spec make_spec(void) {
  ttt_causal_lm_spec s = {.embedding = {.vocab = VOCAB, .dim = HID},
                          .n_layers = 2,
                          .norm = {.type = TTT_NORM_RMS, .dim = HID, .eps = 1e-6f},
                          .lm_head = {.hidden = HID, .vocab = VOCAB},
                          .max_positions = MAXPOS};
  ttt_mlp_spec expert = {.hidden = HID, .intermediate = 32, .gated = true};
  for (int l = 0; l < 2; l++) {
    ttt_decoder_layer_spec *ls = &s.layers[l];
    ls->attention_norm = s.norm;
    ls->ffn_norm = s.norm;
    ls->attention_kind = TTT_ATTENTION_KIND_MLA;
    ls->mla = mla_spec();
  }
  s.layers[0].ffn = (ttt_ffn_spec){.kind = TTT_FFN_MLP,
                                   .mlp = {.hidden = HID, .intermediate = 96, .gated = true}};
  s.layers[1].ffn = (ttt_ffn_spec){.kind = TTT_FFN_MOE,
                                   .moe = {.expert = expert,
                                           .n_experts = 8,
                                           .top_k = 2,
                                           .shared_expert = true,
                                           .shared = expert,
                                           .routing = TTT_MOE_ROUTING_SIGMOID,
                                           .score_correction_bias = true,
                                           .n_group = 4,
                                           .topk_group = 2,
                                           .routed_scaling_factor = 2.5f}};
  return s;
}

static void add_mlp(store *s, ttt_test_rng *rng, const char *prefix, int64_t inter) {
  char name[96];
  float a = 1.0f / sqrtf((float)HID), b = 1.0f / sqrtf((float)inter);
  snprintf(name, sizeof name, "%s.gate", prefix);
  add(s, rng, name, inter, HID, 0.0f, 1.7f * a);
  snprintf(name, sizeof name, "%s.up", prefix);
  add(s, rng, name, inter, HID, 0.0f, 1.7f * a);
  snprintf(name, sizeof name, "%s.down", prefix);
  add(s, rng, name, HID, inter, 0.0f, 1.7f * b);
}

static void make_weights(const ttt_causal_lm_spec *spec, store *s) {
  ttt_test_rng rng = ttt_test_rng_make(31);
  add(s, &rng, "embedding.table", VOCAB, HID, 0.0f, 1.0f);
  char name[96];
  for (int l = 0; l < 2; l++) {
    const ttt_mla_spec *m = &spec->layers[l].mla;
    int64_t H = m->n_heads, dq = m->qk_nope_head_dim + m->qk_rope_head_dim;
    struct {
      const char *field;
      int64_t d0, d1;
      float center, scale;
    } t[] = {
        {"attention_norm.weight", HID, 0, 1.0f, 0.2f},
        {"attention.q_a_proj", m->q_lora_rank, HID, 0.0f, 0.2f},
        {"attention.q_a_norm", m->q_lora_rank, 0, 1.0f, 0.2f},
        {"attention.q_b_proj", H * dq, m->q_lora_rank, 0.0f, 0.5f},
        {"attention.kv_a_proj", m->kv_lora_rank + m->qk_rope_head_dim, HID, 0.0f, 0.2f},
        {"attention.kv_a_norm", m->kv_lora_rank, 0, 1.0f, 0.2f},
        {"attention.kv_b_proj", H * (m->qk_nope_head_dim + m->v_head_dim), m->kv_lora_rank, 0.0f,
         0.3f},
        {"attention.o_proj", HID, H * m->v_head_dim, 0.0f, 0.2f},
        {"ffn_norm.weight", HID, 0, 1.0f, 0.2f},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
      snprintf(name, sizeof name, "layers.%d.%s", l, t[i].field);
      add(s, &rng, name, t[i].d0, t[i].d1, t[i].center, t[i].scale);
    }
  }
  add_mlp(s, &rng, "layers.0.ffn", 96);
  add(s, &rng, "layers.1.ffn.router", 8, HID, 0.0f, 0.5f);
  add(s, &rng, "layers.1.ffn.router_bias", 8, 0, 0.0f, 0.05f);
  for (int e = 0; e < 8; e++) {
    snprintf(name, sizeof name, "layers.1.ffn.experts.%d", e);
    add_mlp(s, &rng, name, 32);
  }
  add_mlp(s, &rng, "layers.1.ffn.shared", 32);
  add(s, &rng, "norm.weight", HID, 0, 1.0f, 0.2f);
  add(s, &rng, "lm_head.weight", VOCAB, HID, 0.0f, 0.3f);
}

static ttt_mlp_weights mlp_w(const store *s, const char *prefix) {
  char g[96], u[96], d[96];
  snprintf(g, sizeof g, "%s.gate", prefix);
  snprintf(u, sizeof u, "%s.up", prefix);
  snprintf(d, sizeof d, "%s.down", prefix);
  return (ttt_mlp_weights){.gate = W(s, g), .up = W(s, u), .down = W(s, d)};
}

static ttt_decoder_layer_weights layer_w(const store *s, int l, ttt_mlp_weights *experts) {
  char p[96];
#define T(fmt) (snprintf(p, sizeof p, "layers.%d." fmt, l), W(s, p))
  ttt_decoder_layer_weights w = {.attention_norm = {.weight = T("attention_norm.weight")},
                                 .ffn_norm = {.weight = T("ffn_norm.weight")},
                                 .mla = {.q_a_proj = T("attention.q_a_proj"),
                                         .q_a_norm = T("attention.q_a_norm"),
                                         .q_b_proj = T("attention.q_b_proj"),
                                         .kv_a_proj = T("attention.kv_a_proj"),
                                         .kv_a_norm = T("attention.kv_a_norm"),
                                         .kv_b_proj = T("attention.kv_b_proj"),
                                         .o_proj = T("attention.o_proj")}};
  if (l == 0) {
    w.ffn.mlp = mlp_w(s, "layers.0.ffn");
    return w;
  }
  for (int e = 0; e < 8; e++) {
    snprintf(p, sizeof p, "layers.1.ffn.experts.%d", e);
    experts[e] = mlp_w(s, p);
  }
  w.ffn.moe = (ttt_moe_weights){.router = T("ffn.router"),
                                .router_bias = T("ffn.router_bias"),
                                .experts = experts,
                                .shared = mlp_w(s, "layers.1.ffn.shared")};
#undef T
  return w;
}

static void reference_logits(const ttt_causal_lm_spec *spec, const store *s, const int32_t *tokens,
                             double *logits) {
  double *x = calloc(TOTAL * HID, sizeof *x), *y = calloc(TOTAL * HID, sizeof *y);
  ttt_embedding_weights ew = {.table = W(s, "embedding.table")};
  CHECK_OK(ttt_reference_embedding(&spec->embedding, &ew, tokens, TOTAL, false, x));
  for (int l = 0; l < 2; l++) {
    ttt_mlp_weights experts[8];
    ttt_decoder_layer_weights w = layer_w(s, l, experts);
    CHECK_OK(ttt_reference_decoder_layer(&spec->layers[l], &w, x, TOTAL, y));
    double *swap = x;
    x = y;
    y = swap;
  }
  ttt_norm_weights nw = {.weight = W(s, "norm.weight")};
  CHECK_OK(ttt_reference_norm(&spec->norm, &nw, x, TOTAL, y));
  ttt_lm_head_weights hw = {.weight = W(s, "lm_head.weight")};
  CHECK_OK(ttt_reference_lm_head(&spec->lm_head, &hw, y, TOTAL, logits));
  free(x);
  free(y);
}

/* Prefill PREFILL tokens (all logits) then decode the rest, with `algorithm` for decode. */
static void run(ttt_strategy strategy, ttt_mla_algorithm algorithm, const store *s,
                const ttt_causal_lm_spec *spec, const int32_t *tokens, float *logits) {
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK_OK(ttt_context_create(&device, &ctx));
  ttt_causal_lm_impl_config impl;
  CHECK_OK(ttt_causal_lm_default_impl_config(&device, strategy, TTT_F32, spec, &impl));
  for (int l = 0; l < 2; l++) impl.decode.layers[l].mla.algorithm = algorithm;
  ttt_causal_lm *model = NULL;
  CHECK_OK(ttt_causal_lm_create(spec, &impl, resolve, (void *)s, &model));
  ttt_kv_cache *cache = NULL;
  if (model) CHECK_OK(ttt_causal_lm_create_cache(model, 0, &cache));
  if (!model || !cache || !ctx) return;
  ttt_tensor lp = ttt_tensor_2d(TTT_F32, logits, PREFILL, VOCAB);
  CHECK_OK(ttt_causal_lm_prefill_forward(model, ctx, cache, tokens, PREFILL, 0, false, &lp, NULL));
  for (int t = PREFILL; t < TOTAL; t++) {
    ttt_tensor ld = ttt_tensor_2d(TTT_F32, logits + t * VOCAB, 1, VOCAB);
    CHECK_OK(ttt_causal_lm_decode_forward(model, ctx, cache, tokens[t], t, &ld, NULL));
  }
  ttt_kv_cache_destroy(cache);
  ttt_causal_lm_destroy(model);
  ttt_context_destroy(ctx);
}

static void compare(const char *label, const float *actual, const double *expected, double min_pcc,
                    double max_abs) {
  ttt_tensor a = ttt_tensor_1d(TTT_F32, (void *)actual, TOTAL * VOCAB);
  ttt_tensor e = ttt_tensor_1d(TTT_F64, (void *)expected, TOTAL * VOCAB);
  ttt_compare_result r;
  CHECK_OK(ttt_compare(&a, &e, NULL, 0.0, 0.0, &r));
  printf("%-40s pcc %.9f max abs %.3e\n", label, r.pcc, r.max_abs_err);
  CHECK_MSG(r.pcc >= min_pcc, "%s: pcc %.9f < %g", label, r.pcc, min_pcc);
  if (max_abs > 0) CHECK_MSG(r.max_abs_err <= max_abs, "%s: max abs %.3g", label, r.max_abs_err);
}

static void test_mla_model_matches_reference(void) {
  ttt_causal_lm_spec spec = make_spec();
  CHECK_OK(ttt_causal_lm_spec_validate(&spec));
  store *s = calloc(1, sizeof *s);
  make_weights(&spec, s);
  int32_t tokens[TOTAL];
  for (int t = 0; t < TOTAL; t++) tokens[t] = (t * 37 + 5) % VOCAB;
  double *ref = malloc(TOTAL * VOCAB * sizeof *ref);
  float *out = malloc(TOTAL * VOCAB * sizeof *out);
  reference_logits(&spec, s, tokens, ref);
  run(TTT_STRATEGY_ACCURACY, TTT_MLA_NAIVE, s, &spec, tokens, out);
  compare("accuracy, naive decode", out, ref, 0.99999, 1e-4);
  run(TTT_STRATEGY_ACCURACY, TTT_MLA_ABSORBED, s, &spec, tokens, out);
  compare("accuracy, absorbed decode", out, ref, 0.99999, 1e-4);
  run(TTT_STRATEGY_PERFORMANCE, TTT_MLA_ABSORBED, s, &spec, tokens, out);
  compare("performance (q8_0), absorbed decode", out, ref, 0.99, 0);
  free(ref);
  free(out);
  for (int i = 0; i < s->count; i++) ttt_tensor_free(&s->tensors[i]);
  free(s);
}

static void test_mla_cache_modules_and_errors(void) {
  ttt_causal_lm_spec spec = make_spec();
  store *s = calloc(1, sizeof *s);
  make_weights(&spec, s);
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_causal_lm_impl_config impl;
  CHECK_OK(
      ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, &impl));
  /* The impl path of an MLA layer's attention. */
  CHECK(impl.decode.layers[1].mla.algorithm == TTT_MLA_ABSORBED);
  CHECK_OK(ttt_causal_lm_impl_set(&impl, &spec, "decode.layers.*.mla.algorithm=naive"));
  CHECK(impl.decode.layers[0].mla.algorithm == TTT_MLA_NAIVE &&
        impl.decode.layers[1].mla.algorithm == TTT_MLA_NAIVE);
  CHECK_ERR(ttt_causal_lm_impl_set(&impl, &spec, "layers.0.mla.algorithm=tiled"),
            TTT_ERR_INVALID_ARGUMENT, "absorbed");
  ttt_causal_lm *model = NULL;
  CHECK_OK(ttt_causal_lm_create(&spec, &impl, resolve, s, &model));
  ttt_kv_cache *cache = NULL;
  if (model) CHECK_OK(ttt_causal_lm_create_cache(model, 16, &cache));
  if (cache) {
    const ttt_kv_cache_spec *cs = ttt_kv_cache_get_spec(cache);
    CHECK(cs->layers[0].latent && cs->layers[1].latent);
    CHECK(cs->layers[0].head_dim == 32 + 8 && cs->layers[0].n_kv_heads == 1);
    /* 2 layers × 16 positions × 40 f32 values, no separate values. */
    CHECK(ttt_kv_cache_bytes(cache) == 2 * 16 * 40 * sizeof(float));
  }
  ttt_module_view v;
  if (model) {
    CHECK_OK(ttt_causal_lm_module(model, TTT_MODE_DECODE, "layers.1.attention", &v));
    CHECK(v.kind == TTT_BLOCK_MLA && v.rope != NULL);
    CHECK(((const ttt_mla_spec *)v.spec)->kv_lora_rank == 32);
    CHECK(strcmp(ttt_block_kind_name(TTT_BLOCK_MLA), "mla") == 0);
  }
  ttt_kv_cache_destroy(cache);
  ttt_causal_lm_destroy(model);
  /* A missing MLA tensor is named. */
  strcpy(s->names[6], "renamed");
  CHECK_ERR(ttt_causal_lm_create(&spec, &impl, resolve, s, &model), TTT_ERR_NOT_FOUND,
            "layers.0.attention.kv_a_norm");
  /* An MLA layer's spec is validated as such. */
  spec.layers[1].mla.qk_rope_head_dim = 5;
  CHECK_ERR(ttt_causal_lm_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "qk_rope_head_dim");
  spec.layers[1].attention_kind = (ttt_attention_kind)9;
  CHECK_ERR(ttt_causal_lm_spec_validate(&spec), TTT_ERR_INVALID_ARGUMENT, "attention_kind");
  CHECK(strcmp(ttt_attention_kind_name(TTT_ATTENTION_KIND_MLA), "mla") == 0);
  for (int i = 0; i < s->count; i++) ttt_tensor_free(&s->tensors[i]);
  free(s);
}

/* The suite's trace run: prefill 6 tokens, decode 4. */
static ttt_status sample(ttt_context *ctx, const ttt_causal_lm *model, void *user,
                         const ttt_observer *observer) {
  (void)user;
  ttt_kv_cache *cache = NULL;
  ttt_status st = ttt_causal_lm_create_cache(model, 0, &cache);
  float logits[6 * VOCAB];
  int32_t tokens[10] = {3, 14, 15, 92, 65, 35, 89, 79, 32, 38};
  ttt_tensor lt = ttt_tensor_2d(TTT_F32, logits, 6, VOCAB);
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(model, ctx, cache, tokens, 6, 0, false, &lt, observer);
  for (int t = 6; st == TTT_OK && t < 10; t++) {
    ttt_tensor ld = ttt_tensor_2d(TTT_F32, logits, 1, VOCAB);
    st = ttt_causal_lm_decode_forward(model, ctx, cache, tokens[t], t, &ld, observer);
  }
  ttt_kv_cache_destroy(cache);
  return st;
}

/* Suite cases on MLA modules: the traced inputs of layers.N.attention (an MLA block: replayed into a
 * latent cache) and of a whole MLA layer, in both modes, against the built-in float64 references
 * (ttt_reference_mla, ttt_reference_decoder_layer). */
static void test_suite_on_mla_modules(void) {
  ttt_causal_lm_spec spec = make_spec();
  store *s = calloc(1, sizeof *s);
  make_weights(&spec, s);
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK_OK(ttt_context_create(&device, &ctx));
  ttt_causal_lm_impl_config impl;
  CHECK_OK(
      ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, &impl));
  ttt_causal_lm *model = NULL;
  CHECK_OK(ttt_causal_lm_create(&spec, &impl, resolve, s, &model));
  ttt_suite *suite = NULL;
  if (model)
    CHECK_OK(ttt_suite_create(
        &(ttt_suite_options){.name = "mla", .model = model, .sample_run = sample}, &suite));
  const char *modules[3] = {"layers.0.attention", "layers.1.attention", "layers.1"};
  for (int m = 0; suite && m < 3; m++)
    for (int mode = 0; mode < 2; mode++)
      CHECK_OK(
          ttt_suite_add(suite, &(ttt_suite_case){.module = modules[m],
                                                 .mode = (ttt_mode)mode,
                                                 .input = TTT_SUITE_INPUT_TRACE,
                                                 .reference = TTT_SUITE_REF_BUILTIN,
                                                 .expect = {.pcc = 0.99999, .max_abs = 1e-4}}));
  if (suite) {
    FILE *sink = getenv("TTT_TEST_VERBOSE") ? NULL : fopen("/dev/null", "w");
    CHECK(ttt_suite_run(suite, ctx, sink ? sink : stdout) == TTT_SUITE_PASSED);
    if (sink) fclose(sink);
    ttt_suite_destroy(suite);
  }
  ttt_causal_lm_destroy(model);
  ttt_context_destroy(ctx);
  for (int i = 0; i < s->count; i++) ttt_tensor_free(&s->tensors[i]);
  free(s);
}

int main(void) {
  TTT_RUN(test_mla_model_matches_reference);
  TTT_RUN(test_mla_cache_modules_and_errors);
  TTT_RUN(test_suite_on_mla_modules);
  return ttt_test_finish();
}
