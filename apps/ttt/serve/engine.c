/* The serving engine: one paged KV pool, per step a prefill chunk of each joining sequence and one
 * batched decode of the others. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct engine_seq {
  void *user;
  int32_t *prompt;
  int64_t n_prompt;
  int64_t max_positions;
  int64_t pos;        /* tokens in the cache (prompt tokens while prefilling) */
  int32_t last_token; /* the token to feed back next (after the prefill) */
  bool prefilled;     /* the whole prompt is in the cache */
  int32_t id;         /* in the pool */
  ttt_sampler *sampler;
};

struct engine {
  const ttt_hf_model *model;
  ttt_context *ctx;
  ttt_paged_kv *pool;
  int32_t max_batch;
  int64_t prefill_chunk; /* prompt tokens per prefill forward */
  int32_t n_running;
  engine_seq **running; /* [max_batch], in the order they joined */
  ttt_tensor logits;    /* [max_batch, vocab] */
  /* one decode step's batch: [max_batch] each */
  int32_t *ids, *tokens, *rows;
  int64_t *positions;
};

/* Blocks for max_batch sequences of `context` positions (a one-block pool gives the shape). */
static ttt_status default_blocks(const ttt_hf_model *model, int32_t max_batch,
                                 int64_t block_positions, int64_t context, int64_t *out) {
  ttt_paged_kv *probe = NULL;
  ttt_status st = ttt_causal_lm_create_paged_kv(model->lm, 1, block_positions, &probe);
  if (st == TTT_OK) *out = max_batch * ttt_paged_kv_blocks_for(probe, context);
  ttt_paged_kv_destroy(probe);
  return st;
}

ttt_status engine_create(const ttt_hf_model *model, ttt_context *ctx, int32_t max_batch,
                         int64_t kv_blocks, int64_t block_positions, int64_t context,
                         int64_t prefill_chunk, engine **out) {
  *out = NULL;
  if (prefill_chunk < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "engine: prefill_chunk must be >= 1");
  engine *e = calloc(1, sizeof *e);
  if (!e) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "engine: out of memory");
  e->model = model;
  e->ctx = ctx;
  e->max_batch = max_batch;
  e->prefill_chunk = prefill_chunk;
  size_t n = (size_t)max_batch;
  e->running = calloc(n, sizeof *e->running);
  e->ids = calloc(n, sizeof *e->ids);
  e->tokens = calloc(n, sizeof *e->tokens);
  e->rows = calloc(n, sizeof *e->rows);
  e->positions = calloc(n, sizeof *e->positions);
  int64_t vocab = ttt_causal_lm_get_spec(model->lm)->lm_head.vocab;
  ttt_status st = e->running && e->ids && e->tokens && e->rows && e->positions
                      ? TTT_OK
                      : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "engine: out of memory");
  if (st == TTT_OK) st = ttt_tensor_alloc(&e->logits, TTT_F32, 2, (int64_t[]){max_batch, vocab});
  if (st == TTT_OK && kv_blocks <= 0)
    st = default_blocks(model, max_batch, block_positions, context, &kv_blocks);
  if (st == TTT_OK)
    st = ttt_causal_lm_create_paged_kv(model->lm, kv_blocks, block_positions, &e->pool);
  if (st != TTT_OK) {
    engine_destroy(e);
    return st;
  }
  *out = e;
  return TTT_OK;
}

static void seq_free(engine *e, engine_seq *s) {
  if (!s) return;
  ttt_paged_kv_seq_free(e->pool, s->id);
  ttt_sampler_destroy(s->sampler);
  free(s->prompt);
  free(s);
}

void engine_destroy(engine *e) {
  if (!e) return;
  for (int32_t i = 0; i < e->n_running; i++) seq_free(e, e->running[i]);
  ttt_paged_kv_destroy(e->pool);
  free(e->running);
  free(e->ids);
  free(e->tokens);
  free(e->rows);
  free(e->positions);
  ttt_tensor_free(&e->logits);
  free(e);
}

int64_t engine_blocks_for(const engine *e, int64_t positions) {
  return ttt_paged_kv_blocks_for(e->pool, positions);
}

int64_t engine_blocks_used(const engine *e) { return ttt_paged_kv_blocks_used(e->pool); }

int64_t engine_blocks_total(const engine *e) {
  return ttt_paged_kv_blocks_used(e->pool) + ttt_paged_kv_blocks_free(e->pool);
}

ttt_status engine_add(engine *e, const int32_t *prompt, int64_t n_prompt, int64_t max_positions,
                      const ttt_sampler_params *sampling, void *user, engine_seq **out) {
  *out = NULL;
  if (e->n_running == e->max_batch)
    return ttt_set_error(TTT_ERR_CAPACITY, "engine: the batch is full (%d)", e->max_batch);
  if (n_prompt < 1 || n_prompt > max_positions)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "engine: prompt of %lld tokens for %lld positions", (long long)n_prompt,
                         (long long)max_positions);
  engine_seq *s = calloc(1, sizeof *s);
  if (!s) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "engine: out of memory");
  s->user = user;
  s->n_prompt = n_prompt;
  s->max_positions = max_positions;
  s->id = -1;
  s->prompt = malloc((size_t)n_prompt * sizeof *prompt);
  ttt_status st =
      s->prompt ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "engine: out of memory");
  if (st == TTT_OK) {
    memcpy(s->prompt, prompt, (size_t)n_prompt * sizeof *prompt);
    st = ttt_paged_kv_seq_create(e->pool, &s->id);
  }
  int64_t vocab = ttt_causal_lm_get_spec(e->model->lm)->lm_head.vocab;
  if (st == TTT_OK) st = ttt_sampler_create(vocab, sampling, &s->sampler);
  /* The sampler sees the prompt, as `ttt generate`'s does (for the repetition penalty). */
  for (int64_t i = 0; st == TTT_OK && i < n_prompt; i++)
    st = ttt_sampler_accept(s->sampler, prompt[i]);
  if (st != TTT_OK) {
    seq_free(e, s);
    return st;
  }
  e->running[e->n_running++] = s;
  *out = s;
  return TTT_OK;
}

void engine_remove(engine *e, engine_seq *seq) {
  for (int32_t i = 0; i < e->n_running; i++) {
    if (e->running[i] != seq) continue;
    memmove(&e->running[i], &e->running[i + 1],
            (size_t)(e->n_running - i - 1) * sizeof *e->running);
    e->n_running--;
    seq_free(e, seq);
    return;
  }
}

int32_t engine_running(const engine *e) { return e->n_running; }

/* Samples the next token of s from a logits row and records it. */
static ttt_status sample(engine_seq *s, const float *logits, int32_t *token) {
  ttt_status st = ttt_sampler_sample(s->sampler, logits, token);
  if (st == TTT_OK) st = ttt_sampler_accept_generated(s->sampler, *token);
  if (st == TTT_OK) s->last_token = *token;
  return st;
}

static void finish(engine_output *o, ttt_status st) {
  o->status = st;
  if (st != TTT_OK) snprintf(o->error, sizeof o->error, "%s", ttt_last_error());
}

/* A joining sequence: the next chunk of its prompt into the pool; the chunk that completes the
 * prompt also samples its first token (from the last row's logits). */
static ttt_status prefill(engine *e, engine_seq *s, int32_t *token) {
  int64_t vocab = e->logits.shape[1];
  int64_t n = s->n_prompt - s->pos < e->prefill_chunk ? s->n_prompt - s->pos : e->prefill_chunk;
  ttt_tensor row = ttt_tensor_2d(TTT_F32, e->logits.data, 1, vocab);
  ttt_status st = ttt_causal_lm_prefill_paged(e->model->lm, e->ctx, e->pool, s->id,
                                              s->prompt + s->pos, n, s->pos, true, &row, NULL);
  if (st != TTT_OK) return st;
  s->pos += n;
  if (s->pos < s->n_prompt) return TTT_OK; /* more chunks: no token yet */
  s->prefilled = true;
  return sample(s, e->logits.data, token);
}

/* The decode of every prefilled sequence (out[rows[b]] is batch row b's output): one batched
 * forward. A sequence past its reservation fails alone; a failed forward fails them all. */
static void decode(engine *e, engine_output *out) {
  int64_t B = 0, vocab = e->logits.shape[1];
  for (int32_t i = 0; i < e->n_running; i++) {
    engine_seq *s = e->running[i];
    if (!s->prefilled || out[i].status != TTT_OK || out[i].token >= 0) continue;
    if (s->pos >= s->max_positions) {
      ttt_set_error(TTT_ERR_CAPACITY, "engine: sequence past its %lld positions",
                    (long long)s->max_positions);
      finish(&out[i], TTT_ERR_CAPACITY);
      continue;
    }
    e->ids[B] = s->id;
    e->tokens[B] = s->last_token;
    e->positions[B] = s->pos;
    e->rows[B++] = i;
  }
  if (B == 0) return;
  ttt_tensor logits = ttt_tensor_2d(TTT_F32, e->logits.data, B, vocab);
  ttt_status st = ttt_causal_lm_decode_batch_forward(e->model->lm, e->ctx, e->pool, e->ids,
                                                     e->tokens, e->positions, B, &logits, NULL);
  for (int64_t b = 0; b < B; b++) {
    engine_seq *s = e->running[e->rows[b]];
    engine_output *o = &out[e->rows[b]];
    if (st != TTT_OK) {
      finish(o, st);
      continue;
    }
    s->pos++;
    finish(o, sample(s, (const float *)e->logits.data + b * vocab, &o->token));
  }
}

void engine_step(engine *e, engine_output *out, int32_t *n_out) {
  for (int32_t i = 0; i < e->n_running; i++) {
    out[i] = (engine_output){.user = e->running[i]->user, .token = -1, .status = TTT_OK};
  }
  /* The running sequences' batched decode, then a prefill chunk of each that is joining (whose
   * first token comes with its last chunk). */
  decode(e, out);
  for (int32_t i = 0; i < e->n_running; i++) {
    engine_seq *s = e->running[i];
    if (!s->prefilled) finish(&out[i], prefill(e, s, &out[i].token));
  }
  *n_out = e->n_running;
}
