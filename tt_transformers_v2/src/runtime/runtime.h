/*
 * runtime.h — internal runtime: the context's thread pool and scratch workspace.
 * Not installed; used by every block.
 */
#ifndef TTT_RUNTIME_H
#define TTT_RUNTIME_H

#include <ttt.h>

/* A range task: processes items [begin, end) on worker `thread` (0 = the calling thread). */
typedef void (*ttt_range_fn)(void *arg, int64_t begin, int64_t end, int32_t thread);

/* Splits [0, n) into contiguous ranges whose boundaries are multiples of `grain` (except the end)
 * and runs fn on each on up to `threads` threads (the caller's among them). Ranges are handed out
 * in order, each a shrinking share of what is left (guided scheduling), so one thread may run
 * several. Returns when all ranges are done. threads <= 0 means all of the context's threads; with
 * one thread (or one grain of work) fn runs inline on [0, n) without touching the pool. */
void ttt_parallel_for(ttt_context *ctx, int32_t threads, int64_t n, int64_t grain, ttt_range_fn fn,
                      void *arg);

/* Number of threads a request resolves to (requested <= 0 → all; capped at the pool size). */
int32_t ttt_context_threads(const ttt_context *ctx, int32_t requested);

/* Row-invariant GEMMs: while set, every ttt_linear on this context sums each output row in the
 * same order whatever the number of rows (the f32-activation decode path for every m), so a row's
 * result does not depend on the rows batched with it. Batched decode sets it for its step; returns
 * the previous value. (q8_0 activations: m = 1 has its own GEMV, so rows are not invariant.) */
bool ttt_context_set_row_invariant(ttt_context *ctx, bool on);
bool ttt_context_row_invariant(const ttt_context *ctx);

/* Scratch workspace: a stack of 64-byte aligned buffers valid until the matching restore.
 * Usage: mark = ttt_scratch_save(ctx); p = ttt_scratch_alloc(ctx, bytes); ...;
 * ttt_scratch_restore(ctx, mark). After a warm-up the workspace stops growing, so steady-state
 * forwards do not allocate. */
typedef struct ttt_scratch_mark {
  int32_t chunk;
  size_t offset;
} ttt_scratch_mark;

ttt_scratch_mark ttt_scratch_save(ttt_context *ctx);
/* Returns NULL (with the error set) when memory is exhausted. */
void *ttt_scratch_alloc(ttt_context *ctx, size_t bytes);
void ttt_scratch_restore(ttt_context *ctx, ttt_scratch_mark mark);

#endif
