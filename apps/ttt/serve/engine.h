/* The serving engine: owns the model's paged KV cache and steps every running sequence once per
 * call.
 *
 * This is the only interface the scheduler uses to run the model (add a sequence, step all running
 * sequences, remove a sequence). All sequences share one ttt_paged_kv pool; a step prefills the
 * sequences that joined since the last step (each into the pool, its first token sampled) and runs
 * ONE ttt_causal_lm_decode_batch_forward for all the others (the weights are read once per step).
 * A prompt longer than prefill_chunk tokens is prefilled one chunk per step, so the running
 * sequences keep decoding while it joins; its first token comes with its last chunk.
 * Sequences join and leave between steps; a removed sequence's blocks return to the pool at once.
 *
 * Threading: one thread (the scheduler's engine thread) calls every function. */
#ifndef TTT_SERVE_ENGINE_H
#define TTT_SERVE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "ttt_models.h"
#include "ttt_sampler.h"

typedef struct engine engine;
typedef struct engine_seq engine_seq;

/* What one step produced for one sequence. */
typedef struct engine_output {
  void *user;        /* the pointer given to engine_add */
  int32_t token;     /* the sampled token (valid when status == TTT_OK) */
  ttt_status status; /* an error of this sequence only (its message: error[]) */
  char error[256];
} engine_output;

/* A pool of kv_blocks blocks of block_positions positions of one layer each (see ttt_paged_kv);
 * kv_blocks 0: enough for max_batch sequences of `context` positions. prefill_chunk: prompt
 * tokens per prefill forward (>= 1). */
ttt_status engine_create(const ttt_hf_model *model, ttt_context *ctx, int32_t max_batch,
                         int64_t kv_blocks, int64_t block_positions, int64_t context,
                         int64_t prefill_chunk, engine **out);
void engine_destroy(engine *e);

/* Blocks a sequence holding up to `positions` positions needs at most (its reservation). Reads
 * only the pool's fixed shape: safe from any thread. */
int64_t engine_blocks_for(const engine *e, int64_t positions);
/* Blocks held now by all sequences (the tokens actually in the cache), and the pool's size. */
int64_t engine_blocks_used(const engine *e);
int64_t engine_blocks_total(const engine *e);

/* Adds a sequence that will hold at most `max_positions` cache positions (prompt plus the new
 * tokens that are fed back). The prompt is copied. The sequence runs from the next step. */
ttt_status engine_add(engine *e, const int32_t *prompt, int64_t n_prompt, int64_t max_positions,
                      const ttt_sampler_params *sampling, void *user, engine_seq **out);

/* Removes a sequence (finished or cancelled) and returns its blocks to the pool at once. */
void engine_remove(engine *e, engine_seq *seq);

/* Number of running sequences. */
int32_t engine_running(const engine *e);

/* Steps every running sequence once: a new sequence prefills the next chunk of its prompt (and
 * samples its first token with the last chunk); the others feed back their last token (one
 * batched decode) and sample the next. Writes one output per running sequence into
 * out[0..*n_out) (out has room for max_batch); token -1 with TTT_OK: no token this step (a prompt
 * still prefilling). A sequence whose step failed keeps its state; the caller removes it. */
void engine_step(engine *e, engine_output *out, int32_t *n_out);

#endif
