/* `ttt bench` on an encoder: sentences/s of batched forwards over a grid of batch sizes and
 * sequence lengths (every row full length, no padding: the cost of a padded batch is that of its
 * longest row). */
#include "bench_encoder.h"

#include <stdio.h>
#include <stdlib.h>

static const int64_t BATCHES[] = {1, 8, 32};
static const int64_t LENGTHS[] = {16, 128};
enum { N_BATCHES = 3, N_LENGTHS = 2 };

typedef struct cell {
  int64_t batch, tokens;
  double sentences_per_s; /* mean over the timed runs; 0 when skipped */
  bool skipped;
} cell;

/* Mean sentences/s of `reps` forwards of a [B, T] batch after one untimed warm-up run. */
static ttt_status time_cell(const ttt_hf_model *model, ttt_context *ctx, int64_t reps, cell *c) {
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(model->encoder);
  int64_t B = c->batch, T = c->tokens, H = spec->word.dim;
  int32_t *ids = malloc((size_t)(B * T) * sizeof *ids);
  float *hidden = malloc((size_t)(B * T * H) * sizeof *hidden);
  ttt_status st = ids && hidden ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  /* Random ids from a fixed LCG (the cost does not depend on them), never the pad id 0..2 so
   * that padding-aware positions count every token. */
  uint64_t x = 12345;
  for (int64_t i = 0; st == TTT_OK && i < B * T; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    ids[i] = (int32_t)(3 + (x >> 33) % (uint64_t)(spec->word.vocab - 3));
  }
  ttt_tensor h = ttt_tensor_3d(TTT_F32, hidden, B, T, H);
  double total = 0.0;
  for (int64_t rep = -1; st == TTT_OK && rep < reps; rep++) {
    double t0 = cli_now_seconds();
    st = ttt_encoder_forward(model->encoder, ctx, ids, NULL, NULL, B, T, &h, NULL, NULL);
    double t1 = cli_now_seconds();
    if (rep >= 0) total += (double)B / (t1 - t0);
  }
  c->sentences_per_s = st == TTT_OK ? total / (double)reps : 0.0;
  free(ids);
  free(hidden);
  return st;
}

static void print_table(const cli_model_options *o, const ttt_hf_model *model,
                        const ttt_device *dev, const cell *cells, int n) {
  char device[256];
  ttt_device_describe(dev, device, sizeof device);
  printf("model: %s (encoder)\ndevice: %s\n\n", model->dir, device);
  printf("| %-11s | %7s | %5s | %6s | %12s | %12s |\n", "strategy", "threads", "batch", "tokens",
         "sentences/s", "tokens/s");
  printf("| ----------- | ------: | ----: | -----: | -----------: | -----------: |\n");
  for (int i = 0; i < n; i++) {
    if (cells[i].skipped) {
      printf("| %-11s | %7d | %5lld | %6lld | %12s | %12s |\n", ttt_strategy_name(o->strategy),
             dev->n_threads, (long long)cells[i].batch, (long long)cells[i].tokens, "skipped",
             "(too long)");
      continue;
    }
    printf("| %-11s | %7d | %5lld | %6lld | %12.1f | %12.1f |\n", ttt_strategy_name(o->strategy),
           dev->n_threads, (long long)cells[i].batch, (long long)cells[i].tokens,
           cells[i].sentences_per_s, cells[i].sentences_per_s * (double)cells[i].tokens);
  }
}

static void print_json(const cli_model_options *o, const ttt_hf_model *model, const ttt_device *dev,
                       int64_t reps, const cell *cells, int n) {
  printf("{\"model\": \"%s\", \"kind\": \"encoder\", \"strategy\": \"%s\", \"threads\": %d, "
         "\"device\": \"%s\", \"reps\": %lld, \"runs\": [",
         model->dir, ttt_strategy_name(o->strategy), dev->n_threads, dev->name, (long long)reps);
  bool first = true;
  for (int i = 0; i < n; i++) {
    if (cells[i].skipped) continue;
    printf("%s\n {\"batch\": %lld, \"tokens\": %lld, \"sentences_s\": %.3f}", first ? "" : ",",
           (long long)cells[i].batch, (long long)cells[i].tokens, cells[i].sentences_per_s);
    first = false;
  }
  printf("]}\n");
}

int bench_encoder_run(const cli_model_options *options, int64_t reps, bool json,
                      const ttt_hf_model *model, ttt_context *ctx, const ttt_device *device) {
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(model->encoder);
  bool has_table = spec->position.vocab > 0;
  int64_t limit = has_table ? spec->position.vocab - spec->position_offset : 0;
  cell cells[N_BATCHES * N_LENGTHS];
  int n = 0;
  ttt_status st = TTT_OK;
  for (int t = 0; t < N_LENGTHS && st == TTT_OK; t++)
    for (int b = 0; b < N_BATCHES && st == TTT_OK; b++) {
      cell *c = &cells[n++];
      *c = (cell){.batch = BATCHES[b], .tokens = LENGTHS[t]};
      c->skipped = has_table && c->tokens > limit;
      if (!c->skipped) st = time_cell(model, ctx, reps, c);
    }
  if (st != TTT_OK) return cli_fail("bench");
  if (json)
    print_json(options, model, device, reps, cells, n);
  else
    print_table(options, model, device, cells, n);
  return 0;
}
