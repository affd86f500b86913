/* The embedding worker: see embedder.h. */
#include "embedder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct embedder {
  const ttt_hf_model *model;
  ttt_context *ctx;
  const ttt_embed_config *cfg;
  int64_t dim;
  int32_t max_inputs, max_queue;
  metrics *metrics;

  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t work;
  embed_job *head, *tail;
  int32_t queue_len;
  int32_t running; /* requests in the batch being embedded now */
  bool stopping, thread_started;
  pthread_t thread;
};

embed_job *embed_job_create(embed_params *params, int64_t prompt_tokens) {
  embed_job *job = calloc(1, sizeof *job);
  if (!job) return NULL;
  pthread_mutex_init(&job->mu, NULL);
  job->refs = 1;
  job->params = *params;
  memset(params, 0, sizeof *params);
  job->prompt_tokens = prompt_tokens;
  return job;
}

static void job_ref(embed_job *job) {
  pthread_mutex_lock(&job->mu);
  job->refs++;
  pthread_mutex_unlock(&job->mu);
}

void embed_job_unref(embed_job *job) {
  if (!job) return;
  pthread_mutex_lock(&job->mu);
  bool last = --job->refs == 0;
  pthread_mutex_unlock(&job->mu);
  if (!last) return;
  embed_params_free(&job->params);
  free(job->vectors);
  pthread_mutex_destroy(&job->mu);
  free(job);
}

/* Resumes the job's connection if it waits. */
static void job_wake(embed_job *job) {
  pthread_mutex_lock(&job->mu);
  bool wake = job->suspended && job->notify;
  request_notify_fn notify = job->notify;
  void *arg = job->notify_arg;
  job->suspended = false;
  pthread_mutex_unlock(&job->mu);
  if (wake) notify(arg);
}

static bool job_cancelled(embed_job *job) {
  pthread_mutex_lock(&job->mu);
  bool cancelled = job->cancelled;
  pthread_mutex_unlock(&job->mu);
  return cancelled;
}

void embedder_cancel(embed_job *job) {
  pthread_mutex_lock(&job->mu);
  job->cancelled = true;
  pthread_mutex_unlock(&job->mu);
}

/* Records the job's result (vectors taken) and wakes its connection. */
static void job_finish(embedder *e, embed_job *job, float *vectors, const char *error) {
  pthread_mutex_lock(&job->mu);
  job->vectors = vectors;
  job->failed = error != NULL;
  if (error) snprintf(job->error, sizeof job->error, "%s", error);
  job->done = true;
  pthread_mutex_unlock(&job->mu);
  if (!error) metrics_add_tokens(e->metrics, job->prompt_tokens, 0);
  job_wake(job);
}

/* Waits for work; takes the queued jobs (in order, as a list through `next`) whose inputs fit
 * max_inputs together, always at least the first. NULL once stopping. */
static embed_job *take_batch(embedder *e, int64_t *inputs) {
  pthread_mutex_lock(&e->mu);
  while (!e->head && !e->stopping) pthread_cond_wait(&e->work, &e->mu);
  embed_job *first = NULL, *last = NULL;
  int32_t taken = 0;
  *inputs = 0;
  while (!e->stopping && e->head && (!first || *inputs + e->head->params.n <= e->max_inputs)) {
    embed_job *job = e->head;
    e->head = job->next;
    if (!e->head) e->tail = NULL;
    e->queue_len--;
    job->next = NULL;
    if (last)
      last->next = job;
    else
      first = job;
    last = job;
    *inputs += job->params.n;
    taken++;
  }
  e->running = taken;
  pthread_mutex_unlock(&e->mu);
  return first;
}

/* Embeds the inputs of the listed jobs in one ttt_embed_texts call (cancelled jobs are left
 * out) and finishes every job. Drops the queue's references. */
static void run_batch(embedder *e, embed_job *jobs, int64_t inputs) {
  const char **texts = malloc((size_t)inputs * sizeof *texts);
  float *all = malloc((size_t)(inputs * e->dim) * sizeof *all);
  int64_t n = 0;
  for (embed_job *job = jobs; job; job = job->next) {
    job->first_row = texts && !job_cancelled(job) ? n : -1;
    for (int32_t i = 0; job->first_row >= 0 && i < job->params.n; i++)
      texts[n++] = job->params.texts[i];
  }
  ttt_status st = TTT_OK;
  if (!texts || !all)
    st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory for a batch of %lld inputs",
                       (long long)inputs);
  if (st == TTT_OK && n > 0)
    st = ttt_embed_texts(e->model, e->ctx, e->cfg, texts, n, e->max_inputs, all);
  for (embed_job *job = jobs, *next = NULL; job; job = next) {
    next = job->next;
    if (job->first_row < 0 && texts) { /* cancelled before the batch ran */
      embed_job_unref(job);
      continue;
    }
    size_t bytes = (size_t)(job->params.n * e->dim) * sizeof(float);
    float *vectors = st == TTT_OK ? malloc(bytes) : NULL;
    if (vectors) memcpy(vectors, all + job->first_row * e->dim, bytes);
    job_finish(e, job, vectors,
               st != TTT_OK ? ttt_last_error()
               : vectors    ? NULL
                            : "out of memory for the vectors");
    embed_job_unref(job);
  }
  free(texts);
  free(all);
}

static void *worker(void *arg) {
  embedder *e = arg;
  for (;;) {
    int64_t inputs = 0;
    embed_job *jobs = take_batch(e, &inputs);
    if (!jobs) return NULL;
    run_batch(e, jobs, inputs);
    pthread_mutex_lock(&e->mu);
    e->running = 0;
    pthread_mutex_unlock(&e->mu);
  }
}

ttt_status embedder_create(const ttt_hf_model *model, ttt_context *ctx, const ttt_embed_config *cfg,
                           int32_t max_inputs, int32_t max_queue, metrics *m, embedder **out) {
  *out = NULL;
  embedder *e = calloc(1, sizeof *e);
  if (!e) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  *e = (embedder){.model = model,
                  .ctx = ctx,
                  .cfg = cfg,
                  .dim = ttt_embed_dim(model),
                  .max_inputs = max_inputs,
                  .max_queue = max_queue,
                  .metrics = m};
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->work, NULL);
  if (pthread_create(&e->thread, NULL, worker, e) != 0) {
    embedder_destroy(e);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "cannot start the embedding thread");
  }
  e->thread_started = true;
  *out = e;
  return TTT_OK;
}

void embedder_stop(embedder *e) {
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  e->stopping = true;
  embed_job *queued = e->head;
  e->head = e->tail = NULL;
  e->queue_len = 0;
  pthread_cond_broadcast(&e->work);
  pthread_mutex_unlock(&e->mu);
  if (e->thread_started) pthread_join(e->thread, NULL);
  e->thread_started = false;
  for (embed_job *job = queued, *next = NULL; job; job = next) {
    next = job->next;
    embedder_cancel(job);
    job_wake(job);
    embed_job_unref(job);
  }
}

void embedder_destroy(embedder *e) {
  if (!e) return;
  embedder_stop(e);
  pthread_cond_destroy(&e->work);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

scheduler_submit_result embedder_submit(embedder *e, embed_job *job) {
  pthread_mutex_lock(&e->mu);
  scheduler_submit_result result = e->stopping                    ? SUBMIT_STOPPING
                                   : e->queue_len >= e->max_queue ? SUBMIT_QUEUE_FULL
                                                                  : SUBMIT_OK;
  if (result == SUBMIT_OK) {
    job_ref(job);
    if (e->tail)
      e->tail->next = job;
    else
      e->head = job;
    e->tail = job;
    e->queue_len++;
    pthread_cond_signal(&e->work);
  }
  pthread_mutex_unlock(&e->mu);
  return result;
}

void embedder_gauges(embedder *e, metrics_gauges *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&e->mu);
  out->queue_depth = e->queue_len;
  out->running = e->running;
  pthread_mutex_unlock(&e->mu);
}
