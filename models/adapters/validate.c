/* validate.c — a CausalLM against a HuggingFace golden file: an observer compares every module
 * output of the prefill with trace.<hf module>.out, then the prefill and teacher-forced decode
 * logits are compared with logits.prefill / logits.decode. An encoder: the same observer over its
 * padded batch (padded positions excluded), then last_hidden_state and pooler_output. */
#include "ttt_validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The observer's state. The observer cannot return a status, so the first error is kept in
 * `status` (its message in ttt_last_error) and later events are ignored. */
typedef struct validator {
  const ttt_hf_config *config;
  const ttt_safetensors *golden;
  ttt_validate_report *report;
  int64_t capacity;
  ttt_status status;
  /* Encoders: 1 per value of a [B, T, H] activation where the token is real; tensors of another
   * size are compared whole. */
  const uint8_t *value_mask;
  int64_t mask_values;
} validator;

static ttt_validate_options resolve_options(const ttt_validate_options *options) {
  ttt_validate_options o = options ? *options : (ttt_validate_options){0};
  if (o.min_pcc == 0) o.min_pcc = TTT_VALIDATE_DEFAULT_PCC;
  if (o.atol == 0) o.atol = TTT_VALIDATE_DEFAULT_ATOL;
  return o;
}

/* Layer index of "layers.N[.…]"; -1 for modules outside the layers. */
static int32_t layer_of(const char *path) {
  int layer = -1;
  if (sscanf(path, "layers.%d", &layer) != 1) return -1;
  return layer;
}

/* A new zeroed row at the end of the report; NULL (error set) when out of memory. */
static ttt_validate_row *append_row(validator *v) {
  ttt_validate_report *r = v->report;
  if (r->n_rows == v->capacity) {
    int64_t capacity = v->capacity ? 2 * v->capacity : 64;
    ttt_validate_row *rows = realloc(r->rows, (size_t)capacity * sizeof *rows);
    if (!rows) {
      ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "validate: out of memory for rows");
      return NULL;
    }
    r->rows = rows;
    v->capacity = capacity;
  }
  ttt_validate_row *row = &r->rows[r->n_rows++];
  memset(row, 0, sizeof *row);
  return row;
}

/* Compares `actual` with the golden tensor `golden_name` and appends the row. */
static ttt_status compare_row(validator *v, const char *module, const char *hf_name,
                              const char *golden_name, ttt_mode mode, const ttt_tensor *actual) {
  ttt_tensor expected;
  ttt_status st = ttt_safetensors_get(v->golden, golden_name, &expected);
  if (st != TTT_OK) return st;
  if (ttt_tensor_numel(&expected) != ttt_tensor_numel(actual))
    return ttt_set_error(TTT_ERR_SHAPE, "%s: golden tensor '%s' has %lld values, %s produced %lld",
                         ttt_safetensors_path(v->golden), golden_name,
                         (long long)ttt_tensor_numel(&expected), module,
                         (long long)ttt_tensor_numel(actual));
  const ttt_validate_options *o = &v->report->options;
  ttt_compare_result cmp;
  ttt_tensor mapped = {0}; /* the HF trace mapped onto the module's output (ttt_hf_weights.h) */
  if (ttt_hf_trace_needs_map(v->config, module)) {
    st = ttt_tensor_convert(&expected, TTT_F32, &mapped);
    if (st != TTT_OK) return ttt_error_prefix(st, "validate %s against '%s'", module, golden_name);
    st = ttt_hf_trace_to_module(v->config, module, mapped.data, ttt_tensor_numel(&mapped));
    if (st != TTT_OK) {
      ttt_tensor_free(&mapped);
      return ttt_error_prefix(st, "validate %s against '%s'", module, golden_name);
    }
    expected = mapped;
  }
  const uint8_t *mask = ttt_tensor_numel(actual) == v->mask_values ? v->value_mask : NULL;
  st = ttt_compare(actual, &expected, mask, o->atol > 0 ? o->atol : 0, 0, &cmp);
  ttt_tensor_free(&mapped);
  if (st != TTT_OK) return ttt_error_prefix(st, "validate %s against '%s'", module, golden_name);
  ttt_validate_row *row = append_row(v);
  if (!row) return TTT_ERR_OUT_OF_MEMORY;
  snprintf(row->module, sizeof row->module, "%s", module);
  snprintf(row->hf_name, sizeof row->hf_name, "%s", hf_name);
  row->mode = mode;
  row->layer = layer_of(module);
  row->pcc = cmp.pcc;
  row->max_abs_err = cmp.max_abs_err;
  /* NaN fails both tests (comparisons with NaN are false). */
  row->pass = cmp.pcc >= o->min_pcc && (o->atol < 0 || cmp.allclose);
  if (!row->pass && v->report->first_failure < 0) v->report->first_failure = v->report->n_rows - 1;
  return TTT_OK;
}

static ttt_status observe_module(validator *v, const ttt_module_event *event) {
  char hf_module[TTT_HF_NAME_MAX], golden_name[TTT_HF_NAME_MAX + 16];
  ttt_status st = ttt_hf_path_to_module(v->config, event->path, hf_module, sizeof hf_module);
  /* An encoder's submodules may have no HF counterpart (BERT's attention output is inside
   * BertAttention's residual LayerNorm): they are untraced, covered by their layer's output. */
  if (st == TTT_ERR_NOT_FOUND && v->value_mask) {
    v->report->n_untraced++;
    return TTT_OK;
  }
  if (st != TTT_OK) return ttt_error_prefix(st, "validate: module %s", event->path);
  snprintf(golden_name, sizeof golden_name, "trace.%s.out", hf_module);
  if (!ttt_safetensors_has(v->golden, golden_name)) {
    v->report->n_untraced++;
    return TTT_OK;
  }
  return compare_row(v, event->path, hf_module, golden_name, event->mode, event->output);
}

static void observer_fn(void *user, const ttt_module_event *event) {
  validator *v = user;
  if (v->status == TTT_OK) v->status = observe_module(v, event);
}

/* Reads the integer token ids of tensor `name` (NULL and *n = 0 when optional and absent). */
static ttt_status read_ids(const ttt_safetensors *golden, const char *name, bool required,
                           int64_t vocab, int32_t **ids, int64_t *n) {
  *ids = NULL;
  *n = 0;
  if (!required && !ttt_safetensors_has(golden, name)) return TTT_OK;
  ttt_tensor t;
  ttt_status st = ttt_safetensors_get(golden, name, &t);
  if (st != TTT_OK) return st;
  int64_t count = ttt_tensor_numel(&t);
  if (required && count == 0)
    return ttt_set_error(TTT_ERR_SHAPE, "%s: '%s' is empty", ttt_safetensors_path(golden), name);
  *ids = malloc((size_t)(count ? count : 1) * sizeof **ids);
  if (!*ids) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "validate: out of memory for %s", name);
  for (int64_t i = 0; i < count; i++) {
    double id = ttt_tensor_get(&t, i);
    if (!(id >= 0 && id < (double)vocab) || id != (double)(int32_t)id) {
      free(*ids);
      *ids = NULL;
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "%s: %s[%lld] = %g is not a token id in [0, %lld)",
                           ttt_safetensors_path(golden), name, (long long)i, id, (long long)vocab);
    }
    (*ids)[i] = (int32_t)id;
  }
  *n = count;
  return TTT_OK;
}

/* Prefill with the observer into prefill [T, V], then one teacher-forced decode step per
 * decode id into decode [D, V]. */
static ttt_status run_model(const ttt_causal_lm *lm, ttt_context *ctx, const int32_t *input_ids,
                            int64_t T, const int32_t *decode_ids, int64_t D, int64_t vocab,
                            float *prefill, float *decode, const ttt_observer *observer) {
  ttt_kv_cache *cache = NULL;
  ttt_status st = ttt_causal_lm_create_cache(lm, T + D, &cache);
  if (st != TTT_OK) return st;
  ttt_tensor out = ttt_tensor_2d(TTT_F32, prefill, T, vocab);
  st = ttt_causal_lm_prefill_forward(lm, ctx, cache, input_ids, T, 0, false, &out, observer);
  for (int64_t i = 0; st == TTT_OK && i < D; i++) {
    ttt_tensor row = ttt_tensor_2d(TTT_F32, decode + i * vocab, 1, vocab);
    st = ttt_causal_lm_decode_forward(lm, ctx, cache, decode_ids[i], T + i, &row, NULL);
  }
  ttt_kv_cache_destroy(cache);
  return st;
}

/* Everything after the golden is open; the caller frees what this allocates into v->report. */
static ttt_status validate(const ttt_hf_model *model, ttt_context *ctx, validator *v) {
  int64_t vocab = model->config.vocab_size, T = 0, D = 0;
  int32_t *input_ids = NULL, *decode_ids = NULL;
  float *prefill = NULL, *decode = NULL;
  ttt_status st = read_ids(v->golden, "input_ids", true, vocab, &input_ids, &T);
  if (st == TTT_OK) st = read_ids(v->golden, "decode_ids", false, vocab, &decode_ids, &D);
  if (st == TTT_OK) {
    v->report->prefill_len = T;
    v->report->decode_len = D;
    prefill = malloc(sizeof(float) * (size_t)(T * vocab));
    decode = malloc(sizeof(float) * (size_t)((D ? D : 1) * vocab));
    if (!prefill || !decode) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "validate: logits buffers");
  }
  ttt_observer observer = {observer_fn, v};
  if (st == TTT_OK)
    st = run_model(model->lm, ctx, input_ids, T, decode_ids, D, vocab, prefill, decode, &observer);
  if (st == TTT_OK) st = v->status;
  ttt_tensor logits = ttt_tensor_2d(TTT_F32, prefill, T, vocab);
  if (st == TTT_OK)
    st = compare_row(v, "logits.prefill", "logits.prefill", "logits.prefill", TTT_MODE_PREFILL,
                     &logits);
  logits = ttt_tensor_2d(TTT_F32, decode, D, vocab);
  if (st == TTT_OK && D > 0)
    st =
        compare_row(v, "logits.decode", "logits.decode", "logits.decode", TTT_MODE_DECODE, &logits);
  free(input_ids);
  free(decode_ids);
  free(prefill);
  free(decode);
  return st;
}

/* One pass over a model against its golden file (a causal LM's or an encoder's). */
typedef ttt_status (*validate_pass)(const ttt_hf_model *model, ttt_context *ctx, validator *v);

/* The shared frame of both public entry points: argument checks, the report, the golden file; the
 * report is handed out only when the pass ran (its rows may still fail). */
static ttt_status run_validation(const ttt_hf_model *model, bool has_model, const char *kind,
                                 ttt_context *ctx, const char *golden_path,
                                 const ttt_validate_options *options, validate_pass pass,
                                 ttt_validate_report **out) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "validate: out is NULL");
  *out = NULL;
  if (!model || !ctx || !golden_path)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "validate: model, ctx and golden_path are "
                                                   "required");
  if (!has_model)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "validate: %s is not %s", model->dir, kind);
  ttt_validate_report *report = calloc(1, sizeof *report);
  if (!report) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "validate: out of memory");
  report->first_failure = -1;
  report->options = resolve_options(options);
  ttt_safetensors *golden = NULL;
  ttt_status st = ttt_safetensors_open(golden_path, &golden);
  validator v = {&model->config, golden, report, 0, TTT_OK, NULL, 0};
  if (st == TTT_OK) st = pass(model, ctx, &v);
  ttt_safetensors_close(golden);
  if (st != TTT_OK) {
    ttt_validate_report_destroy(report);
    return st;
  }
  *out = report;
  return TTT_OK;
}

ttt_status ttt_validate_causal_lm(const ttt_hf_model *model, ttt_context *ctx,
                                  const char *golden_path, const ttt_validate_options *options,
                                  ttt_validate_report **out) {
  return run_validation(model, model && model->lm, "a causal LM", ctx, golden_path, options,
                        validate, out);
}

/* ---- encoders ---- */

typedef struct encoder_batch {
  int32_t *ids, *types, *mask32;
  uint8_t *mask, *value_mask;
  float *hidden, *pooled;
  int64_t B, T;
} encoder_batch;

static void encoder_batch_free(encoder_batch *b) {
  free(b->ids);
  free(b->types);
  free(b->mask32);
  free(b->mask);
  free(b->value_mask);
  free(b->hidden);
  free(b->pooled);
}

/* input_ids [B, T] (required), attention_mask and token_type_ids (optional, same size). */
static ttt_status read_batch(const ttt_hf_model *model, const ttt_safetensors *golden,
                             encoder_batch *b) {
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(model->encoder);
  int64_t n = 0, n_mask = 0, n_types = 0;
  ttt_tensor ids;
  ttt_status st = ttt_safetensors_get(golden, "input_ids", &ids);
  if (st != TTT_OK) return st;
  if (ids.ndim != 2)
    return ttt_set_error(TTT_ERR_SHAPE, "%s: input_ids must be [B, T] for an encoder",
                         ttt_safetensors_path(golden));
  b->B = ids.shape[0];
  b->T = ids.shape[1];
  st = read_ids(golden, "input_ids", true, spec->word.vocab, &b->ids, &n);
  if (st == TTT_OK) st = read_ids(golden, "attention_mask", false, 2, &b->mask32, &n_mask);
  if (st == TTT_OK && spec->token_type.vocab > 0)
    st = read_ids(golden, "token_type_ids", false, spec->token_type.vocab, &b->types, &n_types);
  if (st == TTT_OK && ((b->mask32 && n_mask != n) || (b->types && n_types != n)))
    st = ttt_set_error(TTT_ERR_SHAPE, "%s: attention_mask and token_type_ids must be [%lld, %lld]",
                       ttt_safetensors_path(golden), (long long)b->B, (long long)b->T);
  return st;
}

static ttt_status validate_encoder(const ttt_hf_model *model, ttt_context *ctx, validator *v) {
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(model->encoder);
  encoder_batch b = {0};
  ttt_status st = read_batch(model, v->golden, &b);
  int64_t H = spec->word.dim, n = b.B * b.T;
  if (st == TTT_OK) {
    b.mask = malloc((size_t)n);
    b.value_mask = malloc((size_t)(n * H));
    b.hidden = malloc(sizeof(float) * (size_t)(n * H));
    b.pooled = malloc(sizeof(float) * (size_t)(b.B * H));
    if (!b.mask || !b.value_mask || !b.hidden || !b.pooled)
      st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "validate: encoder buffers");
  }
  for (int64_t i = 0; st == TTT_OK && i < n; i++) {
    b.mask[i] = b.mask32 ? b.mask32[i] != 0 : 1;
    memset(b.value_mask + i * H, b.mask[i], (size_t)H);
  }
  v->value_mask = b.value_mask;
  v->mask_values = n * H;
  v->report->prefill_len = b.T;
  ttt_observer observer = {observer_fn, v};
  ttt_tensor hidden = ttt_tensor_3d(TTT_F32, b.hidden, b.B, b.T, H);
  ttt_tensor pooled = ttt_tensor_2d(TTT_F32, b.pooled, b.B, H);
  bool pool = spec->pooler && ttt_safetensors_has(v->golden, "pooler_output");
  if (st == TTT_OK)
    st = ttt_encoder_forward(model->encoder, ctx, b.ids, b.types, b.mask, b.B, b.T, &hidden,
                             pool ? &pooled : NULL, &observer);
  if (st == TTT_OK) st = v->status;
  if (st == TTT_OK)
    st = compare_row(v, "last_hidden_state", "last_hidden_state", "last_hidden_state",
                     TTT_MODE_PREFILL, &hidden);
  if (st == TTT_OK && pool)
    st = compare_row(v, "pooler_output", "pooler_output", "pooler_output", TTT_MODE_PREFILL,
                     &pooled);
  encoder_batch_free(&b);
  return st;
}

ttt_status ttt_validate_encoder(const ttt_hf_model *model, ttt_context *ctx,
                                const char *golden_path, const ttt_validate_options *options,
                                ttt_validate_report **out) {
  return run_validation(model, model && model->encoder, "an encoder", ctx, golden_path, options,
                        validate_encoder, out);
}

void ttt_validate_report_destroy(ttt_validate_report *report) {
  if (!report) return;
  free(report->rows);
  free(report);
}
