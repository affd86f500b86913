/*
 * ttt_sampler.h — next-token sampling from logits: greedy, temperature, top-k, top-p (nucleus),
 * min-p and repetition penalty, with a seeded, reproducible random generator.
 *
 * Part of the adapters (not the core library). Semantics follow HuggingFace `generate`:
 *   1. repetition penalty: the logit of every token seen so far (see ttt_sampler_accept) is divided
 *      by the penalty when positive and multiplied by it otherwise; then OpenAI's presence and
 *      frequency penalties: logit -= presence × (c > 0) + frequency × c, where c counts the token
 *      among the generated tokens (those given to ttt_sampler_accept_generated);
 *   2. temperature 0: greedy — the largest logit, ties broken towards the lowest id (filters below
 *      are then irrelevant);
 *   3. otherwise logits / temperature, softmax, then in this order: keep the k most likely tokens
 *      (top-k), keep the smallest set of most likely tokens whose mass reaches top_p (top-p), drop
 *      tokens whose probability is below min_p × the largest probability (min-p); the survivors are
 *      renormalized and one is drawn. Ties in probability rank the lower id first.
 * All buffers are allocated once at creation (sized to the vocabulary): sampling a token does not
 * allocate.
 *
 * Threading: a sampler is the state of one sequence; do not share one between threads.
 */
#ifndef TTT_SAMPLER_H
#define TTT_SAMPLER_H

#include <stdint.h>

#include <ttt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Zero-initialized = greedy with no penalty. A zero top_k, top_p, min_p or repeat_penalty turns
 * that filter off (as do top_p = 1 and repeat_penalty = 1). */
typedef struct ttt_sampler_params {
  float temperature;       /* >= 0; 0 = greedy */
  int32_t top_k;           /* >= 0 */
  float top_p;             /* in [0, 1] */
  float min_p;             /* in [0, 1] */
  float repeat_penalty;    /* >= 0; 1 (or 0) = none */
  uint64_t seed;           /* any value; the same seed gives the same draws */
  float presence_penalty;  /* in [-2, 2]; 0 = none (OpenAI's range) */
  float frequency_penalty; /* in [-2, 2]; 0 = none */
} ttt_sampler_params;

typedef struct ttt_sampler ttt_sampler;

/* Validates params (errors name the field) and allocates the buffers for `vocab` logits. */
ttt_status ttt_sampler_create(int64_t vocab, const ttt_sampler_params *params, ttt_sampler **out);
/* NULL is a no-op. */
void ttt_sampler_destroy(ttt_sampler *s);

/* Forgets the seen (and generated) tokens and restarts the random generator from the seed. */
void ttt_sampler_reset(ttt_sampler *s);

/* Records a token of the sequence (prompt or generated) for the repetition penalty. An id outside
 * [0, vocab) is TTT_ERR_OUT_OF_RANGE. */
ttt_status ttt_sampler_accept(ttt_sampler *s, int32_t token);

/* Records a generated token: as ttt_sampler_accept, and counted for the presence and frequency
 * penalties. */
ttt_status ttt_sampler_accept_generated(ttt_sampler *s, int32_t token);

/* Draws the next token from `vocab` logits (does not accept it: call ttt_sampler_accept). */
ttt_status ttt_sampler_sample(ttt_sampler *s, const float *logits, int32_t *token);

/* The distribution ttt_sampler_sample draws from: probs[i] for every id (0 outside the kept
 * set; sums to 1). With temperature 0 it is one-hot on the greedy token. Does not draw. */
ttt_status ttt_sampler_distribution(ttt_sampler *s, const float *logits, float *probs);

#ifdef __cplusplus
}
#endif

#endif /* TTT_SAMPLER_H */
