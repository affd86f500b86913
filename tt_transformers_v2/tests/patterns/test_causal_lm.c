/*
 * CausalLM pattern tests (tier 2 with generated weights):
 *  - composition against a float64 chain of the blocks' reference implementations, for Llama-like,
 *    Qwen2-like (biases, tied), Qwen3-like (q/k norm, head_dim != hidden/heads), Mistral-like
 *    (sliding window 8, 20 tokens) and Mixtral-like (MoE) specs;
 *  - prefill(T) + decode(D) == prefill(T + D); chunked prefill == one prefill;
 *  - the impl-config path setter changes exactly the named modules and rejects bad paths;
 *  - the observer reports every module path in order; bad weights are named.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_test.h"

/* ---- a named weight store acting as the resolver ---- */

enum { MAX_WEIGHTS = 512 };

typedef struct weight_store {
  char names[MAX_WEIGHTS][80];
  ttt_tensor tensors[MAX_WEIGHTS];
  int count;
  const char *skip;     /* a path to report as missing */
  const char *misshape; /* a path whose first dim is reported one larger */
  int releases;         /* release calls (out == NULL) received */
  char released[8][80]; /* their paths (first 8) */
} weight_store;

static ttt_status store_resolve(void *user, const char *path, ttt_tensor *out) {
  weight_store *s = user;
  if (!out) { /* release call: the weights live in the store; record it */
    if (s->releases < 8) snprintf(s->released[s->releases], sizeof s->released[0], "%s", path);
    s->releases++;
    return TTT_OK;
  }
  if (s->skip && strcmp(path, s->skip) == 0)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "no such weight");
  for (int i = 0; i < s->count; i++) {
    if (strcmp(s->names[i], path) != 0) continue;
    *out = s->tensors[i];
    if (s->misshape && strcmp(path, s->misshape) == 0) out->shape[0] += 1;
    return TTT_OK;
  }
  return ttt_set_error(TTT_ERR_NOT_FOUND, "no such weight");
}

static void store_free(weight_store *s) {
  for (int i = 0; i < s->count; i++) ttt_tensor_free(&s->tensors[i]);
  s->count = 0;
}

/* Adds a random tensor; norm weights are centred on 1, everything else ~ U(-scale, scale). */
static void store_add(weight_store *s, ttt_test_rng *rng, const char *name, int64_t d0, int64_t d1,
                      float center, float scale) {
  int i = s->count++;
  snprintf(s->names[i], sizeof s->names[i], "%s", name);
  int64_t shape[2] = {d0, d1};
  ttt_tensor_alloc(&s->tensors[i], TTT_F32, d1 > 0 ? 2 : 1, shape);
  float *x = s->tensors[i].data;
  int64_t n = d0 * (d1 > 0 ? d1 : 1);
  for (int64_t j = 0; j < n; j++) x[j] = center + ttt_test_rng_uniform(rng, -scale, scale);
}

static void add_mlp(weight_store *s, ttt_test_rng *rng, const char *prefix, const ttt_mlp_spec *m) {
  char name[80];
  float up_scale = 1.0f / sqrtf((float)m->hidden),
        down_scale = 1.0f / sqrtf((float)m->intermediate);
  if (m->gated) {
    snprintf(name, sizeof name, "%s.gate", prefix);
    store_add(s, rng, name, m->intermediate, m->hidden, 0, up_scale);
  }
  snprintf(name, sizeof name, "%s.up", prefix);
  store_add(s, rng, name, m->intermediate, m->hidden, 0, up_scale);
  snprintf(name, sizeof name, "%s.down", prefix);
  store_add(s, rng, name, m->hidden, m->intermediate, 0, down_scale);
}

static void generate_weights(const ttt_causal_lm_spec *spec, uint64_t seed, weight_store *s) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  int64_t hidden = spec->embedding.dim;
  store_add(s, &rng, "embedding.table", spec->embedding.vocab, hidden, 0, 1.0f);
  for (int64_t l = 0; l < spec->n_layers; l++) {
    const ttt_decoder_layer_spec *ls = &spec->layers[l];
    const ttt_attention_spec *a = &ls->attention;
    int64_t q = a->n_heads * a->head_dim, kv = a->n_kv_heads * a->head_dim;
    float in_scale = 1.0f / sqrtf((float)hidden);
    char name[80];
#define ADD(field, d0, d1, center, scale)                                                          \
  do {                                                                                             \
    snprintf(name, sizeof name, "layers.%lld." field, (long long)l);                               \
    store_add(s, &rng, name, d0, d1, center, scale);                                               \
  } while (0)
    ADD("attention_norm.weight", hidden, 0, 1.0f, 0.2f);
    ADD("attention.wq", q, hidden, 0, in_scale);
    ADD("attention.wk", kv, hidden, 0, in_scale);
    ADD("attention.wv", kv, hidden, 0, in_scale);
    ADD("attention.wo", hidden, q, 0, 1.0f / sqrtf((float)q));
    if (a->q_bias) ADD("attention.bq", q, 0, 0, 0.5f);
    if (a->k_bias) ADD("attention.bk", kv, 0, 0, 0.5f);
    if (a->v_bias) ADD("attention.bv", kv, 0, 0, 0.5f);
    if (a->qk_norm) {
      ADD("attention.q_norm", a->head_dim, 0, 1.0f, 0.2f);
      ADD("attention.k_norm", a->head_dim, 0, 1.0f, 0.2f);
    }
    ADD("ffn_norm.weight", hidden, 0, 1.0f, 0.2f);
    if (ls->ffn.kind == TTT_FFN_MLP) {
      snprintf(name, sizeof name, "layers.%lld.ffn", (long long)l);
      add_mlp(s, &rng, name, &ls->ffn.mlp);
    } else {
      ADD("ffn.router", ls->ffn.moe.n_experts, hidden, 0, in_scale * 4);
      for (int64_t e = 0; e < ls->ffn.moe.n_experts; e++) {
        snprintf(name, sizeof name, "layers.%lld.ffn.experts.%lld", (long long)l, (long long)e);
        add_mlp(s, &rng, name, &ls->ffn.moe.expert);
      }
    }
#undef ADD
  }
  store_add(s, &rng, "norm.weight", hidden, 0, 1.0f, 0.2f);
  if (!spec->tie_embeddings)
    store_add(s, &rng, "lm_head.weight", spec->lm_head.vocab, hidden, 0,
              1.0f / sqrtf((float)hidden));
}

/* ---- specs ---- */

typedef enum arch {
  ARCH_LLAMA,
  ARCH_QWEN2,
  ARCH_QWEN3,
  ARCH_MISTRAL,
  ARCH_MIXTRAL,
  ARCH_COUNT
} arch;
static const char *const arch_names[] = {"llama", "qwen2", "qwen3", "mistral", "mixtral"};

static ttt_causal_lm_spec make_spec(arch a) {
  ttt_causal_lm_spec spec;
  memset(&spec, 0, sizeof spec);
  int64_t hidden = 128, vocab = 160, heads = 8, kv_heads = 2, head_dim = 16, ffn = 256;
  if (a == ARCH_QWEN3) head_dim = 32; /* head_dim · heads (256) != hidden (128) */
  spec.embedding = (ttt_embedding_spec){.vocab = vocab, .dim = hidden};
  spec.n_layers = 2;
  spec.max_positions = 64;
  spec.tie_embeddings = a == ARCH_QWEN2;
  for (int64_t l = 0; l < spec.n_layers; l++) {
    ttt_decoder_layer_spec *ls = &spec.layers[l];
    ls->attention_norm = (ttt_norm_spec){.type = TTT_NORM_RMS, .dim = hidden, .eps = 1e-5f};
    ls->ffn_norm = ls->attention_norm;
    ls->attention =
        (ttt_attention_spec){.hidden = hidden,
                             .n_heads = heads,
                             .n_kv_heads = kv_heads,
                             .head_dim = head_dim,
                             .q_bias = a == ARCH_QWEN2,
                             .k_bias = a == ARCH_QWEN2,
                             .v_bias = a == ARCH_QWEN2,
                             .qk_norm = a == ARCH_QWEN3,
                             .qk_norm_eps = 1e-6f,
                             .sliding_window = a == ARCH_MISTRAL ? 8 : 0,
                             .rope = {.type = a == ARCH_LLAMA ? TTT_ROPE_LLAMA3 : TTT_ROPE_DEFAULT,
                                      .head_dim = head_dim,
                                      .max_positions = 64,
                                      .theta = a == ARCH_LLAMA ? 500000.0 : 10000.0,
                                      .factor = 8,
                                      .low_freq_factor = 1,
                                      .high_freq_factor = 4,
                                      .original_max_positions = 16}};
    ttt_mlp_spec mlp = {
        .hidden = hidden, .intermediate = ffn, .activation = TTT_ACT_SILU, .gated = true};
    if (a == ARCH_MIXTRAL)
      ls->ffn =
          (ttt_ffn_spec){.kind = TTT_FFN_MOE,
                         .moe = {.expert = {.hidden = hidden, .intermediate = 96, .gated = true},
                                 .n_experts = 4,
                                 .top_k = 2}};
    else
      ls->ffn = (ttt_ffn_spec){.kind = TTT_FFN_MLP, .mlp = mlp};
  }
  spec.norm = (ttt_norm_spec){.type = TTT_NORM_RMS, .dim = hidden, .eps = 1e-5f};
  spec.lm_head = (ttt_lm_head_spec){.hidden = hidden, .vocab = vocab};
  return spec;
}

/* ---- float64 reference composition ---- */

static int find(const weight_store *s, const char *name) {
  for (int i = 0; i < s->count; i++)
    if (strcmp(s->names[i], name) == 0) return i;
  return -1;
}

static ttt_tensor W(const weight_store *s, const char *fmt, ...) TTT_PRINTF(2, 3);
static ttt_tensor W(const weight_store *s, const char *fmt, ...) {
  char name[80];
  va_list args;
  va_start(args, fmt);
  vsnprintf(name, sizeof name, fmt, args);
  va_end(args);
  int i = find(s, name);
  ttt_tensor none;
  memset(&none, 0, sizeof none);
  return i >= 0 ? s->tensors[i] : none;
}

static ttt_mlp_weights mlp_weights(const weight_store *s, const char *prefix) {
  return (ttt_mlp_weights){.gate = W(s, "%s.gate", prefix),
                           .up = W(s, "%s.up", prefix),
                           .down = W(s, "%s.down", prefix)};
}

/* logits[T, vocab] of the whole sequence, computed with the float64 references only. */
static void reference_logits(const ttt_causal_lm_spec *spec, const weight_store *s,
                             const int32_t *tokens, int64_t T, double *logits) {
  int64_t H = spec->embedding.dim;
  double *x = calloc((size_t)(T * H), sizeof *x), *n = calloc((size_t)(T * H), sizeof *n);
  double *b = calloc((size_t)(T * H), sizeof *b);
  ttt_embedding_weights ew = {.table = W(s, "embedding.table")};
  CHECK_OK(ttt_reference_embedding(&spec->embedding, &ew, tokens, T, false, x));
  for (int64_t l = 0; l < spec->n_layers; l++) {
    const ttt_decoder_layer_spec *ls = &spec->layers[l];
    ttt_norm_weights an = {.weight = W(s, "layers.%lld.attention_norm.weight", (long long)l)};
    ttt_attention_weights aw = {.wq = W(s, "layers.%lld.attention.wq", (long long)l),
                                .wk = W(s, "layers.%lld.attention.wk", (long long)l),
                                .wv = W(s, "layers.%lld.attention.wv", (long long)l),
                                .wo = W(s, "layers.%lld.attention.wo", (long long)l),
                                .bq = W(s, "layers.%lld.attention.bq", (long long)l),
                                .bk = W(s, "layers.%lld.attention.bk", (long long)l),
                                .bv = W(s, "layers.%lld.attention.bv", (long long)l),
                                .q_norm = W(s, "layers.%lld.attention.q_norm", (long long)l),
                                .k_norm = W(s, "layers.%lld.attention.k_norm", (long long)l)};
    CHECK_OK(ttt_reference_norm(&ls->attention_norm, &an, x, T, n));
    CHECK_OK(ttt_reference_attention(&ls->attention, &aw, n, 1, T, NULL, b));
    for (int64_t i = 0; i < T * H; i++) x[i] += b[i];
    ttt_norm_weights fn = {.weight = W(s, "layers.%lld.ffn_norm.weight", (long long)l)};
    CHECK_OK(ttt_reference_norm(&ls->ffn_norm, &fn, x, T, n));
    char prefix[64];
    if (ls->ffn.kind == TTT_FFN_MLP) {
      snprintf(prefix, sizeof prefix, "layers.%lld.ffn", (long long)l);
      ttt_mlp_weights mw = mlp_weights(s, prefix);
      CHECK_OK(ttt_reference_mlp(&ls->ffn.mlp, &mw, n, T, b));
    } else {
      ttt_mlp_weights experts[8];
      for (int64_t e = 0; e < ls->ffn.moe.n_experts; e++) {
        snprintf(prefix, sizeof prefix, "layers.%lld.ffn.experts.%lld", (long long)l, (long long)e);
        experts[e] = mlp_weights(s, prefix);
      }
      ttt_moe_weights moe = {.router = W(s, "layers.%lld.ffn.router", (long long)l),
                             .experts = experts};
      CHECK_OK(ttt_reference_moe(&ls->ffn.moe, &moe, n, T, b));
    }
    for (int64_t i = 0; i < T * H; i++) x[i] += b[i];
  }
  ttt_norm_weights nw = {.weight = W(s, "norm.weight")};
  CHECK_OK(ttt_reference_norm(&spec->norm, &nw, x, T, n));
  ttt_lm_head_weights hw = {.weight = spec->tie_embeddings ? W(s, "embedding.table")
                                                           : W(s, "lm_head.weight")};
  CHECK_OK(ttt_reference_lm_head(&spec->lm_head, &hw, n, T, logits));
  free(x);
  free(n);
  free(b);
}

/* ---- fixtures shared by the tests ---- */

typedef struct fixture {
  ttt_causal_lm_spec spec;
  weight_store store;
  ttt_device device;
  ttt_context *ctx;
  ttt_causal_lm *model;
} fixture;

static fixture *fixture_make(arch a, ttt_strategy strategy, int32_t threads) {
  fixture *f = calloc(1, sizeof *f);
  f->spec = make_spec(a);
  generate_weights(&f->spec, 1234 + (uint64_t)a, &f->store);
  CHECK_OK(ttt_device_cpu(&f->device, threads));
  CHECK_OK(ttt_context_create(&f->device, &f->ctx));
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  CHECK_OK(ttt_causal_lm_default_impl_config(&f->device, strategy, TTT_F32, &f->spec, impl));
  CHECK_OK(ttt_causal_lm_create(&f->spec, impl, store_resolve, &f->store, &f->model));
  free(impl);
  return f;
}

static void fixture_free(fixture *f) {
  ttt_causal_lm_destroy(f->model);
  ttt_context_destroy(f->ctx);
  store_free(&f->store);
  free(f);
}

static void make_tokens(int32_t *tokens, int64_t n, int64_t vocab, uint64_t seed) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  for (int64_t i = 0; i < n; i++) tokens[i] = (int32_t)(ttt_test_rng_next(&rng) % (uint64_t)vocab);
}

/* Runs prefill of `prefill` tokens in chunks of `chunk`, then decodes the rest one by one;
 * writes all logits rows. */
static void run_model(fixture *f, const int32_t *tokens, int64_t total, int64_t prefill,
                      int64_t chunk, float *logits) {
  int64_t vocab = f->spec.lm_head.vocab;
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  for (int64_t start = 0; start < prefill; start += chunk) {
    int64_t n = prefill - start < chunk ? prefill - start : chunk;
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits + start * vocab, n, vocab);
    CHECK_OK(ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens + start, n, start, false,
                                           &out, NULL));
  }
  for (int64_t p = prefill; p < total; p++) {
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits + p * vocab, 1, vocab);
    CHECK_OK(ttt_causal_lm_decode_forward(f->model, f->ctx, cache, tokens[p], p, &out, NULL));
  }
  ttt_kv_cache_destroy(cache);
}

/* Composition against the float64 references, in prefill and in decode. Accuracy strategy in f32:
 * every block is within ~1e-6 relative of its reference, so the composition keeps PCC ≥ 0.99999. */
static void test_composition_matches_reference(void) {
  enum { T = 20, PREFILL = 14 };
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_ACCURACY, 2);
    int64_t vocab = f->spec.lm_head.vocab;
    int32_t tokens[T];
    make_tokens(tokens, T, vocab, 7 + (uint64_t)a);
    double *expected = malloc(sizeof(double) * T * (size_t)vocab);
    float *actual = malloc(sizeof(float) * T * (size_t)vocab);
    reference_logits(&f->spec, &f->store, tokens, T, expected);
    run_model(f, tokens, T, PREFILL, PREFILL, actual);
    ttt_tensor e = ttt_tensor_2d(TTT_F64, expected, T, vocab),
               g = ttt_tensor_2d(TTT_F32, actual, T, vocab);
    ttt_compare_result r;
    CHECK_OK(ttt_compare(&g, &e, NULL, 1e-4, 1e-4, &r));
    CHECK_MSG(r.pcc >= 0.99999 && r.allclose, "%s: pcc %.7f max abs %.3g", arch_names[a], r.pcc,
              r.max_abs_err);
    printf("  %-8s f32 vs float64 reference: pcc %.8f, max abs %.2e\n", arch_names[a], r.pcc,
           r.max_abs_err);
    free(expected);
    free(actual);
    fixture_free(f);
  }
}

/* The performance strategy (q8_0 weights and activations, bf16 cache) stays close to the reference.
 */
static void test_performance_strategy_close_to_reference(void) {
  enum { T = 12 };
  fixture *f = fixture_make(ARCH_LLAMA, TTT_STRATEGY_PERFORMANCE, 2);
  int64_t vocab = f->spec.lm_head.vocab;
  int32_t tokens[T];
  make_tokens(tokens, T, vocab, 99);
  double *expected = malloc(sizeof(double) * T * (size_t)vocab);
  float *actual = malloc(sizeof(float) * T * (size_t)vocab);
  reference_logits(&f->spec, &f->store, tokens, T, expected);
  run_model(f, tokens, T, 8, 8, actual);
  ttt_tensor e = ttt_tensor_2d(TTT_F64, expected, T, vocab),
             g = ttt_tensor_2d(TTT_F32, actual, T, vocab);
  ttt_compare_result r;
  CHECK_OK(ttt_compare(&g, &e, NULL, 0, 0, &r));
  CHECK_MSG(r.pcc >= 0.99, "performance pcc %.5f", r.pcc);
  printf("  llama q8_0/bf16-cache vs float64 reference: pcc %.6f, max abs %.2e\n", r.pcc,
         r.max_abs_err);
  free(expected);
  free(actual);
  fixture_free(f);
}

/* prefill(T) + decode(D) == prefill(T + D), and chunked prefill == one prefill. */
static void test_prefill_decode_and_chunking_agree(void) {
  enum { T = 20 };
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_ACCURACY, 1);
    int64_t vocab = f->spec.lm_head.vocab;
    int32_t tokens[T];
    make_tokens(tokens, T, vocab, 31 + (uint64_t)a);
    float *one = malloc(sizeof(float) * T * (size_t)vocab);
    float *split = malloc(sizeof(float) * T * (size_t)vocab);
    float *chunked = malloc(sizeof(float) * T * (size_t)vocab);
    run_model(f, tokens, T, T, T, one);
    run_model(f, tokens, T, 11, 11, split);
    run_model(f, tokens, T, T, 3, chunked);
    ttt_tensor t_one = ttt_tensor_2d(TTT_F32, one, T, vocab);
    ttt_tensor t_split = ttt_tensor_2d(TTT_F32, split, T, vocab);
    ttt_tensor t_chunked = ttt_tensor_2d(TTT_F32, chunked, T, vocab);
    ttt_compare_result r1, r2;
    CHECK_OK(ttt_compare(&t_split, &t_one, NULL, 2e-5, 1e-5, &r1));
    CHECK_OK(ttt_compare(&t_chunked, &t_one, NULL, 2e-5, 1e-5, &r2));
    CHECK_MSG(r1.allclose, "%s: prefill+decode differs by %.3g", arch_names[a], r1.max_abs_err);
    CHECK_MSG(r2.allclose, "%s: chunked prefill differs by %.3g", arch_names[a], r2.max_abs_err);
    free(one);
    free(split);
    free(chunked);
    fixture_free(f);
  }
}

static void test_last_only_logits(void) {
  enum { T = 9 };
  fixture *f = fixture_make(ARCH_QWEN2, TTT_STRATEGY_ACCURACY, 2);
  int64_t vocab = f->spec.lm_head.vocab;
  int32_t tokens[T];
  make_tokens(tokens, T, vocab, 5);
  float *all = malloc(sizeof(float) * T * (size_t)vocab),
        *last = malloc(sizeof(float) * (size_t)vocab);
  run_model(f, tokens, T, T, T, all);
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, last, 1, vocab);
  CHECK_OK(ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens, T, 0, true, &out, NULL));
  ttt_tensor a = ttt_tensor_1d(TTT_F32, all + (T - 1) * vocab, vocab),
             b = ttt_tensor_1d(TTT_F32, last, vocab);
  ttt_compare_result r;
  CHECK_OK(ttt_compare(&b, &a, NULL, 1e-5, 1e-5, &r));
  CHECK(r.allclose);
  ttt_tensor wrong = ttt_tensor_2d(TTT_F32, all, T, vocab);
  CHECK_ERR(
      ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens, T, T, true, &wrong, NULL),
      TTT_ERR_SHAPE, "logits must be a [1, 160]");
  ttt_kv_cache_destroy(cache);
  free(all);
  free(last);
  fixture_free(f);
}

/* ---- observer ---- */

typedef struct path_log {
  char paths[64][40];
  int count;
} path_log;

static void record_path(void *user, const ttt_module_event *event) {
  path_log *log = user;
  if (log->count < 64) snprintf(log->paths[log->count++], sizeof log->paths[0], "%s", event->path);
}

static void test_observer_reports_every_module_in_order(void) {
  fixture *f = fixture_make(ARCH_LLAMA, TTT_STRATEGY_ACCURACY, 1);
  static const char *const expected[] = {"embedding",
                                         "layers.0.attention_norm",
                                         "layers.0.attention",
                                         "layers.0.ffn_norm",
                                         "layers.0.ffn",
                                         "layers.0",
                                         "layers.1.attention_norm",
                                         "layers.1.attention",
                                         "layers.1.ffn_norm",
                                         "layers.1.ffn",
                                         "layers.1",
                                         "norm",
                                         "lm_head"};
  int32_t tokens[4] = {1, 2, 3, 4};
  float logits[4 * 160];
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  for (int mode = 0; mode < 2; mode++) {
    path_log log = {.count = 0};
    ttt_observer observer = {record_path, &log};
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, mode == 0 ? 3 : 1, 160);
    if (mode == 0)
      CHECK_OK(ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens, 3, 0, false, &out,
                                             &observer));
    else
      CHECK_OK(
          ttt_causal_lm_decode_forward(f->model, f->ctx, cache, tokens[3], 3, &out, &observer));
    CHECK(log.count == 13);
    for (int i = 0; i < 13 && i < log.count; i++)
      CHECK_MSG(strcmp(log.paths[i], expected[i]) == 0, "event %d is %s, expected %s", i,
                log.paths[i], expected[i]);
  }
  ttt_kv_cache_destroy(cache);
  fixture_free(f);
}

/* ---- impl-config paths ---- */

static void test_impl_paths_change_exactly_the_named_modules(void) {
  ttt_causal_lm_spec spec = make_spec(ARCH_LLAMA);
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_causal_lm_impl_config *base = malloc(sizeof *base), *impl = malloc(sizeof *impl);
  CHECK_OK(ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, base));
  *impl = *base;
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "layers.1.attention.weight_dtype=bf16"));
  CHECK(impl->prefill.layers[1].attention.weight_dtype == TTT_BF16);
  CHECK(impl->decode.layers[1].attention.weight_dtype == TTT_BF16);
  impl->prefill.layers[1].attention.weight_dtype = base->prefill.layers[1].attention.weight_dtype;
  impl->decode.layers[1].attention.weight_dtype = base->decode.layers[1].attention.weight_dtype;
  CHECK(memcmp(impl, base, sizeof *impl) == 0); /* nothing else changed */

  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "layers.*.ffn.weight_dtype=q8_0"));
  CHECK(impl->prefill.layers[0].ffn.weight_dtype == TTT_Q8_0 &&
        impl->decode.layers[1].ffn.weight_dtype == TTT_Q8_0);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "decode.lm_head.threads=1"));
  CHECK(impl->decode.lm_head.threads == 1 &&
        impl->prefill.lm_head.threads == base->prefill.lm_head.threads);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "prefill.layers.0.attention.algorithm=naive"));
  CHECK(impl->prefill.layers[0].attention.algorithm == TTT_ATTENTION_NAIVE);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "layers.0.ffn.fuse_gate_up=false"));
  CHECK(!impl->prefill.layers[0].ffn.fuse_gate_up);

  *base = *impl;
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "layers.7.attention.threads=1"),
            TTT_ERR_INVALID_ARGUMENT, "layer '7'");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "layers.0.attn.threads=1"),
            TTT_ERR_INVALID_ARGUMENT, "unknown module 'attn'");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "lm_head.fuse_qkv=true"), TTT_ERR_INVALID_ARGUMENT,
            "no field 'fuse_qkv'");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "lm_head.weight_dtype=q4"),
            TTT_ERR_INVALID_ARGUMENT, "q4");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "layers.*.ffn.fuse_gate_up=yes"),
            TTT_ERR_INVALID_ARGUMENT, "true or false");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "norm.threads"), TTT_ERR_INVALID_ARGUMENT,
            "no '=VALUE'");
  CHECK(memcmp(impl, base, sizeof *impl) == 0); /* failed assignments change nothing */
  free(base);
  free(impl);
}

/* A model built with an overridden module really uses it: bf16 attention weights in layer 1 are
 * converted (fewer bytes per decode step, the same parameters) and the f32 originals released.
 * That the logits move accordingly is checked end to end by test_hf_causal and cli_test_validate. */
static void test_override_is_used_by_the_model(void) {
  fixture *f = fixture_make(ARCH_LLAMA, TTT_STRATEGY_ACCURACY, 1);
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  *impl = *ttt_causal_lm_get_impl_config(f->model);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &f->spec, "layers.1.attention.weight_dtype=bf16"));
  ttt_causal_lm *bf16_model = NULL;
  CHECK_OK(ttt_causal_lm_create(&f->spec, impl, store_resolve, &f->store, &bf16_model));
  CHECK(ttt_causal_lm_decode_weight_bytes(bf16_model) <
        ttt_causal_lm_decode_weight_bytes(f->model));
  /* The four converted projections, and only they, are released back to the resolver. */
  static const char *const converted[] = {"layers.1.attention.wq", "layers.1.attention.wk",
                                          "layers.1.attention.wv", "layers.1.attention.wo"};
  CHECK(f->store.releases == 4);
  for (int i = 0; i < 4 && i < f->store.releases; i++)
    CHECK(strcmp(f->store.released[i], converted[i]) == 0);
  CHECK(ttt_causal_lm_parameter_count(bf16_model) == ttt_causal_lm_parameter_count(f->model));
  free(impl);
  ttt_causal_lm_destroy(bf16_model);
  fixture_free(f);
}

static void test_bad_weights_are_named(void) {
  ttt_causal_lm_spec spec = make_spec(ARCH_MIXTRAL);
  weight_store store = {.count = 0};
  generate_weights(&spec, 3, &store);
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  CHECK_OK(ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, impl));
  ttt_causal_lm *model = NULL;
  store.skip = "layers.1.ffn.experts.3.down";
  CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model), TTT_ERR_NOT_FOUND,
            "layers.1.ffn.experts.3.down");
  store.skip = NULL;
  store.misshape = "layers.0.attention.wk";
  CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model), TTT_ERR_SHAPE,
            "'layers.0.attention.wk' has shape [33, 128], expected [32, 128]");
  CHECK(model == NULL);
  spec.layers[1].attention.n_kv_heads = 3;
  CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model),
            TTT_ERR_INVALID_ARGUMENT, "layers.1");
  free(impl);
  store_free(&store);
}

/* The performance defaults of a model whose dims are not multiples of q8_0's block of 32 (a hidden
 * size of 16, an ffn of 48) build and run: those blocks fall back to bf16 weights with f32
 * activations instead of a q8_0 config that ttt_causal_lm_create refuses (found by fuzz_hf_config). */
static void test_performance_defaults_build_when_dims_are_not_q8_multiples(void) {
  for (arch a = 0; a < ARCH_COUNT; a++) {
    ttt_causal_lm_spec spec = make_spec(a);
    spec.embedding.dim = spec.lm_head.hidden = spec.norm.dim = 16;
    for (int64_t l = 0; l < spec.n_layers; l++) {
      ttt_decoder_layer_spec *ls = &spec.layers[l];
      ls->attention_norm.dim = ls->ffn_norm.dim = ls->attention.hidden = 16;
      ls->attention.n_heads = 2, ls->attention.n_kv_heads = 1;
      ls->attention.head_dim = ls->attention.rope.head_dim = a == ARCH_QWEN3 ? 32 : 8;
      ls->ffn.mlp.hidden = ls->ffn.moe.expert.hidden = 16;
      ls->ffn.mlp.intermediate = 48;
    }
    ttt_device device;
    CHECK_OK(ttt_device_cpu(&device, 1));
    ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
    CHECK_OK(
        ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_PERFORMANCE, TTT_F32, &spec, impl));
    /* Qwen3's attention output rows are heads · head_dim = 64 values: q8_0 stays possible there
     * only when every input dim of the block is a multiple of 32, and hidden (16) is not. */
    CHECK(impl->decode.layers[0].attention.weight_dtype == TTT_BF16);
    CHECK(impl->decode.layers[0].attention.activation_dtype == TTT_F32);
    CHECK(impl->decode.layers[0].ffn.weight_dtype == TTT_BF16);
    CHECK(impl->prefill.lm_head.weight_dtype == TTT_BF16);
    CHECK(impl->decode.layers[0].attention.kv_dtype == TTT_BF16);
    weight_store *store = calloc(1, sizeof *store);
    generate_weights(&spec, 99, store);
    ttt_causal_lm *model = NULL;
    CHECK_MSG(ttt_causal_lm_create(&spec, impl, store_resolve, store, &model) == TTT_OK, "%s: %s",
              arch_names[a], ttt_last_error());
    ttt_causal_lm_destroy(model);
    store_free(store);
    free(store);
    free(impl);
  }
}

int main(void) {
  TTT_RUN(test_composition_matches_reference);
  TTT_RUN(test_performance_defaults_build_when_dims_are_not_q8_multiples);
  TTT_RUN(test_performance_strategy_close_to_reference);
  TTT_RUN(test_prefill_decode_and_chunking_agree);
  TTT_RUN(test_last_only_logits);
  TTT_RUN(test_observer_reports_every_module_in_order);
  TTT_RUN(test_impl_paths_change_exactly_the_named_modules);
  TTT_RUN(test_override_is_used_by_the_model);
  TTT_RUN(test_bad_weights_are_named);
  return ttt_test_finish();
}
