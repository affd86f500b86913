/* The engine thread: admission, stepping, hand-over of tokens to requests, cancellation. */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cli_util.h"

/* How often an idle engine thread checks for disconnected clients of queued requests. */
static const long IDLE_POLL_NS = 50L * 1000 * 1000;

struct scheduler {
  scheduler_config config;
  engine *engine;
  metrics *metrics;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  bool stopping;
  /* Under mu: the queue (a ring of max_queue) and the gauges. */
  request **queue;
  int32_t queue_head, queue_len;
  int32_t running;
  int64_t blocks_reserved; /* Σ reservations of the running requests (admission) */
  int64_t blocks_held;     /* blocks the pool's sequences hold (after the last step) */
  /* Engine thread only. */
  request **batch; /* [max_batch] */
  int32_t n_batch;
  engine_output *outputs;
};

int64_t scheduler_blocks_for(const scheduler *s, int64_t n_prompt, int64_t max_new) {
  int64_t positions = n_prompt + max_new - 1; /* the last token is never fed back */
  if (positions < 1) positions = 1;
  return engine_blocks_for(s->engine, positions);
}

int64_t scheduler_total_blocks(const scheduler *s) { return s->config.kv_blocks; }

scheduler_submit_result scheduler_submit(scheduler *s, request *r) {
  pthread_mutex_lock(&s->mu);
  scheduler_submit_result result = SUBMIT_OK;
  if (s->stopping)
    result = SUBMIT_STOPPING;
  else if (s->queue_len == s->config.max_queue)
    result = SUBMIT_QUEUE_FULL;
  if (result == SUBMIT_OK) {
    request_ref(r);
    s->queue[(s->queue_head + s->queue_len++) % s->config.max_queue] = r;
    pthread_cond_signal(&s->wake);
  }
  pthread_mutex_unlock(&s->mu);
  return result;
}

void scheduler_cancel(scheduler *s, request *r) {
  if (!request_cancel(r)) return;
  metrics_count_cancel(s->metrics);
  pthread_mutex_lock(&s->mu);
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
}

void scheduler_gauges(scheduler *s, metrics_gauges *out) {
  pthread_mutex_lock(&s->mu);
  out->queue_depth = s->queue_len;
  out->running = s->running;
  out->kv_blocks_used = s->blocks_held;
  out->kv_blocks_free = s->config.kv_blocks - s->blocks_held;
  out->kv_blocks_reserved = s->blocks_reserved;
  pthread_mutex_unlock(&s->mu);
}

static bool is_cancelled(request *r) {
  pthread_mutex_lock(&r->mu);
  bool cancelled = r->cancelled;
  pthread_mutex_unlock(&r->mu);
  return cancelled;
}

/* A cancelled or closed client: true (and the request is marked cancelled). Safe with mu held. */
static bool client_gone(scheduler *s, request *r) {
  if (is_cancelled(r)) return true;
  if (!request_peer_closed(r)) return false;
  if (request_cancel(r)) metrics_count_cancel(s->metrics);
  return true;
}

/* Drops queued requests whose clients went away (mu held; peeks are cheap syscalls). */
static void prune_queue(scheduler *s) {
  int32_t kept = 0, max = s->config.max_queue;
  for (int32_t i = 0; i < s->queue_len; i++) {
    request *r = s->queue[(s->queue_head + i) % max];
    if (client_gone(s, r)) {
      request_wake(r);
      request_unref(r);
      continue;
    }
    s->queue[(s->queue_head + kept++) % max] = r;
  }
  s->queue_len = kept;
}

/* Removes batch[i] from the engine and the batch, frees its blocks, wakes its client. */
static void retire(scheduler *s, int32_t i) {
  request *r = s->batch[i];
  engine_remove(s->engine, r->seq);
  r->seq = NULL;
  memmove(&s->batch[i], &s->batch[i + 1], (size_t)(s->n_batch - i - 1) * sizeof *s->batch);
  s->n_batch--;
  pthread_mutex_lock(&s->mu);
  s->running = s->n_batch;
  s->blocks_reserved -= r->blocks;
  s->blocks_held = engine_blocks_used(s->engine);
  pthread_mutex_unlock(&s->mu);
  request_wake(r);
  request_unref(r);
}

static void prune_batch(scheduler *s) {
  for (int32_t i = s->n_batch - 1; i >= 0; i--)
    if (client_gone(s, s->batch[i])) retire(s, i);
}

/* Starts request r in the engine (mu held). False if the engine refused it (r failed). */
static bool start(scheduler *s, request *r) {
  ttt_status st = ttt_detokenizer_create_ex(r->tokenizer, true, &r->detok);
  engine_seq *seq = NULL;
  if (st == TTT_OK)
    st = engine_add(s->engine, r->ids, r->n_prompt, r->n_prompt + r->max_new - 1,
                    &r->params.sampling, r, &seq);
  if (st != TTT_OK) {
    request_fail(r, ttt_last_error());
    return false;
  }
  r->seq = seq;
  s->batch[s->n_batch++] = r;
  s->blocks_reserved += r->blocks;
  s->running = s->n_batch;
  metrics_add_tokens(s->metrics, r->n_prompt, 0);
  return true;
}

/* Admits queued requests first come first served while the batch and the KV pool allow: the
 * head of the queue waits for blocks rather than being overtaken (mu held). A request is admitted
 * when the pool's free blocks, less what the running sequences may still take (reservation minus
 * blocks held), cover its reservation; as reservations bound what a sequence can hold, that is
 * kv_blocks - Σ reservations, and a running sequence never finds the pool empty. */
static void admit(scheduler *s) {
  while (s->queue_len > 0 && s->n_batch < s->config.max_batch) {
    request *r = s->queue[s->queue_head];
    if (r->blocks > s->config.kv_blocks - s->blocks_reserved) return;
    s->queue_head = (s->queue_head + 1) % s->config.max_queue;
    s->queue_len--;
    if (!start(s, r)) {
      request_wake(r);
      request_unref(r);
    }
  }
}

/* Hands one step's token to its request; retires finished and failed ones. */
static void deliver(scheduler *s, const engine_output *o, double now) {
  request *r = o->user;
  int32_t i = 0;
  while (i < s->n_batch && s->batch[i] != r) i++;
  if (o->status != TTT_OK) {
    request_fail(r, o->error);
    retire(s, i);
    return;
  }
  if (o->token < 0) return; /* its prompt is still prefilling */
  bool oom = false;
  bool first = r->t_last == 0;
  metrics_add_tokens(s->metrics, 0, 1);
  if (first)
    metrics_observe_ttft(s->metrics, now - r->t_submit);
  else
    metrics_observe_itl(s->metrics, now - r->t_last);
  r->t_last = now;
  bool finished = request_on_token(r, o->token, &oom);
  if (oom) request_fail(r, "out of memory while assembling the text");
  if (finished || oom)
    retire(s, i);
  else if (r->params.stream)
    request_wake(r); /* a non-streamed response waits for the end */
}

static void wait_idle(scheduler *s) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += IDLE_POLL_NS;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&s->wake, &s->mu, &until);
}

static void *engine_thread(void *arg) {
  scheduler *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    prune_queue(s);
    pthread_mutex_unlock(&s->mu);
    prune_batch(s);
    pthread_mutex_lock(&s->mu);
    admit(s);
    if (s->n_batch == 0) {
      wait_idle(s);
      continue;
    }
    pthread_mutex_unlock(&s->mu);
    int32_t n = 0;
    engine_step(s->engine, s->outputs, &n);
    /* The gauges first: a client that has seen this step's token finds its blocks in /metrics
     * (delivering first left a window where a running request showed no blocks held). */
    pthread_mutex_lock(&s->mu);
    s->blocks_held = engine_blocks_used(s->engine);
    pthread_mutex_unlock(&s->mu);
    double now = cli_now_seconds();
    for (int32_t k = 0; k < n; k++) deliver(s, &s->outputs[k], now);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

ttt_status scheduler_create(const scheduler_config *config, engine *e, metrics *m,
                            scheduler **out) {
  *out = NULL;
  scheduler *s = calloc(1, sizeof *s);
  if (!s) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "scheduler: out of memory");
  s->config = *config;
  s->engine = e;
  s->metrics = m;
  s->queue = calloc((size_t)config->max_queue, sizeof *s->queue);
  s->batch = calloc((size_t)config->max_batch, sizeof *s->batch);
  s->outputs = calloc((size_t)config->max_batch, sizeof *s->outputs);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->wake, NULL);
  if (!s->queue || !s->batch || !s->outputs ||
      pthread_create(&s->thread, NULL, engine_thread, s) != 0) {
    free(s->queue);
    free(s->batch);
    free(s->outputs);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wake);
    free(s);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "scheduler: cannot start the engine thread");
  }
  *out = s;
  return TTT_OK;
}

void scheduler_stop(scheduler *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  bool running = !s->stopping;
  s->stopping = true;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
  if (!running) return;
  pthread_join(s->thread, NULL);
  for (int32_t i = s->n_batch - 1; i >= 0; i--) {
    request_cancel(s->batch[i]);
    retire(s, i);
  }
  pthread_mutex_lock(&s->mu);
  for (int32_t i = 0; i < s->queue_len; i++) {
    request *r = s->queue[(s->queue_head + i) % s->config.max_queue];
    request_cancel(r);
    request_wake(r);
    request_unref(r);
  }
  s->queue_len = 0;
  pthread_mutex_unlock(&s->mu);
  engine_destroy(s->engine);
  s->engine = NULL;
}

void scheduler_destroy(scheduler *s) {
  if (!s) return;
  scheduler_stop(s);
  free(s->queue);
  free(s->batch);
  free(s->outputs);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->wake);
  free(s);
}
