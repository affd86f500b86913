/*
 * fuzz_perplexity_ids — id files of `ttt perplexity --ids-file` (a JSON array of token ids),
 * parsed by the CLI's own parser (cmd_perplexity.c is compiled into this harness), then
 * ttt_perplexity_compute on the llama3_tiny fixture model with a window taken from the input.
 * Invariants: parsed ids are non-negative int32; an accepted computation has a finite, positive
 * perplexity equal to exp(mean_nll), predicted_tokens = n - windows.
 */
#include <math.h>

#include "../../apps/ttt/cmd_perplexity.c"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_MAX_TOKENS 96 /* longer id lists are only parsed (speed) */

static ttt_hf_model *model;
static ttt_context *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  model = fuzz_load_model("tests/fixtures/hf/llama3_tiny", TTT_STRATEGY_ACCURACY, false);
  ttt_device device = fuzz_device();
  if (ttt_context_create(&device, &ctx) != TTT_OK) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int64_t window = data[0] % 40; /* 0: the model's context */
  char *json = fuzz_strndup(data + 1, size - 1);
  int64_t n = 0;
  int32_t *ids = parse_ids("fuzz-ids.json", json, &n);
  free(json);
  if (!ids) return 0;
  for (int64_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0, "parsed id %d", ids[i]);
  if (n <= FUZZ_MAX_TOKENS) {
    ttt_perplexity_result result;
    ttt_status st = ttt_perplexity_compute(model->lm, ctx, ids, n, window, NULL, NULL, &result);
    if (st == TTT_OK) {
      FUZZ_CHECK(isfinite(result.mean_nll) && result.mean_nll >= 0 && result.perplexity >= 1 &&
                     fabs(result.perplexity - exp(result.mean_nll)) <= 1e-9 * result.perplexity,
                 "perplexity %g, mean_nll %g", result.perplexity, result.mean_nll);
      FUZZ_CHECK(result.predicted_tokens == n - result.windows && result.windows >= 1,
                 "%lld predicted tokens in %lld windows of %lld ids",
                 (long long)result.predicted_tokens, (long long)result.windows, (long long)n);
    } else {
      FUZZ_CHECK(st == TTT_ERR_OUT_OF_RANGE || st == TTT_ERR_INVALID_ARGUMENT,
                 "unexpected status %s", ttt_status_str(st));
    }
  }
  free(ids);
  return 0;
}
