/* Perplexity over consecutive independent windows (see ttt_perplexity.h). */
#include "ttt_perplexity.h"

#include <math.h>

/* Logits buffer budget: a window is prefilled in chunks of at most this many logits (rows ×
 * vocab) so that long contexts with large vocabularies stay within a few tens of MB. */
enum { LOGITS_BUDGET = 8 << 20 };

/* -log softmax(row)[target], in double. */
static double token_nll(const float *row, int64_t vocab, int32_t target) {
  double max = row[0];
  for (int64_t i = 1; i < vocab; i++)
    if (row[i] > max) max = row[i];
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; i++) sum += exp((double)row[i] - max);
  return log(sum) + max - (double)row[target];
}

static ttt_status check_ids(const int32_t *ids, int64_t n, int64_t vocab) {
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= vocab)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "perplexity: token id %d at index %lld is outside the vocabulary [0, "
                           "%lld)",
                           ids[i], (long long)i, (long long)vocab);
  return TTT_OK;
}

/* Adds the NLL of the tokens predicted inside ids[0..len) (one window, from position 0). */
static ttt_status score_window(const ttt_causal_lm *model, ttt_context *ctx, ttt_kv_cache *cache,
                               const int32_t *ids, int64_t len, ttt_tensor *logits, int64_t chunk,
                               double *nll) {
  int64_t vocab = logits->shape[1];
  ttt_kv_cache_reset(cache);
  for (int64_t start = 0; start < len; start += chunk) {
    int64_t rows = len - start < chunk ? len - start : chunk;
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits->data, rows, vocab);
    ttt_status st = ttt_causal_lm_prefill_forward(model, ctx, cache, ids + start, rows, start,
                                                  false, &out, NULL);
    if (st != TTT_OK) return st;
    const float *data = out.data;
    /* Row r predicts the token after it, if that token is inside the window. */
    for (int64_t r = 0; r < rows && start + r + 1 < len; r++)
      *nll += token_nll(data + r * vocab, vocab, ids[start + r + 1]);
  }
  return TTT_OK;
}

ttt_status ttt_perplexity_compute(const ttt_causal_lm *model, ttt_context *ctx, const int32_t *ids,
                                  int64_t n, int64_t window, ttt_perplexity_progress_fn progress,
                                  void *user, ttt_perplexity_result *out) {
  if (!model || !ctx || !ids || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "perplexity: NULL argument");
  const ttt_causal_lm_spec *spec = ttt_causal_lm_get_spec(model);
  int64_t vocab = spec->lm_head.vocab;
  if (window == 0) window = spec->max_positions;
  if (window < 2 || window > spec->max_positions)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "perplexity: window (%lld) must be in 2..%lld (the model's context)",
                         (long long)window, (long long)spec->max_positions);
  int64_t windows = (n + window - 1) / window;
  if (n - windows < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "perplexity: %lld tokens leave no token to predict (need at least 2)",
                         (long long)n);
  ttt_status st = check_ids(ids, n, vocab);
  if (st != TTT_OK) return st;

  int64_t chunk = LOGITS_BUDGET / vocab;
  if (chunk < 1) chunk = 1;
  if (chunk > window) chunk = window;
  ttt_tensor logits = {0};
  ttt_kv_cache *cache = NULL;
  st = ttt_tensor_alloc(&logits, TTT_F32, 2, (int64_t[]){chunk, vocab});
  if (st == TTT_OK) st = ttt_causal_lm_create_cache(model, window, &cache);
  double nll = 0.0;
  for (int64_t start = 0; st == TTT_OK && start < n; start += window) {
    int64_t len = n - start < window ? n - start : window;
    st = score_window(model, ctx, cache, ids + start, len, &logits, chunk, &nll);
    if (st == TTT_OK && progress) progress(user, start + len, n);
  }
  ttt_kv_cache_destroy(cache);
  ttt_tensor_free(&logits);
  if (st != TTT_OK) return st;
  out->predicted_tokens = n - windows;
  out->windows = windows;
  out->mean_nll = nll / (double)out->predicted_tokens;
  out->perplexity = exp(out->mean_nll);
  return TTT_OK;
}
