/* Continuous batching: a bounded first-come-first-served queue, admission by free KV blocks, and
 * the engine thread that owns the model and steps the running batch.
 *
 * Requests join the batch and leave it between steps. A request reserves the blocks of the
 * engine's paged KV pool its prompt + max_new - 1 positions can take (engine_blocks_for) when it is
 * admitted; its sequence takes real blocks as it grows and returns them, like the reservation, as
 * soon as it finishes or is cancelled. */
#ifndef TTT_SERVE_SCHEDULER_H
#define TTT_SERVE_SCHEDULER_H

#include <stdint.h>

#include "engine.h"
#include "metrics.h"
#include "request.h"

typedef struct scheduler_config {
  int32_t max_batch; /* running sequences at most */
  int32_t max_queue; /* waiting requests at most */
  int64_t kv_blocks; /* the engine's pool size in blocks */
} scheduler_config;

typedef struct scheduler scheduler;

typedef enum scheduler_submit_result {
  SUBMIT_OK,
  SUBMIT_QUEUE_FULL, /* → 429 with Retry-After */
  SUBMIT_STOPPING,   /* the server shuts down → 503 */
} scheduler_submit_result;

/* Starts the engine thread. The engine is owned by the scheduler from now on. */
ttt_status scheduler_create(const scheduler_config *config, engine *e, metrics *m, scheduler **out);
/* Stops the engine thread and destroys the engine; queued and running requests are cancelled and
 * woken, later submissions get SUBMIT_STOPPING. The other functions stay usable (for the HTTP
 * thread until it has stopped). Idempotent. */
void scheduler_stop(scheduler *s);
/* Stops (if needed) and frees the scheduler; call once no thread can use it any more. */
void scheduler_destroy(scheduler *s);

/* Blocks a request needs (its reservation), from its prompt and max_new. */
int64_t scheduler_blocks_for(const scheduler *s, int64_t n_prompt, int64_t max_new);
int64_t scheduler_total_blocks(const scheduler *s);

/* Queues a request (takes a reference when accepted). */
scheduler_submit_result scheduler_submit(scheduler *s, request *r);

/* The client went away: marks the request cancelled and wakes the engine thread, which drops it
 * from the queue or the batch (freeing its blocks) before its next step. */
void scheduler_cancel(scheduler *s, request *r);

void scheduler_gauges(scheduler *s, metrics_gauges *out);

#endif
