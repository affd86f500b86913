/*
 * ttt_perplexity.h — perplexity of a causal LM over a token sequence.
 *
 * Part of the adapters (not the core library). Definition (as in kjv-llama's
 * golden_perplexity.json): the sequence is cut into consecutive windows of `window` tokens (the
 * last may be shorter); each window is evaluated on its own from position 0 (empty KV cache); the
 * negative log-likelihood of every token predicted inside a window is averaged (a window's first
 * token is not predicted). perplexity = exp(mean NLL). Log-probabilities are computed in double
 * from the model's f32 logits.
 */
#ifndef TTT_PERPLEXITY_H
#define TTT_PERPLEXITY_H

#include <stdint.h>

#include <ttt.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttt_perplexity_result {
  double mean_nll;          /* nats per predicted token */
  double perplexity;        /* exp(mean_nll) */
  int64_t predicted_tokens; /* n - number of windows */
  int64_t windows;
} ttt_perplexity_result;

/* Called after each window with the tokens processed so far and the total. */
typedef void (*ttt_perplexity_progress_fn)(void *user, int64_t done, int64_t total);

/* window 0 → the model's context (spec.max_positions); a window longer than the context is
 * TTT_ERR_INVALID_ARGUMENT. Needs at least one predicted token (n >= 2, windows of >= 2 tokens
 * somewhere). Ids outside the vocabulary are TTT_ERR_OUT_OF_RANGE naming the index. `progress`
 * may be NULL. */
ttt_status ttt_perplexity_compute(const ttt_causal_lm *model, ttt_context *ctx, const int32_t *ids,
                                  int64_t n, int64_t window, ttt_perplexity_progress_fn progress,
                                  void *user, ttt_perplexity_result *out);

#ifdef __cplusplus
}
#endif

#endif /* TTT_PERPLEXITY_H */
