/*
 * tok_truncate.c — encoding with a token budget (sentence embeddings cut long inputs to the
 * model's length): the text's own tokens are cut at the end, then the post-processor's special
 * tokens are added, as HuggingFace truncates a single sequence.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* The ids placed before and after the text (see add_special_ids in tok_encode.c). */
static void special_ids(const ttt_tokenizer *t, const int32_t **before, int64_t *n_before,
                        const int32_t **after, int64_t *n_after) {
  if (t->has_template) {
    *before = t->prefix_ids.data;
    *n_before = t->prefix_ids.len;
    *after = t->suffix_ids.data;
    *n_after = t->suffix_ids.len;
    return;
  }
  *before = &t->bos_id;
  *n_before = t->add_bos;
  *after = &t->eos_id;
  *n_after = t->add_eos;
}

ttt_status ttt_tokenizer_encode_truncated(const ttt_tokenizer *t, const char *text, size_t len,
                                          bool add_special, int64_t max_tokens, int32_t **ids,
                                          int64_t *n_ids) {
  if (!t || !ids || !n_ids || max_tokens < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_tokenizer_encode_truncated: tokenizer, ids and n_ids must not be "
                         "NULL and max_tokens >= 0");
  const int32_t *before = NULL, *after = NULL;
  int64_t n_before = 0, n_after = 0;
  if (add_special) special_ids(t, &before, &n_before, &after, &n_after);
  if (max_tokens > 0 && max_tokens < n_before + n_after)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_tokenizer_encode_truncated: max_tokens %lld cannot hold the %lld "
                         "special tokens",
                         (long long)max_tokens, (long long)(n_before + n_after));
  int32_t *body = NULL;
  int64_t n_body = 0;
  ttt_status st = ttt_tokenizer_encode(t, text, len, false, &body, &n_body);
  if (st) return st;
  if (max_tokens > 0 && n_body > max_tokens - n_before - n_after)
    n_body = max_tokens - n_before - n_after;
  tok_ids all = {0};
  st = tok_ids_append(&all, before, n_before);
  if (!st) st = tok_ids_append(&all, body, n_body);
  if (!st) st = tok_ids_append(&all, after, n_after);
  free(body);
  if (st) {
    free(all.data);
    return st;
  }
  *ids = all.len > 0 ? all.data : NULL;
  if (all.len == 0) free(all.data);
  *n_ids = all.len;
  return TTT_OK;
}
