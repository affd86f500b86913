/* The embedding worker of `ttt serve` for an encoder model: a bounded first-come-first-served
 * queue of /v1/embeddings requests and one thread that owns the model and its context.
 *
 * The thread takes the queued jobs in order while their inputs fit one batch (max_inputs; a
 * larger job runs alone, in batches of max_inputs) and embeds them in one ttt_embed_texts call,
 * so concurrent clients share each encoder pass. A job's connection waits suspended and is woken
 * when its vectors are ready.
 *
 * Ownership: a job is reference counted; the connection holds one reference and the queue one
 * while it waits or runs. Everything the two threads share is under the job's `mu`. */
#ifndef TTT_SERVE_EMBEDDER_H
#define TTT_SERVE_EMBEDDER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include "openai_json.h"
#include "request.h"
#include "scheduler.h"
#include "ttt_embed.h"

typedef struct embed_job {
  pthread_mutex_t mu;
  int32_t refs;

  /* Read-only after submission. */
  embed_params params;
  int64_t prompt_tokens;  /* tokens of all inputs, special tokens included */
  struct embed_job *next; /* the queue's link (under the embedder's lock) */
  int64_t first_row;      /* worker only: its first input in the running batch; -1: left out */

  /* Under mu. */
  float *vectors; /* [params.n, dim] once done */
  bool done, failed, cancelled;
  char error[256];
  bool suspended; /* the connection waits (set by the HTTP side) */
  request_notify_fn notify;
  void *notify_arg;
} embed_job;

/* A job owning `params` (moved in; zeroed in *params). One reference. NULL when out of memory. */
embed_job *embed_job_create(embed_params *params, int64_t prompt_tokens);
void embed_job_unref(embed_job *job);

typedef struct embedder embedder;

/* Starts the worker thread. model, ctx and cfg must outlive the embedder. */
ttt_status embedder_create(const ttt_hf_model *model, ttt_context *ctx, const ttt_embed_config *cfg,
                           int32_t max_inputs, int32_t max_queue, metrics *m, embedder **out);
/* Stops the thread: queued jobs are cancelled and woken, later submissions get SUBMIT_STOPPING.
 * Idempotent; the other functions stay usable until embedder_destroy. */
void embedder_stop(embedder *e);
void embedder_destroy(embedder *e);

/* Queues a job (takes a reference when accepted). */
scheduler_submit_result embedder_submit(embedder *e, embed_job *job);

/* The client went away: the job is dropped before it runs (a no-op once done). */
void embedder_cancel(embed_job *job);

/* Queue depth and the requests in the batch running now. */
void embedder_gauges(embedder *e, metrics_gauges *out);

#endif
