/*
 * Sentence embeddings (ttt_embed.h):
 *  - pooling (CLS, mean, max, each with and without Normalize) against a float64 reference written
 *    here, with huge values at padded positions so that any padding leak shows;
 *  - the pooling of our encoder's hidden states for bert_tiny's golden batch (row 1 padded) against
 *    the float64 reference pooling of HuggingFace's last_hidden_state, max abs <= 1e-4;
 *  - a sentence-transformers folder built here from bert_tiny (config, weights) with the
 *    wordpiece_kjv tokenizer cut to the model's 400-token vocabulary, modules.json, a Pooling config
 *    and sentence_bert_config.json: ttt_embed_texts on a batch padded to its longest text gives the
 *    float64 reference pooling of the hidden states of each text run alone (no padding), for every
 *    pooling mode; long texts are truncated to max_seq_length with [SEP] kept;
 *  - sentence-transformers folders of modernbert_tiny (mean), roberta_tiny (CLS) and
 *    distilbert_tiny (max), each with Normalize: our pooled golden batch against the float64
 *    reference pooling of HF's last_hidden_state;
 *  - configuration files: defaults without modules.json, and malformed or unsupported ones.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ttt_embed.h"
#include "ttt_test.h"

#define ST_DIR TTT_BINARY_DIR "/test_embed_st"

static const double MAX_ABS = 1e-4;

/* ---- float64 reference ------------------------------------------------------------------------
 */

static void reference_pool(ttt_pooling pooling, bool normalize, const float *hidden,
                           const uint8_t *mask, int64_t T, int64_t H, double *out) {
  int64_t count = 0;
  for (int64_t h = 0; h < H; h++) out[h] = pooling == TTT_POOLING_MAX ? -INFINITY : 0.0;
  for (int64_t t = 0; t < T; t++) {
    if (pooling == TTT_POOLING_CLS) {
      if (t == 0)
        for (int64_t h = 0; h < H; h++) out[h] = hidden[h];
      continue;
    }
    if (!mask[t]) continue;
    count++;
    for (int64_t h = 0; h < H; h++) {
      double x = hidden[t * H + h];
      out[h] = pooling == TTT_POOLING_MEAN ? out[h] + x : fmax(out[h], x);
    }
  }
  if (pooling == TTT_POOLING_MEAN)
    for (int64_t h = 0; h < H; h++) out[h] /= (double)count;
  if (!normalize) return;
  double norm = 0;
  for (int64_t h = 0; h < H; h++) norm += out[h] * out[h];
  norm = fmax(sqrt(norm), 1e-12);
  for (int64_t h = 0; h < H; h++) out[h] /= norm;
}

static double max_abs_diff(const float *got, const double *want, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
  return worst;
}

static void test_pooling(void) {
  enum { B = 3, T = 5, H = 7 };
  static const uint8_t mask[B * T] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0};
  float hidden[B * T * H], out[B * H];
  ttt_test_rng rng = ttt_test_rng_make(7);
  ttt_test_fill_uniform(&rng, hidden, B * T * H, -2.0f, 2.0f);
  for (int64_t i = 0; i < B * T; i++)
    if (!mask[i])
      for (int64_t h = 0; h < H; h++) hidden[i * H + h] = 1e6f; /* must never be pooled */
  for (int p = TTT_POOLING_CLS; p <= TTT_POOLING_MAX; p++)
    for (int normalize = 0; normalize < 2; normalize++) {
      ttt_embed_config cfg = {.pooling = (ttt_pooling)p, .normalize = normalize};
      CHECK_OK(ttt_embed_pool(&cfg, hidden, mask, B, T, H, out));
      for (int64_t b = 0; b < B; b++) {
        double want[H];
        reference_pool((ttt_pooling)p, normalize, hidden + b * T * H, mask + b * T, T, H, want);
        double err = max_abs_diff(out + b * H, want, H);
        CHECK_MSG(err < 1e-6, "%s normalize=%d row %lld: max abs %g", ttt_pooling_name(p),
                  normalize, (long long)b, err);
      }
    }
  static const uint8_t empty_row[2 * T] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  ttt_embed_config mean = {.pooling = TTT_POOLING_MEAN};
  CHECK_ERR(ttt_embed_pool(&mean, hidden, empty_row, 2, T, H, out), TTT_ERR_INVALID_ARGUMENT,
            "row 1 of the mask has no real token");
}

/* ---- bert_tiny: HF hidden states vs ours ------------------------------------------------------
 */

static int32_t *golden_ids(ttt_safetensors *g, const char *name, int64_t n) {
  ttt_tensor t;
  CHECK_OK(ttt_safetensors_get(g, name, &t));
  if (!t.data || ttt_tensor_numel(&t) != n) return NULL;
  int32_t *ids = malloc((size_t)n * sizeof *ids);
  for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)ttt_tensor_get(&t, i);
  return ids;
}

static ttt_hf_model *load_model(const char *dir, ttt_device *device) {
  ttt_hf_model *m = NULL;
  ttt_hf_load_options options = {0};
  CHECK_OK(ttt_device_cpu(device, 2));
  CHECK_OK(ttt_hf_model_load(dir, device, &options, &m));
  return m;
}

static void test_pooling_of_hf_hidden_states(void) {
  char dir[1024], golden_path[1024];
  ttt_device device;
  ttt_hf_model *m = load_model(ttt_test_fixture(dir, sizeof dir, "hf/bert_tiny"), &device);
  ttt_context *ctx = ttt_test_context(2);
  ttt_safetensors *g = NULL;
  CHECK_OK(ttt_safetensors_open(
      ttt_test_fixture(golden_path, sizeof golden_path, "hf/bert_tiny/golden.safetensors"), &g));
  ttt_tensor hf;
  if (!m || !ctx || !g || ttt_safetensors_get(g, "last_hidden_state", &hf) != TTT_OK) goto done;
  int64_t B = hf.shape[0], T = hf.shape[1], H = hf.shape[2];
  CHECK(H == ttt_embed_dim(m));
  int32_t *ids = golden_ids(g, "input_ids", B * T), *types = golden_ids(g, "token_type_ids", B * T);
  int32_t *mask32 = golden_ids(g, "attention_mask", B * T);
  float *ours = malloc((size_t)(B * T * H) * sizeof *ours),
        *hf_hidden = malloc(sizeof *ours * (size_t)(B * T * H));
  uint8_t *mask = malloc((size_t)(B * T));
  for (int64_t i = 0; mask32 && i < B * T; i++) mask[i] = mask32[i] != 0;
  for (int64_t i = 0; i < B * T * H; i++) hf_hidden[i] = (float)ttt_tensor_get(&hf, i);
  CHECK(mask32 && mask[T - 1] == 1 && mask[2 * T - 1] == 0); /* row 1 is padded */
  ttt_tensor hidden = ttt_tensor_3d(TTT_F32, ours, B, T, H);
  if (ids && types && mask32)
    CHECK_OK(ttt_encoder_forward(m->encoder, ctx, ids, types, mask, B, T, &hidden, NULL, NULL));
  float *pooled = malloc((size_t)(B * H) * sizeof *pooled);
  double *want = malloc((size_t)H * sizeof *want);
  for (int p = TTT_POOLING_CLS; p <= TTT_POOLING_MAX && mask32; p++)
    for (int normalize = 0; normalize < 2; normalize++) {
      ttt_embed_config cfg = {.pooling = (ttt_pooling)p, .normalize = normalize};
      CHECK_OK(ttt_embed_pool(&cfg, ours, mask, B, T, H, pooled));
      for (int64_t b = 0; b < B; b++) {
        reference_pool((ttt_pooling)p, normalize, hf_hidden + b * T * H, mask + b * T, T, H, want);
        double err = max_abs_diff(pooled + b * H, want, H);
        CHECK_MSG(err <= MAX_ABS, "%s normalize=%d row %lld: max abs %g vs HF", ttt_pooling_name(p),
                  normalize, (long long)b, err);
      }
    }
  free(ids);
  free(types);
  free(mask32);
  free(mask);
  free(ours);
  free(hf_hidden);
  free(pooled);
  free(want);
done:
  ttt_safetensors_close(g);
  ttt_context_destroy(ctx);
  ttt_hf_model_destroy(m);
}

/* ---- a sentence-transformers folder -----------------------------------------------------------
 */

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK_MSG(f != NULL, "cannot write %s", path);
  if (!f) return;
  CHECK(fwrite(text, 1, strlen(text), f) == strlen(text));
  fclose(f);
}

static void copy_fixture(const char *relative, const char *to) {
  char from[1024];
  size_t len = 0;
  char *data = ttt_test_read_file(ttt_test_fixture(from, sizeof from, relative), &len);
  CHECK_MSG(data != NULL, "cannot read %s", from);
  FILE *f = data ? fopen(to, "wb") : NULL;
  if (f) {
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
  }
  free(data);
}

/* wordpiece_kjv's tokenizer.json with the vocabulary cut to ids < max_id (bert_tiny has 400). */
static void write_cut_tokenizer(const char *to, int64_t max_id) {
  char from[1024];
  char *text = ttt_test_read_file(
      ttt_test_fixture(from, sizeof from, "tokenizers/wordpiece_kjv/tokenizer.json"), NULL);
  cJSON *root = text ? cJSON_Parse(text) : NULL;
  cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "vocab");
  CHECK(cJSON_IsObject(vocab));
  for (cJSON *e = vocab ? vocab->child : NULL; e;) {
    cJSON *next = e->next;
    if (e->valuedouble >= (double)max_id) cJSON_Delete(cJSON_DetachItemViaPointer(vocab, e));
    e = next;
  }
  char *out = root ? cJSON_PrintUnformatted(root) : NULL;
  if (out) write_text(to, out);
  free(out);
  cJSON_Delete(root);
  free(text);
}

static void write_pooling(const char *mode) {
  char json[512];
  snprintf(json, sizeof json,
           "{\"word_embedding_dimension\": 64, \"pooling_mode_cls_token\": %s, "
           "\"pooling_mode_mean_tokens\": %s, \"pooling_mode_max_tokens\": %s, "
           "\"pooling_mode_mean_sqrt_len_tokens\": false}",
           strcmp(mode, "cls") == 0 ? "true" : "false",
           strcmp(mode, "mean") == 0 ? "true" : "false",
           strcmp(mode, "max") == 0 ? "true" : "false");
  write_text(ST_DIR "/1_Pooling/config.json", json);
}

static const char MODULES[] =
    "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": "
    "\"sentence_transformers.models.Transformer\"}, {\"idx\": 1, \"name\": \"1\", \"path\": "
    "\"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}, {\"idx\": 2, \"name\": "
    "\"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]";

static void build_folder(void) {
  mkdir(ST_DIR, 0755);
  mkdir(ST_DIR "/1_Pooling", 0755);
  copy_fixture("hf/bert_tiny/config.json", ST_DIR "/config.json");
  copy_fixture("hf/bert_tiny/model.safetensors", ST_DIR "/model.safetensors");
  write_cut_tokenizer(ST_DIR "/tokenizer.json", 400);
  write_text(ST_DIR "/modules.json", MODULES);
  write_text(ST_DIR "/sentence_bert_config.json", "{\"max_seq_length\": 16}");
  write_pooling("mean");
}

static const char *const TEXTS[] = {
    "In the beginning God created the heaven and the earth.",
    "Jesus wept.",
    ("And God said, Let there be light: and there was light. And God saw the light, that it was "
     "good."),
    "Amen.",
};
enum { N_TEXTS = 4 };

/* The reference for one text: its ids alone (no padding) through the encoder, pooled in float64. */
static void reference_embedding(const ttt_hf_model *m, ttt_context *ctx,
                                const ttt_embed_config *cfg, const char *text, double *want) {
  int32_t *ids = NULL;
  int64_t T = 0, H = ttt_embed_dim(m);
  CHECK_OK(ttt_tokenizer_encode_truncated(m->tokenizer, text, strlen(text), true,
                                          cfg->max_seq_length, &ids, &T));
  float *hidden = malloc((size_t)(T * H) * sizeof *hidden);
  uint8_t *mask = malloc((size_t)T);
  memset(mask, 1, (size_t)T);
  ttt_tensor h = ttt_tensor_3d(TTT_F32, hidden, 1, T, H);
  CHECK_OK(ttt_encoder_forward(m->encoder, ctx, ids, NULL, mask, 1, T, &h, NULL, NULL));
  reference_pool(cfg->pooling, cfg->normalize, hidden, mask, T, H, want);
  free(ids);
  free(hidden);
  free(mask);
}

static void test_sentence_transformers_folder(void) {
  build_folder();
  ttt_device device;
  ttt_hf_model *m = load_model(ST_DIR, &device);
  ttt_context *ctx = ttt_test_context(2);
  if (!m || !ctx || !m->tokenizer) goto done;
  int64_t H = ttt_embed_dim(m);
  CHECK(H == 64);
  static const char *modes[] = {"mean", "cls", "max"};
  for (int k = 0; k < 3; k++) {
    write_pooling(modes[k]);
    ttt_embed_config cfg;
    CHECK_OK(ttt_embed_config_load(ST_DIR, &cfg));
    CHECK(strcmp(ttt_pooling_name(cfg.pooling), modes[k]) == 0);
    CHECK(cfg.normalize && !cfg.pooling_defaulted && cfg.max_seq_length == 16);
    float out[N_TEXTS * 64];
    /* batches of 3 then 1: the first batch pads two texts to the longest */
    CHECK_OK(ttt_embed_texts(m, ctx, &cfg, TEXTS, N_TEXTS, 3, out));
    for (int i = 0; i < N_TEXTS; i++) {
      double want[64];
      reference_embedding(m, ctx, &cfg, TEXTS[i], want);
      double err = max_abs_diff(out + i * H, want, H), norm = 0;
      for (int64_t h = 0; h < H; h++) norm += (double)out[i * H + h] * out[i * H + h];
      CHECK_MSG(err <= MAX_ABS, "%s: text %d: max abs %g", modes[k], i, err);
      CHECK_MSG(fabs(norm - 1.0) < 1e-5, "%s: text %d: norm² %g", modes[k], i, norm);
    }
  }
  /* truncation keeps [CLS] ... [SEP] within max_seq_length */
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(
      ttt_tokenizer_encode_truncated(m->tokenizer, TEXTS[2], strlen(TEXTS[2]), true, 16, &ids, &n));
  CHECK(n == 16 && ids && ids[0] == 2 && ids[15] == 3);
  free(ids);
  CHECK_OK(
      ttt_tokenizer_encode_truncated(m->tokenizer, TEXTS[1], strlen(TEXTS[1]), true, 16, &ids, &n));
  CHECK(n > 2 && n < 16 && ids && ids[0] == 2 && ids[n - 1] == 3);
  free(ids);
  CHECK_ERR(ttt_tokenizer_encode_truncated(m->tokenizer, "a", 1, true, 1, &ids, &n),
            TTT_ERR_INVALID_ARGUMENT, "cannot hold the 2 special tokens");
done:
  ttt_context_destroy(ctx);
  ttt_hf_model_destroy(m);
}

/* ---- configuration files ----------------------------------------------------------------------
 */

#define CFG_DIR TTT_BINARY_DIR "/test_embed_cfg"

static void expect_config_error(const char *modules, const char *pooling, const char *sbert,
                                ttt_status status, const char *needle) {
  remove(CFG_DIR "/modules.json");
  remove(CFG_DIR "/sentence_bert_config.json");
  if (modules) write_text(CFG_DIR "/modules.json", modules);
  if (pooling) write_text(CFG_DIR "/1_Pooling/config.json", pooling);
  if (sbert) write_text(CFG_DIR "/sentence_bert_config.json", sbert);
  ttt_embed_config cfg;
  CHECK_ERR(ttt_embed_config_load(CFG_DIR, &cfg), status, needle);
}

/* ---- sentence-transformers folders of the other encoders vs HF's hidden states ---------------
 */

#define ST2_DIR TTT_BINARY_DIR "/test_embed_st2"

/* A folder made of the fixture's config and weights, modules.json (Transformer, Pooling,
 * Normalize) and a pooling config with `mode`: the pooled golden batch (our encoder on HF's ids,
 * pooled as the folder says) must equal the float64 reference pooling of HF's last_hidden_state
 * within 1e-4 for every row. */
static void check_folder_against_hf(const char *fixture, const char *mode, ttt_pooling expected) {
  char rel[256], golden_path[1024], json[512];
  mkdir(ST2_DIR, 0755);
  mkdir(ST2_DIR "/1_Pooling", 0755);
  snprintf(rel, sizeof rel, "hf/%s/config.json", fixture);
  copy_fixture(rel, ST2_DIR "/config.json");
  snprintf(rel, sizeof rel, "hf/%s/model.safetensors", fixture);
  copy_fixture(rel, ST2_DIR "/model.safetensors");
  write_text(ST2_DIR "/modules.json", MODULES);
  snprintf(json, sizeof json,
           "{\"pooling_mode_cls_token\": %s, \"pooling_mode_mean_tokens\": %s, "
           "\"pooling_mode_max_tokens\": %s}",
           strcmp(mode, "cls") == 0 ? "true" : "false",
           strcmp(mode, "mean") == 0 ? "true" : "false",
           strcmp(mode, "max") == 0 ? "true" : "false");
  write_text(ST2_DIR "/1_Pooling/config.json", json);

  ttt_embed_config cfg;
  CHECK_OK(ttt_embed_config_load(ST2_DIR, &cfg));
  CHECK(cfg.pooling == expected && cfg.normalize && !cfg.pooling_defaulted);
  ttt_device device;
  ttt_hf_model *m = load_model(ST2_DIR, &device);
  ttt_context *ctx = ttt_test_context(2);
  ttt_safetensors *g = NULL;
  snprintf(rel, sizeof rel, "hf/%s/golden.safetensors", fixture);
  CHECK_OK(ttt_safetensors_open(ttt_test_fixture(golden_path, sizeof golden_path, rel), &g));
  ttt_tensor hf;
  if (!m || !ctx || !g || ttt_safetensors_get(g, "last_hidden_state", &hf) != TTT_OK) goto done;
  int64_t B = hf.shape[0], T = hf.shape[1], H = hf.shape[2];
  CHECK(H == ttt_embed_dim(m));
  int32_t *ids = golden_ids(g, "input_ids", B * T);
  int32_t *mask32 = golden_ids(g, "attention_mask", B * T);
  float *ours = malloc((size_t)(B * T * H) * sizeof *ours);
  float *hf_hidden = malloc((size_t)(B * T * H) * sizeof *hf_hidden);
  float *pooled = malloc((size_t)(B * H) * sizeof *pooled);
  double *want = malloc((size_t)H * sizeof *want);
  uint8_t *mask = malloc((size_t)(B * T));
  for (int64_t i = 0; mask32 && i < B * T; i++) mask[i] = mask32[i] != 0;
  for (int64_t i = 0; i < B * T * H; i++) hf_hidden[i] = (float)ttt_tensor_get(&hf, i);
  ttt_tensor hidden = ttt_tensor_3d(TTT_F32, ours, B, T, H);
  if (ids && mask32) {
    CHECK_OK(ttt_encoder_forward(m->encoder, ctx, ids, NULL, mask, B, T, &hidden, NULL, NULL));
    CHECK_OK(ttt_embed_pool(&cfg, ours, mask, B, T, H, pooled));
    for (int64_t b = 0; b < B; b++) {
      reference_pool(expected, true, hf_hidden + b * T * H, mask + b * T, T, H, want);
      double err = max_abs_diff(pooled + b * H, want, H);
      CHECK_MSG(err <= MAX_ABS, "%s %s row %lld: max abs %g vs HF", fixture, mode, (long long)b,
                err);
    }
  }
  free(ids);
  free(mask32);
  free(mask);
  free(ours);
  free(hf_hidden);
  free(pooled);
  free(want);
done:
  ttt_safetensors_close(g);
  ttt_context_destroy(ctx);
  ttt_hf_model_destroy(m);
}

static void test_folders_of_other_encoders(void) {
  check_folder_against_hf("modernbert_tiny", "mean", TTT_POOLING_MEAN);
  check_folder_against_hf("roberta_tiny", "cls", TTT_POOLING_CLS);
  check_folder_against_hf("distilbert_tiny", "max", TTT_POOLING_MAX);
}

static void test_config_files(void) {
  mkdir(CFG_DIR, 0755);
  mkdir(CFG_DIR "/1_Pooling", 0755);
  remove(CFG_DIR "/modules.json");
  remove(CFG_DIR "/sentence_bert_config.json");
  ttt_embed_config cfg;
  CHECK_OK(ttt_embed_config_load(CFG_DIR, &cfg));
  CHECK(cfg.pooling == TTT_POOLING_MEAN && cfg.pooling_defaulted && !cfg.normalize &&
        cfg.max_seq_length == 0);
  const char *mean = "{\"pooling_mode_mean_tokens\": true}";
  const char *pool_only = "[{\"type\": \"sentence_transformers.models.Transformer\", \"path\": "
                          "\"\"}, {\"type\": \"sentence_transformers.models.Pooling\", \"path\": "
                          "\"1_Pooling\"}]";
  write_text(CFG_DIR "/modules.json", pool_only);
  write_text(CFG_DIR "/1_Pooling/config.json", "{\"pooling_mode_max_tokens\": true}");
  CHECK_OK(ttt_embed_config_load(CFG_DIR, &cfg));
  CHECK(cfg.pooling == TTT_POOLING_MAX && !cfg.pooling_defaulted && !cfg.normalize);

  expect_config_error("{}", mean, NULL, TTT_ERR_FORMAT, "modules.json: expected a JSON array");
  expect_config_error("[", mean, NULL, TTT_ERR_FORMAT, "modules.json");
  expect_config_error("[42]", mean, NULL, TTT_ERR_FORMAT, "modules.json: [0]: expected an object");
  expect_config_error("[{\"type\": \"sentence_transformers.models.Dense\", \"path\": \"2_Dense\"}]",
                      mean, NULL, TTT_ERR_UNSUPPORTED,
                      "[0].type: module 'sentence_transformers.models.Dense' is not supported");
  expect_config_error("[{\"type\": \"sentence_transformers.models.Transformer\", \"path\": "
                      "\"0_BERT\"}]",
                      mean, NULL, TTT_ERR_UNSUPPORTED, "[0].path: the Transformer module is at");
  expect_config_error("[{\"type\": \"sentence_transformers.models.Transformer\", \"path\": \"\"}]",
                      mean, NULL, TTT_ERR_FORMAT, "no Pooling module");
  expect_config_error("[{\"type\": \"sentence_transformers.models.Pooling\", \"path\": \"../x\"}]",
                      mean, NULL, TTT_ERR_FORMAT, "[0].path: \"../x\" leaves the model folder");
  expect_config_error(pool_only, "{\"pooling_mode_mean_tokens\": 1}", NULL, TTT_ERR_FORMAT,
                      "config.json: pooling_mode_mean_tokens: expected true or false");
  expect_config_error(pool_only, "{\"pooling_mode_lasttoken\": true}", NULL, TTT_ERR_UNSUPPORTED,
                      "pooling_mode_lasttoken: this pooling mode is not supported");
  expect_config_error(pool_only,
                      "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": true}",
                      NULL, TTT_ERR_UNSUPPORTED, "2 pooling modes are true");
  expect_config_error(pool_only, "{\"pooling_mode_cls_token\": false}", NULL, TTT_ERR_FORMAT,
                      "no pooling mode is true");
  expect_config_error(pool_only, "[]", NULL, TTT_ERR_FORMAT, "1_Pooling/config.json");
  expect_config_error(pool_only, mean, "{\"max_seq_length\": \"long\"}", TTT_ERR_FORMAT,
                      "sentence_bert_config.json: max_seq_length: expected an integer");
  expect_config_error(pool_only, mean, "{\"max_seq_length\": 0}", TTT_ERR_FORMAT, "max_seq_length");
  /* without sentence_bert_config.json, tokenizer_config.json's model_max_length limits inputs */
  remove(CFG_DIR "/sentence_bert_config.json");
  write_text(CFG_DIR "/1_Pooling/config.json", mean);
  write_text(CFG_DIR "/tokenizer_config.json", "{\"model_max_length\": 7}");
  CHECK_OK(ttt_embed_config_load(CFG_DIR, &cfg));
  CHECK(cfg.max_seq_length == 7);
  write_text(CFG_DIR "/sentence_bert_config.json", "{\"max_seq_length\": 5}");
  CHECK_OK(ttt_embed_config_load(CFG_DIR, &cfg));
  CHECK(cfg.max_seq_length == 5);
  remove(CFG_DIR "/sentence_bert_config.json");
  write_text(CFG_DIR "/tokenizer_config.json", "{\"model_max_length\": 1e30}"); /* no limit */
  CHECK_OK(ttt_embed_config_load(CFG_DIR, &cfg));
  CHECK(cfg.max_seq_length == 0);
  write_text(CFG_DIR "/tokenizer_config.json", "{\"model_max_length\": \"512\"}");
  CHECK_ERR(ttt_embed_config_load(CFG_DIR, &cfg), TTT_ERR_FORMAT,
            "tokenizer_config.json: model_max_length: expected a positive number");
  remove(CFG_DIR "/tokenizer_config.json");
  remove(CFG_DIR "/1_Pooling/config.json");
  expect_config_error(pool_only, NULL, NULL, TTT_ERR_IO, "1_Pooling/config.json");
}

int main(void) {
  TTT_RUN(test_pooling);
  TTT_RUN(test_pooling_of_hf_hidden_states);
  TTT_RUN(test_sentence_transformers_folder);
  TTT_RUN(test_folders_of_other_encoders);
  TTT_RUN(test_config_files);
  return ttt_test_finish();
}
