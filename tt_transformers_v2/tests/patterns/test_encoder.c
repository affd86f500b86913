/*
 * Encoder (BERT) composition test: BERT-base dims (hidden 768, ffn 3072, 12 heads) with 2 layers
 * and a padded batch of 2 short sequences, generated weights, against a float64 composition of
 * the blocks' references from testing.h (embedding, norm, attention with a key mask, mlp) plus the
 * pooler written out in double. Also: spec validation, weight resolution errors naming the path,
 * impl-config conversions (performance strategy, bf16 overrides), the padding mask, and the
 * observer's module paths and tensors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ttt.h>

#include "ttt_test.h"

enum { H = 768, FFN = 3072, HEADS = 12, LAYERS = 2, VOCAB = 64, MAXPOS = 16, TYPES = 2 };
enum { B = 2, T = 6, REAL1 = 4 }; /* row 1 has REAL1 real tokens, then padding */
enum { PATH_LEN = 96, MAX_WEIGHTS = 64 };

/* ---- Spec and generated weights ---- */

static ttt_encoder_spec make_spec(void) {
  ttt_encoder_spec s;
  memset(&s, 0, sizeof s);
  s.word = (ttt_embedding_spec){.vocab = VOCAB, .dim = H};
  s.position = (ttt_embedding_spec){.vocab = MAXPOS, .dim = H};
  s.token_type = (ttt_embedding_spec){.vocab = TYPES, .dim = H};
  ttt_norm_spec ln = {.type = TTT_NORM_LAYER, .dim = H, .eps = 1e-12f, .bias = true};
  s.embedding_norm = ln;
  s.n_layers = LAYERS;
  for (int i = 0; i < LAYERS; i++) {
    s.layers[i].attention = (ttt_attention_spec){.hidden = H,
                                                 .n_heads = HEADS,
                                                 .n_kv_heads = HEADS,
                                                 .q_bias = true,
                                                 .k_bias = true,
                                                 .v_bias = true,
                                                 .o_bias = true,
                                                 .bidirectional = true};
    s.layers[i].attention_norm = ln;
    s.layers[i].ffn =
        (ttt_mlp_spec){.hidden = H, .intermediate = FFN, .activation = TTT_ACT_GELU, .bias = true};
    s.layers[i].ffn_norm = ln;
  }
  s.pooler = true;
  return s;
}

typedef struct weight_entry {
  char path[PATH_LEN];
  ttt_tensor t;
} weight_entry;

typedef struct weight_store {
  weight_entry e[MAX_WEIGHTS];
  int n;
} weight_store;

static weight_store store;

/* Linear weights uniform in ±1.5/sqrt(in) keep activations O(1) through the layers. */
static void add_matrix(ttt_test_rng *rng, const char *path, int64_t rows, int64_t cols) {
  weight_entry *w = &store.e[store.n++];
  snprintf(w->path, sizeof w->path, "%s", path);
  int64_t shape[2] = {rows, cols};
  CHECK_OK(ttt_tensor_alloc(&w->t, TTT_F32, 2, shape));
  float a = 1.5f / sqrtf((float)cols);
  ttt_test_fill_uniform(rng, w->t.data, rows * cols, -a, a);
}

/* Vectors around `center` (norm weights ~1, biases ~0). */
static void add_vector(ttt_test_rng *rng, const char *path, int64_t n, float center) {
  weight_entry *w = &store.e[store.n++];
  snprintf(w->path, sizeof w->path, "%s", path);
  CHECK_OK(ttt_tensor_alloc(&w->t, TTT_F32, 1, &n));
  ttt_test_fill_uniform(rng, w->t.data, n, center - 0.2f, center + 0.2f);
}

static void add_table(ttt_test_rng *rng, const char *path, int64_t rows) {
  weight_entry *w = &store.e[store.n++];
  snprintf(w->path, sizeof w->path, "%s", path);
  int64_t shape[2] = {rows, H};
  CHECK_OK(ttt_tensor_alloc(&w->t, TTT_F32, 2, shape));
  ttt_test_fill_uniform(rng, w->t.data, rows * H, -1.0f, 1.0f);
}

static void add_norm(ttt_test_rng *rng, const char *module) {
  char p[PATH_LEN];
  snprintf(p, sizeof p, "%s.weight", module);
  add_vector(rng, p, H, 1.0f);
  snprintf(p, sizeof p, "%s.bias", module);
  add_vector(rng, p, H, 0.0f);
}

/* The weight paths of patterns.h's header comment, in the order the model resolves them. */
static void make_weights(void) {
  ttt_test_rng rng = ttt_test_rng_make(2024);
  add_table(&rng, "embeddings.word.table", VOCAB);
  add_table(&rng, "embeddings.position.table", MAXPOS);
  add_table(&rng, "embeddings.token_type.table", TYPES);
  add_norm(&rng, "embeddings.norm");
  char p[PATH_LEN];
  for (int i = 0; i < LAYERS; i++) {
    static const char *const proj[] = {"wq", "wk", "wv", "wo"};
    static const char *const bias[] = {"bq", "bk", "bv", "bo"};
    for (int j = 0; j < 4; j++) {
      snprintf(p, sizeof p, "layers.%d.attention.%s", i, proj[j]);
      add_matrix(&rng, p, H, H);
    }
    for (int j = 0; j < 4; j++) {
      snprintf(p, sizeof p, "layers.%d.attention.%s", i, bias[j]);
      add_vector(&rng, p, H, 0.0f);
    }
    snprintf(p, sizeof p, "layers.%d.attention_norm", i);
    add_norm(&rng, p);
    snprintf(p, sizeof p, "layers.%d.ffn.up", i);
    add_matrix(&rng, p, FFN, H);
    snprintf(p, sizeof p, "layers.%d.ffn.down", i);
    add_matrix(&rng, p, H, FFN);
    snprintf(p, sizeof p, "layers.%d.ffn.up_bias", i);
    add_vector(&rng, p, FFN, 0.0f);
    snprintf(p, sizeof p, "layers.%d.ffn.down_bias", i);
    add_vector(&rng, p, H, 0.0f);
    snprintf(p, sizeof p, "layers.%d.ffn_norm", i);
    add_norm(&rng, p);
  }
  add_matrix(&rng, "pooler.weight", H, H);
  add_vector(&rng, "pooler.bias", H, 0.0f);
}

static ttt_tensor find_weight(const char *path) {
  for (int i = 0; i < store.n; i++)
    if (strcmp(store.e[i].path, path) == 0) return store.e[i].t;
  ttt_tensor none;
  memset(&none, 0, sizeof none);
  return none;
}

/* The weight `name` of layer i ("attention.wq" → "layers.i.attention.wq"). */
static ttt_tensor layer_weight(int i, const char *name) {
  char p[PATH_LEN];
  snprintf(p, sizeof p, "layers.%d.%s", i, name);
  return find_weight(p);
}

/* ---- Resolver with fault injection, recording the paths asked for ---- */

typedef enum fault { FAULT_NONE, FAULT_MISSING, FAULT_SHAPE, FAULT_DTYPE } fault;

typedef struct resolver_state {
  fault fault;
  const char *fault_path;
  char asked[MAX_WEIGHTS][PATH_LEN];
  int n_asked;
} resolver_state;

static ttt_status resolve(void *user, const char *path, ttt_tensor *out) {
  resolver_state *r = user;
  if (r->n_asked < MAX_WEIGHTS) snprintf(r->asked[r->n_asked++], PATH_LEN, "%s", path);
  ttt_tensor t = find_weight(path);
  bool faulty = r->fault_path && strcmp(path, r->fault_path) == 0;
  if (!t.data || (faulty && r->fault == FAULT_MISSING))
    return ttt_set_error(TTT_ERR_NOT_FOUND, "test store: no weight '%s'", path);
  if (faulty && r->fault == FAULT_SHAPE) t.shape[t.ndim - 1] -= 1;
  if (faulty && r->fault == FAULT_DTYPE) t.dtype = TTT_I32;
  *out = t;
  return TTT_OK;
}

/* ---- Float64 reference: the blocks' references composed, pooler in plain loops ---- */

/* module.weight and module.bias of a LayerNorm ("embeddings.norm", "layers.0.ffn_norm"). */
static ttt_norm_weights norm_weights(const char *module) {
  char w[PATH_LEN], b[PATH_LEN];
  snprintf(w, sizeof w, "%s.weight", module);
  snprintf(b, sizeof b, "%s.bias", module);
  return (ttt_norm_weights){.weight = find_weight(w), .bias = find_weight(b)};
}

static ttt_norm_weights layer_norm_weights(int i, const char *name) {
  char module[PATH_LEN];
  snprintf(module, sizeof module, "layers.%d.%s", i, name);
  return norm_weights(module);
}

static ttt_attention_weights attention_weights(int i) {
  return (ttt_attention_weights){.wq = layer_weight(i, "attention.wq"),
                                 .wk = layer_weight(i, "attention.wk"),
                                 .wv = layer_weight(i, "attention.wv"),
                                 .wo = layer_weight(i, "attention.wo"),
                                 .bq = layer_weight(i, "attention.bq"),
                                 .bk = layer_weight(i, "attention.bk"),
                                 .bv = layer_weight(i, "attention.bv"),
                                 .bo = layer_weight(i, "attention.bo")};
}

static ttt_mlp_weights mlp_weights(int i) {
  return (ttt_mlp_weights){.up = layer_weight(i, "ffn.up"),
                           .down = layer_weight(i, "ffn.down"),
                           .up_bias = layer_weight(i, "ffn.up_bias"),
                           .down_bias = layer_weight(i, "ffn.down_bias")};
}

/* hidden: B·T·H, pooled: B·H. positions: the position-table row of each token (NULL: 0..T-1);
 * types NULL: no token-type embedding. */
static void reference_forward_at(const ttt_encoder_spec *s, const int32_t *ids,
                                 const int32_t *types, const int32_t *positions,
                                 const uint8_t *mask, double *hidden, double *pooled) {
  const int64_t n = (int64_t)B * T;
  int32_t sequential[B * T];
  for (int64_t i = 0; i < n; i++) sequential[i] = (int32_t)(i % T);
  ttt_embedding_weights word = {find_weight("embeddings.word.table")};
  ttt_embedding_weights pos = {find_weight("embeddings.position.table")};
  ttt_embedding_weights type = {find_weight("embeddings.token_type.table")};
  CHECK_OK(ttt_reference_embedding(&s->word, &word, ids, n, false, hidden));
  CHECK_OK(ttt_reference_embedding(&s->position, &pos, positions ? positions : sequential, n, true,
                                   hidden));
  if (types) CHECK_OK(ttt_reference_embedding(&s->token_type, &type, types, n, true, hidden));
  ttt_norm_weights emb_norm = norm_weights("embeddings.norm");
  CHECK_OK(ttt_reference_norm(&s->embedding_norm, &emb_norm, hidden, n, hidden));

  double *a = malloc((size_t)(n * H) * sizeof(double));
  double *h = malloc((size_t)(n * H) * sizeof(double));
  for (int i = 0; i < LAYERS; i++) {
    const ttt_encoder_layer_spec *l = &s->layers[i];
    ttt_attention_weights aw = attention_weights(i);
    ttt_mlp_weights mw = mlp_weights(i);
    ttt_norm_weights n1 = layer_norm_weights(i, "attention_norm");
    ttt_norm_weights n2 = layer_norm_weights(i, "ffn_norm");
    CHECK_OK(ttt_reference_attention(&l->attention, &aw, hidden, B, T, mask, a));
    for (int64_t j = 0; j < n * H; j++) a[j] += hidden[j];
    CHECK_OK(ttt_reference_norm(&l->attention_norm, &n1, a, n, h));
    CHECK_OK(ttt_reference_mlp(&l->ffn, &mw, h, n, a));
    for (int64_t j = 0; j < n * H; j++) a[j] += h[j];
    CHECK_OK(ttt_reference_norm(&l->ffn_norm, &n2, a, n, hidden));
  }
  free(a);
  free(h);

  ttt_tensor w = find_weight("pooler.weight"), bias = find_weight("pooler.bias");
  for (int b = 0; b < B; b++) {
    const double *cls = hidden + (int64_t)b * T * H;
    for (int64_t o = 0; o < H; o++) {
      double acc = ttt_tensor_get(&bias, o);
      for (int64_t k = 0; k < H; k++) acc += ttt_tensor_get(&w, o * H + k) * cls[k];
      pooled[b * H + o] = tanh(acc);
    }
  }
}

static void reference_forward(const ttt_encoder_spec *s, const int32_t *ids, const int32_t *types,
                              const uint8_t *mask, double *hidden, double *pooled) {
  reference_forward_at(s, ids, types, NULL, mask, hidden, pooled);
}

/* ---- Shared inputs, context and the reference result (computed once) ---- */

static int32_t ids[B * T], types[B * T];
static uint8_t mask[B * T];
static double ref_hidden[B * T * H], ref_pooled[B * H];
static ttt_context *ctx;

static void make_inputs(void) {
  ttt_test_rng rng = ttt_test_rng_make(7);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      int i = b * T + t;
      bool real = b == 0 || t < REAL1;
      ids[i] = real ? (int32_t)(1 + ttt_test_rng_next(&rng) % (VOCAB - 1)) : 0; /* 0 = [PAD] */
      types[i] = t >= T / 2 && real ? 1 : 0;
      mask[i] = real ? 1 : 0;
    }
}

typedef struct run_result {
  float hidden[B * T * H];
  float pooled[B * H];
} run_result;

static ttt_status run(const ttt_encoder *m, const int32_t *in_ids, const int32_t *in_types,
                      const uint8_t *in_mask, run_result *r, const ttt_observer *observer) {
  ttt_tensor hidden = ttt_tensor_3d(TTT_F32, r->hidden, B, T, H);
  ttt_tensor pooled = ttt_tensor_2d(TTT_F32, r->pooled, B, H);
  return ttt_encoder_forward(m, ctx, in_ids, in_types, in_mask, B, T, &hidden, &pooled, observer);
}

static ttt_encoder *create(const ttt_encoder_spec *spec, const ttt_encoder_impl_config *impl) {
  resolver_state r = {0};
  ttt_encoder *m = NULL;
  CHECK_OK(ttt_encoder_create(spec, impl, resolve, &r, &m));
  return m;
}

/* Compares all B·T rows of hidden (padded query rows are computed like the others, and the
 * reference masks the same keys) and the pooled rows. */
static void compare_to_reference(const run_result *r, double max_err, double min_pcc,
                                 const char *what) {
  ttt_tensor got = ttt_tensor_3d(TTT_F32, (void *)r->hidden, B, T, H);
  ttt_tensor want = ttt_tensor_3d(TTT_F64, ref_hidden, B, T, H);
  ttt_compare_result c;
  CHECK_OK(ttt_compare(&got, &want, NULL, max_err, 0.0, &c));
  CHECK_MSG(c.max_abs_err <= max_err && c.pcc >= min_pcc,
            "%s hidden: max abs err %.3g (limit %.3g), pcc %.8f (min %.8f)", what, c.max_abs_err,
            max_err, c.pcc, min_pcc);
  printf("  %s hidden: max abs err %.3g, pcc %.9f\n", what, c.max_abs_err, c.pcc);
  got = ttt_tensor_2d(TTT_F32, (void *)r->pooled, B, H);
  want = ttt_tensor_2d(TTT_F64, ref_pooled, B, H);
  CHECK_OK(ttt_compare(&got, &want, NULL, max_err, 0.0, &c));
  CHECK_MSG(c.max_abs_err <= max_err && c.pcc >= min_pcc,
            "%s pooled: max abs err %.3g (limit %.3g), pcc %.8f (min %.8f)", what, c.max_abs_err,
            max_err, c.pcc, min_pcc);
  printf("  %s pooled: max abs err %.3g, pcc %.9f\n", what, c.max_abs_err, c.pcc);
}

static run_result result_a, result_b;

/* ---- Tests ---- */

static void test_accuracy_matches_reference(void) {
  ttt_encoder_spec spec = make_spec();
  CHECK_OK(ttt_encoder_spec_validate(&spec));
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(ttt_context_device(ctx), TTT_STRATEGY_ACCURACY, &spec,
                                           &impl));
  CHECK(impl.layers[1].attention.weight_dtype == TTT_F32);
  CHECK(impl.pooler.weight_dtype == TTT_F32);
  ttt_encoder *m = create(&spec, &impl);
  if (!m) return;
  CHECK(ttt_encoder_get_spec(m)->n_layers == LAYERS);
  CHECK_OK(run(m, ids, types, mask, &result_a, NULL));
  /* f32 activations over 3072-long dot products, through LayerNorms with outputs of size ~1. */
  compare_to_reference(&result_a, 1e-4, 0.99999, "accuracy");

  /* NULL token types = all zeros; NULL attention mask = every token real. */
  int32_t zeros[B * T] = {0};
  uint8_t ones[B * T];
  memset(ones, 1, sizeof ones);
  CHECK_OK(run(m, ids, zeros, ones, &result_a, NULL));
  CHECK_OK(run(m, ids, NULL, NULL, &result_b, NULL));
  CHECK(memcmp(&result_a, &result_b, sizeof result_a) == 0);
  ttt_encoder_destroy(m);
}

/* Tokens at masked positions must not influence the real tokens of their row; without the mask
 * they would. */
static void test_padding_mask(void) {
  ttt_encoder_spec spec = make_spec();
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(ttt_context_device(ctx), TTT_STRATEGY_ACCURACY, &spec,
                                           &impl));
  ttt_encoder *m = create(&spec, &impl);
  if (!m) return;
  int32_t other_ids[B * T];
  memcpy(other_ids, ids, sizeof ids);
  for (int t = REAL1; t < T; t++) other_ids[T + t] = 5 + t;
  CHECK_OK(run(m, ids, types, mask, &result_a, NULL));
  CHECK_OK(run(m, other_ids, types, mask, &result_b, NULL));
  double masked_diff = 0.0;
  for (int t = 0; t < REAL1; t++)
    for (int k = 0; k < H; k++) {
      int64_t i = ((int64_t)T + t) * H + k;
      masked_diff = fmax(masked_diff, fabs(result_a.hidden[i] - result_b.hidden[i]));
    }
  CHECK_MSG(masked_diff <= 1e-5, "padding changed real tokens by %g", masked_diff);
  CHECK_OK(run(m, ids, types, NULL, &result_b, NULL));
  double unmasked_diff = 0.0;
  for (int t = 0; t < REAL1; t++)
    for (int k = 0; k < H; k++) {
      int64_t i = ((int64_t)T + t) * H + k;
      unmasked_diff = fmax(unmasked_diff, fabs(result_a.hidden[i] - result_b.hidden[i]));
    }
  CHECK_MSG(unmasked_diff > 1e-2, "the mask made no difference (%g)", unmasked_diff);
  /* Row 0 has no padding: the mask does not touch it. */
  CHECK(memcmp(result_a.hidden, result_b.hidden, sizeof(float) * T * H) == 0);
  ttt_encoder_destroy(m);
}

static void test_performance_and_overrides(void) {
  ttt_encoder_spec spec = make_spec();
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(ttt_context_device(ctx), TTT_STRATEGY_PERFORMANCE, &spec,
                                           &impl));
  /* q8_0 weights, in the grouped layout on devices with AVX-512 VNNI */
  const uint32_t vnni = TTT_ISA_AVX512F | TTT_ISA_AVX512BW | TTT_ISA_AVX512VL | TTT_ISA_AVX512VNNI;
  ttt_dtype q8 = (ttt_context_device(ctx)->isa & vnni) == vnni ? TTT_Q8_0_G16 : TTT_Q8_0;
  CHECK(impl.layers[0].attention.weight_dtype == q8);
  CHECK(impl.layers[0].attention.activation_dtype == TTT_Q8_0);
  CHECK(impl.layers[1].ffn.weight_dtype == q8);
  CHECK(impl.pooler.weight_dtype == q8);
  CHECK(impl.embeddings.weight_dtype == TTT_F32);
  ttt_encoder *m = create(&spec, &impl);
  if (m) {
    CHECK_OK(run(m, ids, types, mask, &result_a, NULL));
    /* int8 weights and activations in every projection of 2 layers. */
    compare_to_reference(&result_a, 0.1, 0.9995, "performance (q8_0)");
    ttt_encoder_destroy(m);
  }

  /* Per-module overrides on top of accuracy: bf16 for layer 1's FFN and the pooler, f16 tables. */
  CHECK_OK(ttt_encoder_default_impl_config(ttt_context_device(ctx), TTT_STRATEGY_ACCURACY, &spec,
                                           &impl));
  impl.layers[1].ffn.weight_dtype = TTT_BF16;
  impl.pooler.weight_dtype = TTT_BF16;
  impl.embeddings.weight_dtype = TTT_F16;
  impl.layers[0].attention.threads = 1;
  m = create(&spec, &impl);
  if (m) {
    CHECK_OK(run(m, ids, types, mask, &result_a, NULL));
    compare_to_reference(&result_a, 0.02, 0.99999, "bf16/f16 overrides");
    ttt_encoder_destroy(m);
  }
}

/* Positions that start at an offset and count only non-pad tokens (a pad token anywhere in the
 * row, left padding included), without token types: against HF's rule written out here
 * (create_position_ids_from_input_ids: cumsum(ids != pad) · (ids != pad) + padding_idx). */
static void test_padding_aware_positions(void) {
  enum { PAD = 1 };
  ttt_encoder_spec spec = make_spec();
  spec.token_type = (ttt_embedding_spec){0};
  spec.position_offset = PAD + 1;
  spec.positions_skip_padding = true;
  spec.pad_token_id = PAD;
  CHECK_OK(ttt_encoder_spec_validate(&spec));
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &spec, &impl));
  resolver_state r = {0};
  ttt_encoder *m = NULL;
  CHECK_OK(ttt_encoder_create(&spec, &impl, resolve, &r, &m));
  if (!m) return;
  for (int i = 0; i < r.n_asked; i++)
    CHECK_MSG(strcmp(r.asked[i], "embeddings.token_type.table") != 0, "token types resolved");
  /* Row 0: a pad token in the middle; row 1: left padding (keys masked). */
  int32_t in_ids[B * T];
  uint8_t in_mask[B * T];
  for (int i = 0; i < B * T; i++) {
    in_ids[i] = 2 + (int32_t)((i * 7) % (VOCAB - 2));
    in_mask[i] = 1;
  }
  in_ids[2] = PAD;
  for (int t = 0; t < T - REAL1; t++) {
    in_ids[T + t] = PAD;
    in_mask[T + t] = 0;
  }
  int32_t positions[B * T];
  for (int b = 0; b < B; b++) {
    int32_t cumsum = 0;
    for (int t = 0; t < T; t++) {
      int32_t real = in_ids[b * T + t] != PAD;
      cumsum += real;
      positions[b * T + t] = cumsum * real + PAD;
    }
  }
  CHECK(positions[3] == 4 && positions[2] == PAD && positions[T + T - REAL1] == PAD + 1);
  reference_forward_at(&spec, in_ids, NULL, positions, in_mask, ref_hidden, ref_pooled);
  CHECK_OK(run(m, in_ids, NULL, in_mask, &result_a, NULL));
  compare_to_reference(&result_a, 1e-4, 0.99999, "padding-aware positions");
  CHECK_ERR(run(m, in_ids, types, in_mask, &result_a, NULL), TTT_ERR_INVALID_ARGUMENT,
            "token_type_ids");
  ttt_encoder_destroy(m);
  /* Restore the shared reference of the default spec for the tests after this one. */
  ttt_encoder_spec shared = make_spec();
  reference_forward(&shared, ids, types, mask, ref_hidden, ref_pooled);
}

/* ---- Pre-norm encoder (ModernBERT's mechanisms) ---- */

enum { PRE_LAYERS = 3, PRE_FFN = 256 };

/* No position table (rope in every layer, two thetas), no token types, LayerNorms without bias,
 * pre-norm layers (layer 0 without an attention norm), GeGLU MLPs without biases, layer 1 with a
 * symmetric window of 4 (|i - j| <= 2 of T = 6 positions), a final norm, no pooler. */
static ttt_encoder_spec make_pre_norm_spec(void) {
  ttt_encoder_spec s;
  memset(&s, 0, sizeof s);
  s.word = (ttt_embedding_spec){.vocab = VOCAB, .dim = H};
  ttt_norm_spec ln = {.type = TTT_NORM_LAYER, .dim = H, .eps = 1e-5f};
  s.embedding_norm = ln;
  s.n_layers = PRE_LAYERS;
  for (int i = 0; i < PRE_LAYERS; i++) {
    ttt_encoder_layer_spec *l = &s.layers[i];
    bool local = i == 1;
    l->pre_norm = true;
    l->attention = (ttt_attention_spec){.hidden = H,
                                        .n_heads = HEADS,
                                        .n_kv_heads = HEADS,
                                        .bidirectional = true,
                                        .sliding_window = local ? 4 : 0,
                                        .rope = {.type = TTT_ROPE_DEFAULT,
                                                 .head_dim = H / HEADS,
                                                 .rotary_dim = H / HEADS,
                                                 .max_positions = MAXPOS,
                                                 .theta = local ? 1e4 : 1.6e5}};
    l->attention_norm = i == 0 ? (ttt_norm_spec){0} : ln;
    l->ffn = (ttt_mlp_spec){
        .hidden = H, .intermediate = PRE_FFN, .activation = TTT_ACT_GELU, .gated = true};
    l->ffn_norm = ln;
  }
  s.norm = ln;
  return s;
}

static void make_pre_norm_weights(void) {
  ttt_test_rng rng = ttt_test_rng_make(77);
  char p[PATH_LEN];
  add_table(&rng, "embeddings.word.table", VOCAB);
  add_vector(&rng, "embeddings.norm.weight", H, 1.0f);
  for (int i = 0; i < PRE_LAYERS; i++) {
    static const char *const proj[] = {"wq", "wk", "wv", "wo"};
    for (int j = 0; j < 4; j++) {
      snprintf(p, sizeof p, "layers.%d.attention.%s", i, proj[j]);
      add_matrix(&rng, p, H, H);
    }
    if (i > 0) {
      snprintf(p, sizeof p, "layers.%d.attention_norm.weight", i);
      add_vector(&rng, p, H, 1.0f);
    }
    snprintf(p, sizeof p, "layers.%d.ffn_norm.weight", i);
    add_vector(&rng, p, H, 1.0f);
    snprintf(p, sizeof p, "layers.%d.ffn.gate", i);
    add_matrix(&rng, p, PRE_FFN, H);
    snprintf(p, sizeof p, "layers.%d.ffn.up", i);
    add_matrix(&rng, p, PRE_FFN, H);
    snprintf(p, sizeof p, "layers.%d.ffn.down", i);
    add_matrix(&rng, p, H, PRE_FFN);
  }
  add_vector(&rng, "norm.weight", H, 1.0f);
}

/* The float64 composition: x = norm(word[ids]); per layer a = x + attn(attention_norm(x)),
 * x = a + mlp(ffn_norm(a)); then the final norm. The reference attention applies the spec's rope
 * at positions 0..T-1 and its symmetric window. */
static void reference_pre_norm(const ttt_encoder_spec *s, const int32_t *in_ids,
                               const uint8_t *in_mask, double *x) {
  const int64_t n = (int64_t)B * T;
  ttt_embedding_weights word = {find_weight("embeddings.word.table")};
  CHECK_OK(ttt_reference_embedding(&s->word, &word, in_ids, n, false, x));
  ttt_norm_weights emb_norm = {.weight = find_weight("embeddings.norm.weight")};
  CHECK_OK(ttt_reference_norm(&s->embedding_norm, &emb_norm, x, n, x));
  double *h = malloc((size_t)(n * H) * sizeof(double));
  double *a = malloc((size_t)(n * H) * sizeof(double));
  for (int i = 0; i < PRE_LAYERS; i++) {
    const ttt_encoder_layer_spec *l = &s->layers[i];
    ttt_attention_weights aw = {.wq = layer_weight(i, "attention.wq"),
                                .wk = layer_weight(i, "attention.wk"),
                                .wv = layer_weight(i, "attention.wv"),
                                .wo = layer_weight(i, "attention.wo")};
    ttt_norm_weights n1 = {.weight = layer_weight(i, "attention_norm.weight")};
    ttt_norm_weights n2 = {.weight = layer_weight(i, "ffn_norm.weight")};
    ttt_mlp_weights mw = {.gate = layer_weight(i, "ffn.gate"),
                          .up = layer_weight(i, "ffn.up"),
                          .down = layer_weight(i, "ffn.down")};
    if (i == 0)
      memcpy(h, x, (size_t)(n * H) * sizeof(double));
    else
      CHECK_OK(ttt_reference_norm(&l->attention_norm, &n1, x, n, h));
    CHECK_OK(ttt_reference_attention(&l->attention, &aw, h, B, T, in_mask, a));
    for (int64_t j = 0; j < n * H; j++) a[j] += x[j];
    CHECK_OK(ttt_reference_norm(&l->ffn_norm, &n2, a, n, h));
    CHECK_OK(ttt_reference_mlp(&l->ffn, &mw, h, n, x));
    for (int64_t j = 0; j < n * H; j++) x[j] += a[j];
  }
  ttt_norm_weights fn = {.weight = find_weight("norm.weight")};
  CHECK_OK(ttt_reference_norm(&s->norm, &fn, x, n, x));
  free(h);
  free(a);
}

static void test_pre_norm_rope_window(void) {
  static weight_store saved;
  saved = store;
  store.n = 0;
  make_pre_norm_weights();
  ttt_encoder_spec spec = make_pre_norm_spec();
  CHECK_OK(ttt_encoder_spec_validate(&spec));
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &spec, &impl));
  resolver_state r = {0};
  ttt_encoder *m = NULL;
  CHECK_OK(ttt_encoder_create(&spec, &impl, resolve, &r, &m));
  /* word, embedding norm, 9 per layer but layer 0 has no attention norm, final norm */
  CHECK(r.n_asked == 2 + 9 * PRE_LAYERS - 1 + 1);
  if (m) {
    static double want[B * T * H];
    reference_pre_norm(&spec, ids, mask, want);
    ttt_tensor hidden = ttt_tensor_3d(TTT_F32, result_a.hidden, B, T, H);
    CHECK_OK(ttt_encoder_forward(m, ctx, ids, NULL, mask, B, T, &hidden, NULL, NULL));
    ttt_tensor expected = ttt_tensor_3d(TTT_F64, want, B, T, H);
    ttt_compare_result c;
    CHECK_OK(ttt_compare(&hidden, &expected, NULL, 1e-4, 0.0, &c));
    CHECK_MSG(c.max_abs_err <= 1e-4 && c.pcc >= 0.99999, "pre-norm: max abs %.3g, pcc %.8f",
              c.max_abs_err, c.pcc);
    printf("  pre-norm rope/window/GeGLU/final norm: max abs err %.3g, pcc %.9f\n", c.max_abs_err,
           c.pcc);
    /* The window matters: without it layer 1 sees every key and the result moves. */
    ttt_encoder_destroy(m);
    spec.layers[1].attention.sliding_window = 0;
    CHECK_OK(ttt_encoder_create(&spec, &impl, resolve, &r, &m));
    CHECK_OK(ttt_encoder_forward(m, ctx, ids, NULL, mask, B, T, &hidden, NULL, NULL));
    CHECK_OK(ttt_compare(&hidden, &expected, NULL, 1e-4, 0.0, &c));
    CHECK_MSG(c.max_abs_err > 1e-3, "the window made no difference (%g)", c.max_abs_err);
    ttt_encoder_destroy(m);
  }
  for (int i = 0; i < store.n; i++) ttt_tensor_free(&store.e[i].t);
  store = saved;
}

static void test_spec_validation(void) {
  CHECK_ERR(ttt_encoder_spec_validate(NULL), TTT_ERR_INVALID_ARGUMENT, "NULL");
  ttt_encoder_spec s = make_spec();
  s.n_layers = 0;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "n_layers (0)");
  s = make_spec();
  s.n_layers = TTT_MAX_LAYERS + 1;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "n_layers");
  s = make_spec();
  s.position.dim = 512;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "position.dim (512)");
  s = make_spec();
  s.token_type.vocab = 0;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "token_type");
  s = make_spec();
  s.position_offset = MAXPOS;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "position_offset (16)");
  s = make_spec();
  s.positions_skip_padding = true;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "position_offset >= 1");
  s.position_offset = 2;
  s.pad_token_id = VOCAB;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "pad_token_id (64)");
  s = make_spec();
  s.embedding_norm.eps = 0.0f;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "embedding_norm");
  s = make_spec();
  s.layers[1].attention.hidden = 480; /* a valid attention, but not the model's width */
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "layers[1].attention.hidden (480)");
  s = make_spec();
  s.layers[0].ffn_norm.dim = 100;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "layers[0].ffn_norm.dim");
  s = make_spec();
  s.layers[1].ffn.intermediate = 0;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "layers[1].ffn");
  s = make_spec();
  s.layers[0].attention.n_heads = 7; /* 768 is not a multiple of 7 */
  s.layers[0].attention.n_kv_heads = 7;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "layers[0].attention");
  s = make_spec();
  s.layers[1].attention.bidirectional = false;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT,
            "layers[1].attention.bidirectional must be set");
  s = make_spec();
  s.layers[0].attention_norm.dim = 0; /* the identity only in a pre-norm layer */
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "layers[0].attention_norm");
  s.layers[0].pre_norm = true;
  CHECK_OK(ttt_encoder_spec_validate(&s));
  s = make_spec();
  s.position = (ttt_embedding_spec){0};
  CHECK_OK(ttt_encoder_spec_validate(&s));
  s.position_offset = 2;
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "need a position embedding");
  s = make_spec();
  s.norm = (ttt_norm_spec){.type = TTT_NORM_LAYER, .dim = 100, .eps = 1e-5f};
  CHECK_ERR(ttt_encoder_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "norm.dim (100)");
  s.layers[1].attention.bidirectional = false;

  ttt_encoder_impl_config impl;
  CHECK_ERR(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &s, &impl),
            TTT_ERR_INVALID_ARGUMENT, "norm.dim");
  s = make_spec();
  CHECK_ERR(ttt_encoder_default_impl_config(NULL, (ttt_strategy)7, &s, &impl),
            TTT_ERR_INVALID_ARGUMENT, "strategy");
}

static void check_create_fault(fault f, const char *path, ttt_status expected) {
  ttt_encoder_spec spec = make_spec();
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &spec, &impl));
  resolver_state r = {.fault = f, .fault_path = path};
  ttt_encoder *m = (ttt_encoder *)&r; /* must be reset to NULL on failure */
  CHECK_ERR(ttt_encoder_create(&spec, &impl, resolve, &r, &m), expected, path);
  CHECK(m == NULL);
}

static void test_create_errors(void) {
  check_create_fault(FAULT_MISSING, "layers.1.ffn.down_bias", TTT_ERR_NOT_FOUND);
  check_create_fault(FAULT_MISSING, "pooler.weight", TTT_ERR_NOT_FOUND);
  check_create_fault(FAULT_MISSING, "embeddings.token_type.table", TTT_ERR_NOT_FOUND);
  check_create_fault(FAULT_SHAPE, "layers.0.attention.wk", TTT_ERR_SHAPE);
  check_create_fault(FAULT_SHAPE, "layers.1.attention_norm.bias", TTT_ERR_SHAPE);
  check_create_fault(FAULT_DTYPE, "embeddings.norm.weight", TTT_ERR_DTYPE);
  check_create_fault(FAULT_DTYPE, "layers.1.ffn.up", TTT_ERR_DTYPE);

  ttt_encoder_spec spec = make_spec();
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &spec, &impl));
  impl.layers[1].ffn.activation_dtype = TTT_Q8_0; /* needs q8_0 weights */
  resolver_state r = {0};
  ttt_encoder *m = NULL;
  CHECK_ERR(ttt_encoder_create(&spec, &impl, resolve, &r, &m), TTT_ERR_DTYPE, "layers.1.ffn");
  CHECK(r.n_asked == 0); /* fails before resolving anything */
  CHECK_ERR(ttt_encoder_create(&spec, &impl, NULL, &r, &m), TTT_ERR_INVALID_ARGUMENT, "resolver");

  /* Every path asked for, in order, is exactly the store's list; no pooler without spec.pooler. */
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &spec, &impl));
  memset(&r, 0, sizeof r);
  CHECK_OK(ttt_encoder_create(&spec, &impl, resolve, &r, &m));
  CHECK(r.n_asked == store.n);
  for (int i = 0; i < r.n_asked && i < store.n; i++)
    CHECK_MSG(strcmp(r.asked[i], store.e[i].path) == 0, "asked[%d] = %s, expected %s", i,
              r.asked[i], store.e[i].path);

  /* Forward errors. */
  run_result *res = &result_a;
  ttt_tensor hidden = ttt_tensor_3d(TTT_F32, res->hidden, B, T, H);
  ttt_tensor bad_hidden = ttt_tensor_3d(TTT_F32, res->hidden, B, T - 1, H);
  CHECK_ERR(ttt_encoder_forward(m, ctx, ids, types, mask, B, T, &bad_hidden, NULL, NULL),
            TTT_ERR_SHAPE, "encoder hidden");
  int32_t bad_ids[B * T];
  memcpy(bad_ids, ids, sizeof ids);
  bad_ids[3] = VOCAB;
  CHECK_ERR(ttt_encoder_forward(m, ctx, bad_ids, types, mask, B, T, &hidden, NULL, NULL),
            TTT_ERR_OUT_OF_RANGE, "embeddings.word");
  int32_t bad_types[B * T];
  memcpy(bad_types, types, sizeof types);
  bad_types[7] = TYPES;
  CHECK_ERR(ttt_encoder_forward(m, ctx, ids, bad_types, mask, B, T, &hidden, NULL, NULL),
            TTT_ERR_OUT_OF_RANGE, "embeddings.token_type");
  ttt_tensor long_hidden = ttt_tensor_3d(TTT_F32, res->hidden, 1, MAXPOS + 1, H);
  int32_t long_ids[MAXPOS + 1] = {0};
  CHECK_ERR(
      ttt_encoder_forward(m, ctx, long_ids, NULL, NULL, 1, MAXPOS + 1, &long_hidden, NULL, NULL),
      TTT_ERR_OUT_OF_RANGE, "position embeddings");
  ttt_encoder_destroy(m);

  spec.pooler = false;
  memset(&r, 0, sizeof r);
  CHECK_OK(ttt_encoder_create(&spec, &impl, resolve, &r, &m));
  CHECK(r.n_asked == store.n - 2);
  for (int i = 0; i < r.n_asked; i++) CHECK(strncmp(r.asked[i], "pooler", 6) != 0);
  ttt_tensor pooled = ttt_tensor_2d(TTT_F32, res->pooled, B, H);
  CHECK_ERR(ttt_encoder_forward(m, ctx, ids, types, mask, B, T, &hidden, &pooled, NULL),
            TTT_ERR_INVALID_ARGUMENT, "no pooler");
  CHECK_OK(ttt_encoder_forward(m, ctx, ids, types, mask, B, T, &hidden, NULL, NULL));
  ttt_encoder_destroy(m);
  ttt_encoder_destroy(NULL);
}

/* ---- observer ---- */

enum { MAX_EVENTS = 16 };

typedef struct recorded_event {
  char path[PATH_LEN];
  ttt_dtype in_dtype;
  int32_t in_ndim, out_ndim;
  int64_t in_shape[3], out_shape[3];
  float *in, *out; /* copies */
} recorded_event;

typedef struct recorder {
  recorded_event ev[MAX_EVENTS];
  int n;
} recorder;

static float *copy_floats(const ttt_tensor *t) {
  if (t->dtype != TTT_F32) return NULL;
  size_t bytes = ttt_tensor_nbytes(t);
  float *p = malloc(bytes);
  memcpy(p, t->data, bytes);
  return p;
}

static void record(void *user, const ttt_module_event *e) {
  recorder *r = user;
  if (r->n >= MAX_EVENTS) return;
  recorded_event *x = &r->ev[r->n++];
  snprintf(x->path, sizeof x->path, "%s", e->path);
  x->in_dtype = e->input->dtype;
  x->in_ndim = e->input->ndim;
  x->out_ndim = e->output->ndim;
  for (int d = 0; d < 3; d++) {
    x->in_shape[d] = e->input->shape[d];
    x->out_shape[d] = e->output->shape[d];
  }
  x->in = copy_floats(e->input);
  x->out = copy_floats(e->output);
  CHECK(e->mode == TTT_MODE_PREFILL && e->start_pos == 0);
  if (strcmp(e->path, "embeddings") == 0) {
    CHECK(e->input->dtype == TTT_I32);
    CHECK(memcmp(e->input->data, ids, sizeof ids) == 0);
  }
}

static bool same_floats(const float *a, const float *b, size_t n) {
  return a && b && memcmp(a, b, n * sizeof(float)) == 0;
}

static void test_observer(void) {
  ttt_encoder_spec spec = make_spec();
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &spec, &impl));
  ttt_encoder *m = create(&spec, &impl);
  if (!m) return;
  static recorder rec;
  ttt_observer obs = {record, &rec};
  CHECK_OK(run(m, ids, types, mask, &result_a, &obs));
  CHECK_OK(run(m, ids, types, mask, &result_b, NULL));
  CHECK(memcmp(&result_a, &result_b, sizeof result_a) == 0); /* observing changes nothing */

  static const char *const expected[] = {"embeddings",
                                         "layers.0.attention",
                                         "layers.0.attention_norm",
                                         "layers.0.ffn",
                                         "layers.0.ffn_norm",
                                         "layers.0",
                                         "layers.1.attention",
                                         "layers.1.attention_norm",
                                         "layers.1.ffn",
                                         "layers.1.ffn_norm",
                                         "layers.1",
                                         "pooler"};
  const int n_expected = (int)(sizeof expected / sizeof expected[0]);
  CHECK_MSG(rec.n == n_expected, "%d events, expected %d", rec.n, n_expected);
  for (int i = 0; i < rec.n && i < n_expected; i++)
    CHECK_MSG(strcmp(rec.ev[i].path, expected[i]) == 0, "event %d is %s, expected %s", i,
              rec.ev[i].path, expected[i]);
  if (rec.n != n_expected) return;

  const size_t n = (size_t)B * T * H;
  recorded_event *ev = rec.ev;
  for (int i = 1; i < 11; i++) /* every layer module: [B, T, H] in and out */
    CHECK(ev[i].in_ndim == 3 && ev[i].out_ndim == 3 && ev[i].in_shape[1] == T &&
          ev[i].out_shape[2] == H);
  CHECK(ev[0].in_ndim == 2 && ev[0].in_shape[0] == B && ev[0].in_shape[1] == T);
  /* The dataflow between events: each module's input is what the previous one produced. */
  CHECK(same_floats(ev[5].in, ev[0].out, n));  /* layers.0 reads the embeddings */
  CHECK(same_floats(ev[1].in, ev[0].out, n));  /* layers.0.attention too */
  CHECK(same_floats(ev[3].in, ev[2].out, n));  /* ffn reads attention_norm's output */
  CHECK(same_floats(ev[5].out, ev[4].out, n)); /* the layer's output is ffn_norm's */
  CHECK(same_floats(ev[6].in, ev[5].out, n));  /* layers.1 reads layers.0 */
  CHECK(same_floats(ev[10].out, result_a.hidden, n));
  CHECK(same_floats(ev[11].out, result_a.pooled, (size_t)B * H));
  CHECK(ev[11].in_ndim == 2 && ev[11].in_shape[0] == B && ev[11].in_shape[1] == H);
  for (int b = 0; b < B && ev[11].in; b++) /* the pooler reads the [CLS] rows */
    CHECK(same_floats(ev[11].in + b * H, result_a.hidden + (size_t)b * T * H, H));
  /* Residuals: attention_norm's input is x + attention(x); ffn_norm's is h + ffn(h). */
  bool residual_ok = ev[2].in && ev[1].out && ev[4].in && ev[3].out;
  for (size_t i = 0; residual_ok && i < n; i++)
    residual_ok =
        ev[2].in[i] == ev[1].out[i] + ev[0].out[i] && ev[4].in[i] == ev[3].out[i] + ev[2].out[i];
  CHECK(residual_ok);
  ttt_encoder_destroy(m);

  /* One layer (odd count: the layers' ping-pong starts in the scratch buffer) must give exactly
   * what layer 0 of the two-layer model produced. */
  spec.n_layers = 1;
  m = create(&spec, &impl);
  if (m) {
    CHECK_OK(run(m, ids, types, mask, &result_b, NULL));
    CHECK(same_floats(result_b.hidden, ev[5].out, n));
    ttt_encoder_destroy(m);
  }
  for (int i = 0; i < rec.n; i++) {
    free(rec.ev[i].in);
    free(rec.ev[i].out);
  }
}

/* The layer alone: shapes and aliasing are checked. */
static void test_layer_arguments(void) {
  ttt_encoder_spec spec = make_spec();
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_ACCURACY, &spec, &impl));
  ttt_encoder_layer_weights w = {.attention = attention_weights(0),
                                 .attention_norm = layer_norm_weights(0, "attention_norm"),
                                 .ffn = mlp_weights(0),
                                 .ffn_norm = layer_norm_weights(0, "ffn_norm")};
  ttt_tensor x = ttt_tensor_3d(TTT_F32, result_a.hidden, B, T, H);
  ttt_tensor out = ttt_tensor_3d(TTT_F32, result_b.hidden, B, T, H);
  ttt_tensor flat = ttt_tensor_2d(TTT_F32, result_b.hidden, B * T, H);
  CHECK_ERR(ttt_encoder_layer_forward(ctx, &spec.layers[0], &impl.layers[0], &w, &x, mask, &x,
                                      "layers.0", NULL),
            TTT_ERR_INVALID_ARGUMENT, "overlap");
  CHECK_ERR(ttt_encoder_layer_forward(ctx, &spec.layers[0], &impl.layers[0], &w, &x, mask, &flat,
                                      "layers.0", NULL),
            TTT_ERR_SHAPE, "encoder layer out");
  CHECK_ERR(ttt_encoder_layer_forward(ctx, &spec.layers[0], &impl.layers[0], NULL, &x, mask, &out,
                                      "layers.0", NULL),
            TTT_ERR_INVALID_ARGUMENT, "NULL");
  w.ffn.down_bias = (ttt_tensor){0};
  CHECK_ERR(ttt_encoder_layer_forward(ctx, &spec.layers[0], &impl.layers[0], &w, &x, mask, &out,
                                      "layers.0", NULL),
            TTT_ERR_INVALID_ARGUMENT, "layers.0.ffn");
  w.ffn = mlp_weights(0);
  /* Without a path the submodules report bare names and the layer itself is the root "". */
  static recorder rec;
  ttt_observer obs = {record, &rec};
  CHECK_OK(ttt_encoder_layer_forward(ctx, &spec.layers[0], &impl.layers[0], &w, &x, mask, &out,
                                     NULL, &obs));
  static const char *const expected[] = {"attention", "attention_norm", "ffn", "ffn_norm", ""};
  CHECK(rec.n == 5);
  for (int i = 0; i < rec.n && i < 5; i++) {
    CHECK_MSG(strcmp(rec.ev[i].path, expected[i]) == 0, "event %d is '%s'", i, rec.ev[i].path);
    free(rec.ev[i].in);
    free(rec.ev[i].out);
  }
}

/* The performance strategy uses q8_0 only where every input dim is a multiple of 32. */
static void test_performance_fallback(void) {
  ttt_encoder_spec s = make_spec();
  s.word.dim = s.position.dim = s.token_type.dim = 48;
  s.embedding_norm.dim = 48;
  for (int i = 0; i < LAYERS; i++) {
    s.layers[i].attention.hidden = 48;
    s.layers[i].attention.n_heads = s.layers[i].attention.n_kv_heads = 4; /* divides 48 and 64 */
    s.layers[i].attention_norm.dim = s.layers[i].ffn_norm.dim = 48;
    s.layers[i].ffn.hidden = 48;
    s.layers[i].ffn.intermediate = i == 0 ? 96 : 64;
  }
  ttt_encoder_impl_config impl;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_PERFORMANCE, &s, &impl));
  CHECK(impl.layers[0].attention.weight_dtype == TTT_BF16);
  CHECK(impl.layers[0].attention.activation_dtype == TTT_F32);
  CHECK(impl.layers[0].ffn.weight_dtype == TTT_BF16);
  CHECK(impl.pooler.weight_dtype == TTT_BF16 && impl.pooler.activation_dtype == TTT_F32);
  for (int i = 0; i < LAYERS; i++) {
    s.layers[i].attention.hidden = 64;
    s.layers[i].attention_norm.dim = s.layers[i].ffn_norm.dim = 64;
    s.layers[i].ffn.hidden = 64;
  }
  s.word.dim = s.position.dim = s.token_type.dim = s.embedding_norm.dim = 64;
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_PERFORMANCE, &s, &impl));
  CHECK(impl.layers[0].ffn.weight_dtype == TTT_Q8_0); /* 64 and 96 */
  CHECK(impl.layers[1].ffn.weight_dtype == TTT_Q8_0); /* 64 and 64 */
  CHECK(impl.layers[1].attention.weight_dtype == TTT_Q8_0);
  s.layers[1].ffn.intermediate = 80; /* down's input dim is not a multiple of 32 */
  CHECK_OK(ttt_encoder_default_impl_config(NULL, TTT_STRATEGY_PERFORMANCE, &s, &impl));
  CHECK(impl.layers[1].ffn.weight_dtype == TTT_BF16);
  CHECK(impl.layers[1].attention.weight_dtype == TTT_Q8_0);
}

/* The string-path setter changes exactly the named fields and rejects bad paths unchanged. */
static void test_impl_paths(void) {
  ttt_encoder_spec spec = make_spec();
  ttt_encoder_impl_config base, impl;
  CHECK_OK(ttt_encoder_default_impl_config(ttt_context_device(ctx), TTT_STRATEGY_ACCURACY, &spec,
                                           &base));
  impl = base;
  CHECK_OK(ttt_encoder_impl_set(&impl, &spec, "layers.1.ffn.weight_dtype=bf16"));
  CHECK_OK(ttt_encoder_impl_set(&impl, &spec, "pooler.threads=1"));
  CHECK_OK(ttt_encoder_impl_set(&impl, &spec, "layers.*.attention.algorithm=naive"));
  CHECK(impl.layers[1].ffn.weight_dtype == TTT_BF16 && impl.layers[0].ffn.weight_dtype == TTT_F32);
  CHECK(impl.pooler.threads == 1);
  CHECK(impl.layers[0].attention.algorithm == TTT_ATTENTION_NAIVE &&
        impl.layers[1].attention.algorithm == TTT_ATTENTION_NAIVE);
  impl.layers[1].ffn.weight_dtype = base.layers[1].ffn.weight_dtype;
  impl.pooler.threads = base.pooler.threads;
  for (int l = 0; l < 2; l++)
    impl.layers[l].attention.algorithm = base.layers[l].attention.algorithm;
  CHECK(memcmp(&impl, &base, sizeof impl) == 0); /* nothing else changed */
  CHECK_ERR(ttt_encoder_impl_set(&impl, &spec, "layers.0.ffn.group_by_expert=true"),
            TTT_ERR_INVALID_ARGUMENT, "no field 'group_by_expert'");
  CHECK_ERR(ttt_encoder_impl_set(&impl, &spec, "decode.pooler.threads=1"), TTT_ERR_INVALID_ARGUMENT,
            "unknown module");
  CHECK_ERR(ttt_encoder_impl_set(&impl, &spec, "layers.2.attention.threads=1"),
            TTT_ERR_INVALID_ARGUMENT, "layer '2'");
  CHECK(memcmp(&impl, &base, sizeof impl) == 0);
}

int main(void) {
  ttt_device device;
  if (ttt_device_cpu(&device, 2) != TTT_OK || ttt_context_create(&device, &ctx) != TTT_OK) {
    fprintf(stderr, "no context: %s\n", ttt_last_error());
    return 1;
  }
  make_weights();
  make_inputs();
  ttt_encoder_spec spec = make_spec();
  reference_forward(&spec, ids, types, mask, ref_hidden, ref_pooled);

  TTT_RUN(test_accuracy_matches_reference);
  TTT_RUN(test_padding_mask);
  TTT_RUN(test_padding_aware_positions);
  TTT_RUN(test_pre_norm_rope_window);
  TTT_RUN(test_performance_and_overrides);
  TTT_RUN(test_spec_validation);
  TTT_RUN(test_create_errors);
  TTT_RUN(test_observer);
  TTT_RUN(test_layer_arguments);
  TTT_RUN(test_performance_fallback);
  TTT_RUN(test_impl_paths);

  for (int i = 0; i < store.n; i++) ttt_tensor_free(&store.e[i].t);
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
