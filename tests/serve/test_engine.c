/*
 * The serving engine (apps/ttt/serve/engine.c) on kjv-llama, greedy:
 *  - a long prompt joins in chunks of prefill_chunk tokens, one per step, while a running sequence
 *    decodes a token at every one of those steps (chunked prefill interleaved with decodes); its
 *    first token comes with its last chunk;
 *  - its greedy tokens equal those of a contiguous cache prefilled in the same chunks and decoded
 *    alone (what `ttt generate --prefill-chunk N` computes), and the running sequence's equal its
 *    own alone run: neither depends on the other;
 *  - a prompt within one chunk yields its first token in its first step.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ttt_test.h"

enum { CHUNK = 16, NEW_TOKENS = 8, BLOCK_POSITIONS = 16 };

static ttt_hf_model *model;
static ttt_context *ctx;

static const ttt_sampler_params GREEDY = {.temperature = 0.0f, .top_p = 1.0f};

/* A prompt of n ids (deterministic, inside the vocabulary). */
static void make_prompt(int32_t *ids, int64_t n, int32_t salt) {
  int64_t vocab = ttt_causal_lm_get_spec(model->lm)->lm_head.vocab;
  for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 37 + salt * 11 + 5) % vocab);
}

/* The reference: a contiguous cache prefilled in chunks of `chunk`, then greedy decoding alone. */
static void generate_alone(const int32_t *prompt, int64_t n, int64_t chunk, int32_t *out,
                           int64_t n_out) {
  int64_t vocab = ttt_causal_lm_get_spec(model->lm)->lm_head.vocab;
  ttt_kv_cache *cache = NULL;
  ttt_sampler *sampler = NULL;
  ttt_tensor logits;
  CHECK_OK(ttt_causal_lm_create_cache(model->lm, 0, &cache));
  CHECK_OK(ttt_sampler_create(vocab, &GREEDY, &sampler));
  CHECK_OK(ttt_tensor_alloc(&logits, TTT_F32, 2, (int64_t[]){1, vocab}));
  for (int64_t start = 0; start < n; start += chunk) {
    int64_t len = n - start < chunk ? n - start : chunk;
    CHECK_OK(ttt_causal_lm_prefill_forward(model->lm, ctx, cache, prompt + start, len, start, true,
                                           &logits, NULL));
  }
  for (int64_t i = 0; i < n_out; i++) {
    CHECK_OK(ttt_sampler_sample(sampler, logits.data, &out[i]));
    if (i + 1 < n_out)
      CHECK_OK(ttt_causal_lm_decode_forward(model->lm, ctx, cache, out[i], n + i, &logits, NULL));
  }
  ttt_tensor_free(&logits);
  ttt_sampler_destroy(sampler);
  ttt_kv_cache_destroy(cache);
}

/* The output of `seq` (by its user pointer) among the step's outputs; NULL when absent. */
static const engine_output *output_of(const engine_output *out, int32_t n, void *user) {
  for (int32_t i = 0; i < n; i++)
    if (out[i].user == user) return &out[i];
  return NULL;
}

static void test_long_prompt_joins_in_chunks_while_others_decode(void) {
  enum { SHORT = 5, LONG = 70 }; /* 70 tokens: chunks of 16, 16, 16, 16, 6 */
  int32_t short_prompt[SHORT], long_prompt[LONG];
  make_prompt(short_prompt, SHORT, 1);
  make_prompt(long_prompt, LONG, 2);
  int32_t want_short[3 * NEW_TOKENS], want_long[NEW_TOKENS];
  generate_alone(short_prompt, SHORT, CHUNK, want_short, 3 * NEW_TOKENS);
  generate_alone(long_prompt, LONG, CHUNK, want_long, NEW_TOKENS);

  engine *e = NULL;
  CHECK_OK(engine_create(model, ctx, 2, 0, BLOCK_POSITIONS, 256, CHUNK, &e));
  if (!e) return;
  engine_seq *a = NULL, *b = NULL;
  int a_user = 0, b_user = 0;
  int32_t got_short[3 * NEW_TOKENS], got_long[NEW_TOKENS], n_short = 0, n_long = 0;
  engine_output out[2];
  int32_t n = 0;
  CHECK_OK(engine_add(e, short_prompt, SHORT, SHORT + 3 * NEW_TOKENS, &GREEDY, &a_user, &a));
  engine_step(e, out, &n);
  CHECK(n == 1 && out[0].status == TTT_OK && out[0].token >= 0);
  got_short[n_short++] = out[0].token;
  CHECK_OK(engine_add(e, long_prompt, LONG, LONG + NEW_TOKENS, &GREEDY, &b_user, &b));
  int32_t steps_to_first = 0;
  while (n_long < NEW_TOKENS && n_short < 3 * NEW_TOKENS) {
    engine_step(e, out, &n);
    const engine_output *oa = output_of(out, n, &a_user), *ob = output_of(out, n, &b_user);
    CHECK(oa && ob && oa->status == TTT_OK && ob->status == TTT_OK);
    if (!oa || !ob || oa->status != TTT_OK || ob->status != TTT_OK) break;
    CHECK_MSG(oa->token >= 0, "the running sequence got no token while the long prompt joined");
    got_short[n_short++] = oa->token;
    if (n_long == 0) steps_to_first++;
    if (ob->token >= 0) got_long[n_long++] = ob->token;
  }
  CHECK_MSG(steps_to_first == (LONG + CHUNK - 1) / CHUNK,
            "first token of a %d-token prompt after %d steps; chunks of %d take %d", LONG,
            (int)steps_to_first, CHUNK, (LONG + CHUNK - 1) / CHUNK);
  CHECK(n_long == NEW_TOKENS);
  CHECK_MSG(memcmp(got_long, want_long, sizeof want_long) == 0,
            "the chunked-in prompt's tokens differ from its chunked prefill alone");
  CHECK_MSG(memcmp(got_short, want_short, (size_t)n_short * sizeof *got_short) == 0,
            "the running sequence's tokens changed while another prompt joined");
  engine_destroy(e);
}

static void test_prompt_within_one_chunk_answers_in_one_step(void) {
  enum { LEN = CHUNK };
  int32_t prompt[LEN];
  make_prompt(prompt, LEN, 3);
  engine *e = NULL;
  CHECK_OK(engine_create(model, ctx, 1, 0, BLOCK_POSITIONS, 64, CHUNK, &e));
  if (!e) return;
  engine_seq *s = NULL;
  int user = 0;
  CHECK_OK(engine_add(e, prompt, LEN, LEN + 1, &GREEDY, &user, &s));
  engine_output out[1];
  int32_t n = 0;
  engine_step(e, out, &n);
  CHECK(n == 1 && out[0].status == TTT_OK && out[0].token >= 0);
  engine_destroy(e);
}

static void test_chunk_must_be_positive(void) {
  engine *e = NULL;
  CHECK_ERR(engine_create(model, ctx, 1, 0, BLOCK_POSITIONS, 64, 0, &e), TTT_ERR_INVALID_ARGUMENT,
            "prefill_chunk");
  CHECK(e == NULL);
}

int main(void) {
  ttt_device device;
  if (ttt_device_cpu(&device, 1) != TTT_OK || ttt_context_create(&device, &ctx) != TTT_OK ||
      ttt_hf_model_load(TTT_MODELS_DIR "/kjv-llama", &device, NULL, &model) != TTT_OK) {
    fprintf(stderr, "test_engine: %s\n", ttt_last_error());
    return 1;
  }
  TTT_RUN(test_long_prompt_joins_in_chunks_while_others_decode);
  TTT_RUN(test_prompt_within_one_chunk_answers_in_one_step);
  TTT_RUN(test_chunk_must_be_positive);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
