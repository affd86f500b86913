/*
 * Tier 2 against the real reference: the encoder fixtures tests/fixtures/hf/{bert_tiny (BertModel),
 * roberta_tiny (RobertaModel), xlmr_tiny (XLMRobertaModel), distilbert_tiny (DistilBertModel),
 * modernbert_tiny (ModernBertModel, 4 layers: global, local, local, global; T 20 > the local
 * window 8, so the windows matter)},
 * 2 layers each, built by the model factory, must reproduce HuggingFace's last_hidden_state for
 * both rows of the padded batch (row 1 is padding after position 8; masked positions are
 * excluded) and pooler_output where the model has one, with max abs error <= 1e-4 and PCC >=
 * 0.99999 (accuracy strategy, f32). RoBERTa's rows exercise its padding-aware positions (they
 * start at padding_idx + 1); DistilBERT has no token types and no pooler. Every module the golden
 * traces is matched the same way through the observer:
 *   HF embeddings (sum of the lookups + LayerNorm)               ↔ embeddings
 *   HF encoder.layer.N / transformer.layer.N / layers.N (one layer) ↔ layers.N
 *   HF final_norm (ModernBERT)                                   ↔ norm
 * The golden traces nothing finer. The library's layers.N.{attention, attention_norm, ffn,
 * ffn_norm} have no traced counterpart: HF's BertAttention returns LayerNorm(x + attn(x)) (our
 * attention_norm output), BertIntermediate returns gelu(up(h)) (inside our ffn) and BertOutput
 * returns LayerNorm(h + down(...)) (our ffn_norm output), so those are covered by the layer
 * output. The pooler event is compared with pooler_output.
 * The performance strategy (q8_0 projections) must keep PCC >= 0.99 on both outputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_models.h"
#include "ttt_test.h"

static const double MAX_ABS = 1e-4, MIN_PCC = 0.99999;

/* The fixture under test (tests/fixtures/hf/<name>). */
static const char *fixture;

typedef struct golden {
  ttt_safetensors *file;
  int64_t B, T;
  int32_t *input_ids, *token_type_ids;
  uint8_t *attention_mask;
} golden;

/* An int64 [B, T] golden tensor as int32 values. */
static int32_t *read_ids(const golden *g, const char *name) {
  ttt_tensor t;
  if (!ttt_safetensors_has(g->file, name)) return NULL;
  CHECK_OK(ttt_safetensors_get(g->file, name, &t));
  if (!t.data || ttt_tensor_numel(&t) != g->B * g->T) return NULL;
  int32_t *ids = malloc((size_t)(g->B * g->T) * sizeof *ids);
  for (int64_t i = 0; i < g->B * g->T; i++) ids[i] = (int32_t)ttt_tensor_get(&t, i);
  return ids;
}

static bool golden_open(golden *g) {
  char name[128], path[512];
  memset(g, 0, sizeof *g);
  snprintf(name, sizeof name, "hf/%s/golden.safetensors", fixture);
  CHECK_OK(ttt_safetensors_open(ttt_test_fixture(path, sizeof path, name), &g->file));
  if (!g->file) return false;
  ttt_tensor ids;
  CHECK_OK(ttt_safetensors_get(g->file, "input_ids", &ids));
  CHECK(ids.ndim == 2);
  if (ids.ndim != 2) return false;
  g->B = ids.shape[0];
  g->T = ids.shape[1];
  g->input_ids = read_ids(g, "input_ids");
  g->token_type_ids = read_ids(g, "token_type_ids"); /* bert only: NULL (all 0) otherwise */
  int32_t *mask = read_ids(g, "attention_mask");
  if (!g->input_ids || !mask) {
    free(mask);
    return false;
  }
  g->attention_mask = malloc((size_t)(g->B * g->T));
  for (int64_t i = 0; i < g->B * g->T; i++) g->attention_mask[i] = mask[i] != 0;
  free(mask);
  return true;
}

static void golden_close(golden *g) {
  free(g->input_ids);
  free(g->token_type_ids);
  free(g->attention_mask);
  ttt_safetensors_close(g->file);
}

/* One byte per value of a [B, T, H] tensor: 1 where the token is real. */
static uint8_t *hidden_mask(const golden *g, int64_t H) {
  uint8_t *m = malloc((size_t)(g->B * g->T * H));
  for (int64_t i = 0; i < g->B * g->T; i++) memset(m + i * H, g->attention_mask[i], (size_t)H);
  return m;
}

typedef struct figures {
  double worst_abs, worst_pcc;
} figures;

static void note(figures *f, const ttt_compare_result *r) {
  if (r->max_abs_err > f->worst_abs) f->worst_abs = r->max_abs_err;
  if (r->pcc < f->worst_pcc) f->worst_pcc = r->pcc;
}

static void compare(const ttt_tensor *actual, const ttt_tensor *expected, const uint8_t *mask,
                    const char *what, figures *f) {
  ttt_compare_result r;
  CHECK_OK(ttt_compare(actual, expected, mask, MAX_ABS, 0, &r));
  CHECK_MSG(r.max_abs_err <= MAX_ABS && r.pcc >= MIN_PCC && r.count > 0,
            "%s %s: max abs %.3g, pcc %.8f over %lld values", fixture, what, r.max_abs_err, r.pcc,
            (long long)r.count);
  printf("  %-30s max abs %.2e  pcc %.9f  (%lld values)\n", what, r.max_abs_err, r.pcc,
         (long long)r.count);
  note(f, &r);
}

/* ---- observer: module outputs (and layer inputs) against trace.<hf module>.{in,out} ---- */

enum { MAX_UNTRACED = 32 };

typedef struct trace_check {
  const ttt_hf_config *config;
  const golden *g;
  const uint8_t *mask; /* [B, T, H] */
  const float *pooler_output;
  int traced, untraced;
  char untraced_paths[MAX_UNTRACED][64];
  figures f;
} trace_check;

static bool golden_tensor(const trace_check *c, const char *module, const char *suffix,
                          ttt_tensor *out) {
  char name[200];
  snprintf(name, sizeof name, "trace.%s.%s", module, suffix);
  if (!ttt_safetensors_has(c->g->file, name)) return false;
  CHECK_OK(ttt_safetensors_get(c->g->file, name, out));
  return true;
}

/* HF traces embeddings.in as the token ids in float: they must be the ids we were given. */
static void check_embedding_input(const trace_check *c, const ttt_module_event *e) {
  ttt_tensor expected;
  if (!golden_tensor(c, "embeddings", "in", &expected)) return;
  bool same = e->input->dtype == TTT_I32 && ttt_tensor_numel(e->input) == c->g->B * c->g->T &&
              ttt_tensor_numel(&expected) == c->g->B * c->g->T;
  for (int64_t i = 0; same && i < c->g->B * c->g->T; i++)
    same = ttt_tensor_get(e->input, i) == ttt_tensor_get(&expected, i);
  CHECK_MSG(same, "embeddings input differs from trace.embeddings.in");
}

static void on_module(void *user, const ttt_module_event *e) {
  trace_check *c = user;
  char label[160];
  if (strcmp(e->path, "pooler") == 0) {
    ttt_tensor expected =
        ttt_tensor_2d(TTT_F32, (void *)c->pooler_output, c->g->B, e->output->shape[1]);
    compare(e->output, &expected, NULL, "pooler (event)", &c->f);
    c->traced++;
    return;
  }
  char module[128];
  ttt_tensor expected;
  bool mapped = ttt_hf_path_to_module(c->config, e->path, module, sizeof module) == TTT_OK;
  if (!mapped || !golden_tensor(c, module, "out", &expected)) {
    if (c->untraced < MAX_UNTRACED)
      snprintf(c->untraced_paths[c->untraced], sizeof c->untraced_paths[0], "%s", e->path);
    c->untraced++;
    return;
  }
  snprintf(label, sizeof label, "%s (trace.%s.out)", e->path, module);
  compare(e->output, &expected, c->mask, label, &c->f);
  c->traced++;
  if (strcmp(e->path, "embeddings") == 0) {
    check_embedding_input(c, e);
    return;
  }
  if (golden_tensor(c, module, "in", &expected)) {
    snprintf(label, sizeof label, "%s input (trace.%s.in)", e->path, module);
    compare(e->input, &expected, c->mask, label, &c->f);
  }
}

/* The untraced events are exactly the submodules of each layer, in the order the layer runs them:
 * post-norm attention, attention_norm, ffn, ffn_norm; pre-norm [attention_norm,] attention,
 * ffn_norm, ffn (the first ModernBERT layer has no attention norm). */
static void check_untraced(const trace_check *c, const ttt_encoder_spec *spec) {
  static const char *const post[] = {"attention", "attention_norm", "ffn", "ffn_norm"};
  static const char *const pre[] = {"attention_norm", "attention", "ffn_norm", "ffn"};
  int n = 0;
  for (int64_t l = 0; l < spec->n_layers; l++) {
    const ttt_encoder_layer_spec *layer = &spec->layers[l];
    for (int k = 0; k < 4; k++) {
      const char *sub = layer->pre_norm ? pre[k] : post[k];
      if (layer->pre_norm && k == 0 && layer->attention_norm.dim == 0) continue;
      char expected[64];
      snprintf(expected, sizeof expected, "layers.%lld.%s", (long long)l, sub);
      CHECK_MSG(n < c->untraced && n < MAX_UNTRACED && strcmp(c->untraced_paths[n], expected) == 0,
                "untraced module %d is %s, expected %s", n,
                n < c->untraced && n < MAX_UNTRACED ? c->untraced_paths[n] : "(none)", expected);
      n++;
    }
  }
  CHECK_MSG(c->untraced == n, "%d modules without a trace, expected %d", c->untraced, n);
}

/* ---- the test ---- */

static ttt_context *ctx;
static ttt_device device;

static void run_strategy(ttt_strategy strategy) {
  char name[128], dir[512];
  ttt_hf_load_options options = {.strategy = strategy, .skip_tokenizer = true};
  ttt_hf_model *m = NULL;
  snprintf(name, sizeof name, "hf/%s", fixture);
  CHECK_OK(ttt_hf_model_load(ttt_test_fixture(dir, sizeof dir, name), &device, &options, &m));
  golden g;
  if (!m || !m->encoder || !golden_open(&g)) {
    ttt_hf_model_destroy(m);
    return;
  }
  const int64_t H = m->config.hidden_size, B = g.B, T = g.T;
  float *hidden = malloc((size_t)(B * T * H) * sizeof(float));
  float *pooled = malloc((size_t)(B * H) * sizeof(float));
  uint8_t *mask = hidden_mask(&g, H);
  ttt_tensor expected_hidden, expected_pooled;
  CHECK_OK(ttt_safetensors_get(g.file, "last_hidden_state", &expected_hidden));
  /* The model has a pooler exactly when the golden has a pooler_output. */
  bool has_pooler = ttt_safetensors_has(g.file, "pooler_output");
  CHECK_MSG(ttt_encoder_get_spec(m->encoder)->pooler == has_pooler, "%s: pooler %d, golden %d",
            fixture, (int)ttt_encoder_get_spec(m->encoder)->pooler, (int)has_pooler);
  if (has_pooler) CHECK_OK(ttt_safetensors_get(g.file, "pooler_output", &expected_pooled));
  bool accuracy = strategy == TTT_STRATEGY_ACCURACY;
  trace_check trace = {.config = &m->config,
                       .g = &g,
                       .mask = mask,
                       .pooler_output = has_pooler ? expected_pooled.data : NULL,
                       .f = {0.0, 1.0}};
  ttt_observer observer = {on_module, &trace};
  ttt_tensor h = ttt_tensor_3d(TTT_F32, hidden, B, T, H);
  ttt_tensor p = ttt_tensor_2d(TTT_F32, pooled, B, H);
  CHECK_OK(ttt_encoder_forward(m->encoder, ctx, g.input_ids, g.token_type_ids, g.attention_mask, B,
                               T, &h, has_pooler ? &p : NULL, accuracy ? &observer : NULL));

  if (accuracy) {
    figures f = {0.0, 1.0};
    compare(&h, &expected_hidden, mask, "last_hidden_state (real tokens)", &f);
    if (has_pooler) compare(&p, &expected_pooled, NULL, "pooler_output", &f);
    /* embeddings + every layer (+ final norm, + pooler); the layers' submodules untraced. */
    const ttt_encoder_spec *spec = ttt_encoder_get_spec(m->encoder);
    int expected_traced = 1 + has_pooler + (spec->norm.dim > 0) + (int)spec->n_layers;
    CHECK_MSG(trace.traced == expected_traced, "%d traced modules compared, expected %d",
              trace.traced, expected_traced);
    check_untraced(&trace, spec);
    printf("  %s accuracy: outputs max abs %.2e, pcc %.9f; traces max abs %.2e, pcc %.9f\n",
           fixture, f.worst_abs, f.worst_pcc, trace.f.worst_abs, trace.f.worst_pcc);
  } else {
    ttt_compare_result rh, rp = {.pcc = 1.0};
    CHECK_OK(ttt_compare(&h, &expected_hidden, mask, 1e-2, 0, &rh));
    if (has_pooler) CHECK_OK(ttt_compare(&p, &expected_pooled, NULL, 1e-2, 0, &rp));
    CHECK_MSG(rh.pcc >= 0.99 && rp.pcc >= 0.99, "%s performance: pcc hidden %.5f pooled %.5f",
              fixture, rh.pcc, rp.pcc);
    printf("  %s performance: last_hidden_state pcc %.6f max abs %.2e", fixture, rh.pcc,
           rh.max_abs_err);
    if (has_pooler) printf("; pooler_output pcc %.6f max abs %.2e", rp.pcc, rp.max_abs_err);
    printf("\n");
  }
  free(hidden);
  free(pooled);
  free(mask);
  golden_close(&g);
  ttt_hf_model_destroy(m);
}

static const char *const fixtures[] = {"bert_tiny", "roberta_tiny", "xlmr_tiny", "distilbert_tiny",
                                       "modernbert_tiny"};

static void test_accuracy(void) { run_strategy(TTT_STRATEGY_ACCURACY); }
static void test_performance(void) { run_strategy(TTT_STRATEGY_PERFORMANCE); }

int main(void) {
  if (ttt_device_cpu(&device, 2) != TTT_OK || ttt_context_create(&device, &ctx) != TTT_OK) {
    fprintf(stderr, "no context: %s\n", ttt_last_error());
    return 1;
  }
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
    fixture = fixtures[i];
    printf("%s\n", fixture);
    TTT_RUN(test_accuracy);
    TTT_RUN(test_performance);
  }
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
