/*
 * embed.c — sentence-transformers configuration (modules.json, the Pooling config,
 * sentence_bert_config.json), pooling, and the text → vectors pipeline (see ttt_embed.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_json.h"
#include "ttt_embed.h"

#define EMBED_MAX_JSON_BYTES ((size_t)1 << 20)

/* ---- configuration ----------------------------------------------------------------------------
 */

static bool is_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The pooling modes sentence-transformers writes; only the first three are implemented. */
static const struct {
  const char *field;
  int pooling; /* a ttt_pooling, or -1: unsupported */
} pooling_fields[] = {
    {"pooling_mode_cls_token", TTT_POOLING_CLS},  {"pooling_mode_mean_tokens", TTT_POOLING_MEAN},
    {"pooling_mode_max_tokens", TTT_POOLING_MAX}, {"pooling_mode_mean_sqrt_len_tokens", -1},
    {"pooling_mode_weightedmean_tokens", -1},     {"pooling_mode_lasttoken", -1},
};

static ttt_status load_pooling(const char *path, ttt_embed_config *out) {
  cJSON *root = NULL;
  ttt_status st = ttt_hfj_parse_object_file(path, EMBED_MAX_JSON_BYTES, &root);
  if (st) return st;
  int chosen = 0;
  for (size_t i = 0; i < sizeof pooling_fields / sizeof pooling_fields[0] && !st; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, pooling_fields[i].field);
    if (!v || cJSON_IsNull(v)) continue;
    if (!cJSON_IsBool(v)) {
      st = ttt_set_error(TTT_ERR_FORMAT, "%s: %s: expected true or false, got %s", path,
                         pooling_fields[i].field, ttt_hfj_type_name(v));
    } else if (cJSON_IsTrue(v) && pooling_fields[i].pooling < 0) {
      st = ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: %s: this pooling mode is not supported (supported: "
                         "pooling_mode_cls_token, pooling_mode_mean_tokens, "
                         "pooling_mode_max_tokens)",
                         path, pooling_fields[i].field);
    } else if (cJSON_IsTrue(v)) {
      out->pooling = (ttt_pooling)pooling_fields[i].pooling;
      chosen++;
    }
  }
  if (!st && chosen == 0)
    st = ttt_set_error(TTT_ERR_FORMAT,
                       "%s: no pooling mode is true (expected one of pooling_mode_cls_token, "
                       "pooling_mode_mean_tokens, pooling_mode_max_tokens)",
                       path);
  if (!st && chosen > 1)
    st = ttt_set_error(TTT_ERR_UNSUPPORTED,
                       "%s: %d pooling modes are true; their concatenation is not supported", path,
                       chosen);
  cJSON_Delete(root);
  return st;
}

/* One entry of modules.json: {"idx": 0, "name": "0", "path": "", "type": "...Transformer"}. */
static ttt_status load_module(const char *dir, const char *file, const cJSON *m, int i,
                              bool *has_transformer, bool *has_pooling, ttt_embed_config *out) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
  const cJSON *path = cJSON_GetObjectItemCaseSensitive(m, "path");
  if (!cJSON_IsObject(m) || !cJSON_IsString(type) || !cJSON_IsString(path))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: [%d]: expected an object with string \"type\" and \"path\"", file, i);
  const char *t = type->valuestring;
  if (ends_with(t, ".Transformer")) {
    if (path->valuestring[0] != '\0')
      return ttt_set_error(TTT_ERR_UNSUPPORTED,
                           "%s: [%d].path: the Transformer module is at \"%.200s\"; only the "
                           "folder itself (\"\") is supported",
                           file, i, path->valuestring);
    *has_transformer = true;
    return TTT_OK;
  }
  if (ends_with(t, ".Normalize")) {
    out->normalize = true;
    return TTT_OK;
  }
  if (!ends_with(t, ".Pooling"))
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: [%d].type: module '%.200s' is not supported (supported: Transformer, "
                         "Pooling, Normalize)",
                         file, i, t);
  if (*has_pooling)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: [%d]: a second Pooling module", file, i);
  if (strstr(path->valuestring, "..") || path->valuestring[0] == '/')
    return ttt_set_error(TTT_ERR_FORMAT, "%s: [%d].path: \"%.200s\" leaves the model folder", file,
                         i, path->valuestring);
  char sub[2048], config[2100];
  ttt_status st = ttt_hfj_join(sub, sizeof sub, dir, path->valuestring);
  if (!st) st = ttt_hfj_join(config, sizeof config, sub, "config.json");
  if (!st) st = load_pooling(config, out);
  *has_pooling = st == TTT_OK;
  return st;
}

static ttt_status load_modules(const char *dir, const char *file, ttt_embed_config *out) {
  char *text = NULL;
  size_t len = 0;
  cJSON *root = NULL;
  ttt_status st = ttt_hfj_read_file(file, EMBED_MAX_JSON_BYTES, &text, &len);
  if (!st) st = ttt_hfj_parse(file, text, len, &root);
  free(text);
  if (st) return st;
  bool has_transformer = false, has_pooling = false;
  if (!cJSON_IsArray(root))
    st = ttt_set_error(TTT_ERR_FORMAT, "%s: expected a JSON array of modules", file);
  int i = 0;
  for (const cJSON *m = st ? NULL : root->child; m && !st; m = m->next, i++)
    st = load_module(dir, file, m, i, &has_transformer, &has_pooling, out);
  if (!st && (!has_transformer || !has_pooling))
    st = ttt_set_error(TTT_ERR_FORMAT, "%s: no %s module", file,
                       has_transformer ? "Pooling" : "Transformer");
  cJSON_Delete(root);
  return st;
}

static ttt_status load_sentence_bert_config(const char *file, ttt_embed_config *out) {
  cJSON *root = NULL;
  ttt_status st = ttt_hfj_parse_object_file(file, EMBED_MAX_JSON_BYTES, &root);
  if (st) return st;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "max_seq_length");
  if (v && !cJSON_IsNull(v)) {
    if (!ttt_hfj_is_int(v, 1, 1 << 30))
      st = ttt_set_error(TTT_ERR_FORMAT, "%s: max_seq_length: expected an integer in [1, 2^30]",
                         file);
    else
      out->max_seq_length = (int64_t)v->valuedouble;
  }
  cJSON_Delete(root);
  return st;
}

/* sentence-transformers' default limit: tokenizer_config.json's model_max_length (transformers
 * writes a huge number there to mean "no limit"). */
static ttt_status load_model_max_length(const char *file, ttt_embed_config *out) {
  cJSON *root = NULL;
  ttt_status st = ttt_hfj_parse_object_file(file, EMBED_MAX_JSON_BYTES, &root);
  if (st) return st;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1))
      st = ttt_set_error(TTT_ERR_FORMAT, "%s: model_max_length: expected a positive number", file);
    else if (v->valuedouble <= (double)(1 << 30))
      out->max_seq_length = (int64_t)v->valuedouble;
  }
  cJSON_Delete(root);
  return st;
}

ttt_status ttt_embed_config_load(const char *model_dir, ttt_embed_config *out) {
  if (!model_dir || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_embed_config_load: model_dir and out must not be NULL");
  *out = (ttt_embed_config){.pooling = TTT_POOLING_MEAN};
  char modules[2048], sbert[2048], tokenizer_config[2048];
  ttt_status st = ttt_hfj_join(modules, sizeof modules, model_dir, "modules.json");
  if (!st) st = ttt_hfj_join(sbert, sizeof sbert, model_dir, "sentence_bert_config.json");
  if (!st)
    st =
        ttt_hfj_join(tokenizer_config, sizeof tokenizer_config, model_dir, "tokenizer_config.json");
  if (st) return st;
  if (is_file(modules))
    st = load_modules(model_dir, modules, out);
  else
    out->pooling_defaulted = true;
  if (!st && is_file(sbert)) st = load_sentence_bert_config(sbert, out);
  if (!st && out->max_seq_length == 0 && is_file(tokenizer_config))
    st = load_model_max_length(tokenizer_config, out);
  return st;
}

const char *ttt_pooling_name(ttt_pooling pooling) {
  switch (pooling) {
  case TTT_POOLING_CLS:
    return "cls";
  case TTT_POOLING_MEAN:
    return "mean";
  case TTT_POOLING_MAX:
    return "max";
  }
  return "unknown";
}

/* ---- pooling ----------------------------------------------------------------------------------
 */

/* One row: hidden [T, H], mask [T] → out [H]. */
static void pool_row(ttt_pooling pooling, const float *hidden, const uint8_t *mask, int64_t T,
                     int64_t H, double *acc, float *out) {
  if (pooling == TTT_POOLING_CLS) {
    for (int64_t h = 0; h < H; h++) acc[h] = hidden[h];
  } else {
    bool first = true;
    int64_t count = 0;
    for (int64_t t = 0; t < T; t++) {
      if (!mask[t]) continue;
      const float *x = hidden + t * H;
      for (int64_t h = 0; h < H; h++) {
        if (pooling == TTT_POOLING_MEAN)
          acc[h] = (first ? 0.0 : acc[h]) + x[h];
        else
          acc[h] = first || x[h] > acc[h] ? x[h] : acc[h];
      }
      first = false;
      count++;
    }
    if (pooling == TTT_POOLING_MEAN)
      for (int64_t h = 0; h < H; h++) acc[h] /= (double)count;
  }
  for (int64_t h = 0; h < H; h++) out[h] = (float)acc[h];
}

/* x / max(||x||, 1e-12), as torch.nn.functional.normalize. */
static void normalize_row(const double *acc, int64_t H, float *out) {
  double sum = 0;
  for (int64_t h = 0; h < H; h++) sum += acc[h] * acc[h];
  double norm = sqrt(sum);
  if (norm < 1e-12) norm = 1e-12;
  for (int64_t h = 0; h < H; h++) out[h] = (float)(acc[h] / norm);
}

ttt_status ttt_embed_pool(const ttt_embed_config *cfg, const float *hidden, const uint8_t *mask,
                          int64_t B, int64_t T, int64_t H, float *out) {
  if (!cfg || !hidden || !mask || !out || B < 1 || T < 1 || H < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_embed_pool: cfg, hidden, mask and out must not be NULL and B, T, H "
                         ">= 1");
  for (int64_t b = 0; b < B; b++) {
    bool any = false;
    for (int64_t t = 0; t < T && !any; t++) any = mask[b * T + t] != 0;
    if (!any)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "ttt_embed_pool: row %lld of the mask has no real token", (long long)b);
  }
  double *acc = malloc((size_t)H * sizeof *acc);
  if (!acc) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_embed_pool: out of memory");
  for (int64_t b = 0; b < B; b++) {
    pool_row(cfg->pooling, hidden + b * T * H, mask + b * T, T, H, acc, out + b * H);
    if (cfg->normalize) normalize_row(acc, H, out + b * H);
  }
  free(acc);
  return TTT_OK;
}

/* ---- text → vectors ---------------------------------------------------------------------------
 */

int64_t ttt_embed_dim(const ttt_hf_model *model) {
  return model && model->encoder ? ttt_encoder_get_spec(model->encoder)->word.dim : 0;
}

int64_t ttt_embed_max_tokens(const ttt_hf_model *model, const ttt_embed_config *cfg) {
  if (!model || !model->encoder || !cfg) return 0;
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(model->encoder);
  int64_t limit = spec->position.vocab - spec->position_offset; /* rows left after the offset */
  if (cfg->max_seq_length > 0 && cfg->max_seq_length < limit) limit = cfg->max_seq_length;
  return limit;
}

typedef struct batch {
  int32_t **ids;
  int64_t *lens;
  int32_t *input; /* [B, T] */
  uint8_t *mask;  /* [B, T] */
  float *hidden;  /* [B, T, H] */
} batch;

/* Tokenizes text `index` with the post-processor's special tokens, truncated to `limit` tokens,
 * and checks that it has tokens and that they fit the model's vocabulary. */
static ttt_status tokenize_one(const ttt_hf_model *m, const char *text, int64_t index,
                               int64_t limit, int32_t **ids, int64_t *len) {
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(m->encoder);
  if (!text)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_embed_texts: text %lld is NULL",
                         (long long)index);
  ttt_status st =
      ttt_tokenizer_encode_truncated(m->tokenizer, text, strlen(text), true, limit, ids, len);
  if (st) return st;
  if (*len == 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_embed_texts: text %lld has no tokens (the tokenizer adds no "
                         "special tokens and the text is empty)",
                         (long long)index);
  for (int64_t i = 0; i < *len; i++)
    if ((*ids)[i] < 0 || (*ids)[i] >= spec->word.vocab)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "%s: token id %d of text %lld is outside the model's vocabulary "
                           "(vocab_size %lld): the tokenizer does not match the model",
                           m->dir, (int)(*ids)[i], (long long)index, (long long)spec->word.vocab);
  return TTT_OK;
}

static ttt_status tokenize_batch(const ttt_hf_model *m, const char *const *texts, int64_t first,
                                 int64_t B, int64_t limit, batch *bt, int64_t *T) {
  *T = 0;
  for (int64_t b = 0; b < B; b++) {
    ttt_status st = tokenize_one(m, texts[first + b], first + b, limit, &bt->ids[b], &bt->lens[b]);
    if (st) return st;
    if (bt->lens[b] > *T) *T = bt->lens[b];
  }
  return TTT_OK;
}

/* Pads with the config's pad token (masked out, so its value only has to be a valid id). */
static int32_t pad_id(const ttt_hf_model *m) {
  int64_t pad = m->config.pad_token_id;
  return pad >= 0 && pad < ttt_encoder_get_spec(m->encoder)->word.vocab ? (int32_t)pad : 0;
}

static ttt_status embed_batch(const ttt_hf_model *m, ttt_context *ctx, const ttt_embed_config *cfg,
                              const char *const *texts, int64_t first, int64_t B, int64_t limit,
                              batch *bt, float *out) {
  int64_t T = 0, H = ttt_embed_dim(m);
  ttt_status st = tokenize_batch(m, texts, first, B, limit, bt, &T);
  if (st) return st;
  bt->input = malloc((size_t)(B * T) * sizeof *bt->input);
  bt->mask = malloc((size_t)(B * T));
  bt->hidden = malloc((size_t)(B * T * H) * sizeof *bt->hidden);
  if (!bt->input || !bt->mask || !bt->hidden)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_embed_texts: out of memory");
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      bool real = t < bt->lens[b];
      bt->input[b * T + t] = real ? bt->ids[b][t] : pad_id(m);
      bt->mask[b * T + t] = real;
    }
  ttt_tensor hidden = ttt_tensor_3d(TTT_F32, bt->hidden, B, T, H);
  st = ttt_encoder_forward(m->encoder, ctx, bt->input, NULL, bt->mask, B, T, &hidden, NULL, NULL);
  if (!st) st = ttt_embed_pool(cfg, bt->hidden, bt->mask, B, T, H, out);
  return st;
}

ttt_status ttt_embed_texts(const ttt_hf_model *model, ttt_context *ctx, const ttt_embed_config *cfg,
                           const char *const *texts, int64_t n, int64_t batch_size, float *out) {
  if (!model || !ctx || !cfg || (!texts && n > 0) || n < 0 || batch_size < 0 || (!out && n > 0))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_embed_texts: model, ctx, cfg, texts and out must not be NULL; n, "
                         "batch_size >= 0");
  if (!model->encoder)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not an encoder model", model->dir);
  if (!model->tokenizer)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "%s has no tokenizer.json", model->dir);
  int64_t limit = ttt_embed_max_tokens(model, cfg);
  int64_t step = batch_size > 0 ? batch_size : (n > 0 ? n : 1), H = ttt_embed_dim(model);
  ttt_status st = TTT_OK;
  for (int64_t first = 0; first < n && !st; first += step) {
    int64_t B = n - first < step ? n - first : step;
    batch bt = {calloc((size_t)B, sizeof *bt.ids), calloc((size_t)B, sizeof *bt.lens), NULL, NULL,
                NULL};
    if (!bt.ids || !bt.lens)
      st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_embed_texts: out of memory");
    else
      st = embed_batch(model, ctx, cfg, texts, first, B, limit, &bt, out + first * H);
    for (int64_t b = 0; bt.ids && b < B; b++) free(bt.ids[b]);
    free(bt.ids);
    free(bt.lens);
    free(bt.input);
    free(bt.mask);
    free(bt.hidden);
  }
  return st;
}

ttt_status ttt_embed_count_tokens(const ttt_hf_model *model, const ttt_embed_config *cfg,
                                  const char *text, int64_t *out) {
  if (!model || !cfg || !text || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_embed_count_tokens: model, cfg, text and out must not be NULL");
  if (!model->encoder)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not an encoder model", model->dir);
  if (!model->tokenizer)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "%s has no tokenizer.json", model->dir);
  int32_t *ids = NULL;
  ttt_status st = tokenize_one(model, text, 0, ttt_embed_max_tokens(model, cfg), &ids, out);
  free(ids);
  return st;
}
