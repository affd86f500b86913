/* The serving engine: one ttt_kv_cache per sequence, one forward per sequence per step. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct engine_seq {
  void *user;
  int32_t *prompt;
  int64_t n_prompt;
  int64_t pos;        /* tokens in the cache */
  int32_t last_token; /* the token to feed back next (after the prefill) */
  bool prefilled;
  ttt_kv_cache *cache;
  ttt_sampler *sampler;
};

struct engine {
  const ttt_hf_model *model;
  ttt_context *ctx;
  int32_t max_batch;
  int32_t n_running;
  engine_seq **running; /* [max_batch], in the order they joined */
  ttt_tensor logits;    /* [1, vocab] */
};

ttt_status engine_create(const ttt_hf_model *model, ttt_context *ctx, int32_t max_batch,
                         engine **out) {
  *out = NULL;
  engine *e = calloc(1, sizeof *e);
  if (!e) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "engine: out of memory");
  e->model = model;
  e->ctx = ctx;
  e->max_batch = max_batch;
  e->running = calloc((size_t)max_batch, sizeof *e->running);
  int64_t vocab = ttt_causal_lm_get_spec(model->lm)->lm_head.vocab;
  ttt_status st =
      e->running ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "engine: out of memory");
  if (st == TTT_OK) st = ttt_tensor_alloc(&e->logits, TTT_F32, 2, (int64_t[]){1, vocab});
  if (st != TTT_OK) {
    engine_destroy(e);
    return st;
  }
  *out = e;
  return TTT_OK;
}

static void seq_free(engine_seq *s) {
  if (!s) return;
  ttt_kv_cache_destroy(s->cache);
  ttt_sampler_destroy(s->sampler);
  free(s->prompt);
  free(s);
}

void engine_destroy(engine *e) {
  if (!e) return;
  for (int32_t i = 0; i < e->n_running; i++) seq_free(e->running[i]);
  free(e->running);
  ttt_tensor_free(&e->logits);
  free(e);
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
  s->prompt = malloc((size_t)n_prompt * sizeof *prompt);
  ttt_status st =
      s->prompt ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "engine: out of memory");
  if (st == TTT_OK) {
    memcpy(s->prompt, prompt, (size_t)n_prompt * sizeof *prompt);
    st = ttt_causal_lm_create_cache(e->model->lm, max_positions, &s->cache);
  }
  int64_t vocab = ttt_causal_lm_get_spec(e->model->lm)->lm_head.vocab;
  if (st == TTT_OK) st = ttt_sampler_create(vocab, sampling, &s->sampler);
  /* The sampler sees the prompt, as `ttt generate`'s does (for the repetition penalty). */
  for (int64_t i = 0; st == TTT_OK && i < n_prompt; i++)
    st = ttt_sampler_accept(s->sampler, prompt[i]);
  if (st != TTT_OK) {
    seq_free(s);
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
    seq_free(seq);
    return;
  }
}

int32_t engine_running(const engine *e) { return e->n_running; }

/* One forward of one sequence (its prefill, or the decode of its last token) and the sample. */
static ttt_status step_one(engine *e, engine_seq *s, int32_t *token) {
  const ttt_causal_lm *lm = e->model->lm;
  ttt_status st;
  if (!s->prefilled) {
    st = ttt_causal_lm_prefill_forward(lm, e->ctx, s->cache, s->prompt, s->n_prompt, 0, true,
                                       &e->logits, NULL);
    if (st != TTT_OK) return st;
    s->prefilled = true;
    s->pos = s->n_prompt;
  } else {
    st =
        ttt_causal_lm_decode_forward(lm, e->ctx, s->cache, s->last_token, s->pos, &e->logits, NULL);
    if (st != TTT_OK) return st;
    s->pos++;
  }
  st = ttt_sampler_sample(s->sampler, e->logits.data, token);
  if (st == TTT_OK) st = ttt_sampler_accept_generated(s->sampler, *token);
  if (st == TTT_OK) s->last_token = *token;
  return st;
}

void engine_step(engine *e, engine_output *out, int32_t *n_out) {
  for (int32_t i = 0; i < e->n_running; i++) {
    engine_seq *s = e->running[i];
    engine_output *o = &out[i];
    o->user = s->user;
    o->token = -1;
    o->error[0] = '\0';
    o->status = step_one(e, s, &o->token);
    if (o->status != TTT_OK) snprintf(o->error, sizeof o->error, "%s", ttt_last_error());
  }
  *n_out = e->n_running;
}
