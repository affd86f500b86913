/*
 * The test suite API: a deliberately wrong implementation is caught; explicit, random and trace
 * inputs work (trace on a small generated CausalLM, prefill + greedy decode, every module kind);
 * golden and caller references; soft and strict latency; incomplete cases are rejected naming the
 * case; the JSON report is well-formed and holds the results.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"

/* ---- a small generated CausalLM ---- */

enum { MAX_WEIGHTS = 64, HIDDEN = 32, VOCAB = 48, FFN = 64 };

typedef struct weight_store {
  char names[MAX_WEIGHTS][64];
  ttt_tensor tensors[MAX_WEIGHTS];
  int count;
} weight_store;

static ttt_status store_resolve(void *user, const char *path, ttt_tensor *out) {
  if (!out) return TTT_OK; /* release call: the weights live in the store */
  weight_store *s = user;
  for (int i = 0; i < s->count; i++)
    if (strcmp(s->names[i], path) == 0) {
      *out = s->tensors[i];
      return TTT_OK;
    }
  return ttt_set_error(TTT_ERR_NOT_FOUND, "no weight %s", path);
}

/* A random [d0, d1] (d1 0: [d0]) tensor, centre ± scale. */
static void store_add(weight_store *s, ttt_test_rng *rng, const char *name, int64_t d0, int64_t d1,
                      float centre, float scale) {
  int i = s->count++;
  snprintf(s->names[i], sizeof s->names[i], "%s", name);
  ttt_tensor_alloc(&s->tensors[i], TTT_F32, d1 ? 2 : 1, (int64_t[2]){d0, d1});
  int64_t n = ttt_tensor_numel(&s->tensors[i]);
  float *x = s->tensors[i].data;
  for (int64_t j = 0; j < n; j++) x[j] = centre + ttt_test_rng_uniform(rng, -scale, scale);
}

static void store_free(weight_store *s) {
  for (int i = 0; i < s->count; i++) ttt_tensor_free(&s->tensors[i]);
  s->count = 0;
}

static ttt_causal_lm_spec small_spec(void) {
  ttt_causal_lm_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.embedding = (ttt_embedding_spec){.vocab = VOCAB, .dim = HIDDEN};
  spec.n_layers = 2;
  spec.max_positions = 32;
  for (int64_t l = 0; l < spec.n_layers; l++) {
    ttt_decoder_layer_spec *ls = &spec.layers[l];
    ls->attention_norm = (ttt_norm_spec){.type = TTT_NORM_RMS, .dim = HIDDEN, .eps = 1e-5f};
    ls->ffn_norm = ls->attention_norm;
    ls->attention = (ttt_attention_spec){
        .hidden = HIDDEN,
        .n_heads = 4,
        .n_kv_heads = 2,
        .head_dim = 8,
        .rope = {.type = TTT_ROPE_DEFAULT, .head_dim = 8, .max_positions = 32, .theta = 10000}};
    ls->ffn.kind = TTT_FFN_MLP;
    ls->ffn.mlp = (ttt_mlp_spec){
        .hidden = HIDDEN, .intermediate = FFN, .activation = TTT_ACT_SILU, .gated = true};
  }
  spec.norm = spec.layers[0].attention_norm;
  spec.lm_head = (ttt_lm_head_spec){.hidden = HIDDEN, .vocab = VOCAB};
  return spec;
}

static void generate_weights(const ttt_causal_lm_spec *spec, weight_store *s) {
  ttt_test_rng rng = ttt_test_rng_make(7);
  float in = 1.0f / sqrtf(HIDDEN);
  char name[64];
  store_add(s, &rng, "embedding.table", VOCAB, HIDDEN, 0, 1);
  for (int64_t l = 0; l < spec->n_layers; l++) {
    static const struct {
      const char *field;
      int64_t d0, d1;
      float centre, scale;
    } table[] = {
        {"attention_norm.weight", HIDDEN, 0, 1, 0.2f}, {"attention.wq", 32, HIDDEN, 0, 0.18f},
        {"attention.wk", 16, HIDDEN, 0, 0.18f},        {"attention.wv", 16, HIDDEN, 0, 0.18f},
        {"attention.wo", HIDDEN, 32, 0, 0.18f},        {"ffn_norm.weight", HIDDEN, 0, 1, 0.2f},
        {"ffn.gate", FFN, HIDDEN, 0, 0.18f},           {"ffn.up", FFN, HIDDEN, 0, 0.18f},
        {"ffn.down", HIDDEN, FFN, 0, 0.125f},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
      snprintf(name, sizeof name, "layers.%lld.%s", (long long)l, table[i].field);
      store_add(s, &rng, name, table[i].d0, table[i].d1, table[i].centre, table[i].scale);
    }
  }
  store_add(s, &rng, "norm.weight", HIDDEN, 0, 1, 0.2f);
  store_add(s, &rng, "lm_head.weight", VOCAB, HIDDEN, 0, in);
}

typedef struct fixture {
  ttt_device device;
  ttt_context *ctx;
  weight_store weights;
  ttt_causal_lm *model;
} fixture;

static void fixture_open(fixture *f) {
  memset(f, 0, sizeof *f);
  CHECK_OK(ttt_device_cpu(&f->device, 2));
  CHECK_OK(ttt_context_create(&f->device, &f->ctx));
  ttt_causal_lm_spec spec = small_spec();
  ttt_causal_lm_impl_config impl;
  CHECK_OK(
      ttt_causal_lm_default_impl_config(&f->device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, &impl));
  generate_weights(&spec, &f->weights);
  CHECK_OK(ttt_causal_lm_create(&spec, &impl, store_resolve, &f->weights, &f->model));
}

static void fixture_close(fixture *f) {
  ttt_causal_lm_destroy(f->model);
  store_free(&f->weights);
  ttt_context_destroy(f->ctx);
}

/* The sample run: prefill 6 tokens, then 4 greedy decode steps; then a second sequence that the
 * trace must ignore (positions go back to 0). */
static int32_t argmax(const float *x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = (int32_t)i;
  return best;
}

static ttt_status sample_run(ttt_context *ctx, const ttt_causal_lm *model, void *user,
                             const ttt_observer *observer) {
  int *calls = user;
  ++*calls;
  static const int32_t prompt[6] = {3, 17, 5, 40, 8, 1};
  float logits[VOCAB];
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 1, VOCAB);
  ttt_kv_cache *cache = NULL;
  ttt_status st = ttt_causal_lm_create_cache(model, 0, &cache);
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(model, ctx, cache, prompt, 6, 0, true, &out, observer);
  for (int64_t pos = 6; st == TTT_OK && pos < 10; pos++)
    st =
        ttt_causal_lm_decode_forward(model, ctx, cache, argmax(logits, VOCAB), pos, &out, observer);
  ttt_kv_cache_reset(cache);
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(model, ctx, cache, prompt, 2, 0, true, &out, observer);
  ttt_kv_cache_destroy(cache);
  return st;
}

/* ---- callback targets ---- */

typedef struct mlp_target {
  const ttt_mlp_spec *spec;
  const ttt_mlp_weights *weights;
  float scale; /* 1: correct; 1.01: deliberately wrong */
} mlp_target;

static ttt_status mlp_fn(void *user, ttt_context *ctx, const ttt_tensor *x, ttt_tensor *out) {
  const mlp_target *t = user;
  ttt_mlp_impl_config impl = {.weight_dtype = TTT_F32};
  ttt_status st = ttt_mlp_forward(ctx, t->spec, &impl, t->weights, x, out);
  float *y = out->data;
  for (int64_t i = 0; st == TTT_OK && i < ttt_tensor_numel(out); i++) y[i] *= t->scale;
  return st;
}

static ttt_status mlp_reference_fn(void *user, const ttt_tensor *x, ttt_tensor *expected) {
  const mlp_target *t = user;
  int64_t n = ttt_tensor_numel(x);
  double *xd = malloc((size_t)n * sizeof *xd);
  if (!xd) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t i = 0; i < n; i++) xd[i] = ttt_tensor_get(x, i);
  ttt_status st = ttt_reference_mlp(t->spec, t->weights, xd, x->shape[0], expected->data);
  free(xd);
  return st;
}

/* The weights of layers.0.ffn of the fixture as a standalone MLP. */
static ttt_mlp_weights fixture_mlp(const fixture *f) {
  ttt_module_view v;
  CHECK_OK(ttt_causal_lm_module(f->model, TTT_MODE_PREFILL, "layers.0.ffn", &v));
  return ((const ttt_ffn_weights *)v.weights)->mlp;
}

static const ttt_suite_expect tight = {.pcc = 0.99999, .atol = 1e-4, .rtol = 1e-3};

static void test_wrong_callback_is_caught(void) {
  fixture f;
  fixture_open(&f);
  ttt_causal_lm_spec spec = small_spec();
  ttt_mlp_weights w = fixture_mlp(&f);
  mlp_target good = {&spec.layers[0].ffn.mlp, &w, 1.0f}, bad = {&spec.layers[0].ffn.mlp, &w, 1.01f};
  float x[5 * HIDDEN];
  ttt_test_rng rng = ttt_test_rng_make(3);
  ttt_test_fill_uniform(&rng, x, 5 * HIDDEN, -1, 1);
  ttt_module_view block = {.kind = TTT_BLOCK_MLP, .spec = good.spec, .weights = &w};
  ttt_suite *suite;
  CHECK_OK(ttt_suite_create(&(ttt_suite_options){.name = "callbacks"}, &suite));
  CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "mlp good",
                                                  .fn = mlp_fn,
                                                  .user = &good,
                                                  .block = block,
                                                  .input = TTT_SUITE_INPUT_EXPLICIT,
                                                  .x = ttt_tensor_2d(TTT_F32, x, 5, HIDDEN),
                                                  .reference = TTT_SUITE_REF_BUILTIN,
                                                  .expect = tight}));
  CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "mlp scaled 1.01",
                                                  .fn = mlp_fn,
                                                  .user = &bad,
                                                  .block = block,
                                                  .input = TTT_SUITE_INPUT_EXPLICIT,
                                                  .x = ttt_tensor_2d(TTT_F32, x, 5, HIDDEN),
                                                  .reference = TTT_SUITE_REF_BUILTIN,
                                                  .expect = tight}));
  CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "mlp vs reference_fn",
                                                  .fn = mlp_fn,
                                                  .user = &good,
                                                  .input = TTT_SUITE_INPUT_RANDOM,
                                                  .random_shape = {3, HIDDEN},
                                                  .reference = TTT_SUITE_REF_FN,
                                                  .reference_fn = mlp_reference_fn,
                                                  .reference_user = &good,
                                                  .expect = tight}));
  CHECK(ttt_suite_run(suite, f.ctx, stdout) == TTT_SUITE_FAILED);
  ttt_suite_result r;
  CHECK_OK(ttt_suite_get_result(suite, 0, &r));
  CHECK(r.passed && r.accuracy_ok && r.rows == 5 && r.compare.max_abs_err < 1e-5);
  CHECK_OK(ttt_suite_get_result(suite, 1, &r));
  /* PCC is blind to a uniform scale; allclose is not. */
  CHECK(!r.passed && !r.compare.allclose && r.compare.pcc > 0.99999);
  CHECK_MSG(ttt_test_contains(r.failure, "not allclose"), "failure: %s", r.failure);
  CHECK_OK(ttt_suite_get_result(suite, 2, &r));
  CHECK(r.passed && r.rows == 3);
  ttt_suite_destroy(suite);
  fixture_close(&f);
}

/* Every module kind, traced in both modes, against the built-in references; a wrong callback fed
 * with traced inputs is caught too. */
static void test_trace_mode(void) {
  fixture f;
  fixture_open(&f);
  int calls = 0;
  ttt_causal_lm_spec spec = small_spec();
  ttt_mlp_weights w = fixture_mlp(&f);
  mlp_target bad = {&spec.layers[0].ffn.mlp, &w, 1.01f};
  ttt_suite *suite;
  CHECK_OK(ttt_suite_create(
      &(ttt_suite_options){
          .name = "trace", .model = f.model, .sample_run = sample_run, .sample_user = &calls},
      &suite));
  static const char *const modules[] = {"embedding",
                                        "layers.0.attention_norm",
                                        "layers.0.attention",
                                        "layers.1.attention",
                                        "layers.0.ffn_norm",
                                        "layers.1.ffn",
                                        "layers.1",
                                        "norm",
                                        "lm_head"};
  for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
    for (int m = 0; m < 2; m++)
      CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.module = modules[i],
                                                      .mode = (ttt_mode)m,
                                                      .input = TTT_SUITE_INPUT_TRACE,
                                                      .reference = TTT_SUITE_REF_BUILTIN,
                                                      .expect = tight}));
  CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "wrong ffn on traced inputs",
                                                  .module = "layers.0.ffn",
                                                  .mode = TTT_MODE_DECODE,
                                                  .fn = mlp_fn,
                                                  .user = &bad,
                                                  .input = TTT_SUITE_INPUT_TRACE,
                                                  .reference = TTT_SUITE_REF_BUILTIN,
                                                  .expect = tight}));
  CHECK(ttt_suite_run(suite, f.ctx, stdout) == TTT_SUITE_FAILED);
  CHECK(calls == 1);
  int64_t n = ttt_suite_case_count(suite);
  for (int64_t i = 0; i < n - 1; i++) {
    ttt_suite_result r;
    CHECK_OK(ttt_suite_get_result(suite, i, &r));
    CHECK_MSG(r.passed, "%s (%s): %s", r.name, ttt_mode_name(r.mode), r.failure);
    /* Prefill: the 6 prompt rows (1 for norm/lm_head, which see only the last row); decode: the 4
     * steps of the first sequence (the second sequence is not recorded). */
    bool last_only = strcmp(r.name, "norm") == 0 || strcmp(r.name, "lm_head") == 0;
    int64_t rows = r.mode == TTT_MODE_DECODE ? 4 : last_only ? 1 : 6;
    CHECK_MSG(r.rows == rows, "%s: %lld rows", r.name, (long long)r.rows);
  }
  ttt_suite_result wrong;
  CHECK_OK(ttt_suite_get_result(suite, n - 1, &wrong));
  CHECK(!wrong.passed && wrong.rows == 4);
  ttt_suite_destroy(suite);
  fixture_close(&f);
}

/* Explicit inputs for module targets, a golden reference, and seeded random inputs. */
static void test_explicit_golden_and_seed(void) {
  fixture f;
  fixture_open(&f);
  float x[4 * HIDDEN];
  ttt_test_rng rng = ttt_test_rng_make(11);
  ttt_test_fill_uniform(&rng, x, 4 * HIDDEN, -2, 2);
  /* Golden: the float64 reference of the final norm, computed here. */
  ttt_module_view v;
  CHECK_OK(ttt_causal_lm_module(f.model, TTT_MODE_PREFILL, "norm", &v));
  CHECK(v.kind == TTT_BLOCK_NORM && v.layer == -1);
  double xd[4 * HIDDEN], golden[4 * HIDDEN];
  for (int i = 0; i < 4 * HIDDEN; i++) xd[i] = x[i];
  CHECK_OK(ttt_reference_norm(v.spec, v.weights, xd, 4, golden));
  uint64_t seeds[3] = {5, 5, 6};
  double pcc[3];
  for (int run = 0; run < 3; run++) {
    ttt_suite *suite;
    CHECK_OK(ttt_suite_create(&(ttt_suite_options){.model = f.model, .seed = seeds[run]}, &suite));
    CHECK_OK(
        ttt_suite_add(suite, &(ttt_suite_case){.module = "norm",
                                               .input = TTT_SUITE_INPUT_EXPLICIT,
                                               .x = ttt_tensor_2d(TTT_F32, x, 4, HIDDEN),
                                               .reference = TTT_SUITE_REF_GOLDEN,
                                               .golden = ttt_tensor_2d(TTT_F64, golden, 4, HIDDEN),
                                               .expect = tight}));
    CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.module = "layers.0.attention",
                                                    .mode = TTT_MODE_DECODE,
                                                    .input = TTT_SUITE_INPUT_EXPLICIT,
                                                    .x = ttt_tensor_2d(TTT_F32, x, 4, HIDDEN),
                                                    .reference = TTT_SUITE_REF_BUILTIN,
                                                    .expect = tight}));
    CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "random ffn",
                                                    .module = "layers.1.ffn",
                                                    .input = TTT_SUITE_INPUT_RANDOM,
                                                    .random_shape = {3, HIDDEN},
                                                    .reference = TTT_SUITE_REF_BUILTIN,
                                                    .expect = tight}));
    CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "random ids",
                                                    .module = "embedding",
                                                    .input = TTT_SUITE_INPUT_RANDOM,
                                                    .random_shape = {7, 1},
                                                    .reference = TTT_SUITE_REF_BUILTIN,
                                                    .expect = tight}));
    CHECK(ttt_suite_run(suite, f.ctx, NULL) == TTT_SUITE_PASSED);
    ttt_suite_result r;
    CHECK_OK(ttt_suite_get_result(suite, 2, &r));
    pcc[run] = r.compare.pcc;
    CHECK_OK(ttt_suite_get_result(suite, 0, &r));
    CHECK(r.rows == 4 && r.passed);
    ttt_suite_destroy(suite);
  }
  /* The same seed reproduces the inputs exactly (bit-identical PCC); another seed changes them. */
  CHECK(pcc[0] == pcc[1]);
  CHECK(pcc[0] != pcc[2]);
  fixture_close(&f);
}

/* A cap no forward can meet: soft → reported, run passes; strict → the run fails. */
static void test_latency_expectations(void) {
  fixture f;
  fixture_open(&f);
  for (int strict = 0; strict < 2; strict++) {
    ttt_suite *suite;
    CHECK_OK(ttt_suite_create(&(ttt_suite_options){.name = "perf", .model = f.model}, &suite));
    ttt_suite_expect expect = tight;
    expect.latency_ms = 1e-9;
    expect.percentile = 90;
    expect.repetitions = 5;
    expect.strict_latency = strict;
    CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.module = "layers.0.ffn",
                                                    .input = TTT_SUITE_INPUT_RANDOM,
                                                    .random_shape = {4, HIDDEN},
                                                    .reference = TTT_SUITE_REF_BUILTIN,
                                                    .expect = expect}));
    FILE *table = tmpfile();
    CHECK(table != NULL);
    if (!table) return;
    ttt_suite_outcome outcome = ttt_suite_run(suite, f.ctx, table);
    CHECK(outcome == (strict ? TTT_SUITE_FAILED : TTT_SUITE_PASSED));
    ttt_suite_result r;
    CHECK_OK(ttt_suite_get_result(suite, 0, &r));
    CHECK(r.accuracy_ok && !r.latency_ok && r.latency_ms > 0 && r.percentile == 90);
    CHECK(r.passed == !strict);
    char text[2048] = {0};
    rewind(table);
    size_t len = fread(text, 1, sizeof text - 1, table);
    text[len] = '\0';
    fputs(text, stdout);
    CHECK(ttt_test_contains(text, strict ? "FAIL" : "PASS (slow)"));
    CHECK(ttt_test_contains(text, "p90"));
    CHECK(ttt_test_contains(text, strict ? "strict" : "(soft)"));
    fclose(table);
    ttt_suite_destroy(suite);
  }
  fixture_close(&f);
}

static void expect_rejected(fixture *f, const ttt_suite_options *options, const ttt_suite_case *c,
                            const char *needle) {
  ttt_suite *suite;
  CHECK_OK(ttt_suite_create(options, &suite));
  CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.module = "norm",
                                                  .input = TTT_SUITE_INPUT_RANDOM,
                                                  .random_shape = {1, HIDDEN},
                                                  .reference = TTT_SUITE_REF_BUILTIN,
                                                  .expect = tight}));
  CHECK_OK(ttt_suite_add(suite, c));
  CHECK(ttt_suite_run(suite, f->ctx, stdout) == TTT_SUITE_ERROR);
  CHECK_MSG(ttt_test_contains(ttt_last_error(), needle), "error '%s' lacks '%s'", ttt_last_error(),
            needle);
  CHECK_MSG(ttt_test_contains(ttt_last_error(), "'broken'"), "error '%s' does not name the case",
            ttt_last_error());
  ttt_suite_result r;
  CHECK(ttt_suite_get_result(suite, 0, &r) != TTT_OK); /* nothing ran */
  ttt_suite_destroy(suite);
}

static void test_incomplete_cases_rejected(void) {
  fixture f;
  fixture_open(&f);
  float x[HIDDEN] = {0};
  ttt_suite_options with_model = {.model = f.model}, bare = {0};
  ttt_tensor xt = ttt_tensor_2d(TTT_F32, x, 1, HIDDEN);
  expect_rejected(&f, &with_model,
                  &(ttt_suite_case){.name = "broken",
                                    .module = "norm",
                                    .input = TTT_SUITE_INPUT_EXPLICIT,
                                    .x = xt,
                                    .expect = tight},
                  "no reference");
  expect_rejected(
      &f, &with_model,
      &(ttt_suite_case){
          .name = "broken", .module = "norm", .reference = TTT_SUITE_REF_BUILTIN, .expect = tight},
      "no inputs");
  expect_rejected(&f, &with_model,
                  &(ttt_suite_case){.name = "broken",
                                    .module = "norm",
                                    .input = TTT_SUITE_INPUT_EXPLICIT,
                                    .x = xt,
                                    .reference = TTT_SUITE_REF_BUILTIN},
                  "no accuracy expectation");
  expect_rejected(&f, &with_model,
                  &(ttt_suite_case){.name = "broken",
                                    .module = "norm",
                                    .input = TTT_SUITE_INPUT_TRACE,
                                    .reference = TTT_SUITE_REF_BUILTIN,
                                    .expect = tight},
                  "sample run");
  expect_rejected(&f, &with_model,
                  &(ttt_suite_case){.name = "broken",
                                    .module = "layers.9.ffn",
                                    .input = TTT_SUITE_INPUT_EXPLICIT,
                                    .x = xt,
                                    .reference = TTT_SUITE_REF_BUILTIN,
                                    .expect = tight},
                  "no module 'layers.9.ffn'");
  expect_rejected(&f, &with_model,
                  &(ttt_suite_case){.name = "broken",
                                    .input = TTT_SUITE_INPUT_EXPLICIT,
                                    .x = xt,
                                    .reference = TTT_SUITE_REF_BUILTIN,
                                    .expect = tight},
                  "no target");
  expect_rejected(&f, &with_model,
                  &(ttt_suite_case){.name = "broken",
                                    .fn = mlp_fn,
                                    .input = TTT_SUITE_INPUT_EXPLICIT,
                                    .x = xt,
                                    .reference = TTT_SUITE_REF_BUILTIN,
                                    .expect = tight},
                  "built-in reference needs");
  expect_rejected(&f, &with_model,
                  &(ttt_suite_case){.name = "broken",
                                    .module = "norm",
                                    .input = TTT_SUITE_INPUT_EXPLICIT,
                                    .reference = TTT_SUITE_REF_GOLDEN,
                                    .expect = tight},
                  ".x is absent");
  /* The first (complete) case needs the model too, so name the broken one first. */
  ttt_suite *suite;
  CHECK_OK(ttt_suite_create(&bare, &suite));
  CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "broken",
                                                  .module = "norm",
                                                  .input = TTT_SUITE_INPUT_EXPLICIT,
                                                  .x = xt,
                                                  .reference = TTT_SUITE_REF_BUILTIN,
                                                  .expect = tight}));
  CHECK(ttt_suite_run(suite, f.ctx, NULL) == TTT_SUITE_ERROR);
  CHECK(ttt_test_contains(ttt_last_error(), "'broken'") &&
        ttt_test_contains(ttt_last_error(), "needs a model"));
  ttt_suite_destroy(suite);
  fixture_close(&f);
}

/* The JSON report: keys, values, string escaping, balanced structure. */
static void test_json_report(void) {
  fixture f;
  fixture_open(&f);
  ttt_causal_lm_spec spec = small_spec();
  ttt_mlp_weights w = fixture_mlp(&f);
  mlp_target bad = {&spec.layers[0].ffn.mlp, &w, 1.01f};
  ttt_suite *suite;
  CHECK_OK(ttt_suite_create(
      &(ttt_suite_options){.name = "json \"suite\"", .model = f.model, .seed = 42}, &suite));
  CHECK_OK(ttt_suite_add(suite, &(ttt_suite_case){.name = "ffn\\ok\n",
                                                  .module = "layers.0.ffn",
                                                  .input = TTT_SUITE_INPUT_RANDOM,
                                                  .random_shape = {2, HIDDEN},
                                                  .reference = TTT_SUITE_REF_BUILTIN,
                                                  .expect = tight}));
  CHECK_OK(ttt_suite_add(
      suite, &(ttt_suite_case){.name = "wrong",
                               .fn = mlp_fn,
                               .user = &bad,
                               .block = {.kind = TTT_BLOCK_MLP, .spec = bad.spec, .weights = &w},
                               .input = TTT_SUITE_INPUT_RANDOM,
                               .random_shape = {2, HIDDEN},
                               .reference = TTT_SUITE_REF_BUILTIN,
                               .expect = tight}));
  CHECK(ttt_suite_write_json(suite, stdout) != TTT_OK); /* not run yet */
  CHECK(ttt_suite_run(suite, f.ctx, NULL) == TTT_SUITE_FAILED);
  FILE *file = tmpfile();
  CHECK(file != NULL);
  if (!file) return;
  CHECK_OK(ttt_suite_write_json(suite, file));
  char text[4096] = {0};
  rewind(file);
  size_t len = fread(text, 1, sizeof text - 1, file);
  text[len] = '\0';
  fclose(file);
  fputs(text, stdout);
  static const char *const expected[] = {"{\"suite\": \"json \\\"suite\\\"\"",
                                         "\"seed\": 42",
                                         "\"passed\": false",
                                         "\"name\": \"ffn\\\\ok\\n\"",
                                         "\"module\": \"layers.0.ffn\"",
                                         "\"mode\": \"prefill\"",
                                         "\"name\": \"wrong\", \"module\": null, \"mode\": \"-\"",
                                         "\"rows\": 2",
                                         "\"allclose\": false",
                                         "\"latency_cap_ms\": null",
                                         "\"failure\": \"not allclose",
                                         "\"percentile\": 50"};
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
    CHECK_MSG(ttt_test_contains(text, expected[i]), "JSON lacks %s", expected[i]);
  /* Balanced braces and brackets outside strings, no raw control characters inside them. */
  int depth = 0, min_depth = 0;
  bool in_string = false, raw_control = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
      else if ((unsigned char)c < 0x20)
        raw_control = true;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') depth++;
    if (c == '}' || c == ']') depth--;
    if (depth < min_depth) min_depth = depth;
  }
  CHECK(depth == 0 && min_depth == 0 && !in_string && !raw_control);
  ttt_suite_destroy(suite);
  fixture_close(&f);
}

static void test_module_accessor(void) {
  fixture f;
  fixture_open(&f);
  ttt_module_view v;
  CHECK_OK(ttt_causal_lm_module(f.model, TTT_MODE_DECODE, "layers.1.attention", &v));
  CHECK(v.kind == TTT_BLOCK_ATTENTION && v.layer == 1 && v.rope != NULL);
  CHECK(v.spec == &ttt_causal_lm_get_spec(f.model)->layers[1].attention);
  CHECK(v.impl == &ttt_causal_lm_get_impl_config(f.model)->decode.layers[1].attention);
  CHECK(((const ttt_attention_weights *)v.weights)->wq.data != NULL);
  CHECK_OK(ttt_causal_lm_module(f.model, TTT_MODE_PREFILL, "layers.0", &v));
  CHECK(v.kind == TTT_BLOCK_DECODER_LAYER && v.layer == 0);
  CHECK_OK(ttt_causal_lm_module(f.model, TTT_MODE_PREFILL, "lm_head", &v));
  CHECK(v.kind == TTT_BLOCK_LM_HEAD && strcmp(ttt_block_kind_name(v.kind), "lm_head") == 0);
  CHECK_ERR(ttt_causal_lm_module(f.model, TTT_MODE_PREFILL, "layers.2.ffn", &v), TTT_ERR_NOT_FOUND,
            "layers.2.ffn");
  CHECK_ERR(ttt_causal_lm_module(f.model, TTT_MODE_PREFILL, "layers.0.mlp", &v), TTT_ERR_NOT_FOUND,
            "layers.0.mlp");
  CHECK_ERR(ttt_causal_lm_module(f.model, TTT_MODE_PREFILL, "layers.0.ffnx", &v), TTT_ERR_NOT_FOUND,
            "no module");
  fixture_close(&f);
}

int main(void) {
  TTT_RUN(test_module_accessor);
  TTT_RUN(test_wrong_callback_is_caught);
  TTT_RUN(test_trace_mode);
  TTT_RUN(test_explicit_golden_and_seed);
  TTT_RUN(test_latency_expectations);
  TTT_RUN(test_incomplete_cases_rejected);
  TTT_RUN(test_json_report);
  return ttt_test_finish();
}
