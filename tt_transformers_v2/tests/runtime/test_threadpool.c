/*
 * Thread pool (ttt_parallel_for): many tiny dispatches with every item processed exactly once,
 * range boundaries and grain, completion barrier between dependent regions, thread-count capping.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "ttt_test.h"

/* Dispatch count: enough to expose a lost wake-up or a missed acknowledgement (each dispatch is a
 * full round trip through the barrier), small enough to stay fast on a loaded 2-core machine, where
 * a dispatch may wait for a preempted worker's next time slice. Sanitizer builds run fewer. */
#if defined(__SANITIZE_ADDRESS__)
enum { TINY_DISPATCHES = 5000 };
#else
enum { TINY_DISPATCHES = 20000 };
#endif

enum { MAX_ITEMS = 64, MAX_RANGES = 1024 };

typedef struct count_job {
  _Atomic int32_t hits[MAX_ITEMS];
} count_job;

static void count_items(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  count_job *job = arg;
  for (int64_t i = begin; i < end; i++)
    atomic_fetch_add_explicit(&job->hits[i], 1, memory_order_relaxed);
}

static void test_many_tiny_jobs(void) {
  ttt_context *ctx = ttt_test_context(2);
  if (!ctx) return;
  count_job job;
  int64_t wrong = 0;
  int64_t regions_before = ttt_context_get_stats(ctx).parallel_regions;
  for (int d = 0; d < TINY_DISPATCHES; d++) {
    int64_t n = 1 + d % 5; /* 1..5 items: both the inline and the pooled path */
    for (int64_t i = 0; i < n; i++) atomic_store_explicit(&job.hits[i], 0, memory_order_relaxed);
    ttt_parallel_for(ctx, 0, n, 1, count_items, &job);
    for (int64_t i = 0; i < n; i++)
      wrong += atomic_load_explicit(&job.hits[i], memory_order_relaxed) != 1;
  }
  CHECK_MSG(wrong == 0, "%lld items not processed exactly once", (long long)wrong);
  CHECK(ttt_context_get_stats(ctx).parallel_regions - regions_before == TINY_DISPATCHES);
  ttt_context_destroy(ctx);
}

/* Every range run, in completion order (a thread may run several: ranges go to whichever thread
 * asks first, so a late worker's range is taken by another). */
typedef struct range_log {
  int64_t begin[MAX_RANGES], end[MAX_RANGES];
  int32_t thread[MAX_RANGES];
  _Atomic int32_t count;
} range_log;

static void log_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  range_log *log = arg;
  int32_t i = atomic_fetch_add(&log->count, 1);
  if (i >= MAX_RANGES) return;
  log->begin[i] = begin;
  log->end[i] = end;
  log->thread[i] = thread;
}

/* Ranges are contiguous, non-empty, cover [0, n) exactly once, start at multiples of grain, run on
 * thread indices below the requested number, and are guided: the first range taken is at least
 * 1/(2·threads) of the work (ranges shrink from there), there are no more ranges than grains, and
 * a single thread runs everything as one range. */
static void check_ranges(ttt_context *ctx, int32_t threads, int64_t n, int64_t grain) {
  static range_log log; /* large: not on the stack */
  memset(&log, 0, sizeof log);
  ttt_parallel_for(ctx, threads, n, grain, log_range, &log);
  int32_t allowed = ttt_context_threads(ctx, threads), used = atomic_load(&log.count);
  int64_t g = grain < 1 ? 1 : grain, blocks = (n + g - 1) / g;
  bool ok = used >= 1 && used <= blocks && used <= MAX_RANGES && (allowed > 1 || used == 1);
  int64_t largest = 0;
  for (int32_t i = 0; ok && i < used && i < MAX_RANGES; i++)
    largest = log.end[i] - log.begin[i] > largest ? log.end[i] - log.begin[i] : largest;
  ok &= largest >= (blocks / (2 * allowed)) * g || largest == n;
  int64_t next = 0;
  for (int32_t k = 0; ok && k < used; k++) { /* find the range starting at `next` */
    int32_t found = -1;
    for (int32_t i = 0; i < used; i++)
      if (log.begin[i] == next) found = i;
    ok = found >= 0 && log.end[found] > next && log.thread[found] >= 0 &&
         log.thread[found] < allowed && next % (grain < 1 ? 1 : grain) == 0;
    if (ok) next = log.end[found];
  }
  ok &= next == n;
  CHECK_MSG(ok, "ranges wrong for threads=%d n=%lld grain=%lld (%d ranges, covered to %lld)",
            (int)threads, (long long)n, (long long)grain, (int)used, (long long)next);
}

static void test_ranges_and_grain(void) {
  ttt_context *ctx = ttt_test_context(4); /* more threads than cores is allowed */
  if (!ctx) return;
  const int64_t sizes[] = {1, 2, 3, 7, 16, 17, 100, 1001, 4096};
  const int64_t grains[] = {0, 1, 4, 16, 33, 5000};
  for (int32_t threads = 0; threads <= 6; threads++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
      for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
        check_ranges(ctx, threads, sizes[s], grains[g]);
  /* A large grain keeps everything in one range on the caller's thread. */
  static range_log log; /* large: not on the stack */
  memset(&log, 0, sizeof log);
  ttt_parallel_for(ctx, 4, 100, 1000, log_range, &log);
  CHECK(atomic_load(&log.count) == 1 && log.thread[0] == 0 && log.end[0] == 100);
  /* n = 0 calls nothing. */
  memset(&log, 0, sizeof log);
  ttt_parallel_for(ctx, 4, 0, 1, log_range, &log);
  CHECK(atomic_load(&log.count) == 0);
  ttt_context_destroy(ctx);
}

/* Dependent regions: the second reads what other threads wrote in the first, so each call must
 * return only after every range has finished and its writes are visible. */
typedef struct chain_job {
  int64_t *a, *b;
  int64_t n, round;
  _Atomic int64_t errors;
} chain_job;

static void write_round(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  chain_job *job = arg;
  for (int64_t i = begin; i < end; i++) {
    volatile int64_t spin = (i % 7 == 0) ? 200 : 0; /* uneven work between ranges */
    while (spin > 0) spin--;
    job->a[i] = job->round * 1000 + i;
  }
}

static void read_round(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  chain_job *job = arg;
  for (int64_t i = begin; i < end; i++) {
    int64_t j = job->n - 1 - i; /* written by the other end of the range split */
    if (job->a[j] != job->round * 1000 + j) atomic_fetch_add(&job->errors, 1);
    job->b[i] = job->a[j];
  }
}

static void test_dependent_regions(void) {
  ttt_context *ctx = ttt_test_context(2);
  if (!ctx) return;
  chain_job job = {.n = 257};
  job.a = calloc((size_t)job.n, sizeof *job.a);
  job.b = calloc((size_t)job.n, sizeof *job.b);
  atomic_init(&job.errors, 0);
  int64_t stale = 0;
  for (job.round = 1; job.round <= 2000; job.round++) {
    ttt_parallel_for(ctx, 0, job.n, 1, write_round, &job);
    ttt_parallel_for(ctx, 0, job.n, 1, read_round, &job);
    stale += job.b[0] != job.round * 1000 + job.n - 1; /* caller sees the workers' writes */
  }
  CHECK_MSG(atomic_load(&job.errors) == 0, "%lld stale reads", (long long)atomic_load(&job.errors));
  CHECK(stale == 0);
  free(job.a);
  free(job.b);
  ttt_context_destroy(ctx);
}

static void test_thread_request_capping(void) {
  ttt_context *ctx = ttt_test_context(3);
  if (!ctx) return;
  CHECK(ttt_context_threads(ctx, 0) == 3);
  CHECK(ttt_context_threads(ctx, -5) == 3);
  CHECK(ttt_context_threads(ctx, 1) == 1);
  CHECK(ttt_context_threads(ctx, 2) == 2);
  CHECK(ttt_context_threads(ctx, 100) == 3);
  check_ranges(ctx, 100, 1000, 1);
  ttt_context_destroy(ctx);
  ttt_context *single = ttt_test_context(1);
  if (!single) return;
  CHECK(ttt_context_threads(single, 8) == 1);
  check_ranges(single, 8, 50, 3);
  ttt_context_destroy(single);
}

static void test_context_errors(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_context *ctx = NULL;
  device.n_threads = 0;
  CHECK_ERR(ttt_context_create(&device, &ctx), TTT_ERR_INVALID_ARGUMENT, "n_threads is 0");
  CHECK_ERR(ttt_context_create(NULL, &ctx), TTT_ERR_INVALID_ARGUMENT, "NULL");
  CHECK_ERR(ttt_device_cpu(&device, -1), TTT_ERR_INVALID_ARGUMENT, "n_threads -1");
  ttt_context_destroy(NULL);
}

int main(void) {
  TTT_RUN(test_many_tiny_jobs);
  TTT_RUN(test_ranges_and_grain);
  TTT_RUN(test_dependent_regions);
  TTT_RUN(test_thread_request_capping);
  TTT_RUN(test_context_errors);
  return ttt_test_finish();
}
