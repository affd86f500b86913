/* `ttt bench` on an encoder: sentences/s of batched encoder forwards. */
#ifndef TTT_CLI_BENCH_ENCODER_H
#define TTT_CLI_BENCH_ENCODER_H

#include "cli_util.h"

/* Times ttt_encoder_forward on random ids for every batch size in {1, 8, 32} and sequence length in
 * {16, 128} (lengths beyond the model's position table are skipped with a note), `reps` timed runs
 * after one warm-up each, and prints a table (or one JSON object) of sentences/s and tokens/s.
 * Returns the exit status. */
int bench_encoder_run(const cli_model_options *options, int64_t reps, bool json,
                      const ttt_hf_model *model, ttt_context *ctx, const ttt_device *device);

#endif
