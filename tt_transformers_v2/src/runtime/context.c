/*
 * Execution context: a persistent thread pool (spin-then-sleep wake-up; ranges handed out to
 * whichever thread asks first, so a descheduled worker delays nothing), and a scratch workspace
 * made of a few chunks that coalesce into one once idle.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

enum {
  MAX_CHUNKS = 32,
  /* Spins before a worker sleeps on the condition variable: decode dispatches hundreds of tiny
   * regions per token, and a sleep/wake costs tens of microseconds. */
  SPIN_ITERATIONS = 20000,
  GUIDED_SHARE = 2
};

typedef struct scratch_chunk {
  uint8_t *data;
  size_t capacity;
} scratch_chunk;

typedef struct pool_job {
  ttt_range_fn fn;
  void *arg;
  int64_t n;
  int64_t grain;
  int64_t blocks;             /* ceil(n / grain): the units ranges are made of */
  int32_t executors;          /* threads with index < executors take part */
  _Atomic int64_t next_block; /* first block not handed out yet */
} pool_job;

/* The pool's state word: generation (bits 32..63), CLOSED (bit 31), joined workers (bits 0..30).
 * A job is published by storing a new generation with the job open; workers join it with a CAS
 * that increments the count (only while it is open and of their generation); the caller closes
 * it with a CAS once the count is 0, after which no worker can join and the job may be rewritten.
 * So a worker that is late (descheduled on a busy machine) is simply not waited for: the caller
 * takes its ranges. */
#define STATE_CLOSED ((uint64_t)1 << 31)
#define STATE_COUNT_MASK (STATE_CLOSED - 1)

static uint64_t state_generation(uint64_t state) { return state >> 32; }

struct ttt_context {
  ttt_device device;
  int32_t n_threads;
  pthread_t *workers; /* n_threads - 1 */

  pool_job job;
  _Atomic uint64_t state;
  _Atomic bool stop;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  _Atomic int32_t sleepers;

  scratch_chunk chunks[MAX_CHUNKS];
  int32_t n_chunks;
  int32_t current; /* chunk being bump-allocated */
  size_t offset;   /* bytes used in chunks[current] */
  ttt_context_stats stats;
  bool row_invariant; /* see ttt_context_set_row_invariant */
};

bool ttt_context_set_row_invariant(ttt_context *ctx, bool on) {
  bool previous = ctx->row_invariant;
  ctx->row_invariant = on;
  return previous;
}

bool ttt_context_row_invariant(const ttt_context *ctx) { return ctx->row_invariant; }

typedef struct worker_start {
  ttt_context *ctx;
  int32_t index;
} worker_start;

/* Runs ranges of the current job on executor `thread` until none is left. Ranges are handed out
 * in order to whoever asks first, each a 1/(GUIDED_SHARE · executors) share of what is left (at
 * least one block): large first ranges keep the streams long, the shrinking last ones let a thread
 * that was slowed down (a busy core, an unfair share of memory bandwidth) finish with the rest. */
static void take_ranges(ttt_context *ctx, int32_t thread) {
  pool_job *job = &ctx->job;
  int64_t first = atomic_load_explicit(&job->next_block, memory_order_relaxed), count;
  for (;;) {
    do {
      if (first >= job->blocks) return;
      count = (job->blocks - first) / (GUIDED_SHARE * job->executors);
      if (count < 1) count = 1;
    } while (!atomic_compare_exchange_weak_explicit(&job->next_block, &first, first + count,
                                                    memory_order_relaxed, memory_order_relaxed));
    int64_t end = (first + count) * job->grain;
    job->fn(job->arg, first * job->grain, end < job->n ? end : job->n, thread);
    first += count; /* a guess for the next CAS; it reloads on failure */
  }
}

static void pause_or_yield(int iteration) {
  if (iteration < SPIN_ITERATIONS) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  } else {
    sched_yield();
  }
}

/* Waits until the generation differs from `seen`; spins first, then sleeps. Returns it. */
static uint64_t wait_for_job(ttt_context *ctx, uint64_t seen) {
  for (int i = 0; i < SPIN_ITERATIONS; i++) {
    uint64_t g = state_generation(atomic_load_explicit(&ctx->state, memory_order_acquire));
    if (g != seen || atomic_load(&ctx->stop)) return g;
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  pthread_mutex_lock(&ctx->mutex);
  atomic_fetch_add(&ctx->sleepers, 1);
  uint64_t g;
  while ((g = state_generation(atomic_load_explicit(&ctx->state, memory_order_acquire))) == seen &&
         !atomic_load(&ctx->stop))
    pthread_cond_wait(&ctx->wake, &ctx->mutex);
  atomic_fetch_sub(&ctx->sleepers, 1);
  pthread_mutex_unlock(&ctx->mutex);
  return g;
}

/* Joins job `generation` if it is still open; true when joined (the caller must leave). */
static bool join_job(ttt_context *ctx, uint64_t generation) {
  uint64_t s = atomic_load_explicit(&ctx->state, memory_order_acquire);
  while (state_generation(s) == generation && !(s & STATE_CLOSED))
    if (atomic_compare_exchange_weak_explicit(&ctx->state, &s, s + 1, memory_order_acq_rel,
                                              memory_order_acquire))
      return true;
  return false;
}

static void *worker_main(void *p) {
  worker_start start = *(worker_start *)p;
  free(p);
  ttt_context *ctx = start.ctx;
  uint64_t seen = 0;
  for (;;) {
    seen = wait_for_job(ctx, seen);
    if (atomic_load(&ctx->stop)) return NULL;
    if (!join_job(ctx, seen)) continue;
    if (start.index < ctx->job.executors) take_ranges(ctx, start.index);
    atomic_fetch_sub_explicit(&ctx->state, 1, memory_order_release); /* leave */
  }
}

/* Closes the current job once no worker is inside it (they finish their ranges; a worker that
 * has not joined yet never will). */
static void close_job(ttt_context *ctx) {
  for (int i = 0;; i++) {
    uint64_t s = atomic_load_explicit(&ctx->state, memory_order_acquire);
    if ((s & STATE_COUNT_MASK) == 0 &&
        atomic_compare_exchange_weak_explicit(&ctx->state, &s, s | STATE_CLOSED,
                                              memory_order_acq_rel, memory_order_acquire))
      return;
    pause_or_yield(i);
  }
}

int32_t ttt_context_threads(const ttt_context *ctx, int32_t requested) {
  if (requested <= 0 || requested > ctx->n_threads) return ctx->n_threads;
  return requested;
}

void ttt_parallel_for(ttt_context *ctx, int32_t threads, int64_t n, int64_t grain, ttt_range_fn fn,
                      void *arg) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t blocks = (n + grain - 1) / grain;
  int32_t executors = ttt_context_threads(ctx, threads);
  if (blocks < executors) executors = (int32_t)blocks;
  ctx->stats.parallel_regions++;
  if (executors <= 1) {
    fn(arg, 0, n, 0);
    return;
  }
  ctx->job.fn = fn;
  ctx->job.arg = arg;
  ctx->job.n = n;
  ctx->job.grain = grain;
  ctx->job.blocks = blocks;
  ctx->job.executors = executors;
  atomic_store_explicit(&ctx->job.next_block, 0, memory_order_relaxed);
  uint64_t generation = state_generation(atomic_load(&ctx->state)) + 1;
  atomic_store_explicit(&ctx->state, generation << 32, memory_order_release); /* open, 0 joined */
  if (atomic_load(&ctx->sleepers) > 0) {
    pthread_mutex_lock(&ctx->mutex);
    pthread_cond_broadcast(&ctx->wake);
    pthread_mutex_unlock(&ctx->mutex);
  }
  take_ranges(ctx, 0);
  close_job(ctx);
}

static void stop_workers(ttt_context *ctx, int32_t started) {
  pthread_mutex_lock(&ctx->mutex);
  atomic_store(&ctx->stop, true);
  uint64_t generation = state_generation(atomic_load(&ctx->state)) + 1;
  atomic_store(&ctx->state, (generation << 32) | STATE_CLOSED);
  pthread_cond_broadcast(&ctx->wake);
  pthread_mutex_unlock(&ctx->mutex);
  for (int32_t i = 0; i < started; i++) pthread_join(ctx->workers[i], NULL);
}

ttt_status ttt_context_create(const ttt_device *device, ttt_context **out) {
  if (!device || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_context_create: NULL argument");
  if (device->n_threads < 1 || device->n_threads > 1024)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_context_create: device.n_threads is %d, expected 1..1024",
                         (int)device->n_threads);
  *out = NULL;
  ttt_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_context_create: out of memory");
  ctx->device = *device;
  ctx->n_threads = device->n_threads;
  pthread_mutex_init(&ctx->mutex, NULL);
  pthread_cond_init(&ctx->wake, NULL);
  ctx->workers = calloc((size_t)ctx->n_threads, sizeof *ctx->workers);
  if (!ctx->workers) {
    ttt_context_destroy(ctx);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_context_create: out of memory");
  }
  for (int32_t i = 1; i < ctx->n_threads; i++) {
    worker_start *start = malloc(sizeof *start);
    if (!start || pthread_create(&ctx->workers[i - 1], NULL, worker_main,
                                 (*start = (worker_start){ctx, i}, start)) != 0) {
      free(start);
      stop_workers(ctx, i - 1);
      ctx->n_threads = 1; /* nothing left to join */
      ttt_context_destroy(ctx);
      return ttt_set_error(TTT_ERR_INTERNAL, "ttt_context_create: cannot start worker thread %d",
                           (int)i);
    }
  }
  *out = ctx;
  return TTT_OK;
}

void ttt_context_destroy(ttt_context *ctx) {
  if (!ctx) return;
  if (ctx->workers && ctx->n_threads > 1) stop_workers(ctx, ctx->n_threads - 1);
  free(ctx->workers);
  for (int32_t i = 0; i < ctx->n_chunks; i++) free(ctx->chunks[i].data);
  pthread_mutex_destroy(&ctx->mutex);
  pthread_cond_destroy(&ctx->wake);
  free(ctx);
}

const ttt_device *ttt_context_device(const ttt_context *ctx) { return ctx ? &ctx->device : NULL; }

ttt_context_stats ttt_context_get_stats(const ttt_context *ctx) {
  ttt_context_stats none = {0};
  return ctx ? ctx->stats : none;
}

/* ---- scratch ---- */

ttt_scratch_mark ttt_scratch_save(ttt_context *ctx) {
  return (ttt_scratch_mark){ctx->current, ctx->offset};
}

static bool add_chunk(ttt_context *ctx, size_t capacity) {
  if (ctx->n_chunks == MAX_CHUNKS) return false;
  uint8_t *data = aligned_alloc(64, capacity);
  if (!data) return false;
  ctx->chunks[ctx->n_chunks++] = (scratch_chunk){data, capacity};
  ctx->stats.scratch_allocations++;
  ctx->stats.scratch_bytes += (int64_t)capacity;
  return true;
}

void *ttt_scratch_alloc(ttt_context *ctx, size_t bytes) {
  size_t need = (bytes + 63) & ~(size_t)63;
  if (need == 0) need = 64;
  if (ctx->n_chunks > 0 && ctx->offset + need <= ctx->chunks[ctx->current].capacity) {
    void *p = ctx->chunks[ctx->current].data + ctx->offset;
    ctx->offset += need;
    return p;
  }
  /* Move to the next chunk that fits, or add one (at least double the last one). */
  for (int32_t c = ctx->n_chunks > 0 ? ctx->current + 1 : 0; c < ctx->n_chunks; c++) {
    if (need <= ctx->chunks[c].capacity) {
      ctx->current = c;
      ctx->offset = need;
      return ctx->chunks[c].data;
    }
  }
  size_t last = ctx->n_chunks > 0 ? ctx->chunks[ctx->n_chunks - 1].capacity : 0;
  size_t capacity = need > 2 * last ? need : 2 * last;
  if (capacity < ((size_t)1 << 20)) capacity = (size_t)1 << 20;
  if (!add_chunk(ctx, capacity)) {
    ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "scratch workspace: cannot allocate %zu bytes", capacity);
    return NULL;
  }
  ctx->current = ctx->n_chunks - 1;
  ctx->offset = need;
  return ctx->chunks[ctx->current].data;
}

/* When the workspace is empty and spread over several chunks, replace them by one chunk of the
 * total size, so the next forward of the same shape fits in a single chunk. */
static void coalesce(ttt_context *ctx) {
  if (ctx->n_chunks <= 1) return;
  size_t total = 0;
  for (int32_t i = 0; i < ctx->n_chunks; i++) {
    total += ctx->chunks[i].capacity;
    free(ctx->chunks[i].data);
  }
  ctx->n_chunks = 0;
  ctx->stats.scratch_bytes = 0;
  ctx->current = 0;
  ctx->offset = 0;
  add_chunk(ctx, total); /* on failure the workspace simply starts empty again */
}

void ttt_scratch_restore(ttt_context *ctx, ttt_scratch_mark mark) {
  ctx->current = mark.chunk;
  ctx->offset = mark.offset;
  if (mark.chunk == 0 && mark.offset == 0) coalesce(ctx);
}
