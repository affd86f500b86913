/*
 * The test suite: cases (target, inputs, reference, expectations) checked for completeness, inputs
 * captured from a sample run through an observer, each target replayed on its inputs (with its
 * KV-cache history for attention), compared with a float64 reference, a golden or a caller's
 * function, and timed.
 *
 * Every case's inputs end up as a suite_capture: a list of calls (events) over a buffer of rows.
 * Explicit and random inputs become one prefill call, or one decode call per row. Replaying the
 * events in order through the block reproduces what the model did, including the KV cache that
 * attention builds from the earlier positions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "building_blocks/block_util.h"
#include "patterns/patterns_internal.h"
#include "testing/suite_internal.h"

enum { INITIAL_CASES = 8, DEFAULT_REPETITIONS_TIMED = 10 };

/* ---- creation ---- */

ttt_status ttt_suite_create(const ttt_suite_options *options, ttt_suite **out) {
  if (!options || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite: NULL argument");
  ttt_suite *suite = calloc(1, sizeof *suite);
  if (!suite) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "suite: out of memory");
  suite->options = *options;
  snprintf(suite->name, sizeof suite->name, "%s", options->name ? options->name : "suite");
  suite->options.name = suite->name;
  *out = suite;
  return TTT_OK;
}

static void capture_free(suite_capture *cap) {
  free(cap->data);
  free(cap->events);
  memset(cap, 0, sizeof *cap);
}

void ttt_suite_destroy(ttt_suite *suite) {
  if (!suite) return;
  for (int64_t i = 0; i < suite->count; i++) capture_free(&suite->entries[i].capture);
  free(suite->entries);
  free(suite);
}

/* The case's strings point at the entry's own copies (NULL module stays NULL). */
static void point_strings(suite_entry *e) {
  e->c.name = e->name;
  e->c.module = e->module[0] ? e->module : NULL;
}

ttt_status ttt_suite_add(ttt_suite *suite, const ttt_suite_case *c) {
  if (!suite || !c) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite_add: NULL argument");
  if (suite->count == suite->capacity) {
    int64_t capacity = suite->capacity ? suite->capacity * 2 : INITIAL_CASES;
    suite_entry *grown = realloc(suite->entries, (size_t)capacity * sizeof *grown);
    if (!grown) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "suite_add: out of memory");
    suite->entries = grown;
    suite->capacity = capacity;
    for (int64_t i = 0; i < suite->count; i++) point_strings(&grown[i]); /* entries moved */
  }
  suite_entry *e = &suite->entries[suite->count];
  memset(e, 0, sizeof *e);
  e->c = *c;
  if (c->name)
    snprintf(e->name, sizeof e->name, "%s", c->name);
  else if (c->module)
    snprintf(e->name, sizeof e->name, "%s", c->module);
  else
    snprintf(e->name, sizeof e->name, "case %lld", (long long)suite->count);
  if (c->module) snprintf(e->module, sizeof e->module, "%s", c->module);
  point_strings(e);
  suite->count++;
  suite->ran = false; /* the new case has no result yet */
  return TTT_OK;
}

int64_t ttt_suite_case_count(const ttt_suite *suite) { return suite ? suite->count : 0; }

ttt_status ttt_suite_get_result(const ttt_suite *suite, int64_t i, ttt_suite_result *out) {
  if (!suite || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite result: NULL argument");
  if (!suite->ran)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite result: the suite has not run");
  if (i < 0 || i >= suite->count)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "suite result: index %lld not in [0, %lld)",
                         (long long)i, (long long)suite->count);
  const suite_entry *e = &suite->entries[i];
  *out = e->result;
  out->name = e->name; /* entries move when cases are added */
  out->module = e->c.module;
  return TTT_OK;
}

double ttt_suite_percentile(const ttt_suite_case *c) {
  return c->expect.percentile > 0 ? c->expect.percentile : 50.0;
}

int32_t ttt_suite_repetitions(const ttt_suite_case *c) {
  if (c->expect.repetitions > 0) return c->expect.repetitions;
  return c->expect.latency_ms > 0 ? DEFAULT_REPETITIONS_TIMED : 1;
}

/* ---- block facts ---- */

/* The block a case's reference describes: the callback's `block` if given, else the module's. */
static const ttt_module_view *reference_view(const suite_entry *e) {
  if (e->c.fn && e->c.block.kind != TTT_BLOCK_NONE) return &e->c.block;
  return e->c.module ? &e->view[e->c.mode] : NULL;
}

/* Output columns a block produces; 0 when unknown. */
static int64_t block_out_dim(const ttt_module_view *v) {
  if (!v || !v->spec) return 0;
  switch (v->kind) {
  case TTT_BLOCK_EMBEDDING:
    return ((const ttt_embedding_spec *)v->spec)->dim;
  case TTT_BLOCK_NORM:
    return ((const ttt_norm_spec *)v->spec)->dim;
  case TTT_BLOCK_ATTENTION:
    return ((const ttt_attention_spec *)v->spec)->hidden;
  case TTT_BLOCK_MLP:
    return ((const ttt_mlp_spec *)v->spec)->hidden;
  case TTT_BLOCK_MOE:
    return ((const ttt_moe_spec *)v->spec)->expert.hidden;
  case TTT_BLOCK_FFN: {
    const ttt_ffn_spec *f = v->spec;
    return f->kind == TTT_FFN_MOE ? f->moe.expert.hidden : f->mlp.hidden;
  }
  case TTT_BLOCK_LM_HEAD:
    return ((const ttt_lm_head_spec *)v->spec)->vocab;
  case TTT_BLOCK_DECODER_LAYER:
    return ttt_decoder_layer_hidden(v->spec);
  case TTT_BLOCK_MLA:
    return ((const ttt_mla_spec *)v->spec)->hidden;
  default:
    return 0;
  }
}

/* Attention and whole layers keep state across positions: their history is replayed. */
static bool is_stateful(ttt_block_kind kind) {
  return kind == TTT_BLOCK_ATTENTION || kind == TTT_BLOCK_MLA || kind == TTT_BLOCK_DECODER_LAYER;
}

static int64_t entry_out_dim(const suite_entry *e) {
  if (e->c.fn && e->c.out_dim > 0) return e->c.out_dim;
  int64_t d = block_out_dim(e->c.fn ? reference_view(e) : &e->view[e->c.mode]);
  return d > 0 ? d : e->capture.cols;
}

/* ---- completeness ---- */

static ttt_status incomplete(const suite_entry *e, const char *what) {
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite case '%s' is incomplete: %s", e->name,
                       what);
}

static ttt_status check_target(const ttt_suite *suite, suite_entry *e) {
  const ttt_suite_case *c = &e->c;
  if (!c->module && !c->fn) return incomplete(e, "no target (set .module or .fn)");
  if (c->mode != TTT_MODE_PREFILL && c->mode != TTT_MODE_DECODE)
    return incomplete(e, ".mode is neither TTT_MODE_PREFILL nor TTT_MODE_DECODE");
  if (!c->module) return TTT_OK;
  if (!suite->options.model)
    return incomplete(e, ".module needs a model (ttt_suite_options.model)");
  for (int m = 0; m < 2; m++) {
    ttt_status st = ttt_causal_lm_module(suite->options.model, (ttt_mode)m, c->module, &e->view[m]);
    if (st != TTT_OK) return ttt_error_prefix(st, "suite case '%s'", e->name);
  }
  return TTT_OK;
}

static ttt_status check_inputs(const ttt_suite *suite, const suite_entry *e) {
  const ttt_suite_case *c = &e->c;
  switch (c->input) {
  case TTT_SUITE_INPUT_EXPLICIT:
    if (!c->x.data) return incomplete(e, "explicit input .x is absent");
    return ttt_tensor_check(&c->x, e->name);
  case TTT_SUITE_INPUT_TRACE:
    if (!c->module) return incomplete(e, "trace inputs need .module (the module to record)");
    if (!suite->options.sample_run)
      return incomplete(e, "trace inputs need a sample run (ttt_suite_options.sample_run)");
    return TTT_OK;
  case TTT_SUITE_INPUT_RANDOM:
    if (c->random_shape[0] < 1 || c->random_shape[1] < 1)
      return incomplete(e, "random inputs need .random_shape = {rows >= 1, columns >= 1}");
    return TTT_OK;
  default:
    return incomplete(e, "no inputs (set .input to EXPLICIT, TRACE or RANDOM)");
  }
}

static ttt_status check_reference(const suite_entry *e) {
  const ttt_suite_case *c = &e->c;
  switch (c->reference) {
  case TTT_SUITE_REF_BUILTIN: {
    const ttt_module_view *v = reference_view(e);
    if (!v)
      return incomplete(e, "the built-in reference needs .module or .block (kind, spec, weights)");
    if (!v->spec || !v->weights) return incomplete(e, ".block needs a spec and weights");
    if (v->kind == TTT_BLOCK_NONE || v->kind >= TTT_BLOCK_KIND_COUNT)
      return incomplete(e, ".block.kind is not a block kind");
    return TTT_OK;
  }
  case TTT_SUITE_REF_GOLDEN:
    if (!c->golden.data) return incomplete(e, "golden reference .golden is absent");
    return ttt_tensor_check(&c->golden, e->name);
  case TTT_SUITE_REF_FN:
    if (!c->reference_fn) return incomplete(e, "reference function .reference_fn is NULL");
    return TTT_OK;
  default:
    return incomplete(e, "no reference (set .reference to BUILTIN, GOLDEN or FN)");
  }
}

static ttt_status check_case(const ttt_suite *suite, suite_entry *e) {
  ttt_status st = check_target(suite, e);
  if (st == TTT_OK) st = check_inputs(suite, e);
  if (st == TTT_OK) st = check_reference(e);
  if (st != TTT_OK) return st;
  const ttt_suite_expect *x = &e->c.expect;
  if (!(x->pcc > 0) && !(x->atol > 0) && !(x->rtol > 0) && !(x->max_abs > 0))
    return incomplete(e, "no accuracy expectation (set .expect.pcc, .atol/.rtol or .max_abs)");
  if (x->percentile < 0 || x->percentile > 100 || x->repetitions < 0 || x->latency_ms < 0)
    return incomplete(e, "latency expectation out of range (percentile 0..100, repetitions and "
                         "latency_ms >= 0)");
  return TTT_OK;
}

/* ---- captures ---- */

static bool capture_reserve(suite_capture *cap, int64_t rows) {
  if (cap->rows + rows > cap->capacity) {
    int64_t capacity = cap->capacity ? cap->capacity : 16;
    while (capacity < cap->rows + rows) capacity *= 2;
    void *grown = realloc(cap->data, (size_t)(capacity * cap->cols) * 4); /* f32 or i32 */
    if (!grown) return false;
    cap->data = grown;
    cap->capacity = capacity;
  }
  if (cap->n_events == cap->events_capacity) {
    int64_t capacity = cap->events_capacity ? cap->events_capacity * 2 : 16;
    suite_event *grown = realloc(cap->events, (size_t)capacity * sizeof *grown);
    if (!grown) return false;
    cap->events = grown;
    cap->events_capacity = capacity;
  }
  return true;
}

/* Appends one call's input rows (f32 rows, or i32 ids). */
static void capture_append(suite_capture *cap, ttt_mode mode, int64_t start_pos,
                           const ttt_tensor *x) {
  bool ids = x->dtype == TTT_I32;
  int64_t numel = ttt_tensor_numel(x);
  int64_t cols = ids ? 1 : x->shape[x->ndim - 1];
  if ((x->dtype != TTT_F32 && !ids) || numel < 1 || !x->data) {
    cap->failed = true;
    return;
  }
  if (cap->rows == 0 && cap->n_events == 0) {
    cap->dtype = x->dtype;
    cap->cols = cols;
  }
  if (cap->dtype != x->dtype || cap->cols != cols || !capture_reserve(cap, numel / cols)) {
    cap->failed = true;
    return;
  }
  int64_t rows = numel / cols;
  memcpy((char *)cap->data + (size_t)(cap->rows * cols) * 4, x->data, (size_t)numel * 4);
  cap->events[cap->n_events++] = (suite_event){mode, start_pos, cap->rows, rows};
  cap->rows += rows;
}

/* Explicit and random inputs: one sequence from position 0, one prefill call or a decode call per
 * row. */
static void capture_sequence(suite_capture *cap, ttt_mode mode, const ttt_tensor *x) {
  bool ids = x->dtype == TTT_I32;
  int64_t numel = ttt_tensor_numel(x), cols = ids ? 1 : x->shape[x->ndim - 1];
  int64_t rows = numel / cols;
  if (mode == TTT_MODE_PREFILL) {
    ttt_tensor all =
        ids ? ttt_tensor_1d(TTT_I32, x->data, rows) : ttt_tensor_2d(TTT_F32, x->data, rows, cols);
    capture_append(cap, mode, 0, &all);
    return;
  }
  for (int64_t r = 0; r < rows && !cap->failed; r++) {
    void *row = (char *)x->data + (size_t)(r * cols) * 4;
    ttt_tensor one = ids ? ttt_tensor_1d(TTT_I32, row, 1) : ttt_tensor_2d(TTT_F32, row, 1, cols);
    capture_append(cap, mode, r, &one);
  }
}

static void trace_observer(void *user, const ttt_module_event *event) {
  ttt_suite *suite = user;
  for (int64_t i = 0; i < suite->count; i++) {
    suite_entry *e = &suite->entries[i];
    suite_capture *cap = &e->capture;
    if (e->c.input != TTT_SUITE_INPUT_TRACE || strcmp(e->module, event->path) != 0) continue;
    if (cap->closed || cap->failed) continue;
    if (cap->n_events > 0 && event->start_pos < cap->next_pos) {
      cap->closed = true; /* a new sequence: keep the first one only */
      continue;
    }
    int64_t rows =
        event->input->dtype == TTT_I32 ? ttt_tensor_numel(event->input) : event->input->shape[0];
    cap->next_pos = event->start_pos + rows;
    /* Stateless blocks need only the case's mode; stateful ones their whole history. */
    if (event->mode == e->c.mode || is_stateful(e->view[e->c.mode].kind))
      capture_append(cap, event->mode, event->start_pos, event->input);
  }
}

static int64_t target_rows(const suite_capture *cap, ttt_mode mode) {
  int64_t rows = 0;
  for (int64_t i = 0; i < cap->n_events; i++)
    if (cap->events[i].mode == mode) rows += cap->events[i].rows;
  return rows;
}

/* Runs the sample run once, recording the inputs of every TRACE case. */
static ttt_status run_trace(ttt_suite *suite, ttt_context *ctx) {
  bool any = false;
  for (int64_t i = 0; i < suite->count; i++)
    if (suite->entries[i].c.input == TTT_SUITE_INPUT_TRACE) any = true;
  if (!any) return TTT_OK;
  ttt_observer observer = {trace_observer, suite};
  ttt_status st =
      suite->options.sample_run(ctx, suite->options.model, suite->options.sample_user, &observer);
  if (st != TTT_OK) return ttt_error_prefix(st, "suite '%s': sample run", suite->name);
  for (int64_t i = 0; i < suite->count; i++) {
    const suite_entry *e = &suite->entries[i];
    if (e->c.input != TTT_SUITE_INPUT_TRACE) continue;
    if (e->capture.failed)
      return ttt_set_error(TTT_ERR_SHAPE,
                           "suite case '%s': could not record the inputs of '%s' (out of memory, "
                           "or an input that is neither f32 nor i32 ids, or whose width changed)",
                           e->name, e->module);
    if (target_rows(&e->capture, e->c.mode) == 0)
      return ttt_set_error(TTT_ERR_NOT_FOUND,
                           "suite case '%s': the sample run never called '%s' in %s mode", e->name,
                           e->module, ttt_mode_name(e->c.mode));
  }
  return TTT_OK;
}

/* splitmix64: a reproducible stream per (seed, case). */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static ttt_status capture_random(const ttt_suite *suite, int64_t index, suite_entry *e) {
  const ttt_module_view *v = reference_view(e);
  if (!v && e->c.module) v = &e->view[e->c.mode];
  bool ids = v && v->kind == TTT_BLOCK_EMBEDDING;
  int64_t rows = e->c.random_shape[0], cols = ids ? 1 : e->c.random_shape[1];
  ttt_tensor x;
  int64_t shape[2] = {rows, cols};
  ttt_status st = ttt_tensor_alloc(&x, ids ? TTT_I32 : TTT_F32, ids ? 1 : 2, shape);
  if (st != TTT_OK) return st;
  uint64_t state = suite->options.seed ^ ((uint64_t)(index + 1) * 0xD1B54A32D192ED03ull);
  int64_t vocab = ids ? ((const ttt_embedding_spec *)v->spec)->vocab : 0;
  for (int64_t i = 0; i < rows * cols; i++) {
    uint64_t r = next_random(&state);
    if (ids)
      ((int32_t *)x.data)[i] = (int32_t)(r % (uint64_t)vocab);
    else
      ((float *)x.data)[i] = (float)((double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
  capture_sequence(&e->capture, e->c.mode, &x);
  ttt_tensor_free(&x);
  return TTT_OK;
}

static ttt_status prepare_inputs(const ttt_suite *suite, int64_t index, suite_entry *e) {
  if (e->c.input == TTT_SUITE_INPUT_EXPLICIT) {
    if (e->c.x.dtype != TTT_F32 && e->c.x.dtype != TTT_I32)
      return ttt_set_error(TTT_ERR_DTYPE, "suite case '%s': .x must be f32 (or i32 ids), not %s",
                           e->name, ttt_dtype_name(e->c.x.dtype));
    capture_sequence(&e->capture, e->c.mode, &e->c.x);
  } else if (e->c.input == TTT_SUITE_INPUT_RANDOM) {
    ttt_status st = capture_random(suite, index, e);
    if (st != TTT_OK) return st;
  }
  if (e->capture.failed)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "suite case '%s': out of memory", e->name);
  return TTT_OK;
}

/* Rows [row, row + rows) of a capture as a tensor view. */
static ttt_tensor capture_rows(const suite_capture *cap, int64_t row, int64_t rows) {
  void *data = (char *)cap->data + (size_t)(row * cap->cols) * 4;
  return cap->dtype == TTT_I32 ? ttt_tensor_1d(TTT_I32, data, rows)
                               : ttt_tensor_2d(TTT_F32, data, rows, cap->cols);
}

/* The input rows of the case's mode, gathered contiguously (owned by `out`). */
static ttt_status gather_target_input(const suite_entry *e, ttt_tensor *out) {
  const suite_capture *cap = &e->capture;
  int64_t rows = target_rows(cap, e->c.mode);
  int64_t shape[2] = {rows, cap->cols};
  ttt_status st = ttt_tensor_alloc(out, cap->dtype, cap->dtype == TTT_I32 ? 1 : 2, shape);
  if (st != TTT_OK) return st;
  int64_t r = 0;
  for (int64_t i = 0; i < cap->n_events; i++) {
    const suite_event *ev = &cap->events[i];
    if (ev->mode != e->c.mode) continue;
    memcpy((char *)out->data + (size_t)(r * cap->cols) * 4,
           (char *)cap->data + (size_t)(ev->row * cap->cols) * 4,
           (size_t)(ev->rows * cap->cols) * 4);
    r += ev->rows;
  }
  return TTT_OK;
}

/* ---- running the target ---- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* One call of a model module's block on x → y (the KV-cache layer is 0 of the suite's cache). */
static ttt_status module_forward(ttt_context *ctx, const ttt_module_view *v, ttt_mode mode,
                                 ttt_kv_cache *cache, int64_t start_pos, const ttt_tensor *x,
                                 ttt_tensor *y) {
  switch (v->kind) {
  case TTT_BLOCK_EMBEDDING:
    return ttt_embedding_forward(ctx, v->spec, v->impl, v->weights, x->data, ttt_tensor_numel(x),
                                 false, y);
  case TTT_BLOCK_NORM:
    return ttt_norm_forward(ctx, v->spec, v->impl, v->weights, x, y);
  case TTT_BLOCK_FFN:
    return ttt_ffn_forward(ctx, v->spec, v->impl, v->weights, x, y);
  case TTT_BLOCK_LM_HEAD:
    return ttt_lm_head_forward(ctx, v->spec, v->impl, v->weights, x, false, y);
  case TTT_BLOCK_ATTENTION:
    return mode == TTT_MODE_DECODE
               ? ttt_attention_decode_forward(ctx, v->spec, v->impl, v->weights, v->rope, cache, 0,
                                              x, start_pos, y)
               : ttt_attention_prefill_forward(ctx, v->spec, v->impl, v->weights, v->rope, cache, 0,
                                               x, start_pos, y);
  case TTT_BLOCK_MLA:
    return mode == TTT_MODE_DECODE ? ttt_mla_decode_forward(ctx, v->spec, v->impl, v->weights,
                                                            v->rope, cache, 0, x, start_pos, y)
                                   : ttt_mla_prefill_forward(ctx, v->spec, v->impl, v->weights,
                                                             v->rope, cache, 0, x, start_pos, y);
  case TTT_BLOCK_DECODER_LAYER:
    return ttt_decoder_layer_forward(ctx, mode, v->spec, v->impl, v->weights, v->rope, cache, 0, x,
                                     start_pos, y, NULL, NULL);
  default:
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "suite: module kind %s cannot run",
                         ttt_block_kind_name(v->kind));
  }
}

/* The MLA spec and impl of an MLA module or of a decoder layer with MLA attention; NULL
 * otherwise. */
static const ttt_mla_spec *mla_of(const ttt_module_view *v, const ttt_mla_impl_config **impl) {
  if (v->kind == TTT_BLOCK_MLA) {
    *impl = v->impl;
    return v->spec;
  }
  const ttt_decoder_layer_spec *layer = v->spec;
  if (v->kind != TTT_BLOCK_DECODER_LAYER || layer->attention_kind != TTT_ATTENTION_KIND_MLA)
    return NULL;
  *impl = &((const ttt_decoder_layer_impl_config *)v->impl)->mla;
  return &layer->mla;
}

/* A one-layer KV cache for replaying a stateful module's history. */
static ttt_status create_cache(const suite_entry *e, ttt_kv_cache **out) {
  *out = NULL;
  const ttt_module_view *v = &e->view[e->c.mode];
  if (!is_stateful(v->kind)) return TTT_OK;
  const ttt_mla_impl_config *mla_impl = NULL;
  const ttt_mla_spec *mla = mla_of(v, &mla_impl);
  const ttt_attention_spec *a = v->kind == TTT_BLOCK_ATTENTION
                                    ? v->spec
                                    : &((const ttt_decoder_layer_spec *)v->spec)->attention;
  const ttt_attention_impl_config *impl =
      v->kind == TTT_BLOCK_ATTENTION ? v->impl
                                     : &((const ttt_decoder_layer_impl_config *)v->impl)->attention;
  const suite_capture *cap = &e->capture;
  int64_t positions = 0;
  for (int64_t i = 0; i < cap->n_events; i++) {
    if (cap->events[i].start_pos != positions)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "suite case '%s': the recorded calls of '%s' do not cover positions "
                           "0, 1, ... in order (call %lld starts at %lld, expected %lld)",
                           e->name, e->module, (long long)i, (long long)cap->events[i].start_pos,
                           (long long)positions);
    positions += cap->events[i].rows;
  }
  if (mla) {
    ttt_kv_cache_spec latent = {
        .n_layers = 1,
        .n_kv_heads = 1,
        .head_dim = ttt_mla_cache_values_per_token(mla, NULL),
        .max_positions = positions,
        .dtype = mla_impl->kv_dtype == TTT_DTYPE_DEFAULT ? TTT_F32 : mla_impl->kv_dtype,
    };
    latent.layers[0].latent = true;
    return ttt_kv_cache_create(&latent, out);
  }
  ttt_kv_cache_spec spec = {
      .n_layers = 1,
      .n_kv_heads = a->n_kv_heads,
      .head_dim = ttt_attention_head_dim(a),
      .max_positions = positions,
      .dtype = impl->kv_dtype == TTT_DTYPE_DEFAULT ? TTT_F32 : impl->kv_dtype,
  };
  spec.sliding_window[0] = a->sliding_window;
  return ttt_kv_cache_create(&spec, out);
}

typedef struct run_buffers {
  ttt_tensor actual;  /* [target rows, out_dim] f32 */
  ttt_tensor history; /* [largest call, out_dim] f32: outputs of history calls, discarded */
  ttt_kv_cache *cache;
} run_buffers;

/* Replays every recorded call once; returns the mean milliseconds per call of the case's mode. */
static ttt_status replay_module(const suite_entry *e, ttt_context *ctx, run_buffers *b,
                                double *ms) {
  const suite_capture *cap = &e->capture;
  int64_t out_dim = b->actual.shape[1], out_row = 0, calls = 0;
  double total = 0;
  if (b->cache) ttt_kv_cache_reset(b->cache);
  for (int64_t i = 0; i < cap->n_events; i++) {
    const suite_event *ev = &cap->events[i];
    bool target = ev->mode == e->c.mode;
    if (!target && !b->cache) continue;
    ttt_tensor x = capture_rows(cap, ev->row, ev->rows);
    float *dst = target ? (float *)b->actual.data + out_row * out_dim : b->history.data;
    ttt_tensor y = ttt_tensor_2d(TTT_F32, dst, ev->rows, out_dim);
    double t0 = now_ms();
    ttt_status st =
        module_forward(ctx, &e->view[ev->mode], ev->mode, b->cache, ev->start_pos, &x, &y);
    if (st != TTT_OK) return ttt_error_prefix(st, "suite case '%s' (%s)", e->name, e->module);
    if (!target) continue;
    total += now_ms() - t0;
    calls++;
    out_row += ev->rows;
  }
  *ms = calls ? total / (double)calls : 0;
  return TTT_OK;
}

static ttt_status run_callback(const suite_entry *e, ttt_context *ctx, const ttt_tensor *x,
                               run_buffers *b, double *ms) {
  double t0 = now_ms();
  ttt_status st = e->c.fn(e->c.user, ctx, x, &b->actual);
  *ms = now_ms() - t0;
  if (st != TTT_OK) return ttt_error_prefix(st, "suite case '%s': target", e->name);
  return TTT_OK;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of n samples (sorted in place). */
static double percentile_of(double *samples, int32_t n, double p) {
  qsort(samples, (size_t)n, sizeof *samples, compare_doubles);
  int64_t rank = (int64_t)ceil(p / 100.0 * n);
  if (rank < 1) rank = 1;
  return samples[rank - 1];
}

/* Runs the target `repetitions` times into b->actual; result->latency_ms gets the percentile. */
static ttt_status run_target(const suite_entry *e, ttt_context *ctx, const ttt_tensor *target_x,
                             run_buffers *b, ttt_suite_result *result) {
  int32_t reps = ttt_suite_repetitions(&e->c);
  double *samples = malloc((size_t)reps * sizeof *samples);
  if (!samples) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "suite: out of memory");
  ttt_status st = TTT_OK;
  for (int32_t r = 0; r < reps && st == TTT_OK; r++)
    st = e->c.fn ? run_callback(e, ctx, target_x, b, &samples[r])
                 : replay_module(e, ctx, b, &samples[r]);
  if (st == TTT_OK) result->latency_ms = percentile_of(samples, reps, result->percentile);
  free(samples);
  return st;
}

/* ---- references ---- */

static void to_doubles(const ttt_tensor *x, double *out) {
  int64_t n = ttt_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) out[i] = ttt_tensor_get(x, i);
}

static ttt_status reference_ffn(const ttt_ffn_spec *spec, const ttt_ffn_weights *w, const double *x,
                                int64_t rows, double *out) {
  return spec->kind == TTT_FFN_MOE ? ttt_reference_moe(&spec->moe, &w->moe, x, rows, out)
                                   : ttt_reference_mlp(&spec->mlp, &w->mlp, x, rows, out);
}

/* The float64 reference of block `v` on `rows` input rows x (ids for embeddings). */
static ttt_status reference_block(const ttt_module_view *v, const ttt_tensor *x, const double *xd,
                                  int64_t rows, double *out) {
  switch (v->kind) {
  case TTT_BLOCK_EMBEDDING:
    if (x->dtype != TTT_I32)
      return ttt_set_error(TTT_ERR_DTYPE, "embedding reference: input must be i32 ids");
    return ttt_reference_embedding(v->spec, v->weights, x->data, rows, false, out);
  case TTT_BLOCK_NORM:
    return ttt_reference_norm(v->spec, v->weights, xd, rows, out);
  case TTT_BLOCK_MLP:
    return ttt_reference_mlp(v->spec, v->weights, xd, rows, out);
  case TTT_BLOCK_MOE:
    return ttt_reference_moe(v->spec, v->weights, xd, rows, out);
  case TTT_BLOCK_FFN:
    return reference_ffn(v->spec, v->weights, xd, rows, out);
  case TTT_BLOCK_LM_HEAD:
    return ttt_reference_lm_head(v->spec, v->weights, xd, rows, out);
  case TTT_BLOCK_ATTENTION:
    return ttt_reference_attention(v->spec, v->weights, xd, 1, rows, NULL, out);
  case TTT_BLOCK_MLA:
    return ttt_reference_mla(v->spec, v->weights, xd, rows, out);
  case TTT_BLOCK_DECODER_LAYER:
    return ttt_reference_decoder_layer(v->spec, v->weights, xd, rows, out);
  default:
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "no built-in reference for block kind %s",
                         ttt_block_kind_name(v->kind));
  }
}

/* Built-in reference into expected ([target rows, out_dim] f64). Stateful blocks see the whole
 * recorded sequence; the rows of the case's mode are kept. */
static ttt_status builtin_reference(const suite_entry *e, const ttt_tensor *target_x,
                                    ttt_tensor *expected) {
  const ttt_module_view *v = reference_view(e);
  const suite_capture *cap = &e->capture;
  bool whole = is_stateful(v->kind) && !e->c.fn;
  ttt_tensor x = whole ? capture_rows(cap, 0, cap->rows) : *target_x;
  int64_t rows = whole ? cap->rows : target_x->shape[0];
  int64_t out_dim = expected->shape[1];
  double *xd = malloc((size_t)ttt_tensor_numel(&x) * sizeof *xd);
  double *yd = whole ? malloc((size_t)(rows * out_dim) * sizeof *yd) : expected->data;
  ttt_status st = xd && yd ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "suite: out of memory");
  if (st == TTT_OK) {
    to_doubles(&x, xd);
    st = reference_block(v, &x, xd, rows, yd);
  }
  for (int64_t i = 0, r = 0; st == TTT_OK && whole && i < cap->n_events; i++) {
    const suite_event *ev = &cap->events[i];
    if (ev->mode != e->c.mode) continue;
    memcpy((double *)expected->data + r * out_dim, yd + ev->row * out_dim,
           (size_t)(ev->rows * out_dim) * sizeof(double));
    r += ev->rows;
  }
  if (st != TTT_OK) st = ttt_error_prefix(st, "suite case '%s': reference", e->name);
  free(xd);
  if (whole) free(yd);
  return st;
}

/* ---- one case ---- */

static void evaluate(const ttt_suite_case *c, ttt_suite_result *r) {
  const ttt_suite_expect *x = &c->expect;
  const ttt_compare_result *m = &r->compare;
  size_t n = 0, size = sizeof r->failure;
  r->accuracy_ok = true;
  if (x->pcc > 0 && !(m->pcc >= x->pcc)) {
    r->accuracy_ok = false;
    n += (size_t)snprintf(r->failure + n, size - n, "pcc %.6f < %.6f; ", m->pcc, x->pcc);
  }
  if ((x->atol > 0 || x->rtol > 0) && !m->allclose && n < size) {
    r->accuracy_ok = false;
    n += (size_t)snprintf(r->failure + n, size - n, "not allclose at %lld (%.4g vs %.4g); ",
                          (long long)m->worst_index, m->worst_actual, m->worst_expected);
  }
  if (x->max_abs > 0 && !(m->max_abs_err <= x->max_abs) && n < size) {
    r->accuracy_ok = false;
    n += (size_t)snprintf(r->failure + n, size - n, "max abs %.3g > %.3g; ", m->max_abs_err,
                          x->max_abs);
  }
  r->latency_ok = !(x->latency_ms > 0) || r->latency_ms <= x->latency_ms;
  if (!r->latency_ok && n < size)
    n += (size_t)snprintf(r->failure + n, size - n, "latency p%g %.3f ms > %.3g ms%s; ",
                          r->percentile, r->latency_ms, x->latency_ms,
                          x->strict_latency ? "" : " (soft)");
  if (n >= 2 && n < size) r->failure[n - 2] = '\0'; /* drop the trailing "; " */
  r->passed = r->accuracy_ok && (r->latency_ok || !x->strict_latency);
}

static ttt_status expected_values(const suite_entry *e, const ttt_tensor *target_x,
                                  ttt_tensor *expected, const ttt_tensor **compare_to) {
  if (e->c.reference == TTT_SUITE_REF_GOLDEN) {
    if (ttt_tensor_numel(&e->c.golden) != ttt_tensor_numel(expected))
      return ttt_set_error(TTT_ERR_SHAPE,
                           "suite case '%s': golden has %lld values, the output has %lld "
                           "(%lld rows × %lld)",
                           e->name, (long long)ttt_tensor_numel(&e->c.golden),
                           (long long)ttt_tensor_numel(expected), (long long)expected->shape[0],
                           (long long)expected->shape[1]);
    *compare_to = &e->c.golden;
    return TTT_OK;
  }
  *compare_to = expected;
  if (e->c.reference == TTT_SUITE_REF_FN) {
    ttt_status st = e->c.reference_fn(e->c.reference_user, target_x, expected);
    return st == TTT_OK ? TTT_OK : ttt_error_prefix(st, "suite case '%s': reference_fn", e->name);
  }
  return builtin_reference(e, target_x, expected);
}

static ttt_status run_case(const ttt_suite *suite, int64_t index, suite_entry *e,
                           ttt_context *ctx) {
  ttt_suite_result *r = &e->result;
  *r = (ttt_suite_result){.name = e->name,
                          .module = e->c.module,
                          .mode = e->c.mode,
                          .percentile = ttt_suite_percentile(&e->c)};
  ttt_status st = prepare_inputs(suite, index, e);
  if (st != TTT_OK) return st;
  int64_t out_dim = entry_out_dim(e), rows = target_rows(&e->capture, e->c.mode), largest = 0;
  for (int64_t i = 0; i < e->capture.n_events; i++)
    if (e->capture.events[i].rows > largest) largest = e->capture.events[i].rows;
  r->rows = rows;
  ttt_tensor target_x = {0}, expected = {0};
  run_buffers b = {0};
  const ttt_tensor *compare_to = NULL;
  st = gather_target_input(e, &target_x);
  if (st == TTT_OK) st = ttt_tensor_alloc(&b.actual, TTT_F32, 2, (int64_t[2]){rows, out_dim});
  if (st == TTT_OK) st = ttt_tensor_alloc(&b.history, TTT_F32, 2, (int64_t[2]){largest, out_dim});
  if (st == TTT_OK) st = ttt_tensor_alloc(&expected, TTT_F64, 2, (int64_t[2]){rows, out_dim});
  if (st == TTT_OK && !e->c.fn) st = create_cache(e, &b.cache);
  if (st == TTT_OK) st = run_target(e, ctx, &target_x, &b, r);
  if (st == TTT_OK) st = expected_values(e, &target_x, &expected, &compare_to);
  if (st == TTT_OK) {
    st = ttt_compare(&b.actual, compare_to, NULL, e->c.expect.atol, e->c.expect.rtol, &r->compare);
    if (st != TTT_OK) st = ttt_error_prefix(st, "suite case '%s': compare", e->name);
  }
  if (st == TTT_OK) evaluate(&e->c, r);
  ttt_kv_cache_destroy(b.cache);
  ttt_tensor_free(&b.actual);
  ttt_tensor_free(&b.history);
  ttt_tensor_free(&expected);
  ttt_tensor_free(&target_x);
  capture_free(&e->capture);
  return st;
}

/* ---- run ---- */

ttt_suite_outcome ttt_suite_run(ttt_suite *suite, ttt_context *ctx, FILE *table) {
  if (!suite || !ctx) {
    ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite_run: NULL argument");
    return TTT_SUITE_ERROR;
  }
  suite->ran = false;
  if (suite->count == 0) {
    ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite '%s' has no cases", suite->name);
    return TTT_SUITE_ERROR;
  }
  for (int64_t i = 0; i < suite->count; i++) {
    capture_free(&suite->entries[i].capture);
    if (check_case(suite, &suite->entries[i]) != TTT_OK) return TTT_SUITE_ERROR;
  }
  if (run_trace(suite, ctx) != TTT_OK) return TTT_SUITE_ERROR;
  bool all_passed = true;
  for (int64_t i = 0; i < suite->count; i++) {
    if (run_case(suite, i, &suite->entries[i], ctx) != TTT_OK) {
      for (int64_t j = i; j < suite->count; j++) capture_free(&suite->entries[j].capture);
      return TTT_SUITE_ERROR;
    }
    all_passed = all_passed && suite->entries[i].result.passed;
  }
  suite->ran = true;
  suite->outcome = all_passed ? TTT_SUITE_PASSED : TTT_SUITE_FAILED;
  if (table) ttt_suite_print_table(suite, table);
  return suite->outcome;
}
